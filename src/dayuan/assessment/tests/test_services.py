"""Schemes, contracts and deduction events: validation codes, permissions, org scope."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleVersion,
)
from dayuan.core.testing import make_org
from dayuan.notifications.models import Notification
from dayuan.workorders.models import ServiceCategory

from .. import services
from ..models import DeductionEvent, Run, Scheme
from .factories import FORMULA, GRADES, at, build

pytestmark = pytest.mark.django_db

NOW = at(2026, 3, 10, 9, 0)


def indicators() -> list[dict[str, Any]]:
    return [
        {
            "key": "insp-pass",
            "label": "检查合格率",
            "sort": "computed",
            "source": "inspection_pass_rate",
            "weight": 40,
            "target": 100,
            "floor": 60,
        },
        {
            "key": "missed",
            "label": "漏检次数",
            "sort": "computed",
            "source": "missed_occurrences",
            "weight": 10,
            "target": 0,
            "floor": 10,
        },
        {
            "key": "kpi",
            "label": "标准指标",
            "sort": "computed",
            "source": "kpi",
            "weight": 20,
            "target": 100,
            "floor": 0,
        },
        {
            "key": "site",
            "label": "现场管理",
            "sort": "scored",
            "weight": 30,
            "max_score": 30,
            "scorer_role": "assessor",
        },
    ]


RULES = [
    {"kind": "finding", "match": "key", "points": 5, "money": 2000, "rectify_days": 3},
    {"kind": "event", "match": "media", "points": 10, "money": 0, "rectify_days": 7},
]


def scheme_kwargs(world: Any, **over: Any) -> dict[str, Any]:
    kwargs = {
        "actor": world.user("a_manager"),
        "org_id": world.county_a.pk,
        "code": "wy-2026",
        "name": "物业考核",
        "subject_kind": "contract",
        "pass_line": 60,
        "grades": GRADES,
        "indicators": indicators(),
        "deduction_rules": RULES,
        "max_deduction": 20,
    }
    kwargs.update(over)
    return kwargs


def contract_kwargs(setup: Any, **over: Any) -> dict[str, Any]:
    w = setup.world
    kwargs = {
        "actor": w.user("a_manager"),
        "org_id": w.county_a.pk,
        "vendor_id": w.vendor.pk,
        "number": "HT-2026-100",
        "title": "保洁服务合同",
        "starts_on": date(2026, 1, 1),
        "ends_on": date(2026, 12, 31),
        "monthly_fee": Decimal("50000"),
        "scheme_id": setup.scheme.pk,
        "payment_formula": FORMULA,
    }
    kwargs.update(over)
    return kwargs


# --- schemes ---------------------------------------------------------------------------


def test_it_saves_a_scheme_with_its_children_and_audits(world):
    scheme = services.save_scheme(**scheme_kwargs(world))
    assert [i.key for i in scheme.indicators.all()] == ["insp-pass", "missed", "kpi", "site"]
    missed = scheme.indicators.get(key="missed")
    assert missed.better == "lower"  # the registered indicator's direction by default
    assert scheme.deduction_rules.count() == 2
    assert scheme.grades[0] == {"grade": "excellent", "label": "优秀", "min_score": 90.0}
    entry = AuditEntry.objects.filter(action="assessment.save_scheme", outcome="success").get()
    assert entry.object_id == str(scheme.pk)
    assert "indicators" in entry.changes


def _bad_indicators(change: Any) -> list[dict[str, Any]]:
    rows = indicators()
    change(rows)
    return rows


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"indicators": _bad_indicators(lambda r: r[0].update(weight=41))}, "weights_sum"),
        ({"indicators": _bad_indicators(lambda r: r[0].update(source="nope"))}, "unknown_source"),
        ({"indicators": _bad_indicators(lambda r: r[3].pop("max_score"))}, "missing_max_score"),
        ({"indicators": _bad_indicators(lambda r: r[3].pop("scorer_role"))}, "missing_scorer_role"),
        ({"indicators": _bad_indicators(lambda r: r[0].update(target=50))}, "invalid_range"),
        ({"indicators": _bad_indicators(lambda r: r[1].update(key="insp-pass"))}, "duplicate_key"),
        ({"indicators": _bad_indicators(lambda r: r[1].update(sort="magic"))}, "invalid_sort"),
        ({"indicators": _bad_indicators(lambda r: r[1].update(weight=-5))}, "invalid_weight"),
        ({"indicators": []}, "no_indicators"),
        (
            {"grades": [GRADES[1], GRADES[0]]},  # ascending
            "grades_order",
        ),
        ({"grades": [{"grade": "a", "label": "A", "min_score": 120}]}, "invalid_grades"),
        ({"pass_line": 101}, "invalid_pass_line"),
        ({"subject_kind": "team"}, "invalid_subject_kind"),
        ({"code": "带 空格"}, "invalid_code"),
        ({"deduction_rules": [{"kind": "finding", "match": "huge", "points": 1}]}, "invalid_match"),
        ({"deduction_rules": [{"kind": "event", "match": "media"}]}, "empty_deduction"),
        ({"deduction_rules": [RULES[0], RULES[0]]}, "duplicate_rule"),
        ({"max_deduction": 0}, "invalid_max_deduction"),
    ],
)
def test_it_refuses_invalid_schemes_with_a_code(world, over, code):
    with pytest.raises(InvalidInput) as exc:
        services.save_scheme(**scheme_kwargs(world, **over))
    assert exc.value.code == code
    assert not Scheme.objects.exists()
    refused = AuditEntry.objects.get(action="assessment.save_scheme")
    assert refused.outcome == "refused" and code in refused.reason


def test_it_refuses_a_duplicate_code_in_the_same_org(world):
    services.save_scheme(**scheme_kwargs(world))
    with pytest.raises(InvalidInput) as exc:
        services.save_scheme(**scheme_kwargs(world))
    assert exc.value.code == "duplicate_code"
    # another centre may use the same code
    services.save_scheme(
        **scheme_kwargs(world, actor=world.user("b_manager"), org_id=world.county_b.pk)
    )


def test_only_managers_of_the_centre_define_schemes(world):
    with pytest.raises(PermissionDenied):
        services.save_scheme(**scheme_kwargs(world, actor=world.user("a_inspector")))
    with pytest.raises(NotFound):  # county B cannot even see county A
        services.save_scheme(**scheme_kwargs(world, actor=world.user("b_manager")))
    with pytest.raises(InvalidInput) as exc:  # a vendor is no centre
        services.save_scheme(**scheme_kwargs(world, org_id=world.vendor.pk))
    assert exc.value.code == "invalid_org"
    # the city manager may define one for county A
    services.save_scheme(**scheme_kwargs(world, actor=world.user("city_manager")))


def test_county_b_cannot_edit_county_a_scheme(world):
    scheme = services.save_scheme(**scheme_kwargs(world))
    b = world.user("b_manager")
    with pytest.raises(NotFound):
        services.save_scheme(**scheme_kwargs(world, actor=b, scheme_id=scheme.pk))
    with pytest.raises(NotFound):  # through its own org: still not found
        services.save_scheme(
            **scheme_kwargs(world, actor=b, org_id=world.county_b.pk, scheme_id=scheme.pk)
        )
    scheme.refresh_from_db()
    assert scheme.version == 1


def test_an_edit_keeps_indicator_rows_and_checks_the_version(world):
    scheme = services.save_scheme(**scheme_kwargs(world))
    kept = scheme.indicators.get(key="site").pk
    rows = indicators()
    rows[0]["weight"], rows[2]["weight"] = 50, 10
    edited = services.save_scheme(
        **scheme_kwargs(world, indicators=rows, name="新名称", scheme_id=scheme.pk, version=1)
    )
    assert edited.version == 2 and edited.name == "新名称"
    assert edited.indicators.get(key="site").pk == kept
    assert edited.indicators.get(key="insp-pass").weight == 50
    entry = AuditEntry.objects.filter(action="assessment.save_scheme").latest("id")
    changed = entry.changes["indicators"]  # [before, after]: only the weights moved
    assert [i["weight"] for i in changed[0]] == ["40.00", "10.00", "20.00", "30.00"]
    assert [i["weight"] for i in changed[1]] == ["50.00", "10.00", "10.00", "30.00"]
    assert "deduction_rules" not in entry.changes
    with pytest.raises(StaleVersion):
        services.save_scheme(**scheme_kwargs(world, scheme_id=scheme.pk, version=1))


def test_a_scheme_used_beyond_draft_cannot_change(world):
    setup = build(world)
    run = Run.objects.create(
        org=world.county_a,
        scheme=setup.scheme,
        contract=setup.contract,
        subject_org=world.vendor,
        period_kind="month",
        period_start=date(2026, 1, 1),
        period_end=date(2026, 1, 31),
    )
    rows = indicators()
    # a draft run does not block the edit
    services.save_scheme(
        **scheme_kwargs(world, code="wy-kh", indicators=rows, scheme_id=setup.scheme.pk)
    )
    with pytest.raises(Conflict) as kind:  # its contract assesses a vendor
        services.save_scheme(
            **scheme_kwargs(
                world, code="wy-kh", subject_kind="org", indicators=rows, scheme_id=setup.scheme.pk
            )
        )
    assert kind.value.code == "scheme_in_use"
    Run.objects.filter(pk=run.pk).update(status="computed")
    with pytest.raises(Conflict) as exc:
        services.save_scheme(
            **scheme_kwargs(world, code="wy-kh", indicators=rows, scheme_id=setup.scheme.pk)
        )
    assert exc.value.code == "scheme_in_use"


# --- contracts ------------------------------------------------------------------------------


def test_it_saves_a_contract_with_its_scope(world):
    setup = build(world)
    ServiceCategory.objects.create(
        org=world.city, code="cleaning", name="保洁", sla_category="cleaning"
    )
    room = world.rooms["a"]
    contract = services.save_contract(
        **contract_kwargs(setup, categories=["cleaning"], location_ids=[room.pk], area_m2="800.5")
    )
    assert contract.categories == ["cleaning"]
    assert list(contract.locations.all()) == [room]
    assert contract.area_m2 == Decimal("800.50")
    entry = AuditEntry.objects.get(action="assessment.save_contract", outcome="success")
    assert entry.changes["location_ids"] == [None, [room.pk]]


def test_contract_validation_codes(world):
    setup = build(world)
    vendor_b = make_org("乙县保洁公司", "vendor-b", "vendor", world.county_b)
    city_vendor = make_org("市餐饮公司", "city-canteen", "enterprise", world.city)
    room_b = world.rooms["b"]
    cases = [
        ({"vendor_id": vendor_b.pk}, "invalid_vendor"),  # a sibling county's vendor
        ({"vendor_id": world.assessor_org.pk}, "invalid_vendor"),
        ({"vendor_id": world.county_a.pk}, "invalid_vendor"),
        ({"ends_on": date(2025, 12, 31)}, "invalid_period"),
        ({"monthly_fee": "-1"}, "invalid_fee"),
        ({"monthly_fee": "abc"}, "invalid_fee"),
        ({"payment_formula": "score >"}, "invalid_formula"),
        ({"scheme_id": setup.county_scheme.pk}, "invalid_scheme"),  # assesses orgs
        ({"location_ids": [room_b.pk]}, "invalid_location"),
        ({"categories": ["no-such"]}, "invalid_category"),
        ({"headcount": 0}, "invalid_headcount"),
        ({"status": "signed"}, "invalid_status"),
        ({"number": ""}, "required"),
        ({"number": setup.contract.number}, "duplicate_number"),
    ]
    for over, code in cases:
        with pytest.raises(InvalidInput) as exc:
            services.save_contract(**contract_kwargs(setup, **over))
        assert exc.value.code == code, over
    # a city-registered external org may serve county A
    services.save_contract(**contract_kwargs(setup, vendor_id=city_vendor.pk))


def test_county_b_cannot_use_or_edit_county_a_contracts(world):
    setup = build(world)
    b = world.user("b_manager")
    scheme_b = services.save_scheme(
        **scheme_kwargs(world, actor=b, org_id=world.county_b.pk, code="b-kh")
    )
    vendor_b = make_org("乙县物业公司", "vendor-b", "vendor", world.county_b)
    # county A's scheme is not usable in county B
    with pytest.raises(InvalidInput) as exc:
        services.save_contract(
            **contract_kwargs(
                setup, actor=b, org_id=world.county_b.pk, vendor_id=vendor_b.pk, number="B-1"
            )
        )
    assert exc.value.code == "invalid_scheme"
    with pytest.raises(NotFound):
        services.save_contract(
            **contract_kwargs(setup, actor=b, contract_id=setup.contract.pk, title="改")
        )
    with pytest.raises(NotFound):
        services.save_contract(
            **contract_kwargs(
                setup,
                actor=b,
                org_id=world.county_b.pk,
                vendor_id=vendor_b.pk,
                scheme_id=scheme_b.pk,
                contract_id=setup.contract.pk,
            )
        )
    with pytest.raises(PermissionDenied):
        services.save_contract(**contract_kwargs(setup, actor=world.user("a_staff")))


def test_a_contract_edit_checks_its_version(world):
    setup = build(world)
    edited = services.save_contract(
        **contract_kwargs(
            setup,
            number=setup.contract.number,
            contract_id=setup.contract.pk,
            version=1,
            monthly_fee="120000",
            status="active",
        )
    )
    assert edited.version == 2 and edited.monthly_fee == Decimal("120000")
    with pytest.raises(StaleVersion):
        services.save_contract(
            **contract_kwargs(
                setup, number=setup.contract.number, contract_id=setup.contract.pk, version=1
            )
        )


# --- deduction events ----------------------------------------------------------------------


def test_an_event_tells_the_vendor_with_a_deadline(world):
    setup = build(world)
    event = services.record_event(
        actor=world.user("a_inspector"),
        org_id=world.county_a.pk,
        subject_org_id=world.vendor.pk,
        event_type="media",
        occurred_at=at(2026, 3, 9, 15, 0),
        description="大院垃圾清运不及时被媒体曝光",
        contract_id=setup.contract.pk,
        now=NOW,
    )
    # the scheme's rule for media events gives three days
    assert event.rectify_deadline == NOW + timedelta(days=3)
    notes = Notification.objects.filter(event__type="assessment.deduction_recorded")
    assert {n.recipient.username for n in notes} == {"vendor_worker"}
    assert "2026-03-13 09:00" in notes.get().body
    assert AuditEntry.objects.filter(
        action="assessment.record_event", outcome="success", object_id=str(event.pk)
    ).exists()


def test_event_refusals(world):
    setup = build(world)
    vendor_b = make_org("乙县物业公司", "vendor-b", "vendor", world.county_b)
    base = {
        "actor": world.user("a_manager"),
        "org_id": world.county_a.pk,
        "subject_org_id": world.vendor.pk,
        "event_type": "criticism",
        "occurred_at": at(2026, 3, 1, 10, 0),
        "description": "通报批评",
        "now": NOW,
    }
    cases = [
        ({"subject_org_id": vendor_b.pk}, "invalid_subject"),
        ({"event_type": "praise"}, "invalid_event_type"),
        ({"occurred_at": at(2026, 3, 11, 10, 0)}, "invalid_time"),
        ({"description": " "}, "required"),
        ({"rectify_days": 0}, "invalid_rectify_days"),
        (
            {"contract_id": setup.contract.pk, "subject_org_id": world.county_a.pk},
            "invalid_subject",
        ),
    ]
    for over, code in cases:
        with pytest.raises(InvalidInput) as exc:
            services.record_event(**{**base, **over})
        assert exc.value.code == code, over
    with pytest.raises(PermissionDenied):
        services.record_event(**{**base, "actor": world.user("a_staff")})
    with pytest.raises(NotFound):
        services.record_event(**{**base, "actor": world.user("b_manager")})
    assert not DeductionEvent.objects.exists()
    # without a contract or days: no deadline
    event = services.record_event(**base)
    assert event.rectify_deadline is None


def test_cancel_an_event_once(world):
    build(world)
    event = services.record_event(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        subject_org_id=world.vendor.pk,
        event_type="notice",
        occurred_at=at(2026, 3, 1, 10, 0),
        description="书面整改通知",
        rectify_days=5,
        now=NOW,
    )
    assert event.rectify_deadline == NOW + timedelta(days=5)
    with pytest.raises(NotFound):
        services.cancel_event(actor=world.user("b_manager"), event_id=event.pk, reason="错")
    with pytest.raises(InvalidInput):
        services.cancel_event(actor=world.user("a_manager"), event_id=event.pk, reason="")
    services.cancel_event(actor=world.user("a_manager"), event_id=event.pk, reason="录入错误")
    event.refresh_from_db()
    assert event.cancelled
    with pytest.raises(Conflict) as exc:
        services.cancel_event(actor=world.user("a_manager"), event_id=event.pk, reason="再撤")
    assert exc.value.code == "already_cancelled"
