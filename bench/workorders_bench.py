"""Work-order bench: the full request flow through HTTP, and the list and dashboard at scale.

    .venv/bin/python bench/workorders_bench.py [--db sqlite|postgres|both]
                                               [--pg-orders 1000000] [--sqlite-orders 200000]
                                               [--duration 10] [--concurrency 8] [--keep]

Run by ``bench/run.py`` after the other workloads (skip with ``--skip-workorders``).
For each database: a fresh one (as ``bench/run.py`` makes them), ``dayuan migrate``, then
a worker process (``python -m bench.workorders_bench --worker``) that

1. builds the org world (``build_world`` plus a third county, 500 more rooms per centre),
   imports and adopts the demo commitment JG-FW (``workorders/demo_standards``), the
   catalogue, one vendor team per centre;
2. bulk-inserts the orders (default 1,000,000 on PostgreSQL with ``COPY``, 200,000 on
   SQLite with ``executemany``) over the four centres and the last six months, most
   closed and rated, some open and overdue, each with its respond/arrive/resolve clocks
   (due times on wall-clock minutes: the bench needs the rows' shape, not calendar
   accuracy; no timelines or judgments), then ``ANALYZE``;
3. counts the queries of one request of each kind in-process
   (``CaptureQueriesContext`` around Django's test client): the six flow steps, the
   filtered list, the dashboard.

Then gunicorn (``bench/run.py``'s helpers) and an asyncio load generator:

(a) the full flow, ``--concurrency`` clients each looping create (staff) → dispatch
    (dispatcher) → accept → arrive → resolve (worker) → rate (staff) with bearer tokens:
    flows/s and p50/p95 per step;
(b) ``GET /api/v1/workorders?status=…&category_id=…&page=…`` as a county dispatcher and as
    the city manager, and ``GET /workorders/dashboard/`` (logged-in session) as the
    city manager: requests/s, p50/p95.

Prints a table and merges ``workorders`` into ``var/bench/results.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

MONTHS = 6
EXTRA_ROOMS = 500
FLOW_STEPS = ("create", "dispatch", "accept", "arrive", "resolve", "rate")


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- the worker (inside Django) -------------------------------------------------------


def build(seed: int) -> dict:
    """The world, the standard, the catalogue and the teams; returns ids the driver needs."""
    from django.db import transaction

    from bench.seed import bulk_locations
    from dayuan.accounts.choices import Role
    from dayuan.accounts.models import Grant, User
    from dayuan.core.testing import build_compound, build_world, make_org
    from dayuan.orgs.choices import LocationKind, OrgKind
    from dayuan.orgs.models import Location
    from dayuan.workorders import demo
    from dayuan.workorders.models import Responsibility, TeamMember

    with transaction.atomic():
        world = build_world()
        county_c = make_org("丙县机关服务中心", "county-c", OrgKind.COUNTY, world.city)
        build_compound(world.city, "市")
        build_compound(county_c, "丙县")
        centres = [world.city, world.county_a, world.county_b, county_c]
        for org in centres:
            bulk_locations(org, EXTRA_ROOMS, floors=10, rooms=24)
        admin = world.users["admin"]
        demo.install_standard(admin, world.city)
        demo.sla_in_force_since(datetime.now(UTC) - timedelta(days=31 * MONTHS + 2))
        categories = demo.build_catalogue(world.city)
        password = world.users["vendor_worker"].password
        teams = []
        for i, org in enumerate(centres):
            if org == world.county_a:
                vendor, lead = world.vendor, world.users["vendor_worker"]
            else:
                vendor = make_org(f"{org.name[:-6]}物业公司", f"vendor-{i}", OrgKind.VENDOR, org)
                lead = User.objects.create(
                    username=f"bench_worker{i}", display_name=f"维修工{i}", home_org=vendor,
                    password=password,
                )  # fmt: skip
                Grant.objects.create(user=lead, org=vendor, role=Role.WORKER)
            team, members = demo.build_team(
                org, vendor, lead, categories, password_hash=password, serial=i, prefix=f"v{i}"
            )
            teams.append((org, team, [m.user_id for m in members]))
        rooms = {
            org.pk: list(
                Location.objects.filter(org=org, kind=LocationKind.ROOM).values_list(
                    "id", flat=True
                )
            )
            for org in centres
        }
        staff_c = User.objects.create(
            username="c_staff", display_name="丙县职工", home_org=county_c, password=password
        )
        Grant.objects.create(user=staff_c, org=county_c, role=Role.STAFF)
        requesters = {
            org.pk: list(User.objects.filter(grants__org=org).values_list("id", flat=True))
            for org in centres
        }
    a_team = next(t for org, t, _m in teams if org == world.county_a)
    return {
        "world": world,
        "categories": categories,
        "teams": teams,
        "rooms": rooms,
        "requesters": requesters,
        "ids": {
            "category_id": categories["repair.plumbing"].pk,
            "team_id": a_team.pk,
            "worker_id": world.users["vendor_worker"].pk,
            "rooms_a": rooms[world.county_a.pk][:200],
            "filter_categories": [
                categories[c].pk for c in ("repair.plumbing", "repair.ac", "cleaning")
            ],
            "responsibilities": Responsibility.objects.count(),
            "members": TeamMember.objects.count(),
        },
    }


def seed_orders(built: dict, n: int, seed: int) -> dict:
    """``n`` orders over the centres and the last six months, with their clocks."""
    from django.db import connection, transaction

    from dayuan.standards import engine
    from dayuan.workorders.demo import CATEGORIES, ORDER_FIELDS, TIMER_FIELDS, RowWriter
    from dayuan.workorders.models import WorkOrder, WorkOrderTimer

    rng = random.Random(seed)
    writer = RowWriter()
    pg = writer.pg
    teams = built["teams"]
    cats = built["categories"]
    leaves = [s for s in CATEGORIES if s.weight]
    leaf_ids = [cats[s.code].pk for s in leaves]
    leaf_weights = [s.weight for s in leaves]
    city = built["world"].city
    specs = {}
    for s in leaves:
        for urgency in ("normal", "urgent"):
            specs[(cats[s.code].pk, urgency)] = [
                (t.name, t.label, t.minutes, t.calendar, t.anchor, t.rule_id, t.clause_id)
                for t in engine.sla_timers(city, s.sla_category, priority=urgency)
            ]
    now = int(time.time()) // 60 * 60
    span = MONTHS * 30 * 86400
    start = now - span
    fmt_cache: dict[int, str] = {}
    suffix = "+00" if pg else ""

    def ts(epoch: int | None) -> str | None:
        if epoch is None:
            return None
        minute = epoch // 60 * 60
        text = fmt_cache.get(minute)
        if text is None:
            text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(minute)) + suffix
            fmt_cache[minute] = text
        return text

    centre_weights = (0.4, 0.2, 0.2, 0.2)
    true, false = (True, False) if pg else (1, 0)
    first_id = (WorkOrder.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    day_key, seq = "", 0
    orders: list[tuple] = []
    timers: list[tuple] = []
    counts = {"orders": 0, "timers": 0}
    statuses: dict[str, int] = {}
    step = span / n
    started = time.perf_counter()
    with transaction.atomic():
        if pg:
            # The ids are generated valid; checking every foreign key row by row (deferred
            # triggers) would double the load time. Superuser only, this transaction only.
            with connection.cursor() as cur:
                cur.execute("SET LOCAL session_replication_role = replica")
        for i in range(n):
            pk = first_id + i
            t0 = int(start + i * step + rng.random() * step * 0.9)
            local_day = time.strftime("%Y%m%d", time.gmtime(t0 + 8 * 3600))
            if local_day != day_key:
                day_key, seq = local_day, 0
            seq += 1
            org, team, members = teams[rng.choices((0, 1, 2, 3), centre_weights)[0]]
            cat_id = rng.choices(leaf_ids, leaf_weights)[0]
            urgent = rng.random() < 0.08
            clock = specs[(cat_id, "urgent" if urgent else "normal")]
            age = now - t0
            # Wall-clock stand-ins for the steps (minutes), late ~7 % of the time.
            late = rng.random() < 0.07
            acc = t0 + 60 * rng.randint(3, 80 if late else 25)
            arr = acc + 60 * rng.randint(5, 240 if late else 60)
            res = arr + 60 * rng.randint(20, 3000 if late else 400)
            rated = rng.random() < 0.85
            close = res + (60 * rng.randint(10, 2800) if rated else 3 * 86400)
            stuck = age < 20 * 86400 and rng.random() < 0.03
            cancelled = rng.random() < 0.02
            t = {
                "dispatched": acc - 60,
                "accepted": acc,
                "arrived": arr,
                "resolved": res,
                "closed": close,
            }
            for key, value in list(t.items()):
                if value > now or (stuck and key in ("arrived", "resolved", "closed")):
                    t[key] = None
            if cancelled:
                status = "cancelled"
                t = dict.fromkeys(t)
                t["closed"] = min(now, t0 + 600)
            elif t["closed"]:
                status = "confirmed" if rated else "closed"
            elif t["resolved"]:
                status = "resolved"
            elif t["arrived"]:
                status = "on_site"
            elif t["accepted"]:
                status = "accepted"
            elif t["dispatched"]:
                status = "dispatched"
            else:
                status = "submitted"
            statuses[status] = statuses.get(status, 0) + 1
            met_at = {"respond": t["accepted"], "arrive": t["arrived"], "resolve": t["resolved"]}
            overdue = False
            for name, label, minutes, calendar, anchor, rule_id, clause_id in clock:
                due = t0 + minutes * (60 if calendar == "24x7" else 150)
                met = met_at.get(name)
                breached = (met > due) if met else (status != "cancelled" and due < now)
                overdue |= breached
                timers.append(
                    (pk, name, label, minutes, calendar, anchor, ts(t0), ts(due), 0, ts(met),
                     true if breached else false, 1 if breached else 0, rule_id, clause_id)
                )  # fmt: skip
            dispatched = t["dispatched"] is not None
            rating = (
                rng.choices((1, 2, 3, 4, 5), (2, 3, 8, 30, 57))[0]
                if status == "confirmed"
                else None
            )
            requester = rng.choice(built["requesters"][org.pk])
            orders.append(
                (pk, org.pk, f"WO-{day_key}-{seq:05d}", cat_id, rng.choice(built["rooms"][org.pk]),
                 "水龙头漏水", "urgent" if urgent else "normal", "web", requester, requester,
                 "", status, team.pk if dispatched else None,
                 team.vendor_id if dispatched else None,
                 rng.choice(members) if dispatched else None, ts(t0), ts(t["dispatched"]),
                 ts(t["accepted"]), ts(t["arrived"]), ts(t["resolved"]),
                 ts(t["closed"]) if status == "confirmed" else None,
                 ts(t["closed"]), None, "", "",
                 {"confirmed": "confirmed", "closed": "auto_unrated",
                  "cancelled": "cancelled"}.get(status, ""), 0,
                 "已处理" if t["resolved"] else "", "[]", "0.00", rating, "[]", "",
                 ts(t["closed"]) if rating else None, true if overdue else false, 1, ts(t0),
                 ts(t["closed"] or t0))
            )  # fmt: skip
            if len(orders) >= 10_000:
                counts["orders"] += writer.insert(WorkOrder, ORDER_FIELDS, orders)
                counts["timers"] += writer.insert(WorkOrderTimer, TIMER_FIELDS, timers)
                orders, timers = [], []
        counts["orders"] += writer.insert(WorkOrder, ORDER_FIELDS, orders)
        counts["timers"] += writer.insert(WorkOrderTimer, TIMER_FIELDS, timers)
        writer.reset_sequences(WorkOrder)
    insert_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE" if pg else "ANALYZE")
    return {
        **counts,
        "statuses": statuses,
        "insert_seconds": round(insert_seconds, 1),
        "rows_per_s": round((counts["orders"] + counts["timers"]) / insert_seconds),
        "analyze_seconds": round(time.perf_counter() - started, 1),
    }


def count_queries(built: dict) -> dict:
    """Queries per request, in-process: the flow steps, the list, the dashboard."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    world, ids = built["world"], built["ids"]
    host = {"HTTP_HOST": "127.0.0.1"}
    clients = {}
    for name in ("a_staff", "a_dispatcher", "vendor_worker", "city_manager"):
        clients[name] = Client(enforce_csrf_checks=False)
        clients[name].force_login(world.users[name])
    out: dict[str, int] = {}

    def run(label: str, client: Client, method: str, path: str, **kwargs) -> dict:
        with CaptureQueriesContext(connection) as ctx:
            resp = getattr(client, method)(path, **kwargs, **host)
        if resp.status_code >= 400:
            raise SystemExit(f"[bench] {label}: {resp.status_code} {resp.content[:300]!r}")
        out[label] = len(ctx.captured_queries)
        ctype = resp.headers.get("Content-Type", "")
        return resp.json() if ctype.startswith("application/json") else {}

    base = "/api/v1/workorders"
    order = run(
        "create", clients["a_staff"], "post", base,
        data={"category_id": ids["category_id"], "location_id": ids["rooms_a"][0],
              "description": "水龙头漏水"},
    )  # fmt: skip
    oid = order["id"]
    js = {"content_type": "application/json"}
    o = run(
        "dispatch", clients["a_dispatcher"], "post", f"{base}/{oid}/dispatch",
        data={"version": order["version"], "team_id": ids["team_id"],
              "assignee_id": ids["worker_id"]}, **js,
    )  # fmt: skip
    o = run("accept", clients["vendor_worker"], "post", f"{base}/{oid}/accept",
            data={"version": o["version"]}, **js)  # fmt: skip
    o = run("arrive", clients["vendor_worker"], "post", f"{base}/{oid}/arrive",
            data={"version": o["version"]}, **js)  # fmt: skip
    o = run("resolve", clients["vendor_worker"], "post", f"{base}/{oid}/resolve",
            data={"version": o["version"], "resolution": "换阀芯", "materials": ""})  # fmt: skip
    run("rate", clients["a_staff"], "post", f"{base}/{oid}/rate",
        data={"version": o["version"], "rating": 5}, **js)  # fmt: skip
    cat = ids["filter_categories"][0]
    run("list (county dispatcher)", clients["a_dispatcher"], "get",
        f"{base}?status=confirmed&category_id={cat}&page=3")  # fmt: skip
    run("list (city manager)", clients["city_manager"], "get",
        f"{base}?status=confirmed&category_id={cat}&page=3")  # fmt: skip
    run("dashboard (city manager)", clients["city_manager"], "get", "/workorders/dashboard/")
    return out


