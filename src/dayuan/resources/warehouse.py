"""The 公物仓 (public asset warehouse, "先调剂后购置"): surplus assets a unit gives up
are received into a warehouse org's stock, checked and stored, then handed out to the
units that need them instead of buying new; what comes back is returned to stock, what
is worn out is disposed of. Every movement is a row of the ``Transfer`` ledger with the
value it carried (quantity × the item's ``unit_value``).

An item is a ``Resource`` of kind asset with a ``stock_status``:

- ``in`` (入库待验): received, waiting to be checked; not offered to anyone
  (``queries.usable_condition`` leaves it out);
- ``stored`` (在库): checked and in stock; found by matching and requested like any
  stock resource;
- ``out`` (已出库): nothing left in stock (``available`` is 0).

Stock moves only by conditional UPDATE (``available = available - n WHERE available
>= n``) under the item's row lock, so ``quantity = available + handed out and not yet
returned`` holds at every commit. Handing out happens inside
``services.decide_allocation`` (which takes the stock and calls ``hand_out``); the
rest is here, one audited service per step, for ``resources.manage`` over the
warehouse org. ``now`` is for tests and jobs; callers leave it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.audit.log import audited, record
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound
from dayuan.core.scope import org_in_scope
from dayuan.core.text import clean_text
from dayuan.orgs.models import Location, Organization

from . import queries
from .choices import (
    HOLDING,
    KIND_UNITS,
    AllocationStatus,
    ResourceKind,
    StockStatus,
    TransferKind,
    Visibility,
)
from .models import Allocation, Resource, Transfer

MAX_QUANTITY = 1_000_000
MAX_UNIT_VALUE = Decimal("10000000")
MAX_TAGS = 20
MAX_TAG_LENGTH = 30
CENT = Decimal("0.01")


# --- small checks ------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _pk(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _count(value: Any, field: str, label: Any, high: int = MAX_QUANTITY) -> int:
    n = value if isinstance(value, int) and not isinstance(value, bool) else None
    if n is None or not 1 <= n <= high:
        raise InvalidInput(
            _("%(field)s须为 1 到 %(high)s 之间的整数。") % {"field": label, "high": high},
            code="out_of_range",
            field=field,
            low=1,
            high=high,
        )
    return n


def _money(value: Any, field: str, label: Any) -> Decimal:
    amount: Decimal | None = None
    if not isinstance(value, bool) and value is not None and value != "":
        try:
            amount = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            amount = None
    if (
        amount is None
        or not amount.is_finite()
        or not Decimal(0) <= amount <= MAX_UNIT_VALUE
        or amount != amount.quantize(CENT)
    ):
        raise InvalidInput(
            _("%(field)s须在 0 到 %(max)s 元之间，最多两位小数。")
            % {"field": label, "max": MAX_UNIT_VALUE},
            code="invalid_amount",
            field=field,
        )
    return amount.quantize(CENT)


def tags(values: Any, field: str = "attributes") -> list[str]:
    """Attribute or skill tags: strings of at most 30 characters, at most 20 of them,
    sorted and de-duplicated (the form the models keep)."""
    if values is None:
        return []
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | set | frozenset):
        raise InvalidInput(_("标签格式无效。"), code="invalid_tags", field=field)
    out: set[str] = set()
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(_("标签格式无效。"), code="invalid_tags", field=field)
        tag = value.strip()
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(
                _("每个标签不能超过 %(n)s 个字符。") % {"n": MAX_TAG_LENGTH},
                code="invalid_tags",
                field=field,
            )
        out.add(tag)
    if len(out) > MAX_TAGS:
        raise InvalidInput(
            _("标签最多 %(n)s 个。") % {"n": MAX_TAGS}, code="invalid_tags", field=field
        )
    return sorted(out)


def _org(actor: Any, org_id: Any) -> Organization:
    """An active organisation the actor's grants reach, else 404."""
    org = None
    if (pk := _pk(org_id)) is not None:
        org = Organization.objects.filter(pk=pk, is_active=True).first()
    if org is None or not org_in_scope(actor, org):
        raise NotFound(_("单位不存在或无权访问。"))
    return org


