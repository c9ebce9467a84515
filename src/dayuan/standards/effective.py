"""The effective rule set of an organisation: what the engine judges by.

``effective_rules(org, kind=..., target=..., at=...)`` is the one call other apps make
(through ``engine``). It resolves, for each standard adopted at the organisation or an
ancestor, the nearest adoption, the version in force for that org at that instant
(pinned, or the latest published one, pilots included), and applies the overrides of
every adoption on the path from the top down. Cached per (org, kind, target, epoch):
the versions in force change only at a publication or release instant, so every
``at`` between two such instants shares one entry (keyed by the minute, it missed at
every new minute: most of the time of a start of inspection). The cache is invalidated
on publish and on adoption changes.

Caching across processes: each process keeps its own dict, tagged with a generation
number kept in Django's cache (Redis in production). ``invalidate()`` bumps the
generation, so every process drops its dict at its next look (at most
``GENERATION_CHECK_SECONDS`` later; the invalidating process at once).
"""

from __future__ import annotations

import bisect
import copy
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .rules import Params, RuleParamsError, parse_params

GENERATION_KEY = "dayuan:standards:effective:generation"
GENERATION_CHECK_SECONDS = 1.0  # how stale another process's invalidation may be seen
MAX_ENTRIES = 5000

EPSILON = 1e-9


@dataclass(frozen=True)
class EffectiveRule:
    rule_id: int
    key: str
    kind: str
    target: str
    params: Params  # parsed, with overrides applied
    raw_params: dict[str, Any]  # the version's params as stored (before overrides)
    clause_id: int
    clause_number: str
    clause_text: str
    severity: str
    binding: bool
    standard_id: int
    standard_code: str
    standard_title: str
    version_id: int
    version_number: int
    adopted_by_org_id: int | None = None
    overridden: dict[str, Any] = field(default_factory=dict)  # path -> value applied
    source_document: str = ""
    source_edition: str = ""
    source_clause: str = ""
    verified: bool = True

    def cite(self) -> dict[str, Any]:
        """What a refusal cites: standard, version, clause number and text."""
        return {
            "standard": self.standard_code,
            "version": self.version_number,
            "clause": self.clause_number,
            "text": self.clause_text,
            "severity": self.severity,
        }


# --- overrides ---------------------------------------------------------------------


class OverridePathError(ValueError):
    """The path does not lead to a value in these parameters."""


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        if part not in node:
            raise OverridePathError(part)
        return node[part]
    if isinstance(node, list):
        if part.isdigit():
            index = int(part)
            if index >= len(node):
                raise OverridePathError(part)
            return node[index]
        # Lists of named items (timers by name, checklist items by key).
        for item in node:
            if isinstance(item, dict) and part in (item.get("name"), item.get("key")):
                return item
    raise OverridePathError(part)


