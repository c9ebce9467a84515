"""The home page per role: what it shows, what it hides, and how many queries it costs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dayuan.core.testing import build_compound, make_org, make_user
from dayuan.orgs.choices import OrgKind

pytestmark = pytest.mark.django_db


def _home(client, user):
    client.force_login(user)
    resp = client.get("/")
    assert resp.status_code == 200
    return resp


def test_it_shows_staff_their_unit_roles_and_messages_but_no_scope_counts(client, world):
    resp = _home(client, world.user("a_staff"))
    html = resp.content.decode()
    assert resp.context["stats"] is None
    assert 'data-testid="my-grants"' in html
    assert "甲县机关服务中心" in html
    assert 'data-testid="my-notifications"' in html
    assert 'data-testid="scope-stats"' not in html
    assert 'data-link="audit"' not in html
    assert 'data-link="orgs"' in html


def test_it_counts_only_the_managers_own_subtree(client, world):
    stats = _home(client, world.user("b_manager")).context["stats"]
    # County B: itself; compound + building + 2 floors + 6 rooms; its five users.
    assert stats == {
        "orgs": 1,
        "centres": 1,
        "locations": 10,
        "compounds": 1,
        "rooms": 6,
        "users": 5,
    }
    html = _home(client, world.user("b_manager")).content.decode()
    assert "甲县" not in html
    assert 'data-link="audit"' in html


def test_it_counts_the_whole_city_for_the_city_admin(client, world):
    stats = _home(client, world.user("admin")).context["stats"]
    assert stats["orgs"] == 5
    assert stats["centres"] == 3
    assert stats["locations"] == 20
    assert stats["users"] == len(world.users)


def test_it_costs_the_same_queries_however_large_the_tree(client, world):
    admin = world.user("admin")
    client.force_login(admin)
    client.get("/")  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/").status_code == 200
    for i in range(3):
        county = make_org(f"新县{i}", f"new-{i}", OrgKind.COUNTY, world.city)
        build_compound(county, f"新县{i}", floors=3, rooms_per_floor=4)
        make_user(f"new_{i}_staff", county, "staff")
    with CaptureQueriesContext(connection) as large:
        assert client.get("/").status_code == 200
    assert len(large) == len(small)
    assert len(small) <= 15, [q["sql"] for q in small.captured_queries]


def test_it_asks_anonymous_visitors_to_sign_in(client, db):
    resp = client.get("/")
    assert resp.status_code == 302
    assert resp["Location"].startswith("/accounts/login/")


def test_it_offers_the_language_switch_on_login_page_and_shell(client, world):
    login = client.get("/accounts/login/").content.decode()
    assert 'data-testid="language"' in login
    assert 'value="en"' in login
    resp = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert resp.status_code == 302
    login_en = client.get("/accounts/login/").content.decode()
    assert '<html lang="en">' in login_en
    home = _home(client, world.user("a_staff")).content.decode()
    assert '<html lang="en">' in home
    assert 'data-testid="language"' in home
