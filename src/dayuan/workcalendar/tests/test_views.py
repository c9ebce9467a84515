from datetime import date

import pytest

from dayuan.workcalendar import queries
from dayuan.workcalendar.models import CalendarYear, SpecialDay

pytestmark = pytest.mark.usefixtures("seeded")


def login(client, user):
    client.force_login(user)
    return client


def test_it_shows_a_years_arrangement_read_only_to_staff(world, client):
    resp = login(client, world.user("b_staff")).get("/calendar/?year=2024")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "国庆节" in html and "2024-02-04" in html and "调休上班" in html
    assert 'data-testid="add-form"' not in html and 'data-testid="delete-' not in html
    assert resp.context["working_days"] == 251


def test_it_lets_the_city_admin_add_and_delete_days(world, client):
    c = login(client, world.user("admin"))
    html = c.get("/calendar/?year=2031").content.decode()
    assert 'data-testid="add-form"' in html
    resp = c.post(
        "/calendar/",
        {
            "year": "2031",
            "action": "set",
            "date": "2031-10-01",
            "kind": "holiday",
            "name": "国庆节",
        },
    )
    assert resp.status_code == 302 and resp["Location"] == "/calendar/?year=2031"
    assert SpecialDay.objects.get(date=date(2031, 10, 1)).name == "国庆节"
    html = c.get("/calendar/?year=2031").content.decode()
    assert 'data-testid="delete-2031-10-01"' in html
    resp = c.post("/calendar/", {"year": "2031", "action": "delete", "date": "2031-10-01"})
    assert resp.status_code == 302
    assert not SpecialDay.objects.filter(date=date(2031, 10, 1)).exists()
    resp = c.post("/calendar/", {"year": "2031", "action": "complete", "complete": "1"})
    assert resp.status_code == 302 and CalendarYear.objects.get(year=2031).complete
    resp = c.post("/calendar/", {"year": "2031", "action": "set", "date": "bad", "kind": "x"})
    assert resp.status_code == 422


def test_it_refuses_county_admins_on_the_page(world, client):
    c = login(client, world.user("a_admin"))
    html = c.get("/calendar/?year=2031").content.decode()
    assert 'data-testid="add-form"' not in html
    resp = c.post(
        "/calendar/",
        {"year": "2031", "action": "set", "date": "2031-10-01", "kind": "holiday"},
    )
    assert resp.status_code == 403
    assert not SpecialDay.objects.filter(date=date(2031, 10, 1)).exists()


def test_it_shows_the_missing_year_banner(world, client, monkeypatch):
    SpecialDay.objects.filter(year__in=[2030, 2031]).delete()
    CalendarYear.objects.filter(year__in=[2030, 2031]).delete()
    monkeypatch.setattr(queries, "_today", lambda: date(2030, 11, 2))
    c = login(client, world.user("admin"))
    html = c.get("/calendar/?year=2030").content.decode()
    assert 'data-testid="missing-years"' in html and "2030、2031" in html
    CalendarYear.objects.create(year=2030, complete=True)
    SpecialDay(date=date(2031, 1, 1), kind="holiday", name="元旦").save()
    html = c.get("/calendar/").content.decode()
    assert 'data-testid="missing-years"' not in html


def test_it_shows_library_years_not_in_the_table(world, client):
    SpecialDay.objects.filter(year=2025).delete()
    CalendarYear.objects.filter(year=2025).delete()
    resp = login(client, world.user("a_staff")).get("/calendar/?year=2025")
    assert resp.context["source"] == "library"
    assert "春节" in resp.content.decode()


def test_it_sends_anonymous_users_to_login(db, client):
    resp = client.get("/calendar/")
    assert resp.status_code == 302 and "/accounts/" in resp["Location"]
