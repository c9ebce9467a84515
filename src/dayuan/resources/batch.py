"""Batch matching: a window's open demands against the pool, assigned at once.

``solve`` is the exact assignment, free of Django: needs (a priority level, the units
they take, a time range), supplies (a capacity; *timed* when the capacity holds at every
moment rather than in total) and candidate edges (need → supply with a quality in
[0, 1]). It finds the lexicographic optimum

1. the most needs matched at the highest level, then at the next level, … down to the
   lowest (an urgent demand outweighs any number of lower ones);
2. among those, the greatest total quality (the matching score),

with each need matched at most once and, for each supply, the units of its matched needs
within its capacity: over all its needs when it is not timed (stock), and for each
maximal clique of its needs' overlapping half-open ranges when it is (the load of an
interval set peaks on such a clique). Only capacity rows that can bind are kept
(Σ units > capacity), and the needs are split into connected components over those
rows. A component whose needs can all have their own best candidate at once is settled
without a solver (that is its optimum); the others go to ``scipy.optimize.milp`` (HiGHS,
branch and bound, ``mip_rel_gap`` 0), independent components together (their
objectives add up) a few thousand variables at a time:

0. the most needs matched in all: when that is every need, every level is full, and
   each need is required matched from then on;
1. otherwise the matched counts: one weighted objective when the weights stay small
   (level weight = 1 + Σ over lower levels of needs × weight, so one more match at a
   level outweighs all below it), else one phase per level, most urgent first; each
   optimum is held (a full level as "each of its needs matched") for what follows;
2. the greatest total quality with those counts held, searched for at most
   ``QUALITY_TIME_LIMIT`` seconds per MILP: the counts are always exact; the quality is
   proven optimal unless the limit cuts the search short, when the best answer found
   is kept and the proven gap reported (``Solution.stats["quality_gap"]``, the run's
   ``objective``) — a large, tightly contested component (hundreds of needs sharing
   the same few rooms at the same hours) can take minutes to prove to the last 0.01 %.

The answer is checked against every capacity row after rounding.

``run_batch`` takes the OPEN demands of an org's subtree starting in a window, the same
hard filter as ``matching.match`` (vectorised over the pool: ``matching.Pool``, scope in
memory from the posters' grants, equal to ``queries.usable_condition``), the best
``candidates_per_demand`` resources per demand by score, and writes a ``MatchRun`` with a
``MatchProposal`` per demand: the resource with its score and reasons, or why not
(``no_candidate:<most common refusal code>``, ``outcompeted``). ``apply_run`` turns the
matched proposals into requests (``services.request_allocation``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.audit.log import audited, record
from dayuan.core.errors import Conflict, DomainError, InvalidInput, NotFound
from dayuan.core.models import PATH_STEP
from dayuan.core.policy import require
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization

from . import queries
from .choices import (
    EXCLUSIVE_KINDS,
    HEADCOUNT_KINDS,
    PRIORITY_LEVEL,
    DemandStatus,
    Visibility,
)
from .matching import Context, KindPool, Need, Pool, location_kinds, stocked_and_active
from .models import Allocation, Demand, MatchProposal, MatchRun, Resource

# --- the solver ------------------------------------------------------------------------


@dataclass(frozen=True)
class SolverNeed:
    key: int
    level: int
    units: int
    start: float
    end: float


@dataclass(frozen=True)
class SolverSupply:
    key: int
    capacity: int
    timed: bool  # timed → the capacity holds per overlapping clique, else in total


@dataclass(frozen=True)
class SolverEdge:
    need: int
    supply: int
    quality: float  # in [0, 1]


@dataclass
class Solution:
    assignment: dict[int, int]  # need key -> supply key
    matched_by_level: list[int]  # index = level
    quality: float
    seconds: float
    components: int = 0  # contested components handed to the MILP solver
    stats: dict[str, Any] = field(default_factory=dict)


# Above this Σ count × weight the matched counts are optimised one level at a time
# (the weights would get too large for the solver's tolerances).
WEIGHT_LIMIT = 1_000_000
# contested components solved together, up to about this many variables per MILP
CHUNK_VARIABLES = 4000
# The quality phase of one MILP may search this long (seconds); when it is cut short the
# best answer found is kept (the counts are exact either way) and its proven gap
# reported. Small and ordinary problems are solved to optimality well within it.
QUALITY_TIME_LIMIT = 10.0
_OPTIONS = {"mip_rel_gap": 0.0, "disp": False}


def maximal_cliques(intervals: Sequence[tuple[float, float]]) -> list[list[int]]:
    """The maximal sets of pairwise-overlapping half-open intervals (by position)."""
    events = []
    for i, (s, e) in enumerate(intervals):
        if s < e:
            events.append((s, 1, i))
            events.append((e, 0, i))  # at the same instant ends come before starts
    events.sort()
    current: set[int] = set()
    out: list[list[int]] = []
    grew = False
    for _t, kind, i in events:
        if kind:
            current.add(i)
            grew = True
        else:
            if grew:
                out.append(sorted(current))
                grew = False
            current.discard(i)
    return out


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def solve(
    needs: Sequence[SolverNeed], supplies: Sequence[SolverSupply], edges: Sequence[SolverEdge]
) -> Solution:
    """The exact lexicographic optimum (see the module's docstring)."""
    started = time.perf_counter()
    need_at = {n.key: i for i, n in enumerate(needs)}
    supply_at = {s.key: j for j, s in enumerate(supplies)}
    if len(need_at) != len(needs) or len(supply_at) != len(supplies):
        raise ValueError("duplicate need or supply key")
    if any(n.level < 0 for n in needs):
        raise ValueError("levels start at 0")
    # one edge per (need, supply), the best quality; never one that cannot fit
    best: dict[tuple[int, int], float] = {}
    for e in edges:
        i, j = need_at[e.need], supply_at[e.supply]
        if needs[i].units > supplies[j].capacity or needs[i].units <= 0:
            continue
        q = min(1.0, max(0.0, float(e.quality)))
        if best.get((i, j), -1.0) < q:
            best[(i, j)] = q
    pairs = sorted(best)
    by_supply: dict[int, list[int]] = {}
    by_need: dict[int, list[int]] = {}
    for k, (i, j) in enumerate(pairs):
        by_supply.setdefault(j, []).append(k)
        by_need.setdefault(i, []).append(k)

    # capacity rows that can bind: (supply, edge positions)
    rows: list[tuple[int, list[int]]] = []
    for j, ks in by_supply.items():
        cap = supplies[j].capacity
        if sum(needs[pairs[k][0]].units for k in ks) <= cap:
            continue
        if supplies[j].timed:
            spans = [(needs[pairs[k][0]].start, needs[pairs[k][0]].end) for k in ks]
            groups = [[ks[p] for p in clique] for clique in maximal_cliques(spans)]
        else:
            groups = [ks]
        for g in groups:
            if sum(needs[pairs[k][0]].units for k in g) > cap:
                rows.append((j, g))

    uf = _UnionFind(len(needs))
    for _j, g in rows:
        first = pairs[g[0]][0]
        for k in g[1:]:
            uf.union(first, pairs[k][0])
    rows_of: dict[int, list[int]] = {}
    for r, (_j, g) in enumerate(rows):
        rows_of.setdefault(uf.find(pairs[g[0]][0]), []).append(r)
    members: dict[int, list[int]] = {}
    for i in by_need:
        members.setdefault(uf.find(i), []).append(i)

    assignment: dict[int, int] = {}
    contested: list[tuple[list[int], list[int]]] = []
    for root, group in members.items():
        comp_rows = rows_of.get(root, [])
        if not comp_rows:  # a lone need: its best candidate
            (i,) = group
            assignment[i] = pairs[_best_edge(i, pairs, best, by_need, supplies)][1]
        elif not _greedy(group, comp_rows, rows, pairs, best, by_need, needs, supplies, assignment):
            contested.append((group, comp_rows))
    # independent components go to the solver together (their objectives add up, so the
    # joint optimum is each one's optimum), a few thousand variables at a time; one whose
    # count weights would be too large goes alone, level by level
    problem = _Problem(rows, pairs, best, needs, supplies, by_need)
    chunk: list[tuple[list[int], list[int]]] = []
    size = 0
    for comp in contested:
        if problem.total_weight(comp[0]) > WEIGHT_LIMIT:
            assignment.update(problem.solve([comp], stepwise=True))
            continue
        chunk.append(comp)
        size += sum(len(by_need[i]) for i in comp[0])
        if size >= CHUNK_VARIABLES:
            assignment.update(problem.solve(chunk, stepwise=False))
            chunk, size = [], 0
    if chunk:
        assignment.update(problem.solve(chunk, stepwise=False))

    levels = max((n.level for n in needs), default=-1) + 1
    matched = [0] * levels
    quality = 0.0
    for i, j in assignment.items():
        matched[needs[i].level] += 1
        quality += best[(i, j)]
    return Solution(
        assignment={needs[i].key: supplies[j].key for i, j in sorted(assignment.items())},
        matched_by_level=matched,
        quality=quality,
        seconds=time.perf_counter() - started,
        components=len(contested),
        stats={"edges": len(pairs), "rows": len(rows), "quality_gap": problem.quality_gap},
    )


def _best_edge(
    i: int,
    pairs: list[tuple[int, int]],
    best: dict[tuple[int, int], float],
    by_need: dict[int, list[int]],
    supplies: Sequence[SolverSupply],
) -> int:
    """A need's best candidate (the lowest supply key among equals)."""
    return max(by_need[i], key=lambda k: (best[pairs[k]], -supplies[pairs[k][1]].key))


def _greedy(
    group: list[int],
    comp_rows: list[int],
    rows: list[tuple[int, list[int]]],
    pairs: list[tuple[int, int]],
    best: dict[tuple[int, int], float],
    by_need: dict[int, list[int]],
    needs: Sequence[SolverNeed],
    supplies: Sequence[SolverSupply],
    assignment: dict[int, int],
) -> bool:
    """When every need of a component can have its own best candidate at once, that is
    the optimum (all matched, each at its best quality): take it, no solver needed."""
    pick = {i: pairs[_best_edge(i, pairs, best, by_need, supplies)][1] for i in group}
    for r in comp_rows:
        j, g = rows[r]
        if (
            sum(needs[pairs[k][0]].units for k in g if pick[pairs[k][0]] == j)
            > supplies[j].capacity
        ):
            return False
    assignment.update(pick)
    return True


class _Problem:
    """The MILP of some contested components (see ``solve``)."""

    def __init__(
        self,
        rows: list[tuple[int, list[int]]],
        pairs: list[tuple[int, int]],
        best: dict[tuple[int, int], float],
        needs: Sequence[SolverNeed],
        supplies: Sequence[SolverSupply],
        by_need: dict[int, list[int]],
    ) -> None:
        self.rows, self.pairs, self.best = rows, pairs, best
        self.needs, self.supplies, self.by_need = needs, supplies, by_need
        self.quality_gap = 0.0  # the largest proven gap of a quality phase cut short

    def _same_counts(
        self, x: np.ndarray, ref: np.ndarray, var: list[int], level: np.ndarray
    ) -> bool:
        """``x`` matches each need at most once and as many per level as ``ref``."""
        per_need = Counter(self.pairs[var[p]][0] for p in np.flatnonzero(x > 0.5).tolist())
        if per_need and max(per_need.values()) > 1:
            return False
        return all(x[level == lv].sum() == ref[level == lv].sum() for lv in set(level.tolist()))

    def weights(self, group: list[int]) -> dict[int, int]:
        """Level → weight: 1 + Σ over lower levels of (needs there × their weight), so
        one more match at a level outweighs every match below it."""
        counts = Counter(self.needs[i].level for i in group)
        out: dict[int, int] = {}
        total = 0
        for lv in sorted(counts):
            out[lv] = 1 + total
            total += counts[lv] * out[lv]
        return out

    def total_weight(self, group: list[int]) -> int:
        w = self.weights(group)
        return sum(w[self.needs[i].level] for i in group)

    def solve(self, comps: list[tuple[list[int], list[int]]], *, stepwise: bool) -> dict[int, int]:
        from scipy.optimize import LinearConstraint, milp
        from scipy.sparse import coo_matrix

        needs, pairs = self.needs, self.pairs
        var: list[int] = []
        spans: list[tuple[int, int]] = []  # each component's variables: [from, to)
        for group, _rows in comps:
            first = len(var)
            var.extend(k for i in group for k in self.by_need[i])
            spans.append((first, len(var)))
        col = {k: c for c, k in enumerate(var)}
        m = len(var)
        r_idx: list[int] = []
        c_idx: list[int] = []
        vals: list[float] = []
        lower: list[float] = []
        upper: list[float] = []

        def add_row(cols: list[int], coefs: list[float], lo: float, hi: float) -> int:
            r_idx.extend([len(upper)] * len(cols))
            c_idx.extend(cols)
            vals.extend(coefs)
            lower.append(lo)
            upper.append(hi)
            return len(upper) - 1

        need_row: dict[int, int] = {}
        for group, comp_rows in comps:
            for i in group:
                ks = self.by_need[i]
                need_row[i] = add_row([col[k] for k in ks], [1.0] * len(ks), -np.inf, 1.0)
            for r in comp_rows:
                j, g = self.rows[r]
                units = [float(needs[pairs[k][0]].units) for k in g]
                add_row([col[k] for k in g], units, -np.inf, float(self.supplies[j].capacity))
        level = np.array([needs[pairs[k][0]].level for k in var])

        def run(c: np.ndarray, time_limit: float | None = None) -> tuple[np.ndarray | None, float]:
            """The optimum of ``c`` (and 0), or under a time limit the best found so far
            (None if none) and its proven relative gap."""
            a = coo_matrix((vals, (r_idx, c_idx)), shape=(len(upper), m)).tocsr()
            options = _OPTIONS if time_limit is None else {**_OPTIONS, "time_limit": time_limit}
            res = milp(
                -c,
                constraints=LinearConstraint(a, np.array(lower), np.array(upper)),
                integrality=np.ones(m),
                bounds=(0, 1),
                options=options,
            )
            if res.status == 0 and res.x is not None:
                return np.round(res.x), 0.0
            if time_limit is not None and res.status == 1:  # the time limit
                gap = getattr(res, "mip_gap", None)
                found = np.round(res.x) if res.x is not None else None
                return found, float(gap) if found is not None and gap is not None else 1.0
            raise RuntimeError(f"MILP failed: {res.message}")  # pragma: no cover

        def exact(c: np.ndarray) -> np.ndarray:
            x, _gap = run(c)
            assert x is not None
            return x

        def settle(group: list[int], x: np.ndarray, lv: int | None = None) -> bool:
            """Require every need (of level ``lv``) of a component matched when an
            optimum just matched them all — every optimum of the counts does then, and
            equalities are easier on the solver than a held sum. True if so."""
            mine = [i for i in group if lv is None or needs[i].level == lv]
            got = sum(x[col[k]] for i in mine for k in self.by_need[i])
            if got < len(mine):
                return False
            for i in mine:
                lower[need_row[i]] = 1.0
            return True

        # 1. can every need be matched? then every level's count is as high as it goes
        x = exact(np.ones(m))
        pending = [
            (comp, span) for comp, span in zip(comps, spans, strict=True) if not settle(comp[0], x)
        ]
        # 2. the counts level by level, most urgent first, for the components that cannot
        if pending:
            if stepwise:
                phases = [
                    (level == lv).astype(float) for lv in sorted(set(level.tolist()), reverse=True)
                ]
            else:
                c = np.zeros(m)
                for (group, _rows), (a, b) in pending:
                    w = self.weights(group)
                    c[a:b] = [w[lv] for lv in level[a:b].tolist()]
                phases = [c]
            for c in phases:
                x = exact(c)
                for (group, _rows), (a, b) in pending:
                    nz = a + np.flatnonzero(c[a:b])
                    if not len(nz):
                        continue
                    levels_here = sorted({needs[pairs[var[p]][0]].level for p in nz.tolist()})
                    if all(settle(group, x, lv) for lv in levels_here):
                        continue
                    # hold this optimum (an integer) while optimising what follows
                    add_row(nz.tolist(), c[nz].tolist(), float(c[nz] @ x[nz]) - 0.5, np.inf)
        # 3. the quality with the counts held: the last x keeps them, so it stands in
        # when the time limit ends the search before a better answer is found
        found, gap = run(
            np.array([self.best[pairs[k]] for k in var], float), time_limit=QUALITY_TIME_LIMIT
        )
        if found is not None and self._same_counts(found, x, var, level):
            x = found
        else:
            gap = 1.0
        self.quality_gap = max(self.quality_gap, gap)
        out = {}
        for pos in np.flatnonzero(x > 0.5).tolist():
            i, j = pairs[var[pos]]
            out[i] = j
        for _group, comp_rows in comps:  # a guard against the solver's tolerances
            for r in comp_rows:
                j, g = self.rows[r]
                load = sum(needs[pairs[k][0]].units for k in g if out.get(pairs[k][0]) == j)
                if load > self.supplies[j].capacity:  # pragma: no cover - a solver bug
                    raise RuntimeError("MILP answer breaks a capacity row")
        return out


# --- scope in memory -------------------------------------------------------------------


class _Scopes:
    """Which loaded resources each poster may use: ``queries.usable_condition`` computed
    from the posters' grants in memory (three queries for all posters), so the batch
    needs no query per demand. ``tests/test_batch.py`` holds it equal to the query."""

    def __init__(self, user_ids: Sequence[int]) -> None:
        from dayuan.accounts.models import Grant, User

        orgs = list(Organization.objects.values_list("pk", "parent_id", "kind", "path"))
        parent = {pk: p for pk, p, _k, _path in orgs}
        kind = {pk: k for pk, _p, k, _path in orgs}
        centres = OrgKind.centres()

        def centre(pk: int | None) -> int | None:
            while pk is not None and kind[pk] not in centres:
                pk = parent[pk]
            return pk

        ids = sorted(set(user_ids))
        active: set[int] = set()
        grants: dict[int, list[tuple[int, str]]] = {}
        for i in range(0, len(ids), 2000):
            chunk = ids[i : i + 2000]
            active.update(
                User.objects.filter(pk__in=chunk, is_active=True).values_list("pk", flat=True)
            )
            for uid, oid, path in Grant.objects.filter(
                user_id__in=chunk, org__is_active=True
            ).values_list("user_id", "org_id", "org__path"):
                grants.setdefault(uid, []).append((oid, path))
        by_path = {path: pk for pk, _p, _k, path in orgs}
        step = PATH_STEP + 1
        external = OrgKind.external()
        self.key: dict[int, tuple[frozenset[int], frozenset[int], frozenset[int]] | None] = {}
        reaches: dict[tuple[str, ...], frozenset[int]] = {}
        for uid in ids:
            if uid not in active:
                self.key[uid] = None
                continue
            paths = sorted({p for _o, p in grants.get(uid, ())})
            minimal: list[str] = []
            for p in paths:
                if not any(p.startswith(q) for q in minimal):
                    minimal.append(p)
            reach = reaches.get(tuple(minimal))
            if reach is None:
                reach = reaches[tuple(minimal)] = frozenset(
                    pk for pk, _p, _k, path in orgs if any(path.startswith(q) for q in minimal)
                )
            own = frozenset(c for o, _p in grants.get(uid, ()) if (c := centre(o)) is not None)
            above = frozenset(
                by_path[p[:i]]
                for o, p in grants.get(uid, ())
                if kind[o] not in external
                for i in range(step, len(p), step)
                if p[:i] in by_path
            )
            self.key[uid] = (reach, own, above)
        self._masks: dict[tuple[str, Any], np.ndarray] = {}

    def mask(self, user_id: int, kp: KindPool) -> np.ndarray:
        key = self.key.get(user_id)
        cached = self._masks.get((kp.kind, key))
        if cached is not None:
            return cached
        if key is None:
            out = np.zeros(kp.n, bool)
        else:
            reach, own, above = key
            vis = np.array(kp.visibility, dtype=object)
            shared = (vis == Visibility.CITY) | (vis == Visibility.PUBLIC)
            mine = np.isin(kp.org_id, np.fromiter(reach, np.int64, len(reach)))
            at_centre = (vis == Visibility.CENTRE) & np.isin(
                kp.centre_id, np.fromiter(own, np.int64, len(own))
            )
            kept = (vis == Visibility.OWNER) & np.isin(
                kp.org_id, np.fromiter(above, np.int64, len(above))
            )
            out = (shared | mine | at_centre | kept).astype(bool)
        self._masks[(kp.kind, key)] = out
        return out


# --- the run ---------------------------------------------------------------------------

_DEMAND_FIELDS = (
    "pk",
    "kind",
    "amount",
    "start_at",
    "end_at",
    "attributes",
    "budget",
    "location_id",
    "location__path",
    "org_id",
    "org__path",
    "preferred_owner_id",
    "priority",
    "posted_by_id",
)


@dataclass
class _Proposal:
    demand_id: int
    resource_id: int | None = None
    score: float = 0.0
    reasons: list[dict] = field(default_factory=list)
    unmatched_reason: str = ""


@dataclass
class _Plan:
    proposals: list[_Proposal]
    demands: int
    matched: int
    candidates: int
    objective: dict[str, Any]
    seconds: float


def _levels() -> list[tuple[int, str]]:
    return sorted(((lv, str(p)) for p, lv in PRIORITY_LEVEL.items()), reverse=True)


def plan(
    *,
    org: Organization,
    window_start: datetime,
    window_end: datetime,
    candidates_per_demand: int = 10,
    now: datetime | None = None,
) -> _Plan:
    """The batch's answer, read-only: the demands, their candidates and the optimum."""
    started = time.perf_counter()
    now = now or timezone.now()
    rows = list(
        Demand.objects.filter(
            status=DemandStatus.OPEN,
            org__path__startswith=org.path,
            start_at__gte=window_start,
            start_at__lt=window_end,
        )
        .order_by("start_at", "pk")
        .values_list(*_DEMAND_FIELDS)
    )
    demands = [dict(zip(_DEMAND_FIELDS, r, strict=True)) for r in rows]
    proposals = {d["pk"]: _Proposal(d["pk"]) for d in demands}
    if not demands:
        return _Plan([], 0, 0, 0, _objective([], {}, 0.0, 0, 0.0), time.perf_counter() - started)
    kinds = {d["kind"] for d in demands}
    span_start = min(d["start_at"] for d in demands)
    span_end = max(d["end_at"] for d in demands)
    pool = Pool.load(
        Resource.objects.filter(stocked_and_active()),
        kinds=kinds,
        start=span_start,
        end=span_end,
        now=now,
    )
    scopes = _Scopes([d["posted_by_id"] for d in demands])
    kinds_of_places = location_kinds(d["location__path"] for d in demands)

    needs: list[SolverNeed] = []
    edges: list[SolverEdge] = []
    chosen_from: dict[tuple[int, int], tuple[KindPool, int]] = {}  # (demand, resource) -> row
    context: dict[int, tuple[Need, Context]] = {}
    supply_units: dict[int, tuple[KindPool, int]] = {}
    for d in demands:
        need = Need(
            kind=d["kind"],
            amount=d["amount"],
            start_at=d["start_at"],
            end_at=d["end_at"],
            attributes=tuple(sorted(set(d["attributes"] or ()))),
            budget=d["budget"],
            location_id=d["location_id"],
            org_id=d["org_id"],
            preferred_owner_id=d["preferred_owner_id"],
            priority=d["priority"],
        )
        kp = pool.kinds[need.kind]
        usable = scopes.mask(d["posted_by_id"], kp)
        ev = kp.evaluate(need, usable)
        proposal = proposals[d["pk"]]
        if not len(ev.eligible):
            if not kp.n:
                code = "kind_mismatch"
            elif not ev.considered:
                code = "not_usable"
            else:
                code = Counter(ev.excluded).most_common(1)[0][0]
            proposal.unmatched_reason = f"no_candidate:{code}"
            continue
        ctx = Context(d["location__path"], d["org__path"], kinds_of_places)
        context[d["pk"]] = (need, ctx)
        scores, _parts, _facts = kp.score(need, ctx, ev.eligible)
        order = np.lexsort((kp.ids[ev.eligible], -scores))[:candidates_per_demand]
        units = 1 if need.kind in EXCLUSIVE_KINDS else need.amount
        needs.append(
            SolverNeed(
                d["pk"],
                PRIORITY_LEVEL.get(need.priority, 1),
                units,
                need.start_at.timestamp(),
                need.end_at.timestamp(),
            )
        )
        for pos in order.tolist():
            i = int(ev.eligible[pos])
            rid = int(kp.ids[i])
            edges.append(SolverEdge(d["pk"], rid, float(scores[pos])))
            chosen_from[(d["pk"], rid)] = (kp, i)
            supply_units[rid] = (kp, i)

    supplies, edges, resource_of = _supplies(supply_units, needs, edges)
    solution = solve(needs, supplies, edges)
    for demand_id, key in solution.assignment.items():
        rid = resource_of[key]
        kp, i = chosen_from[(demand_id, rid)]
        need, ctx = context[demand_id]
        score, _parts, reasons, _cost = kp.explain(need, ctx, i)
        p = proposals[demand_id]
        p.resource_id, p.score, p.reasons = rid, score, [r.as_dict() for r in reasons]
    for n in needs:
        if n.key not in solution.assignment:
            proposals[n.key].unmatched_reason = "outcompeted"
    by_level = {lv: 0 for lv in PRIORITY_LEVEL.values()}
    for d in demands:
        by_level[PRIORITY_LEVEL.get(d["priority"], 1)] += 1
    objective = _objective(
        solution.matched_by_level, by_level, solution.quality, solution.components, solution.seconds
    )
    objective["quality_gap"] = round(solution.stats.get("quality_gap", 0.0), 6)
    objective["unmatched"] = dict(
        Counter(p.unmatched_reason for p in proposals.values() if p.unmatched_reason)
    )
    return _Plan(
        list(proposals.values()),
        len(demands),
        len(solution.assignment),
        len(edges),
        objective,
        time.perf_counter() - started,
    )


def _supplies(
    supply_units: dict[int, tuple[KindPool, int]],
    needs: list[SolverNeed],
    edges: list[SolverEdge],
) -> tuple[list[SolverSupply], list[SolverEdge], dict[int, int]]:
    """The solver's supplies, the edges pointed at them, and supply key → resource id.

    Exclusive kinds: capacity 1 over time (the holdings already excluded the needs they
    overlap). Stock: what is available, in total. Headcount: the needs naming a team are
    split into busy periods (maximal runs of overlapping ranges; needs of different
    periods never overlap), one supply each, with the team less the busiest moment of
    its holdings over that period (conservative within a period)."""
    need_of = {n.key: n for n in needs}
    resource_of: dict[int, int] = {}
    out: list[SolverSupply] = []
    by_resource: dict[int, list[SolverEdge]] = {}
    for e in edges:
        by_resource.setdefault(e.supply, []).append(e)
    key_of: dict[tuple[int, int], int] = {}  # (need, resource) -> supply key
    synthetic = 0
    for rid, (kp, i) in supply_units.items():
        if kp.kind not in HEADCOUNT_KINDS:
            timed = kp.kind in EXCLUSIVE_KINDS
            out.append(SolverSupply(rid, 1 if timed else int(kp.available[i]), timed))
            resource_of[rid] = rid
            continue
        mine = sorted(by_resource[rid], key=lambda e: (need_of[e.need].start, e.need))
        period: list[SolverEdge] = []
        period_end = float("-inf")
        for e in [*mine, None]:
            n = need_of[e.need] if e is not None else None
            if period and (n is None or n.start >= period_end):
                synthetic -= 1  # negative keys: never a resource id
                start = min(need_of[p.need].start for p in period)
                free = int(kp.capacity[i]) - kp.busiest(i, start, period_end)
                out.append(SolverSupply(synthetic, max(0, free), True))
                resource_of[synthetic] = rid
                for p in period:
                    key_of[(p.need, rid)] = synthetic
                period, period_end = [], float("-inf")
            if n is not None:
                period.append(e)
                period_end = max(period_end, n.end)
    pointed = [
        SolverEdge(e.need, key_of.get((e.need, e.supply), e.supply), e.quality) for e in edges
    ]
    return out, pointed, resource_of


def _objective(
    matched_by_level: list[int],
    demands_by_level: dict[int, int],
    quality: float,
    components: int,
    solver_seconds: float,
) -> dict[str, Any]:
    return {
        "matched_by_priority": {
            name: (matched_by_level[lv] if lv < len(matched_by_level) else 0)
            for lv, name in _levels()
        },
        "demands_by_priority": {name: demands_by_level.get(lv, 0) for lv, name in _levels()},
        "quality": round(quality, 4),
        "components": components,
        "solver_seconds": round(solver_seconds, 3),
    }


@audited("resources.match.run")
def _authorise(
    *, actor: Any, org_id: int, window_start: datetime, window_end: datetime, candidates: int
) -> Organization:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        raise NotFound()
    require(actor, "resources.match", org)
    if window_start is None or window_end is None or window_start >= window_end:
        raise InvalidInput(
            _("时间窗口无效：开始须早于结束。"), code="window_invalid", field="window_end"
        )
    if not 1 <= candidates <= 50:
        raise InvalidInput(_("每个需求的候选数须在 1 到 50 之间。"), field="candidates_per_demand")
    return org


@audited("resources.match.run")
def _store(
    *, actor: Any, org_id: int, window_start: datetime, window_end: datetime, result: _Plan
) -> MatchRun:
    org = Organization.objects.get(pk=org_id)
    run = MatchRun.objects.create(
        org=org,
        run_by=actor,
        window_start=window_start,
        window_end=window_end,
        demands=result.demands,
        matched=result.matched,
        candidates=result.candidates,
        objective=result.objective,
        seconds=round(result.seconds, 3),
    )
    MatchProposal.objects.bulk_create(
        [
            MatchProposal(
                run=run,
                demand_id=p.demand_id,
                resource_id=p.resource_id,
                score=p.score,
                reasons=p.reasons,
                unmatched_reason=p.unmatched_reason,
            )
            for p in result.proposals
        ],
        batch_size=1000,
    )
    record(
        "resources.match.run",
        actor=actor,
        obj=run,
        changes={
            "window": [window_start.isoformat(), window_end.isoformat()],
            "demands": result.demands,
            "matched": result.matched,
            "candidates": result.candidates,
            "objective": result.objective,
        },
    )
    return run


def run_batch(
    *,
    actor: Any,
    org_id: int,
    window_start: datetime,
    window_end: datetime,
    candidates_per_demand: int = 10,
    now: datetime | None = None,
) -> MatchRun:
    """Match the OPEN demands of ``org_id``'s subtree whose window starts in
    ``[window_start, window_end)`` at once (audited ``resources.match.run``; the actor
    needs ``resources.match`` over the org). The reading and solving happen outside any
    transaction (no write lock is held meanwhile); the run and its proposals are written
    in one."""
    org = _authorise(
        actor=actor,
        org_id=org_id,
        window_start=window_start,
        window_end=window_end,
        candidates=candidates_per_demand,
    )
    result = plan(
        org=org,
        window_start=window_start,
        window_end=window_end,
        candidates_per_demand=candidates_per_demand,
        now=now,
    )
    return _store(
        actor=actor,
        org_id=org.pk,
        window_start=window_start,
        window_end=window_end,
        result=result,
    )


@audited("resources.match.apply")
def apply_run(*, actor: Any, run_id: int, now: datetime | None = None) -> list[Allocation]:
    """Request each matched proposal's resource for its demand as ``actor`` (audited
    ``resources.match.apply``). A proposal refused now (the pool changed since the run)
    gets the refusal's code as its ``unmatched_reason`` and is skipped. Once per run:
    again → 409 ``already_applied``."""
    from . import services

    now = now or timezone.now()
    run = queries.run_for(actor, run_id)
    require(actor, "resources.match", run.org)
    if not MatchRun.objects.filter(pk=run.pk, applied_at__isnull=True).update(applied_at=now):
        raise Conflict(_("该批次匹配结果已应用。"), code="already_applied")
    run.applied_at = now
    made: list[Allocation] = []
    refused: Counter[str] = Counter()
    proposals = list(
        MatchProposal.objects.filter(
            run=run, resource__isnull=False, allocation__isnull=True
        ).select_related("demand")
    )
    # the most urgent first, then by start: if the pool changed, they keep the places
    proposals.sort(
        key=lambda p: (-PRIORITY_LEVEL.get(p.demand.priority, 1), p.demand.start_at, p.pk)
    )
    for p in proposals:
        try:
            allocation = services.request_allocation(
                actor=actor,
                resource_id=p.resource_id,
                demand_id=p.demand_id,
                run_id=run.pk,
                now=now,
            )
        except DomainError as exc:
            refused[exc.code] += 1
            p.unmatched_reason = exc.code[:40]
            p.save(update_fields=["unmatched_reason"])
            continue
        p.allocation = allocation
        p.save(update_fields=["allocation"])
        made.append(allocation)
    record(
        "resources.match.apply",
        actor=actor,
        obj=run,
        changes={"requested": len(made), "refused": dict(refused)},
    )
    return made
