"""Builders for the assessment tests: a vendor scheme (computed, scored and deduction
parts), a county-centre scheme, and a contract with the county A vendor.

The rows are created directly (not through the services) so the engine's tests do not
depend on the scheme editor; the services' own tests exercise validation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from dayuan.core.testing import World

from ..models import Contract, DeductionRule, Scheme, SchemeIndicator

SHANGHAI = ZoneInfo("Asia/Shanghai")

GRADES = [
    {"grade": "excellent", "label": "优秀", "min_score": 90},
    {"grade": "good", "label": "良好", "min_score": 80},
    {"grade": "pass", "label": "合格", "min_score": 60},
]
FORMULA = (
    "score >= 90.0 ? fee - deduction_money"
    " : (passed ? fee * score / 100.0 - deduction_money : fee * 0.8 - deduction_money)"
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@dataclass
class Setup:
    world: World
    scheme: Scheme  # vendor scheme of county A
    county_scheme: Scheme  # the city assesses its counties
    contract: Contract

    def user(self, name: str) -> Any:
        return self.world.user(name)


def vendor_scheme(org: Any, code: str = "wy-kh") -> Scheme:
    scheme = Scheme.objects.create(
        org=org,
        code=code,
        name="物业服务考核方案",
        subject_kind="contract",
        pass_line=Decimal("60"),
        grades=GRADES,
        max_deduction=Decimal("20"),
    )
    rows = [
        # key, label, sort, source, weight, target, floor, better, max_score, scorer_role
        ("insp_pass", "检查合格率", "computed", "inspection_pass_rate", 30, 100, 60, "higher"),
        (
            "rect_on_time",
            "整改按时率",
            "computed",
            "rectification_on_time_rate",
            20,
            100,
            50,
            "higher",
        ),
        ("missed", "漏检次数", "computed", "missed_occurrences", 10, 0, 10, "lower"),
        ("site", "现场管理（第三方）", "scored", "", 25, None, None, "higher", 25, "assessor"),
        ("manager", "配合与响应（甲方）", "scored", "", 15, None, None, "higher", 15, "manager"),
    ]
    for i, row in enumerate(rows):
        key, label, sort, source, weight, target, floor, better = row[:8]
        max_score, role = (row[8], row[9]) if len(row) > 8 else (None, "")
        SchemeIndicator.objects.create(
            scheme=scheme,
            key=key,
            label=label,
            sort=sort,
            source=source,
            weight=Decimal(weight),
            target=target,
            floor=floor,
            better=better,
            max_score=Decimal(max_score) if max_score is not None else None,
            scorer_role=role,
            position=i,
        )
    for kind, match, points, money in (
        ("finding", "key", 5, 2000),
        ("finding", "important", 2, 500),
        ("event", "criticism", 3, 1000),
        ("event", "media", 10, 5000),
    ):
        DeductionRule.objects.create(
            scheme=scheme,
            kind=kind,
            match=match,
            points=Decimal(points),
            money=Decimal(money),
            rectify_days=3,
        )
    return scheme


def county_scheme(city: Any) -> Scheme:
    scheme = Scheme.objects.create(
        org=city,
        code="county-kh",
        name="县级中心年度考核",
        subject_kind="org",
        pass_line=Decimal("60"),
        grades=GRADES,
    )
    for i, (key, source, weight) in enumerate(
        (
            ("insp_pass", "inspection_pass_rate", 50),
            ("closure", "rectification_closure_rate", 50),
        )
    ):
        SchemeIndicator.objects.create(
            scheme=scheme,
            key=key,
            label=key,
            sort="computed",
            source=source,
            weight=Decimal(weight),
            target=100,
            floor=0,
            position=i,
        )
    return scheme


def build(world: World) -> Setup:
    scheme = vendor_scheme(world.county_a)
    contract = Contract.objects.create(
        org=world.county_a,
        vendor=world.vendor,
        number="HT-2026-001",
        title="甲县机关大院物业服务合同",
        status="active",
        categories=["repair", "cleaning"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
        monthly_fee=Decimal("100000.00"),
        area_m2=Decimal("20000"),
        headcount=400,
        scheme=scheme,
        payment_formula=FORMULA,
    )
    return Setup(world, scheme, county_scheme(world.city), contract)
