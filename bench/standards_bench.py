"""Standards bench: record-rule evaluation speed and the per-clause compliance report.

    .venv/bin/python bench/standards_bench.py [--db sqlite|postgres|both] [--rows 1000000]
                                              [--seconds 3] [--keep]

Run by ``bench/run.py`` after the HTTP workloads (skip with ``--skip-standards``).
For each database: a fresh one (as ``bench/run.py`` makes them), ``dayuan migrate``,
then a worker process (``python -m bench.standards_bench --worker``) that

1. builds the org world and one standard with 20 clauses, each with one record rule on
   the record type ``bench.kitchen_log`` (the canteen clauses: sample weight, fridge,
   disinfection per method with CEL ``when``, storage, AC set points, …);
2. inserts ``--rows`` ``Judgment`` rows (default 1,000,000) over 4 orgs, the 20 clauses
   and the year 2024 with raw ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) in one
   transaction, then ``ANALYZE``;
3. times (a) the pure engine path, ``engine.judge_prepared`` with pre-fetched effective
   rules and compiled CEL, on one core over a pool of varied records, for ``--seconds``:
   records/s (each judged by all 20 rules) and rule evaluations/s (records × 20); and the
   same through ``engine.judge_record`` (rule preparation looked up per call);
4. times the per-clause compliance report (``GROUP BY clause`` with pass/fail/na counts)
   over an org subtree and a period, written with the ORM: county A's subtree for a
   quarter and for the year, and the whole city for the year. First run (cold) and the
   median of five.

Prints a table like ``bench/run.py`` does and writes ``standards`` into
``var/bench/results.json`` (merged into the file ``bench/run.py`` writes).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

RECORD_TYPE = "bench.kitchen_log"
N_RULES = 20
BATCH = 10_000


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- the rules ------------------------------------------------------------------------


def _v(value, stricter="higher", unit=""):
    return {"value": value, "stricter": stricter, "unit": unit}


def rule_specs() -> list[tuple[str, str, str, dict]]:
    """(clause number, severity, clause text, record params) for the 20 bench rules."""
    both = "record.temp_c >= vars.min_c && record.minutes >= vars.min_minutes"
    specs = [
        ("C1.1", "key", "留样不少于 125 克", {"vars": {"min_g": _v(125)},
         "check": "record.sample_g >= vars.min_g", "message": "留样量不少于 {min_g} 克"}),
        ("C1.2", "key", "留样保存不少于 48 小时", {"vars": {"min_h": _v(48)},
         "check": "record.sample_hours >= vars.min_h", "message": "留样保存不少于 {min_h} 小时"}),
        ("C2", "important", "留样冰箱 0–10 ℃", {"vars": {"lo": _v(0), "hi": _v(10, "lower")},
         "check": "record.fridge_c >= vars.lo && record.fridge_c <= vars.hi",
         "message": "留样冰箱温度须在 {lo}–{hi} ℃"}),
        ("C3.1", "important", "煮沸或蒸汽消毒", {"vars": {"min_c": _v(100), "min_minutes": _v(10)},
         "when": "record.method == 'boiling'", "check": both, "message": "煮沸消毒不达标"}),
        ("C3.2", "important", "红外消毒", {"vars": {"min_c": _v(120), "min_minutes": _v(10)},
         "when": "record.method == 'infrared'", "check": both, "message": "红外消毒不达标"}),
        ("C3.3", "important", "洗碗机消毒", {"vars": {"min_c": _v(85), "min_s": _v(40)},
         "when": "record.method == 'dishwasher'",
         "check": "record.temp_c >= vars.min_c && record.seconds >= vars.min_s",
         "message": "洗碗机冲洗不达标"}),
        ("C3.4", "important", "含氯消毒", {"vars": {"min_mg": _v(250), "min_minutes": _v(5)},
         "when": "record.method == 'chlorine'",
         "check": "record.mg_l >= vars.min_mg && record.minutes >= vars.min_minutes",
         "message": "含氯消毒不达标"}),
        ("C4.1", "important", "专间温度不高于 25 ℃", {"vars": {"max_c": _v(25, "lower")},
         "check": "record.room_c <= vars.max_c", "message": "专间温度不高于 {max_c} ℃"}),
        ("C4.2", "general", "紫外灯功率", {"vars": {"min_w": _v(1.5)},
         "check": "record.uv_w_m3 >= vars.min_w", "message": "紫外灯不少于 {min_w} W/m³"}),
        ("C5.1", "key", "中心温度不低于 70 ℃", {"vars": {"min_c": _v(70)},
         "check": "record.core_c >= vars.min_c", "message": "烹饪中心温度不低于 {min_c} ℃"}),
        ("C5.2", "important", "超过 2 小时的食品热藏或冷藏",
         {"vars": {"hot": _v(60), "cold": _v(8, "lower")},
         "when": "record.held_hours > 2.0",
         "check": "record.hold_c > vars.hot || record.hold_c < vars.cold",
         "message": "存放超过 2 小时须高于 {hot} ℃ 或低于 {cold} ℃"}),
        ("C6.1", "important", "冷藏 0–8 ℃", {"vars": {"lo": _v(0), "hi": _v(8, "lower")},
         "check": "record.chilled_c >= vars.lo && record.chilled_c <= vars.hi",
         "message": "冷藏温度须在 {lo}–{hi} ℃"}),
        ("C6.2", "important", "冷冻不高于 −12 ℃", {"vars": {"max_c": _v(-12, "lower")},
         "check": "record.frozen_c <= vars.max_c", "message": "冷冻温度不高于 {max_c} ℃"}),
        ("E1.1", "general", "夏季空调不低于 26 ℃", {"vars": {"min_c": _v(26)},
         "when": "record.season == 'summer'", "check": "record.ac_c >= vars.min_c",
         "message": "夏季空调设定不低于 {min_c} ℃"}),
        ("E1.2", "general", "冬季空调不高于 20 ℃", {"vars": {"max_c": _v(20, "lower")},
         "when": "record.season == 'winter'", "check": "record.ac_c <= vars.max_c",
         "message": "冬季空调设定不高于 {max_c} ℃"}),
        ("C7", "key", "健康证有效", {"check": "record.cert_days_left >= 0",
         "message": "从业人员健康证已过期"}),
        ("C9", "general", "人均餐厨垃圾", {"vars": {"max_g": _v(50, "lower")},
         "when": "record.diners > 0", "check": "record.waste_g <= vars.max_g * record.diners",
         "message": "人均餐厨垃圾不超过 {max_g} 克"}),
        ("C11", "general", "食堂人员配比", {"vars": {"ratio": _v(80, "lower")},
         "check": "record.diners <= record.staff * vars.ratio", "message": "人员配比不足"}),
        ("C1.3", "important", "留样记录签名", {"check": "size(record.by) > 0",
         "message": "留样记录须有记录人"}),
        ("C1.4", "important", "留样记录菜名", {"check": "record.dish != ''",
         "message": "留样记录须有菜名"}),
    ]  # fmt: skip
    assert len(specs) == N_RULES
    return [(n, s, t, {"record_type": RECORD_TYPE, **p}) for n, s, t, p in specs]


def random_record(rng: random.Random) -> dict:
    """A kitchen log, right most of the time."""

    def off(good, bad, p=0.05):
        return bad if rng.random() < p else good

    return {
        "dish": off("红烧肉", ""),
        "by": off("张师傅", ""),
        "sample_g": off(rng.choice([125, 130, 150.5, 200]), 100),
        "sample_hours": off(48, 24),
        "fridge_c": off(round(rng.uniform(1, 9), 1), 12.5),
        "method": rng.choice(["boiling", "infrared", "dishwasher", "chlorine"]),
        "temp_c": off(rng.choice([100, 121, 88]), 80),
        "minutes": off(rng.choice([10, 12, 15]), 3),
        "seconds": off(45, 20),
        "mg_l": off(250, 150),
        "room_c": off(round(rng.uniform(18, 25), 1), 28),
        "uv_w_m3": off(1.6, 1.0),
        "core_c": off(rng.choice([72, 75.5, 80]), 65),
        "held_hours": rng.choice([0.5, 1.0, 3.0]),
        "hold_c": off(65, 30),
        "chilled_c": off(4, 11),
        "frozen_c": off(-18, -5),
        "season": rng.choice(["summer", "winter", "spring"]),
        "ac_c": rng.choice([20, 24, 26]),
        "cert_days_left": off(rng.randint(0, 300), -3),
        "diners": rng.randint(100, 600),
        "waste_g": rng.randint(2000, 20000),
        "staff": rng.randint(3, 10),
    }


# --- the worker (inside Django) -------------------------------------------------------


def setup_rules(org):
    """The standard, its 20 clauses and rules as rows, and their EffectiveRule objects."""
    from dayuan.standards.effective import EffectiveRule
    from dayuan.standards.models import Clause, Rule, Standard, StandardVersion
    from dayuan.standards.rules import parse_params

    std = Standard.objects.create(
        code="bench-fs", title="食品安全（基准）", issuing_org=org, domain="canteen"
    )
    version = StandardVersion.objects.create(standard=std, number=1, status="published")
    rules = []
    for pos, (number, severity, text, params) in enumerate(rule_specs()):
        clause = Clause.objects.create(
            version=version, number=number, text=text, severity=severity, position=pos
        )
        parsed = parse_params("record", params)
        key = f"bench.{number.lower()}"
        row = Rule.objects.create(
            clause=clause,
            version=version,
            key=key,
            kind="record",
            target=parsed.target_key(),
            params=params,
        )
        rules.append(
            EffectiveRule(
                rule_id=row.pk,
                key=key,
                kind="record",
                target=parsed.target_key(),
                params=parsed,
                raw_params=params,
                clause_id=clause.pk,
                clause_number=number,
                clause_text=text,
                severity=severity,
                binding=False,
                standard_id=std.pk,
                standard_code=std.code,
                standard_title=std.title,
                version_id=version.pk,
                version_number=1,
            )
        )
    return std, rules


def insert_judgments(rules, orgs, vendor_id: int, rows: int, seed: int) -> float:
    """``rows`` judgments over ``orgs``, the rules' clauses and 2024; returns seconds."""
    from django.db import connection, transaction

    from dayuan.standards.models import Judgment

    rng = random.Random(seed)
    table = Judgment._meta.db_table
    cols = [
        "rule_id",
        "clause_id",
        "org_id",
        "location_id",
        "vendor_id",
        "subject_type",
        "subject_id",
        "at",
        "outcome",
        "value",
    ]
    year_start = datetime(2023, 12, 31, 16, 0, tzinfo=UTC)  # 2024-01-01 00:00 Shanghai
    seconds_in_year = 366 * 86400
    pg = connection.vendor == "postgresql"
    # Each clause fails at its own rate (1 %–20 %); disinfection clauses are mostly na.
    fail_rate = [0.01 + 0.01 * i for i in range(len(rules))]
    na_rate = [0.75 if r.params.when else 0.0 for r in rules]

    # A pool of instants (as the driver wants them) keeps row making cheap.
    instants = [
        year_start + timedelta(seconds=rng.randrange(seconds_in_year)) for _ in range(50_000)
    ]
    stamps = instants if pg else [str(t.replace(tzinfo=None)) for t in instants]
    n_stamps, n_rules, n_orgs = len(stamps), len(rules), len(orgs)
    ids = [(r.rule_id, r.clause_id) for r in rules]

    def make(i: int) -> tuple:
        k = rng.randrange(n_rules)
        org_id = orgs[rng.randrange(n_orgs)]
        u = rng.random()
        outcome = "na" if u < na_rate[k] else ("fail" if u < na_rate[k] + fail_rate[k] else "pass")
        return (
            *ids[k],
            org_id,
            None,
            vendor_id if org_id == vendor_id else None,
            "bench.kitchen_log",
            str(i),
            stamps[rng.randrange(n_stamps)],
            outcome,
            None,
        )

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        if pg:
            raw = cur.cursor
            with raw.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for i in range(rows):
                    copy.write_row(make(i))
        else:
            sql = (
                f"INSERT INTO {table} ({', '.join(cols)}) "  # noqa: S608 (our own table)
                f"VALUES ({', '.join(['%s'] * len(cols))})"
            )
            for first in range(0, rows, BATCH):
                cur.executemany(sql, [make(i) for i in range(first, min(rows, first + BATCH))])
    return time.perf_counter() - started


