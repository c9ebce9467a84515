"""The assessment pages: who sees what (county B never sees county A's; an assessor only
the runs assigned to them; the vendor its published results), and that every form posts
through the services (score, compute → publish, appeal, contract, scheme, event, survey)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dayuan.assessment import runs
from dayuan.assessment.models import (
    Appeal,
    Contract,
    DeductionEvent,
    ItemScore,
    Run,
    Scheme,
    Survey,
    SurveyResponse,
)

from .factories import FORMULA, build

pytestmark = pytest.mark.django_db

PERIOD = date(2026, 10, 1)


@pytest.fixture
def s(world):
    return build(world)


def client_for(s, name: str) -> Client:
    c = Client()
    c.force_login(s.user(name))
    return c


def make_run(s, *, assessor: bool = True, manager: bool = True) -> Run:
    actor = s.user("a_manager")
    run = runs.create_run(
        actor=actor,
        scheme_id=s.scheme.pk,
        period_kind="month",
        period_start=PERIOD,
        contract_id=s.contract.pk,
    )
    if assessor:
        runs.assign_assessor(
            actor=actor, run_id=run.pk, user_id=s.user("assessor").pk, role="assessor"
        )
    if manager:
        runs.assign_assessor(actor=actor, run_id=run.pk, user_id=actor.pk, role="manager")
    return run


def scored_and_published(s, run: Run | None = None) -> Run:
    run = run or make_run(s)
    runs.score_item(actor=s.user("assessor"), run_id=run.pk, item_key="site", score=20)
    runs.score_item(actor=s.user("a_manager"), run_id=run.pk, item_key="manager", score=12)
    actor = s.user("a_manager")
    runs.compute(actor=actor, run_id=run.pk)
    runs.submit_for_review(actor=actor, run_id=run.pk)
    return runs.publish(actor=actor, run_id=run.pk)


def test_manager_pages_render(s):
    run = make_run(s)
    c = client_for(s, "a_manager")
    for name, args in (
        ("assessment:runs", []),
        ("assessment:run", [run.pk]),
        ("assessment:contracts", []),
        ("assessment:contract", [s.contract.pk]),
        ("assessment:contract_new", []),
        ("assessment:contract_edit", [s.contract.pk]),
        ("assessment:schemes", []),
        ("assessment:scheme", [s.scheme.pk]),
        ("assessment:scheme_new", []),
        ("assessment:scheme_edit", [s.scheme.pk]),
        ("assessment:events", []),
        ("assessment:ranking", []),
        ("assessment:benefit", []),
        ("assessment:surveys", []),
        ("assessment:survey_new", []),
        ("assessment:mine", []),
    ):
        resp = c.get(reverse(name, args=args))
        assert resp.status_code == 200, name
    page = c.get(reverse("assessment:run", args=[run.pk])).content.decode()
    assert "甲县物业服务公司" in page and 'data-testid="compute"' in page
    assert c.get(reverse("assessment:home")).url == reverse("assessment:runs")


def test_county_b_gets_404_on_county_a(s):
    run = make_run(s)
    c = client_for(s, "b_manager")
    for name, pk in (
        ("assessment:run", run.pk),
        ("assessment:contract", s.contract.pk),
        ("assessment:scheme", s.scheme.pk),
        ("assessment:run_pdf", run.pk),
        ("assessment:run_xlsx", run.pk),
        ("assessment:contract_edit", s.contract.pk),
    ):
        assert c.get(reverse(name, args=[pk])).status_code == 404, name
    assert c.post(reverse("assessment:compute", args=[run.pk])).status_code == 404
    listing = c.get(reverse("assessment:runs")).content.decode()
    assert f'data-testid="run-{run.pk}"' not in listing
    assert "HT-2026-001" not in c.get(reverse("assessment:contracts")).content.decode()


def test_assessor_sees_only_assigned_runs_and_scores_through_the_service(s):
    assigned = make_run(s)
    other = runs.create_run(
        actor=s.user("a_manager"),
        scheme_id=s.scheme.pk,
        period_kind="month",
        period_start=date(2026, 9, 1),
        contract_id=s.contract.pk,
    )
    c = client_for(s, "assessor")
    assert c.get(reverse("assessment:home")).url == reverse("assessment:mine")
    mine = c.get(reverse("assessment:mine")).content.decode()
    assert f'data-testid="mine-{assigned.pk}"' in mine
    assert f'data-testid="mine-{other.pk}"' not in mine
    assert c.get(reverse("assessment:run", args=[other.pk])).status_code == 404
    assert c.get(reverse("assessment:runs")).status_code == 403
    # only the assessor's item is offered; the manager's item is not theirs
    detail = c.get(reverse("assessment:run", args=[assigned.pk])).content.decode()
    assert 'data-testid="score-site"' in detail and "item-manager" not in detail
    url = reverse("assessment:score", args=[assigned.pk, "site"])
    assert c.get(url).status_code == 200
    resp = c.post(url, {"score": "99", "comment": "x"})
    assert resp.status_code == 422  # over the item's maximum (25)
    resp = c.post(url, {"score": "21.5", "comment": "保洁到位", "evidence": "XJ-1"})
    assert resp.status_code == 302
    score = ItemScore.objects.get(item__run=assigned, item__key="site")
    assert score.score == Decimal("21.5") and score.comment == "保洁到位"
    assert score.scorer == s.user("assessor")
    # the manager's item refuses them (the service's refusal shown on the form)
    resp = c.post(reverse("assessment:score", args=[assigned.pk, "manager"]), {"score": "10"})
    assert resp.status_code in (404, 422)


def test_manager_scores_computes_submits_publishes_and_downloads(s):
    run = make_run(s)
    runs.score_item(actor=s.user("assessor"), run_id=run.pk, item_key="site", score=20)
    c = client_for(s, "a_manager")
    resp = c.post(
        reverse("assessment:score", args=[run.pk, "manager"]), {"score": "12", "comment": "好"}
    )
    assert resp.status_code == 302
    for action in ("compute", "submit", "publish"):
        run.refresh_from_db()
        resp = c.post(reverse(f"assessment:{action}", args=[run.pk]), {"version": run.version})
        assert resp.status_code == 302, action
    run.refresh_from_db()
    assert run.status == "published" and run.score is not None and run.payable is not None
    page = c.get(reverse("assessment:run", args=[run.pk])).content.decode()
    assert str(run.score) in page and str(run.payable) in page
    pdf = c.get(reverse("assessment:run_pdf", args=[run.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    xlsx = c.get(reverse("assessment:run_xlsx", args=[run.pk]))
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    ranking = c.get(
        reverse("assessment:ranking"),
        {"scheme": s.scheme.pk, "period_kind": "month", "period_start": PERIOD.isoformat()},
    ).content.decode()
    assert f'data-testid="rank-{s.world.vendor.pk}"' in ranking


def test_a_refused_transition_is_shown(s):
    run = make_run(s)  # nobody has scored: compute refuses (unscored items)
    c = client_for(s, "a_manager")
    resp = c.post(reverse("assessment:compute", args=[run.pk]), {"version": run.version})
    assert resp.status_code == 409
    assert 'data-testid="action-error"' in resp.content.decode()


def test_vendor_sees_its_published_run_and_appeals(s):
    draft = make_run(s)
    c = client_for(s, "vendor_worker")
    assert c.get(reverse("assessment:run", args=[draft.pk])).status_code == 404
    run = scored_and_published(s, draft)
    assert c.get(reverse("assessment:home")).url == reverse("assessment:results")
    results = c.get(reverse("assessment:results")).content.decode()
    assert f'data-testid="result-{run.pk}"' in results
    page = c.get(reverse("assessment:run", args=[run.pk])).content.decode()
    assert 'data-testid="appeal-form"' in page
    resp = c.post(
        reverse("assessment:appeal", args=[run.pk]),
        {"items": ["site"], "reason": "现场检查当日停水，非我方原因"},
    )
    assert resp.status_code == 302
    appeal = Appeal.objects.get(run=run)
    assert appeal.item_keys == ["site"]
    # the manager decides it on the run's page
    m = client_for(s, "a_manager")
    assert (
        'data-testid="decide-form"'
        in m.get(reverse("assessment:run", args=[run.pk])).content.decode()
    )
    resp = m.post(
        reverse("assessment:decide", args=[run.pk, appeal.pk]),
        {"upheld": "0", "decision": "证据不足"},
    )
    assert resp.status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == "dismissed"


def test_contract_edit_and_formula_test_post_through_the_services(s):
    c = client_for(s, "a_manager")
    contract = s.contract
    data = {
        "version": contract.version,
        "org": contract.org_id,
        "vendor": contract.vendor_id,
        "number": contract.number,
        "title": "甲县机关大院物业服务合同（续签）",
        "status": "active",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "monthly_fee": "120000.00",
        "scheme": s.scheme.pk,
        "payment_formula": FORMULA,
    }
    resp = c.post(reverse("assessment:contract_edit", args=[contract.pk]), data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    contract.refresh_from_db()
    assert contract.title.endswith("（续签）") and contract.monthly_fee == Decimal("120000.00")
    bad = c.post(
        reverse("assessment:contract_edit", args=[contract.pk]),
        {**data, "version": contract.version, "payment_formula": "score >>> 1"},
    )
    assert bad.status_code == 422
    preview = c.post(
        reverse("assessment:formula_test"),
        {
            "payment_formula": FORMULA,
            "score": "85",
            "fee": "100000",
            "deduction_money": "500",
            "deduction_points": "2",
            "pass_line": "60",
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "84500.00" in preview
    broken = c.post(
        reverse("assessment:formula_test"),
        {
            "payment_formula": "score +",
            "score": "85",
            "fee": "1",
            "deduction_money": "0",
            "deduction_points": "0",
            "pass_line": "60",
        },
    ).content.decode()
    assert 'data-testid="formula-error"' in broken
    assert Contract.objects.count() == 1


def _formset(prefix: str, rows: list[dict]) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def test_scheme_form_posts_through_save_scheme(s):
    c = client_for(s, "a_manager")
    data = {
        "org": s.world.county_a.pk,
        "code": "bj-kh",
        "name": "保洁考核方案",
        "subject_kind": "contract",
        "pass_line": "70",
        **_formset(
            "ind",
            [
                {
                    "key": "pass",
                    "label": "检查合格率",
                    "sort": "computed",
                    "source": "inspection_pass_rate",
                    "weight": "60",
                    "target": "100",
                    "floor": "60",
                    "better": "higher",
                },
                {
                    "key": "site",
                    "label": "现场",
                    "sort": "scored",
                    "weight": "40",
                    "better": "higher",
                    "max_score": "40",
                    "scorer_role": "assessor",
                },
            ],
        ),
        **_formset(
            "ded",
            [{"kind": "finding", "match": "key", "points": "5", "money": "0", "rectify_days": "3"}],
        ),
        **_formset("grade", [{"grade": "pass", "label": "合格", "min_score": "70"}]),
    }
    resp = c.post(reverse("assessment:scheme_new"), data)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    scheme = Scheme.objects.get(code="bj-kh")
    assert scheme.indicators.count() == 2 and scheme.deduction_rules.count() == 1
    # weights not summing to 100: the service refuses, the page says why
    data["code"] = "bj-kh2"
    data["ind-1-weight"] = "30"
    resp = c.post(reverse("assessment:scheme_new"), data)
    assert resp.status_code == 422
    assert not Scheme.objects.filter(code="bj-kh2").exists()


def test_events_record_and_cancel(s):
    c = client_for(s, "a_manager")
    resp = c.post(
        reverse("assessment:events"),
        {
            "org": s.world.county_a.pk,
            "subject_org": s.world.vendor.pk,
            "contract": s.contract.pk,
            "event_type": "criticism",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "rectify_days": "3",
            "description": "大厅保洁不到位被通报",
        },
    )
    assert resp.status_code == 302
    event = DeductionEvent.objects.get()
    assert event.subject_org == s.world.vendor and not event.cancelled
    assert "大厅保洁不到位" in c.get(reverse("assessment:events")).content.decode()
    assert (
        "大厅保洁不到位"
        not in client_for(s, "b_manager").get(reverse("assessment:events")).content.decode()
    )
    resp = c.post(reverse("assessment:event_cancel", args=[event.pk]), {"reason": "重复登记"})
    assert resp.status_code == 302
    event.refresh_from_db()
    assert event.cancelled


def test_survey_create_respond_and_results(s):
    c = client_for(s, "a_manager")
    staff = s.user("a_staff")
    resp = c.post(
        reverse("assessment:survey_new"),
        {
            "org": s.world.county_a.pk,
            "title": "物业服务满意度",
            "subject_org": s.world.vendor.pk,
            "closes_at": (timezone.localtime() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
            "anonymous": "on",
            "questions": "保洁是否及时\n总体评价｜满意｜一般｜不满意\n？其他建议",
            "invitees": [staff.pk, s.user("a_inspector").pk],
            "open_now": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    survey = Survey.objects.get()
    assert survey.status == "open" and survey.questions.count() == 3
    q1, q2, q3 = survey.questions.order_by("position")
    sc = client_for(s, "a_staff")
    listing = sc.get(reverse("assessment:surveys")).content.decode()
    assert f'data-testid="survey-{survey.pk}"' in listing
    assert (
        'data-testid="respond-form"'
        in sc.get(reverse("assessment:survey", args=[survey.pk])).content.decode()
    )
    resp = sc.post(
        reverse("assessment:survey", args=[survey.pk]),
        {f"q{q1.pk}": "5", f"q{q2.pk}": "满意", f"q{q3.pk}": "无"},
    )
    assert resp.status_code == 302
    response = SurveyResponse.objects.get()
    assert response.respondent is None  # anonymous
    again = sc.post(reverse("assessment:survey", args=[survey.pk]), {f"q{q1.pk}": "4"})
    assert again.status_code in (200, 422)
    assert SurveyResponse.objects.count() == 1
    results = c.get(reverse("assessment:survey_results", args=[survey.pk])).content.decode()
    assert 'data-testid="response-rate">50%' in results
    # not invited, not a manager: nothing to see
    assert (
        client_for(s, "b_staff").get(reverse("assessment:survey", args=[survey.pk])).status_code
        == 404
    )
    assert sc.get(reverse("assessment:survey_results", args=[survey.pk])).status_code == 404


def test_nav_entry(s):
    for name, shown in (
        ("a_manager", True),
        ("assessor", True),
        ("vendor_worker", True),
        ("a_staff", False),
    ):
        page = client_for(s, name).get(reverse("core:home")).content.decode()
        assert ('data-nav="assessment"' in page) is shown, name
