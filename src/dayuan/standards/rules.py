"""Rule kinds: the typed parameters of each quantified clause, and what may be tightened.

Each kind is a Pydantic model. ``parse_params(kind, data)`` validates a rule's
parameters and raises ``RuleParamsError`` with readable, located messages. Every
number a county may override is a *tunable*: a dotted path in the parameters with the
direction that is stricter (``higher`` or ``lower``); ``tunables(params)`` lists them.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Literal

import cel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Stricter = Literal["higher", "lower"]
CODE = r"^[a-z][a-z0-9_.:-]*$"


class RuleParamsError(ValueError):
    """Invalid rule parameters; ``errors`` are ``{"loc": "a.b", "msg": "…"}`` dicts."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['loc']}: {e['msg']}" for e in errors))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_cel(source: str) -> str:
    try:
        cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"CEL 表达式无效: {exc}") from exc
    return source


CelExpr = Annotated[str, Field(min_length=1, max_length=2000)]


# --- sla ---------------------------------------------------------------------------


class EscalationStep(Strict):
    at_percent: int = Field(..., ge=1, le=1000)
    action: Literal["warn", "escalate", "escalate_further"]
    notify: list[str] = Field(default_factory=list)  # roles, e.g. ["dispatcher", "manager"]


class Timer(Strict):
    name: str = Field(..., pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(..., min_length=1, max_length=40)
    minutes: int = Field(..., ge=1, le=60 * 24 * 90)
    # What the clock counts from; "before_start" timers fall due `minutes` before an
    # anchor in the future (e.g. projector set up 30 min before a meeting starts).
    anchor: Literal["created", "accepted", "arrived", "before_start"] = "created"
    calendar: Literal["working", "24x7"] | None = None


class SlaParams(Strict):
    category: str = Field(..., pattern=CODE)
    priority: str | None = Field(None, pattern=CODE)
    calendar: Literal["working", "24x7"] = "working"
    timers: list[Timer] = Field(..., min_length=1)
    pause_reasons: list[str] = Field(default_factory=list)
    escalation: list[EscalationStep] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> SlaParams:
        names = [t.name for t in self.timers]
        if len(names) != len(set(names)):
            raise ValueError("计时器名称重复")
        percents = [s.at_percent for s in self.escalation]
        if percents != sorted(percents):
            raise ValueError("升级阶梯须按百分比从小到大排列")
        return self

    def target_key(self) -> str:
        return f"workorder:{self.category}"

    def tunables(self) -> dict[str, tuple[Any, Stricter]]:
        out: dict[str, tuple[Any, Stricter]] = {}
        for t in self.timers:
            # Less time is stricter, except lead time before an anchor: more is stricter.
            out[f"timers.{t.name}.minutes"] = (
                t.minutes,
                "higher" if t.anchor == "before_start" else "lower",
            )
        for i, s in enumerate(self.escalation):
            out[f"escalation.{i}.at_percent"] = (s.at_percent, "lower")
        return out


# --- record ------------------------------------------------------------------------


class Var(Strict):
    value: float | int
    stricter: Stricter | None = None  # None: a fixed constant, not tunable
    unit: str = ""


class RecordParams(Strict):
    record_type: str = Field(..., pattern=CODE)
    vars: dict[str, Var] = Field(default_factory=dict)
    when: CelExpr | None = None
    check: CelExpr
    message: str = Field(..., min_length=1, max_length=300)
    blocking: bool | None = None  # default: the clause is key

    @field_validator("vars")
    @classmethod
    def _names(cls, v: dict[str, Var]) -> dict[str, Var]:
        for name in v:
            if not re.match(r"^[a-z][a-z0-9_]*$", name):
                raise ValueError(f"变量名无效: {name}")
        return v

    @field_validator("when", "check")
    @classmethod
    def _cel(cls, v: str | None) -> str | None:
        return check_cel(v) if v else v

    def target_key(self) -> str:
        return f"record:{self.record_type}"

    def tunables(self) -> dict[str, tuple[Any, Stricter]]:
        return {
            f"vars.{k}.value": (v.value, v.stricter) for k, v in self.vars.items() if v.stricter
        }


# --- schedule ----------------------------------------------------------------------

UNIT_DAYS = {
    "meal": 1 / 3,
    "day": 1,
    "week": 7,
    "half_month": 15,
    "month": 30,
    "quarter": 91,
    "year": 365,
}


class Frequency(Strict):
    every: int = Field(1, ge=1, le=60)
    unit: Literal["meal", "day", "week", "half_month", "month", "quarter", "year"]

    def period_days(self) -> float:
        return self.every * UNIT_DAYS[self.unit]


class Season(Strict):
    label: str = Field("", max_length=40)
    months: list[int] = Field(..., min_length=1)
    frequency: Frequency

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int]) -> list[int]:
        if any(m < 1 or m > 12 for m in v) or len(set(v)) != len(v):
            raise ValueError("月份须为 1–12 且不重复")
        return sorted(v)