def analyze() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return time.perf_counter() - started


def time_evaluations(rules, seconds: float, seed: int) -> dict:
    """Records judged per second on this core by the pure engine path."""
    from dayuan.standards import engine

    rng = random.Random(seed)
    pool = [random_record(rng) for _ in range(2000)]
    prepared = [engine.prepared(r) for r in rules]
    out: dict = {}
    outcomes = {"pass": 0, "fail": 0, "na": 0}
    for judged in (engine.judge_prepared(prepared, rec) for rec in pool):
        for j in judged:
            outcomes[str(j.outcome)] += 1
    out["outcomes_in_pool"] = outcomes
    for label, fn, arg in (
        ("judge_prepared", engine.judge_prepared, prepared),
        ("judge_record", engine.judge_record, rules),
    ):
        n = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            for rec in pool[:500]:
                fn(arg, rec)
            n += 500
        elapsed = time.perf_counter() - started
        out[label] = {
            "records": n,
            "seconds": round(elapsed, 2),
            "records_per_s": round(n / elapsed),
            "rule_evaluations_per_s": round(n * len(rules) / elapsed),
        }
    return out


def compliance_query(org_ids, since, until):
    """The per-clause report: counts by outcome for each clause, over orgs and a period."""
    from django.db.models import Count, Q

    from dayuan.standards.models import Judgment

    return (
        Judgment.objects.filter(org_id__in=org_ids, at__gte=since, at__lt=until)
        .values("clause_id")
        .annotate(
            total=Count("id"),
            passed=Count("id", filter=Q(outcome="pass")),
            failed=Count("id", filter=Q(outcome="fail")),
            na=Count("id", filter=Q(outcome="na")),
        )
        .order_by("clause_id")
    )


