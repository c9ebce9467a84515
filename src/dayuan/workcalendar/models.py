"""The national table of statutory holidays and adjusted working days (调休).

One global table: the State Council's arrangement applies to every organisation; an
organisation's own working hours live on ``Organization.working_hours``.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from dayuan.core.models import TimestampedModel


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("法定节假日")
    WORKDAY = "workday", _("调休上班")


class DaySource(models.TextChoices):
    LIBRARY = "library", _("日历库")
    MANUAL = "manual", _("手工录入")


class SpecialDay(TimestampedModel):
    """A date that departs from (or confirms inside a holiday block) the weekday rule."""

    date = models.DateField(_("日期"), unique=True)
    year = models.PositiveSmallIntegerField(_("年份"), db_index=True, editable=False)
    kind = models.CharField(_("类型"), max_length=10, choices=DayKind.choices)
    name = models.CharField(_("名称"), max_length=50, blank=True)
    source = models.CharField(
        _("来源"), max_length=10, choices=DaySource.choices, default=DaySource.MANUAL
    )

    scope_exempt = True  # national data, the same for every organisation

    class Meta:
        verbose_name = _("节假日与调休")
        verbose_name_plural = _("节假日与调休")
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["holiday", "workday"]), name="specialday_kind_valid"
            )
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.year = self.date.year  # kept in step here so no writer can get it wrong
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()} {self.name}".strip()


class CalendarYear(TimestampedModel):
    """An administrator's declaration that a year's arrangement has been entered.

    A year with ``complete`` set counts as known even if it has no special days, and
    silences the "next year missing" warning.
    """

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    complete = models.BooleanField(_("已录入完整安排"), default=False)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    scope_exempt = True

    class Meta:
        verbose_name = _("日历年度")
        verbose_name_plural = _("日历年度")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)
