"""Seeding a bench database fast: bulk inserts, not services (no audit, no policy).

Run by ``bench/run.py`` in a subprocess whose environment points at the bench database:
``python -m bench.seed --rows 100000 --workloads health,locations``. Prints one JSON
object of facts (row counts) on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 5000


def bulk_locations(org, rows: int, *, floors: int = 20, rooms: int = 49) -> int:
    """``rows`` locations under ``org``'s compound: buildings → floors → rooms.

    Paths are the parent's path plus ``tree.encode(n)``, exactly as ``next_child_path``
    would allocate them; new buildings are numbered after the compound's existing
    children. Returns the number of rows created.
    """
    from dayuan.core.tree import decode, encode
    from dayuan.orgs.choices import LocationKind
    from dayuan.orgs.models import Location

    compound = Location.objects.get(org=org, kind=LocationKind.COMPOUND, parent=None)
    step = len(encode(1)) + 1
    last = (
        Location.objects.filter(parent=compound).order_by("-path").values_list("path", flat=True)
    ).first()
    first_number = (
        decode(last[len(compound.path) : len(compound.path) + step - 1]) + 1 if last else 1
    )

    per_building = 1 + floors * (1 + rooms)
    n_buildings = max(1, -(-rows // per_building))
    n_floors = max(0, min(n_buildings * floors, rows - n_buildings))
    n_rooms = max(0, rows - n_buildings - n_floors)
    prefix = org.code.upper()[:8]

    def make(parent: Location, number: int, kind: str, name: str, **extra) -> Location:
        return Location(
            org=org,
            parent=parent,
            kind=kind,
            name=name,
            path=f"{parent.path}{encode(number)}.",
            depth=parent.depth + 1,
            **extra,
        )

    buildings = [
        make(compound, first_number + b, LocationKind.BUILDING, f"{b + 1}号楼", tags=["办公楼"])
        for b in range(n_buildings)
    ]
    Location.objects.bulk_create(buildings, batch_size=BATCH)
    floor_rows = []
    for i in range(n_floors):
        building, f = buildings[i // floors], i % floors + 1
        floor_rows.append(make(building, f, LocationKind.FLOOR, f"{f}层", tags=["楼层"]))
    Location.objects.bulk_create(floor_rows, batch_size=BATCH)
    room_rows = []
    for i in range(n_rooms):
        floor, r = floor_rows[i // rooms], i % rooms + 1
        room_rows.append(
            make(
                floor,
                r,
                LocationKind.ROOM,
                f"{floor.name[:-1]}{r:02d}室",
                code=f"{prefix}-{floor.parent.name[:-2]}-{floor.name[:-1]}-{r:02d}",
                area_m2=Decimal(20 + r % 40),
                tags=["办公室"],
            )
        )
        if len(room_rows) >= BATCH:
            Location.objects.bulk_create(room_rows)
            room_rows.clear()
    Location.objects.bulk_create(room_rows)
    return n_buildings + n_floors + n_rooms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workloads", default="")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--sqlite-analyze",
        action="store_true",
        help="also ANALYZE on SQLite (nothing does by default, so plans run without stats)",
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dayuan.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from bench.workloads import REGISTRY, Seed
    from dayuan.core.testing import build_world

    started = time.perf_counter()
    with transaction.atomic():
        world = build_world()
        seed = Seed(rows=args.rows, world=world, rng=random.Random(args.seed))
        for name in filter(None, args.workloads.split(",")):
            workload = REGISTRY[name]
            if workload.setup is not None:
                workload.setup(seed)
    if connection.vendor == "postgresql":
        # What autovacuum does within a minute of such a load: statistics for the
        # planner, and the visibility map that makes COUNT an index-only scan.
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    elif args.sqlite_analyze:
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    seed.facts["analyzed"] = connection.vendor == "postgresql" or args.sqlite_analyze
    seed.facts["seed_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(seed.facts))


if __name__ == "__main__":
    main()