def compliance_report(org, since, until) -> list[dict]:
    from dayuan.orgs.models import Organization
    from dayuan.standards.models import Clause

    org_ids = list(
        Organization.objects.filter(path__startswith=org.path).values_list("id", flat=True)
    )
    rows = list(compliance_query(org_ids, since, until))
    numbers = dict(
        Clause.objects.filter(id__in=[r["clause_id"] for r in rows]).values_list("id", "number")
    )
    for r in rows:
        r["clause"] = numbers.get(r["clause_id"])
        judged = r["passed"] + r["failed"]
        r["rate"] = round(100 * r["passed"] / judged, 2) if judged else None
    return rows


def time_reports(world) -> list[dict]:
    from zoneinfo import ZoneInfo

    from dayuan.orgs.models import Organization

    sh = ZoneInfo("Asia/Shanghai")
    cases = [
        ("county A subtree, Q2 2024", world.county_a, datetime(2024, 4, 1, tzinfo=sh),
         datetime(2024, 7, 1, tzinfo=sh)),
        ("county A subtree, 2024", world.county_a, datetime(2024, 1, 1, tzinfo=sh),
         datetime(2025, 1, 1, tzinfo=sh)),
        ("whole city, 2024", world.city, datetime(2024, 1, 1, tzinfo=sh),
         datetime(2025, 1, 1, tzinfo=sh)),
    ]  # fmt: skip
    out = []
    for label, org, since, until in cases:
        org_ids = list(
            Organization.objects.filter(path__startswith=org.path).values_list("id", flat=True)
        )
        times = []
        result: list[dict] = []
        for _ in range(6):
            started = time.perf_counter()
            result = compliance_report(org, since, until)
            times.append(time.perf_counter() - started)
        plan = compliance_query(org_ids, since, until).explain()
        out.append(
            {
                "report": label,
                "clauses": len(result),
                "judgments": sum(r["total"] for r in result),
                "first_ms": round(times[0] * 1000, 1),
                "median_ms": round(statistics.median(times[1:]) * 1000, 1),
                "plan": plan.splitlines(),
                "worst_clause": min(
                    (r for r in result if r["rate"] is not None),
                    key=lambda r: r["rate"],
                    default=None,
                ),
            }
        )
    return out


