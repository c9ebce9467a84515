"""Report periods: whole calendar days in Shanghai, as the dashboards count them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_QUERY_DAYS = 366  # the longest period a page's ``?since=&until=`` may ask for


@dataclass(frozen=True)
class Period:
    since: date
    until: date  # inclusive

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time.min, tzinfo=SHANGHAI)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=SHANGHAI)

    @classmethod
    def last_days(cls, days: int = 30, today: date | None = None) -> Period:
        today = today or timezone.localdate()
        return cls(today - timedelta(days=days - 1), today)

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> Period:
        """The period a page asks for (``?since=&until=``, ISO dates); the last 30 days
        when either is missing, unreadable, reversed or the span is over a year."""
        default = cls.last_days(30)
        try:
            since = date.fromisoformat(params.get("since") or default.since.isoformat())
            until = date.fromisoformat(params.get("until") or default.until.isoformat())
        except ValueError:
            return default
        if since > until or (until - since).days > MAX_QUERY_DAYS:
            return default
        return cls(since, until)


def rate(num: int, den: int) -> float | None:
    """``num / den`` to four places; ``None`` when there is nothing to divide by."""
    return round(num / den, 4) if den else None