def session_cookie(user) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def worker(orders: int, seed: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dayuan.settings")
    import django

    django.setup()
    from django.db import connection

    started = time.perf_counter()
    built = build(seed)
    facts: dict = {"db": connection.vendor, "orders": orders}
    facts["build_seconds"] = round(time.perf_counter() - started, 1)
    facts["seed"] = seed_orders(built, orders, seed)
    facts["queries"] = count_queries(built)
    facts["ids"] = built["ids"]
    facts["session"] = session_cookie(built["world"].users["city_manager"])
    return facts


# --- the load -------------------------------------------------------------------------


async def flows(base_url: str, tokens: dict, ids: dict, duration: float, concurrency: int) -> dict:
    """``concurrency`` clients each running the whole flow in a loop."""
    import httpx

    steps: dict[str, list[float]] = {s: [] for s in FLOW_STEPS}
    errors: dict[str, int] = {}
    done = 0
    auth = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        stop = started + duration

        async def call(step: str, who: str, path: str, **kwargs) -> dict | None:
            t0 = time.perf_counter()
            code = None
            try:
                resp = await client.post(path, headers=auth[who], **kwargs)
            except httpx.HTTPError as exc:
                key = f"{step}:{type(exc).__name__}"
                errors[key] = errors.get(key, 0) + 1
                return None
            if resp.status_code >= 400:
                with contextlib.suppress(ValueError, AttributeError):
                    code = resp.json().get("code")
                key = f"{step}:{resp.status_code}:{code}"
                errors[key] = errors.get(key, 0) + 1
                return None
            steps[step].append(time.perf_counter() - t0)
            return resp.json()

        async def loop(i: int) -> None:
            nonlocal done
            rng = random.Random(i)
            base = "/api/v1/workorders"
            while time.perf_counter() < stop:
                o = await call("create", "staff", base, data={
                    "category_id": ids["category_id"], "location_id": rng.choice(ids["rooms_a"]),
                    "description": "卫生间水龙头漏水", "channel": "mobile"})  # fmt: skip
                if o is None:
                    continue
                oid = o["id"]
                o = await call("dispatch", "dispatcher", f"{base}/{oid}/dispatch", json={
                    "version": o["version"], "team_id": ids["team_id"],
                    "assignee_id": ids["worker_id"]})  # fmt: skip
                for step in ("accept", "arrive"):
                    if o is not None:
                        o = await call(step, "worker", f"{base}/{oid}/{step}",
                                       json={"version": o["version"]})  # fmt: skip
                if o is not None:
                    o = await call("resolve", "worker", f"{base}/{oid}/resolve", data={
                        "version": o["version"], "resolution": "更换水龙头阀芯",
                        "materials": '[{"name": "阀芯", "qty": 1, "unit": "个", "price": 35}]',
                        "cost": "35"})  # fmt: skip
                if o is not None:
                    o = await call("rate", "staff", f"{base}/{oid}/rate", json={
                        "version": o["version"], "rating": 5, "tags": ["响应及时"]})  # fmt: skip
                if o is not None:
                    done += 1

        await asyncio.gather(*(loop(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "flows": done,
        "seconds": round(elapsed, 2),
        "flows_per_s": round(done / elapsed, 2),
        "requests_per_s": round(sum(len(v) for v in steps.values()) / elapsed, 1),
        "steps": {s: {"n": len(v), **common.quantiles(v)} for s, v in steps.items()},
        "errors": sum(errors.values()),
        "error_kinds": errors,
    }


async def reads(
    base_url: str, name: str, make, duration: float, concurrency: int, cookies=None
) -> dict:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=120, cookies=cookies
    ) as client:
        started = time.perf_counter()
        stop = started + duration

        async def loop(i: int) -> None:
            rng = random.Random(i)
            while time.perf_counter() < stop:
                path, headers = make(rng)
                t0 = time.perf_counter()
                try:
                    resp = await client.get(path, headers=headers)
                    error = None if resp.status_code < 400 else str(resp.status_code)
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
                if error is None:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors[error] = errors.get(error, 0) + 1

        await asyncio.gather(*(loop(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "workload": name,
        "requests": len(latencies) + sum(errors.values()),
        "rps": round(len(latencies) / elapsed, 1),
        **common.quantiles(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
    }


def load(base_url: str, facts: dict, duration: float, concurrency: int) -> dict:
    from bench.run import obtain_token

    ids = facts["ids"]
    tokens = {
        "staff": obtain_token(base_url, "a_staff"),
        "dispatcher": obtain_token(base_url, "a_dispatcher"),
        "worker": obtain_token(base_url, "vendor_worker"),
        "city": obtain_token(base_url, "city_manager"),
    }
    out = {"flow": asyncio.run(flows(base_url, tokens, ids, duration * 1.5, concurrency))}
    statuses = ("confirmed", "closed", "on_site", "resolved")

    def listing(token: str):
        def make(rng: random.Random):
            path = (
                f"/api/v1/workorders?status={rng.choice(statuses)}"
                f"&category_id={rng.choice(ids['filter_categories'])}&page={rng.randint(1, 20)}"
            )
            return path, {"Authorization": f"Bearer {token}"}

        return make

    out["reads"] = [
        asyncio.run(
            reads(base_url, "list, county dispatcher", listing(tokens["dispatcher"]), duration,
                  concurrency)
        ),
        asyncio.run(
            reads(base_url, "list, city manager", listing(tokens["city"]), duration, concurrency)
        ),
        asyncio.run(
            reads(base_url, "dashboard, city manager",
                  lambda rng: ("/workorders/dashboard/", {}), duration, max(2, concurrency // 2),
                  cookies={"sessionid": facts["session"]})
        ),
    ]  # fmt: skip
    return out


# --- the driver -----------------------------------------------------------------------


def run_all(
    dbs: list[str],
    admin_url: str,
    *,
    pg_orders: int = 1_000_000,
    sqlite_orders: int = 200_000,
    duration: float = 10.0,
    concurrency: int = 8,
    workers: int = 4,
    keep: bool = False,
    seed: int = 2026,
) -> dict:
    from bench.run import BENCH_DIR, server

    def orders(db: str) -> int:
        return pg_orders if db == "postgres" else sqlite_orders

    def within(db: str, env: dict[str, str], facts: dict) -> None:
        s = facts["seed"]
        _say(
            f"{db}: inserted {s['orders']:,} orders + {s['timers']:,} clocks in "
            f"{s['insert_seconds']} s ({s['rows_per_s']:,} rows/s), analyze "
            f"{s['analyze_seconds']} s; queries per request {facts['queries']}"
        )
        log = BENCH_DIR / f"gunicorn-workorders-{db}.log"
        with server(env, workers, log) as base_url:
            facts["load"] = load(base_url, facts, duration, concurrency)

    def after(db: str, facts: dict) -> None:
        facts.pop("session", None)
        facts["concurrency"] = concurrency
        flow = facts["load"]["flow"]
        _say(
            f"{db}: {flow['flows_per_s']} flows/s ({flow['flows']} flows, "
            f"{flow['errors']} errors {flow['error_kinds'] or ''}); "
            + "; ".join(
                f"{r['workload']} p95 {r['p95_ms']} ms ({r['errors']} errors)"
                for r in facts["load"]["reads"]
            )
        )

    return common.run_worker_per_db(
        "workorders",
        "bench.workorders_bench",
        dbs,
        admin_url,
        keep,
        lambda db: ["--orders", str(orders(db)), "--seed", str(seed)],
        lambda db: f"seed {orders(db):,} work orders on {db}",
        heading="work orders",
        within=within,
        after=after,
    )


def table(results: list[dict]) -> str:
    head = ["measure", "db", "orders", "value", "p50 ms", "p95 ms", "queries"]
    body: list[list[str]] = []
    for r in results:
        db, n, q = r["db"], f"{r['orders']:,}", r["queries"]
        s = r["seed"]
        body.append(["seed orders + clocks", db, n, f"{s['rows_per_s']:,} rows/s", "-", "-", "-"])
        flow = r["load"]["flow"]
        body.append(
            [f"full flow ({r['concurrency']} clients)", db, n, f"{flow['flows_per_s']} flows/s",
             "-", "-", str(sum(q.get(k, 0) for k in FLOW_STEPS))]
        )  # fmt: skip
        for step in FLOW_STEPS:
            st = flow["steps"][step]
            body.append(
                [f"  {step}", db, n, f"{st['n']} req", f"{st['p50_ms']}", f"{st['p95_ms']}",
                 str(q.get(step, "-"))]
            )  # fmt: skip
        qkeys = {
            "list, county dispatcher": "list (county dispatcher)",
            "list, city manager": "list (city manager)",
            "dashboard, city manager": "dashboard (city manager)",
        }
        for rd in r["load"]["reads"]:
            body.append(
                [rd["workload"], db, n, f"{rd['rps']} req/s", f"{rd['p50_ms']}", f"{rd['p95_ms']}",
                 str(q.get(qkeys.get(rd["workload"], ""), "-"))]
            )  # fmt: skip
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(head), "  ".join("-" * w for w in widths), *map(line, body)])


def main(argv: list[str] | None = None) -> int:
    parser = common.sub_bench_parser(__doc__)
    parser.add_argument("--pg-orders", type=int, default=1_000_000)
    parser.add_argument("--sqlite-orders", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per read workload")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    args = common.parse_args(parser, argv)
    if args.worker:
        return common.print_worker(worker(args.orders, args.seed))
    return common.run_and_report(
        "workorders",
        run_all,
        args,
        table,
        what="work-order",
        failed=lambda r: r["load"]["flow"]["errors"],
    )


if __name__ == "__main__":
    sys.exit(main())
