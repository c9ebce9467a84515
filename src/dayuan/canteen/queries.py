"""Scoped reads of the canteen: canteens, menus, reservations, vouchers, ratings, the
food-safety and waste logs, the kitchen's counts and the dashboard.

Who sees what (one condition per model, used by every list, page, export and API):

- a **canteen** is visible while active to the staff who eat there: its org is in the
  user's ``canteen.reserve`` scope or on the way up from one of their grants to its
  centre (a department's staff eat at their centre's canteen, as they book its rooms);
  and, active or not, to those who oversee (``canteen.view_all``), manage or operate it;
- **operators** of a canteen hold ``canteen.operate`` over its org, or over its
  operator (the catering company's workers);
- a **reservation** is visible to its person, to ``canteen.view_all`` over the canteen's
  org and to the canteen's operators; a **voucher batch** to its issuer and the same;
- food-safety and waste logs to operators, ``canteen.view_all`` and managers.

Org ids are resolved first (organisations are few), so each condition is a plain OR of
``IN``/``=`` tests on indexed columns.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from dayuan.bookings.queries import home_org_ids
from dayuan.core.errors import NotFound
from dayuan.core.policy import ACTIONS
from dayuan.core.scope import scoped_org_ids

from .models import Canteen, Reservation, VoucherBatch

CANTEEN_RELATED = ("org", "operator", "location", "kitchen")


def _active(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def _org_ids(user: Any, action: str) -> list[int]:
    return scoped_org_ids(user, ACTIONS[action]) if _active(user) else []


def _one(qs: QuerySet, pk: int) -> Any:
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


# --- who -------------------------------------------------------------------------------


def diner_org_ids(user: Any) -> list[int]:
    """Orgs whose canteens ``user`` may eat at and reserve in."""
    if not _active(user):
        return []
    return sorted(set(_org_ids(user, "canteen.reserve")) | set(home_org_ids(user)))


def overseen_org_ids(user: Any) -> list[int]:
    return _org_ids(user, "canteen.view_all")


def managed_org_ids(user: Any) -> list[int]:
    return _org_ids(user, "canteen.manage")


def operate_org_ids(user: Any) -> list[int]:
    """Orgs where ``user`` holds ``canteen.operate``: a canteen's org or its operator."""
    return _org_ids(user, "canteen.operate")


def operated_condition(user: Any, prefix: str = "") -> Q:
    """Canteens (or rows with a ``canteen`` FK when ``prefix="canteen__"``) the user
    operates; ``Q(pk__in=[])`` when none."""
    ids = operate_org_ids(user)
    if not ids:
        return Q(pk__in=[])
    return Q(**{f"{prefix}org_id__in": ids}) | Q(**{f"{prefix}operator_id__in": ids})


def may_operate(user: Any, canteen: Canteen) -> bool:
    """The kitchen: hands meals over, keeps the food-safety and waste logs."""
    ids = set(operate_org_ids(user))
    return canteen.org_id in ids or (canteen.operator_id is not None and canteen.operator_id in ids)


def may_manage(user: Any, canteen: Canteen) -> bool:
    return canteen.org_id in managed_org_ids(user)


def may_oversee(user: Any, canteen: Canteen) -> bool:
    return canteen.org_id in overseen_org_ids(user)


def canteen_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    cond = Q(is_active=True, org_id__in=diner_org_ids(user))
    staff = set(overseen_org_ids(user)) | set(managed_org_ids(user))
    if staff:
        cond |= Q(org_id__in=sorted(staff))
    return cond | operated_condition(user)


def visible_canteens(user: Any) -> QuerySet[Canteen]:
    return (
        Canteen.objects.filter(canteen_visibility(user))
        .select_related(*CANTEEN_RELATED)
        .order_by("org_id", "name", "id")
    )


def canteen(user: Any, pk: int) -> Canteen:
    return _one(visible_canteens(user), pk)


def operated_canteens(user: Any) -> QuerySet[Canteen]:
    """The canteens whose kitchen ``user`` works in (or manages)."""
    cond = operated_condition(user)
    if ids := managed_org_ids(user):
        cond |= Q(org_id__in=ids)
    return Canteen.objects.filter(cond).select_related(*CANTEEN_RELATED).order_by("org_id", "name")


def staff_condition(user: Any, prefix: str = "canteen__") -> Q:
    """Rows of canteens the user oversees, manages or operates (logs, every reservation)."""
    cond = operated_condition(user, prefix)
    staff = set(overseen_org_ids(user)) | set(managed_org_ids(user))
    if staff:
        cond |= Q(**{f"{prefix}org_id__in": sorted(staff)})
    return cond


def reservation_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    return Q(person_id=user.pk) | staff_condition(user)


def voucher_batch_visibility(user: Any) -> Q:
    if not _active(user):
        return Q(pk__in=[])
    return Q(issuer_id=user.pk) | staff_condition(user)


def reservations_base(user: Any) -> QuerySet[Reservation]:
    return Reservation.objects.filter(reservation_visibility(user))


def voucher_batches_base(user: Any) -> QuerySet[VoucherBatch]:
    return VoucherBatch.objects.filter(voucher_batch_visibility(user))