class ScheduleTarget(Strict):
    location_tag: str | None = None
    asset_type: str | None = None
    record_type: str | None = None
    activity: str = Field(..., pattern=CODE)  # e.g. patrol.structure, clean.stairs

    @model_validator(mode="after")
    def _one(self) -> ScheduleTarget:
        if sum(x is not None for x in (self.location_tag, self.asset_type, self.record_type)) != 1:
            raise ValueError("对象须且只能指定 location_tag、asset_type、record_type 之一")
        return self


class ScheduleParams(Strict):
    target: ScheduleTarget
    frequency: Frequency
    seasons: list[Season] = Field(default_factory=list)
    grace_hours: int = Field(0, ge=0, le=24 * 31)

    @model_validator(mode="after")
    def _seasons(self) -> ScheduleParams:
        seen: set[int] = set()
        for s in self.seasons:
            if seen & set(s.months):
                raise ValueError("季节月份重叠")
            seen |= set(s.months)
        return self

    def frequency_for_month(self, month: int) -> Frequency:
        for s in self.seasons:
            if month in s.months:
                return s.frequency
        return self.frequency

    def target_key(self) -> str:
        return f"schedule:{self.target.activity}"

    def tunables(self) -> dict[str, tuple[Any, Stricter]]:
        out: dict[str, tuple[Any, Stricter]] = {
            "frequency.period_days": (self.frequency.period_days(), "lower")
        }
        for i, s in enumerate(self.seasons):
            out[f"seasons.{i}.frequency.period_days"] = (s.frequency.period_days(), "lower")
        out["grace_hours"] = (self.grace_hours, "lower")
        return out


# --- checklist ---------------------------------------------------------------------


class Deduction(Strict):
    label: str
    points: float = Field(..., gt=0)


