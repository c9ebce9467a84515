"""The canteen dashboard as an Excel workbook (openpyxl), one sheet per table."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook

from . import queries


def dashboard_xlsx(
    user: Any,
    *,
    start: date,
    end: date,
    canteen_id: int | None = None,
    now: datetime | None = None,
) -> bytes:
    """``queries.dashboard`` for the same arguments (its scope, its NotFound and
    InvalidInput) as .xlsx bytes: overview per canteen with a total row, every day per
    canteen, per meal, ratings by stars, food-safety compliance by clause."""
    data = queries.dashboard(user, start, end, canteen_id, now=now)
    wb = Workbook(write_only=True)
    for title, rows in queries.export_rows(data):
        ws = wb.create_sheet(title[:31])  # Excel's limit on sheet names
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
