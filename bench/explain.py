"""The query plans of the scoped, paginated location list, as ``a_staff`` runs it.

``python -m bench.explain --page 100 --page-size 50`` (environment pointing at a
seeded bench database) prints the page query and the COUNT the paginator runs, each
with its plan (``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN ANALYZE`` on PostgreSQL)
and its time, so a missing index shows up next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def plans(username: str, page: int, page_size: int) -> list[dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dayuan.accounts.models import User
    from dayuan.orgs import queries

    user = User.objects.get(username=username)
    qs = queries.locations(user)
    # What core.api.Page does: the list's order plus the primary key, one row extra.
    ordered = qs.order_by(*qs.query.order_by, "pk")
    offset = (page - 1) * page_size
    page_qs = ordered[offset : offset + page_size + 1]
    count_qs = ordered.order_by()
    out = []
    for label, run in (("page", lambda: list(page_qs.all())), ("count", count_qs.count)):
        with CaptureQueriesContext(connection) as captured:
            result = run()
        sql = captured.captured_queries[-1]["sql"]  # exactly what the paginator sends
        with connection.cursor() as cur:
            if connection.vendor == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + sql)
                plan = [row[-1] for row in cur.fetchall()]
            else:
                cur.execute("EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF) " + sql)
                plan = [row[0] for row in cur.fetchall()]
        started = time.perf_counter()
        for _ in range(5):
            run()
        ms = (time.perf_counter() - started) / 5 * 1000
        out.append(
            {
                "query": label,
                "sql": sql,
                "plan": plan,
                "ms": round(ms, 2),
                "result": result if label == "count" else len(result),
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", default="a_staff")
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=50)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dayuan.settings")
    import django

    django.setup()
    print(json.dumps(plans(args.user, args.page, args.page_size), ensure_ascii=False))


if __name__ == "__main__":
    main()
