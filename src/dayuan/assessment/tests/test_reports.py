"""Reports and rankings: the PDF's text, the workbook, the ranking order, and query
counts that do not grow with the number of vendors and runs."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from dayuan.core.testing import make_org
from dayuan.orgs.choices import OrgKind

from ..models import Contract, Run
from ..runs import period_end
from .factories import FORMULA, build
from .helpers import RUNS, create_run, publish, score_all

pytestmark = pytest.mark.django_db

BASE = "/api/v1/assessment"


@pytest.fixture
def s(world):
    return build(world)


def _published(api, s) -> dict:
    run_id = create_run(api, s)
    score_all(api, s, run_id)
    return publish(api, s, run_id)


def test_the_pdf_names_the_vendor_the_score_and_the_payable(world, api, s):
    run = _published(api, s)
    resp = api(s.user("a_manager")).get(f"{RUNS}/{run['id']}/pdf")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(resp.content)).pages)
    assert world.vendor.name in text
    assert f"{Decimal(run['score']):.2f}" in text  # 84.00
    assert f"{Decimal(run['payable']):,.2f}" in text  # 252,000.00
    assert "现场管理（第三方）" in text and "现场整洁" in text  # items and a comment
    assert "assessor" not in text  # comments name the role, never the person
    # the vendor downloads the same report of its published run
    vendor = api(s.user("vendor_worker")).get(f"{RUNS}/{run['id']}/pdf")
    assert vendor.status_code == 200
    assert world.vendor.name in PdfReader(io.BytesIO(vendor.content)).pages[0].extract_text()


def test_the_workbook_opens_with_its_four_sheets(world, api, s):
    run = _published(api, s)
    resp = api(s.user("a_manager")).get(f"{RUNS}/{run['id']}/xlsx")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.content))
    assert wb.sheetnames == ["汇总", "指标", "扣分", "排名"]
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["被考核单位"] == world.vendor.name
    assert summary["得分"] == float(run["score"]) == 84.0
    assert summary["应付金额（元）"] == float(run["payable"]) == 252000.0
    ranking = list(wb["排名"].iter_rows(min_row=2, values_only=True))
    assert ranking[0][:2] == (1, world.vendor.name)


def _vendors(world, s, n: int, months: int = 12) -> list[Run]:
    """``n`` vendors of county A with a contract each and ``months`` computed monthly
    runs, bulk-created; scores spread so the ranking has ties."""
    vendors = [
        make_org(f"物业公司{i:02d}", f"v-{i}", OrgKind.VENDOR, world.county_a) for i in range(n)
    ]
    contracts = Contract.objects.bulk_create(
        [
            Contract(
                org=world.county_a, vendor=v, number=f"HT-Q-{i:03d}", title=f"合同{i}",
                status="active", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
                monthly_fee=Decimal("10000"), scheme=s.scheme, payment_formula=FORMULA,
            )
            for i, v in enumerate(vendors)
        ]
    )  # fmt: skip
    runs = []
    for m in range(1, months + 1):
        start = date(2026, m, 1)
        for i, c in enumerate(contracts):
            score = Decimal(60 + (i * 7) % 40)
            runs.append(
                Run(
                    org=world.county_a, scheme=s.scheme, contract=c, subject_org_id=c.vendor_id,
                    period_kind="month", period_start=start,
                    period_end=period_end("month", start), status="published", score=score,
                    grade="pass", grade_label="合格", passed=True, fee=Decimal("10000"),
                    payable=score * 100,
                )
            )  # fmt: skip
    return Run.objects.bulk_create(runs)


def test_ranking_orders_by_score_with_shared_ranks(world, api, s):
    _vendors(world, s, 6, months=1)
    # an uncomputed run comes last, unranked
    Run.objects.create(
        org=world.county_a, scheme=s.scheme, contract=s.contract, subject_org=world.vendor,
        period_kind="month", period_start=date(2026, 1, 1), period_end=date(2026, 1, 31),
    )  # fmt: skip
    Run.objects.filter(subject_org__name="物业公司05").update(score=Decimal("81"))
    rows = (
        api(s.user("a_manager"))
        .get(f"{BASE}/ranking?scheme_id={s.scheme.pk}&period_kind=month&period_start=2026-01-01")
        .json()
    )
    scores = [(r["rank"], r["subject_name"], r["score"]) for r in rows]
    # scores: 00→60, 01→67, 02→74, 03→81, 04→88, 05→81 (set above)
    assert scores == [
        (1, "物业公司04", "88.00"),
        (2, "物业公司03", "81.00"),
        (2, "物业公司05", "81.00"),
        (4, "物业公司02", "74.00"),
        (5, "物业公司01", "67.00"),
        (6, "物业公司00", "60.00"),
        (None, world.vendor.name, None),
    ]


def test_lists_and_ranking_cost_a_fixed_number_of_queries(
    world, api, s, django_assert_max_num_queries
):
    _vendors(world, s, 50)
    assert Run.objects.count() == 600
    mgr = api(s.user("a_manager"))
    mgr.get(f"{BASE}/contracts")  # warm the token and grants
    with django_assert_max_num_queries(12):
        page = mgr.get(f"{RUNS}?page_size=200").json()
    assert page["count"] == 600 and len(page["items"]) == 200
    with django_assert_max_num_queries(12):
        contracts = mgr.get(f"{BASE}/contracts?page_size=200").json()
    assert contracts["count"] == 51
    with django_assert_max_num_queries(12):
        rows = mgr.get(
            f"{BASE}/ranking?scheme_id={s.scheme.pk}&period_kind=month&period_start=2026-06-01"
        ).json()
    assert len(rows) == 50 and rows[0]["rank"] == 1
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), key=float, reverse=True)
    vendor = api(s.user("vendor_worker"))
    with django_assert_max_num_queries(12):
        assert vendor.get(f"{RUNS}?page_size=200").json()["count"] == 0
    with django_assert_max_num_queries(12):
        assert mgr.get(f"{BASE}/schemes?page_size=200").json()["count"] >= 2
