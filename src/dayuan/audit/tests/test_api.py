"""GET /api/v1/audit/entries: permission, scope, filters, pagination, query count."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from .helpers import seed_three_subtrees, write_entries

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit/entries"


def _ids(resp) -> list[int]:
    """Ids listed, leaving out the sign-in and token entries the API client itself made."""
    assert resp.status_code == 200, resp.content
    return [i["id"] for i in resp.json()["items"] if not i["action"].startswith("accounts.")]


def _orgs(resp) -> set[int | None]:
    assert resp.status_code == 200, resp.content
    return {item["org_id"] for item in resp.json()["items"]}


def test_staff_get_403(world, api):
    for name in ("a_staff", "a_dispatcher", "a_inspector", "vendor_worker", "assessor"):
        resp = api(world.user(name)).get(URL)
        assert resp.status_code == 403, name
        assert resp.json()["code"] == "permission_denied"


def test_anonymous_get_401(world, api):
    assert api().get(URL).status_code == 401


def test_a_county_b_manager_sees_only_county_b(world, api):
    a, b, _none = seed_three_subtrees(world)
    c = api(world.user("b_manager"))
    assert _ids(c.get(URL)) == [b[0].pk]
    assert _orgs(c.get(URL + "?page_size=200")) == {world.county_b.pk}
    assert _ids(c.get(URL + f"?object_type=test.thing&object_id=0&actor={a[0].actor_id}")) == []
    item = c.get(URL + "?action=orgs.").json()["items"][0]
    assert item["org_id"] == world.county_b.pk
    assert item["org_name"] == world.county_b.name
    assert item["outcome"] == "refused" and item["reason"].startswith("permission_denied")
    assert len(item["hash"]) == 64


def test_entries_without_an_organisation_need_a_root_administrator(world, api):
    _a, _b, none = seed_three_subtrees(world)
    assert none[0].pk in _ids(api(world.user("admin")).get(URL))
    assert none[0].pk not in _ids(api(world.user("city_manager")).get(URL))
    assert none[0].pk not in _ids(api(world.user("a_admin")).get(URL))


def test_the_api_filters_and_orders_newest_first(world, api):
    a, b, none = seed_three_subtrees(world)
    c = api(world.user("admin"))
    assert _ids(c.get(URL)) == [none[0].pk, b[0].pk, a[1].pk, a[0].pk]
    assert _ids(c.get(URL + "?action=orgs.")) == [b[0].pk, a[1].pk, a[0].pk]
    assert _ids(c.get(URL + "?outcome=refused")) == [b[0].pk]
    assert _ids(c.get(URL + "?actor=a_manager")) == [a[1].pk, a[0].pk]
    assert _ids(c.get(URL + "?q=bad_cred")) == [none[0].pk]
    since = urlencode({"since": a[1].at.isoformat()})
    assert _ids(c.get(f"{URL}?{since}")) == [none[0].pk, b[0].pk, a[1].pk]
    until = urlencode({"until": a[0].at.isoformat()})
    assert _ids(c.get(f"{URL}?{until}")) == [a[0].pk]
    today = timezone.localdate()
    assert len(_ids(c.get(f"{URL}?since={today}&until={today}"))) == 4  # the whole day
    assert _ids(c.get(f"{URL}?until={today - timedelta(days=1)}")) == []
    resp = c.get(URL + "?outcome=maybe")
    assert resp.status_code == 422 and resp.json()["code"] == "validation_error"


def test_the_api_paginates(world, api):
    entries = write_entries(45, actor=world.user("a_manager"), org=world.county_a)
    c = api(world.user("a_manager"))
    body = c.get(URL + "?object_type=test.thing&page=2&page_size=20").json()
    assert body["count"] == 45 and body["has_next"] is True
    assert [i["id"] for i in body["items"]] == [e.pk for e in reversed(entries[5:25])]


def test_the_api_list_runs_a_constant_number_of_queries(world, api, django_assert_max_num_queries):
    c = api(world.user("city_manager"))
    write_entries(3, actor=world.user("a_manager"), org=world.county_a)
    c.get(URL)  # warm up: the token's first use is written down
    with CaptureQueriesContext(connection) as few:
        assert c.get(URL + "?page_size=100").status_code == 200
    write_entries(250, actor=world.user("a_manager"), org=world.county_a)
    write_entries(247, actor=world.user("b_manager"), org=world.county_b)
    with CaptureQueriesContext(connection) as many:
        assert len(_ids(c.get(URL + "?page_size=100"))) == 100
    assert len(many.captured_queries) == len(few.captured_queries)
    with django_assert_max_num_queries(len(few.captured_queries)):
        c.get(URL + "?page=3&page_size=100")
