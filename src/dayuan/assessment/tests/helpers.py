"""Shared steps of the API tests: a contract run taken to published through HTTP."""

from __future__ import annotations

from typing import Any

RUNS = "/api/v1/assessment/runs"


def put(client: Any, path: str, data: dict[str, Any]) -> Any:
    return client._call("put", path, data)


def create_run(api: Any, s: Any, period_start: str = "2026-01-01", kind: str = "quarter") -> int:
    resp = api(s.user("a_manager")).post(
        RUNS,
        {
            "scheme_id": s.scheme.pk,
            "period_kind": kind,
            "period_start": period_start,
            "contract_id": s.contract.pk,
        },
    )
    assert resp.status_code == 201, resp.content
    return resp.json()["id"]


def score_all(api: Any, s: Any, run_id: int, site: str = "20", manager: str = "12") -> None:
    mgr = api(s.user("a_manager"))
    for user, role in (("assessor", "assessor"), ("a_manager", "manager")):
        resp = mgr.post(f"{RUNS}/{run_id}/assessors", {"user_id": s.user(user).pk, "role": role})
        assert resp.status_code == 201, resp.content
    resp = api(s.user("assessor")).post(
        f"{RUNS}/{run_id}/scores",
        {"item_key": "site", "score": site, "comment": "现场整洁", "evidence": "巡查照片"},
    )
    assert resp.status_code == 200, resp.content
    resp = mgr.post(f"{RUNS}/{run_id}/scores", {"item_key": "manager", "score": manager})
    assert resp.status_code == 200, resp.content


def publish(api: Any, s: Any, run_id: int) -> dict[str, Any]:
    """Compute, submit for review and publish (scores given first)."""
    mgr = api(s.user("a_manager"))
    out: dict[str, Any] = {}
    for step in ("compute", "submit", "publish"):
        resp = mgr.post(f"{RUNS}/{run_id}/{step}", {})
        assert resp.status_code == 200, (step, resp.content)
        out = resp.json()
    return out