def apply_override(params: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``params`` with the tunable at ``path`` set to ``value``.

    ``…frequency.period_days`` is not stored: its value is a Frequency dict
    (``{"every": 2, "unit": "month"}``) that replaces the ``frequency`` object.
    """
    data = copy.deepcopy(params)
    parts = path.split(".")
    if len(parts) >= 2 and parts[-2:] == ["frequency", "period_days"]:
        parts = parts[:-1]
    node: Any = data
    for part in parts[:-1]:
        node = _child(node, part)
    last = parts[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    else:
        raise OverridePathError(last)
    return data


def number(value: Any) -> float:
    """A tunable's value as a number for comparisons (booleans count 0/1)."""
    return float(value)


def is_looser(inherited: Any, requested: Any, stricter: str) -> bool:
    """True if ``requested`` is less strict than ``inherited`` in direction ``stricter``."""
    a, b = number(inherited), number(requested)
    tolerance = EPSILON * max(1.0, abs(a))
    if stricter == "lower":
        return b > a + tolerance
    return b < a - tolerance


@dataclass
class Layered:
    """A rule's parameters after the overrides of a chain of adoptions."""

    data: dict[str, Any]
    parsed: Params
    overridden: dict[str, Any]
    # path -> id of the adoption whose override set the current value
    set_by: dict[str, int]


def layer(
    kind: str, raw: dict[str, Any], binding: bool, layers: list[tuple[int, dict[str, Any]]]
) -> Layered:
    """Apply ``(adoption_id, {path: value})`` layers from the top down.

    An override that no longer fits (unknown path, invalid value, or loosening a
    binding clause because the upper level or the version tightened since) is skipped,
    so the effective value never breaks the binding rule whatever changed later.
    """
    data = raw
    parsed = parse_params(kind, raw)
    overridden: dict[str, Any] = {}
    set_by: dict[str, int] = {}
    for adoption_id, changes in layers:
        for path, value in changes.items():
            tunables = parsed.tunables()  # type: ignore[union-attr]
            if path not in tunables:
                continue
            try:
                candidate = apply_override(data, path, value)
                cand_parsed = parse_params(kind, candidate)
            except (OverridePathError, RuleParamsError, TypeError, ValueError):
                continue
            new = cand_parsed.tunables().get(path)  # type: ignore[union-attr]
            if new is None:
                continue
            old_value, stricter = tunables[path]
            try:
                looser = is_looser(old_value, new[0], stricter)
            except (TypeError, ValueError):
                continue
            if binding and looser:
                continue
            data, parsed = candidate, cand_parsed
            overridden[path] = value
            set_by[path] = adoption_id
    return Layered(data, parsed, overridden, set_by)


# --- resolution --------------------------------------------------------------------


def ancestor_paths(path: str) -> list[str]:
    """``0001.0002.0003.`` -> ``["0001.", "0001.0002.", "0001.0002.0003."]``."""
    parts = [p for p in path.split(".") if p]
    return [".".join(parts[: i + 1]) + "." for i in range(len(parts))]


def versions_in_force(
    standard_ids: list[int], prefixes: list[str], at: datetime | None
) -> dict[int, dict[int, dict[str, Any]]]:
    """``{standard_id: {version_id: row}}`` of every non-draft version, each row with
    ``in_force`` (for an org whose ancestor-or-self paths are ``prefixes``, at ``at``).
    One query."""
    from .choices import VersionStatus
    from .models import StandardVersion

    through = StandardVersion.pilot_orgs.through
    piloted = through.objects.filter(
        standardversion_id=OuterRef("pk"), organization__path__in=prefixes
    )
    rows = (
        StandardVersion.objects.filter(standard_id__in=standard_ids)
        .exclude(status=VersionStatus.DRAFT)
        .annotate(piloted=Exists(piloted))
        .values(
            "id",
            "standard_id",
            "number",
            "published_at",
            "released_at",
            "general_release",
            "piloted",
        )
    )
    out: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        published, released = row["published_at"], row["released_at"]
        if at is None:
            general = row["general_release"]
            pilot = row["piloted"]
        else:
            general = row["general_release"] and (
                (released or published) is not None and (released or published) <= at
            )
            pilot = row["piloted"] and published is not None and published <= at
        row["in_force"] = bool(general or pilot)
        out[row["standard_id"]][row["id"]] = row
    return out


def pick_version(rows: dict[int, dict[str, Any]], pinned_id: int | None) -> dict[str, Any] | None:
    """The pinned version, else the highest-numbered version in force."""
    if pinned_id is not None:
        return rows.get(pinned_id)
    in_force = [r for r in rows.values() if r["in_force"]]
    return max(in_force, key=lambda r: r["number"]) if in_force else None


def _compute(
    org_path: str, kind: str | None, target: str | None, at: datetime | None
) -> list[EffectiveRule]:
    from .choices import StandardStatus
    from .models import Adoption, Rule

    prefixes = ancestor_paths(org_path)
    adoptions = list(
        Adoption.objects.filter(is_active=True, org__path__in=prefixes)
        .exclude(standard__status=StandardStatus.RETIRED)
        .select_related("standard", "org")
    )
    if not adoptions:
        return []
    chains: dict[int, list[Adoption]] = defaultdict(list)
    for adoption in adoptions:
        chains[adoption.standard_id].append(adoption)
    for chain in chains.values():
        chain.sort(key=lambda a: len(a.org.path))
    versions = versions_in_force(list(chains), prefixes, at)
    chosen: dict[int, tuple[dict[str, Any], list[Adoption]]] = {}
    for standard_id, chain in chains.items():
        row = pick_version(versions.get(standard_id, {}), chain[-1].pinned_version_id)
        if row is not None:
            chosen[row["id"]] = (row, chain)
    if not chosen:
        return []
    rules = Rule.objects.filter(version_id__in=list(chosen)).select_related("clause")
    if kind:
        rules = rules.filter(kind=kind)
    if target:
        rules = rules.filter(target=target)
    out: list[tuple[tuple[Any, ...], EffectiveRule]] = []
    for rule in rules:
        row, chain = chosen[rule.version_id]
        nearest = chain[-1]
        standard = nearest.standard
        clause = rule.clause
        layers = [(a.pk, a.overrides.get(rule.key) or {}) for a in chain]
        try:
            result = layer(rule.kind, rule.params, clause.binding, layers)
        except RuleParamsError:
            continue  # a stored rule that no longer parses is never enforced half-way
        order = (standard.code, clause.position, clause.number, rule.key)
        out.append(
            (
                order,
                EffectiveRule(
                    rule_id=rule.pk,
                    key=rule.key,
                    kind=rule.kind,
                    target=rule.target,
                    params=result.parsed,
                    raw_params=rule.params,
                    clause_id=clause.pk,
                    clause_number=clause.number,
                    clause_text=clause.text,
                    severity=clause.severity,
                    binding=clause.binding,
                    standard_id=standard.pk,
                    standard_code=standard.code,
                    standard_title=standard.title,
                    version_id=row["id"],
                    version_number=row["number"],
                    adopted_by_org_id=nearest.org_id,
                    overridden=result.overridden,
                    source_document=rule.source_document,
                    source_edition=rule.source_edition,
                    source_clause=rule.source_clause,
                    verified=rule.verified,
                ),
            )
        )
    out.sort(key=lambda pair: pair[0])
    return [rule for _, rule in out]


# --- cache -------------------------------------------------------------------------

_entries: dict[tuple[Any, ...], tuple[int, list[EffectiveRule]]] = {}
# "instants": when versions come into force (see ``_epoch``), loaded once per generation
_state: dict[str, Any] = {"generation": None, "checked": 0.0, "instants": None}


def _fresh_generation() -> int:
    return time.time_ns()


def _generation() -> int:
    now = time.monotonic()
    if _state["generation"] is None or now - _state["checked"] >= GENERATION_CHECK_SECONDS:
        generation = cache.get(GENERATION_KEY)
        if generation is None:
            cache.add(GENERATION_KEY, _fresh_generation(), timeout=None)
            generation = cache.get(GENERATION_KEY)
        if generation != _state["generation"]:
            _entries.clear()
            _state["instants"] = None
        _state["generation"] = generation
        _state["checked"] = now
    return _state["generation"]


def _minute(at: datetime | None) -> datetime | None:
    """``at`` rounded up to the next whole minute, so a version published a few seconds
    before ``at`` is already in force (rounding down would hide it until the minute ends)."""
    if at is None:
        return None
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + timedelta(minutes=1)


def _epoch(at: datetime) -> int:
    """How many publication and release instants of non-draft versions are at or before
    ``at``. Whether a version is in force at ``at`` compares only those instants with it
    (``versions_in_force``), so two instants with the same epoch get the same rules."""
    if _state["instants"] is None:
        from .choices import VersionStatus
        from .models import StandardVersion

        rows = StandardVersion.objects.exclude(status=VersionStatus.DRAFT).values_list(
            "published_at", "released_at"
        )
        _state["instants"] = sorted({t for row in rows for t in row if t is not None})
    return bisect.bisect_right(_state["instants"], at)


def effective_rules(
    org: Any, *, kind: str | None = None, target: str | None = None, at: datetime | None = None
) -> list[EffectiveRule]:
    """The rules in force for ``org`` (an Organization or its id), optionally one kind or
    target, at ``at`` (rounded up to the minute; None = now). Three queries uncached
    (and one for the instants, once per generation, when ``at`` is given)."""
    if isinstance(org, int):
        from dayuan.orgs.models import Organization

        org = Organization.objects.only("id", "path").get(pk=org)
    at = _minute(at)
    generation = _generation()
    key = (org.pk, kind, target, None if at is None else _epoch(at))
    hit = _entries.get(key)
    if hit is not None and hit[0] == generation:
        return list(hit[1])
    rules = _compute(org.path, kind, target, at)
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[key] = (generation, rules)
    return list(rules)


def invalidate() -> None:
    """Drop every cached effective rule set (after publish, adopt, override, retire)."""
    _entries.clear()
    _state["instants"] = None
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # missing (first use, or evicted): start from a fresh number
        cache.set(GENERATION_KEY, _fresh_generation(), timeout=None)
    _state["generation"] = None
