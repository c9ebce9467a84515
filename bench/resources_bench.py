"""Resource pool bench: batch matching of a week's 5,000 demands against 20,000
resources (time, fraction matched), and single-demand matching (p50/p95/p99) in-process
and through the API.

    .venv/bin/python bench/resources_bench.py [--db sqlite|postgres|both]
                                              [--resources 20000] [--demands 5000]
                                              [--matches 200] [--keep]

Run by ``bench/run.py`` after the other benches (skip with ``--skip-resources``). For
each database (PostgreSQL when the admin URL answers): a fresh one (``bench/run.py``'s
scratch database), ``dayuan migrate``, then a worker process (``python -m
bench.resources_bench --worker``) that

1. builds the org world and the pool world (``resources.tests.factories``), 30
   departments, two more enterprises and a volunteer team per county, a compound of 60
   rooms per centre, and 300 staff posters with a bearer token each;
2. bulk-inserts ``--resources`` resources of every kind (venues, facilities, vehicles,
   warehouse assets, funds, manpower, volunteer teams) with capacities, attributes,
   weekly windows (office hours, off-peak sharing, weekends, always), costs, locations
   and every visibility; 3,000 holding allocations and 500 closures in the coming week;
   5,000 finished allocations in the last 30 days (the balance part); and
   ``--demands`` OPEN demands of the coming week (seven in ten at the weekday peaks, 9:00
   or 14:00; one to three required attributes; large amounts; priorities low 20 %, normal 50 %, high
   20 %, urgent 10 %; a third with a budget; half with a location); then
   ``ANALYZE`` (``VACUUM ANALYZE`` on PostgreSQL);
3. measures

   - **batch**: ``batch.run_batch`` for the city over the week, as the city's manager —
     loading, vectorised candidate generation (10 per demand), the exact MILP and
     writing the run with 5,000 proposals; it prints the time, the fraction matched,
     the candidate edges, the matched counts by priority and the solver's share;
   - **single match**: ``matching.match`` for ``--matches`` random demands as their
     posters, in-process; and ``GET /api/v1/resources/demands/{id}/matches`` through
     Django's test client with the poster's bearer token (when the API exists).

Targets: batch < 60 s, single match p95 < 300 ms on SQLite. Prints the table of
``bench/run.py`` and the batch's outcome, and merges ``resources`` into
``var/bench/results.json``.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import sys
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

BATCH = 2000
SHANGHAI = ZoneInfo("Asia/Shanghai")
BATCH_LIMIT_SECONDS = 60
MATCH_P95_LIMIT_MS = 300

OFFICE = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00", "offpeak": False}]
OFFPEAK = [
    {"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "22:00", "offpeak": True},
    {"days": [5, 6], "start": "08:00", "end": "22:00", "offpeak": True},
]
WEEKEND = [{"days": [5, 6], "start": "08:00", "end": "20:00", "offpeak": False}]
WINDOWS = [([], 4), (OFFICE, 4), (OFFPEAK, 1), (WEEKEND, 1)]

# kind: (share of resources and demands, capacities or quantities, demand amounts,
#        attributes on offer)
KINDS = {
    "venue": (0.35, [20, 30, 50, 80, 120, 200, 300], (30, 300),
              ["projector", "sound", "led", "video_conf", "accessible", "air_con", "stage",
               "parking"]),
    "facility": (0.15, [10, 20, 50], (10, 50), ["outdoor", "basketball", "badminton",
                                                "kitchen", "parking"]),
    "vehicle": (0.10, [5, 7, 12, 45], (5, 45), ["driving", "seats_45"]),
    "asset": (0.15, list(range(5, 201)), (5, 80), ["office_furniture", "computer", "tent"]),
    "fund": (0.05, list(range(10_000, 500_001, 10_000)), (5_000, 300_000), []),
    "manpower": (0.10, list(range(5, 51)), (3, 30), ["electrician", "it", "driving",
                                                     "teaching", "law"]),
    "volunteer_team": (0.10, list(range(10, 101)), (10, 80), ["first_aid", "elder_care",
                                                            "photography", "teaching"]),
}  # fmt: skip
STOCK = {"asset", "fund"}
EXCLUSIVE = {"venue", "facility", "vehicle"}
PRIORITIES = [("low", 2), ("normal", 5), ("high", 2), ("urgent", 1)]


def _pick(rng: random.Random, weighted: list[tuple]) -> object:
    return rng.choices([v for v, _w in weighted], [w for _v, w in weighted])[0]


def _kind(rng: random.Random) -> str:
    return rng.choices(list(KINDS), [v[0] for v in KINDS.values()])[0]


# --- the worker (inside Django) -------------------------------------------------------


def _orgs(world, pw) -> dict:
    from dayuan.core.testing import build_compound, make_org
    from dayuan.orgs.choices import OrgKind

    depts = []
    for parent, label in ((world.city, "市"), (world.county_a, "甲县"), (world.county_b, "乙县")):
        for i in range(10):
            depts.append(make_org(f"{label}部门{i:02d}", f"b-{parent.code}-{i}",
                                  OrgKind.DEPARTMENT, parent))  # fmt: skip
    enterprises = [pw.enterprise] + [
        make_org(f"企业{i}", f"b-ent-{i}", OrgKind.ENTERPRISE, world.city) for i in range(2)
    ]
    socials = [pw.social] + [
        make_org(f"{c.name}志愿服务队", f"b-team-{c.code}", OrgKind.SOCIAL, c)
        for c in (world.county_a, world.county_b)
    ]
    rooms = {}
    for centre, label in ((world.city, "市"), (world.county_a, "甲"), (world.county_b, "乙")):
        rooms[centre.pk] = build_compound(centre, f"{label}基准", floors=4, rooms_per_floor=15)
    return {"depts": depts, "owners": depts + enterprises + socials, "rooms": rooms}


def _posters(orgs: dict, n: int) -> tuple[list, dict[int, str]]:
    from django.utils import timezone

    from dayuan.accounts.choices import Role
    from dayuan.accounts.models import ApiToken, Grant, User

    homes = [orgs["depts"][i % len(orgs["depts"])] for i in range(n)]
    users = User.objects.bulk_create(
        [
            User(username=f"poster{i:04d}", display_name=f"职工{i:04d}", password="!",
                 home_org=homes[i], email=f"poster{i:04d}@example.gov.cn")
            for i in range(n)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    Grant.objects.bulk_create(
        [Grant(user=u, org=h, role=Role.STAFF) for u, h in zip(users, homes, strict=True)]
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
    return users, {u.pk: raw for u, raw in zip(users, raws, strict=True)}


def _resources(orgs: dict, n: int, rng: random.Random) -> list:
    from dayuan.resources.models import Resource

    centre = {o.pk: o.centre for o in orgs["owners"]}
    rows = []
    for i in range(n):
        kind = _kind(rng)
        _share, sizes, _amounts, attrs = KINDS[kind]
        owner = rng.choice(orgs["owners"])
        size = rng.choice(sizes)
        stock = kind in STOCK
        basis = _pick(rng, [("free", 5), ("per_hour", 3), ("per_use", 2)])
        basis = "free" if kind == "fund" else basis
        rooms = orgs["rooms"][centre[owner.pk].pk]
        rows.append(
            Resource(
                org=owner, centre=centre[owner.pk], kind=kind, name=f"{kind}-{i:05d}",
                capacity=0 if stock else size, quantity=size if stock else 0,
                available=rng.randint(size // 2, size) if stock else 0,
                unit="元" if kind == "fund" else "件" if stock else "人",
                attributes=sorted(rng.sample(attrs, rng.randint(0, min(4, len(attrs))))),
                windows=[] if stock else _pick(rng, WINDOWS),
                visibility=_pick(rng, [("owner", 15), ("centre", 40), ("city", 35),
                                       ("public", 10)]),
                cost_basis=basis,
                cost=Decimal(0) if basis == "free" else Decimal(rng.choice([50, 100, 200, 500])),
                unit_value=Decimal(rng.choice([0, 300, 1200])) if kind == "asset" else 0,
                requires_approval=rng.random() < 0.7,
                preference=rng.randint(0, 100),
                location=rng.choice(rooms) if rng.random() < 0.6 else None,
                stock_status="stored" if kind == "asset" and rng.random() < 0.5 else None,
            )
        )  # fmt: skip
    return Resource.objects.bulk_create(rows, batch_size=BATCH)


def _slot(rng: random.Random, monday) -> tuple[datetime, datetime]:
    day = monday + timedelta(days=rng.randint(0, 6))
    start = datetime.combine(day, dtime(rng.choice([8, 9, 10, 13, 14, 15, 18, 19])), SHANGHAI)
    return start, start + timedelta(hours=rng.choice([1, 2, 3, 4]))


def _peak_slot(rng: random.Random, monday) -> tuple[datetime, datetime]:
    """Seven demands in ten want a weekday morning or afternoon (9:00 or 14:00)."""
    if rng.random() >= 0.7:
        return _slot(rng, monday)
    day = monday + timedelta(days=rng.randint(0, 4))
    start = datetime.combine(day, dtime(rng.choice([9, 14])), SHANGHAI)
    return start, start + timedelta(hours=rng.choice([2, 3]))


def _history(resources: list, posters: list, monday, rng: random.Random) -> dict:
    from django.utils import timezone

    from dayuan.resources.models import Allocation, Closure

    timed = [r for r in resources if r.kind not in STOCK]
    now = timezone.now()
    rows, n = [], 0
    for _ in range(3000):  # holding allocations in the coming week
        r = rng.choice(timed)
        s, e = _slot(rng, monday)
        n += 1
        who = rng.choice(posters)
        amount = 1 if r.kind in EXCLUSIVE else rng.randint(1, max(1, r.capacity // 3))
        rows.append(Allocation(org_id=r.org_id, resource=r, number=f"DP-B-{n:07d}",
                               requester=who, requester_org_id=who.home_org_id, start_at=s,
                               end_at=e, amount=amount, status="approved", holds=True,
                               exclusive=r.kind in EXCLUSIVE, requested_at=now))  # fmt: skip
    for _ in range(5000):  # finished use in the last 30 days
        r = rng.choice(timed)
        s = now - timedelta(days=rng.uniform(1, 29))
        n += 1
        who = rng.choice(posters)
        rows.append(Allocation(org_id=r.org_id, resource=r, number=f"DP-B-{n:07d}",
                               requester=who, requester_org_id=who.home_org_id, start_at=s,
                               end_at=s + timedelta(hours=rng.choice([2, 3, 4, 8])), amount=1,
                               status=rng.choice(["returned", "completed"]), holds=False,
                               exclusive=r.kind in EXCLUSIVE,
                               requested_at=s - timedelta(days=2)))  # fmt: skip
    # a resource holds at most one exclusive allocation at a time (the PG constraint)
    seen: dict[int, list[tuple]] = {}
    kept = []
    for a in rows:
        if a.holds and a.exclusive:
            spans = seen.setdefault(a.resource_id, [])
            if any(s < a.end_at and a.start_at < e for s, e in spans):
                continue
            spans.append((a.start_at, a.end_at))
        kept.append(a)
    Allocation.objects.bulk_create(kept, batch_size=BATCH)
    closures = []
    for _ in range(500):
        s, e = _slot(rng, monday)
        closures.append(Closure(resource=rng.choice(timed), start_at=s, end_at=e + timedelta(
            hours=rng.choice([0, 4, 24])), reason="维护"))  # fmt: skip
    Closure.objects.bulk_create(closures, batch_size=BATCH)
    return {"allocations": len(kept), "closures": len(closures)}


def _demands(orgs: dict, posters: list, n: int, monday, rng: random.Random) -> list:
    from django.utils import timezone

    from dayuan.resources.models import Demand

    now = timezone.now()
    rows = []
    for i in range(n):
        kind = _kind(rng)
        _share, _sizes, (lo, hi), attrs = KINDS[kind]
        who = rng.choice(posters)
        s, e = _peak_slot(rng, monday)
        home = who.home_org
        rooms = orgs["rooms"][home.centre.pk]
        budget = Decimal(rng.choice([200, 500, 1000, 3000])) if rng.random() < 0.33 else None
        rows.append(
            Demand(
                org=home, number=f"XQ-B-{i:07d}", title=f"需求{i:05d}", kind=kind,
                amount=rng.randint(lo, hi),
                attributes=sorted(rng.sample(attrs, rng.randint(min(1, len(attrs)),
                                                                min(3, len(attrs))))),
                start_at=s, end_at=e, location=rng.choice(rooms) if rng.random() < 0.5 else None,
                budget=budget, priority=_pick(rng, PRIORITIES), status="open", posted_by=who,
                posted_at=now,
            )
        )  # fmt: skip
    return Demand.objects.bulk_create(rows, batch_size=BATCH)


def seed(n_resources: int, n_demands: int, rng: random.Random) -> dict:
    from django.db import transaction
    from django.utils import timezone

    from dayuan.core.testing import build_world
    from dayuan.resources.tests.factories import build

    started = time.perf_counter()
    today = timezone.now().astimezone(SHANGHAI).date()
    monday = today + timedelta(days=7 - today.weekday())  # the coming week
    with transaction.atomic():
        world = build_world()
        pw = build(world)
        orgs = _orgs(world, pw)
        posters, tokens = _posters(orgs, 300)
        resources = _resources(orgs, n_resources, rng)
        history = _history(resources, posters, monday, rng)
        demands = _demands(orgs, posters, n_demands, monday, rng)
    seconds = time.perf_counter() - started
    common.analyze()
    return {
        "world": world,
        "tokens": tokens,
        "demands": demands,
        "monday": monday,
        "seed": {
            "resources": len(resources),
            "demands": len(demands),
            "posters": len(posters),
            **history,
            "seconds": round(seconds, 1),
        },
    }


def _batch(world, monday) -> dict:
    from dayuan.resources import batch

    start = datetime.combine(monday, dtime(0), SHANGHAI)
    t0 = time.perf_counter()
    run = batch.run_batch(actor=world.user("city_manager"), org_id=world.city.pk,
                          window_start=start, window_end=start + timedelta(days=7))  # fmt: skip
    seconds = time.perf_counter() - t0
    fraction = run.matched / run.demands if run.demands else 0.0
    return {
        "workload": f"batch matching ({run.demands} demands)",
        "endpoint": "batch.run_batch (city, one week)",
        "requests": 1,
        "seconds": round(seconds, 2),
        "rps": round(1 / seconds, 3),
        "p50_ms": round(seconds * 1000, 1),
        "p95_ms": round(seconds * 1000, 1),
        "p99_ms": round(seconds * 1000, 1),
        "errors": 0 if seconds < BATCH_LIMIT_SECONDS else 1,
        "batch": True,
        "demands": run.demands,
        "matched": run.matched,
        "fraction_matched": round(fraction, 4),
        "candidates": run.candidates,
        "run_seconds": run.seconds,
        "objective": run.objective,
        "within_60s": seconds < BATCH_LIMIT_SECONDS,
    }


def worker(n_resources: int, n_demands: int, matches: int, seed_value: int) -> dict:
    common.setup_django()

    from django.test import Client

    from dayuan.resources import matching

    rng = random.Random(seed_value)
    facts = seed(n_resources, n_demands, rng)
    world, tokens, demands, monday = (facts.pop(k) for k in ("world", "tokens", "demands",
                                                              "monday"))  # fmt: skip
    sample = rng.sample(demands, min(matches, len(demands)))
    posters = {u.pk: u for u in type(world.user("admin")).objects.filter(
        pk__in={d.posted_by_id for d in sample})}  # fmt: skip
    matched_sizes: list[int] = []

    def single(i: int) -> bool:
        d = sample[i]
        result = matching.match(posters[d.posted_by_id], d)
        matched_sizes.append(len(result.candidates))
        return result.considered >= len(result.candidates)

    try:
        from dayuan.resources import api  # noqa: F401

        has_api = True
    except ImportError:
        has_api = False
    client = Client(HTTP_HOST="127.0.0.1")

    def through_api(i: int) -> bool:
        d = sample[i]
        resp = client.get(f"/api/v1/resources/demands/{d.pk}/matches",
                          HTTP_AUTHORIZATION=f"Bearer {tokens[d.posted_by_id]}")  # fmt: skip
        return resp.status_code == 200

    if not single(0) or (has_api and not through_api(0)):  # warm caches once
        raise SystemExit("[bench] single match failed before measuring")
    matched_sizes.clear()
    results = [_batch(world, monday)]
    row = common.measure("single-demand match (in-process)", "matching.match", single,
                         len(sample))  # fmt: skip
    row["with_candidates"] = round(sum(1 for m in matched_sizes if m) / len(matched_sizes), 3)
    row["p95_within_300ms"] = (row["p95_ms"] or 0) < MATCH_P95_LIMIT_MS
    results.append(row)
    if has_api:
        row = common.measure("single-demand match (API)",
                             "GET /api/v1/resources/demands/{id}/matches", through_api,
                             len(sample))  # fmt: skip
        row["p95_within_300ms"] = (row["p95_ms"] or 0) < MATCH_P95_LIMIT_MS
        results.append(row)
    facts["results"] = results
    return facts


# --- the driver -----------------------------------------------------------------------


def run_all(
    dbs: list[str],
    admin_url: str,
    *,
    resources: int = 20_000,
    demands: int = 5_000,
    matches: int = 200,
    keep: bool = False,
    seed: int = 2026,
) -> dict:
    def after(db: str, facts: dict) -> None:
        b = next(r for r in facts["results"] if r.get("batch"))
        common.say(
            f"{db}: batch of {b['demands']} demands against {facts['seed']['resources']} "
            f"resources in {b['seconds']}s (within 60 s: {b['within_60s']}): matched "
            f"{b['matched']} ({b['fraction_matched']:.1%}), {b['candidates']} candidates, "
            f"solver {b['objective'].get('solver_seconds')}s over "
            f"{b['objective'].get('components')} contested components (quality within "
            f"{b['objective'].get('quality_gap', 0):.3%} of the optimum)"
        )
        common.say(f"{db}: matched by priority {b['objective'].get('matched_by_priority')} of "
                   f"{b['objective'].get('demands_by_priority')}")  # fmt: skip
        for r in facts["results"]:
            if not r.get("batch"):
                common.say(f"{db}: {r['workload']}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, "
                           f"p99 {r['p99_ms']} ms")  # fmt: skip
        common.say(f"{db}: seeded {facts['seed']}")

    return common.run_worker_per_db(
        "resources",
        "bench.resources_bench",
        dbs,
        admin_url,
        keep,
        lambda db: common.flags(resources=resources, demands=demands, matches=matches,
                                seed=seed),
        lambda db: f"seed {resources} resources, {demands} demands; batch and matches on {db}",
        rows=lambda facts: facts["seed"]["resources"],
        after=after,
    )  # fmt: skip


def table(results: list[dict]) -> str:
    """``bench/run.py``'s table, then the batch's outcome per database."""
    runs = [r for r in results if r.get("batch")]
    if not runs:
        return common.table(results)
    head = ["batch matching", "demands", "matched", "fraction", "candidates", "seconds", "< 60 s"]
    rows = [
        [r["db"], str(r["demands"]), str(r["matched"]), f"{r['fraction_matched']:.1%}",
         str(r["candidates"]), f"{r['seconds']:.1f}", "yes" if r["within_60s"] else "NO"]
        for r in runs
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
    parser.add_argument("--resources", type=int, default=20_000, help="resources in the pool")
    parser.add_argument("--demands", type=int, default=5_000, help="open demands in the week")
    parser.add_argument("--matches", type=int, default=200, help="single matches measured")
    args = common.parse_args(parser, argv)
    if args.worker:
        return common.print_worker(worker(args.resources, args.demands, args.matches, args.seed))
    return common.run_and_report("resources", run_all, args, table)


if __name__ == "__main__":
    sys.exit(main())
