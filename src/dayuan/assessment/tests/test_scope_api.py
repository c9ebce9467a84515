"""Org scope through the API: county B sees nothing of county A's assessment; a
third-party assessor sees only the runs assigned to them; a vendor's worker sees only
its own runs, and only once published."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from .factories import build
from .helpers import RUNS, create_run, publish, score_all

pytestmark = pytest.mark.django_db

BASE = "/api/v1/assessment"
B_USERS = ("b_staff", "b_manager", "b_dispatcher", "b_inspector", "b_admin")


@pytest.fixture
def county_a(world, api):
    s = build(world)
    run_id = create_run(api, s)
    mgr = api(s.user("a_manager"))
    event = mgr.post(
        f"{BASE}/events",
        {
            "org_id": world.county_a.pk,
            "subject_org_id": world.vendor.pk,
            "event_type": "media",
            "occurred_at": "2026-02-03T10:00:00+08:00",
            "description": "媒体曝光",
        },
    )
    assert event.status_code == 201, event.content
    survey = mgr.post(
        f"{BASE}/surveys",
        {
            "org_id": world.county_a.pk,
            "title": "满意度调查",
            "closes_at": (timezone.now() + timedelta(days=7)).isoformat(),
            "questions": [{"text": "服务态度", "kind": "rating"}],
            "invitee_ids": [s.user("a_staff").pk],
        },
    )
    assert survey.status_code == 201, survey.content
    return {"s": s, "run": run_id, "event": event.json()["id"], "survey": survey.json()["id"]}


def test_county_b_gets_404_for_every_county_a_record(world, api, county_a):
    s = county_a["s"]
    paths = [
        f"{RUNS}/{county_a['run']}",
        f"{RUNS}/{county_a['run']}/pdf",
        f"{RUNS}/{county_a['run']}/xlsx",
        f"{BASE}/contracts/{s.contract.pk}",
        f"{BASE}/schemes/{s.scheme.pk}",
        f"{BASE}/surveys/{county_a['survey']}",
        f"{BASE}/surveys/{county_a['survey']}/results",
    ]
    for name in B_USERS:
        client = api(world.user(name))
        for path in paths:
            assert client.get(path).status_code == 404, (name, path)
        for path in ("runs", "contracts", "events", "surveys"):
            assert client.get(f"{BASE}/{path}").json()["count"] == 0, (name, path)
        for step in ("compute", "submit", "publish", "finalise"):
            resp = client.post(f"{RUNS}/{county_a['run']}/{step}", {})
            assert resp.status_code == 404, (name, step)
        assert (
            client.post(f"{BASE}/events/{county_a['event']}/cancel", {"reason": "x"}).status_code
            == 404
        )
        ranking = client.get(
            f"{BASE}/ranking?scheme_id={s.scheme.pk}&period_kind=quarter&period_start=2026-01-01"
        )
        assert ranking.status_code == 200 and ranking.json() == []


def test_county_b_manager_cannot_write_into_county_a(world, api, county_a):
    s = county_a["s"]
    b = api(world.user("b_manager"))
    resp = b.post(
        RUNS,
        {"scheme_id": s.scheme.pk, "period_kind": "month", "period_start": "2026-02-01",
         "contract_id": s.contract.pk},
    )  # fmt: skip
    assert resp.status_code in (403, 404)
    resp = b.post(f"{RUNS}/{county_a['run']}/assessors", {"user_id": world.user("b_staff").pk})
    assert resp.status_code == 404


def test_assessor_sees_only_assigned_runs(world, api, county_a):
    s = county_a["s"]
    assessor = api(s.user("assessor"))
    run_id = county_a["run"]
    assert assessor.get(f"{RUNS}/{run_id}").status_code == 404
    assert assessor.get(RUNS).json()["count"] == 0
    assert (
        assessor.post(f"{RUNS}/{run_id}/scores", {"item_key": "site", "score": "20"}).status_code
        == 404
    )
    other = create_run(api, s, period_start="2026-04-01")
    score_all(api, s, run_id)
    assert [r["id"] for r in assessor.get(RUNS).json()["items"]] == [run_id]
    detail = assessor.get(f"{RUNS}/{run_id}").json()
    assert [i["key"] for i in detail["items"]] == ["site"]
    assert [sc["scorer_id"] for sc in detail["items"][0]["scores"]] == [s.user("assessor").pk]
    assert detail["assessors"] == [] and detail["events"] == []
    assert assessor.get(f"{RUNS}/{other}").status_code == 404
    assert assessor.get(f"{BASE}/contracts/{s.contract.pk}").status_code == 200
    assert assessor.get(f"{BASE}/events").json()["count"] == 0


def test_vendor_worker_sees_its_runs_once_published(world, api, county_a):
    s = county_a["s"]
    vendor = api(s.user("vendor_worker"))
    run_id = county_a["run"]
    assert vendor.get(f"{RUNS}/{run_id}").status_code == 404
    assert vendor.get(RUNS).json()["count"] == 0
    assert vendor.get(f"{RUNS}/{run_id}/pdf").status_code == 404
    draft = create_run(api, s, period_start="2026-04-01")
    score_all(api, s, run_id)
    publish(api, s, run_id)
    listed = vendor.get(RUNS).json()["items"]
    assert [r["id"] for r in listed] == [run_id]
    assert vendor.get(f"{RUNS}/{draft}").status_code == 404
    assert vendor.get(f"{RUNS}/{run_id}/pdf").status_code == 200
    # its contracts and the events against it; not the centre's schemes
    assert [c["id"] for c in vendor.get(f"{BASE}/contracts").json()["items"]] == [s.contract.pk]
    assert vendor.get(f"{BASE}/events").json()["count"] == 1
    assert vendor.get(f"{BASE}/schemes").json()["count"] == 0
    # a vendor cannot move its own run
    assert vendor.post(f"{RUNS}/{run_id}/finalise", {}).status_code == 403
