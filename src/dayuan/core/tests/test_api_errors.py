"""One error shape for every 4xx, in the request's language."""

import pytest

pytestmark = pytest.mark.django_db


def test_unauthenticated_requests_get_401_in_the_shape(client):
    resp = client.get("/api/v1/locations")
    assert resp.status_code == 401
    assert set(resp.json()) == {"code", "message", "details"}
    assert resp.json()["code"] == "not_authenticated"


def test_validation_errors_name_the_field(world, api):
    resp = api(world.user("a_manager")).post(
        "/api/v1/locations", {"org_id": world.county_a.pk, "kind": "castle", "name": ""}
    )
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "validation_error"
    fields = {d["field"] for d in body["details"]}
    assert {"kind", "name"} <= {f.split(".")[-1] for f in fields if f}


def test_messages_are_english_with_accept_language_en(world, api):
    c = api(world.user("a_staff"))
    zh = c.get("/api/v1/locations/999999")
    en = c.get("/api/v1/locations/999999", HTTP_ACCEPT_LANGUAGE="en")
    assert zh.status_code == en.status_code == 404
    assert zh.json()["code"] == en.json()["code"] == "not_found"
    assert "不存在" in zh.json()["message"]
    assert "not found" in en.json()["message"].lower()


def test_openapi_document_and_docs_are_served(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    tags = {t for ops in doc["paths"].values() for op in ops.values() for t in op.get("tags", [])}
    assert {"accounts", "orgs"} <= tags
    assert client.get("/api/v1/docs").status_code == 200


def test_pagination_is_stable_and_bounded(world, api):
    c = api(world.user("a_staff"))
    resp = c.get("/api/v1/locations?page_size=201")
    assert resp.status_code == 422
    first = c.get("/api/v1/locations?page_size=3&page=1").json()
    second = c.get("/api/v1/locations?page_size=3&page=2").json()
    assert first["has_next"] is True
    ids = [i["id"] for i in first["items"]] + [i["id"] for i in second["items"]]
    assert len(ids) == len(set(ids)) == 6


def test_json_keeps_chinese_unescaped(world, api):
    resp = api(world.user("a_staff")).get("/api/v1/locations/999999")
    assert "对象不存在" in resp.content.decode("utf-8")
