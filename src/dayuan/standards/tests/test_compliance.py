"""Compliance figures from stored judgments: counts, ordering, scope, query counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dayuan.core.errors import NotFound
from dayuan.standards import compliance
from dayuan.standards.models import Clause, Judgment, Rule, Standard, StandardVersion

SAMPLE = {
    "record_type": "food_sample",
    "vars": {
        "min_weight_g": {"value": 125, "stricter": "higher", "unit": "g"},
        "min_hours": {"value": 48, "stricter": "higher", "unit": "h"},
    },
    "check": "record.weight_g >= vars.min_weight_g && record.hours >= vars.min_hours",
    "message": "每个菜品留样 ≥ 125 g，保存 ≥ 48 小时",
}
URGENT = {
    "category": "repair",
    "priority": "urgent",
    "calendar": "24x7",
    "timers": [{"name": "arrive", "label": "到场", "minutes": 30}],
    "escalation": [{"at_percent": 80, "action": "warn"}, {"at_percent": 100, "action": "escalate"}],
}
LIGHTNING = {
    "target": {"location_tag": "避雷针", "activity": "patrol.lightning"},
    "frequency": {"every": 1, "unit": "quarter"},
    "seasons": [
        {
            "label": "雷雨季",
            "months": [4, 5, 6, 7, 8, 9],
            "frequency": {"every": 1, "unit": "half_month"},
        }
    ],
}


@dataclass
class Built:
    standard: Standard
    version: StandardVersion
    clauses: dict[str, Clause]
    rules: dict[str, Rule]


def make_standard(
    org,
    code: str = "canteen-food",
    *,
    title: str = "机关食堂食品安全服务标准",
    domain: str = "canteen",
) -> Built:
    """A published standard with four clauses: 4.1 key record rule (binding), 4.2 sla,
    4.3 a schedule nobody is judged under, 4.4 a clause without rules."""
    std = Standard.objects.create(
        code=code, title=title, issuing_org=org, domain=domain, status="published"
    )
    ver = StandardVersion.objects.create(
        standard=std,
        number=1,
        status="published",
        published_at=timezone.now(),
        general_release=True,
    )
    clauses = {
        "4.1": Clause.objects.create(
            version=ver,
            number="4.1",
            text="食品留样不少于125克，保存48小时",
            severity="key",
            binding=True,
            position=1,
        ),
        "4.2": Clause.objects.create(
            version=ver, number="4.2", text="急修30分钟内到场", severity="important", position=2
        ),
        "4.3": Clause.objects.create(
            version=ver, number="4.3", text="避雷针巡查", severity="general", position=3
        ),
        "4.4": Clause.objects.create(
            version=ver, number="4.4", text="文明用语", severity="general", position=4
        ),
    }
    rules = {
        "sample": Rule.objects.create(
            clause=clauses["4.1"],
            version=ver,
            key=f"{code}.sample",
            kind="record",
            target="record:food_sample",
            params=SAMPLE,
            source_document="餐饮服务食品安全操作规范",
            source_edition="2018",
            verified=False,
        ),
        "urgent": Rule.objects.create(
            clause=clauses["4.2"],
            version=ver,
            key=f"{code}.urgent",
            kind="sla",
            target="workorder:repair",
            params=URGENT,
            source_document="川机管发〔2015〕53号",
        ),
        "lightning": Rule.objects.create(
            clause=clauses["4.3"],
            version=ver,
            key=f"{code}.lightning",
            kind="schedule",
            target="schedule:patrol.lightning",
            params=LIGHTNING,
        ),
    }
    return Built(std, ver, clauses, rules)


def judge(
    rule: Rule, org, outcome: str, n: int = 1, *, at: datetime | None = None, **extra
) -> None:
    at = at or timezone.now()
    Judgment.objects.bulk_create(
        [
            Judgment(rule=rule, clause=rule.clause, org=org, at=at, outcome=outcome, **extra)
            for _ in range(n)
        ]
    )


@pytest.fixture
def built(world) -> Built:
    b = make_standard(world.city)
    a, bb = world.county_a, world.county_b
    judge(b.rules["sample"], a, "pass", 8)
    judge(b.rules["sample"], a, "fail", 2)
    judge(b.rules["sample"], a, "na", 1)
    judge(b.rules["sample"], bb, "pass", 1)
    judge(b.rules["sample"], bb, "fail", 3)
    judge(b.rules["urgent"], a, "pass", 5)
    judge(b.rules["urgent"], bb, "fail", 1)
    return b


def by_number(stats):
    return {s.clause_number: s for s in stats}


def test_it_counts_each_clause_for_the_city(world, built):
    stats = by_number(compliance.clause_compliance(world.user("city_manager")))
    s = stats["4.1"]
    assert (s.total, s.passed, s.failed, s.na) == (15, 9, 5, 1)
    assert s.rate == pytest.approx(9 / 14)
    assert s.standard_code == "canteen-food" and s.severity == "key"
    assert stats["4.2"].rate == pytest.approx(5 / 6)
    assert "4.3" not in stats  # never judged: not a row of the table


def test_it_counts_only_the_users_own_county(world, built):
    a = by_number(compliance.clause_compliance(world.user("a_manager")))
    b = by_number(compliance.clause_compliance(world.user("b_staff")))
    assert (a["4.1"].total, a["4.1"].failed, a["4.1"].rate) == (11, 2, 0.8)
    assert (b["4.1"].total, b["4.1"].passed, b["4.1"].rate) == (4, 1, 0.25)
    assert b["4.2"].rate == 0.0


def test_it_filters_by_org_period_vendor_and_standard(world, built):
    city = world.user("city_manager")
    only_a = by_number(compliance.clause_compliance(city, org_id=world.county_a.pk))
    assert only_a["4.1"].total == 11
    old = timezone.now() - timedelta(days=40)
    judge(built.rules["sample"], world.county_a, "fail", 4, at=old, vendor=world.vendor)
    recent = by_number(
        compliance.clause_compliance(city, since=timezone.localdate() - timedelta(days=7))
    )
    assert recent["4.1"].total == 15
    everything = by_number(compliance.clause_compliance(city))
    assert everything["4.1"].failed == 9
    vendor = by_number(compliance.clause_compliance(city, vendor_id=world.vendor.pk))
    assert vendor["4.1"].total == 4 and vendor["4.1"].rate == 0.0
    until = by_number(compliance.clause_compliance(city, until=timezone.localdate(old)))
    assert until["4.1"].total == 4
    other = make_standard(world.city, code="other-std")
    judge(other.rules["sample"], world.county_a, "pass", 2)
    assert {s.standard_code for s in compliance.clause_compliance(city)} == {
        "canteen-food",
        "other-std",
    }
    only = compliance.clause_compliance(city, standard_id=other.standard.pk)
    assert [(s.standard_code, s.total) for s in only] == [("other-std", 2)]


def test_it_refuses_an_org_out_of_scope(world, built):
    with pytest.raises(NotFound):
        compliance.clause_compliance(world.user("b_manager"), org_id=world.county_a.pk)
    with pytest.raises(NotFound):
        compliance.by_org(world.user("b_manager"), org_id=world.county_a.pk)


def test_it_orders_the_most_violated_clauses(world, built):
    city = world.user("city_manager")
    worst = compliance.most_violated(city, limit=10)
    assert [s.clause_number for s in worst] == ["4.1", "4.2"]  # 5 failures, then 1
    # Equal failures: the lower rate first.
    judge(built.rules["urgent"], world.county_a, "fail", 4)
    worst = compliance.most_violated(city, limit=10)
    assert [(s.clause_number, s.failed) for s in worst] == [("4.2", 5), ("4.1", 5)]
    assert worst[0].rate < worst[1].rate
    assert len(compliance.most_violated(city, limit=1)) == 1
    # County B sees its own worst clause only.
    assert [s.clause_number for s in compliance.most_violated(world.user("b_manager"))] == [
        "4.1",
        "4.2",
    ]
    assert compliance.most_violated(world.user("b_manager"))[0].failed == 3


def test_it_lists_clauses_never_exercised(world, built):
    city = world.user("city_manager")
    never = compliance.never_exercised(city, built.standard.pk)
    assert [c.number for c in never] == ["4.3"]  # 4.4 has no rule
    # Judged only long ago: never exercised in a recent period.
    judge(
        built.rules["lightning"],
        world.county_a,
        "pass",
        at=timezone.now() - timedelta(days=100),
    )
    assert [c.number for c in compliance.never_exercised(city, built.standard.pk)] == []
    recent = compliance.never_exercised(
        city, built.standard.pk, since=timezone.localdate() - timedelta(days=30)
    )
    assert [c.number for c in recent] == ["4.3"]
    # County B never judged 4.3 (county A did): for B it is still never exercised.
    assert [c.number for c in compliance.never_exercised(world.user("b_manager"))] == ["4.3"]


def test_it_ignores_superseded_versions_for_never_exercised(world, built):
    built.version.status = "superseded"
    built.version.save()
    assert compliance.never_exercised(world.user("city_manager"), built.standard.pk) == []


def test_it_hides_a_standard_out_of_the_library(world):
    county_std = make_standard(world.county_a, code="a-only")
    with pytest.raises(NotFound):
        compliance.never_exercised(world.user("b_manager"), county_std.standard.pk)


def test_it_gives_a_monthly_trend(world, built):
    city = world.user("city_manager")
    rows = compliance.trend(city, months=3)
    assert len(rows) == 3
    this_month = timezone.localdate().strftime("%Y-%m")
    assert rows[-1]["month"] == this_month
    assert rows[-1]["total"] == 21 and rows[-1]["failed"] == 6
    assert rows[0]["total"] == 0 and rows[0]["rate"] is None
    one = compliance.trend(city, clause_id=built.clauses["4.2"].pk, months=1)
    assert one[-1]["rate"] == pytest.approx(5 / 6)


def test_it_rolls_up_per_county_for_the_city(world, built):
    judge(built.rules["sample"], world.vendor, "fail", 10)  # the vendor is under county A
    rows = {o.org_name: o for o in compliance.by_org(world.user("city_manager"))}
    assert set(rows) == {world.county_a.name, world.county_b.name}
    a = rows[world.county_a.name]
    assert (a.total, a.passed, a.failed) == (26, 13, 12)
    assert rows[world.county_b.name].rate == pytest.approx(1 / 5)
    own = compliance.by_org(world.user("a_manager"))
    assert {o.org_name for o in own} == {world.county_a.name, world.vendor.name}
    assert all(o.org_name != world.county_b.name for o in compliance.by_org(world.user("a_staff")))


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_it_uses_a_constant_number_of_queries(world):
    b = make_standard(world.city)
    judge(b.rules["sample"], world.county_a, "pass", 3)
    judge(b.rules["urgent"], world.county_b, "fail", 2)

    def user():
        from dayuan.accounts.models import User

        return User.objects.get(username="city_manager")  # fresh: grants not cached

    calls = {
        "clause_compliance": lambda u: compliance.clause_compliance(u),
        "most_violated": lambda u: compliance.most_violated(u),
        "never_exercised": lambda u: compliance.never_exercised(u, b.standard.pk),
        "trend": lambda u: compliance.trend(u),
        "by_org": lambda u: compliance.by_org(u),
    }
    small = {}
    for name, fn in calls.items():
        u = user()
        small[name] = _queries(lambda fn=fn, u=u: fn(u))
    for i in range(1000):
        rule = b.rules["sample"] if i % 2 else b.rules["urgent"]
        org = (world.county_a, world.county_b, world.vendor)[i % 3]
        judge(rule, org, ("pass", "fail", "na")[i % 3], at=timezone.now() - timedelta(days=i % 300))
    assert Judgment.objects.count() == 1005
    for name, fn in calls.items():
        u = user()
        assert _queries(lambda fn=fn, u=u: fn(u)) == small[name], name
    assert small["clause_compliance"] <= 3  # the grants, one GROUP BY, the clauses
    total = sum(s.total for s in compliance.clause_compliance(user()))
    assert total == 1005
