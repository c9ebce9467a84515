"""Dish ratings: only a diner who was served that meal rates its dishes (a take-away
only the packages it took), from serving until a week after, once per dish, 1–5 stars,
a short comment; another county does not see the dish at all. Reservation rows are
written directly with the ORM, as ``reservations`` would leave them."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from dayuan.audit.models import AuditEntry, Outcome
from dayuan.core.errors import Conflict, InvalidInput, NotFound

from .. import services
from ..choices import Meal, ReservationKind, ReservationStatus
from ..models import DishRating, MenuItem
from .factories import MONDAY, at, menu, reservation_row

pytestmark = pytest.mark.django_db

AFTER_LUNCH = at(2026, 12, 7, 12, 40)
_serial = itertools.count(200001)


def item(m, cw, dish_key):
    return MenuItem.objects.get(menu=m, dish=cw.dish(dish_key))


def diner(m, user, *, status=ReservationStatus.SERVED, kind=ReservationKind.EAT_IN, lines=()):
    n = next(_serial)
    return reservation_row(
        m,
        user,
        number=f"BC-RATE-{n}",
        pickup_code=str(n),
        status=status,
        kind=kind,
        lines=lines,
        served_at=m.serve_start if status == ReservationStatus.SERVED else None,
    )


def rate(cw, m, dish_key="a:dongpo", user="a_staff", stars=5, now=AFTER_LUNCH, **kw):
    return services.rate_dish(
        actor=cw.user(user), menu_item_id=item(m, cw, dish_key).pk, stars=stars, now=now, **kw
    )


def test_a_served_diner_rates_a_dish(cw, lunch):
    diner(lunch, cw.user("a_staff"))
    rating = rate(cw, lunch, stars=4, comment="  肥而不腻 ")
    rating.refresh_from_db()
    assert (rating.stars, rating.comment, rating.day) == (4, "肥而不腻", MONDAY)
    assert (rating.org_id, rating.canteen_id, rating.dish_id, rating.person_id) == (
        cw.world.county_a.pk,
        cw.canteens["a"].pk,
        cw.dish("a:dongpo").pk,
        cw.user("a_staff").pk,
    )
    assert rating.menu_item_id == item(lunch, cw, "a:dongpo").pk
    entry = AuditEntry.objects.filter(action="canteen.rate_dish").last()
    assert entry.outcome == Outcome.SUCCESS and entry.object_id == str(rating.pk)
    assert entry.changes["stars"] == 4 and entry.org_id == cw.world.county_a.pk


def test_the_rating_day_is_the_menus_day(cw):
    sunday_dinner = menu(cw, day=MONDAY - timedelta(days=1), meal=Meal.DINNER)
    diner(sunday_dinner, cw.user("a_staff"))
    rating = rate(cw, sunday_dinner, now=AFTER_LUNCH)  # rated the next day
    assert rating.day == MONDAY - timedelta(days=1)


@pytest.mark.parametrize(
    "status",
    [
        None,
        ReservationStatus.RESERVED,
        ReservationStatus.NO_SHOW,
        ReservationStatus.CANCELLED,
    ],
)
def test_only_a_served_reservation_may_rate(cw, lunch, status):
    if status is not None:
        diner(lunch, cw.user("a_staff"), status=status)
    diner(lunch, cw.user("a_dispatcher"))  # someone else was served
    with pytest.raises(Conflict) as exc:
        rate(cw, lunch)
    assert exc.value.code == "not_served"
    assert not DishRating.objects.exists()
    refused = AuditEntry.objects.filter(action="canteen.rate_dish").last()
    assert refused.outcome == Outcome.REFUSED and refused.reason.startswith("not_served")


def test_a_served_reservation_of_another_meal_does_not_count(cw, lunch):
    dinner = menu(cw, meal=Meal.DINNER)
    diner(dinner, cw.user("a_staff"))
    with pytest.raises(Conflict) as exc:
        rate(cw, lunch)
    assert exc.value.code == "not_served"


def test_a_take_away_rates_only_the_packages_it_took(cw, lunch):
    box = item(lunch, cw, "a:box")
    diner(lunch, cw.user("a_staff"), kind=ReservationKind.TAKEAWAY, lines=[(box, 1)])
    assert rate(cw, lunch, "a:box").stars == 5
    with pytest.raises(Conflict) as exc:
        rate(cw, lunch, "a:greens")
    assert exc.value.code == "not_served"


def test_an_eat_in_diner_rates_the_hall_but_not_a_package_not_taken(cw, lunch):
    diner(lunch, cw.user("a_staff"), lines=[(item(lunch, cw, "a:dongpo"), 1)])
    assert rate(cw, lunch, "a:dongpo").pk
    assert rate(cw, lunch, "a:rice", stars=3).pk  # not pre-ordered, served in the hall
    with pytest.raises(Conflict) as exc:
        rate(cw, lunch, "a:box")
    assert exc.value.code == "not_served"


@pytest.mark.parametrize(
    ("now", "ok"),
    [
        (at(2026, 12, 7, 11, 29), False),
        (at(2026, 12, 7, 11, 30), True),
        (at(2026, 12, 14, 11, 30), True),
        (at(2026, 12, 14, 11, 30, 1), False),
    ],
)
def test_ratings_open_at_serving_and_close_a_week_later(cw, lunch, now, ok):
    diner(lunch, cw.user("a_staff"))
    if ok:
        assert rate(cw, lunch, now=now).pk
        return
    with pytest.raises(Conflict) as exc:
        rate(cw, lunch, now=now)
    assert exc.value.code == "rating_closed"
    assert exc.value.details["closes_at"] == "2026-12-14T11:30:00+08:00"
    assert not DishRating.objects.exists()


def test_a_dish_is_rated_once_per_person(cw, lunch):
    diner(lunch, cw.user("a_staff"))
    diner(lunch, cw.user("a_dispatcher"))
    rate(cw, lunch, stars=2)
    with pytest.raises(Conflict) as exc:
        rate(cw, lunch, stars=5)
    assert exc.value.code == "already_rated"
    assert rate(cw, lunch, user="a_dispatcher").stars == 5  # someone else may
    assert rate(cw, lunch, "a:greens").stars == 5  # and another dish
    stars = DishRating.objects.filter(person=cw.user("a_staff"), dish=cw.dish("a:dongpo"))
    assert list(stars.values_list("stars", flat=True)) == [2]


@pytest.mark.parametrize("stars", [0, 6, -1, True, 2.5, "5", None])
def test_stars_are_one_to_five(cw, lunch, stars):
    diner(lunch, cw.user("a_staff"))
    with pytest.raises(InvalidInput) as exc:
        rate(cw, lunch, stars=stars)
    assert (exc.value.code, exc.value.details["field"]) == ("bad_stars", "stars")


def test_a_long_comment_is_refused(cw, lunch):
    diner(lunch, cw.user("a_staff"))
    with pytest.raises(InvalidInput) as exc:
        rate(cw, lunch, comment="好" * 301)
    assert (exc.value.code, exc.value.details["field"]) == ("too_long", "comment")
    assert rate(cw, lunch, comment="好" * 300).comment == "好" * 300


def test_another_county_does_not_see_the_dish(cw, lunch):
    diner(lunch, cw.user("b_staff"))  # even a row that should not exist changes nothing
    with pytest.raises(NotFound):
        rate(cw, lunch, user="b_staff")
    with pytest.raises(NotFound):
        services.rate_dish(actor=cw.user("a_staff"), menu_item_id=999_999, stars=5, now=AFTER_LUNCH)
    assert not DishRating.objects.exists()
