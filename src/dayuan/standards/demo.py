"""The standards part of the demo: the seed library published at the city, adopted there,
and tightened by one county (so the demo shows local numbers stricter than the city's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from django.db.models import QuerySet

from . import effective, fileformat
from .importer import import_standard
from .models import Standard, StandardVersion

# What the first county tightens: {standard code: {rule key: {tunable path: value}}}.
COUNTY_TIGHTENING: dict[str, dict[str, dict[str, Any]]] = {
    "JG-ST": {"c1_sample_quantity": {"vars.min_weight_g.value": 150}},
    "JG-WY-2015": {"p1_urgent_repair_arrive": {"timers.arrive.minutes": 20}},
}


def library_path(code: str) -> Path:
    """The seed library's file of the standard ``code``."""
    return next(p for p in fileformat.library_files() if p.name == f"{code}.standard.yaml")


class Installed(NamedTuple):
    standard: Standard
    imported: bool
    adopted: bool


def install(actor: Any, city: Any, path: Path) -> Installed:
    """The standard in ``path`` (named ``<code>.standard.yaml``) published and adopted at
    ``city``: imported only when its code is not there yet, adopted only when the city
    has not; the flags say which happened. What every demo needing a standard does first."""
    from . import services

    imported = adopted = False
    std = Standard.objects.filter(code=path.name.split(".")[0]).first()
    if std is None:
        version = import_standard(
            actor=actor,
            text=path.read_text(encoding="utf-8"),
            filename=path.name,
            org_code=city.code,
            publish=True,
        )
        std, imported = version.standard, True
    if not std.adoptions.filter(org=city, is_active=True).exists():
        services.adopt(actor=actor, org_id=city.pk, standard_id=std.pk)
        adopted = True
    return Installed(std, imported, adopted)


def backdate(versions: QuerySet[StandardVersion], since: datetime) -> int:
    """Publish (and release) ``versions`` at ``since`` where they were published later.

    A demo's history starts months before its standards were published (at load time);
    the services look rules up as of each moment, so without this the history would cite
    rules not yet in force. Returns how many versions moved."""
    ids = list(versions.filter(published_at__gt=since).distinct().values_list("id", flat=True))
    StandardVersion.objects.filter(pk__in=ids).update(published_at=since)
    StandardVersion.objects.filter(pk__in=ids, released_at__isnull=False).update(released_at=since)
    effective.invalidate()
    return len(ids)


def load_demo(actor: Any, city: Any, counties: Sequence[Any]) -> dict[str, int]:
    """Import and publish every library standard at ``city``, adopt them there, and let
    ``counties[0]`` adopt with tighter numbers. Standards that exist already are left
    as they are. ``actor`` must manage standards at the city (an administrator)."""
    from . import services

    standards: dict[str, Standard] = {}
    imported = adoptions = 0
    for path in fileformat.library_files():
        done = install(actor, city, path)
        standards[done.standard.code] = done.standard
        imported += done.imported
        adoptions += done.adopted
    if counties:
        county = counties[0]
        for code, overrides in COUNTY_TIGHTENING.items():
            std = standards.get(code)
            if std is None or std.adoptions.filter(org=county, is_active=True).exists():
                continue
            services.adopt(
                actor=actor,
                org_id=county.pk,
                standard_id=std.pk,
                overrides=overrides,
                note="本县从严：留样 150 g、急修 20 分钟到场",
            )
            adoptions += 1
    return {"standards": imported, "adoptions": adoptions}
