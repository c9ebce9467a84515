"""Assessment bench: a quarterly run for every vendor over a million work orders and a
million inspection items.

    .venv/bin/python bench/assessment_bench.py [--db sqlite|postgres|both]
                                               [--vendors 50] [--orders 1000000]
                                               [--items 1000000] [--keep]

Run by ``bench/run.py`` after the other benches (skip with ``--skip-assessment``).
For each database: a fresh one (``bench/run.py``'s scratch database), ``dayuan migrate``,
then a worker process (``python -m bench.assessment_bench --worker``) that

1. builds the work-order world (``bench.workorders_bench.build``: four centres, the
   JG-FW commitment, the catalogue, one vendor team per centre) and ``--vendors`` more
   vendors spread over the centres, each with an active contract on one city scheme
   (computed indicators only: on-time rate, satisfaction, repair pass rate, inspection
   pass rate, rectification on-time rate; deductions per finding severity);
2. bulk-inserts ``--orders`` work orders with their clocks and ratings
   (``bench.workorders_bench.seed_orders``, the last six months), then hands each
   dispatched order to one of its centre's bench vendors (one ``UPDATE``);
3. bulk-inserts ``--items`` inspection items (four per submitted inspection, 8 % failed)
   over the same six months, each inspection naming one of its centre's vendors, then
   ``ANALYZE`` (``VACUUM ANALYZE`` on PostgreSQL);
4. times a quarterly assessment of the last complete quarter: ``runs.create_runs`` for
   the city (every contract) and ``runs.compute`` of each run; reports the total, the
   per-run p50/p95 of compute and the rows the runs read.

Prints a table and merges ``assessment`` into ``var/bench/results.json``.
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

BATCH = 10_000
FORMULA = "score >= 90.0 ? fee - deduction_money : (passed ? fee * score / 100.0 - deduction_money : fee * 0.8 - deduction_money)"  # noqa: E501


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- the worker (inside Django) -------------------------------------------------------


def last_quarter(today: date) -> date:
    q = (today.month - 1) // 3
    year, q = (today.year, q - 1) if q else (today.year - 1, 3)
    return date(year, q * 3 + 1, 1)


def make_vendors(built: dict, n: int) -> list[tuple[int, int]]:
    """``n`` vendors over the four centres, each with an active contract on the city's
    scheme; returns (centre id, vendor id) pairs."""
    from decimal import Decimal

    from django.db import transaction

    from dayuan.assessment.models import Contract, DeductionRule, Scheme, SchemeIndicator
    from dayuan.core.testing import make_org
    from dayuan.orgs.choices import OrgKind

    world = built["world"]
    centres = [org for org, _team, _members in built["teams"]]
    with transaction.atomic():
        scheme = Scheme.objects.create(
            org=world.city,
            code="bench-kh",
            name="物业服务季度考核",
            subject_kind="contract",
            pass_line=Decimal("60"),
            grades=[
                {"grade": "excellent", "label": "优秀", "min_score": 90},
                {"grade": "good", "label": "良好", "min_score": 80},
                {"grade": "pass", "label": "合格", "min_score": 60},
            ],
            max_deduction=Decimal("20"),
        )
        for i, (key, source, weight, floor) in enumerate(
            (
                ("on_time", "on_time_rate", 25, 60),
                ("satisfaction", "satisfaction_rate", 20, 60),
                ("repair_pass", "repair_pass_rate", 15, 60),
                ("insp_pass", "inspection_pass_rate", 25, 60),
                ("rect_on_time", "rectification_on_time_rate", 15, 50),
            )
        ):
            SchemeIndicator.objects.create(
                scheme=scheme, key=key, label=key, sort="computed", source=source,
                weight=Decimal(weight), target=100, floor=floor, position=i,
            )  # fmt: skip
        for match, points, money in (("key", 5, 2000), ("important", 2, 500)):
            DeductionRule.objects.create(
                scheme=scheme, kind="finding", match=match, points=Decimal(points),
                money=Decimal(money), rectify_days=3,
            )  # fmt: skip
        pairs = []
        for i in range(n):
            centre = centres[i % len(centres)]
            vendor = make_org(f"服务公司{i:02d}", f"bench-vendor-{i}", OrgKind.VENDOR, centre)
            pairs.append((centre.pk, vendor.pk))
        Contract.objects.bulk_create(
            [
                Contract(
                    org_id=centre_id, vendor_id=vendor_id, number=f"HT-B-{i:03d}",
                    title=f"物业服务合同{i:02d}", status="active",
                    starts_on=date(2025, 1, 1), ends_on=date(2027, 12, 31),
                    monthly_fee=Decimal("100000.00"), area_m2=Decimal("20000"), headcount=300,
                    scheme=scheme, payment_formula=FORMULA,
                )
                for i, (centre_id, vendor_id) in enumerate(pairs)
            ]
        )  # fmt: skip
    return pairs


def spread_orders(pairs: list[tuple[int, int]]) -> int:
    """Hand each dispatched order to one of its centre's bench vendors (by id)."""
    from django.db import connection, transaction

    from dayuan.workorders.models import WorkOrder

    by_centre: dict[int, list[int]] = {}
    for centre_id, vendor_id in pairs:
        by_centre.setdefault(centre_id, []).append(vendor_id)
    table = WorkOrder._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE bench_vendor (org_id int, k int, n int, vid int)")
        cur.executemany(
            "INSERT INTO bench_vendor VALUES (%s, %s, %s, %s)",
            [
                (centre, k, len(vids), vid)
                for centre, vids in by_centre.items()
                for k, vid in enumerate(vids)
            ],
        )
        cur.execute(
            f"UPDATE {table} SET vendor_id = (SELECT b.vid FROM bench_vendor b"  # noqa: S608
            f" WHERE b.org_id = {table}.org_id AND b.k = {table}.id % b.n)"
            " WHERE vendor_id IS NOT NULL"
        )
        changed = cur.rowcount
        cur.execute("DROP TABLE bench_vendor")
    return changed


