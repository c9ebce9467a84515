import pytest

pytestmark = pytest.mark.django_db


def test_it_issues_a_token_and_lists_only_own_county_locations(world, client):
    resp = client.post(
        "/api/v1/auth/token",
        {"username": "a_staff", "password": "Dayuan-demo-2026"},
        content_type="application/json",
    )
    assert resp.status_code == 200, resp.content
    token = resp.json()["token"]
    resp = client.get("/api/v1/locations?page_size=200", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert resp.status_code == 200
    orgs = {item["org_id"] for item in resp.json()["items"]}
    assert orgs == {world.county_a.pk}


def test_it_refuses_a_location_in_another_county(world, api):
    resp = api(world.user("a_manager")).post(
        "/api/v1/locations",
        {"org_id": world.county_b.pk, "kind": "compound", "name": "X"},
    )
    assert resp.status_code == 404
    assert resp.json()["code"] == "not_found"


def test_it_creates_a_location_and_refuses_stale_update(world, api):
    c = api(world.user("a_manager"))
    resp = c.post(
        "/api/v1/locations",
        {"org_id": world.county_a.pk, "kind": "compound", "name": "新院", "tags": ["a"]},
    )
    assert resp.status_code == 201, resp.content
    loc = resp.json()
    resp = c.patch(f"/api/v1/locations/{loc['id']}", {"version": 1, "name": "新院2"})
    assert resp.status_code == 200 and resp.json()["version"] == 2
    resp = c.patch(f"/api/v1/locations/{loc['id']}", {"version": 1, "name": "新院3"})
    assert resp.status_code == 409
    assert resp.json()["code"] == "stale_version"


def test_error_messages_follow_accept_language(world, api):
    c = api(world.user("a_staff"))
    resp = c.post(
        "/api/v1/locations", {"org_id": world.county_a.pk, "kind": "compound", "name": "X"}
    )
    assert resp.status_code == 403
    assert "权限" in resp.json()["message"]
