"""The standards part of the demo: the seed library published at the city, adopted there,
and tightened by one county (so the demo shows local numbers stricter than the city's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import fileformat
from .importer import import_standard
from .models import Standard

# What the first county tightens: {standard code: {rule key: {tunable path: value}}}.
COUNTY_TIGHTENING: dict[str, dict[str, dict[str, Any]]] = {
    "JG-ST": {"c1_sample_quantity": {"vars.min_weight_g.value": 150}},
    "JG-WY-2015": {"p1_urgent_repair_arrive": {"timers.arrive.minutes": 20}},
}


def load_demo(actor: Any, city: Any, counties: Sequence[Any]) -> dict[str, int]:
    """Import and publish every library standard at ``city``, adopt them there, and let
    ``counties[0]`` adopt with tighter numbers. Standards that exist already are left
    as they are. ``actor`` must manage standards at the city (an administrator)."""
    from . import services

    standards: dict[str, Standard] = {}
    imported = 0
    for path in fileformat.library_files():
        text = path.read_text(encoding="utf-8")
        doc, _errors = fileformat.load(text, path.name)
        code = doc["code"] if doc else path.name
        existing = Standard.objects.filter(code=code).first()
        if existing is None:
            version = import_standard(
                actor=actor, text=text, filename=path.name, org_code=city.code, publish=True
            )
            existing = version.standard
            imported += 1
        standards[existing.code] = existing
    adoptions = 0
    for std in standards.values():
        if not std.adoptions.filter(org=city, is_active=True).exists():
            services.adopt(actor=actor, org_id=city.pk, standard_id=std.pk)
            adoptions += 1
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