def _location(org: Organization, location_id: Any) -> Location | None:
    if location_id is None:
        return None
    location = None
    if (pk := _pk(location_id)) is not None:
        location = Location.objects.select_related("org").filter(pk=pk).first()
    if location is None or not location.is_active or not location.org.path.startswith(org.path):
        raise InvalidInput(
            _("存放位置须属于公物仓所属单位。"), code="invalid_location", field="location_id"
        )
    return location


def _item(actor: Any, resource_id: Any) -> Resource:
    """A warehouse item the actor sees (else 404) and manages (else 403), row locked."""
    resource = None
    if (pk := _pk(resource_id)) is not None:
        resource = (
            queries.visible_resources(actor)
            .select_for_update(of=("self",))
            .select_related("org")
            .filter(pk=pk)
            .order_by()
            .first()
        )
    if resource is None:
        raise NotFound(_("资源不存在或无权访问。"))
    policy.require(actor, "resources.manage", resource.org)
    if resource.stock_status is None:
        raise Conflict(_("该资源不是公物仓物资。"), code="invalid_transition", field="resource_id")
    return resource


def _value(resource: Resource, quantity: int) -> Decimal:
    return (resource.unit_value * quantity).quantize(CENT)


def _mark_empty(resource: Resource) -> None:
    """``out`` once nothing is left in stock (checked in the database, not in memory)."""
    Resource.objects.filter(pk=resource.pk, available=0).exclude(
        stock_status=StockStatus.OUT
    ).update(stock_status=StockStatus.OUT, version=F("version") + 1)
    resource.refresh_from_db(fields=["available", "quantity", "stock_status", "version"])


# --- in ---------------------------------------------------------------------------------


@audited("resources.warehouse.receive")
def receive(
    *,
    actor: Any,
    warehouse_org_id: int,
    from_org_id: int,
    name: str,
    quantity: int,
    unit_value: Decimal,
    attributes: Sequence[str] = (),
    description: str = "",
    location_id: int | None = None,
    visibility: str = Visibility.CITY,
    now: datetime | None = None,
) -> Resource:
    """Take surplus assets of ``from_org`` into the warehouse of ``warehouse_org``
    (入库): a new item, ``in`` until it is checked (``store``), and an ``in`` transfer
    worth ``quantity × unit_value``."""
    now = _now(now)
    org = _org(actor, warehouse_org_id)
    policy.require(actor, "resources.manage", org)
    giver = None
    if (pk := _pk(from_org_id)) is not None:
        giver = Organization.objects.filter(pk=pk, is_active=True).first()
    if giver is None or not org_in_scope(actor, giver):
        raise InvalidInput(_("移出单位无效。"), code="invalid_from_org", field="from_org_id")
    name = clean_text(name, "name", _("名称"), 120)
    description = clean_text(description, "description", _("说明"), 1000, required=False)
    quantity = _count(quantity, "quantity", _("数量"))
    unit_value = _money(unit_value, "unit_value", _("单位价值"))
    attributes = tags(attributes)
    location = _location(org, location_id)
    if visibility not in Visibility.values:
        raise InvalidInput(_("开放范围无效。"), code="invalid_visibility", field="visibility")
    centre = org.centre
    if centre is None:  # pragma: no cover - every org sits under the city centre
        raise NotFound()
    item = Resource.objects.create(
        org=org,
        centre=centre,
        kind=ResourceKind.ASSET,
        name=name,
        description=description,
        location=location,
        quantity=quantity,
        available=quantity,
        unit=str(KIND_UNITS[ResourceKind.ASSET]),
        attributes=attributes,
        visibility=visibility,
        unit_value=unit_value,
        stock_status=StockStatus.IN,
    )
    transfer = Transfer.objects.create(
        resource=item,
        org=org,
        kind=TransferKind.IN,
        quantity=quantity,
        from_org=giver,
        to_org=org,
        value=_value(item, quantity),
        at=now,
        actor=actor,
    )
    record(
        "resources.warehouse.receive",
        actor=actor,
        obj=item,
        changes={
            "name": [None, name],
            "quantity": [None, quantity],
            "unit_value": [None, str(unit_value)],
            "from_org_id": [None, giver.pk],
            "stock_status": [None, StockStatus.IN],
            "transfer_id": transfer.pk,
            "value": str(transfer.value),
        },
    )
    return item