def seed_items(built: dict, pairs: list[tuple[int, int]], items: int, rng: random.Random) -> dict:
    """``items`` inspection items, four per submitted inspection, over six months."""
    from django.db import transaction

    from dayuan.inspections.models import Inspection, InspectionItem
    from dayuan.standards.models import Rule
    from dayuan.workorders.demo import RowWriter

    writer = RowWriter()
    dt, js = writer.dt, writer.json
    world = built["world"]
    rule_id = Rule.objects.order_by("id").values_list("id", flat=True).first()
    by_centre: dict[int, list[int]] = {}
    for centre_id, vendor_id in pairs:
        by_centre.setdefault(centre_id, []).append(vendor_id)
    centres = list(by_centre)
    rooms = built["rooms"]
    inspector = world.users["a_inspector"].pk
    now = datetime.now(UTC)
    span = 183 * 86400
    start = now - timedelta(seconds=span)
    n_insp = max(1, items // 4)
    first = (Inspection.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    insp_fields = [
        "id", "version", "created_at", "updated_at", "org", "number", "kind", "status",
        "checklist_code", "checklist_title", "checklist", "rule", "location", "vendor",
        "occurrence", "inspector", "client_key", "answers", "notes", "summary", "started_at",
        "submitted_at", "score", "grade", "grade_label", "passed", "failed_by_severity",
    ]  # fmt: skip
    have = {f.name for f in Inspection._meta.concrete_fields}
    insp_fields = [f for f in insp_fields if f in have]
    item_fields = [
        "inspection", "org", "key", "text", "clause", "severity", "outcome", "value", "score",
        "note", "at", "location", "vendor",
    ]  # fmt: skip
    defaults = {f.name: f.get_default() for f in Inspection._meta.concrete_fields}
    severities = ("general", "general", "important", "key")
    insp_rows, item_rows = [], []
    counts = {"inspections": 0, "items": 0}
    started = time.perf_counter()
    with transaction.atomic():
        for i in range(n_insp):
            pk = first + i
            org_id = centres[i % len(centres)]
            vendor_id = by_centre[org_id][(i // len(centres)) % len(by_centre[org_id])]
            when = start + timedelta(seconds=span * i / n_insp)
            fails = 0
            outcomes = []
            for _k in range(4):
                failed = rng.random() < 0.08
                fails += failed
                outcomes.append("fail" if failed else "pass")
            values = {
                **defaults,
                "id": pk, "version": 1, "created_at": dt(when), "updated_at": dt(when),
                "org": org_id, "number": f"XJ-A-{pk}", "kind": "patrol", "status": "submitted",
                "checklist_code": "patrol.daily", "checklist_title": "日常巡检表",
                "checklist": js({}), "rule": rule_id,
                "location": rng.choice(rooms[org_id]), "vendor": vendor_id, "occurrence": None,
                "inspector": inspector, "client_key": f"bench-a-{pk}", "answers": js({}),
                "notes": js({}), "summary": "", "started_at": dt(when),
                "submitted_at": dt(when + timedelta(minutes=20)),
                "score": 100.0 - 25 * fails, "grade": "", "grade_label": "",
                "passed": fails == 0, "failed_by_severity": js({}),
            }  # fmt: skip
            insp_rows.append(tuple(values[f] for f in insp_fields))
            at = dt(when + timedelta(minutes=20))
            for k, outcome in enumerate(outcomes):
                item_rows.append(
                    (pk, org_id, f"i{k}", "项", None, severities[k], outcome, None, None, "",
                     at, values["location"], vendor_id)
                )  # fmt: skip
            if len(insp_rows) >= BATCH // 4:
                counts["inspections"] += writer.insert(Inspection, insp_fields, insp_rows)
                counts["items"] += writer.insert(InspectionItem, item_fields, item_rows)
                insp_rows, item_rows = [], []
        counts["inspections"] += writer.insert(Inspection, insp_fields, insp_rows)
        counts["items"] += writer.insert(InspectionItem, item_fields, item_rows)
        writer.reset_sequences(Inspection, InspectionItem)
    counts["insert_seconds"] = round(time.perf_counter() - started, 1)
    return counts


def assess(built: dict, period_start: date) -> dict:
    """create_runs for the city, then compute each run; timings and rows read."""
    from django.db import connection

    from dayuan.assessment import runs
    from dayuan.inspections.models import InspectionItem
    from dayuan.workorders.models import WorkOrder

    world = built["world"]
    admin = world.users["admin"]
    started = time.perf_counter()
    made = runs.create_runs(
        actor=admin, org_id=world.city.pk, period_kind="quarter", period_start=period_start
    )
    create_seconds = time.perf_counter() - started
    latencies, failures = [], {}
    for r in made:
        t0 = time.perf_counter()
        try:
            runs.compute(actor=admin, run_id=r.pk)
        except Exception as exc:
            failures[type(exc).__name__ + ": " + str(exc)[:120]] = (
                failures.get(type(exc).__name__ + ": " + str(exc)[:120], 0) + 1
            )
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    from dayuan.assessment.models import Run

    done = Run.objects.filter(pk__in=[r.pk for r in made], status="computed")
    scores = [float(s) for s in done.values_list("score", flat=True) if s is not None]
    end = date(
        period_start.year + (period_start.month + 2) // 12, (period_start.month + 2) % 12 + 1, 1
    )
    rows = {
        "workorders_in_period": WorkOrder.objects.filter(
            submitted_at__date__gte=period_start, submitted_at__date__lt=end,
            vendor_id__isnull=False,
        ).count(),
        "inspection_items_in_period": InspectionItem.objects.filter(
            at__date__gte=period_start, at__date__lt=end
        ).count(),
    }  # fmt: skip
    return {
        "workload": "quarterly run",
        "endpoint": "create_runs + compute × N",
        "period_start": period_start.isoformat(),
        "runs": len(made),
        "computed": done.count(),
        "failures": failures,
        "create_seconds": round(create_seconds, 2),
        "total_seconds": round(total, 2),
        "requests": len(made),
        "seconds": round(total, 2),
        "rps": round(len(made) / total, 2) if total else 0.0,
        **common.quantiles(latencies),
        "errors": sum(failures.values()),
        "score_range": [min(scores), max(scores)] if scores else None,
        "db": connection.vendor,
        **rows,
    }


def worker(vendors: int, orders: int, items: int, seed_value: int) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dayuan.settings")
    django.setup()
    from django.db import connection

    from bench.workorders_bench import build, seed_orders

    rng = random.Random(seed_value)
    t0 = time.perf_counter()
    built = build(seed_value)
    pairs = make_vendors(built, vendors)
    _say(f"world and {vendors} vendors: {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    wo = seed_orders(built, orders, seed_value) if orders else {"orders": 0, "timers": 0}
    spread = spread_orders(pairs)
    _say(f"{wo['orders']:,} work orders: {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    insp = seed_items(built, pairs, items, rng)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    _say(f"{insp['items']:,} inspection items: {time.perf_counter() - t0:.1f}s")
    result = assess(built, last_quarter(datetime.now(UTC).date()))
    return {
        "seed": {
            "vendors": vendors,
            "workorders": wo.get("orders"),
            "timers": wo.get("timers"),
            "workorders_to_bench_vendors": spread,
            "inspections": insp["inspections"],
            "inspection_items": insp["items"],
        },
        "results": [result],
    }


# --- the driver -----------------------------------------------------------------------


def run_all(
    dbs: list[str],
    admin_url: str,
    *,
    vendors: int = 50,
    orders: int = 1_000_000,
    items: int = 1_000_000,
    sqlite_orders: int | None = 100_000,
    sqlite_items: int | None = 100_000,
    keep: bool = False,
    seed: int = 2026,
) -> dict:
    def n_orders(db: str) -> int:
        return sqlite_orders if db == "sqlite" and sqlite_orders is not None else orders

    def n_items(db: str) -> int:
        return sqlite_items if db == "sqlite" and sqlite_items is not None else items

    seeds: dict = {}

    def after(db: str, facts: dict) -> None:
        seeds[db] = facts["seed"]
        for r in facts["results"]:
            _say(
                f"{db}: {r['runs']} runs in {r['total_seconds']}s "
                f"(compute p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms), seed {facts['seed']}"
            )

    return common.run_worker_per_db(
        "assessment",
        "bench.assessment_bench",
        dbs,
        admin_url,
        keep,
        lambda db: ["--vendors", str(vendors), "--orders", str(n_orders(db)), "--items",
                    str(n_items(db)), "--seed", str(seed)],
        lambda db: f"seed {n_orders(db):,} orders + {n_items(db):,} items, assess {vendors} "
        f"vendors on {db}",
        rows=lambda facts: facts["seed"]["workorders"] + facts["seed"]["inspection_items"],
        after=after,
        extra={"seed": seeds},
        log=_say,
    )  # fmt: skip


table = common.table


def main(argv: list[str] | None = None) -> int:
    from bench.run import merge_into_results

    parser = common.sub_bench_parser(__doc__)
    parser.add_argument("--vendors", type=int, default=50)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument(
        "--sqlite-orders", type=int, default=100_000, help="orders on SQLite (both: --orders)"
    )
    parser.add_argument(
        "--sqlite-items", type=int, default=100_000, help="items on SQLite (both: --items)"
    )
    args = common.parse_args(parser, argv)
    if args.worker:
        return common.print_worker(worker(args.vendors, args.orders, args.items, args.seed))
    report = common.run_from_args(run_all, args)
    out = merge_into_results("assessment", report)
    print(table(report["results"]))
    print(f"[bench] results in {out.relative_to(ROOT)}")
    return 1 if any(r["errors"] for r in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
