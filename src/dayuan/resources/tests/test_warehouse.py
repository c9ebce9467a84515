"""The 公物仓 lifecycle: surplus furniture of a county department is received into the
city's warehouse (not offered to anyone until it is checked and stored), handed out to
county A through an approved allocation, partly returned, partly disposed of; every
movement a ledger row with its value, ``quantity = available + handed out and not
returned`` throughout. Refusals change nothing and are audited; county B neither sees
nor touches any of it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import F

from dayuan.audit.models import AuditEntry, Outcome
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dayuan.core.testing import make_location
from dayuan.orgs.choices import LocationKind

from .. import queries, warehouse
from ..choices import AllocationStatus, ResourceKind, StockStatus, TransferKind, Visibility
from ..models import Allocation, Resource, Transfer
from .factories import MONDAY, allocation, at, on, resource

pytestmark = pytest.mark.django_db

NOW = at(2026, 12, 1, 10, 0)
CHAIR = Decimal("350.00")


def entries(action: str, outcome: str = Outcome.SUCCESS):
    return AuditEntry.objects.filter(action=action, outcome=outcome).order_by("pk")


def receive(pw, user="city_manager", **kw):
    args = {
        "warehouse_org_id": pw.world.city.pk,
        "from_org_id": pw.dept_a.pk,
        "name": "办公椅",
        "quantity": 20,
        "unit_value": CHAIR,
        "attributes": ["office_furniture", "office_furniture", " 可调节 "],
        "description": "九成新",
        "now": NOW,
        **kw,
    }
    return warehouse.receive(actor=pw.user(user), **args)


def stored(pw, **kw) -> Resource:
    item = receive(pw, **kw)
    return warehouse.store(actor=pw.user("city_manager"), resource_id=item.pk, now=NOW)


def approve_from_stock(item: Resource, requester, amount: int, *, manager) -> Allocation:
    """What ``services.decide_allocation`` does for a warehouse item: take the stock by
    conditional UPDATE, keep the saving, then ``hand_out``."""
    alloc = allocation(
        item,
        requester,
        amount=amount,
        start_at=on(MONDAY, 9),
        end_at=on(MONDAY, 17),
        saved=item.unit_value * amount,
    )
    taken = Resource.objects.filter(pk=item.pk, available__gte=amount).update(
        available=F("available") - amount
    )
    assert taken == 1
    warehouse.hand_out(alloc, actor=manager, now=NOW)
    return alloc


def outstanding(item: Resource) -> int:
    out = sum(t.quantity for t in item.transfers.filter(kind=TransferKind.OUT))
    back = sum(t.quantity for t in item.transfers.filter(kind=TransferKind.RETURN))
    return out - back


def assert_ledger(item: Resource) -> None:
    item.refresh_from_db()
    assert item.quantity == item.available + outstanding(item)
    received = sum(t.quantity for t in item.transfers.filter(kind=TransferKind.IN))
    disposed = sum(t.quantity for t in item.transfers.filter(kind=TransferKind.DISPOSE))
    assert item.quantity == received - disposed


# --- in ---------------------------------------------------------------------------------


def test_received_items_wait_for_the_check_before_anyone_may_use_them(pw):
    item = receive(pw)
    item.refresh_from_db()
    assert (item.kind, item.stock_status, item.org_id) == (
        ResourceKind.ASSET,
        StockStatus.IN,
        pw.world.city.pk,
    )
    assert (item.quantity, item.available, item.unit_value) == (20, 20, CHAIR)
    assert item.centre_id == pw.world.city.pk and item.visibility == Visibility.CITY
    assert item.attributes == ["office_furniture", "可调节"] and item.unit == "件"
    [t] = Transfer.objects.filter(resource=item)
    assert (t.kind, t.quantity, t.from_org_id, t.to_org_id, t.org_id) == (
        TransferKind.IN,
        20,
        pw.dept_a.pk,
        pw.world.city.pk,
        pw.world.city.pk,
    )
    assert t.value == Decimal("7000.00") and t.at == NOW and t.actor == pw.user("city_manager")
    entry = entries("resources.warehouse.receive").get()
    assert entry.object_id == str(item.pk) and entry.org_id == pw.world.city.pk
    assert entry.changes["transfer_id"] == t.pk and entry.changes["value"] == "7000.00"
    # shared with the whole city, but not before it is checked in
    for who in ("a_staff", "b_staff", "dept_a_staff"):
        assert not queries.usable_resources(pw.user(who)).filter(pk=item.pk).exists()
        with pytest.raises(NotFound):
            queries.resource_for(pw.user(who), item.pk)
    assert queries.resource_for(pw.user("city_manager"), item.pk) == item

    warehouse.store(actor=pw.user("city_manager"), resource_id=item.pk, now=NOW)
    item.refresh_from_db()
    assert item.stock_status == StockStatus.STORED and item.version == 2
    for who in ("a_staff", "b_staff", "dept_a_staff"):
        assert queries.usable_resources(pw.user(who)).filter(pk=item.pk).exists()
    assert entries("resources.warehouse.store").get().changes["stock_status"] == ["in", "stored"]
    assert Transfer.objects.filter(resource=item).count() == 1  # checking moves nothing
    assert_ledger(item)


def test_storing_twice_or_a_plain_resource_is_refused(pw):
    item = stored(pw)
    with pytest.raises(Conflict) as exc:
        warehouse.store(actor=pw.user("city_manager"), resource_id=item.pk, now=NOW)
    assert exc.value.code == "invalid_transition"
    venue = resource(pw.world.city, name="报告厅")
    with pytest.raises(Conflict) as exc:
        warehouse.store(actor=pw.user("city_manager"), resource_id=venue.pk, now=NOW)
    assert exc.value.code == "invalid_transition"
    venue.refresh_from_db()
    assert venue.stock_status is None
    assert entries("resources.warehouse.store", Outcome.REFUSED).count() == 2


def test_store_is_for_the_warehouse_managers_only(pw):
    item = receive(pw, user="a_manager", warehouse_org_id=pw.world.county_a.pk)
    with pytest.raises(NotFound):  # an item waiting for its check is not shown to staff
        warehouse.store(actor=pw.user("a_staff"), resource_id=item.pk, now=NOW)
    with pytest.raises(NotFound):
        warehouse.store(actor=pw.user("b_manager"), resource_id=item.pk, now=NOW)
    with pytest.raises(PermissionDenied):  # sees everything as an overseer, manages nothing
        warehouse.store(actor=pw.user("a_dispatcher"), resource_id=item.pk, now=NOW)
    item.refresh_from_db()
    assert item.stock_status == StockStatus.IN


@pytest.mark.parametrize(
    ("user", "kw", "error", "code"),
    [
        ("a_manager", {}, NotFound, "not_found"),  # the city's warehouse is not A's
        ("a_staff", {"warehouse_org_id": "county_a"}, PermissionDenied, "permission_denied"),
        (
            "a_manager",
            {"warehouse_org_id": "county_a", "from_org_id": "county_b"},
            InvalidInput,
            "invalid_from_org",
        ),
        ("city_manager", {"from_org_id": None}, InvalidInput, "invalid_from_org"),
        ("city_manager", {"quantity": 0}, InvalidInput, "out_of_range"),
        ("city_manager", {"quantity": True}, InvalidInput, "out_of_range"),
        ("city_manager", {"unit_value": "-1"}, InvalidInput, "invalid_amount"),
        ("city_manager", {"unit_value": "1.234"}, InvalidInput, "invalid_amount"),
        ("city_manager", {"name": "  "}, InvalidInput, "required"),
        ("city_manager", {"attributes": "desk"}, InvalidInput, "invalid_tags"),
        ("city_manager", {"attributes": ["x" * 31]}, InvalidInput, "invalid_tags"),
        ("city_manager", {"visibility": "galaxy"}, InvalidInput, "invalid_visibility"),
        (
            "a_manager",
            {"warehouse_org_id": "county_a", "location_id": "b_room"},
            InvalidInput,
            "invalid_location",
        ),
    ],
)
def test_receive_refusals_change_nothing(pw, user, kw, error, code):
    names = {
        "county_a": pw.world.county_a.pk,
        "county_b": pw.world.county_b.pk,
        "b_room": pw.world.rooms["b"].pk,
    }
    kw = {k: names.get(v, v) if isinstance(v, str) else v for k, v in kw.items()}
    with pytest.raises(error) as exc:
        receive(pw, user=user, **kw)
    assert exc.value.code == code
    assert not Resource.objects.exists() and not Transfer.objects.exists()
    assert entries("resources.warehouse.receive", Outcome.REFUSED).count() == 1


def test_a_location_in_the_warehouse_org_is_kept(pw):
    store_room = make_location(pw.world.county_a, "甲县公物仓", LocationKind.BUILDING)
    item = receive(
        pw, user="a_manager", warehouse_org_id=pw.world.county_a.pk, location_id=store_room.pk
    )
    assert item.location == store_room and item.centre_id == pw.world.county_a.pk


# --- out, back, written off ----------------------------------------------------------------


def test_hand_out_return_and_dispose_keep_the_ledger(pw):
    item = stored(pw)
    manager = pw.user("city_manager")
    alloc = approve_from_stock(item, pw.user("a_staff"), 12, manager=manager)
    out = Transfer.objects.get(kind=TransferKind.OUT)
    assert (out.quantity, out.from_org_id, out.to_org_id, out.allocation_id) == (
        12,
        pw.world.city.pk,
        pw.world.county_a.pk,
        alloc.pk,
    )
    assert out.value == Decimal("4200.00") and out.org_id == pw.world.city.pk
    item.refresh_from_db()
    assert (item.available, item.stock_status) == (8, StockStatus.STORED)
    assert not entries("resources.warehouse.hand_out").exists()  # the decision's entry is it
    assert_ledger(item)

    # the rest to county A's department: nothing left, the item is out
    alloc2 = approve_from_stock(item, pw.user("dept_a_staff"), 8, manager=manager)
    item.refresh_from_db()
    assert (item.available, item.stock_status) == (0, StockStatus.OUT)
    assert Transfer.objects.get(allocation=alloc2).to_org_id == pw.dept_a.pk
    assert not queries.usable_resources(pw.user("b_staff")).filter(available__gt=0).exists()
    assert_ledger(item)

    # five chairs come back: in stock again
    back = warehouse.return_items(
        actor=manager, allocation_id=alloc.pk, quantity=5, note="会议结束", now=NOW
    )
    assert (back.kind, back.quantity, back.from_org_id, back.to_org_id) == (
        TransferKind.RETURN,
        5,
        pw.world.county_a.pk,
        pw.world.city.pk,
    )
    assert back.value == Decimal("1750.00") and back.allocation_id == alloc.pk
    item.refresh_from_db()
    assert (item.available, item.stock_status) == (5, StockStatus.STORED)
    alloc.refresh_from_db()
    assert alloc.status == AllocationStatus.APPROVED and alloc.holds  # 7 still out
    assert_ledger(item)

    # more than is out is refused
    with pytest.raises(InvalidInput) as exc:
        warehouse.return_items(actor=manager, allocation_id=alloc.pk, quantity=8, now=NOW)
    assert exc.value.code == "return_exceeds" and exc.value.details["outstanding"] == 7
    # the other seven: the allocation is returned
    warehouse.return_items(actor=manager, allocation_id=alloc.pk, quantity=7, now=NOW)
    alloc.refresh_from_db()
    assert (alloc.status, alloc.holds, alloc.finished_at) == (
        AllocationStatus.RETURNED,
        False,
        NOW,
    )
    with pytest.raises(Conflict) as exc:
        warehouse.return_items(actor=manager, allocation_id=alloc.pk, quantity=1, now=NOW)
    assert exc.value.code == "invalid_transition"
    item.refresh_from_db()
    assert item.available == 12
    assert_ledger(item)

    # three broken ones are written off
    gone = warehouse.dispose(actor=manager, resource_id=item.pk, quantity=3, reason="损坏", now=NOW)
    assert (gone.kind, gone.quantity, gone.value, gone.note) == (
        TransferKind.DISPOSE,
        3,
        Decimal("1050.00"),
        "损坏",
    )
    item.refresh_from_db()
    assert (item.quantity, item.available, item.stock_status) == (17, 9, StockStatus.STORED)
    assert_ledger(item)
    with pytest.raises(Conflict) as exc:
        warehouse.dispose(actor=manager, resource_id=item.pk, quantity=10, reason="损坏", now=NOW)
    assert exc.value.code == "insufficient_stock"
    warehouse.dispose(actor=manager, resource_id=item.pk, quantity=9, reason="老化", now=NOW)
    item.refresh_from_db()
    assert (item.quantity, item.available, item.stock_status) == (8, 0, StockStatus.OUT)
    assert_ledger(item)  # the 8 still with the department
    kinds = list(item.transfers.order_by("pk").values_list("kind", flat=True))
    assert kinds == ["in", "out", "out", "return", "return", "dispose", "dispose"]
    assert entries("resources.warehouse.return").count() == 2
    assert entries("resources.warehouse.return", Outcome.REFUSED).count() == 2
    assert entries("resources.warehouse.dispose").count() == 2
    assert entries("resources.warehouse.dispose", Outcome.REFUSED).count() == 1


def test_a_completed_allocation_returned_in_full_is_returned(pw):
    item = stored(pw, quantity=4)
    alloc = approve_from_stock(item, pw.user("a_staff"), 4, manager=pw.user("city_manager"))
    Allocation.objects.filter(pk=alloc.pk).update(
        status=AllocationStatus.COMPLETED, holds=False, finished_at=NOW
    )
    warehouse.return_items(
        actor=pw.user("city_manager"), allocation_id=alloc.pk, quantity=4, now=at(2027, 1, 5, 9)
    )
    alloc.refresh_from_db()
    assert (alloc.status, alloc.finished_at) == (AllocationStatus.RETURNED, NOW)
    item.refresh_from_db()
    assert (item.available, item.stock_status) == (4, StockStatus.STORED)


def test_an_item_not_yet_stored_cannot_be_handed_out(pw):
    item = receive(pw)
    alloc = allocation(item, pw.user("a_staff"), amount=2)
    with pytest.raises(Conflict) as exc:
        warehouse.hand_out(alloc, actor=pw.user("city_manager"), now=NOW)
    assert exc.value.code == "invalid_transition"
    assert not Transfer.objects.filter(kind=TransferKind.OUT).exists()


def test_dispose_refusals(pw):
    item = stored(pw, quantity=5)
    manager = pw.user("city_manager")
    for kw, error, code in [
        ({"quantity": 0, "reason": "坏"}, InvalidInput, "out_of_range"),
        ({"quantity": 6, "reason": "坏"}, Conflict, "insufficient_stock"),
        ({"quantity": 1, "reason": " "}, InvalidInput, "required"),
    ]:
        with pytest.raises(error) as exc:
            warehouse.dispose(actor=manager, resource_id=item.pk, now=NOW, **kw)
        assert exc.value.code == code
    with pytest.raises(PermissionDenied):  # stored: staff see it, but do not manage it
        warehouse.dispose(actor=pw.user("a_staff"), resource_id=item.pk, quantity=1, reason="坏")
    with pytest.raises(NotFound):
        warehouse.dispose(actor=manager, resource_id=item.pk + 999, quantity=1, reason="坏")
    venue = resource(pw.world.city, name="报告厅")
    with pytest.raises(Conflict) as exc:
        warehouse.dispose(actor=manager, resource_id=venue.pk, quantity=1, reason="坏")
    assert exc.value.code == "invalid_transition"
    item.refresh_from_db()
    assert (item.quantity, item.available) == (5, 5)
    assert Transfer.objects.filter(kind=TransferKind.DISPOSE).count() == 0
    assert entries("resources.warehouse.dispose", Outcome.REFUSED).count() == 6


def test_an_item_refused_at_the_check_can_be_disposed_of_whole(pw):
    item = receive(pw, quantity=3)
    warehouse.dispose(
        actor=pw.user("city_manager"), resource_id=item.pk, quantity=3, reason="验收不合格"
    )
    item.refresh_from_db()
    assert (item.quantity, item.available, item.stock_status) == (0, 0, StockStatus.OUT)
    assert_ledger(item)


def test_returns_are_recorded_by_the_warehouse_not_by_the_borrower_nor_county_b(pw):
    item = stored(pw)
    alloc = approve_from_stock(item, pw.user("a_staff"), 5, manager=pw.user("city_manager"))
    # county A's manager sees the allocation (their unit uses it) but does not run the
    # city's warehouse; county B does not see it at all
    with pytest.raises(PermissionDenied):
        warehouse.return_items(actor=pw.user("a_manager"), allocation_id=alloc.pk, quantity=1)
    for who in ("b_manager", "b_staff", "ent_manager"):
        with pytest.raises(NotFound):
            warehouse.return_items(actor=pw.user(who), allocation_id=alloc.pk, quantity=1)
    with pytest.raises(NotFound):
        warehouse.return_items(actor=pw.user("city_manager"), allocation_id="1", quantity=1)
    item.refresh_from_db()
    assert item.available == 15
    assert Transfer.objects.filter(kind=TransferKind.RETURN).count() == 0


def test_a_plain_stock_allocation_is_not_returned_to_the_warehouse(pw):
    fund = resource(pw.world.city, ResourceKind.FUND, quantity=10000, name="微实事资金")
    alloc = allocation(fund, pw.user("a_staff"), amount=100)
    with pytest.raises(Conflict) as exc:
        warehouse.return_items(actor=pw.user("city_manager"), allocation_id=alloc.pk, quantity=1)
    assert exc.value.code == "invalid_transition"


def test_the_ledger_is_seen_by_both_sides_and_not_by_county_b(pw):
    item = stored(pw)
    approve_from_stock(item, pw.user("a_staff"), 5, manager=pw.user("city_manager"))
    city = set(queries.visible_transfers(pw.user("city_manager")).values_list("kind", flat=True))
    assert city == {"in", "out"}
    # county A's managers see what their department gave and what their unit received
    a = set(queries.visible_transfers(pw.user("a_manager")).values_list("kind", flat=True))
    assert a == {"in", "out"}
    assert not queries.visible_transfers(pw.user("b_manager")).exists()
    assert not queries.visible_transfers(pw.user("a_staff")).exists()


def test_the_whole_round_through_the_allocation_services(pw):
    """in → stored → out through ``services``: a unit cannot ask for an item waiting
    for its check; once stored, an approved request hands it out (the ledger row, the
    saving) and the return brings it back."""
    from .. import services

    item = receive(pw, quantity=10)
    staff, manager = pw.user("a_staff"), pw.user("city_manager")
    ask = {
        "resource_id": item.pk,
        "start_at": on(MONDAY, 9),
        "end_at": on(MONDAY, 17),
        "amount": 6,
        "now": NOW,
    }
    with pytest.raises(NotFound):
        services.request_allocation(actor=staff, **ask)
    warehouse.store(actor=manager, resource_id=item.pk, now=NOW)
    alloc = services.request_allocation(actor=staff, **ask)
    assert alloc.status == AllocationStatus.REQUESTED
    assert not Transfer.objects.filter(kind=TransferKind.OUT).exists()
    alloc = services.decide_allocation(actor=manager, allocation_id=alloc.pk, approve=True, now=NOW)
    out = Transfer.objects.get(kind=TransferKind.OUT)
    assert (out.allocation, out.quantity, out.to_org_id, out.value) == (
        alloc,
        6,
        pw.world.county_a.pk,
        Decimal("2100.00"),
    )
    assert alloc.saved == out.value
    item.refresh_from_db()
    assert (item.available, item.stock_status) == (4, StockStatus.STORED)
    warehouse.return_items(actor=manager, allocation_id=alloc.pk, quantity=6, now=NOW)
    alloc.refresh_from_db()
    item.refresh_from_db()
    assert alloc.status == AllocationStatus.RETURNED and item.available == 10
    assert_ledger(item)
