"""The fixtures most canteen tests share: the canteen world and Monday's lunch in
canteen A. A module whose world needs a clock defines its own ``cw``."""

from __future__ import annotations

import pytest

from ..models import Menu
from .factories import CanteenWorld, build, menu


@pytest.fixture
def cw(world) -> CanteenWorld:
    return build(world)


@pytest.fixture
def lunch(cw) -> Menu:
    return menu(cw)  # dongpo 100, greens unlimited, rice unlimited, box 50 (take-away)
