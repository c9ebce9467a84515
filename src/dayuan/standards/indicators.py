"""The registry of computable indicators a ``kpi`` rule may name.

Each capability registers how to compute its indicators (workorders: on-time rate per
timer; canteen: waste per diner; …). A ``kpi`` rule names one of these; the
assessment engine asks the registered function for the value over an org and period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Indicator:
    code: str
    label: Any
    unit: str
    better: str  # "higher" or "lower"
    compute: Callable[..., float | None] | None = None  # set by the owning app


INDICATORS: dict[str, Indicator] = {}


def register(code: str, label: Any, unit: str = "%", better: str = "higher") -> Indicator:
    indicator = Indicator(code, label, unit, better)
    INDICATORS[code] = indicator
    return indicator


def bind(code: str, compute: Callable[..., float | None]) -> None:
    """Attach the computation (called by the app that owns the data)."""
    ind = INDICATORS[code]
    INDICATORS[code] = Indicator(ind.code, ind.label, ind.unit, ind.better, compute)


register("on_time_rate", _("按时率（按计时器）"))
register("satisfaction_rate", _("满意率"))
register("repair_pass_rate", _("维修合格率"))
register("follow_up_rate", _("回访率"))
register("rectification_closure_rate", _("整改闭环率"))
register("rectification_on_time_rate", _("整改按时率"))
register("inspection_pass_rate", _("检查合格率"))
register("inspection_average_score", _("检查平均分"), unit="分")
register("missed_occurrences", _("漏检次数"), unit="次", better="lower")
register("complaint_count", _("投诉次数"), unit="次", better="lower")
register("enquiry_reply_rate", _("咨询答复率"))
register("waste_per_diner", _("人均餐厨垃圾"), unit="g", better="lower")
register("spot_check_coverage", _("抽查覆盖率"))
register("energy_per_m2_change", _("单位面积能耗变化"), better="lower")
register("energy_per_person_change", _("人均能耗变化"), better="lower")
register("water_per_person_change", _("人均用水变化"), better="lower")
register("co2_per_m2_change", _("单位面积碳排放变化"), better="lower")
register("canteen_staff_ratio", _("食堂人员配比（就餐人数/员工）"), unit="人", better="lower")
register("saving_evaluation_score", _("节约型机关评价得分"), unit="分")
