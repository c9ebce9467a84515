"""Load benchmark: the app under gunicorn against SQLite and/or PostgreSQL.

    .venv/bin/python bench/run.py [--db sqlite|postgres|both] [--rows 100000]
                                  [--duration 10] [--concurrency 16] [--workers 4]
                                  [--workloads health,locations] [--keep]

For each database: a fresh one (SQLite: ``var/bench/sqlite/dayuan.sqlite3``;
PostgreSQL: a new database ``dayuan_bench_<random>`` on 127.0.0.1:5432 as ``postgres``,
dropped at the end), ``dayuan migrate``, seeding by ``bench.seed`` (bulk inserts: the
org world plus ``--rows`` locations in county A), the query plans of the scoped list
(``bench.explain``), then gunicorn with ``--workers`` processes and an asyncio load
generator (``httpx.AsyncClient``, fixed concurrency, one workload after the other, a
one-second warm-up each). Prints requests/s and p50/p95/p99 per workload and writes
everything to ``var/bench/results.json``. Figures are for comparing runs on one
machine; the load generator shares the CPUs with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from random import Random

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.common import dbs_of, quantiles  # noqa: E402
from bench.workloads import REGISTRY, Context, Workload  # noqa: E402

BENCH_DIR = ROOT / "var" / "bench"
PASSWORD = "Dayuan-demo-2026"
BIN = Path(sys.executable).parent


def _tool(name: str) -> list[str]:
    exe = BIN / name
    return [str(exe)] if exe.exists() else [sys.executable, "-m", name]


def _say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def sub_bench_options(parser: argparse.ArgumentParser) -> None:
    """The options every sub-bench ends with (after ``bench.common.sub_bench_parser``'s)."""
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("DAYUAN_BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)


def merge_into_results(key: str, report: dict) -> Path:
    """Put a sub-bench's report under ``key`` in ``var/bench/results.json``."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    out = BENCH_DIR / "results.json"
    data = json.loads(out.read_text()) if out.exists() else {}
    data[key] = report
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2))
    return out


# --- Databases ------------------------------------------------------------------------


def _base_env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DAYUAN_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        {
            "DAYUAN_ENV": "development",
            "DAYUAN_DEBUG": "false",
            "DAYUAN_ALLOWED_HOSTS": "127.0.0.1",
            "DAYUAN_VAR_DIR": str(var_dir),
            "DAYUAN_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        }
    )
    return env


@contextlib.contextmanager
def scratch_database(db: str, admin_url: str, keep: bool, name: str) -> Iterator[dict[str, str]]:
    """A fresh database for one bench; SQLite in its own ``var/bench/<name>`` so another
    bench's (possibly kept) database is left alone."""
    if db != "sqlite":
        with bench_database(db, admin_url, keep) as env:
            yield env
        return
    var_dir = BENCH_DIR / name
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    try:
        yield _base_env(var_dir)
    finally:
        if not keep:
            shutil.rmtree(var_dir, ignore_errors=True)


@contextlib.contextmanager
def bench_database(db: str, admin_url: str, keep: bool) -> Iterator[dict[str, str]]:
    """A fresh database and the environment that points the app at it."""
    var_dir = BENCH_DIR / db
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    env = _base_env(var_dir)
    if db == "sqlite":
        try:
            yield env
        finally:
            if not keep:
                for name in ("dayuan.sqlite3", "dayuan.sqlite3-wal", "dayuan.sqlite3-shm"):
                    (var_dir / name).unlink(missing_ok=True)
        return

    import psycopg

    name = f"dayuan_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _say(f"created PostgreSQL database {name}")
    base = admin_url.rsplit("/", 1)[0]
    env["DATABASE_URL"] = f"{base}/{name}"
    try:
        yield env
    finally:
        if keep:
            _say(f"kept PostgreSQL database {name}")
        else:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _say(f"dropped PostgreSQL database {name}")


def _run(cmd: list[str], env: dict[str, str], what: str) -> str:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"[bench] {what} failed (exit {proc.returncode})")
    _say(f"{what}: {time.perf_counter() - started:.1f}s")
    return proc.stdout


def prepare(
    env: dict[str, str], rows: int, workloads: list[Workload], sqlite_analyze: bool
) -> tuple[dict, list]:
    _run([*_tool("dayuan"), "migrate", "--noinput", "-v0"], env, "migrate")
    out = _run(
        [
            sys.executable,
            "-m",
            "bench.seed",
            "--rows",
            str(rows),
            "--workloads",
            ",".join(w.name for w in workloads),
            *(["--sqlite-analyze"] if sqlite_analyze else []),
        ],
        env,
        f"seed {rows} rows",
    )
    facts = json.loads(out.strip().splitlines()[-1])
    plans = json.loads(_run([sys.executable, "-m", "bench.explain"], env, "explain").strip())
    return facts, plans


# --- Server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(env: dict[str, str], workers: int, log: Path) -> Iterator[str]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                *_tool("gunicorn"),
                "dayuan.wsgi:application",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"[bench] gunicorn exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"[bench] gunicorn not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        _say(f"gunicorn -w {workers} on {base_url}")
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def obtain_token(base_url: str, username: str = "a_staff") -> str:
    resp = httpx.post(
        f"{base_url}/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        timeout=30,
    )
    if resp.status_code != 200:
        raise SystemExit(f"[bench] token for {username}: {resp.status_code} {resp.text[:300]}")
    return resp.json()["token"]


# --- Load -----------------------------------------------------------------------------


async def load(
    workload: Workload, ctx: Context, duration: float, concurrency: int, warmup: float = 1.0
) -> dict:
    """``concurrency`` clients in a closed loop; requests started in the warm-up are not
    counted."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=ctx.base_url, limits=limits, timeout=30) as client:
        start = time.perf_counter()
        measure_from = start + warmup
        stop = measure_from + duration

        async def client_loop(i: int) -> None:
            rng = Random(i)
            while (t0 := time.perf_counter()) < stop:
                req = workload.request(rng, ctx)
                try:
                    resp = await client.request(
                        req.method, req.path, headers=req.headers, json=req.json
                    )
                    error = None if resp.status_code < 400 else str(resp.status_code)
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
                if t0 < measure_from:
                    continue
                if error is None:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors[error] = errors.get(error, 0) + 1

        await asyncio.gather(*(client_loop(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - measure_from
    n_errors = sum(errors.values())
    requests = len(latencies) + n_errors
    return {
        "workload": workload.name,
        "endpoint": workload.endpoint,
        "requests": requests,
        "seconds": round(elapsed, 2),
        "rps": round(requests / elapsed, 1) if elapsed > 0 else 0.0,
        **quantiles(latencies),
        "errors": n_errors,
        "error_kinds": errors,
    }


# --- Output ---------------------------------------------------------------------------


def table(results: list[dict]) -> str:
    head = ["endpoint", "db", "rows", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
    rows = [
        [
            r["endpoint"],
            r["db"],
            str(r["rows"]),
            str(r["requests"]),
            f"{r['rps']:.1f}",
            *(f"{r[k]:.1f}" if r[k] is not None else "-" for k in ("p50_ms", "p95_ms", "p99_ms")),
            str(r["errors"]),
        ]
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def print_plans(db: str, plans: list[dict]) -> None:
    for item in plans:
        _say(f"{db} plan of the list {item['query']} ({item['ms']} ms, result {item['result']}):")
        for line in item["plan"]:
            print(f"    {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per workload")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--workloads", default=",".join(REGISTRY), help="comma-separated")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("DAYUAN_BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="where to create and drop the bench database",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    parser.add_argument(
        "--sqlite-analyze",
        action="store_true",
        help="run ANALYZE on the SQLite database after seeding (PostgreSQL always is)",
    )
    parser.add_argument(
        "--skip-standards",
        action="store_true",
        help="skip bench/standards_bench.py (rule evaluations, compliance report over 1M rows)",
    )
    parser.add_argument(
        "--skip-workorders",
        action="store_true",
        help="skip bench/workorders_bench.py (request flow through HTTP, list and dashboard "
        "over 1M work orders)",
    )
    parser.add_argument(
        "--skip-inspections",
        action="store_true",
        help="skip bench/inspections_bench.py (findings list, dashboard and submits over "
        "200k inspection items)",
    )
    parser.add_argument(
        "--skip-assessment",
        action="store_true",
        help="skip bench/assessment_bench.py (a quarterly run for 50 vendors over 1M work "
        "orders and 1M inspection items)",
    )
    parser.add_argument(
        "--skip-bookings",
        action="store_true",
        help="skip bench/bookings_bench.py (booking under contention, free-room search over "
        "500 rooms and a year of bookings)",
    )
    parser.add_argument(
        "--skip-canteen",
        action="store_true",
        help="skip bench/canteen_bench.py (the noon rush: 2,000 staff reserving lunch, "
        "oversells must be 0; menus and kitchen counts over two months of meals)",
    )
    parser.add_argument(
        "--skip-resources",
        action="store_true",
        help="skip bench/resources_bench.py (batch matching of 5,000 demands against 20,000 "
        "resources; single-demand match p95)",
    )
    args = parser.parse_args(argv)
    try:
        workloads = [REGISTRY[name] for name in args.workloads.split(",") if name]
    except KeyError as exc:
        parser.error(f"unknown workload {exc}; known: {', '.join(REGISTRY)}")
    dbs = dbs_of(args.db)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    results: list[dict] = []
    report: dict = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "args": vars(args) | {"pg_admin_url": None},
        "results": results,
        "plans": {},
        "seed": {},
    }
    for db in dbs:
        _say(f"--- {db} ---")
        with bench_database(db, args.pg_admin_url, args.keep) as env:
            facts, plans = prepare(env, args.rows, workloads, args.sqlite_analyze)
            report["seed"][db] = facts
            report["plans"][db] = plans
            print_plans(db, plans)
            with server(env, args.workers, BENCH_DIR / f"gunicorn-{db}.log") as base_url:
                ctx = Context(base_url=base_url, token=obtain_token(base_url))
                for workload in workloads:
                    result = asyncio.run(load(workload, ctx, args.duration, args.concurrency))
                    result.update({"db": db, "rows": args.rows, "concurrency": args.concurrency})
                    results.append(result)
                    _say(
                        f"{workload.name} on {db}: {result['rps']} req/s, "
                        f"p95 {result['p95_ms']} ms, {result['errors']} errors "
                        f"{result['error_kinds'] or ''}"
                    )
    if not args.skip_standards:
        from bench import standards_bench

        report["standards"] = standards_bench.run_all(dbs, args.pg_admin_url, keep=args.keep)
    if not args.skip_workorders:
        from bench import workorders_bench

        report["workorders"] = workorders_bench.run_all(
            dbs, args.pg_admin_url, workers=args.workers, keep=args.keep
        )
    if not args.skip_inspections:
        from bench import inspections_bench

        report["inspections"] = inspections_bench.run_all(dbs, args.pg_admin_url, keep=args.keep)
    if not args.skip_assessment:
        from bench import assessment_bench

        report["assessment"] = assessment_bench.run_all(dbs, args.pg_admin_url, keep=args.keep)
    if not args.skip_bookings:
        from bench import bookings_bench

        report["bookings"] = bookings_bench.run_all(dbs, args.pg_admin_url, keep=args.keep)
    if not args.skip_canteen:
        from bench import canteen_bench

        report["canteen"] = canteen_bench.run_all(dbs, args.pg_admin_url, keep=args.keep)
    if not args.skip_resources:
        from bench import resources_bench

        report["resources"] = resources_bench.run_all(dbs, args.pg_admin_url, keep=args.keep)
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    out = BENCH_DIR / "results.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print()
    print(table(results))
    print()
    if "standards" in report:
        print(standards_bench.table(report["standards"]["results"]))
        print()
    if "workorders" in report:
        print(workorders_bench.table(report["workorders"]["results"]))
        print()
    if "inspections" in report:
        print(inspections_bench.table(report["inspections"]["results"]))
        print()
    if "assessment" in report:
        print(assessment_bench.table(report["assessment"]["results"]))
        print()
    if "bookings" in report:
        print(bookings_bench.table(report["bookings"]["results"]))
        print()
    if "canteen" in report:
        print(canteen_bench.table(report["canteen"]["results"]))
        print()
    if "resources" in report:
        print(resources_bench.table(report["resources"]["results"]))
        print()
    _say(f"{report['total_seconds']}s in all; results in {out.relative_to(ROOT)}")
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
