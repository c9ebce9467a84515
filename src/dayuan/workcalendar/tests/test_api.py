from datetime import date
from urllib.parse import urlencode

import pytest

from dayuan.workcalendar.models import SpecialDay

pytestmark = pytest.mark.usefixtures("seeded")


def q(path, **params):
    return f"{path}?{urlencode(params)}"


def test_it_lists_days_with_workday_flags_and_names(world, api):
    resp = api(world.user("b_staff")).get(
        q("/api/v1/calendar/days", start="2024-09-28", end="2024-10-13")
    )
    assert resp.status_code == 200, resp.content
    days = {d["date"]: d for d in resp.json()}
    assert len(days) == 16
    assert days["2024-09-29"] == {
        "date": "2024-09-29",
        "is_workday": True,
        "kind": "workday",
        "name": "国庆节",
    }
    assert days["2024-10-01"]["is_workday"] is False and days["2024-10-01"]["name"] == "国庆节"
    assert days["2024-10-08"] == {
        "date": "2024-10-08",
        "is_workday": True,
        "kind": None,
        "name": "",
    }
    assert days["2024-10-13"]["is_workday"] is False


@pytest.mark.parametrize(
    ("start", "end"),
    [("2024-10-02", "2024-10-01"), ("2024-01-01", "2025-01-01"), ("2024-13-01", "2024-12-31")],
)
def test_it_refuses_bad_ranges(world, api, start, end):
    resp = api(world.user("a_staff")).get(q("/api/v1/calendar/days", start=start, end=end))
    assert resp.status_code == 422
    assert resp.json()["code"] in {"invalid_range", "validation_error"}


def test_it_allows_a_full_leap_year(world, api):
    resp = api(world.user("a_staff")).get(
        q("/api/v1/calendar/days", start="2024-01-01", end="2024-12-31")
    )
    assert resp.status_code == 200 and len(resp.json()) == 366


def test_it_needs_authentication(db, api):
    resp = api().get(q("/api/v1/calendar/days", start="2024-01-01", end="2024-01-02"))
    assert resp.status_code == 401


def test_it_lets_only_calendar_managers_change_days(world, api):
    body = {"date": "2031-04-04", "kind": "holiday", "name": "清明节"}
    for name in ("a_admin", "a_manager", "city_manager", "b_staff"):
        resp = api(world.user(name)).post("/api/v1/calendar/special-days", body)
        assert resp.status_code == 403, name
        assert resp.json()["code"] == "permission_denied"
    assert not SpecialDay.objects.filter(date=date(2031, 4, 4)).exists()
    admin = api(world.user("admin"))
    resp = admin.post("/api/v1/calendar/special-days", body)
    assert resp.status_code == 201, resp.content
    assert resp.json() == {
        "date": "2031-04-04",
        "year": 2031,
        "kind": "holiday",
        "name": "清明节",
        "source": "manual",
    }
    resp = admin.post("/api/v1/calendar/special-days", {**body, "name": "清明"})
    assert resp.status_code == 200 and resp.json()["name"] == "清明"
    days = admin.get(q("/api/v1/calendar/days", start="2031-04-04", end="2031-04-04")).json()
    assert days[0]["is_workday"] is False
    resp = api(world.user("a_admin")).delete("/api/v1/calendar/special-days/2031-04-04")
    assert resp.status_code == 403
    assert admin.delete("/api/v1/calendar/special-days/2031-04-04").status_code == 204
    assert admin.delete("/api/v1/calendar/special-days/2031-04-04").status_code == 404
    days = admin.get(q("/api/v1/calendar/days", start="2031-04-04", end="2031-04-04")).json()
    assert days[0]["is_workday"] is True


def test_it_refuses_invalid_special_days(world, api):
    admin = api(world.user("admin"))
    resp = admin.post(
        "/api/v1/calendar/special-days", {"date": "2031-04-07", "kind": "workday"}
    )  # a Monday
    assert resp.status_code == 422 and resp.json()["code"] == "workday_not_weekend"
    resp = admin.post("/api/v1/calendar/special-days", {"date": "2031-04-05", "kind": "party"})
    assert resp.status_code == 422 and resp.json()["code"] == "validation_error"
    resp = admin.post("/api/v1/calendar/special-days", {"date": "1960-01-01", "kind": "holiday"})
    assert resp.status_code == 422 and resp.json()["code"] == "year_out_of_range"


def test_it_computes_working_minutes_for_an_org_in_scope(world, api):
    c = api(world.user("a_staff"))
    resp = c.get(
        q(
            "/api/v1/calendar/working-minutes",
            org_id=world.county_a.pk,
            start="2024-03-08T17:20:00+08:00",
            end="2024-03-11T08:50:00+08:00",
        )
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["minutes"] == 30
    resp = c.get(
        q(
            "/api/v1/calendar/add-minutes",
            org_id=world.county_a.pk,
            start="2024-03-08T09:20:00Z",
            minutes=30,
        )
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["due_at"] == "2024-03-11T08:50:00+08:00"


def test_it_uses_the_orgs_own_hours(world, api):
    world.vendor.working_hours = ["24x7"]
    world.vendor.save()
    resp = api(world.user("a_manager")).get(
        q(
            "/api/v1/calendar/add-minutes",
            org_id=world.vendor.pk,
            start="2024-10-01T23:50:00+08:00",
            minutes=30,
        )
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["due_at"] == "2024-10-02T00:20:00+08:00"


def test_it_hides_another_countys_org(world, api):
    c = api(world.user("b_manager"))
    for path, extra in (
        ("/api/v1/calendar/working-minutes", {"end": "2024-03-11T08:50:00+08:00"}),
        ("/api/v1/calendar/add-minutes", {"minutes": 30}),
    ):
        for org in (world.county_a, world.vendor):
            resp = c.get(q(path, org_id=org.pk, start="2024-03-08T17:20:00+08:00", **extra))
            assert resp.status_code == 404, (path, org)
            assert resp.json()["code"] == "not_found"
    resp = c.get(
        q(
            "/api/v1/calendar/add-minutes",
            org_id=world.county_b.pk,
            start="2024-03-08T17:20:00+08:00",
            minutes=30,
        )
    )
    assert resp.status_code == 200


def test_it_refuses_naive_times_and_negative_minutes(world, api):
    c = api(world.user("a_staff"))
    resp = c.get(
        q(
            "/api/v1/calendar/working-minutes",
            org_id=world.county_a.pk,
            start="2024-03-08T17:20:00",
            end="2024-03-11T08:50:00+08:00",
        )
    )
    assert resp.status_code == 422 and resp.json()["code"] == "naive_datetime"
    resp = c.get(
        q(
            "/api/v1/calendar/add-minutes",
            org_id=world.county_a.pk,
            start="2024-03-08T17:20:00+08:00",
            minutes=-1,
        )
    )
    assert resp.status_code == 422


def test_it_returns_zero_for_reversed_spans(world, api):
    resp = api(world.user("a_staff")).get(
        q(
            "/api/v1/calendar/working-minutes",
            org_id=world.county_a.pk,
            start="2024-03-11T08:50:00+08:00",
            end="2024-03-08T17:20:00+08:00",
        )
    )
    assert resp.status_code == 200 and resp.json()["minutes"] == 0