@audited("resources.warehouse.store")
def store(*, actor: Any, resource_id: int, now: datetime | None = None) -> Resource:
    """Checked and put in stock (验收入库): from now on the item is offered to the
    units that may use it."""
    now = _now(now)
    item = _item(actor, resource_id)
    if item.stock_status != StockStatus.IN:
        raise Conflict(
            _("物资当前为“%(status)s”，不能验收入库。")
            % {"status": StockStatus(item.stock_status).label},
            code="invalid_transition",
            status=item.stock_status,
        )
    item.stock_status = StockStatus.STORED if item.available > 0 else StockStatus.OUT
    item.version += 1
    item.save(update_fields=["stock_status", "version", "updated_at"])
    record(
        "resources.warehouse.store",
        actor=actor,
        obj=item,
        changes={"stock_status": [StockStatus.IN, item.stock_status], "at": now.isoformat()},
    )
    return item


# --- out --------------------------------------------------------------------------------


def hand_out(allocation: Allocation, *, actor: Any, now: datetime | None) -> Transfer:
    """The ``out`` transfer of an approved allocation of a warehouse item (调剂出库):
    from the warehouse org to the allocation's requesting unit, worth ``amount ×
    unit_value``. Called by ``services.decide_allocation`` inside its transaction, once
    it has taken the stock by conditional UPDATE; the item turns ``out`` when nothing is
    left. No audit entry of its own (the decision has one)."""
    now = _now(now)
    item = Resource.objects.get(pk=allocation.resource_id)
    if item.stock_status in (None, StockStatus.IN):
        raise Conflict(
            _("该物资尚未验收入库，不能出库。"),
            code="invalid_transition",
            resource_id=item.pk,
        )
    transfer = Transfer.objects.create(
        resource=item,
        org_id=item.org_id,
        kind=TransferKind.OUT,
        quantity=allocation.amount,
        from_org_id=item.org_id,
        to_org_id=allocation.requester_org_id,
        value=_value(item, allocation.amount),
        allocation=allocation,
        at=now,
        actor=actor,
        note=allocation.note[:500],
    )
    _mark_empty(item)
    cached = allocation._state.fields_cache.get("resource")
    if cached is not None:
        cached.available, cached.stock_status = item.available, item.stock_status
        cached.version = item.version
    return transfer


def _outstanding(allocation: Allocation) -> int:
    """How many of an allocation's handed-out items have not come back."""
    rows = dict(
        Transfer.objects.filter(
            allocation=allocation, kind__in=[TransferKind.OUT, TransferKind.RETURN]
        )
        .values("kind")
        .annotate(q=Sum("quantity"))
        .values_list("kind", "q")
    )
    return (rows.get(TransferKind.OUT) or 0) - (rows.get(TransferKind.RETURN) or 0)