class Item(Strict):
    key: str = Field(..., pattern=r"^[a-z][a-z0-9_]*$")
    text: str = Field(..., min_length=1, max_length=300)
    clause: str | None = None  # another clause of the same standard; default the rule's
    type: Literal["pass_fail", "measure", "score"] = "pass_fail"
    weight: float = Field(1, gt=0, le=100)
    unit: str = ""
    min: float | None = None
    max: float | None = None
    max_score: float | None = Field(None, gt=0)
    deductions: list[Deduction] = Field(default_factory=list)
    severity: Literal["key", "important", "general"] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Item:
        if self.type == "measure" and self.min is None and self.max is None:
            raise ValueError(f"测量项 {self.key} 须有 min 或 max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"测量项 {self.key} 的 min 大于 max")
        if self.type == "score" and self.max_score is None:
            raise ValueError(f"评分项 {self.key} 须有 max_score")
        return self


class GradeBand(Strict):
    grade: str = Field(..., min_length=1, max_length=20)
    label: str = Field("", max_length=40)
    max_failed: dict[Literal["key", "important", "general"], int] = Field(default_factory=dict)
    min_score: float | None = Field(None, ge=0, le=100)
    passed: bool = True


class ChecklistParams(Strict):
    checklist: str = Field(..., pattern=CODE)
    title: str = Field(..., min_length=1, max_length=100)
    items: list[Item] = Field(..., min_length=1)
    grades: list[GradeBand] = Field(default_factory=list)  # first matching band wins
    fail_grade: str = "fail"
    pass_line: float | None = Field(None, ge=0, le=100)

    @model_validator(mode="after")
    def _keys(self) -> ChecklistParams:
        keys = [i.key for i in self.items]
        if len(keys) != len(set(keys)):
            raise ValueError("检查项 key 重复")
        return self

    def target_key(self) -> str:
        return f"checklist:{self.checklist}"

    def tunables(self) -> dict[str, tuple[Any, Stricter]]:
        out: dict[str, tuple[Any, Stricter]] = {}
        if self.pass_line is not None:
            out["pass_line"] = (self.pass_line, "higher")
        for item in self.items:
            if item.min is not None:
                out[f"items.{item.key}.min"] = (item.min, "higher")
            if item.max is not None:
                out[f"items.{item.key}.max"] = (item.max, "lower")
        for i, band in enumerate(self.grades):
            for sev, n in band.max_failed.items():
                out[f"grades.{i}.max_failed.{sev}"] = (n, "lower")
            if band.min_score is not None:
                out[f"grades.{i}.min_score"] = (band.min_score, "higher")
        return out


# --- kpi ---------------------------------------------------------------------------


class KpiParams(Strict):
    indicator: str = Field(..., pattern=CODE)
    comparison: Literal[">=", "<="] = ">="
    threshold: float
    unit: str = ""
    period: Literal["month", "quarter", "year"] = "month"
    filters: dict[str, str] = Field(default_factory=dict)  # e.g. {"timer": "arrive"}

    @field_validator("indicator")
    @classmethod
    def _known(cls, v: str) -> str:
        from .indicators import INDICATORS

        if v not in INDICATORS:
            raise ValueError(f"未登记的指标: {v}（可用: {', '.join(sorted(INDICATORS))}）")
        return v

    def target_key(self) -> str:
        return f"kpi:{self.indicator}"

    def tunables(self) -> dict[str, tuple[Any, Stricter]]:
        return {"threshold": (self.threshold, "higher" if self.comparison == ">=" else "lower")}


# --- booking -----------------------------------------------------------------------


class Window(Strict):
    days: Literal["workdays", "all"] = "workdays"
    start: time
    end: time

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.start >= self.end:
            raise ValueError("预订时段开始须早于结束")
        return self


class BookingParams(Strict):
    resource_class: str = Field(..., pattern=CODE)  # e.g. meeting_room, large_hall, barber
    lead_time_minutes: int = Field(0, ge=0, le=60 * 24 * 60)
    max_advance_days: int | None = Field(None, ge=1, le=366)
    windows: list[Window] = Field(default_factory=list)  # when requests are accepted
    max_duration_minutes: int | None = Field(None, ge=5, le=60 * 24 * 7)
    requires_approval: bool = False
    required_fields: list[str] = Field(default_factory=list)
    priority: list[str] = Field(default_factory=list)  # e.g. ["important", "urgent"]
    emergency_register_after: bool = False

    def target_key(self) -> str:
        return f"booking:{self.resource_class}"

    def tunables(self) -> dict[str, tuple[Any, Stricter]]:
        out: dict[str, tuple[Any, Stricter]] = {
            "lead_time_minutes": (self.lead_time_minutes, "higher")
        }
        if self.max_duration_minutes is not None:
            out["max_duration_minutes"] = (self.max_duration_minutes, "lower")
        out["requires_approval"] = (int(self.requires_approval), "higher")
        return out


KINDS: dict[str, type[BaseModel]] = {
    "sla": SlaParams,
    "record": RecordParams,
    "schedule": ScheduleParams,
    "checklist": ChecklistParams,
    "kpi": KpiParams,
    "booking": BookingParams,
}

Params = SlaParams | RecordParams | ScheduleParams | ChecklistParams | KpiParams | BookingParams


def parse_params(kind: str, data: Any) -> Params:
    model = KINDS.get(kind)
    if model is None:
        raise RuleParamsError(
            [{"loc": "kind", "msg": f"未知的规则类型: {kind}（可用: {', '.join(KINDS)}）"}]
        )
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        raise RuleParamsError(
            [
                {
                    "loc": ".".join(str(p) for p in err["loc"]) or "params",
                    "msg": err["msg"].removeprefix("Value error, "),
                }
                for err in exc.errors()
            ]
        ) from exc


def rule_target(params: Params) -> str:
    """The target key a rule is indexed by, e.g. ``record:food_sample``."""
    return params.target_key()


def tunables(kind: str, params: dict[str, Any]) -> dict[str, tuple[Any, Stricter]]:
    return parse_params(kind, params).tunables()  # type: ignore[union-attr]
