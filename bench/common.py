"""What the sub-benches (standards, work orders, inspections, assessment, bookings,
canteen) share.

The worker side (inside Django): ``setup_django``, ``analyze``, ``quantiles``,
``measure`` and ``Contention`` (threads racing for the same rows). The driver side:
``run_worker_per_db`` (a scratch database per database, ``dayuan migrate``, the bench's
module as a ``--worker`` subprocess, its last line of JSON) and the command line
(``sub_bench_parser``, ``parse_args``, ``flags``, ``print_worker``, ``run_and_report``). Nothing
here imports Django or httpx at import time.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- the worker (inside Django) -------------------------------------------------------


def setup_django() -> None:
    """The worker's first step: Django with the settings of the scratch database."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dayuan.settings")
    django.setup()


def analyze() -> None:
    """Fresh planner statistics after seeding (``VACUUM ANALYZE`` on PostgreSQL)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def quantiles(values: list[float]) -> dict:
    """p50/p95/p99 in milliseconds; one value stands for all three, none gives ``None``."""
    if len(values) < 2:
        one = round(values[0] * 1000, 1) if values else None
        return {"p50_ms": one, "p95_ms": one, "p99_ms": one}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        k: round(cuts[i] * 1000, 1) for k, i in (("p50_ms", 49), ("p95_ms", 94), ("p99_ms", 98))
    }


def measure(name: str, endpoint: str, fn: Callable[[int], bool], n: int) -> dict:
    """``fn(0)`` … ``fn(n - 1)`` one after the other; a false answer counts as an error."""
    latencies, errors = [], 0
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        ok = fn(i)
        latencies.append(time.perf_counter() - t0)
        errors += 0 if ok else 1
    elapsed = time.perf_counter() - started
    return {
        "workload": name,
        "endpoint": endpoint,
        "requests": n,
        "seconds": round(elapsed, 2),
        "rps": round(n / elapsed, 1),
        **quantiles(latencies),
        "errors": errors,
    }


class Contention:
    """``threads`` threads let go at once (a barrier), each on its own database connection
    (closed when it ends), their latencies and outcome counts gathered under ``lock``."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.outcomes: dict[str, int] = {}
        self.elapsed = 0.0

    def run(self, body: Callable[[int, dict[str, int], list[float]], None]) -> None:
        """``body(i, got, mine)`` in thread ``i``: it counts its outcomes in ``got`` and its
        latencies in ``mine``; ``elapsed`` is from the start to the last thread's end."""
        from django.db import connections

        barrier = threading.Barrier(self.threads)

        def thread(i: int) -> None:
            got: dict[str, int] = {}
            mine: list[float] = []
            try:
                barrier.wait(timeout=60)
                body(i, got, mine)
            finally:
                connections.close_all()
                with self.lock:
                    self.latencies.extend(mine)
                    for k, v in got.items():
                        self.outcomes[k] = self.outcomes.get(k, 0) + v

        workers = [threading.Thread(target=thread, args=(i,)) for i in range(self.threads)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self.elapsed = time.perf_counter() - started

    def result(self, workload: str, endpoint: str, failures: int = 0, **facts: object) -> dict:
        """A row like ``measure``'s; ``errors`` counts the ``error …`` outcomes plus
        ``failures`` (what the check afterwards found), ``facts`` follow it."""
        n = len(self.latencies)
        errors = {k: v for k, v in self.outcomes.items() if k.startswith("error")}
        return {
            "workload": workload,
            "endpoint": endpoint,
            "requests": n,
            "seconds": round(self.elapsed, 2),
            "rps": round(n / self.elapsed, 1) if self.elapsed else 0.0,
            **quantiles(self.latencies),
            "errors": sum(errors.values()) + failures,
            **facts,
            "error_kinds": errors,
        }


# --- the driver -----------------------------------------------------------------------


def pg_available(admin_url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(admin_url, connect_timeout=3):
            return True
    except Exception as exc:  # any failure means: skip PostgreSQL
        say(f"PostgreSQL not available ({type(exc).__name__}); skipping it")
        return False


def run_worker_per_db(
    name: str,
    module: str,
    dbs: list[str],
    admin_url: str,
    keep: bool,
    worker_args: Callable[[str], list[str]],
    label: Callable[[str], str],
    *,
    heading: str | None = None,
    rows: Callable[[dict], int] | None = None,
    within: Callable[[str, dict[str, str], dict], None] | None = None,
    after: Callable[[str, dict], None] | None = None,
    extra: dict | None = None,
    log: Callable[[str], None] = say,
) -> dict:
    """For each database (PostgreSQL only when ``admin_url`` answers): a scratch database
    (SQLite in ``var/bench/<name>-sqlite``), ``dayuan migrate``, then ``python -m <module>
    --worker <worker_args(db)>`` and the facts on the last line it prints.

    With ``rows``, each of ``facts["results"]`` is tagged with the db and ``rows(facts)``
    and goes into the report's results; without, the facts themselves do. ``within(db,
    env, facts)`` runs while the database still exists (a server against it), ``after(db,
    facts)`` once it is gone (the per-database summary). Returns what goes into
    results.json: ``generated_at``, the ``extra`` keys, ``results``, ``total_seconds``."""
    from bench.run import _run, _tool, scratch_database

    started = time.perf_counter()
    results: list[dict] = []
    for db in dbs:
        if db == "postgres" and not pg_available(admin_url):
            continue
        log(f"--- {heading or name} on {db} ---")
        with scratch_database(db, admin_url, keep, f"{name}-sqlite") as env:
            _run([*_tool("dayuan"), "migrate", "--noinput", "-v0"], env, "migrate")
            out = _run([sys.executable, "-m", module, "--worker", *worker_args(db)], env, label(db))
            facts = json.loads(out.strip().splitlines()[-1])
            if within is not None:
                within(db, env, facts)
        if rows is None:
            results.append(facts)
        else:
            for r in facts["results"]:
                r.update({"db": db, "rows": rows(facts)})
                results.append(r)
        if after is not None:
            after(db, facts)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
        "results": results,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def sub_bench_parser(doc: str) -> argparse.ArgumentParser:
    """The parser a sub-bench starts with; its own options follow, then ``parse_args``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The options every sub-bench ends with (``bench/run.py``), then the command line."""
    from bench.run import sub_bench_options

    sub_bench_options(parser)
    return parser.parse_args(argv)


def flags(**options: object) -> list[str]:
    """The worker's command line: ``--per-day 2`` for ``per_day=2``."""
    return [a for k, v in options.items() for a in (f"--{k.replace('_', '-')}", str(v))]


def dbs_of(choice: str) -> list[str]:
    return ["sqlite", "postgres"] if choice == "both" else [choice]


def run_from_args(run_all: Callable[..., dict], args: argparse.Namespace) -> dict:
    """``run_all(dbs, admin_url, **keywords)`` with each keyword taken from the option of
    that name (``--sqlite-orders`` for ``sqlite_orders``)."""
    keywords = [
        p.name
        for p in inspect.signature(run_all).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    return run_all(dbs_of(args.db), args.pg_admin_url, **{k: getattr(args, k) for k in keywords})


def print_worker(facts: dict) -> int:
    """The worker's answer: one line of JSON, the last it prints."""
    print(json.dumps(facts, ensure_ascii=False, default=str))
    return 0


def table(results: list[dict]) -> str:
    """The table of ``bench/run.py``, for the benches whose results are rows like its."""
    from bench.run import table as run_table

    return run_table(results)


def run_and_report(
    key: str,
    run_all: Callable[..., dict],
    args: argparse.Namespace,
    table: Callable[[list[dict]], str],
    *,
    what: str | None = None,
    failed: Callable[[dict], object] | None = lambda r: r["errors"],
) -> int:
    """``run_from_args``, the report merged under ``key`` into results.json, the table and
    the total printed; exit status 1 when ``failed`` holds for a result."""
    from bench.run import merge_into_results

    report = run_from_args(run_all, args)
    out = merge_into_results(key, report)
    print()
    print(table(report["results"]))
    print()
    say(f"{what or key} bench: {report['total_seconds']}s; results in {out.relative_to(ROOT)}")
    return 1 if failed is not None and any(failed(r) for r in report["results"]) else 0