@audited("resources.warehouse.return")
def return_items(
    *,
    actor: Any,
    allocation_id: int,
    quantity: int,
    note: str = "",
    now: datetime | None = None,
) -> Transfer:
    """Items handed out come back to stock (归还入库): at most what the allocation took
    and has not returned yet; the item is ``stored`` again. When everything has come
    back the allocation is ``returned``."""
    now = _now(now)
    found = None
    if (pk := _pk(allocation_id)) is not None:
        found = (
            queries.visible_allocations(actor)
            .filter(pk=pk)
            .values_list("resource_id", flat=True)
            .first()
        )
    if found is None:
        raise NotFound(_("调配记录不存在或无权访问。"))
    # the item's row first, as decide_allocation locks it, then the allocation's
    item = Resource.objects.select_for_update(of=("self",)).select_related("org").get(pk=found)
    policy.require(actor, "resources.manage", item.org)
    if item.stock_status is None:
        raise Conflict(_("该资源不是公物仓物资。"), code="invalid_transition")
    allocation = (
        Allocation.objects.select_for_update(of=("self",))
        .select_related("requester_org")
        .get(pk=pk)
    )
    quantity = _count(quantity, "quantity", _("归还数量"))
    note = clean_text(note, "note", _("说明"), 500, required=False)
    outstanding = _outstanding(allocation)
    if outstanding <= 0:
        raise Conflict(
            _("该调配没有待归还的物资。"), code="invalid_transition", status=allocation.status
        )
    if quantity > outstanding:
        raise InvalidInput(
            _("归还数量不能超过未归还的数量（%(n)s）。") % {"n": outstanding},
            code="return_exceeds",
            field="quantity",
            outstanding=outstanding,
        )
    Resource.objects.filter(pk=item.pk).update(
        available=F("available") + quantity,
        stock_status=StockStatus.STORED,
        version=F("version") + 1,
    )
    before_status = item.stock_status
    item.refresh_from_db(fields=["available", "quantity", "stock_status", "version"])
    transfer = Transfer.objects.create(
        resource=item,
        org=item.org,
        kind=TransferKind.RETURN,
        quantity=quantity,
        from_org=allocation.requester_org,
        to_org=item.org,
        value=_value(item, quantity),
        allocation=allocation,
        at=now,
        actor=actor,
        note=note,
    )
    changes: dict[str, Any] = {
        "quantity": quantity,
        "available": [item.available - quantity, item.available],
        "stock_status": [before_status, item.stock_status],
        "transfer_id": transfer.pk,
        "value": str(transfer.value),
    }
    closing = (*HOLDING, AllocationStatus.COMPLETED)
    if quantity == outstanding and allocation.status in closing:
        changes["allocation_status"] = [allocation.status, AllocationStatus.RETURNED]
        allocation.status = AllocationStatus.RETURNED
        allocation.holds = False
        allocation.finished_at = allocation.finished_at or now
        allocation.version += 1
        allocation.save(update_fields=["status", "holds", "finished_at", "version", "updated_at"])
    record(
        "resources.warehouse.return",
        actor=actor,
        obj=item,
        changes={"allocation_id": allocation.pk, **changes},
        reason=note,
    )
    return transfer


@audited("resources.warehouse.dispose")
def dispose(
    *,
    actor: Any,
    resource_id: int,
    quantity: int,
    reason: str,
    now: datetime | None = None,
) -> Transfer:
    """Write off items in stock (报废处置): ``available`` and ``quantity`` fall together,
    by conditional UPDATE (never below what is in stock: 409 ``insufficient_stock``)."""
    now = _now(now)
    item = _item(actor, resource_id)
    quantity = _count(quantity, "quantity", _("处置数量"))
    reason = clean_text(reason, "reason", _("处置原因"), 500)
    taken = Resource.objects.filter(
        Q(pk=item.pk) & Q(available__gte=quantity) & Q(quantity__gte=quantity)
    ).update(
        available=F("available") - quantity,
        quantity=F("quantity") - quantity,
        version=F("version") + 1,
    )
    if not taken:
        raise Conflict(
            _("库存不足：在库 %(available)s%(unit)s，不能处置 %(n)s%(unit)s。")
            % {"available": item.available, "unit": item.unit, "n": quantity},
            code="insufficient_stock",
            field="quantity",
            available=item.available,
        )
    before = (item.available, item.quantity, item.stock_status)
    _mark_empty(item)
    transfer = Transfer.objects.create(
        resource=item,
        org=item.org,
        kind=TransferKind.DISPOSE,
        quantity=quantity,
        from_org=item.org,
        to_org=item.org,
        value=_value(item, quantity),
        at=now,
        actor=actor,
        note=reason,
    )
    record(
        "resources.warehouse.dispose",
        actor=actor,
        obj=item,
        changes={
            "quantity": [before[1], item.quantity],
            "available": [before[0], item.available],
            "stock_status": [before[2], item.stock_status],
            "transfer_id": transfer.pk,
            "value": str(transfer.value),
        },
        reason=reason,
    )
    return transfer
