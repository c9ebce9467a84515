"""Benefit evaluation (效益评估) against hand-computed figures.

County A: contract HT-2026-001 with the county A vendor (100 000 a month, the whole
year, 20 000 m², 400 people, categories repair and cleaning). County B: a contract with
its own vendor from 15 February (60 000 a month, no area or headcount: the county's
six rooms of 30 m² and its five people count instead).
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dayuan.core.errors import NotFound
from dayuan.core.periods import Period
from dayuan.core.testing import make_org
from dayuan.workorders.models import ServiceCategory, WorkOrder

from .. import benefit
from ..models import Contract
from .factories import FORMULA, at, build

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)


def order(world: Any, org: Any, vendor: Any, category: Any, closed: Any, status: str = "closed"):
    room = world.rooms["a" if org.pk == world.county_a.pk else "b"]
    return WorkOrder.objects.create(
        org=org,
        number=f"GD{next(_numbers):06d}",
        category=category,
        location=room,
        description="报修",
        requester=world.user("a_staff"),
        created_by=world.user("a_staff"),
        submitted_at=closed,
        status=status,
        vendor=vendor,
        closed_at=closed,
    )


@pytest.fixture
def scene(world):
    setup = build(world)
    cats = {
        code: ServiceCategory.objects.create(
            org=world.city, code=code, name=code, sla_category=code.split(".")[0]
        )
        for code in ("repair", "repair.plumbing", "cleaning", "greening")
    }
    vendor_b = make_org("乙县物业公司", "vendor-b", "vendor", world.county_b)
    contract_b = Contract.objects.create(
        org=world.county_b,
        vendor=vendor_b,
        number="HT-2026-B01",
        title="乙县物业服务合同",
        status="active",
        starts_on=date(2026, 2, 15),
        ends_on=date(2026, 12, 31),
        monthly_fee=Decimal("60000"),
        scheme=setup.scheme,
        payment_formula=FORMULA,
    )
    a, b, v = world.county_a, world.county_b, world.vendor
    # county A, January: 3 plumbing + 1 cleaning count; greening is outside the contract,
    # a cancelled order and an order of county B's vendor do not count
    for _i in range(3):
        order(world, a, v, cats["repair.plumbing"], at(2026, 1, 10, 10))
    order(world, a, v, cats["cleaning"], at(2026, 1, 31, 23, 59), status="confirmed")
    order(world, a, v, cats["greening"], at(2026, 1, 12, 10))
    order(world, a, v, cats["repair"], at(2026, 1, 13, 10), status="cancelled")
    order(world, a, None, cats["repair"], at(2026, 1, 14, 10))  # the centre's own team
    # county A, February: 1 (midnight of 1 February, Shanghai, belongs to February)
    order(world, a, v, cats["repair"], at(2026, 2, 1, 0, 0))
    # county B, February: 2
    order(world, b, vendor_b, cats["repair"], at(2026, 2, 20, 10))
    order(world, b, vendor_b, cats["cleaning"], at(2026, 2, 21, 10))
    return setup, contract_b


def by(rows: list[dict], kind: str, name_part: str, since: date) -> dict:
    (row,) = [
        r for r in rows if r["kind"] == kind and name_part in r["name"] and r["since"] == since
    ]
    return row


JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


def test_periods_and_fees():
    assert benefit.periods("month", date(2026, 2, 10), 2) == [
        Period(date(2026, 1, 1), date(2026, 1, 31)),
        Period(date(2026, 2, 1), date(2026, 2, 28)),
    ]
    assert benefit.periods("quarter", date(2026, 5, 1), 1) == [
        Period(date(2026, 4, 1), date(2026, 6, 30))
    ]
    assert benefit.periods("year", date(2026, 5, 1), 2)[0] == Period(
        date(2025, 1, 1), date(2025, 12, 31)
    )
    fee = Decimal("60000")
    # a whole quarter: fee × 3 × covered days / days (Feb 1 – Mar 31 of 90 days)
    q1 = Period(date(2026, 1, 1), date(2026, 3, 31))
    assert benefit.period_fee(fee, date(2026, 2, 1), date(2026, 12, 31), q1) == Decimal("118000.00")
    # February from the 15th: 14 of 28 days
    feb = Period(date(2026, 2, 1), date(2026, 2, 28))
    assert benefit.period_fee(fee, date(2026, 2, 15), date(2026, 12, 31), feb) == Decimal(
        "30000.00"
    )
    # any other span goes by calendar-month pieces: 14/28 of Feb + 15/31 of March
    span = Period(date(2026, 2, 1), date(2026, 3, 15))
    assert benefit.period_fee(fee, date(2026, 2, 15), date(2026, 12, 31), span) == Decimal(
        "59032.26"
    )
    assert benefit.period_fee(fee, date(2027, 1, 1), date(2027, 12, 31), q1) == Decimal("0.00")


def test_contract_rows_by_hand(world, scene):
    rows = benefit.contract_rows(
        world.user("city_manager"), periods=benefit.periods("month", FEB, 2)
    )
    jan = by(rows, "contract", "HT-2026-001", JAN)
    assert jan["cost"] == Decimal("100000.00")
    assert jan["work_orders"] == 4
    assert jan["cost_per_order"] == Decimal("25000.00")
    assert jan["cost_per_m2"] == Decimal("5.00")  # 100 000 / 20 000 m²
    assert jan["cost_per_person"] == Decimal("250.00")  # 100 000 / 400
    assert jan["meals"] is None and jan["cost_per_meal"] is None
    feb = by(rows, "contract", "HT-2026-001", FEB)
    assert (feb["work_orders"], feb["cost_per_order"]) == (1, Decimal("100000.00"))
    b_jan = by(rows, "contract", "HT-2026-B01", JAN)
    assert b_jan["cost"] == Decimal("0.00") and b_jan["cost_per_order"] is None
    b_feb = by(rows, "contract", "HT-2026-B01", FEB)
    assert b_feb["cost"] == Decimal("30000.00")
    assert b_feb["work_orders"] == 2 and b_feb["cost_per_order"] == Decimal("15000.00")
    assert b_feb["area_m2"] == Decimal("180") and b_feb["cost_per_m2"] == Decimal("166.67")
    assert b_feb["people"] == 5 and b_feb["cost_per_person"] == Decimal("6000.00")


def test_centres_and_vendors_side_by_side(world, scene):
    data = benefit.comparison(world.user("city_manager"), periods=benefit.periods("month", JAN))
    a = by(data["centres"], "centre", "甲县", JAN)
    # the county's own area (six rooms of 30 m²) and people (five; the vendor's
    # worker is not counted)
    assert (a["cost"], a["work_orders"], a["area_m2"], a["people"]) == (
        Decimal("100000.00"),
        4,
        Decimal("180"),
        5,
    )
    assert a["cost_per_m2"] == Decimal("555.56") and a["cost_per_person"] == Decimal("20000.00")
    b = by(data["centres"], "centre", "乙县", JAN)
    assert b["cost"] == Decimal("0.00") and b["work_orders"] == 0
    vendor = by(data["vendors"], "vendor", "甲县物业", JAN)
    assert vendor["cost_per_order"] == Decimal("25000.00")
    assert vendor["area_m2"] == Decimal("20000")
    assert data["rows"] == data["vendors"] + data["centres"]
    assert data["notes"]  # says why there is no per-meal figure


def test_a_measured_building_is_not_added_to_its_rooms(world, scene):
    building = world.rooms["a"].parent.parent
    building.area_m2 = Decimal("1000")
    building.save()
    rows = benefit.centre_rows(world.user("city_manager"), periods=benefit.periods("month", JAN))
    assert by(rows, "centre", "甲县", JAN)["area_m2"] == Decimal("1000")


def test_a_vendor_with_two_contracts_counts_each_order_once(world, scene):
    setup, _b = scene
    Contract.objects.create(
        org=world.county_a,
        vendor=world.vendor,
        number="HT-2026-002",
        title="维修补充合同",
        status="active",
        categories=["repair"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        monthly_fee=Decimal("20000"),
        scheme=setup.scheme,
        payment_formula=FORMULA,
    )
    rows = benefit.vendor_rows(world.user("a_manager"), periods=benefit.periods("month", JAN))
    (row,) = rows
    assert row["contracts"] == 2 and row["cost"] == Decimal("120000.00")
    assert row["work_orders"] == 4  # the three plumbing orders are in both contracts
    # 20 000 m² of the first contract + the county's 180 m² for the second
    assert row["area_m2"] == Decimal("20180")
    assert row["people"] == 405  # 400 + the county's five people


def test_scope_and_drafts(world, scene):
    setup, contract_b = scene
    periods = benefit.periods("month", FEB)
    rows = benefit.contract_rows(world.user("b_manager"), periods=periods)
    assert {r["id"] for r in rows} == {contract_b.pk}
    centres = benefit.centre_rows(world.user("b_manager"), periods=periods)
    assert [r["name"] for r in centres] == [world.county_b.name]
    with pytest.raises(NotFound):
        benefit.contract_rows(world.user("b_manager"), periods=periods, org_id=world.county_a.pk)
    assert benefit.comparison(world.user("a_staff"), periods=periods)["rows"] == []
    Contract.objects.filter(pk=setup.contract.pk).update(status="draft")
    rows = benefit.contract_rows(world.user("city_manager"), periods=periods)
    assert {r["id"] for r in rows} == {contract_b.pk}


def test_query_count_does_not_grow(world, scene):
    setup, _b = scene
    periods = benefit.periods("month", FEB, 2)
    user = world.user("city_manager")
    benefit.comparison(user, periods=periods)  # warm the user's grants
    with CaptureQueriesContext(connection) as before:
        benefit.comparison(user, periods=periods)
    for i in range(5):
        vendor = make_org(f"供应商{i}", f"more-{i}", "vendor", world.county_a)
        Contract.objects.create(
            org=world.county_a,
            vendor=vendor,
            number=f"HT-X-{i}",
            title="更多合同",
            status="active",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 12, 31),
            monthly_fee=Decimal("1000"),
            scheme=setup.scheme,
            payment_formula=FORMULA,
        )
        repair = ServiceCategory.objects.get(code="repair")
        order(world, world.county_a, vendor, repair, at(2026, 2, 3, 10))
    with CaptureQueriesContext(connection) as after:
        data = benefit.comparison(user, periods=benefit.periods("month", FEB, 6))
    assert len(after) == len(before)
    assert len(data["vendors"]) == 7 * 6
