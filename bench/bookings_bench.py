"""Bookings bench: booking throughput under contention, and the free-room search over
500 rooms and a year of bookings.

    .venv/bin/python bench/bookings_bench.py [--db sqlite|postgres|both] [--rooms 500]
                                             [--per-day 2] [--threads 16]
                                             [--attempts 25] [--searches 300] [--keep]

Run by ``bench/run.py`` after the other benches (skip with ``--skip-bookings``). For
each database (PostgreSQL when the admin URL answers): a fresh one (``bench/run.py``'s
scratch database), ``dayuan migrate``, then a worker process (``python -m
bench.bookings_bench --worker``) that

1. builds the org world and the meeting standard (``bookings.tests.factories``);
2. bulk-inserts ``--rooms`` rooms (90 % county A, 10 % shared city rooms; capacities
   6–50, four equipment sets) and a year of bookings (``--per-day`` per room per day,
   back to back, mostly completed, some released or cancelled, the future confirmed),
   then ``ANALYZE`` (``VACUUM ANALYZE`` on PostgreSQL);
3. measures in-process through Django's test client with bearer tokens (no server:
   the figures are the app and the database, not the network):

   - **contention**: ``--threads`` threads, each its own connection, each making
     ``--attempts`` ``POST /api/v1/bookings`` for one of four rooms at one of the
     overlapping quarter-hour ranges of one day. A 201 is a success, a 409
     ``room_taken`` a clean refusal, anything else an error; afterwards the active
     bookings of the four rooms are checked pairwise: ``overlaps`` must be 0;
   - **free search**: ``GET /api/v1/rooms/free`` for random two-hour ranges of the
     year, attendees and equipment, as a county A member (all 500 rooms are theirs or
     shared).

The contended rooms are ``standard_room`` (no lead time or window rule of the standard
applies), open every day, so the bench does not depend on the hour it runs at.
Prints the table of ``bench/run.py`` and merges ``bookings`` into
``var/bench/results.json``.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

BATCH = 5000
SHANGHAI = ZoneInfo("Asia/Shanghai")
EQUIPMENT = ([], ["projector"], ["projector", "screen"], ["projector", "screen", "video"])
CAPACITY = (6, 8, 10, 12, 16, 20, 30, 50)


# --- the worker (inside Django) -------------------------------------------------------


def _rooms(world, s, n: int, rng: random.Random) -> list:
    from dayuan.bookings.models import Room
    from dayuan.core.tree import encode
    from dayuan.orgs.choices import LocationKind
    from dayuan.orgs.models import Location

    out = []
    for org, building, count, shared in (
        (world.county_a, s.building_a, n - n // 10, False),
        (world.city, s.shared.building, n // 10, True),
    ):
        floor = Location.objects.filter(parent=building, kind=LocationKind.FLOOR).first()
        base = Location.objects.filter(parent=floor).count()
        locs = Location.objects.bulk_create(
            [
                Location(
                    org=org, name=f"B{i}", kind=LocationKind.ROOM, parent=floor,
                    path=f"{floor.path}{encode(base + i + 1)}.", depth=floor.path.count("."),
                )
                for i in range(count)
            ],
            batch_size=BATCH,
        )  # fmt: skip
        out += Room.objects.bulk_create(
            [
                Room(
                    org=org, location=loc, building=building, name=f"{building.name}-B{i:04d}",
                    capacity=rng.choice(CAPACITY), equipment=rng.choice(EQUIPMENT),
                    resource_class="shared_room" if shared else "meeting_room",
                    shared=shared, checkin_token=f"bench-{org.pk}-{i}",
                    open_days="workdays" if i % 5 else "all",
                )
                for i, loc in enumerate(locs)
            ],
            batch_size=BATCH,
        )  # fmt: skip
    return out


def _inserter(connection):
    """``executemany`` of booking rows (the ORM's bulk_create spends most of a year's
    seeding preparing field values): the varying columns per row, the rest constant."""
    from dayuan.bookings.models import Booking

    now = datetime.now(UTC)
    const = {
        "created_at": now, "updated_at": now, "version": 1, "series_id": None,
        "title": "例会", "meeting_type": "office", "leaders_attending": False,
        "equipment": "[]", "contact_name": "", "contact_phone": "", "note": "",
        "priority": "normal", "emergency": False, "decided_by_id": None, "decided_at": None,
        "decision_note": "", "checked_in_at": None, "ended_at": None, "cancelled_at": None,
        "cancel_reason": "", "released_at": None, "displaced_by_id": None,
        "displace_reason": "", "client_key": None,
    }  # fmt: skip
    varying = ["org_id", "room_id", "number", "booker_id", "organizer_unit_id", "attendees",
               "start_at", "end_at", "status", "active", "requested_at", "ics_token"]  # fmt: skip
    dt = connection.ops.adapt_datetimefield_value
    const = {k: dt(v) if isinstance(v, datetime) else v for k, v in const.items()}
    const["equipment"] = Booking._meta.get_field("equipment").get_db_prep_save([], connection)
    cols = varying + list(const)
    table = connection.ops.quote_name(Booking._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(c) for c in cols)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(cols))})"
    )
    tail = tuple(const.values())

    def insert(rows: list[tuple]) -> None:
        with connection.cursor() as cur:
            cur.executemany(
                sql,
                [(*r[:6], dt(r[6]), dt(r[7]), r[8], r[9], dt(r[10]), r[11], *tail) for r in rows],
            )

    return insert


def seed(n_rooms: int, per_day: int, rng: random.Random) -> dict:
    from django.db import connection, transaction

    from dayuan.bookings.models import Room
    from dayuan.bookings.tests.factories import build
    from dayuan.core.testing import build_world

    with transaction.atomic():
        world = build_world()
        s = build(world)
    started = time.perf_counter()
    today = datetime.now(SHANGHAI).date()
    first = today - timedelta(days=300)
    people = [world.user(n) for n in ("a_staff", "a_manager", "a_dispatcher", "a_admin")]
    count = 0
    with transaction.atomic():
        rooms = _rooms(world, s, n_rooms, rng)
        insert = _inserter(connection)
        batch: list = []
        for d in range(365):
            day = first + timedelta(days=d)
            past = day < today
            midnight = datetime.combine(day, datetime.min.time(), SHANGHAI)
            for r in rooms:
                if day.weekday() >= 5 and r.open_days == "workdays":
                    continue
                hour = 8 + rng.randrange(0, 3)
                for k in range(per_day):
                    start = midnight + timedelta(hours=hour + 3 * k, minutes=rng.choice((0, 30)))
                    roll = rng.random()
                    if past:
                        status = "completed" if roll < 0.8 else "released" if roll < 0.9 else (
                            "cancelled")  # fmt: skip
                    else:
                        status = "confirmed" if roll < 0.9 else "cancelled"
                    count += 1
                    end = start + timedelta(minutes=rng.choice((60, 90, 120)))
                    batch.append(
                        (r.org_id, r.pk, f"HY-B-{count:08d}", people[count % 4].pk,
                         world.county_a.pk, min(r.capacity, 6), start, end, status,
                         status == "confirmed", start - timedelta(days=2), f"b{count}")
                    )  # fmt: skip
            if len(batch) >= BATCH:
                insert(batch)
                batch = []
        insert(batch)
        # the contended rooms: four plain rooms, no lead time or window rule, open daily
        contended = [
            Room.objects.create(
                org=world.county_a, location=s.room_a.location, building=s.building_a,
                name=f"争用会议室{i}", resource_class="standard_room", capacity=30,
                open_days="all", opens_at="07:00", closes_at="22:00",
                checkin_token=f"contended-{i}",
            )
            for i in range(4)
        ]  # fmt: skip
    seconds = time.perf_counter() - started
    common.analyze()
    return {
        "world": world,
        "setup": s,
        "contended": contended,
        "first": first,
        "seed": {
            "rooms": len(rooms),
            "bookings": count,
            "insert_seconds": round(seconds, 1),
        },
    }


def _client(user):
    from django.test import Client

    from dayuan.accounts.services import issue_token

    raw, _ = issue_token(actor=user)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_HOST="127.0.0.1")


def contention(world, rooms: list, threads: int, attempts: int, seed_value: int) -> dict:
    """``threads`` threads book overlapping ranges of four rooms on one day."""
    from dayuan.bookings.models import Booking

    day = datetime.now(SHANGHAI).date() + timedelta(days=400)
    base = datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(hours=8)
    names = ["a_staff", "a_manager", "a_dispatcher", "a_admin", "a_inspector"]
    clients = [_client(world.user(names[i % len(names)])) for i in range(threads)]

    def run(i: int, got: dict[str, int], mine: list[float]) -> None:
        rng = random.Random(seed_value + i)
        for _ in range(attempts):
            start = base + timedelta(minutes=15 * rng.randrange(0, 40))
            body = {
                "room_id": rng.choice(rooms).pk,
                "start_at": start.isoformat(),
                "end_at": (start + timedelta(minutes=rng.choice((30, 60, 90)))).isoformat(),
                "title": "争用测试",
                "attendees": 5,
                "contact_phone": "13800000000",
            }
            t0 = time.perf_counter()
            resp = clients[i].post(
                "/api/v1/bookings", json.dumps(body), content_type="application/json"
            )
            mine.append(time.perf_counter() - t0)
            if resp.status_code == 201:
                key = "success"
            elif resp.status_code == 409 and resp.json().get("code") == "room_taken":
                key = "room_taken"
            else:
                key = f"error {resp.status_code} {resp.content[:120]!r}"
            got[key] = got.get(key, 0) + 1

    race = common.Contention(threads)
    race.run(run)
    active = list(
        Booking.objects.filter(room__in=rooms, active=True)
        .order_by("room_id", "start_at")
        .values_list("room_id", "start_at", "end_at")
    )
    overlaps = sum(
        1
        for i, a in enumerate(active)
        for b in active[i + 1 :]
        if a[0] == b[0] and b[1] < a[2] and a[1] < b[2]
    )
    return race.result(
        f"book under contention ({threads} threads, 4 rooms)",
        "POST /api/v1/bookings",
        overlaps,
        successes=race.outcomes.get("success", 0),
        refused_room_taken=race.outcomes.get("room_taken", 0),
        active_bookings=len(active),
        overlaps=overlaps,
    )


def worker(
    n_rooms: int, per_day: int, threads: int, attempts: int, searches: int, seed_value: int
) -> dict:
    common.setup_django()
    rng = random.Random(seed_value)
    facts = seed(n_rooms, per_day, rng)
    world, first = facts.pop("world"), facts.pop("first")
    facts.pop("setup")
    contended = facts.pop("contended")
    staff = _client(world.user("a_staff"))
    found: list[int] = []

    def search(i: int) -> bool:
        day: date = first + timedelta(days=rng.randrange(0, 365))
        start = datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(
            hours=rng.randrange(8, 16), minutes=rng.choice((0, 30))
        )
        query = {
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "attendees": rng.choice((0, 8, 12, 20, 30)),
            "equipment": ",".join(rng.choice(EQUIPMENT)),
        }
        resp = staff.get("/api/v1/rooms/free", query)
        if resp.status_code == 200:
            found.append(len(resp.json()))
        return resp.status_code == 200

    search(0)  # warm caches (org ids, the working calendar) once
    results = [
        common.measure(f"free-room search ({facts['seed']['rooms']} rooms, a year)",
                       "GET /api/v1/rooms/free", search, searches),
        contention(world, contended, threads, attempts, seed_value),
    ]  # fmt: skip
    results[0]["rooms_found_mean"] = round(statistics.mean(found), 1) if found else 0
    facts["results"] = results
    return facts


# --- the driver -----------------------------------------------------------------------


def run_all(
    dbs: list[str],
    admin_url: str,
    *,
    rooms: int = 500,
    per_day: int = 2,
    threads: int = 16,
    attempts: int = 25,
    searches: int = 300,
    keep: bool = False,
    seed: int = 2026,
) -> dict:
    def after(db: str, facts: dict) -> None:
        for r in facts["results"]:
            if "overlaps" in r:
                common.say(
                    f"{db}: {r['successes']} booked, {r['refused_room_taken']} refused "
                    f"(room_taken), overlaps {r['overlaps']}, errors {r['error_kinds'] or 0}"
                )
        common.say(f"{db}: seeded {facts['seed']}")

    return common.run_worker_per_db(
        "bookings",
        "bench.bookings_bench",
        dbs,
        admin_url,
        keep,
        lambda db: common.flags(rooms=rooms, per_day=per_day, threads=threads,
                                attempts=attempts, searches=searches, seed=seed),
        lambda db: f"seed {rooms} rooms with a year of bookings and measure on {db}",
        rows=lambda facts: facts["seed"]["bookings"],
        after=after,
    )  # fmt: skip


table = common.table


def main(argv: list[str] | None = None) -> int:
    parser = common.sub_bench_parser(__doc__)
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--per-day", type=int, default=2, help="bookings per room per day")
    parser.add_argument("--threads", type=int, default=16, help="contending threads")
    parser.add_argument("--attempts", type=int, default=25, help="bookings tried per thread")
    parser.add_argument("--searches", type=int, default=300, help="free-room searches")
    args = common.parse_args(parser, argv)
    if args.worker:
        return common.print_worker(
            worker(args.rooms, args.per_day, args.threads, args.attempts, args.searches, args.seed)
        )
    return common.run_and_report("bookings", run_all, args, table)


if __name__ == "__main__":
    sys.exit(main())
