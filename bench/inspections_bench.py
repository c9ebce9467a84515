"""Inspections bench: the findings list, the dashboard and inspection submits at volume.

    .venv/bin/python bench/inspections_bench.py [--db sqlite|postgres|both]
                                                [--items 200000] [--findings 20000]
                                                [--tasks 2000] [--requests 200] [--keep]

Run by ``bench/run.py`` after the other benches (skip with ``--skip-inspections``).
For each database: a fresh one (``bench/run.py``'s scratch database), ``dayuan migrate``,
then a worker process (``python -m bench.inspections_bench --worker``) that

1. builds the org world and the inspection test standard (``inspections.tests.factories``:
   schedules, the ``patrol.daily`` checklist, rectification and supervision ladders);
2. bulk-inserts a year of submitted inspections (four items each, ``--items`` items in
   all, 90 % county A), ``--findings`` findings with their rectification orders (most
   closed, some open or overdue) and ``--tasks`` supervision tasks, then ``ANALYZE``
   (``VACUUM ANALYZE`` on PostgreSQL, as autovacuum would have: the dashboard's
   index-only scans need the visibility map);
3. measures in-process through Django's test client with a bearer token (no server, so
   the figures are the app and the database, not the network): ``GET /api/v1/findings``
   with random filters and pages as county A's manager, ``GET /api/v1/inspections/
   dashboard`` over the year as the city manager, and start + submit of a patrol
   (``POST /api/v1/inspections`` then ``…/submit``) as county A's inspector.

Prints the table of ``bench/run.py`` and merges ``inspections`` into
``var/bench/results.json``.
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

BATCH = 5000


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- the worker (inside Django) -------------------------------------------------------


def seed(items: int, findings: int, tasks: int, rng: random.Random) -> dict:
    from django.db import connection, transaction

    from dayuan.core.testing import build_world
    from dayuan.inspections.models import Finding, Inspection, InspectionItem, Rectification
    from dayuan.inspections.tests.factories import build
    from dayuan.standards.models import Clause, Rule
    from dayuan.supervision.models import SupervisionTask

    with transaction.atomic():
        world = build_world()
        s = build(world)
    rule = Rule.objects.get(key="x4_patrol")
    clauses = list(Clause.objects.filter(number__in=["X1", "X2", "X3", "X4", "X5"]))
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    span = 365 * 86400
    inspector = s.user("a_inspector")
    places = {
        world.county_a.pk: [s.building_a, s.stairs_a],
        world.county_b.pk: [s.building_b, s.stairs_b],
    }
    started = time.perf_counter()
    n_insp = max(1, items // 4)
    ids = []
    with transaction.atomic():
        for lo in range(0, n_insp, BATCH):
            batch = []
            for i in range(lo, min(n_insp, lo + BATCH)):
                org = world.county_a if rng.random() < 0.9 else world.county_b
                when = start + timedelta(seconds=span * i / n_insp)
                batch.append(
                    Inspection(
                        org=org, number=f"XJ-B-{i}", kind="patrol", status="submitted",
                        checklist_code="patrol.daily", checklist_title="日常巡检表", rule=rule,
                        location=rng.choice(places[org.pk]),
                        vendor=world.vendor if org == world.county_a else None,
                        inspector=inspector, client_key=f"bench-{i}", started_at=when,
                        submitted_at=when + timedelta(minutes=20),
                    )
                )  # fmt: skip
            ids += [(x.pk, x.org_id, x.location_id, x.vendor_id, x.submitted_at)
                    for x in Inspection.objects.bulk_create(batch)]  # fmt: skip
        rows = []
        for pk, org_id, loc_id, vendor_id, at in ids:
            for k in range(4):
                clause = clauses[k + 1 if k < 4 else 0]
                rows.append(
                    InspectionItem(
                        inspection_id=pk, org_id=org_id, key=f"i{k}", text="项",
                        clause=clause, severity=clause.severity,
                        outcome="fail" if rng.random() < 0.08 else "pass", at=at,
                        location_id=loc_id, vendor_id=vendor_id,
                    )
                )  # fmt: skip
            if len(rows) >= BATCH:
                InspectionItem.objects.bulk_create(rows)
                rows = []
        InspectionItem.objects.bulk_create(rows)
        found = []
        for i in range(findings):
            pk, org_id, loc_id, vendor_id, at = ids[rng.randrange(len(ids))]
            closed = rng.random() < 0.8
            found.append(
                Finding(
                    org_id=org_id, number=f"WT-B-{i}", source="inspection",
                    status="closed" if closed else "open", clause=rng.choice(clauses),
                    severity=rng.choice(["key", "important", "general"]), location_id=loc_id,
                    vendor_id=vendor_id, description="巡检发现问题", raised_by=inspector,
                    raised_at=at, closed_at=at + timedelta(days=2) if closed else None,
                )
            )  # fmt: skip
        found = Finding.objects.bulk_create(found, batch_size=BATCH)
        Rectification.objects.bulk_create(
            [
                Rectification(
                    finding=f, org_id=f.org_id, assignee_org_id=f.vendor_id or f.org_id,
                    status="accepted" if f.status == "closed" else "ordered",
                    ordered_at=f.raised_at, deadline=f.raised_at + timedelta(days=3),
                    closed_at=f.closed_at, closed_on_time=True if f.closed_at else None,
                )
                for f in found
            ],
            batch_size=BATCH,
        )  # fmt: skip
        SupervisionTask.objects.bulk_create(
            [
                SupervisionTask(
                    org=world.county_a if i % 3 else world.county_b, issuer_org=world.city,
                    number=f"DB-B-{i}", title="督办事项", instruction="限期办结",
                    source="instruction",
                    status="closed" if i % 4 == 0 else "in_progress",
                    issued_at=start + timedelta(seconds=span * i / tasks),
                    deadline=start + timedelta(seconds=span * i / tasks, days=10),
                )
                for i in range(tasks)
            ],
            batch_size=BATCH,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return {
        "world": world,
        "setup": s,
        "seed": {
            "inspections": len(ids),
            "items": len(ids) * 4,
            "findings": len(found),
            "tasks": tasks,
            "insert_seconds": round(seconds, 1),
        },
    }


def worker(items: int, findings: int, tasks: int, requests: int, seed_value: int) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dayuan.settings")
    django.setup()
    from django.test import Client

    from dayuan.accounts.services import issue_token
    from dayuan.inspections.tests.factories import ALL_PASS

    rng = random.Random(seed_value)
    facts = seed(items, findings, tasks, rng)
    world, s = facts.pop("world"), facts.pop("setup")

    def client(name: str):
        raw, _ = issue_token(actor=world.user(name))
        c = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_HOST="127.0.0.1")
        return c

    manager, city, inspector = client("a_manager"), client("city_manager"), client("a_inspector")
    filters = ["", "status=open", "severity=key", "overdue=true", f"vendor_id={world.vendor.pk}"]

    def list_findings(i: int) -> bool:
        path = f"/api/v1/findings?{rng.choice(filters)}&page={rng.randint(1, 20)}&page_size=50"
        return manager.get(path).status_code == 200

    today = datetime.now(UTC).date()
    since = (today - timedelta(days=365)).isoformat()

    def dashboard(i: int) -> bool:
        path = f"/api/v1/inspections/dashboard?since={since}&until={today.isoformat()}"
        return city.get(path).status_code == 200

    def submit(i: int) -> bool:
        body = {
            "kind": "patrol",
            "checklist_code": "patrol.daily",
            "location_id": s.building_a.pk,
            "client_key": uuid.uuid4().hex,
        }
        resp = inspector.post("/api/v1/inspections", body, content_type="application/json")
        if resp.status_code != 201:
            return False
        answers = dict(ALL_PASS, fire_exit="fail") if i % 5 == 0 else ALL_PASS
        resp = inspector.post(
            f"/api/v1/inspections/{resp.json()['id']}/submit",
            {"answers": answers},
            content_type="application/json",
        )
        return resp.status_code == 200

    list_findings(0)
    dashboard(0)  # warm caches (effective rules, org ids) once each
    measure = common.measure
    facts["results"] = [
        measure("findings list", "GET /api/v1/findings?…&page=N", list_findings, requests),
        measure("dashboard (year)", "GET /api/v1/inspections/dashboard", dashboard,
                max(5, requests // 10)),
        measure("start + submit", "POST /api/v1/inspections + /submit", submit,
                max(10, requests // 4)),
    ]  # fmt: skip
    return facts


# --- the driver -----------------------------------------------------------------------


def run_all(
    dbs: list[str],
    admin_url: str,
    *,
    items: int = 200_000,
    findings: int = 20_000,
    tasks: int = 2_000,
    requests: int = 200,
    keep: bool = False,
    seed: int = 2026,
) -> dict:
    return common.run_worker_per_db(
        "inspections",
        "bench.inspections_bench",
        dbs,
        admin_url,
        keep,
        lambda db: ["--items", str(items), "--findings", str(findings), "--tasks", str(tasks),
                    "--requests", str(requests), "--seed", str(seed)],
        lambda db: f"seed {items:,} inspection items and measure on {db}",
        rows=lambda facts: facts["seed"]["items"],
        after=lambda db, facts: _say(f"{db}: seeded {facts['seed']} "),
    )  # fmt: skip


table = common.table


def main(argv: list[str] | None = None) -> int:
    parser = common.sub_bench_parser(__doc__)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=200, help="findings-list requests")
    args = common.parse_args(parser, argv)
    if args.worker:
        return common.print_worker(
            worker(args.items, args.findings, args.tasks, args.requests, args.seed)
        )
    return common.run_and_report("inspections", run_all, args, table)


if __name__ == "__main__":
    sys.exit(main())
