"""The sacred rule, checked generically: walk every API list endpoint and every page.

Users of county A (every role) call every parameter-free GET endpoint in the OpenAPI
document and every parameter-free page; nothing they receive may belong to county B:
no ``*org_id`` pointing into B's subtree, no B name. Then the same the other way round.
A new endpoint or page is covered the day it is added.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from dayuan.api import api as ninja_api
from dayuan.notifications import services as notify
from dayuan.orgs import services as org_services
from dayuan.orgs.models import Organization

pytestmark = pytest.mark.django_db

SKIP_PAGES = {"/accounts/logout/", "/healthz", "/i18n/setlang/"}
SKIP_PAGE_PREFIXES = ("/admin/", "/api/", "/static/", "/media/")


def _org_ids_in(data: Any, found: set[int]) -> set[int]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("org_id") and isinstance(value, int):
                found.add(value)
            else:
                _org_ids_in(value, found)
    elif isinstance(data, list):
        for item in data:
            _org_ids_in(item, found)
    return found


def _list_paths() -> list[str]:
    schema = ninja_api.get_openapi_schema(path_prefix="/api/v1")
    return sorted(path for path, ops in schema["paths"].items() if "get" in ops and "{" not in path)


def _page_paths(resolver=None, prefix: str = "") -> list[str]:
    resolver = resolver or get_resolver()
    paths = []
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        if route.startswith("^") or "<" in route:
            continue
        if isinstance(entry, URLResolver):
            paths += _page_paths(entry, prefix + route)
        elif isinstance(entry, URLPattern):
            paths.append("/" + prefix + route)
    return sorted(
        p for p in set(paths) if p not in SKIP_PAGES and not p.startswith(SKIP_PAGE_PREFIXES)
    )


def _activity(world) -> None:
    """Writes in each county, so every app's lists have rows on both sides."""
    from dayuan.standards import engine
    from dayuan.standards.demo import load_demo

    # County A adopts the library with tighter numbers; both counties judge records.
    load_demo(world.user("admin"), world.city, [world.county_a])
    sample = {"dish": "菜", "sampled_at": "t", "sampled_by": "p", "sealed": True}
    for org in (world.county_a, world.county_b):
        engine.evaluate_record(
            org, "canteen.food_sample", {**sample, "weight_g": 130, "retention_hours": 48}
        )
    for key, org in (("a", world.county_a), ("b", world.county_b)):
        manager = world.user(f"{key}_manager")
        org_services.create_location(
            actor=manager, org_id=org.pk, parent_id=None, kind="compound", name=f"{org.name}新院"
        )
        notify.create_endpoint(
            actor=manager, org_id=org.pk, name=f"{org.name}群", url="https://robot.example/hook"
        )
        notify.broadcast(actor=manager, org_id=org.pk, title=f"{org.name}通知", body="停水")
        notify.emit(
            "system.announcement",
            org=org,
            recipients=[world.user(f"{key}_staff"), world.user(f"{key}_inspector")],
            title=f"{org.name}检查",
            body="请配合",
        )


def _subtree_ids(org: Organization) -> set[int]:
    return set(Organization.objects.filter(path__startswith=org.path).values_list("pk", flat=True))


@pytest.mark.parametrize("side", ["a", "b"])
def test_no_api_list_shows_the_sibling_county(world, api, side):
    _activity(world)
    other = world.county_b if side == "a" else world.county_a
    other_ids = _subtree_ids(other)
    other_name = other.name[:2]
    paths = _list_paths()
    assert "/api/v1/locations" in paths and len(paths) >= 5
    for username, user in world.users.items():
        if not username.startswith(f"{side}_"):
            continue
        client = api(user)
        for path in paths:
            resp = client.get(f"{path}?page_size=200")
            assert resp.status_code < 500, (path, resp.status_code)
            if resp.status_code != 200 or not resp.content:
                continue
            body = resp.json()
            leaked = _org_ids_in(body, set()) & other_ids
            assert not leaked, f"{username} sees {other.name} objects at {path}"
            assert other_name not in resp.content.decode(), (
                f"{username} sees {other_name} at {path}"
            )


@pytest.mark.parametrize("side", ["a", "b"])
def test_no_page_shows_the_sibling_county(world, side):
    _activity(world)
    other = world.county_b if side == "a" else world.county_a
    other_name = other.name[:2]
    pages = _page_paths()
    assert "/orgs/locations/" in pages
    for username in world.users:
        if not username.startswith(f"{side}_"):
            continue
        client = Client()
        client.force_login(world.user(username))
        for path in pages:
            resp = client.get(path)
            assert resp.status_code < 500, (path, resp.status_code)
            if resp.status_code == 200 and resp.get("Content-Type", "").startswith("text/html"):
                assert other_name not in resp.content.decode(), (
                    f"{username} sees {other_name} at {path}"
                )


def test_the_walk_catches_a_leak_when_scoping_is_switched_off(world, api, monkeypatch):
    """Negative control: without the scope filter the same check does fail."""
    monkeypatch.setattr("dayuan.orgs.queries.scoped", lambda user, qs, roles=None: qs)
    resp = api(world.user("a_staff")).get("/api/v1/locations?page_size=200")
    assert _org_ids_in(resp.json(), set()) & _subtree_ids(world.county_b)
