"""The kpi indicators computed from the canteen's data (bound in ``queries``)."""

from __future__ import annotations
