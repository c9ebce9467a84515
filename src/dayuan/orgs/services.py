"""Every write to organisations and locations: one function per use case."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils.translation import gettext_lazy as _

from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import InvalidInput, NotFound, StaleVersion
from dayuan.core.tree import next_child_path

from .choices import ALLOWED_CHILDREN, LOCATION_CHILDREN, OrgKind
from .models import Location, Organization

LOCATION_FIELDS = ["name", "code", "kind", "area_m2", "tags", "is_active"]
ORG_FIELDS = ["name", "short_name", "kind", "is_active", "contact_phone", "working_hours"]


def _lock(model: type, pk: int) -> Any:
    obj = model.objects.select_for_update().filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


def _lock_roots(model: type) -> None:
    """Serialise root allocation on PostgreSQL; SQLite's IMMEDIATE lock covers it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [model._meta.label])


def _clean_working_hours(value: list[Any] | None) -> list[Any]:
    """Working hours must parse as a calendar, or clocks would fail later."""
    from dayuan.workcalendar.calendar import WorkingCalendar

    try:
        WorkingCalendar.parse(value or [])
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            _("工作时间格式无效。"),
            code="invalid_working_hours",
            field="working_hours",
            error=str(exc),
        ) from exc
    return value or []


def _clean_tags(tags: list[str] | None) -> list[str]:
    cleaned = sorted({str(t).strip() for t in (tags or []) if str(t).strip()})
    if any(len(t) > 30 for t in cleaned) or len(cleaned) > 20:
        raise InvalidInput(_("标签最多 20 个，每个不超过 30 个字符。"), code="invalid_tags")
    return cleaned


@audited("orgs.organization.create")
def create_organization(
    *,
    actor: Any,
    parent_id: int | None,
    name: str,
    code: str,
    kind: str,
    short_name: str = "",
    contact_phone: str = "",
    working_hours: list[Any] | None = None,
) -> Organization:
    if kind not in OrgKind.values:
        raise InvalidInput(_("组织类型无效。"), code="invalid_kind", kind=kind)
    if parent_id is None:
        if kind != OrgKind.CITY or Organization.objects.filter(parent__isnull=True).exists():
            raise InvalidInput(_("只能有一个市级中心作为根组织。"), code="invalid_parent")
        if Organization.objects.exists() or not getattr(actor, "is_superuser", False):
            policy.require(actor, "orgs.manage")
        _lock_roots(Organization)
        path = next_child_path(Organization, "")
    else:
        parent = _lock(Organization, parent_id)
        policy.require(actor, "orgs.manage", parent)
        if kind not in ALLOWED_CHILDREN.get(parent.kind, set()):
            raise InvalidInput(
                _("该类型的组织不能设在此上级之下。"),
                code="invalid_parent",
                parent_kind=parent.kind,
                kind=kind,
            )
        path = next_child_path(Organization, parent.path)
    if Organization.objects.filter(code=code).exists():
        raise InvalidInput(_("组织编码已存在。"), code="duplicate_code", field="code")
    org = Organization.objects.create(
        parent_id=parent_id,
        name=name,
        short_name=short_name,
        code=code,
        kind=kind,
        contact_phone=contact_phone,
        working_hours=_clean_working_hours(working_hours),
        path=path,
        depth=path.count(".") - 1,
    )
    record(
        "orgs.organization.create",
        actor=actor,
        obj=org,
        changes=diff({}, snapshot(org, ORG_FIELDS)),
    )
    return org


@audited("orgs.organization.update")
def update_organization(*, actor: Any, org_id: int, version: int, **fields: Any) -> Organization:
    org = _lock(Organization, org_id)
    policy.require(actor, "orgs.manage", org)
    if org.version != version:
        raise StaleVersion(current_version=org.version)
    readonly = set(fields) - (set(ORG_FIELDS) - {"kind"})
    if readonly:
        raise InvalidInput(_("不能修改这些字段。"), code="readonly_field", fields=sorted(readonly))
    if "working_hours" in fields:
        fields["working_hours"] = _clean_working_hours(fields["working_hours"])
    before = snapshot(org, ORG_FIELDS)
    for key, value in fields.items():
        setattr(org, key, value)
    org.version += 1
    org.save()
    record(
        "orgs.organization.update",
        actor=actor,
        obj=org,
        changes=diff(before, snapshot(org, ORG_FIELDS)),
    )
    return org


@audited("orgs.location.create")
def create_location(
    *,
    actor: Any,
    org_id: int,
    parent_id: int | None,
    kind: str,
    name: str,
    code: str = "",
    area_m2: Decimal | None = None,
    tags: list[str] | None = None,
) -> Location:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound()
    policy.require(actor, "locations.manage", org)
    if area_m2 is not None and area_m2 < 0:
        raise InvalidInput(_("面积不能为负数。"), code="invalid_area", field="area_m2")
    if parent_id is None:
        parent_kind = None
        _lock_roots(Location)
        parent_path = ""
    else:
        parent = _lock(Location, parent_id)
        if parent.org_id != org.pk:
            raise InvalidInput(
                _("上级场所不属于该组织。"), code="invalid_parent", field="parent_id"
            )
        parent_kind, parent_path = parent.kind, parent.path
    if kind not in LOCATION_CHILDREN.get(parent_kind, set()):
        raise InvalidInput(
            _("该类型的场所不能设在此上级之下。"),
            code="invalid_parent",
            parent_kind=parent_kind,
            kind=kind,
        )
    path = next_child_path(Location, parent_path)
    loc = Location.objects.create(
        org=org,
        parent_id=parent_id,
        kind=kind,
        name=name,
        code=code,
        area_m2=area_m2,
        tags=_clean_tags(tags),
        path=path,
        depth=path.count(".") - 1,
    )
    record(
        "orgs.location.create",
        actor=actor,
        obj=loc,
        changes=diff({}, snapshot(loc, LOCATION_FIELDS)),
    )
    return loc


@audited("orgs.location.update")
def update_location(*, actor: Any, location_id: int, version: int, **fields: Any) -> Location:
    loc = _lock(Location, location_id)
    if not policy.can(actor, "locations.view", loc.org):
        raise NotFound()
    policy.require(actor, "locations.manage", loc.org)
    if loc.version != version:
        raise StaleVersion(current_version=loc.version)
    allowed = {"name", "code", "area_m2", "tags", "is_active"}
    if set(fields) - allowed:
        raise InvalidInput(
            _("不能修改这些字段。"), code="readonly_field", fields=sorted(set(fields) - allowed)
        )
    if "tags" in fields:
        fields["tags"] = _clean_tags(fields["tags"])
    if fields.get("area_m2") is not None and fields["area_m2"] < 0:
        raise InvalidInput(_("面积不能为负数。"), code="invalid_area", field="area_m2")
    before = snapshot(loc, LOCATION_FIELDS)
    for key, value in fields.items():
        setattr(loc, key, value)
    loc.version += 1
    loc.save()
    record(
        "orgs.location.update",
        actor=actor,
        obj=loc,
        changes=diff(before, snapshot(loc, LOCATION_FIELDS)),
    )
    return loc
