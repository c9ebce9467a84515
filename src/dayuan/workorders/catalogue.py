"""The service catalogue and who answers for it: categories, teams, members, responsibilities.

Writes are services (audited, ``workorders.manage`` at the owning organisation); reads are
scoped. A centre's categories serve its whole subtree: the catalogue of an organisation is
its own categories plus its ancestors', and where two define the same code the nearest
organisation's wins (a county may redefine ``repair`` for itself without touching the city).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import InvalidInput, NotFound, StaleVersion
from dayuan.core.scope import org_in_scope, scope_paths, scoped
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Location, Organization

from .choices import Tier
from .models import Responsibility, ServiceCategory, Team, TeamMember

CODE = re.compile(r"^[a-z][a-z0-9_.:-]*$")  # the standards' category code pattern
CATEGORY_FIELDS = [
    "org_id",
    "parent_id",
    "code",
    "name",
    "tier",
    "sla_category",
    "skill",
    "icon",
    "position",
    "is_active",
]
TEAM_FIELDS = ["org_id", "name", "vendor_id", "is_active"]
MEMBER_FIELDS = ["team_id", "user_id", "skills", "on_duty"]
RESPONSIBILITY_FIELDS = ["org_id", "category_id", "location_id", "team_id"]


def ancestor_paths(path: str) -> list[str]:
    """``0001.0002.`` -> ``["0001.", "0001.0002."]``: the node and all its ancestors."""
    parts = [p for p in path.split(".") if p]
    return [".".join(parts[: i + 1]) + "." for i in range(len(parts))]


def _visible_org(actor: Any, org_id: int) -> Organization:
    """The organisation, if the actor reaches it at all; otherwise it does not exist."""
    org = Organization.objects.filter(pk=org_id, is_active=True).first()
    if org is None or not org_in_scope(actor, org):
        raise NotFound()
    return org


def _lock(model: type, pk: int, actor: Any) -> Any:
    """Lock a row of a scoped model; out of the actor's reach looks the same as missing."""
    obj = model.objects.select_for_update().filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    org = _org_of(obj)
    if not org_in_scope(actor, org):
        raise NotFound()
    return obj


def _org_of(obj: Any) -> Organization:
    if isinstance(obj, TeamMember):
        return obj.team.org
    return obj.org


def _check_version(obj: Any, version: int | None) -> None:
    if version is not None and obj.version != version:
        raise StaleVersion(current_version=obj.version)


