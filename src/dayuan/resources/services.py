"""Every write of the resource pool's offers, demands and allocations: resources (with
their windows, attributes and photo), closures, demands (posted, approved, cancelled)
and allocations (requested → approved → in use → returned / completed; or rejected,
cancelled). The warehouse, volunteers, projects and batch matching are elsewhere
(``warehouse``, ``volunteers``, ``projects``, ``batch``) and call in here.

Correctness lives in the database:

- the hard constraints (kind, amount, attributes, windows, closures, overlap, headcount,
  stock, budget, scope) are checked by one implementation, ``matching.check``; a
  request is refused with the refusal's code (422, or 409 for what another allocation
  or a closure holds);
- an approval (``decide_allocation``, and a request to a resource that needs no
  approval) locks the resource row (``SELECT … FOR UPDATE``; on SQLite the IMMEDIATE
  transaction already holds the write lock) and re-runs the check under the lock, so two
  approvals of overlapping ranges of one venue, or of one team beyond its headcount,
  cannot both pass; on PostgreSQL the exclusion constraint ``resources_no_overlap`` has
  the last word (its IntegrityError is the same ``resource_taken``);
- stock (assets, funds) is taken by ``UPDATE … SET available = available - n WHERE
  available >= n``: zero rows is ``insufficient_stock``, never an oversell;
- rows are locked in one order everywhere: the demand, then the resource, then the
  allocations (so two writers never wait on each other in a circle);
- a repeated post or request with the same ``client_key`` returns what the first wrote.

Who may do what: anyone (``resources.use``) browses what is usable by them, posts
demands for a unit in their scope and requests; the owner's managers
(``resources.manage`` over the resource's org) edit resources, add closures, approve and
reject requests; a resource, demand or allocation the actor cannot see is a 404.
Every service runs in one transaction through ``@audited`` and writes its audit entry;
notifications go out through ``emit`` in the same transaction. ``now`` is for tests and
jobs; callers leave it out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.numbers import next_number
from dayuan.core.scope import org_in_scope
from dayuan.core.text import clean_text
from dayuan.notifications.services import emit
from dayuan.orgs.models import Location, Organization
from dayuan.workorders import photos as photo_files
from dayuan.workorders.tasks import role_holders

from . import events, matching, queries
from .choices import (
    EXCLUSIVE_KINDS,
    HOLDING,
    KIND_UNITS,
    OPEN_ALLOCATION,
    STOCK_KINDS,
    AllocationStatus,
    CostBasis,
    DemandStatus,
    Priority,
    ProjectStatus,
    ResourceKind,
    TransferKind,
    Visibility,
)
from .models import Allocation, Closure, Demand, MicroProject, Resource, Transfer

A = AllocationStatus
D = DemandStatus

RESOURCE_DATA = frozenset(
    {
        "org_id",
        "kind",
        "name",
        "description",
        "location_id",
        "address",
        "capacity",
        "quantity",
        "unit",
        "attributes",
        "windows",
        "visibility",
        "cost_basis",
        "cost",
        "unit_value",
        "requires_approval",
        "preference",
        "contact_id",
        "contact_phone",
        "is_active",
    }
)
DEMAND_DATA = frozenset(
    {
        "org_id",
        "title",
        "description",
        "kind",
        "amount",
        "attributes",
        "start_at",
        "end_at",
        "location_id",
        "budget",
        "priority",
        "approver_id",
        "preferred_owner_id",
        "project_id",
    }
)
RESOURCE_FIELDS = [
    "org_id",
    "centre_id",
    "kind",
    "name",
    "description",
    "location_id",
    "address",
    "capacity",
    "quantity",
    "available",
    "unit",
    "attributes",
    "windows",
    "visibility",
    "cost_basis",
    "cost",
    "unit_value",
    "requires_approval",
    "preference",
    "contact_id",
    "contact_phone",
    "is_active",
    "version",
]
DEMAND_FIELDS = [
    "org_id",
    "number",
    "title",
    "kind",
    "amount",
    "attributes",
    "start_at",
    "end_at",
    "location_id",
    "budget",
    "priority",
    "status",
    "approver_id",
    "approved_at",
    "preferred_owner_id",
    "project_id",
    "matched_at",
    "fulfilled_at",
    "closed_reason",
    "version",
]
ALLOCATION_FIELDS = [
    "number",
    "resource_id",
    "demand_id",
    "project_id",
    "requester_org_id",
    "start_at",
    "end_at",
    "amount",
    "status",
    "holds",
    "cost",
    "saved",
    "decided_by_id",
    "decided_at",
    "decision_note",
    "started_at",
    "finished_at",
    "version",
]

MAX_CAPACITY = 100_000  # people a venue takes, or a team has
MAX_QUANTITY = 1_000_000_000  # units of stock (a fund counts yuan)
MAX_MONEY = Decimal("100000000")  # ¥100 million
MAX_ATTRIBUTES = 20
MAX_ATTRIBUTE_LENGTH = 30
MAX_WINDOWS = 20
MAX_SPAN = timedelta(days=366)  # the longest range a demand or an allocation may cover
STOCK_NEED_DEFAULT = timedelta(days=1)  # a direct stock request without a date: by tomorrow
_INSERT_ATTEMPTS = 5

# Refusals that are about what another allocation or a closure holds (409); the others
# are about what was asked (422). ``not_usable`` is 403.
CONFLICT_CODES = frozenset({"resource_taken", "headcount_exceeded", "insufficient_stock", "closed"})
# When several constraints fail, the one reported first: the most fundamental.
REFUSAL_ORDER = (
    "not_usable",
    "kind_mismatch",
    "window_invalid",
    "window_past",
    "capacity_short",
    "attributes_missing",
    "outside_windows",
    "over_budget",
    "closed",
    "resource_taken",
    "headcount_exceeded",
    "insufficient_stock",
)

_LABELS = {
    "capacity": gettext_lazy("容量"),
    "quantity": gettext_lazy("数量"),
    "amount": gettext_lazy("数量/人数"),
    "preference": gettext_lazy("推荐权重"),
    "cost": gettext_lazy("单价（元）"),
    "unit_value": gettext_lazy("单位价值（元）"),
    "budget": gettext_lazy("预算上限（元）"),
}


# --- small checks ------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _local(dt: datetime) -> datetime:
    return timezone.localtime(dt)


def _span(start: datetime, end: datetime) -> str:
    ls, le = _local(start), _local(end)
    if ls.date() == le.date():
        return f"{ls:%Y-%m-%d %H:%M}–{le:%H:%M}"
    return f"{ls:%Y-%m-%d %H:%M}–{le:%Y-%m-%d %H:%M}"


def _check_version(obj: Any, version: int | None) -> None:
    if version is not None and obj.version != version:
        raise StaleVersion(current_version=obj.version)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _data(data: Mapping[str, Any] | None, allowed: frozenset[str]) -> dict[str, Any]:
    """The submitted fields; an unknown key is refused (a typo must not pass silently)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InvalidInput(_("提交的数据格式无效。"), code="invalid", field="data")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise InvalidInput(
            _("未知字段：%(fields)s。")
            % {"fields": pgettext("list separator", "、").join(unknown)},
            code="unknown_field",
            field=unknown[0],
        )
    return dict(data)


def _int(value: Any, field: str, low: int, high: int) -> int:
    n: int | None = None
    if not isinstance(value, bool):
        try:
            n = int(value)
        except (TypeError, ValueError, OverflowError):
            n = None
        if isinstance(value, float) and n != value:
            n = None
    if n is None or not low <= n <= high:
        raise InvalidInput(
            _("%(field)s须为 %(low)s 到 %(high)s 之间的整数。")
            % {"field": _LABELS.get(field, field), "low": low, "high": high},
            code="out_of_range",
            field=field,
            low=low,
            high=high,
        )
    return n