def worker(rows: int, seconds: float, seed: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dayuan.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from dayuan.core.testing import build_world

    facts: dict = {"db": connection.vendor, "rows": rows, "rules": N_RULES}
    with transaction.atomic():
        world = build_world()
        _std, rules = setup_rules(world.city)
    orgs = [world.city.pk, world.county_a.pk, world.county_b.pk, world.vendor.pk]
    insert_seconds = insert_judgments(rules, orgs, world.vendor.pk, rows, seed)
    facts["insert_seconds"] = round(insert_seconds, 1)
    facts["insert_rows_per_s"] = round(rows / insert_seconds)
    facts["analyze_seconds"] = round(analyze(), 1)
    facts["evaluation"] = time_evaluations(rules, seconds, seed)
    facts["reports"] = time_reports(world)
    return facts


# --- the driver -----------------------------------------------------------------------


def table(results: list[dict]) -> str:
    head = ["measure", "db", "rows", "value", "unit"]
    body: list[list[str]] = []
    for r in results:
        db, rows = r["db"], str(r["rows"])
        body.append(["insert judgments", db, rows, f"{r['insert_rows_per_s']:,}", "rows/s"])
        ev = r["evaluation"]
        for label, key in (("judge_prepared", "pure engine"), ("judge_record", "judge_record")):
            body.append(
                [
                    f"record evaluation, 20 rules, 1 core ({key})",
                    db,
                    "-",
                    f"{ev[label]['rule_evaluations_per_s']:,}",
                    "rule evals/s",
                ]
            )
            body.append(
                [
                    f"records judged by all 20 rules ({key})",
                    db,
                    "-",
                    f"{ev[label]['records_per_s']:,}",
                    "records/s",
                ]
            )
        for rep in r["reports"]:
            body.append(
                [
                    f"per-clause compliance: {rep['report']} ({rep['judgments']:,} judgments)",
                    db,
                    rows,
                    f"{rep['median_ms']:.1f} (first {rep['first_ms']:.1f})",
                    "ms",
                ]
            )
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in (0, 4) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(head), "  ".join("-" * w for w in widths), *map(line, body)])


