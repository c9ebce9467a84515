"""The standards API through HTTP: library, authoring, publishing, adoption, effective rules."""

import pytest

from dayuan.standards.models import Adoption

from .factories_core import (
    SLA_P1,
    build_standard,
    fresh_effective_cache,  # noqa: F401 (autouse fixture)
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/standards"


def _codes(resp):
    assert resp.status_code == 200, resp.content
    return {s["code"] for s in resp.json()["items"]}


@pytest.fixture
def library(world):
    city, _ = build_standard(world.user("city_manager"), world.city, "city-std")
    a, _ = build_standard(world.user("a_manager"), world.county_a, "a-std")
    b, _ = build_standard(world.user("b_manager"), world.county_b, "b-std")
    return {"city": city, "a": a, "b": b}


def test_it_shares_the_library_down_the_tree_only(world, api, library):
    assert _codes(api(world.user("a_staff")).get(BASE)) == {"city-std", "a-std"}
    assert _codes(api(world.user("b_staff")).get(BASE)) == {"city-std", "b-std"}
    assert _codes(api(world.user("vendor_worker")).get(BASE)) == {"city-std", "a-std"}
    assert _codes(api(world.user("city_manager")).get(BASE)) == {"city-std", "a-std", "b-std"}
    assert _codes(api(world.user("a_staff")).get(f"{BASE}?q=city")) == {"city-std"}
    resp = api(world.user("b_staff")).get(f"{BASE}/{library['a'].pk}")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    resp = api(world.user("a_staff")).get(f"{BASE}/{library['city'].pk}")
    assert resp.status_code == 200 and resp.json()["issuing_org_name"] == world.city.name
    assert api().get(BASE).status_code == 401


def test_it_authors_publishes_and_refuses_editing_a_published_version(world, api):
    c = api(world.user("city_manager"))
    resp = c.post(
        BASE,
        {
            "code": "api-std",
            "title": "接口标准",
            "issuing_org_id": world.city.pk,
            "domain": "property",
        },
    )
    assert resp.status_code == 201, resp.content
    std = resp.json()
    versions = c.get(f"{BASE}/{std['id']}/versions").json()
    assert [v["status"] for v in versions] == ["draft"]
    vid = versions[0]["id"]
    resp = c.post(
        f"{BASE}/versions/{vid}/clauses",
        {"number": "P1", "text": "急修到场时限", "severity": "key", "binding": True},
    )
    assert resp.status_code == 200, resp.content
    clause_id = resp.json()["id"]
    bad = c.post(
        f"{BASE}/clauses/{clause_id}/rules",
        {"key": "p1_arrive", "kind": "sla", "params": {"category": "Bad Category", "timers": []}},
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_rule" and bad.json()["details"]["errors"]
    resp = c.post(
        f"{BASE}/clauses/{clause_id}/rules", {"key": "p1_arrive", "kind": "sla", "params": SLA_P1}
    )
    assert resp.status_code == 200 and resp.json()["target"] == "workorder:repair.urgent"

    # Drafts are hidden from staff.
    assert api(world.user("a_staff")).get(f"{BASE}/versions/{vid}").status_code == 404
    resp = c.post(f"{BASE}/versions/{vid}/publish", {"change_note": "首版"})
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"] == "published" and len(resp.json()["content_hash"]) == 64

    detail = api(world.user("a_staff")).get(f"{BASE}/versions/{vid}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["standard_code"] == "api-std"
    assert body["clauses"][0]["number"] == "P1"
    assert body["clauses"][0]["rules"][0]["params"]["timers"][0]["minutes"] == 30

    resp = c.post(
        f"{BASE}/versions/{vid}/clauses",
        {"number": "P1", "text": "改", "severity": "key", "binding": True},
    )
    assert resp.status_code == 409 and resp.json()["code"] == "version_published"
    resp = c.delete(f"{BASE}/clauses/{clause_id}")
    assert resp.status_code == 409

    resp = c.post(f"{BASE}/{std['id']}/drafts")
    assert resp.status_code == 201 and resp.json()["number"] == 2
    resp = c.post(f"{BASE}/{std['id']}/drafts")
    assert resp.status_code == 409 and resp.json()["code"] == "draft_exists"

    history = c.get(f"{BASE}/{std['id']}/history").json()["items"]
    assert history[0]["action"] == "standards.version.create"
    assert {h["action"] for h in history} >= {
        "standards.standard.create",
        "standards.clause.upsert",
        "standards.rule.upsert",
        "standards.version.publish",
    }


def test_it_refuses_authoring_to_staff_and_other_counties(world, api, library):
    resp = api(world.user("a_staff")).post(
        BASE,
        {"code": "x", "title": "x", "issuing_org_id": world.county_a.pk, "domain": "general"},
    )
    assert resp.status_code == 403 and resp.json()["code"] == "permission_denied"
    resp = api(world.user("b_manager")).post(
        BASE,
        {"code": "x", "title": "x", "issuing_org_id": world.county_a.pk, "domain": "general"},
    )
    assert resp.status_code == 404
    resp = api(world.user("a_manager")).post(
        BASE,
        {"code": "x", "title": "x", "issuing_org_id": world.county_a.pk, "domain": "nope"},
    )
    assert resp.status_code == 422 and resp.json()["code"] == "validation_error"
    resp = api(world.user("a_manager")).post(f"{BASE}/{library['city'].pk}/drafts")
    assert resp.status_code == 403
    resp = api(world.user("b_manager")).post(f"{BASE}/{library['a'].pk}/drafts")
    assert resp.status_code == 404


def test_it_pilots_and_releases_through_the_api(world, api, library):
    c = api(world.user("city_manager"))
    std = library["city"]
    c.post(f"{BASE}/adoptions", {"org_id": world.city.pk, "standard_id": std.pk})
    draft = c.post(f"{BASE}/{std.pk}/drafts").json()
    resp = c.post(f"{BASE}/versions/{draft['id']}/publish", {"pilot_org_ids": [world.county_a.pk]})
    assert resp.status_code == 200, resp.content
    assert resp.json()["pilot_org_ids"] == [world.county_a.pk]
    assert not resp.json()["general_release"]

    def version_at(user, org):
        resp = api(user).get(f"{BASE}/effective?org_id={org.pk}&kind=sla")
        assert resp.status_code == 200, resp.content
        return resp.json()[0]["version_number"]

    assert version_at(world.user("a_staff"), world.county_a) == 2
    assert version_at(world.user("b_staff"), world.county_b) == 1
    resp = c.post(f"{BASE}/versions/{draft['id']}/release")
    assert resp.status_code == 200 and resp.json()["general_release"]
    assert version_at(world.user("b_staff"), world.county_b) == 2
    resp = c.post(f"{BASE}/versions/{draft['id']}/release")
    assert resp.status_code == 409 and resp.json()["code"] == "not_in_pilot"


def test_it_adopts_tightens_and_refuses_loosening_citing_the_clause(world, api, library):
    std = library["city"]
    a = api(world.user("a_manager"))
    resp = a.post(
        f"{BASE}/adoptions",
        {
            "org_id": world.county_a.pk,
            "standard_id": std.pk,
            "overrides": {"p1_arrive": {"timers.arrive.minutes": 45}},
        },
    )
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "override_loosens_binding"
    assert "条款 P1" in body["message"] and "≤ 30 分钟" in body["message"]
    assert body["details"]["clause"] == "P1" and body["details"]["standard"] == "city-std"

    resp = a.post(
        f"{BASE}/adoptions",
        {
            "org_id": world.county_a.pk,
            "standard_id": std.pk,
            "overrides": {"p1_arrive": {"timers.arrive.minutes": 20}},
        },
    )
    assert resp.status_code == 201, resp.content
    adoption = resp.json()
    assert adoption["version"] == 1 and adoption["pinned_version_id"] is None
    resp = a.post(f"{BASE}/adoptions", {"org_id": world.county_a.pk, "standard_id": std.pk})
    assert resp.status_code == 409 and resp.json()["code"] == "already_adopted"

    resp = a.patch(
        f"{BASE}/adoptions/{adoption['id']}",
        {"version": 1, "overrides": {"p1_arrive": {"timers.arrive.minutes": 18}}},
    )
    assert resp.status_code == 200 and resp.json()["version"] == 2
    resp = a.patch(f"{BASE}/adoptions/{adoption['id']}", {"version": 1, "overrides": {}})
    assert resp.status_code == 409 and resp.json()["code"] == "stale_version"
    resp = a.patch(
        f"{BASE}/adoptions/{adoption['id']}",
        {"version": 2, "overrides": {"p1_arrive": {"nope": 1}}},
    )
    assert resp.status_code == 422 and resp.json()["code"] == "unknown_tunable"
    assert resp.json()["details"]["path"] == "nope"

    rules = a.get(f"{BASE}/effective?org_id={world.county_a.pk}").json()
    p1 = next(r for r in rules if r["key"] == "p1_arrive")
    assert p1["params"]["timers"][0]["minutes"] == 18
    assert p1["overridden"] == {"timers.arrive.minutes": 18}
    assert p1["clause_number"] == "P1" and p1["standard_code"] == "city-std"


def test_county_b_cannot_see_or_change_county_a_adoptions(world, api, library):
    std = library["city"]
    resp = api(world.user("a_manager")).post(
        f"{BASE}/adoptions",
        {
            "org_id": world.county_a.pk,
            "standard_id": std.pk,
            "overrides": {"p1_arrive": {"timers.arrive.minutes": 20}},
        },
    )
    adoption_id = resp.json()["id"]
    b = api(world.user("b_manager"))
    assert b.get(f"{BASE}/adoptions").json()["items"] == []
    assert b.get(f"{BASE}/adoptions?org_id={world.county_a.pk}").json()["items"] == []
    assert b.get(f"{BASE}/adoptions/{adoption_id}").status_code == 404
    resp = b.patch(f"{BASE}/adoptions/{adoption_id}", {"version": 1, "overrides": {}})
    assert resp.status_code == 404
    resp = b.post(f"{BASE}/adoptions/{adoption_id}/withdraw", {"version": 1})
    assert resp.status_code == 404
    resp = b.post(f"{BASE}/adoptions", {"org_id": world.county_a.pk, "standard_id": std.pk})
    assert resp.status_code == 404
    resp = b.get(f"{BASE}/effective?org_id={world.county_a.pk}")
    assert resp.status_code == 404
    history = b.get(f"{BASE}/{std.pk}/history").json()["items"]
    assert all(h["object_type"] != "standards.adoption" for h in history)
    # County B may not adopt county A's standard either: it is not in its library.
    resp = b.post(
        f"{BASE}/adoptions", {"org_id": world.county_b.pk, "standard_id": library["a"].pk}
    )
    assert resp.status_code == 404
    assert Adoption.objects.get(pk=adoption_id).overrides == {
        "p1_arrive": {"timers.arrive.minutes": 20}
    }
    # The city sees county A's adoption; county A's staff sees it but cannot change it.
    city_items = api(world.user("city_manager")).get(f"{BASE}/adoptions").json()["items"]
    assert [i["org_id"] for i in city_items] == [world.county_a.pk]
    resp = api(world.user("a_staff")).patch(
        f"{BASE}/adoptions/{adoption_id}", {"version": 1, "overrides": {}}
    )
    assert resp.status_code == 403


def test_it_withdraws_and_retires(world, api, library):
    c = api(world.user("city_manager"))
    std = library["city"]
    adoption = c.post(f"{BASE}/adoptions", {"org_id": world.city.pk, "standard_id": std.pk}).json()
    assert c.get(f"{BASE}/effective?org_id={world.county_b.pk}").json()
    resp = c.post(f"{BASE}/adoptions/{adoption['id']}/withdraw", {"version": 1})
    assert resp.status_code == 200 and not resp.json()["is_active"]
    assert c.get(f"{BASE}/effective?org_id={world.county_b.pk}").json() == []
    resp = c.post(f"{BASE}/{std.pk}/retire", {})
    assert resp.status_code == 200 and resp.json()["status"] == "retired"
    resp = c.post(f"{BASE}/{std.pk}/retire", {})
    assert resp.status_code == 409 and resp.json()["code"] == "standard_retired"
    resp = c.patch(f"{BASE}/{std.pk}", {"version": 1, "title": "x"})
    assert resp.status_code == 409 and resp.json()["code"] == "stale_version"