def _money(value: Any, field: str) -> Decimal:
    """An amount in yuan: 0 to ¥100 million, at most two decimals."""
    amount: Decimal | None = None
    if not isinstance(value, bool) and value is not None and value != "":
        try:
            amount = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            amount = None
    if (
        amount is None
        or not amount.is_finite()
        or not Decimal(0) <= amount <= MAX_MONEY
        or amount != amount.quantize(Decimal("0.01"))
    ):
        raise InvalidInput(
            _("%(field)s须在 0 到 %(max)s 元之间，最多两位小数。")
            % {"field": _LABELS.get(field, field), "max": MAX_MONEY},
            code="invalid_amount",
            field=field,
        )
    return amount.quantize(Decimal("0.01"))


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(_("须为是或否。"), code="invalid", field=field)
    return value


def _choice(value: Any, choices: Any, field: str) -> str:
    if value not in choices.values:
        raise InvalidInput(_("取值无效。"), code="invalid_choice", field=field)
    return str(value)


def _aware(value: Any, field: str) -> datetime:
    """An aware datetime (or its ISO text); anything else is ``window_invalid``."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise InvalidInput(
            _("请填写有效的开始和结束时间（含时区）。"), code="window_invalid", field=field
        )
    return value


def _range(start_at: Any, end_at: Any) -> tuple[datetime, datetime]:
    start, end = _aware(start_at, "start_at"), _aware(end_at, "end_at")
    if end <= start:
        raise InvalidInput(_("结束时间须晚于开始时间。"), code="window_invalid", field="end_at")
    if end - start > MAX_SPAN:
        raise InvalidInput(
            _("时间范围不能超过 %(n)s 天。") % {"n": MAX_SPAN.days},
            code="window_invalid",
            field="end_at",
        )
    return start, end


def _attributes(values: Any) -> list[str]:
    """Attribute values and free tags: strings of at most 30 characters, at most 20,
    stripped, de-duplicated and sorted (the form the models keep)."""
    if values is None:
        return []
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence | set):
        raise InvalidInput(_("属性格式无效。"), code="invalid_attributes", field="attributes")
    out: set[str] = set()
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(_("属性格式无效。"), code="invalid_attributes", field="attributes")
        text = value.strip()
        if len(text) > MAX_ATTRIBUTE_LENGTH:
            raise InvalidInput(
                _("每个属性不能超过 %(n)s 个字符。") % {"n": MAX_ATTRIBUTE_LENGTH},
                code="invalid_attributes",
                field="attributes",
            )
        out.add(text)
    if len(out) > MAX_ATTRIBUTES:
        raise InvalidInput(
            _("属性最多 %(n)s 个。") % {"n": MAX_ATTRIBUTES},
            code="invalid_attributes",
            field="attributes",
        )
    return sorted(out)


def _hhmm(value: Any, *, end: bool) -> str:
    """``HH:MM`` of a window; an end may be ``24:00`` (open until midnight)."""
    text = value.strip() if isinstance(value, str) else ""
    if end and text == "24:00":
        return text
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or len(text) != 5 or parsed.second or parsed.tzinfo is not None:
        raise InvalidInput(
            _("开放时段的时间须为 HH:MM 格式。"), code="invalid_windows", field="windows"
        )
    return text


def _windows(values: Any) -> list[dict[str, Any]]:
    """Weekly windows ``{"days": [0..6], "start": "HH:MM", "end": "HH:MM", "offpeak"}``
    checked and normalised (days sorted, unique); empty means any time."""
    if values is None:
        return []
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
        raise InvalidInput(_("开放时段格式无效。"), code="invalid_windows", field="windows")
    if len(values) > MAX_WINDOWS:
        raise InvalidInput(
            _("开放时段最多 %(n)s 条。") % {"n": MAX_WINDOWS},
            code="invalid_windows",
            field="windows",
        )
    out = []
    for i, raw in enumerate(values):
        if not isinstance(raw, Mapping) or set(raw) - {"days", "start", "end", "offpeak"}:
            raise InvalidInput(
                _("开放时段格式无效。"), code="invalid_windows", field="windows", index=i
            )
        days = raw.get("days")
        if (
            isinstance(days, str | bytes | Mapping)
            or not isinstance(days, Sequence)
            or not days
            or any(not _is_id(d) or not 0 <= d <= 6 for d in days)
        ):
            raise InvalidInput(
                _("开放时段的星期须为 0（周一）到 6（周日）。"),
                code="invalid_windows",
                field="windows",
                index=i,
            )
        try:
            start, end = _hhmm(raw.get("start"), end=False), _hhmm(raw.get("end"), end=True)
        except InvalidInput as exc:
            exc.details = {**exc.details, "index": i}
            raise
        if start >= end:
            raise InvalidInput(
                _("开放时段的开始时间须早于结束时间。"),
                code="invalid_windows",
                field="windows",
                index=i,
            )
        offpeak = raw.get("offpeak", False)
        if not isinstance(offpeak, bool):
            raise InvalidInput(
                _("开放时段格式无效。"), code="invalid_windows", field="windows", index=i
            )
        out.append({"days": sorted(set(days)), "start": start, "end": end, "offpeak": offpeak})
    return out


def _clean_key(client_key: str | None) -> str | None:
    """The caller's idempotency key (a blank one is none)."""
    if client_key is None or not str(client_key).strip():
        return None
    return clean_text(str(client_key), "client_key", _("请求标识"), 64)