def run_all(
    dbs: list[str],
    admin_url: str,
    *,
    rows: int = 1_000_000,
    seconds: float = 3.0,
    keep: bool = False,
) -> dict:
    """Run the standards bench on each database; returns what goes into results.json."""

    def after(db: str, facts: dict) -> None:
        ev = facts["evaluation"]["judge_prepared"]
        _say(
            f"{db}: insert {facts['insert_rows_per_s']:,} rows/s; "
            f"{ev['rule_evaluations_per_s']:,} rule evaluations/s "
            f"({ev['records_per_s']:,} records/s); reports "
            + ", ".join(f"{r['median_ms']} ms" for r in facts["reports"])
        )

    return common.run_worker_per_db(
        "standards",
        "bench.standards_bench",
        dbs,
        admin_url,
        keep,
        lambda db: ["--rows", str(rows), "--seconds", str(seconds)],
        lambda db: f"standards bench on {db} ({rows} judgments)",
        after=after,
        extra={"rows": rows},
    )


def main(argv: list[str] | None = None) -> int:
    parser = common.sub_bench_parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=3.0, help="per evaluation mode")
    args = common.parse_args(parser, argv)
    if args.worker:
        return common.print_worker(worker(args.rows, args.seconds, args.seed))
    return common.run_and_report("standards", run_all, args, table, failed=None)


if __name__ == "__main__":
    sys.exit(main())
