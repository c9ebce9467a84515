"""The fixture most resource-pool tests share: the pool world."""

from __future__ import annotations

import pytest

from .factories import PoolWorld, build


@pytest.fixture
def pw(world) -> PoolWorld:
    return build(world)
