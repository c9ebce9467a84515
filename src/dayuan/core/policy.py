"""The permission policy: the one place that decides "may this user do X here".

An action is allowed when the user holds one of the action's roles at the target
organisation or at one of its ancestors. Services call ``require`` inside their
transaction; pages and the API call ``can`` to decide what to show.
"""

from __future__ import annotations

from typing import Any

from dayuan.accounts.choices import Role

from .errors import PermissionDenied
from .scope import grants_of, scope_paths

ALL_ROLES = frozenset(Role.values)
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})

# action -> roles that may perform it (at the target org or above)
ACTIONS: dict[str, frozenset[str]] = {
    "orgs.view": ALL_ROLES,
    "orgs.manage": frozenset({Role.ADMIN}),
    "locations.view": ALL_ROLES,
    "locations.manage": MANAGERS,
    "users.view": MANAGERS,
    "users.manage": frozenset({Role.ADMIN}),
    "audit.view": MANAGERS,
    "calendar.view": ALL_ROLES,
    "calendar.manage": frozenset({Role.ADMIN}),
    "notifications.broadcast": MANAGERS,
    "webhooks.manage": MANAGERS,
    "system.backup": frozenset({Role.ADMIN}),
    "standards.view": ALL_ROLES,
    "standards.manage": MANAGERS,
    "standards.comment": ALL_ROLES,
    "workorders.request": ALL_ROLES,
    "workorders.view_all": frozenset({Role.DISPATCHER, Role.MANAGER, Role.ADMIN, Role.INSPECTOR}),
    "workorders.dispatch": frozenset({Role.DISPATCHER, Role.MANAGER, Role.ADMIN}),
    "workorders.work": frozenset({Role.WORKER, Role.DISPATCHER, Role.MANAGER}),
    "workorders.manage": MANAGERS,
    # inspections and the rectification loop
    "inspections.view_all": frozenset({Role.INSPECTOR, Role.DISPATCHER, Role.MANAGER, Role.ADMIN}),
    "inspections.conduct": frozenset({Role.INSPECTOR, Role.MANAGER}),
    "inspections.self_inspect": frozenset({Role.WORKER, Role.MANAGER, Role.INSPECTOR}),
    "inspections.plan": MANAGERS,
    "inspections.raise": frozenset({Role.INSPECTOR, Role.DISPATCHER, Role.MANAGER, Role.ADMIN}),
    "inspections.verify": frozenset({Role.INSPECTOR, Role.MANAGER}),
    "inspections.rectify": frozenset({Role.WORKER, Role.MANAGER, Role.INSPECTOR, Role.DISPATCHER}),
    # supervision (督办)
    "supervision.view_all": frozenset({Role.MANAGER, Role.ADMIN, Role.INSPECTOR}),
    "supervision.issue": MANAGERS,
    # contracts, assessment (考核) and surveys (考评)
    "assessment.view": frozenset({Role.MANAGER, Role.ADMIN, Role.INSPECTOR}),
    "assessment.manage": MANAGERS,
    "assessment.score": frozenset({Role.MANAGER, Role.ASSESSOR}),
    "assessment.deduct": frozenset({Role.MANAGER, Role.ADMIN, Role.INSPECTOR}),
    "assessment.appeal": frozenset({Role.MANAGER, Role.WORKER, Role.ADMIN}),
    # rooms and appointment services
    "bookings.book": ALL_ROLES,
    "bookings.view_all": frozenset({Role.MANAGER, Role.ADMIN, Role.DISPATCHER}),
    "bookings.approve": MANAGERS,
    "bookings.manage": MANAGERS,
    "bookings.serve": frozenset({Role.WORKER, Role.DISPATCHER, Role.MANAGER}),
    # the canteen: staff reserve and issue vouchers for their guests; managers run menus;
    # the kitchen (the operator's workers, or the centre's) hands over and keeps the logs
    "canteen.reserve": ALL_ROLES,
    "canteen.voucher": ALL_ROLES,
    "canteen.view_all": frozenset({Role.MANAGER, Role.ADMIN, Role.DISPATCHER, Role.INSPECTOR}),
    "canteen.manage": MANAGERS,
    "canteen.operate": frozenset({Role.WORKER, Role.DISPATCHER, Role.MANAGER}),
    # the resource pool: anyone may browse what is shared with them, post demands and
    # request; owners' managers edit and approve; overseers see demands, runs and stats
    "resources.use": ALL_ROLES,
    "resources.view_all": frozenset({Role.MANAGER, Role.ADMIN, Role.DISPATCHER, Role.INSPECTOR}),
    "resources.manage": MANAGERS,
    "resources.match": MANAGERS,
    "resources.volunteer": frozenset({Role.MANAGER, Role.ADMIN, Role.WORKER}),
    "supervision.handle": frozenset(
        {Role.MANAGER, Role.DISPATCHER, Role.INSPECTOR, Role.WORKER, Role.ADMIN}
    ),
}


def roles_for(action: str) -> frozenset[str]:
    try:
        return ACTIONS[action]
    except KeyError as exc:  # a typo must fail loudly, not deny silently
        raise KeyError(f"unknown action {action!r}; register it in core.policy.ACTIONS") from exc


def can(user: Any, action: str, org: Any = None) -> bool:
    """True if the user may perform ``action`` on ``org`` (any org when ``org`` is None)."""
    roles = roles_for(action)
    if org is None:
        return any(g.role in roles for g in grants_of(user))
    return any(org.path.startswith(p) for p in scope_paths(user, roles))


def require(user: Any, action: str, org: Any = None) -> None:
    if not can(user, action, org):
        raise PermissionDenied(action=action)


def roles_of(user: Any) -> set[str]:
    return {g.role for g in grants_of(user)}
