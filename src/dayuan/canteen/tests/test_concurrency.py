"""Real threads against a real database: 500 people reserving a dish with 100 portions
at once leave exactly 100 reservations and ``sold == 100``; the other 400 get the clean
refusal ``sold_out``, never an error or an oversell. Each race is run three times. And
people cancelling while others reserve keep ``sold`` equal to the portions the holding
reservations hold.

Run on the session's database: SQLite by default, PostgreSQL with ``DATABASE_URL``.
SQLite: every thread opens its own connection to the file database and the IMMEDIATE
transactions queue on the write lock (the busy timeout is raised for the race: 1,000
writers, the refusals' audit entries included, may wait longer than a request would).
PostgreSQL: the server accepts about 100 connections, shared by whoever runs tests, so
at most ``PG_POOL`` threads hold a connection at once, as an application's pool would;
all the attempts still race on the same rows.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F, Sum

from dayuan.core.tests import races

from .. import reservations as rs
from ..choices import HOLDING, ReservationStatus
from ..models import Menu, MenuItem, Reservation, ReservationLine
from .factories import MONDAY, at, build, menu

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

N = 500
PORTIONS = 100
ROUNDS = 3
PG_POOL = 20
LOCK_WAIT_MS = 300_000
NOW = at(2026, 12, 7, 8, 0)  # before every menu's reservation deadline
ROUND_LIMIT_S = 120  # a round far slower than measured means something queues badly


_people = races.people


def _race(calls) -> tuple[list[object], list[BaseException]]:
    return races.race(
        calls,
        pg_pool=PG_POOL,
        lock_wait_ms=LOCK_WAIT_MS,
        start_timeout=60,
        join_timeout=ROUND_LIMIT_S * 3,
    )


_clean = races.assert_only_refused


def _held(item: MenuItem) -> int:
    """Portions of ``item`` held by reservations that hold a place."""
    lines = ReservationLine.objects.filter(menu_item=item, reservation__status__in=HOLDING)
    return lines.aggregate(q=Sum("quantity"))["q"] or 0


def test_500_people_for_100_portions_make_exactly_100_reservations(world, capsys):
    cw = build(world)
    people = _people(world.county_a, N, "race-d")
    timings = []
    for r in range(ROUNDS):
        m = menu(cw, day=MONDAY + timedelta(days=r), items={"dongpo": PORTIONS})
        item = m.items.get()
        calls = [
            lambda p=p, m=m, item=item: rs.reserve(
                actor=p,
                menu_id=m.pk,
                items=[{"menu_item_id": item.pk, "quantity": 1}],
                now=NOW,
            )
            for p in people
        ]
        started = time.monotonic()
        results, errors = _race(calls)
        timings.append(time.monotonic() - started)
        assert len(results) == PORTIONS, (len(results), errors[:3])
        assert len(errors) == N - PORTIONS
        _clean(errors, "sold_out")
        item.refresh_from_db()
        m.refresh_from_db()
        assert item.sold == PORTIONS and m.reserved_count == PORTIONS
        held = Reservation.objects.filter(menu=m, status=ReservationStatus.RESERVED)
        assert held.count() == PORTIONS
        assert ReservationLine.objects.filter(menu_item=item).count() == PORTIONS
        assert _held(item) == PORTIONS
        assert {x.pk for x in results} == set(held.values_list("pk", flat=True))
        assert len(set(held.values_list("person_id", flat=True))) == PORTIONS
        assert len(set(held.values_list("pickup_code", flat=True))) == PORTIONS
    assert Reservation.objects.count() == PORTIONS * ROUNDS
    assert len(set(Reservation.objects.values_list("number", flat=True))) == PORTIONS * ROUNDS
    with capsys.disabled():
        print(
            f"\n[{connection.vendor}] {N} reservations for {PORTIONS} portions, seconds per "
            f"round: {', '.join(f'{t:.1f}' for t in timings)}"
        )
    assert max(timings) < ROUND_LIMIT_S, timings


def test_cancelling_while_others_reserve_keeps_sold_equal_to_the_held_portions(world, capsys):
    cw = build(world)
    m = menu(cw, items={"dongpo": 60, "rice": None})
    dongpo = MenuItem.objects.get(menu=m, dish=cw.dish("a:dongpo"))
    rice = MenuItem.objects.get(menu=m, dish=cw.dish("a:rice"))
    holders = _people(world.county_a, 40, "race-h")
    held = [
        rs.reserve(
            actor=p,
            menu_id=m.pk,
            items=[{"menu_item_id": dongpo.pk, "quantity": 1 + i % 2}],
            now=NOW,
        )
        for i, p in enumerate(holders)
    ]
    dongpo.refresh_from_db()
    assert dongpo.sold == 60  # sold out before the race
    newcomers = _people(world.county_a, 120, "race-n")
    calls = [
        lambda p=p, r=r: rs.cancel_reservation(actor=p, reservation_id=r.pk, now=NOW)
        for p, r in zip(holders, held, strict=True)
    ] + [
        lambda p=p, q=1 + i % 2: rs.reserve(
            actor=p,
            menu_id=m.pk,
            items=[
                {"menu_item_id": rice.pk, "quantity": 1},
                {"menu_item_id": dongpo.pk, "quantity": q},
            ],
            now=NOW,
        )
        for i, p in enumerate(newcomers)
    ]
    random.Random(8).shuffle(calls)
    started = time.monotonic()
    results, errors = _race(calls)
    elapsed = time.monotonic() - started
    _clean(errors, "sold_out")
    assert sum(1 for x in results if x.status == ReservationStatus.CANCELLED) == len(holders)
    won = [x for x in results if x.status == ReservationStatus.RESERVED]
    assert len(won) + len(errors) == len(newcomers)
    dongpo.refresh_from_db()
    rice.refresh_from_db()
    m.refresh_from_db()
    assert dongpo.sold == _held(dongpo) <= 60
    assert rice.sold == _held(rice) == len(won)
    assert m.reserved_count == Reservation.objects.filter(menu=m, status__in=HOLDING).count()
    assert m.reserved_count == len(won)
    with capsys.disabled():
        print(
            f"\n[{connection.vendor}] 40 cancellations racing 120 reservations: "
            f"{len(won)} reserved, {dongpo.sold} of 60 portions held, {elapsed:.1f}s"
        )


def test_negative_control_a_read_then_write_oversells(world, monkeypatch, capsys):
    """The race is real: with the portions taken by a read and a write instead of the
    conditional UPDATE, the same race sells more meals than there are portions. (On
    PostgreSQL only: SQLite's IMMEDIATE transaction serialises whole services, so
    there the transaction itself is the lock.)"""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers per transaction: no race to lose")
    cw = build(world)
    m = menu(cw, items={"dongpo": 50})
    item = m.items.get()
    people = _people(world.county_a, 200, "race-x")

    def read_then_write(menu_, lines, places):
        for it, q in lines:
            sold = MenuItem.objects.get(pk=it.pk).sold
            if sold + q > it.portions:
                raise rs._sold_out(it)
            time.sleep(0.005)  # the time a request spends between its read and its write
            MenuItem.objects.filter(pk=it.pk).update(sold=sold + q)
        Menu.objects.filter(pk=menu_.pk).update(reserved_count=F("reserved_count") + places)

    monkeypatch.setattr(rs, "_take_places", read_then_write)
    calls = [
        lambda p=p: rs.reserve(
            actor=p, menu_id=m.pk, items=[{"menu_item_id": item.pk, "quantity": 1}], now=NOW
        )
        for p in people
    ]
    results, errors = _race(calls)
    _clean(errors, "sold_out")
    item.refresh_from_db()
    assert len(results) > 50 and item.sold < len(results)
    with capsys.disabled():
        print(f"\n[{connection.vendor}] read-then-write: {len(results)} meals for 50 portions")
