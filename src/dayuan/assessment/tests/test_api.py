"""The assessment API end to end: schemes, contracts (with Idempotency-Key), deduction
events, a run from draft to final with an assessor, an appeal, the ranking, surveys."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ..models import Contract, Run
from .factories import FORMULA, build
from .helpers import RUNS, create_run, publish, put, score_all

pytestmark = pytest.mark.django_db

BASE = "/api/v1/assessment"


@pytest.fixture
def s(world):
    return build(world)


def _contract(world, s, number="HT-2026-009", **extra):
    return {
        "org_id": world.county_a.pk,
        "vendor_id": world.vendor.pk,
        "number": number,
        "title": "甲县机关食堂保洁合同",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "monthly_fee": "50000.00",
        "scheme_id": s.scheme.pk,
        "payment_formula": FORMULA,
        "status": "active",
        **extra,
    }


def test_contract_create_replay_list_and_update(world, api, s):
    mgr = api(s.user("a_manager"))
    first = mgr.post(f"{BASE}/contracts", _contract(world, s), HTTP_IDEMPOTENCY_KEY="ct-1")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["vendor_name"] == world.vendor.name and body["monthly_fee"] == "50000.00"
    again = mgr.post(f"{BASE}/contracts", _contract(world, s), HTTP_IDEMPOTENCY_KEY="ct-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == body
    assert Contract.objects.filter(number="HT-2026-009").count() == 1

    listing = mgr.get(f"{BASE}/contracts").json()
    assert {c["number"] for c in listing["items"]} == {"HT-2026-001", "HT-2026-009"}
    path = f"{BASE}/contracts/{body['id']}"
    updated = put(mgr, path, _contract(world, s, title="新标题", version=body["version"]))
    assert updated.status_code == 200, updated.content
    assert updated.json()["title"] == "新标题"
    stale = put(mgr, path, _contract(world, s, title="旧", version=body["version"]))
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    # a county staff member may neither see nor make contracts
    staff = api(s.user("a_staff"))
    assert staff.get(f"{BASE}/contracts").json()["count"] == 0
    refused = staff.post(f"{BASE}/contracts", _contract(world, s, number="HT-X"))
    assert refused.status_code in (403, 404)


def test_schemes_listed_with_their_indicators_and_created(world, api, s):
    mgr = api(s.user("a_manager"))
    listing = mgr.get(f"{BASE}/schemes").json()["items"]
    codes = {x["code"] for x in listing}
    # the county's own scheme and the city's (usable below it)
    assert {"wy-kh", "county-kh"} <= codes
    wy = next(x for x in listing if x["code"] == "wy-kh")
    assert [i["key"] for i in wy["indicators"]][:2] == ["insp_pass", "rect_on_time"]
    body = {
        "org_id": world.county_a.pk,
        "code": "bj-kh",
        "name": "保洁考核",
        "subject_kind": "contract",
        "pass_line": "60",
        "grades": [{"grade": "pass", "label": "合格", "min_score": 60}],
        "indicators": [
            {"key": "insp", "label": "检查合格率", "sort": "computed",
             "source": "inspection_pass_rate", "weight": "60", "target": 100, "floor": 60},
            {"key": "site", "label": "现场", "sort": "scored", "weight": "40",
             "max_score": "40", "scorer_role": "assessor"},
        ],
        "deduction_rules": [{"kind": "event", "match": "media", "points": "5", "money": "0"}],
    }  # fmt: skip
    made = mgr.post(f"{BASE}/schemes", body)
    assert made.status_code == 201, made.content
    assert [i["key"] for i in made.json()["indicators"]] == ["insp", "site"]
    bad = mgr.post(f"{BASE}/schemes", {**body, "code": "bad", "indicators": body["indicators"][:1]})
    assert bad.status_code == 422


def test_deduction_events_recorded_listed_and_cancelled(world, api, s):
    insp = api(s.user("a_inspector"))
    made = insp.post(
        f"{BASE}/events",
        {
            "org_id": world.county_a.pk,
            "subject_org_id": world.vendor.pk,
            "event_type": "criticism",
            "occurred_at": "2026-02-03T10:00:00+08:00",
            "description": "会议保障不到位，通报批评",
            "contract_id": s.contract.pk,
        },
    )
    assert made.status_code == 201, made.content
    ev = made.json()
    assert ev["event_type_label"] == "通报批评" and not ev["cancelled"]
    vendor = api(s.user("vendor_worker"))
    assert [e["id"] for e in vendor.get(f"{BASE}/events").json()["items"]] == [ev["id"]]
    cancelled = api(s.user("a_manager")).post(
        f"{BASE}/events/{ev['id']}/cancel", {"reason": "误报"}
    )
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["cancelled"] is True
    listed = insp.get(f"{BASE}/events?cancelled=false").json()
    assert listed["count"] == 0


def test_run_from_draft_to_final_through_http(world, api, s):
    run_id = create_run(api, s)
    mgr = api(s.user("a_manager"))
    draft = mgr.get(f"{RUNS}/{run_id}").json()
    assert draft["status"] == "draft" and draft["can_manage"]
    assert {i["key"] for i in draft["items"]} == {
        "insp_pass",
        "rect_on_time",
        "missed",
        "site",
        "manager",
    }
    # compute refuses while scored items have no score
    early = mgr.post(f"{RUNS}/{run_id}/compute", {})
    assert early.status_code == 422 and early.json()["code"] == "unscored_items"

    score_all(api, s, run_id)
    assessor = api(s.user("assessor")).get(f"{RUNS}/{run_id}").json()
    assert [i["key"] for i in assessor["items"]] == ["site"]
    assert assessor["scorable_items"] == ["site"]
    assert assessor["deductions"] == [] and assessor["inputs"] is None
    # the assessor may not score the manager's item
    wrong = api(s.user("assessor")).post(
        f"{RUNS}/{run_id}/scores", {"item_key": "manager", "score": "10"}
    )
    assert wrong.status_code in (403, 404, 422)

    computed = mgr.post(f"{RUNS}/{run_id}/compute", {}).json()
    assert computed["status"] == "computed"
    # no inspections: the pass and rectification rates have no data and are left out;
    # no missed occurrences (10/10), site 20/25, manager 12/15: 42 of 50, rescaled to 100
    assert Decimal(computed["score"]) == Decimal("84.00")
    assert computed["passed"] is True and computed["grade"] == "good"
    assert Decimal(computed["fee"]) == Decimal("300000.00")
    assert Decimal(computed["payable"]) == Decimal("252000.00")
    assert computed["inputs_hash"] and computed["inputs"]
    assert any(w.get("step") == "formula" for w in computed["payable_working"])

    published = publish(api, s, run_id)
    assert published["status"] == "published"
    vendor = api(s.user("vendor_worker"))
    seen = vendor.get(f"{RUNS}/{run_id}").json()
    assert seen["can_appeal"] and not seen["can_manage"] and seen["inputs"] is None
    assert all(sc["scorer_id"] is None for i in seen["items"] for sc in i["scores"])
    appealed = vendor.post(
        f"{RUNS}/{run_id}/appeals", {"item_keys": ["site"], "reason": "现场评分依据不足"}
    )
    assert appealed.status_code == 201, appealed.content
    assert appealed.json()["status"] == "appealed"
    appeal_id = appealed.json()["appeals"][0]["id"]
    # the vendor cannot decide its own appeal
    assert vendor.post(
        f"{BASE}/appeals/{appeal_id}/decide", {"upheld": False, "decision": "x"}
    ).status_code in (403, 404)
    decided = mgr.post(
        f"{BASE}/appeals/{appeal_id}/decide", {"upheld": False, "decision": "评分有据，维持原结果"}
    )
    assert decided.status_code == 200, decided.content
    final = decided.json()
    assert final["status"] == "final" and final["appeals"][0]["status"] == "dismissed"
    assert [e["action"] for e in final["events"]][:1] and len(final["events"]) >= 4
    assert Run.objects.get(pk=run_id).status == "final"


def test_batch_runs_and_ranking(world, api, s):
    mgr = api(s.user("a_manager"))
    made = mgr.post(
        f"{RUNS}/batch",
        {"org_id": world.county_a.pk, "period_kind": "month", "period_start": "2026-03-01"},
    )
    assert made.status_code == 201, made.content
    assert [r["contract_number"] for r in made.json()] == ["HT-2026-001"]
    rows = mgr.get(
        f"{BASE}/ranking?scheme_id={s.scheme.pk}&period_kind=month&period_start=2026-03-01"
    ).json()
    assert [r["subject_name"] for r in rows] == [world.vendor.name]
    assert rows[0]["rank"] is None  # not computed yet
    assert mgr.get(f"{BASE}/ranking?scheme_id={s.scheme.pk}").status_code == 422


def test_survey_created_opened_answered_and_counted(world, api, s):
    mgr = api(s.user("a_manager"))
    made = mgr.post(
        f"{BASE}/surveys",
        {
            "org_id": world.county_a.pk,
            "title": "物业服务满意度调查",
            "closes_at": (timezone.now() + timedelta(days=7)).isoformat(),
            "questions": [
                {"text": "服务态度", "kind": "rating"},
                {"text": "意见建议", "kind": "text", "required": False},
            ],
            "invitee_ids": [s.user("a_staff").pk, s.user("a_dispatcher").pk],
            "subject_org_id": world.vendor.pk,
            "contract_id": s.contract.pk,
        },
    )
    assert made.status_code == 201, made.content
    survey = made.json()
    staff = api(s.user("a_staff"))
    assert staff.get(f"{BASE}/surveys").json()["count"] == 0  # a draft is not shown
    opened = mgr.post(f"{BASE}/surveys/{survey['id']}/open", {"version": survey["version"]})
    assert opened.status_code == 200, opened.content
    mine = staff.get(f"{BASE}/surveys").json()["items"]
    assert [x["id"] for x in mine] == [survey["id"]] and mine[0]["invited"]
    q = staff.get(f"{BASE}/surveys/{survey['id']}").json()["questions"]
    answered = staff.post(
        f"{BASE}/surveys/{survey['id']}/respond", {"answers": {str(q[0]["id"]): 5}}
    )
    assert answered.status_code == 200, answered.content
    assert answered.json()["responded"] is True
    twice = staff.post(f"{BASE}/surveys/{survey['id']}/respond", {"answers": {str(q[0]["id"]): 4}})
    assert twice.status_code == 409
    results = mgr.get(f"{BASE}/surveys/{survey['id']}/results")
    assert results.status_code == 200, results.content
    data = results.json()
    assert data["invited"] == 2 and data["responded"] == 1 and data["response_rate"] == 0.5
    assert "responses" not in data  # anonymous: nothing names anyone
    assert staff.get(f"{BASE}/surveys/{survey['id']}/results").status_code in (403, 404)
    # not invited: not shown
    assert api(s.user("vendor_worker")).get(f"{BASE}/surveys/{survey['id']}").status_code == 404
