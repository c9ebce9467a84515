"""What the installed ``chinese_calendar`` package knows, as plain data.

Pure functions (no database), so the data migration, the seeding service and the
calendar's fallback for years missing from the table all read the library one way.
"""

from __future__ import annotations

import functools
from datetime import date

import chinese_calendar

HOLIDAY = "holiday"
WORKDAY = "workday"

# The library's English holiday names (``chinese_calendar.Holiday`` values) in Chinese.
NAMES: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def chinese_name(value: object) -> str:
    text = str(getattr(value, "value", value) or "")
    return NAMES.get(text, text)[:50]


@functools.cache
def _by_year() -> dict[int, dict[date, tuple[str, str]]]:
    result: dict[int, dict[date, tuple[str, str]]] = {}
    for kind, source in (
        (HOLIDAY, chinese_calendar.holidays),
        (WORKDAY, chinese_calendar.workdays),
    ):
        for day, value in source.items():
            result.setdefault(day.year, {})[day] = (kind, chinese_name(value))
    return result


def known_years() -> list[int]:
    """Years the installed library has an arrangement for."""
    return sorted(_by_year())


def entries(year: int) -> dict[date, tuple[str, str]]:
    """``{date: (kind, chinese name)}`` for one year; empty for years the library lacks."""
    return dict(_by_year().get(year, {}))