def _text(value: Any, field_name: str, max_length: int, *, required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise InvalidInput(_("此项不能为空。"), code="required", field=field_name)
    if len(text) > max_length:
        raise InvalidInput(
            _("内容过长，最多 %(n)s 个字符。") % {"n": max_length},
            code="too_long",
            field=field_name,
        )
    return text


def _code(value: Any, field_name: str) -> str:
    code = _text(value, field_name, 60)
    if not CODE.match(code):
        raise InvalidInput(
            _("编码只能包含小写字母、数字和 . _ : -，并以字母开头。"),
            code="invalid_code",
            field=field_name,
        )
    return code


def _skills(values: Iterable[Any] | None) -> list[str]:
    cleaned = sorted({str(v).strip() for v in (values or []) if str(v).strip()})
    if len(cleaned) > 20 or any(len(v) > 40 for v in cleaned):
        raise InvalidInput(
            _("技能最多 20 项，每项不超过 40 个字符。"), code="invalid_skills", field="skills"
        )
    return cleaned


# --- categories --------------------------------------------------------------------------


def _clean_parent(org: Organization, parent_id: int | None, category: Any = None) -> int | None:
    """A parent must be an active category of the organisation's catalogue, and not the
    category itself or one of its descendants (no cycles)."""
    if parent_id is None:
        return None
    parent = (
        ServiceCategory.objects.filter(
            pk=parent_id, is_active=True, org__path__in=ancestor_paths(org.path)
        )
        .select_related("parent")
        .first()
    )
    if parent is None:
        raise InvalidInput(
            _("上级类别不存在或不属于本单位可用的服务目录。"),
            code="invalid_parent",
            field="parent_id",
        )
    if category is not None:
        node, seen = parent, set()
        while node is not None and node.pk not in seen:
            if node.pk == category.pk:
                raise InvalidInput(
                    _("上级类别不能是自身或其下级。"), code="invalid_parent", field="parent_id"
                )
            seen.add(node.pk)
            node = node.parent
    return parent.pk


def _clean_tier(tier: Any) -> str:
    if tier not in Tier.values:
        raise InvalidInput(_("服务层级无效。"), code="invalid_tier", field="tier")
    return str(tier)


def _save_unique(obj: Any, *, create: bool) -> None:
    """Insert or update; the database's unique constraint has the last word on races."""
    try:
        with transaction.atomic():
            if create:
                obj.save(force_insert=True)
            else:
                obj.save()
    except IntegrityError as exc:
        raise InvalidInput(
            _("同一单位下的类别编码不能重复。"), code="duplicate_code", field="code"
        ) from exc


@audited("workorders.category.create")
def create_category(
    *,
    actor: Any,
    org_id: int,
    code: str,
    name: str,
    sla_category: str,
    parent_id: int | None = None,
    tier: str = Tier.BASIC,
    skill: str = "",
    icon: str = "",
    position: int = 0,
) -> ServiceCategory:
    org = _visible_org(actor, org_id)
    policy.require(actor, "workorders.manage", org)
    code = _code(code, "code")
    if ServiceCategory.objects.filter(org=org, code=code).exists():
        raise InvalidInput(_("同一单位下的类别编码不能重复。"), code="duplicate_code", field="code")
    category = ServiceCategory(
        org=org,
        parent_id=_clean_parent(org, parent_id),
        code=code,
        name=_text(name, "name", 60),
        tier=_clean_tier(tier),
        sla_category=_code(sla_category, "sla_category"),
        skill=_text(skill, "skill", 40, required=False),
        icon=_text(icon, "icon", 30, required=False),
        position=max(int(position or 0), 0),
    )
    _save_unique(category, create=True)
    record(
        "workorders.category.create",
        actor=actor,
        obj=category,
        changes=diff({}, snapshot(category, CATEGORY_FIELDS)),
    )
    return category


CATEGORY_EDITABLE = {
    "code",
    "name",
    "tier",
    "sla_category",
    "skill",
    "icon",
    "position",
    "parent_id",
    "is_active",
}


@audited("workorders.category.update")
def update_category(
    *, actor: Any, category_id: int, version: int, **fields: Any
) -> ServiceCategory:
    category = _lock(ServiceCategory, category_id, actor)
    policy.require(actor, "workorders.manage", category.org)
    _check_version(category, version)
    extra = set(fields) - CATEGORY_EDITABLE
    if extra:
        raise InvalidInput(_("不能修改这些字段。"), code="readonly_field", fields=sorted(extra))
    if "code" in fields:
        fields["code"] = _code(fields["code"], "code")
    if "sla_category" in fields:
        fields["sla_category"] = _code(fields["sla_category"], "sla_category")
    if "name" in fields:
        fields["name"] = _text(fields["name"], "name", 60)
    if "tier" in fields:
        fields["tier"] = _clean_tier(fields["tier"])
    if "skill" in fields:
        fields["skill"] = _text(fields["skill"], "skill", 40, required=False)
    if "icon" in fields:
        fields["icon"] = _text(fields["icon"], "icon", 30, required=False)
    if "position" in fields:
        fields["position"] = max(int(fields["position"] or 0), 0)
    if "parent_id" in fields:
        fields["parent_id"] = _clean_parent(category.org, fields["parent_id"], category)
    if "is_active" in fields:
        fields["is_active"] = bool(fields["is_active"])
    before = snapshot(category, CATEGORY_FIELDS)
    for key, value in fields.items():
        setattr(category, key, value)
    category.version += 1
    _save_unique(category, create=False)
    record(
        "workorders.category.update",
        actor=actor,
        obj=category,
        changes=diff(before, snapshot(category, CATEGORY_FIELDS)),
    )
    return category


def _deactivate(model: Any, pk: int, actor: Any, version: int | None, action: str) -> Any:
    """Switch a catalogue object off (never delete: orders keep pointing at it)."""
    obj = _lock(model, pk, actor)
    policy.require(actor, "workorders.manage", obj.org)
    _check_version(obj, version)
    if obj.is_active:
        obj.is_active = False
        obj.version += 1
        obj.save(update_fields=["is_active", "version", "updated_at"])
        record(action, actor=actor, obj=obj, changes={"is_active": [True, False]})
    return obj


@audited("workorders.category.deactivate")
def deactivate_category(
    *, actor: Any, category_id: int, version: int | None = None
) -> ServiceCategory:
    """Stop offering a category (orders keep pointing at it, so it is never deleted)."""
    return _deactivate(
        ServiceCategory, category_id, actor, version, "workorders.category.deactivate"
    )


# --- teams -------------------------------------------------------------------------------


def _clean_vendor(org: Organization, vendor_id: int | None) -> int | None:
    """A team's vendor is an external organisation inside the team organisation's subtree."""
    if vendor_id is None:
        return None
    vendor = Organization.objects.filter(pk=vendor_id, is_active=True).first()
    if (
        vendor is None
        or vendor.kind not in OrgKind.external()
        or vendor.pk == org.pk
        or not vendor.path.startswith(org.path)
    ):
        raise InvalidInput(
            _("外包单位须是本单位下属的外部单位。"), code="invalid_vendor", field="vendor_id"
        )
    return vendor.pk


@audited("workorders.team.create")
def create_team(*, actor: Any, org_id: int, name: str, vendor_id: int | None = None) -> Team:
    org = _visible_org(actor, org_id)
    policy.require(actor, "workorders.manage", org)
    team = Team.objects.create(
        org=org, name=_text(name, "name", 60), vendor_id=_clean_vendor(org, vendor_id)
    )
    record(
        "workorders.team.create",
        actor=actor,
        obj=team,
        changes=diff({}, snapshot(team, TEAM_FIELDS)),
    )
    return team


@audited("workorders.team.update")
def update_team(*, actor: Any, team_id: int, version: int, **fields: Any) -> Team:
    team = _lock(Team, team_id, actor)
    policy.require(actor, "workorders.manage", team.org)
    _check_version(team, version)
    extra = set(fields) - {"name", "vendor_id", "is_active"}
    if extra:
        raise InvalidInput(_("不能修改这些字段。"), code="readonly_field", fields=sorted(extra))
    if "name" in fields:
        fields["name"] = _text(fields["name"], "name", 60)
    if "vendor_id" in fields:
        fields["vendor_id"] = _clean_vendor(team.org, fields["vendor_id"])
    if "is_active" in fields:
        fields["is_active"] = bool(fields["is_active"])
    before = snapshot(team, TEAM_FIELDS)
    for key, value in fields.items():
        setattr(team, key, value)
    team.version += 1
    team.save()
    record(
        "workorders.team.update",
        actor=actor,
        obj=team,
        changes=diff(before, snapshot(team, TEAM_FIELDS)),
    )
    return team


@audited("workorders.team.deactivate")
def deactivate_team(*, actor: Any, team_id: int, version: int | None = None) -> Team:
    """A retired team gets no new orders; its history stays (orders point at it)."""
    return _deactivate(Team, team_id, actor, version, "workorders.team.deactivate")


# --- members -----------------------------------------------------------------------------


def _user_reaches(user: Any, org: Organization) -> bool:
    return user.is_active and org_in_scope(user, org)


def _user_of(user: Any, org: Organization) -> bool:
    """The user works for ``org`` (or a unit under it): home unit or a grant there."""
    if not user.is_active:
        return False
    home = getattr(user, "home_org", None)
    if home is not None and home.path.startswith(org.path):
        return True
    return user.grants.filter(org__path__startswith=org.path).exists()


@audited("workorders.member.add")
def add_member(
    *,
    actor: Any,
    team_id: int,
    user_id: int,
    skills: Iterable[str] | None = None,
    on_duty: bool = True,
) -> TeamMember:
    """Add a worker. They must reach the team's organisation (their grants cover it) or
    work for the team's vendor; anyone else could be handed orders they may not see."""
    team = _lock(Team, team_id, actor)
    policy.require(actor, "workorders.manage", team.org)
    user = get_user_model().objects.select_related("home_org").filter(pk=user_id).first()
    if user is None or not (
        _user_reaches(user, team.org) or (team.vendor is not None and _user_of(user, team.vendor))
    ):
        raise InvalidInput(
            _("该用户不属于本班组所在单位或其外包单位。"), code="invalid_member", field="user_id"
        )
    if TeamMember.objects.filter(team=team, user=user).exists():
        raise InvalidInput(_("该用户已是班组成员。"), code="duplicate_member", field="user_id")
    member = TeamMember(team=team, user=user, skills=_skills(skills), on_duty=bool(on_duty))
    try:
        with transaction.atomic():
            member.save(force_insert=True)
    except IntegrityError as exc:
        raise InvalidInput(
            _("该用户已是班组成员。"), code="duplicate_member", field="user_id"
        ) from exc
    record(
        "workorders.member.add",
        actor=actor,
        obj=member,
        org=team.org,
        changes=diff({}, snapshot(member, MEMBER_FIELDS)),
    )
    return member


def _lock_member(actor: Any, member_id: int, team_id: int | None) -> TeamMember:
    member = (
        TeamMember.objects.select_for_update()
        .select_related("team__org", "user")
        .filter(pk=member_id)
        .first()
    )
    if (
        member is None
        or (team_id is not None and member.team_id != team_id)
        or not org_in_scope(actor, member.team.org)
    ):
        raise NotFound()
    return member


@audited("workorders.member.update")
def update_member(
    *,
    actor: Any,
    member_id: int,
    team_id: int | None = None,
    skills: Iterable[str] | None = None,
    on_duty: bool | None = None,
) -> TeamMember:
    """Change a member's skills and/or on-duty flag (None leaves a field as it is)."""
    member = _lock_member(actor, member_id, team_id)
    policy.require(actor, "workorders.manage", member.team.org)
    before = snapshot(member, MEMBER_FIELDS)
    if skills is not None:
        member.skills = _skills(skills)
    if on_duty is not None:
        member.on_duty = bool(on_duty)
    member.save(update_fields=["skills", "on_duty"])
    record(
        "workorders.member.update",
        actor=actor,
        obj=member,
        org=member.team.org,
        changes=diff(before, snapshot(member, MEMBER_FIELDS)),
    )
    return member


def set_on_duty(
    *, actor: Any, member_id: int, on_duty: bool, team_id: int | None = None
) -> TeamMember:
    return update_member(actor=actor, member_id=member_id, team_id=team_id, on_duty=on_duty)


@audited("workorders.member.remove")
def remove_member(*, actor: Any, member_id: int, team_id: int | None = None) -> None:
    member = _lock_member(actor, member_id, team_id)
    policy.require(actor, "workorders.manage", member.team.org)
    record(
        "workorders.member.remove",
        actor=actor,
        obj=member,
        org=member.team.org,
        changes=diff(snapshot(member, MEMBER_FIELDS), {}),
    )
    member.delete()


# --- responsibilities --------------------------------------------------------------------


@audited("workorders.responsibility.set")
def set_responsibility(
    *,
    actor: Any,
    org_id: int,
    category_id: int,
    team_id: int,
    location_id: int | None = None,
) -> Responsibility:
    """Say which team answers for a category in a location subtree (None: the whole org).

    One row per (org, category, location): setting it again moves it to another team.
    The category row is locked first, so two writers cannot both insert the whole-org
    row (a NULL location escapes the unique constraint).
    """
    org = _visible_org(actor, org_id)
    policy.require(actor, "workorders.manage", org)
    category = (
        ServiceCategory.objects.select_for_update()
        .filter(pk=category_id, org__path__in=ancestor_paths(org.path))
        .first()
    )
    if category is None:
        raise InvalidInput(
            _("服务类别不属于本单位可用的服务目录。"), code="invalid_category", field="category_id"
        )
    team = Team.objects.select_related("org").filter(pk=team_id, is_active=True).first()
    if team is None or not (
        org.path.startswith(team.org.path) or team.org.path.startswith(org.path)
    ):
        raise InvalidInput(
            _("班组不存在、已停用或不属于本单位。"), code="invalid_team", field="team_id"
        )
    if location_id is not None:
        location = Location.objects.select_related("org").filter(pk=location_id).first()
        if location is None or not location.org.path.startswith(org.path):
            raise InvalidInput(
                _("场所不属于本单位。"), code="invalid_location", field="location_id"
            )
    existing = (
        Responsibility.objects.select_for_update()
        .filter(org=org, category=category, location_id=location_id)
        .first()
    )
    if existing is not None:
        before = snapshot(existing, RESPONSIBILITY_FIELDS)
        existing.team = team
        existing.save(update_fields=["team"])
        resp = existing
    else:
        before = {}
        resp = Responsibility.objects.create(
            org=org, category=category, location_id=location_id, team=team
        )
    record(
        "workorders.responsibility.set",
        actor=actor,
        obj=resp,
        changes=diff(before, snapshot(resp, RESPONSIBILITY_FIELDS)),
    )
    return resp


@audited("workorders.responsibility.remove")
def remove_responsibility(*, actor: Any, responsibility_id: int) -> None:
    resp = _lock(Responsibility, responsibility_id, actor)
    policy.require(actor, "workorders.manage", resp.org)
    record(
        "workorders.responsibility.remove",
        actor=actor,
        obj=resp,
        changes=diff(snapshot(resp, RESPONSIBILITY_FIELDS), {}),
    )
    resp.delete()


# --- reads -------------------------------------------------------------------------------


@dataclass
class CategoryNode:
    """A category of an organisation's catalogue with its sub-categories."""

    category: ServiceCategory
    children: list[CategoryNode] = field(default_factory=list)


def catalogue_for(
    user: Any, org: Organization | int, *, include_inactive: bool = False
) -> list[ServiceCategory]:
    """The categories offered at ``org``: its own and its ancestors', nearest code wins.

    The user must reach ``org``. One query. Each category gets ``catalogue_parent_id``:
    its parent as resolved in this catalogue (by the parent's code, so a county that
    redefines ``repair`` keeps the city's sub-categories under its own ``repair``).
    """
    if not isinstance(org, Organization):
        org = Organization.objects.filter(pk=org).first()
    if org is None or not org.is_active or not org_in_scope(user, org):
        raise NotFound()
    paths = ancestor_paths(org.path)
    rows = list(
        ServiceCategory.objects.filter(org__path__in=paths)
        .select_related("org", "parent")
        .order_by("position", "code", "pk")
    )
    depth = {p: i for i, p in enumerate(paths)}
    winners: dict[str, ServiceCategory] = {}
    for row in rows:
        current = winners.get(row.code)
        if current is None or depth[row.org.path] > depth[current.org.path]:
            winners[row.code] = row
    result = [c for c in rows if winners[c.code] is c]
    if not include_inactive:
        result = [c for c in result if c.is_active]
    kept = {c.code: c for c in result}
    for c in result:
        parent = kept.get(c.parent.code) if c.parent is not None else None
        c.catalogue_parent_id = parent.pk if parent is not None and parent is not c else None
    return result


def catalogue_tree(
    user: Any, org: Organization | int, *, include_inactive: bool = False
) -> list[CategoryNode]:
    """``catalogue_for`` as a forest (roots in catalogue order, children under them)."""
    cats = catalogue_for(user, org, include_inactive=include_inactive)
    nodes = {c.pk: CategoryNode(c) for c in cats}
    roots: list[CategoryNode] = []
    for c in cats:
        parent = nodes.get(c.catalogue_parent_id) if c.catalogue_parent_id else None
        (parent.children if parent is not None else roots).append(nodes[c.pk])
    return roots


def categories(user: Any, *, org_id: int | None = None) -> QuerySet[ServiceCategory]:
    """Categories defined at organisations the user reaches (for managing them)."""
    qs = scoped(user, ServiceCategory.objects.all()).select_related("org", "parent")
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    return qs.order_by("org__path", "position", "code")


def category(user: Any, pk: int) -> ServiceCategory:
    """A category the user may read: defined in their reach or above it (a county reads
    the city's categories it is offered)."""
    cat = ServiceCategory.objects.select_related("org", "parent").filter(pk=pk).first()
    if cat is None:
        raise NotFound()
    paths = scope_paths(user)
    if not any(p.startswith(cat.org.path) or cat.org.path.startswith(p) for p in paths):
        raise NotFound()
    return cat


def teams(user: Any, *, org_id: int | None = None) -> QuerySet[Team]:
    qs = scoped(user, Team.objects.all()).select_related("org", "vendor")
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    return qs.order_by("org__path", "name", "pk")


def team(user: Any, pk: int) -> Team:
    obj = teams(user).filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


def members(user: Any, team_id: int) -> QuerySet[TeamMember]:
    team(user, team_id)  # 404 when out of reach
    return (
        TeamMember.objects.filter(team_id=team_id)
        .select_related("user")
        .order_by("user__username", "pk")
    )


def responsibilities(
    user: Any, *, org_id: int | None = None, category_id: int | None = None
) -> QuerySet[Responsibility]:
    qs = scoped(user, Responsibility.objects.all()).select_related(
        "org", "category", "location", "team"
    )
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    if category_id is not None:
        qs = qs.filter(category_id=category_id)
    return qs.order_by("org__path", "category__code", "location__path", "pk")


def responsibility_filter(org: Organization, location: Location | None) -> Q:
    """Responsibilities that may apply to an order at ``org`` / ``location``."""
    q = Q(location__isnull=True)
    if location is not None:
        q |= Q(location__path__in=ancestor_paths(location.path))
    return Q(org__path__in=ancestor_paths(org.path)) & q