def _unit_name(kind: str) -> str:
    """The stored default unit, in the source language whoever saves it (the pages show
    a stored unit as it is)."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(KIND_UNITS[ResourceKind(kind)])


# --- who ---------------------------------------------------------------------------------


def _authenticated(actor: Any) -> None:
    if getattr(actor, "pk", None) is None or not getattr(actor, "is_active", False):
        raise NotFound()


def _resource_not_found() -> NotFound:
    return NotFound(_("资源不存在或无权访问。"))


def _visible(actor: Any, qs: Any, pk: Any, related: tuple[str, ...], missing: NotFound) -> Any:
    """The row ``pk`` of a visibility queryset, else ``missing`` (a 404: another county's
    record does not exist)."""
    _authenticated(actor)
    found = None
    if _is_id(pk):
        found = qs.select_related(*related).filter(pk=pk).order_by().first()
    if found is None:
        raise missing
    return found


def _visible_resource(actor: Any, resource_id: Any) -> Resource:
    """The resource if ``actor`` may see it, else 404 (another county's does not exist)."""
    return _visible(
        actor,
        queries.visible_resources(actor),
        resource_id,
        ("org", "centre", "location"),
        _resource_not_found(),
    )


def _managed_resource(actor: Any, resource_id: Any) -> Resource:
    resource = _visible_resource(actor, resource_id)
    policy.require(actor, "resources.manage", resource.org)
    return resource


def _lock_resource(resource_id: int) -> Resource:
    """The resource row, locked until the transaction ends: every approval of it (and
    every closure added to it) queues here, then re-checks what it sees."""
    return (
        Resource.objects.select_for_update(of=("self",))
        .select_related("org", "centre", "location")
        .get(pk=resource_id)
    )


def _usable(actor: Any, resource: Resource) -> bool:
    return queries.usable_resources(actor).filter(pk=resource.pk).exists()


def _visible_demand(actor: Any, demand_id: Any) -> Demand:
    return _visible(
        actor,
        queries.visible_demands(actor),
        demand_id,
        ("org", "posted_by", "approver"),
        NotFound(_("需求不存在或无权访问。")),
    )


def _lock_demand(demand_id: int) -> Demand:
    return (
        Demand.objects.select_for_update(of=("self",))
        .select_related("org", "posted_by", "approver")
        .get(pk=demand_id)
    )


def _may_act_for_demand(actor: Any, demand: Demand) -> bool:
    """The poster, or a manager of the demand's unit."""
    return demand.posted_by_id == actor.pk or policy.can(actor, "resources.manage", demand.org)


def _visible_allocation(actor: Any, allocation_id: Any) -> Allocation:
    return _visible(
        actor,
        queries.visible_allocations(actor),
        allocation_id,
        ("org", "requester_org", "requester", "resource", "demand"),
        NotFound(_("调配记录不存在或无权访问。")),
    )


def _lock_allocation(allocation_id: int) -> Allocation:
    return (
        Allocation.objects.select_for_update(of=("self",))
        .select_related("org", "requester_org", "requester")
        .get(pk=allocation_id)
    )


def _is_owner(actor: Any, allocation: Allocation) -> bool:
    """A manager of the resource's owner (approves, hands over, takes back)."""
    return policy.can(actor, "resources.manage", allocation.org)


def _is_requesting_side(actor: Any, allocation: Allocation) -> bool:
    """The requester, the demand's poster, or a manager of the using unit."""
    if allocation.requester_id == actor.pk:
        return True
    demand = allocation.demand
    if demand is not None and demand.posted_by_id == actor.pk:
        return True
    return policy.can(actor, "resources.manage", allocation.requester_org)


def _locked_for_change(
    actor: Any, allocation_id: Any
) -> tuple[Allocation, Demand | None, Resource]:
    """The allocation (visible to the actor, else 404) with its demand and resource,
    locked in the one order: demand, resource, allocation."""
    seen = _visible_allocation(actor, allocation_id)
    demand = _lock_demand(seen.demand_id) if seen.demand_id else None
    resource = _lock_resource(seen.resource_id)
    allocation = _lock_allocation(seen.pk)
    allocation.resource = resource
    allocation.demand = demand
    return allocation, demand, resource


def _invalid_transition(status: str, action: Any, **details: Any) -> Conflict:
    return Conflict(
        _("当前状态为“%(status)s”，不能%(action)s。")
        % {"status": AllocationStatus(status).label, "action": action},
        code="invalid_transition",
        status=status,
        **details,
    )


def _owner_managers(org: Organization) -> list[Any]:
    """The nearest managers on the owner's path (its own, else the nearest above)."""
    return role_holders(org, {"manager"})


# --- refusals from the hard constraints --------------------------------------------------


def _refuse(refusals: Sequence[matching.Refusal]) -> None:
    """Raise the most fundamental refusal (all of them listed in ``refusals``)."""
    if not refusals:
        return
    rank = {code: i for i, code in enumerate(REFUSAL_ORDER)}
    ordered = sorted(refusals, key=lambda r: rank.get(r.code, len(rank)))
    first = ordered[0]
    details = {
        k: v for k, v in (first.details or {}).items() if k not in ("code", "message", "refusals")
    }
    details["refusals"] = [{"code": r.code, "message": str(r.message)} for r in ordered]
    if first.code == "not_usable":
        raise PermissionDenied(first.message, code=first.code, **details)
    cls = Conflict if first.code in CONFLICT_CODES else InvalidInput
    raise cls(first.message, code=first.code, **details)


def _need(
    resource: Resource,
    demand: Demand | None,
    *,
    start_at: datetime,
    end_at: datetime,
    amount: int,
    org_id: int,
) -> matching.Need:
    """What is asked: the demand's need with this range and amount, or a direct one."""
    if demand is not None:
        return dataclasses.replace(
            matching.Need.of(demand), start_at=start_at, end_at=end_at, amount=amount
        )
    return matching.Need(
        kind=resource.kind, amount=amount, start_at=start_at, end_at=end_at, org_id=org_id
    )


def _allocation_need(allocation: Allocation, demand: Demand | None) -> matching.Need:
    return _need(
        allocation.resource,
        demand,
        start_at=allocation.start_at,
        end_at=allocation.end_at,
        amount=allocation.amount,
        org_id=allocation.requester_org_id,
    )


# --- resources ---------------------------------------------------------------------------


def _location(
    actor: Any, owner: Organization, location_id: Any, message: Any = None
) -> Location | None:
    """An active location of the owner's subtree, or one the actor can see."""
    if location_id is None:
        return None
    location = None
    if _is_id(location_id):
        location = Location.objects.select_related("org").filter(pk=location_id).first()
    if (
        location is None
        or not location.is_active
        or not (
            location.org.path.startswith(owner.path)
            or policy.can(actor, "locations.view", location.org)
        )
    ):
        raise InvalidInput(message or _("位置无效。"), code="invalid_location", field="location_id")
    return location


def _contact(org: Organization, contact_id: Any) -> Any:
    """A contact person: an active user whose grants reach the owner."""
    if contact_id is None:
        return None
    user = None
    if _is_id(contact_id):
        user = get_user_model().objects.filter(pk=contact_id, is_active=True).first()
    if user is None or not org_in_scope(user, org):
        raise InvalidInput(_("联系人须为本单位人员。"), code="invalid_contact", field="contact_id")
    return user


def _fixed(field: str) -> InvalidInput:
    return InvalidInput(_("该项创建后不能修改。"), code="field_fixed", field=field)


@audited("resources.resource.save")
def save_resource(
    *,
    actor: Any,
    data: Mapping[str, Any],
    resource_id: int | None = None,
    version: int | None = None,
) -> Resource:
    """Offer a resource (``org_id`` and ``kind`` given) or edit one (keys missing from
    ``data`` keep their value). The owner's managers only. A time kind (venue, facility,
    vehicle, manpower, team) needs a ``capacity``; a stock kind (asset, fund) a
    ``quantity``, all of it available at first (later the warehouse's ledger moves it)."""
    fields = _data(data, RESOURCE_DATA)
    created = resource_id is None
    if created:
        _authenticated(actor)
        org_id = fields.get("org_id")
        if org_id is None:
            raise InvalidInput(_("请选择所属单位。"), code="required", field="org_id")
        org = (
            Organization.objects.filter(pk=org_id, is_active=True).first()
            if _is_id(org_id)
            else None
        )
        if org is None or not policy.can(actor, "orgs.view", org):
            raise NotFound(_("单位不存在或无权访问。"))
        policy.require(actor, "resources.manage", org)
        kind = _choice(fields.get("kind"), ResourceKind, "kind")
        if "name" not in fields:
            raise InvalidInput(_("请填写名称。"), code="required", field="name")
        centre = org.centre
        if centre is None:  # pragma: no cover - the tree's root is always a city
            raise InvalidInput(_("单位无效。"), code="invalid_org", field="org_id")
        resource = Resource(org=org, centre=centre, kind=kind, unit=_unit_name(kind))
        before: dict[str, Any] = {}
    else:
        seen = _managed_resource(actor, resource_id)
        resource = _lock_resource(seen.pk)
        _check_version(resource, version)
        for key, current in (("org_id", resource.org_id), ("kind", resource.kind)):
            if key in fields and fields[key] != current:
                raise _fixed(key)
        if "quantity" in fields and fields["quantity"] != resource.quantity:
            raise _fixed("quantity")
        before = snapshot(resource, RESOURCE_FIELDS)
        resource.version += 1
    stock = resource.kind in STOCK_KINDS
    if "name" in fields:
        resource.name = clean_text(fields["name"], "name", _("名称"), 120)
    if "description" in fields:
        resource.description = clean_text(
            fields["description"], "description", _("说明"), 1000, required=False
        )
    if "location_id" in fields:
        resource.location = _location(actor, resource.org, fields["location_id"])
    if "address" in fields:
        resource.address = clean_text(fields["address"], "address", _("地址"), 200, required=False)
    if stock:
        if fields.get("capacity") not in (None, 0):
            raise InvalidInput(
                _("物资和资金按数量计，不设容量。"), code="invalid", field="capacity"
            )
        if created:
            if "quantity" not in fields:
                raise InvalidInput(_("请填写数量。"), code="required", field="quantity")
            resource.quantity = _int(fields["quantity"], "quantity", 1, MAX_QUANTITY)
            resource.available = resource.quantity
    else:
        if fields.get("quantity") not in (None, 0):
            raise InvalidInput(
                _("场地、设施、车辆和人力按容量计，不设数量。"), code="invalid", field="quantity"
            )
        if "capacity" in fields:
            resource.capacity = _int(fields["capacity"], "capacity", 1, MAX_CAPACITY)
        elif created:
            raise InvalidInput(_("请填写容量。"), code="required", field="capacity")
    if "unit" in fields:
        resource.unit = clean_text(fields["unit"], "unit", _("计量单位"), 10, required=False) or (
            _unit_name(resource.kind)
        )
    if "attributes" in fields:
        resource.attributes = _attributes(fields["attributes"])
    if "windows" in fields:
        resource.windows = _windows(fields["windows"])
    if "visibility" in fields:
        resource.visibility = _choice(fields["visibility"], Visibility, "visibility")
    if "cost_basis" in fields:
        resource.cost_basis = _choice(fields["cost_basis"], CostBasis, "cost_basis")
    if "cost" in fields:
        resource.cost = _money(fields["cost"], "cost")
    if resource.cost_basis == CostBasis.FREE and resource.cost:
        raise InvalidInput(_("免费资源的单价须为 0。"), code="invalid_amount", field="cost")
    if "unit_value" in fields:
        resource.unit_value = _money(fields["unit_value"], "unit_value")
    if "requires_approval" in fields:
        resource.requires_approval = _bool(fields["requires_approval"], "requires_approval")
    if "preference" in fields:
        resource.preference = _int(fields["preference"], "preference", 0, 100)
    if "contact_id" in fields:
        resource.contact = _contact(resource.org, fields["contact_id"])
    if "contact_phone" in fields:
        resource.contact_phone = clean_text(
            fields["contact_phone"], "contact_phone", _("联系电话"), 30, required=False
        )
    if "is_active" in fields:
        resource.is_active = _bool(fields["is_active"], "is_active")
    resource.save()
    record(
        "resources.resource.save",
        actor=actor,
        obj=resource,
        changes=diff(before, snapshot(resource, RESOURCE_FIELDS)),
    )
    return resource


@audited("resources.resource.photo")
def set_resource_photo(*, actor: Any, resource_id: int, upload: Any) -> Resource:
    """A new photo (checked and re-encoded like room photos: JPEG/PNG/WebP, EXIF and
    any GPS position stripped, a thumbnail made); ``upload=None`` removes it. The old
    files are deleted once the change commits."""
    seen = _managed_resource(actor, resource_id)
    resource = _lock_resource(seen.pk)
    change = photo_files.replace_photo(resource, upload, remove=upload is None)
    if change:
        resource.version += 1
        resource.save(update_fields=["photo", "photo_thumb", "version", "updated_at"])
    record(
        "resources.resource.photo",
        actor=actor,
        obj=resource,
        changes={"photo": change} if change else {},
    )
    return resource


# --- closures ----------------------------------------------------------------------------


@audited("resources.closure.add")
def add_closure(
    *, actor: Any, resource_id: int, start_at: Any, end_at: Any, reason: str = ""
) -> Closure:
    """The owner's managers close a time resource for a period (maintenance, their own
    event). Refused while an approved allocation holds part of it: cancel that first."""
    seen = _managed_resource(actor, resource_id)
    if seen.kind in STOCK_KINDS:
        raise InvalidInput(_("物资和资金不设停用时段。"), code="kind_mismatch", field="resource_id")
    start, end = _range(start_at, end_at)
    reason = clean_text(reason, "reason", _("原因"), 200, required=False)
    resource = _lock_resource(seen.pk)
    held = list(
        Allocation.objects.filter(
            resource=resource, holds=True, start_at__lt=end, end_at__gt=start
        ).order_by("start_at", "pk")
    )
    if held:
        raise Conflict(
            _("该时段已有调配占用（%(numbers)s），请先取消后再设置停用。")
            % {"numbers": pgettext("list separator", "、").join(a.number for a in held)},
            code="resource_taken",
            allocations=[a.number for a in held],
        )
    closure = Closure.objects.create(
        resource=resource, start_at=start, end_at=end, reason=reason, created_by=actor
    )
    record(
        "resources.closure.add",
        actor=actor,
        obj=closure,
        changes={
            "resource_id": resource.pk,
            "start_at": [None, start],
            "end_at": [None, end],
            "reason": reason,
        },
    )
    return closure


@audited("resources.closure.remove")
def remove_closure(*, actor: Any, closure_id: int) -> None:
    """The owner's managers open the period again."""
    closure = (
        Closure.objects.select_related("resource").filter(pk=closure_id).first()
        if _is_id(closure_id)
        else None
    )
    if closure is None:
        raise NotFound(_("停用时段不存在或无权访问。"))
    try:
        resource = _managed_resource(actor, closure.resource_id)
    except NotFound:
        raise NotFound(_("停用时段不存在或无权访问。")) from None
    _lock_resource(resource.pk)
    record(
        "resources.closure.remove",
        actor=actor,
        obj=closure,
        changes={
            "resource_id": resource.pk,
            "start_at": [closure.start_at, None],
            "end_at": [closure.end_at, None],
        },
    )
    closure.delete()


# --- demands -----------------------------------------------------------------------------


def _demand_org(actor: Any, org_id: Any) -> Organization:
    if org_id is None:
        org_id = getattr(actor, "home_org_id", None)
    org = Organization.objects.filter(pk=org_id, is_active=True).first() if _is_id(org_id) else None
    if org is None or not policy.can(actor, "resources.use", org):
        raise InvalidInput(_("需求单位无效。"), code="invalid_org", field="org_id")
    return org


def _demand_location(actor: Any, org: Organization, location_id: Any) -> Location | None:
    return _location(actor, org, location_id, _("使用地点无效。"))


def _approver(org: Organization, approver_id: Any) -> Any:
    if approver_id is None:
        return None
    user = None
    if _is_id(approver_id):
        user = get_user_model().objects.filter(pk=approver_id, is_active=True).first()
    if user is None or not policy.can(user, "resources.manage", org):
        raise InvalidInput(
            _("审批人须为需求单位的管理人员。"), code="invalid_approver", field="approver_id"
        )
    return user


def _preferred_owner(org_id: Any) -> Organization | None:
    if org_id is None:
        return None
    org = Organization.objects.filter(pk=org_id, is_active=True).first() if _is_id(org_id) else None
    if org is None:
        raise InvalidInput(_("优先提供单位无效。"), code="invalid_org", field="preferred_owner_id")
    return org


def _project(actor: Any, project_id: Any) -> MicroProject | None:
    if project_id is None:
        return None
    project = None
    if _is_id(project_id):
        project = queries.visible_projects(actor).filter(pk=project_id).first()
    if project is None or project.status in (ProjectStatus.COMPLETED, ProjectStatus.CANCELLED):
        raise InvalidInput(_("微实事项目无效。"), code="invalid_project", field="project_id")
    return project


class _Found(Exception):
    """A concurrent request with the same ``client_key`` won: return what it wrote."""

    def __init__(self, obj: Any) -> None:
        super().__init__()
        self.obj = obj


def _demand_by_key(actor: Any, key: str | None) -> Demand | None:
    if key is None:
        return None
    found = Demand.objects.filter(client_key=key).first()
    if found is not None and found.posted_by_id != actor.pk:
        raise Conflict(_("请求标识已被使用。"), code="client_key_taken")
    return found


def _notify_demand(
    event_type: str, demand: Demand, actor: Any, recipients: Sequence[Any], title: str, key: str
) -> None:
    users = [u for u in recipients if u is not None and u.pk != getattr(actor, "pk", None)]
    if not users:
        return
    emit(
        event_type,
        org=demand.org,
        actor=actor if getattr(actor, "pk", None) else None,
        recipients=users,
        title=title,
        body=_("%(number)s %(title)s（%(kind)s %(amount)s%(unit)s，%(span)s）")
        % {
            "number": demand.number,
            "title": demand.title,
            "kind": ResourceKind(demand.kind).label,
            "amount": demand.amount,
            "unit": _unit_name(demand.kind),
            "span": _span(demand.start_at, demand.end_at),
        },
        link=f"/resources/demands/{demand.pk}/",
        object=demand,
        dedupe_key=f"resources:demand:{demand.pk}:{key}",
        payload={"number": demand.number, "status": demand.status, "kind": demand.kind},
    )


@audited("resources.demand.post")
def post_demand(
    *,
    actor: Any,
    data: Mapping[str, Any],
    client_key: str | None = None,
    now: datetime | None = None,
) -> Demand:
    """Post what a unit needs. With an ``approver_id`` (a manager of the unit) it waits
    for their sign-off (待审核, they are told); otherwise it is open for matching at once.
    The same ``client_key`` again gives the same demand back."""
    now = _now(now)
    _authenticated(actor)
    key = _clean_key(client_key)
    if (existing := _demand_by_key(actor, key)) is not None:
        return existing
    fields = _data(data, DEMAND_DATA)
    org = _demand_org(actor, fields.get("org_id"))
    title = clean_text(fields.get("title"), "title", _("需求名称"), 200)
    description = clean_text(
        fields.get("description"), "description", _("需求说明"), 2000, required=False
    )
    kind = _choice(fields.get("kind"), ResourceKind, "kind")
    amount = _int(fields.get("amount"), "amount", 1, MAX_QUANTITY)
    start, end = _range(fields.get("start_at"), fields.get("end_at"))
    if start <= now:
        raise InvalidInput(_("开始时间已过。"), code="window_past", field="start_at")
    budget = fields.get("budget")
    priority = _choice(fields.get("priority", Priority.NORMAL), Priority, "priority")
    approver = _approver(org, fields.get("approver_id"))
    demand = Demand(
        org=org,
        title=title,
        description=description,
        kind=kind,
        amount=amount,
        attributes=_attributes(fields.get("attributes")),
        start_at=start,
        end_at=end,
        location=_demand_location(actor, org, fields.get("location_id")),
        budget=None if budget is None or budget == "" else _money(budget, "budget"),
        priority=priority,
        status=D.SUBMITTED if approver is not None else D.OPEN,
        posted_by=actor,
        approver=approver,
        preferred_owner=_preferred_owner(fields.get("preferred_owner_id")),
        project=_project(actor, fields.get("project_id")),
        posted_at=now,
        client_key=key,
    )
    try:
        _insert(demand, "XQ", now)
    except _Found as won:
        return won.obj
    except IntegrityError:
        if (found := _demand_by_key(actor, key)) is not None:
            return found
        raise
    record(
        "resources.demand.post",
        actor=actor,
        obj=demand,
        changes=diff({}, snapshot(demand, DEMAND_FIELDS)),
    )
    if approver is not None:
        _notify_demand(
            events.DEMAND_SUBMITTED,
            demand,
            actor,
            [approver],
            _("资源需求待审核：%(title)s") % {"title": demand.title},
            "submitted",
        )
    return demand


def _insert(obj: Demand | Allocation, prefix: str, now: datetime) -> None:
    """Save with the day's next number, a savepoint per attempt: a number taken
    meanwhile is retried; the same client key at once is the first writer's answer."""
    model = type(obj)
    for _attempt in range(_INSERT_ATTEMPTS):
        obj.number = next_number(model, prefix, now)
        try:
            with transaction.atomic():
                obj.save(force_insert=True)
            return
        except IntegrityError:
            obj.pk = None
            if obj.client_key and (
                found := model.objects.filter(client_key=obj.client_key).first()
            ):
                raise _Found(found) from None
            if model.objects.filter(number=obj.number).exists():
                continue
            raise
    raise Conflict(_("编号分配冲突，请重试。"), code="number_conflict")


@audited("resources.demand.decide")
def decide_demand(
    *,
    actor: Any,
    demand_id: int,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> Demand:
    """The unit's approver (or a manager of the unit) opens a submitted demand for
    matching, or turns it down (the poster is told either way)."""
    now = _now(now)
    seen = _visible_demand(actor, demand_id)
    if seen.approver_id != actor.pk and not policy.can(actor, "resources.manage", seen.org):
        raise PermissionDenied(action="resources.manage")
    note = clean_text(note, "note", _("审核意见"), 500, required=False)
    demand = _lock_demand(seen.pk)
    if demand.status != D.SUBMITTED:
        raise Conflict(
            _("需求当前状态为“%(status)s”，不能审核。")
            % {"status": DemandStatus(demand.status).label},
            code="invalid_transition",
            status=demand.status,
        )
    if approve and demand.start_at <= now:
        raise InvalidInput(
            _("需求的开始时间已过，不能再开放匹配。"), code="window_past", field="start_at"
        )
    before = snapshot(demand, DEMAND_FIELDS)
    if approve:
        demand.status, demand.approved_at = D.OPEN, now
    else:
        demand.status, demand.closed_reason = D.REJECTED, note
    demand.version += 1
    demand.save()
    record(
        "resources.demand.decide",
        actor=actor,
        obj=demand,
        changes=diff(before, snapshot(demand, DEMAND_FIELDS)),
        reason=note,
    )
    title = (
        _("资源需求已通过审核：%(title)s") if approve else _("资源需求未通过审核：%(title)s")
    ) % {"title": demand.title}
    _notify_demand(events.DEMAND_DECIDED, demand, actor, [demand.posted_by], title, "decided")
    return demand


@audited("resources.demand.cancel")
def cancel_demand(
    *,
    actor: Any,
    demand_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> Demand:
    """The poster (or a manager of the unit) withdraws a demand: its requests and the
    approved allocations not yet in use are cancelled, their holds released and their
    owners told. Refused while one of its allocations is in use or was handed out from
    the warehouse (finish or return it first)."""
    now = _now(now)
    seen = _visible_demand(actor, demand_id)
    if not _may_act_for_demand(actor, seen):
        raise PermissionDenied(action="resources.manage")
    reason = clean_text(reason, "reason", _("取消原因"), 500, required=False)
    demand = _lock_demand(seen.pk)
    if demand.status not in (D.SUBMITTED, D.OPEN, D.MATCHED):
        raise Conflict(
            _("需求当前状态为“%(status)s”，不能取消。")
            % {"status": DemandStatus(demand.status).label},
            code="invalid_transition",
            status=demand.status,
        )
    resource_ids = sorted(
        set(
            Allocation.objects.filter(demand=demand, status__in=OPEN_ALLOCATION).values_list(
                "resource_id", flat=True
            )
        )
    )
    resources = {pk: _lock_resource(pk) for pk in resource_ids}
    open_allocations = list(
        Allocation.objects.select_for_update(of=("self",))
        .select_related("org", "requester_org", "requester")
        .filter(demand=demand, status__in=OPEN_ALLOCATION)
        .order_by("pk")
    )
    for allocation in open_allocations:
        if allocation.status == A.IN_USE:
            raise _invalid_transition(
                allocation.status, _("随需求取消"), allocation=allocation.number
            )
        allocation.resource = resources.get(allocation.resource_id) or _lock_resource(
            allocation.resource_id
        )
        allocation.demand = demand
        if _handed_out(allocation):
            raise _invalid_transition(
                allocation.status,
                _("随需求取消（已从公物仓出库，请办理归还入库）"),
                allocation=allocation.number,
                handed_out=True,
            )
    before = snapshot(demand, DEMAND_FIELDS)
    demand.status, demand.closed_reason = D.CANCELLED, reason
    demand.version += 1
    demand.save()
    cancelled = [
        _cancel(allocation, actor=actor, reason=reason or _("需求已取消"), now=now)
        for allocation in open_allocations
    ]
    changes = diff(before, snapshot(demand, DEMAND_FIELDS))
    changes["allocations_cancelled"] = [a.number for a in cancelled]
    record("resources.demand.cancel", actor=actor, obj=demand, changes=changes, reason=reason)
    for allocation in cancelled:
        _notify_allocation(
            events.ALLOCATION_CANCELLED,
            allocation,
            actor,
            _owner_managers(allocation.org),
            _("资源调配已取消：%(resource)s") % {"resource": allocation.resource.name},
            "cancelled",
            org=allocation.org,
            reason=reason,
        )
    return demand


# --- allocations -------------------------------------------------------------------------


def _allocation_by_key(actor: Any, key: str | None) -> Allocation | None:
    if key is None:
        return None
    found = Allocation.objects.filter(client_key=key).first()
    if found is not None and found.requester_id != actor.pk:
        raise Conflict(_("请求标识已被使用。"), code="client_key_taken")
    return found


def _notify_allocation(
    event_type: str,
    allocation: Allocation,
    actor: Any,
    recipients: Sequence[Any],
    title: str,
    key: str,
    *,
    org: Organization,
    **payload: Any,
) -> None:
    """Tell ``recipients`` (never the actor), filed under ``org``: the owner's managers
    under the resource's org, the requesting side under the using unit. ``emit`` drops
    anyone whose grants do not reach ``org``, so another county never hears of it."""
    users = [u for u in recipients if u is not None and u.pk != getattr(actor, "pk", None)]
    if not users:
        return
    resource = allocation.resource
    emit(
        event_type,
        org=org,
        actor=actor if getattr(actor, "pk", None) else None,
        recipients=users,
        title=title,
        body=_("%(number)s %(resource)s，%(amount)s%(unit)s，%(span)s，使用单位：%(unit_org)s")
        % {
            "number": allocation.number,
            "resource": resource.name,
            "amount": allocation.amount,
            "unit": resource.unit or _unit_name(resource.kind),
            "span": _span(allocation.start_at, allocation.end_at),
            "unit_org": allocation.requester_org.name,
        },
        link=f"/resources/allocations/{allocation.pk}/",
        object=allocation,
        dedupe_key=f"resources:allocation:{allocation.pk}:{key}",
        payload={
            "number": allocation.number,
            "status": allocation.status,
            "resource_id": allocation.resource_id,
            "start": _local(allocation.start_at).isoformat(),
            "end": _local(allocation.end_at).isoformat(),
            **payload,
        },
    )


def _requesting_side(allocation: Allocation) -> list[Any]:
    people = [allocation.requester]
    if allocation.demand is not None and allocation.demand.posted_by_id != allocation.requester_id:
        people.append(allocation.demand.posted_by)
    return people


def _resolve_request(
    resource: Resource,
    demand: Demand | None,
    start_at: Any,
    end_at: Any,
    amount: Any,
    now: datetime,
) -> tuple[datetime, datetime, int]:
    """The range and amount asked for (defaults from the demand), checked."""
    if demand is not None:
        start_at = demand.start_at if start_at is None else start_at
        end_at = demand.end_at if end_at is None else end_at
        amount = demand.amount if amount is None else amount
    stock = resource.kind in STOCK_KINDS
    if stock and start_at is None and end_at is None:
        start_at, end_at = now, now + STOCK_NEED_DEFAULT
    start, end = _range(start_at, end_at)
    amount = _int(1 if amount is None else amount, "amount", 1, MAX_QUANTITY)
    if (end <= now) if stock else (start < now):
        raise InvalidInput(_("所需时间已过。"), code="window_past", field="start_at")
    return start, end, amount


@audited("resources.allocation.request")
def request_allocation(
    *,
    actor: Any,
    resource_id: int,
    demand_id: int | None = None,
    start_at: Any = None,
    end_at: Any = None,
    amount: int | None = None,
    note: str = "",
    project_id: int | None = None,
    client_key: str | None = None,
    run_id: int | None = None,
    now: datetime | None = None,
) -> Allocation:
    """Ask for a resource, for a demand (its poster or a manager of its unit; the range
    and amount default from the demand) or directly. Every hard constraint is checked
    (``matching.check``); a resource that needs no approval is approved at once, by the
    same path a manager's approval takes. The owner's managers are told. The same
    ``client_key`` again gives the same allocation back."""
    now = _now(now)
    _authenticated(actor)
    key = _clean_key(client_key)
    if (existing := _allocation_by_key(actor, key)) is not None:
        return existing
    seen = _visible_resource(actor, resource_id)
    policy.require(actor, "resources.use")
    if not _usable(actor, seen):
        raise PermissionDenied(_("您所在单位不能使用该资源。"), code="not_usable")
    demand = None
    if demand_id is not None:
        demand = _visible_demand(actor, demand_id)
        if not _may_act_for_demand(actor, demand):
            raise PermissionDenied(action="resources.manage")
        demand = _lock_demand(demand.pk)
        if demand.status != D.OPEN:
            raise Conflict(
                _("需求当前状态为“%(status)s”，不能申请资源。")
                % {"status": DemandStatus(demand.status).label},
                code="demand_not_open",
                status=demand.status,
            )
    resource = _lock_resource(seen.pk)
    start, end, amount = _resolve_request(resource, demand, start_at, end_at, amount, now)
    note = clean_text(note, "note", _("说明"), 500, required=False)
    project = _project(actor, project_id) if project_id is not None else None
    if project is None and demand is not None:
        project = demand.project
    run = None
    if run_id is not None:
        run = queries.visible_runs(actor).filter(pk=run_id).first() if _is_id(run_id) else None
        if run is None:
            raise InvalidInput(_("匹配批次无效。"), code="invalid_run", field="run_id")
    if demand is not None and (
        Allocation.objects.filter(
            demand=demand, resource=resource, status__in=OPEN_ALLOCATION
        ).exists()
    ):
        raise Conflict(_("该需求已申请过这项资源。"), code="duplicate", field="resource_id")
    requester_org = demand.org if demand is not None else actor.home_org
    if requester_org is None:
        raise InvalidInput(_("使用单位无效。"), code="invalid_org", field="org_id")
    need = _need(
        resource, demand, start_at=start, end_at=end, amount=amount, org_id=requester_org.pk
    )
    _refuse(matching.check(resource, need, user=demand.posted_by if demand is not None else None))
    allocation = Allocation(
        org=resource.org,
        resource=resource,
        demand=demand,
        project=project,
        requester=actor,
        requester_org=requester_org,
        start_at=start,
        end_at=end,
        amount=amount,
        status=A.REQUESTED,
        holds=False,
        exclusive=resource.kind in EXCLUSIVE_KINDS,
        cost=matching.estimate_cost(resource, need),
        note=note,
        requested_at=now,
        run=run,
        client_key=key,
    )
    try:
        _insert(allocation, "DP", now)
    except _Found as won:
        return won.obj
    record(
        "resources.allocation.request",
        actor=actor,
        obj=allocation,
        changes=diff({}, snapshot(allocation, ALLOCATION_FIELDS)),
    )
    auto = not resource.requires_approval
    if auto:
        _approve(allocation, demand, actor=actor, note="", now=now, auto=True)
    _notify_allocation(
        events.ALLOCATION_REQUESTED,
        allocation,
        actor,
        _owner_managers(resource.org),
        (_("资源已调用（免审批）：%(resource)s") if auto else _("资源使用申请待审批：%(resource)s"))
        % {"resource": resource.name},
        "requested",
        org=resource.org,
        auto=auto,
    )
    return allocation


def _take_stock(resource: Resource, amount: int) -> None:
    """``available`` down by ``amount``, never below zero (zero rows: refused)."""
    taken = Resource.objects.filter(pk=resource.pk, available__gte=amount).update(
        available=F("available") - amount
    )
    if not taken:
        left = Resource.objects.filter(pk=resource.pk).values_list("available", flat=True).first()
        raise Conflict(
            _("库存不足：可用 %(n)s%(unit)s。") % {"n": left, "unit": resource.unit},
            code="insufficient_stock",
            available=left,
        )
    resource.available = (resource.available or 0) - amount


def _approve(
    allocation: Allocation,
    demand: Demand | None,
    *,
    actor: Any,
    note: str,
    now: datetime,
    auto: bool,
) -> None:
    """Approve a requested allocation. The caller holds the resource row's lock (and
    the demand's): the hard constraints are checked again here, under it; stock is taken
    by conditional UPDATE; a warehouse item is handed out; the demand is matched and its
    other requests withdrawn."""
    resource = allocation.resource
    need = _allocation_need(allocation, demand)
    _refuse(matching.check(resource, need, exclude_allocation_id=allocation.pk))
    before = snapshot(allocation, ALLOCATION_FIELDS)
    stock = resource.kind in STOCK_KINDS
    if stock:
        _take_stock(resource, allocation.amount)
        allocation.saved = (resource.unit_value * allocation.amount).quantize(Decimal("0.01"))
    allocation.status, allocation.holds = A.APPROVED, True
    allocation.decided_by = None if auto else actor
    allocation.decided_at = now
    allocation.decision_note = note or (_("免审批，自动调配") if auto else "")
    allocation.cost = matching.estimate_cost(resource, need)
    allocation.version += 1
    try:
        with transaction.atomic():
            allocation.save()
    except IntegrityError as exc:
        # PostgreSQL's exclusion constraint: an overlapping hold committed meanwhile.
        overlap = Allocation.objects.filter(
            resource=resource,
            holds=True,
            start_at__lt=allocation.end_at,
            end_at__gt=allocation.start_at,
        )
        if "resources_no_overlap" in str(exc) or (allocation.exclusive and overlap.exists()):
            raise Conflict(
                _("该时段资源已被占用。"), code="resource_taken", resource_id=resource.pk
            ) from None
        raise
    if stock and resource.stock_status is not None:
        from . import warehouse

        resource.refresh_from_db(fields=["available", "stock_status"])
        warehouse.hand_out(allocation, actor=actor, now=now)
    changes = diff(before, snapshot(allocation, ALLOCATION_FIELDS))
    if auto:
        changes["auto"] = True
    withdrawn: list[Allocation] = []
    if demand is not None and demand.status == D.OPEN:
        demand.status, demand.matched_at = D.MATCHED, now
        demand.version += 1
        demand.save(update_fields=["status", "matched_at", "version", "updated_at"])
        changes["demand_status"] = [D.OPEN, D.MATCHED]
        withdrawn = _withdraw_siblings(allocation, demand, actor=actor, now=now)
        if withdrawn:
            changes["withdrawn"] = [a.number for a in withdrawn]
    record("resources.allocation.decide", actor=actor, obj=allocation, changes=changes)
    for other in withdrawn:
        _notify_allocation(
            events.ALLOCATION_CANCELLED,
            other,
            actor,
            _owner_managers(other.org),
            _("资源申请已撤回（需求已由其他资源满足）：%(resource)s")
            % {"resource": other.resource.name},
            "cancelled",
            org=other.org,
        )


def _withdraw_siblings(
    allocation: Allocation, demand: Demand, *, actor: Any, now: datetime
) -> list[Allocation]:
    """A matched demand's other pending requests are withdrawn (they hold nothing)."""
    others = list(
        Allocation.objects.select_for_update(of=("self",))
        .select_related("org", "requester_org", "requester", "resource")
        .filter(demand=demand, status=A.REQUESTED)
        .exclude(pk=allocation.pk)
        .order_by("pk")
    )
    for other in others:
        before = snapshot(other, ALLOCATION_FIELDS)
        other.demand = demand
        other.status, other.decision_note = A.CANCELLED, _("需求已由其他资源满足")
        other.version += 1
        other.save()
        record(
            "resources.allocation.cancel",
            actor=actor,
            obj=other,
            changes=diff(before, snapshot(other, ALLOCATION_FIELDS)),
            reason=other.decision_note,
        )
    return others


@audited("resources.allocation.decide")
def decide_allocation(
    *,
    actor: Any,
    allocation_id: int,
    approve: bool,
    note: str = "",
    version: int | None = None,
    now: datetime | None = None,
) -> Allocation:
    """A manager of the owner approves or rejects a request. Approval locks the
    resource row and checks again what others hold (``resource_taken``,
    ``headcount_exceeded``, ``insufficient_stock``, a closure, the windows); the
    requester (and the demand's poster) are told."""
    now = _now(now)
    seen = _visible_allocation(actor, allocation_id)
    policy.require(actor, "resources.manage", seen.org)
    note = clean_text(note, "note", _("审批意见"), 500, required=False)
    allocation, demand, resource = _locked_for_change(actor, seen.pk)
    _check_version(allocation, version)
    if allocation.status != A.REQUESTED:
        raise _invalid_transition(allocation.status, _("审批"))
    if approve:
        if allocation.end_at <= now:
            raise InvalidInput(_("申请的使用时间已过。"), code="window_past", field="end_at")
        if demand is not None and demand.status != D.OPEN:
            raise Conflict(
                _("需求当前状态为“%(status)s”，不能再调配。")
                % {"status": DemandStatus(demand.status).label},
                code="demand_not_open",
                status=demand.status,
            )
        _approve(allocation, demand, actor=actor, note=note, now=now, auto=False)
        title = _("资源申请已批准：%(resource)s")
    else:
        before = snapshot(allocation, ALLOCATION_FIELDS)
        allocation.status = A.REJECTED
        allocation.decided_by, allocation.decided_at, allocation.decision_note = actor, now, note
        allocation.version += 1
        allocation.save()
        record(
            "resources.allocation.decide",
            actor=actor,
            obj=allocation,
            changes=diff(before, snapshot(allocation, ALLOCATION_FIELDS)),
            reason=note,
        )
        title = _("资源申请未获批准：%(resource)s")
    _notify_allocation(
        events.ALLOCATION_DECIDED,
        allocation,
        actor,
        _requesting_side(allocation),
        title % {"resource": resource.name},
        "decided",
        org=allocation.requester_org,
        note=note,
    )
    return allocation


@audited("resources.allocation.start")
def start_use(*, actor: Any, allocation_id: int, now: datetime | None = None) -> Allocation:
    """An approved allocation is in use (the key handed over, the team arrived, the
    goods collected): the owner's managers or the requesting side say so."""
    now = _now(now)
    seen = _visible_allocation(actor, allocation_id)
    if not (_is_owner(actor, seen) or _is_requesting_side(actor, seen)):
        raise PermissionDenied(action="resources.manage")
    allocation, _demand, _resource = _locked_for_change(actor, seen.pk)
    if allocation.status != A.APPROVED:
        raise _invalid_transition(allocation.status, _("开始使用"))
    before = snapshot(allocation, ALLOCATION_FIELDS)
    allocation.status, allocation.started_at = A.IN_USE, now
    allocation.version += 1
    allocation.save()
    record(
        "resources.allocation.start",
        actor=actor,
        obj=allocation,
        changes=diff(before, snapshot(allocation, ALLOCATION_FIELDS)),
    )
    return allocation


@audited("resources.allocation.finish")
def finish_allocation(
    *, actor: Any, allocation_id: int, note: str = "", now: datetime | None = None
) -> Allocation:
    """The use is over: a time resource is returned (its hold released), stock handed
    over is completed. The demand is fulfilled once none of its allocations is open."""
    now = _now(now)
    seen = _visible_allocation(actor, allocation_id)
    if not (_is_owner(actor, seen) or _is_requesting_side(actor, seen)):
        raise PermissionDenied(action="resources.manage")
    note = clean_text(note, "note", _("说明"), 500, required=False)
    allocation, demand, resource = _locked_for_change(actor, seen.pk)
    if allocation.status not in HOLDING:
        raise _invalid_transition(allocation.status, _("结束"))
    stock = resource.kind in STOCK_KINDS
    if not stock and allocation.status == A.APPROVED and now < allocation.start_at:
        raise _invalid_transition(allocation.status, _("结束（尚未开始，请取消）"), started=False)
    before = snapshot(allocation, ALLOCATION_FIELDS)
    allocation.status = A.COMPLETED if stock else A.RETURNED
    allocation.holds, allocation.finished_at = False, now
    if note:
        allocation.decision_note = note
    allocation.version += 1
    allocation.save()
    changes = diff(before, snapshot(allocation, ALLOCATION_FIELDS))
    if (
        demand is not None
        and demand.status == D.MATCHED
        and not Allocation.objects.filter(demand=demand, status__in=OPEN_ALLOCATION).exists()
    ):
        demand.status, demand.fulfilled_at = D.FULFILLED, now
        demand.version += 1
        demand.save(update_fields=["status", "fulfilled_at", "version", "updated_at"])
        changes["demand_status"] = [D.MATCHED, D.FULFILLED]
    record("resources.allocation.finish", actor=actor, obj=allocation, changes=changes)
    return allocation


def _handed_out(allocation: Allocation) -> bool:
    """A warehouse item already handed out for this allocation (the ledger says so)."""
    return (
        allocation.resource.stock_status is not None
        and allocation.status in HOLDING
        and Transfer.objects.filter(allocation=allocation, kind=TransferKind.OUT).exists()
    )


def _cancel(allocation: Allocation, *, actor: Any, reason: str, now: datetime) -> Allocation:
    """Cancel a requested or approved allocation (locked, with its resource locked):
    its hold released, stock given back. The demand goes back to open when this was
    what matched it and nothing else holds."""
    resource = allocation.resource
    before = snapshot(allocation, ALLOCATION_FIELDS)
    held = allocation.status in HOLDING
    if held and resource.kind in STOCK_KINDS:
        given = Resource.objects.filter(
            pk=resource.pk, available__lte=F("quantity") - allocation.amount
        ).update(available=F("available") + allocation.amount)
        if given:
            resource.available += allocation.amount
    allocation.status, allocation.holds = A.CANCELLED, False
    allocation.decision_note = str(reason)[:500]
    allocation.version += 1
    allocation.save()
    changes = diff(before, snapshot(allocation, ALLOCATION_FIELDS))
    demand = allocation.demand
    if (
        held
        and demand is not None
        and demand.status == D.MATCHED
        and not Allocation.objects.filter(demand=demand, holds=True).exists()
    ):
        demand.status, demand.matched_at = D.OPEN, None
        demand.version += 1
        demand.save(update_fields=["status", "matched_at", "version", "updated_at"])
        changes["demand_status"] = [D.MATCHED, D.OPEN]
    record(
        "resources.allocation.cancel", actor=actor, obj=allocation, changes=changes, reason=reason
    )
    return allocation


@audited("resources.allocation.cancel")
def cancel_allocation(
    *, actor: Any, allocation_id: int, reason: str = "", now: datetime | None = None
) -> Allocation:
    """Call off a request or an approved allocation not yet in use: the requesting side
    before its start, the owner's managers at any time. The hold is released (stock
    given back; a warehouse item already handed out comes back by
    ``warehouse.return_items`` instead); the other side is told."""
    now = _now(now)
    seen = _visible_allocation(actor, allocation_id)
    owner = _is_owner(actor, seen)
    if not (owner or _is_requesting_side(actor, seen)):
        raise PermissionDenied(action="resources.manage")
    reason = clean_text(reason, "reason", _("取消原因"), 500, required=False)
    allocation, _demand, resource = _locked_for_change(actor, seen.pk)
    if allocation.status not in (A.REQUESTED, A.APPROVED):
        raise _invalid_transition(allocation.status, _("取消"))
    if not owner and resource.kind not in STOCK_KINDS and allocation.start_at <= now:
        raise _invalid_transition(allocation.status, _("取消（已到开始时间）"), started=True)
    if _handed_out(allocation):
        raise _invalid_transition(
            allocation.status, _("取消（已从公物仓出库，请办理归还入库）"), handed_out=True
        )
    _cancel(allocation, actor=actor, reason=reason, now=now)
    title = _("资源调配已取消：%(resource)s") % {"resource": resource.name}
    if owner and not _is_requesting_side(actor, allocation):
        recipients, org = _requesting_side(allocation), allocation.requester_org
    else:
        recipients, org = _owner_managers(allocation.org), allocation.org
    _notify_allocation(
        events.ALLOCATION_CANCELLED,
        allocation,
        actor,
        recipients,
        title,
        "cancelled",
        org=org,
        reason=reason,
    )
    return allocation


# --- jobs (``tasks``) ----------------------------------------------------------------------


def expire_demand(demand_id: int, *, now: datetime) -> bool:
    """An open or submitted demand whose window has passed: expired, its pending
    requests withdrawn (the system acts; one transaction; False when it changed
    meanwhile)."""
    with transaction.atomic():
        demand = (
            Demand.objects.select_for_update(of=("self",))
            .select_related("org", "posted_by")
            .filter(pk=demand_id, status__in=[D.OPEN, D.SUBMITTED], end_at__lte=now)
            .first()
        )
        if demand is None:
            return False
        before = snapshot(demand, DEMAND_FIELDS)
        demand.status = D.EXPIRED
        demand.closed_reason = _("需求时间已过，未匹配到资源")
        demand.version += 1
        demand.save()
        pending = list(
            Allocation.objects.select_for_update(of=("self",))
            .filter(demand=demand, status=A.REQUESTED)
            .order_by("pk")
        )
        for allocation in pending:
            _expire_request(allocation, now=now)
        changes = diff(before, snapshot(demand, DEMAND_FIELDS))
        if pending:
            changes["requests_withdrawn"] = [a.number for a in pending]
        record("resources.demand.expire", actor=None, obj=demand, changes=changes)
    return True


def _expire_request(allocation: Allocation, *, now: datetime) -> None:
    before = snapshot(allocation, ALLOCATION_FIELDS)
    allocation.status = A.CANCELLED
    allocation.decision_note = _("申请时间已过，未审批")
    allocation.version += 1
    allocation.save()
    record(
        "resources.allocation.expire",
        actor=None,
        obj=allocation,
        changes=diff(before, snapshot(allocation, ALLOCATION_FIELDS)),
    )


def expire_request(allocation_id: int, *, now: datetime) -> bool:
    """A request never decided whose range has ended: withdrawn, so it leaves the
    owner's approval list (holds nothing; False when it changed meanwhile)."""
    with transaction.atomic():
        allocation = (
            Allocation.objects.select_for_update(of=("self",))
            .filter(pk=allocation_id, status=A.REQUESTED, end_at__lte=now)
            .first()
        )
        if allocation is None:
            return False
        _expire_request(allocation, now=now)
    return True


def remind_overdue(allocation: Allocation) -> None:
    """Tell the owner's managers and the requesting side, once each, that an allocation
    in use is past its end (not returned)."""
    title = _("资源逾期未归还：%(resource)s") % {"resource": allocation.resource.name}
    _notify_allocation(
        events.ALLOCATION_OVERDUE,
        allocation,
        None,
        _owner_managers(allocation.org),
        title,
        "overdue:owner",
        org=allocation.org,
    )
    _notify_allocation(
        events.ALLOCATION_OVERDUE,
        allocation,
        None,
        _requesting_side(allocation),
        title,
        "overdue:requester",
        org=allocation.requester_org,
    )


__all__ = [
    "add_closure",
    "cancel_allocation",
    "cancel_demand",
    "decide_allocation",
    "decide_demand",
    "finish_allocation",
    "post_demand",
    "remove_closure",
    "request_allocation",
    "save_resource",
    "set_resource_photo",
    "start_use",
]
