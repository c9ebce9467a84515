"""The registry of benchmark workloads.

A workload is a name, an optional ``setup(seed)`` run once in the seeding process
(Django configured, the org world built, before the server starts) and a request
factory ``request(rng, ctx)`` that the load generator calls for every request. Later
capabilities add their own with ``register(Workload(...))`` in this module (or in a
module imported at the bottom of it), e.g. a work-order list or a booking POST.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any


@dataclass
class Seed:
    """What a workload's setup gets: the target row count and the built world."""

    rows: int
    world: Any  # dayuan.core.testing.World
    rng: Random
    facts: dict[str, Any] = field(default_factory=dict)  # written to the results


@dataclass
class Context:
    """What a request factory gets: the server, and a bearer token for ``a_staff``."""

    base_url: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None


@dataclass(frozen=True)
class Workload:
    name: str
    endpoint: str  # shown in the table, e.g. "GET /api/v1/health"
    request: Callable[[Random, Context], Request]
    setup: Callable[[Seed], None] | None = None


REGISTRY: dict[str, Workload] = {}


def register(workload: Workload) -> Workload:
    if workload.name in REGISTRY:
        raise ValueError(f"workload {workload.name!r} registered twice")
    REGISTRY[workload.name] = workload
    return workload


# --- The platform's own workloads ------------------------------------------------------

register(
    Workload(
        name="health",
        endpoint="GET /api/v1/health",
        request=lambda rng, ctx: Request("GET", "/api/v1/health"),
    )
)


def _seed_locations(seed: Seed) -> None:
    from bench.seed import bulk_locations

    b_rows = max(1000, min(5000, seed.rows // 30))
    seed.facts["locations_county_a"] = bulk_locations(seed.world.county_a, seed.rows)
    seed.facts["locations_county_b"] = bulk_locations(seed.world.county_b, b_rows)


register(
    Workload(
        name="locations",
        endpoint="GET /api/v1/locations?page=N&page_size=50",
        request=lambda rng, ctx: Request(
            "GET", f"/api/v1/locations?page={rng.randint(1, 100)}&page_size=50", ctx.auth
        ),
        setup=_seed_locations,
    )
)
