"""Canteen bench: the noon rush (2,000 staff reserving lunch within five minutes, limited
dishes selling out, never oversold), and the menus and kitchen-counts reads over two
months of history.

    .venv/bin/python bench/canteen_bench.py [--db sqlite|postgres|both] [--staff 2000]
                                            [--portions 300] [--threads 16]
                                            [--history-days 60] [--reads 200] [--keep]

Run by ``bench/run.py`` after the other benches (skip with ``--skip-canteen``). For each
database (PostgreSQL when the admin URL answers): a fresh one (``bench/run.py``'s
scratch database), ``dayuan migrate``, then a worker process (``python -m
bench.canteen_bench --worker``) that

1. builds the org world, the JG-ST food-safety standard and two canteens
   (``canteen.tests.factories``), and bulk-inserts ``--staff`` staff of county A with a
   bearer token each;
2. bulk-inserts ``--history-days`` days of closed menus (three meals, both canteens)
   with their reservations (served, no-shows, cancelled; pre-ordered dishes), walk-ins
   and diners, so the kitchen's forecast and backtest read a real history; then
   ``ANALYZE`` (``VACUUM ANALYZE`` on PostgreSQL);
3. publishes the week ahead and, the day after tomorrow, the rush lunch: four limited
   dishes of ``--portions`` portions each (three to eat in, one take-away package) and
   unlimited rice and greens, a headcount cap of ``--staff``;
4. measures in-process through Django's test client with bearer tokens (no server: the
   figures are the app and the database, not the network):

   - **noon rush**: ``--threads`` threads, each its own connection, share the staff; each
     person ``POST /api/v1/canteen/reservations`` once (with an ``Idempotency-Key``, as
     the phone sends): 15 % take the package away at a random pickup slot, the others
     eat in, three in four of them pre-ordering one limited dish (one in seven two
     portions). A 409 ``sold_out`` is a clean refusal; that person then reserves the
     headcount only (eat-in, no dish). Anything else is an error. Afterwards the
     database is checked: **oversells** = Σ over items of max(0, sold − portions) plus
     the items whose ``sold`` differs from the sum of their holding reservations' lines,
     plus a headcount that differs from the holding reservations; it must be 0, and
     every person must hold exactly one reservation;
   - **reads**: ``GET /api/v1/canteen/canteens/{id}/menus`` (a random week of the
     history or the one ahead, as a staff member)
     and ``GET /api/v1/canteen/canteens/{id}/kitchen`` (the rush day, as the canteen's
     manager: counts per meal, portions per dish, forecast and backtest over the
     history), and the dashboard over the history.

Prints the table of ``bench/run.py`` and the rush's outcome (reserved, sold-out
refusals, oversells, whether it fit in five minutes), and merges ``canteen`` into
``var/bench/results.json``. The load generator shares the CPUs (and the GIL) with the
app, so the rate is a floor for a real server with several workers.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

BATCH = 5000
SHANGHAI = ZoneInfo("Asia/Shanghai")
RUSH_LIMIT_SECONDS = 300
LIMITED = ("dongpo", "fish", "soup")  # eaten in; "box" is the take-away package
# reserved per meal on a working day in canteen A (B about a quarter), fewer at weekends
HISTORY_PER_MEAL = {"breakfast": 120, "lunch": 420, "dinner": 90}


# --- the worker (inside Django) -------------------------------------------------------


def _staff(world, n: int) -> tuple[list, list[str]]:
    """``n`` staff of county A (one grant each) and a raw bearer token per person."""
    from django.utils import timezone

    from dayuan.accounts.choices import Role
    from dayuan.accounts.models import ApiToken, Grant, User

    users = User.objects.bulk_create(
        [
            User(
                username=f"rush{i:05d}", display_name=f"职工{i:05d}", password="!",
                home_org=world.county_a, email=f"rush{i:05d}@example.gov.cn",
            )
            for i in range(n)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    Grant.objects.bulk_create(
        [Grant(user=u, org=world.county_a, role=Role.STAFF) for u in users], batch_size=BATCH
    )
    raws = [f"dy_{secrets.token_urlsafe(32)}" for _ in users]
    expires = timezone.now() + timedelta(days=30)
    ApiToken.objects.bulk_create(
        [
            ApiToken(user=u, key_hash=hashlib.sha256(raw.encode()).hexdigest(),
                     prefix=raw[:8], name="bench", expires_at=expires)
            for u, raw in zip(users, raws, strict=True)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    return users, raws


def _history(cw, people: list, days: int, rng: random.Random) -> dict:
    """Closed menus of the last ``days`` days with reservations, lines, diners."""
    from dayuan.canteen.choices import Meal, MenuStatus, ReservationKind, ReservationStatus
    from dayuan.canteen.models import Menu, MenuItem, Reservation, ReservationLine
    from dayuan.canteen.tests.factories import PERIODS

    today = datetime.now(SHANGHAI).date()
    menus: list[Menu] = []
    for canteen in cw.canteens.values():
        for d in range(days, 0, -1):
            day = today - timedelta(days=d)
            for meal, (start_t, end_t, cutoff, cancel, price) in PERIODS.items():
                start = datetime.combine(day, start_t, SHANGHAI)
                menus.append(
                    Menu(
                        org=canteen.org, canteen=canteen, day=day, meal=meal,
                        status=MenuStatus.CLOSED, serve_start=start,
                        serve_end=datetime.combine(day, end_t, SHANGHAI),
                        reserve_until=start - timedelta(minutes=cutoff),
                        cancel_until=start - timedelta(minutes=cancel),
                        eat_in_price=price, closed_at=datetime.combine(day, end_t, SHANGHAI),
                        published_at=start - timedelta(days=3),
                    )
                )  # fmt: skip
    menus = Menu.objects.bulk_create(menus, batch_size=BATCH)
    items: list[MenuItem] = []
    for m in menus:
        key = "a" if m.canteen_id == cw.canteens["a"].pk else "b"
        for pos, (dkey, portions) in enumerate(
            (("dongpo", 200), ("fish", 150), ("greens", None), ("rice", None))
        ):
            dish = cw.dishes[f"{key}:{dkey}"]
            items.append(
                MenuItem(menu=m, dish=dish, price=dish.price, portions=portions, position=pos)
            )
    items = MenuItem.objects.bulk_create(items, batch_size=BATCH)
    limited: dict[int, list[MenuItem]] = {}
    for it in items:
        if it.portions is not None:
            limited.setdefault(it.menu_id, []).append(it)
    rows: list[Reservation] = []
    lines: list[tuple[int, MenuItem]] = []  # (index into rows, item)
    closed: list[Menu] = []
    n = 0
    for m in menus:
        working = m.day.weekday() < 5
        base = HISTORY_PER_MEAL[m.meal] * (1 if m.canteen_id == cw.canteens["a"].pk else 0.25)
        reserved = int(base * (1 if working else 0.15) * rng.uniform(0.85, 1.15))
        served = no_show = 0
        for i, person in enumerate(rng.sample(people, min(reserved, len(people)))):
            n += 1
            roll = rng.random()
            status = (
                ReservationStatus.SERVED if roll < 0.86
                else ReservationStatus.NO_SHOW if roll < 0.93
                else ReservationStatus.CANCELLED
            )  # fmt: skip
            served += status == ReservationStatus.SERVED
            no_show += status == ReservationStatus.NO_SHOW
            rows.append(
                Reservation(
                    org=m.org, canteen_id=m.canteen_id, menu=m, person=person,
                    person_org_id=person.home_org_id, number=f"BC-H{n:08d}",
                    kind=ReservationKind.EAT_IN, status=status, pickup_code=f"{i:06d}",
                    amount=m.eat_in_price,
                    served_at=m.serve_start if status == ReservationStatus.SERVED else None,
                    cancelled_at=m.cancel_until if status == ReservationStatus.CANCELLED else None,
                )
            )  # fmt: skip
            lunch = m.meal == Meal.LUNCH and status != ReservationStatus.CANCELLED
            if lunch and rng.random() < 0.5:
                item = rng.choice(limited[m.pk])
                if item.sold < item.portions:
                    item.sold += 1
                    lines.append((len(rows) - 1, item))
        m.reserved_count = served + no_show
        m.walk_ins = int(base * 0.08 * rng.uniform(0.5, 1.5))
        m.diners = served + m.walk_ins
        closed.append(m)
    Menu.objects.bulk_update(closed, ["reserved_count", "walk_ins", "diners"], batch_size=BATCH)
    MenuItem.objects.bulk_update(
        [it for group in limited.values() for it in group], ["sold"], batch_size=BATCH
    )
    rows = Reservation.objects.bulk_create(rows, batch_size=BATCH)
    ReservationLine.objects.bulk_create(
        [
            ReservationLine(reservation=rows[i], menu_item=it, quantity=1, price=it.price)
            for i, it in lines
        ],
        batch_size=BATCH,
    )
    return {"menus": len(menus), "reservations": len(rows), "lines": len(lines)}


def _week_ahead(cw, rush_day: date, staff: int, portions: int) -> object:
    """Published menus from tomorrow for a week (both canteens, three meals); the rush
    lunch of canteen A on ``rush_day``."""
    from dayuan.canteen.choices import Meal
    from dayuan.canteen.tests.factories import menu

    today = datetime.now(SHANGHAI).date()
    rush = None
    for key in ("a", "b"):
        for d in range(1, 8):
            day = today + timedelta(days=d)
            for meal in Meal.values:
                if key == "a" and day == rush_day and meal == Meal.LUNCH:
                    rush = menu(
                        cw, key, day, meal, capacity=staff,
                        items={**dict.fromkeys((*LIMITED, "box"), portions),
                               "rice": None, "greens": None},
                    )  # fmt: skip
                else:
                    menu(cw, key, day, meal)
    return rush


def seed(staff: int, portions: int, history_days: int, rng: random.Random) -> dict:
    from django.db import transaction

    from dayuan.canteen.tests.factories import build
    from dayuan.core.testing import build_world

    started = time.perf_counter()
    with transaction.atomic():
        world = build_world()
        cw = build(world)
        people, tokens = _staff(world, staff)
        history = _history(cw, people, history_days, rng)
        rush_day = datetime.now(SHANGHAI).date() + timedelta(days=2)
        rush = _week_ahead(cw, rush_day, staff, portions)
    seconds = time.perf_counter() - started
    common.analyze()
    return {
        "world": world,
        "cw": cw,
        "people": people,
        "tokens": tokens,
        "rush": rush,
        "seed": {"staff": len(people), **history, "seconds": round(seconds, 1)},
    }


def _client():
    from django.test import Client

    return Client(HTTP_HOST="127.0.0.1")


def _plan(rush, rng: random.Random) -> list[dict]:
    """What each person asks for: take-away package at a slot, or eat-in with perhaps one
    limited dish (sometimes two portions), or the headcount only."""
    items = {it.dish.name: it for it in rush.items.select_related("dish")}
    box = next(it for it in items.values() if it.takeaway)
    limited = [it for it in items.values() if it.portions is not None and not it.takeaway]
    slots = []
    t = rush.serve_start
    while t < rush.serve_end:
        slots.append(t)
        t += timedelta(minutes=rush.canteen.takeaway_slot_minutes)
    roll = rng.random()
    if roll < 0.15:
        return {"menu_id": rush.pk, "kind": "takeaway",
                "items": [{"menu_item_id": box.pk, "quantity": 1}],
                "pickup_at": rng.choice(slots).isoformat()}  # fmt: skip
    body = {"menu_id": rush.pk, "kind": "eat_in", "items": []}
    if rng.random() < 0.75:
        body["items"] = [
            {"menu_item_id": rng.choice(limited).pk, "quantity": 2 if rng.random() < 1 / 7 else 1}
        ]
    return body


def rush_hour(rush, tokens: list[str], threads: int, seed_value: int) -> dict:
    """Every person reserves once through the API, ``threads`` at a time."""
    from django.db.models import Sum

    from dayuan.canteen.choices import HOLDING
    from dayuan.canteen.models import Menu, MenuItem, Reservation, ReservationLine

    rng = random.Random(seed_value)
    plans = [_plan(rush, rng) for _ in tokens]
    queue = list(range(len(tokens)))
    rng.shuffle(queue)
    race = common.Contention(threads)

    def post(client, i: int, body: dict, mine: list[float]) -> tuple[int, dict]:
        t0 = time.perf_counter()
        resp = client.post(
            "/api/v1/canteen/reservations", json.dumps(body), content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {tokens[i]}", HTTP_IDEMPOTENCY_KEY=secrets.token_hex(16),
        )  # fmt: skip
        mine.append(time.perf_counter() - t0)
        try:
            data = resp.json()
        except ValueError:
            data = {"raw": resp.content[:120].decode(errors="replace")}
        return resp.status_code, data

    def run(_: int, got: dict[str, int], mine: list[float]) -> None:
        client = _client()
        while True:
            with race.lock:
                if not queue:
                    break
                i = queue.pop()
            status, data = post(client, i, plans[i], mine)
            if status == 409 and data.get("code") == "sold_out":
                got["sold_out"] = got.get("sold_out", 0) + 1
                status, data = post(client, i, {"menu_id": rush.pk, "kind": "eat_in"}, mine)
            if status == 201:
                got["reserved"] = got.get("reserved", 0) + 1
            else:
                key = f"error {status} {data.get('code') or data}"
                got[key] = got.get(key, 0) + 1

    race.run(run)

    menu = Menu.objects.get(pk=rush.pk)
    holding = Reservation.objects.filter(menu=menu, status__in=HOLDING)
    lines = dict(
        ReservationLine.objects.filter(reservation__in=holding)
        .values_list("menu_item_id")
        .annotate(q=Sum("quantity"))
    )
    items = list(MenuItem.objects.filter(menu=menu))
    oversold = sum(max(0, it.sold - it.portions) for it in items if it.portions is not None)
    mismatched = sum(1 for it in items if it.sold != lines.get(it.pk, 0))
    people = holding.count()
    distinct = holding.values("person_id").distinct().count()
    headcount_off = abs(menu.reserved_count - people)
    oversells = oversold + mismatched + headcount_off + (people - distinct)
    return race.result(
        f"noon rush ({len(tokens)} staff, {threads} threads)",
        "POST /api/v1/canteen/reservations",
        oversells + (len(tokens) - people),
        reserved=race.outcomes.get("reserved", 0),
        holding=people,
        refused_sold_out=race.outcomes.get("sold_out", 0),
        portions={it.dish.name: [it.sold, it.portions] for it in items},
        oversold_portions=oversold,
        items_sold_vs_lines_mismatch=mismatched,
        headcount_mismatch=headcount_off,
        oversells=oversells,
        fits_in_5_minutes=race.elapsed <= RUSH_LIMIT_SECONDS,
    )


def worker(
    staff: int, portions: int, threads: int, history_days: int, reads: int, seed_value: int
) -> dict:
    common.setup_django()

    from dayuan.accounts.services import issue_token

    rng = random.Random(seed_value)
    facts = seed(staff, portions, history_days, rng)
    world, cw, rush, tokens = (facts.pop(k) for k in ("world", "cw", "rush", "tokens"))
    facts.pop("people")
    canteen = cw.canteens["a"]
    reader = _client()
    staff_auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens[0]}"}
    raw, _ = issue_token(actor=world.user("a_manager"))
    manager_auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    today = datetime.now(SHANGHAI).date()
    first = today - timedelta(days=history_days)

    def menus(i: int) -> bool:
        start = today + timedelta(days=rng.randrange(-history_days, 1))
        path = f"/api/v1/canteen/canteens/{canteen.pk}/menus"
        query = {"start": start.isoformat(), "end": (start + timedelta(days=6)).isoformat()}
        return reader.get(path, query, **staff_auth).status_code == 200

    def kitchen(i: int) -> bool:
        path = f"/api/v1/canteen/canteens/{canteen.pk}/kitchen"
        return reader.get(path, {"day": rush.day.isoformat()}, **manager_auth).status_code == 200

    def dashboard(i: int) -> bool:
        query = {"start": first.isoformat(), "end": today.isoformat()}
        return reader.get("/api/v1/canteen/dashboard", query, **manager_auth).status_code == 200

    for fn in (menus, kitchen, dashboard):  # warm caches (org ids, standards) once
        if not fn(0):
            raise SystemExit(f"[bench] {fn.__name__} failed before measuring")
    results = [rush_hour(rush, tokens, threads, seed_value)]
    results += [
        common.measure("menus of a week (canteen A)",
                       "GET /api/v1/canteen/canteens/{id}/menus", menus, reads),
        common.measure("kitchen counts + forecast (rush day)",
                       "GET /api/v1/canteen/canteens/{id}/kitchen", kitchen, max(10, reads // 4)),
        common.measure(f"dashboard ({history_days} days)",
                       "GET /api/v1/canteen/dashboard", dashboard, max(5, reads // 10)),
    ]  # fmt: skip
    facts["results"] = results
    return facts


# --- the driver -----------------------------------------------------------------------


def run_all(
    dbs: list[str],
    admin_url: str,
    *,
    staff: int = 2000,
    portions: int = 300,
    threads: int = 16,
    history_days: int = 60,
    reads: int = 200,
    keep: bool = False,
    seed: int = 2026,
) -> dict:
    def after(db: str, facts: dict) -> None:
        r = facts["results"][0]
        common.say(
            f"{db}: noon rush {r['reserved']} reserved of {facts['seed']['staff']} in "
            f"{r['seconds']}s ({r['rps']} req/s; fits in 5 minutes: {r['fits_in_5_minutes']}), "
            f"{r['refused_sold_out']} refused sold_out, oversells {r['oversells']}, "
            f"errors {r['error_kinds'] or 0}"
        )
        common.say(f"{db}: portions sold/limit {r['portions']}")
        common.say(f"{db}: seeded {facts['seed']}")

    return common.run_worker_per_db(
        "canteen",
        "bench.canteen_bench",
        dbs,
        admin_url,
        keep,
        lambda db: common.flags(staff=staff, portions=portions, threads=threads,
                                history_days=history_days, reads=reads, seed=seed),
        lambda db: f"seed {history_days} days of meals, {staff} staff, rush and reads on {db}",
        rows=lambda facts: facts["seed"]["reservations"],
        after=after,
    )  # fmt: skip


def table(results: list[dict]) -> str:
    """``bench/run.py``'s table, then the noon rush's outcome per database."""
    rush = [r for r in results if "oversells" in r]
    if not rush:
        return common.table(results)
    head = ["noon rush", "reserved", "sold_out refusals", "oversells", "seconds", "in 5 min"]
    rows = [
        [r["db"], str(r["reserved"]), str(r["refused_sold_out"]), str(r["oversells"]),
         f"{r['seconds']:.1f}", "yes" if r["fits_in_5_minutes"] else "NO"]
        for r in rush
    ]  # fmt: skip
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [line(head), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
    return common.table(results) + "\n\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = common.sub_bench_parser(__doc__)
    parser.add_argument("--staff", type=int, default=2000, help="people in the noon rush")
    parser.add_argument("--portions", type=int, default=300, help="per limited dish")
    parser.add_argument("--threads", type=int, default=16, help="concurrent clients")
    parser.add_argument("--history-days", type=int, default=60, help="days of closed meals")
    parser.add_argument("--reads", type=int, default=200, help="menu reads measured")
    args = common.parse_args(parser, argv)
    if args.worker:
        return common.print_worker(
            worker(args.staff, args.portions, args.threads, args.history_days, args.reads,
                   args.seed)
        )  # fmt: skip
    return common.run_and_report("canteen", run_all, args, table)


if __name__ == "__main__":
    sys.exit(main())
