"""The evaluation API: how other apps obey the standards.

Every function here works on ``EffectiveRule`` objects (``effective.py``): the pure
functions take a list of them, and thin wrappers (``evaluate_record``, ``sla_timers``,
``due_occurrences``, ``build_checklist``, ``kpi_rules``, ``booking_rules``) fetch the
organisation's effective rules first. That keeps the rules testable without adoption
data and lets the bench time the engine without the database.

Record rules. ``when`` and ``check`` are CEL. A rule's ``vars`` are inlined into its
programs as literals (``vars.min_weight_g`` → ``125``) when it is prepared, so one
``cel.Context`` holding the record serves every rule of the record: building the CEL
environment from a Python dict costs ~20 µs, evaluating a compiled program against a
ready context ~1 µs. A missing field is a violation ("缺少字段"), never a crash.

Schedules. Periods are in Asia/Shanghai and half-open ``[period_start, period_end)``;
``period_end`` is the due instant. Grids (deterministic, no state):

- ``meal``: three a day, breakfast 07:00–09:00, lunch 11:00–13:00, dinner 17:00–19:00;
- ``day`` / ``week``: midnight to midnight, weeks Monday–Sunday; ``every N`` counts from
  Monday 2000-01-03;
- ``half_month`` (1st–15th, 16th–end), ``month``, ``quarter``, ``year``: month-aligned;
  ``every N`` counts from January 2000, so any N dividing 12 starts a period each January.

Seasonal rules split the year into *runs* of consecutive months with the same
frequency (a run may wrap over New Year, e.g. October–March). Inside a run,
month-based periods count from the run's first month and day-based ones keep their
natural grid; a period never crosses a run boundary (the last one is cut short).
So lightning rods (half-monthly April–September, otherwise quarterly) get
Apr 1–15, …, Sep 16–30, then Oct–Dec and Jan–Mar; lawn mowing (every two months
March–August, quarterly otherwise) gets Mar–Apr, May–Jun, Jul–Aug, Sep–Nov, Dec–Feb.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import cel
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.core.errors import InvalidInput, NotFound, RuleRefused

from . import effective
from .choices import Outcome, RuleKind, Severity
from .effective import EffectiveRule
from .rules import (
    BookingParams,
    ChecklistParams,
    EscalationStep,
    Frequency,
    GradeBand,
    Item,
    KpiParams,
    RecordParams,
    ScheduleParams,
    SlaParams,
    Window,
)

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
JUDGMENT_BATCH = 5000
SEVERITIES = (Severity.KEY.value, Severity.IMPORTANT.value, Severity.GENERAL.value)
PASS, FAIL, NA = Outcome.PASS, Outcome.FAIL, Outcome.NA


def _org_id(org: Any) -> int | None:
    return getattr(org, "pk", org)


def _num(value: float | int) -> str:
    """A number as people write it: 125, 0.5, -12."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- CEL -------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def compile_cel(source: str) -> cel.Program:
    """Compile once per distinct source (raises ValueError on a syntax error)."""
    return cel.compile(source)


_STRING_OR_VAR = re.compile(
    r"""(?P<s>[rRbB]{0,2}(?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))"""
    r"""|(?<![\w.])vars\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\b"""
)


def _literal(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return f"({value!r})"


def bind_vars(source: str, values: Mapping[str, Any]) -> str:
    """``source`` with every ``vars.NAME`` outside string literals replaced by its value.

    Names without a value stay as they are (the program then still needs ``vars``).
    """

    def repl(match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None:
            return match.group(0)
        lit = _literal(values.get(name))
        return lit if lit is not None else match.group(0)

    return _STRING_OR_VAR.sub(repl, source)


@dataclass(frozen=True)
class _Expr:
    """A compiled condition; ``program`` needs only ``record`` unless ``needs_vars``."""

    source: str
    program: cel.Program
    needs_vars: bool


def _prepare_expr(source: str, values: Mapping[str, Any]) -> _Expr:
    bound = bind_vars(source, values)
    try:
        program = compile_cel(bound)
        needs_vars = "vars" in program.variables()
    except (ValueError, RuntimeError):
        # Inlining made something CEL will not take (``has(vars.x)``): keep the original.
        program, needs_vars = compile_cel(source), True
    return _Expr(source, program, needs_vars)


# --- record rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """A clause a record (or a booking) does not satisfy, with what to cite."""

    rule_key: str
    standard_code: str
    version_number: int
    clause_number: str
    clause_text: str
    severity: str
    message: str
    blocking: bool
    rule_id: int | None = None
    clause_id: int | None = None
    code: str = "violation"  # violation | missing_field | type_error | lead_time | …

    def cite(self) -> dict[str, Any]:
        return {
            "rule": self.rule_key,
            "code": self.code,
            "standard": self.standard_code,
            "version": self.version_number,
            "clause": self.clause_number,
            "text": self.clause_text,
            "severity": self.severity,
            "message": self.message,
            "blocking": self.blocking,
        }

    @classmethod
    def of(
        cls, rule: EffectiveRule, message: str, *, blocking: bool, code: str = "violation"
    ) -> Violation:
        return cls(
            rule_key=rule.key,
            standard_code=rule.standard_code,
            version_number=rule.version_number,
            clause_number=rule.clause_number,
            clause_text=rule.clause_text,
            severity=rule.severity,
            message=message,
            blocking=blocking,
            rule_id=rule.rule_id,
            clause_id=rule.clause_id,
            code=code,
        )


class RuleJudgment(NamedTuple):
    """One rule's verdict on one record (a tuple: millions are made in bulk)."""

    rule: EffectiveRule
    outcome: str  # Outcome value
    violation: Violation | None = None


@dataclass
class RecordResult:
    violations: list[Violation]
    judged: list[RuleJudgment]
    stored: int = 0  # Judgment rows written

    @property
    def blocking(self) -> list[Violation]:
        return [v for v in self.violations if v.blocking]

    @property
    def non_blocking(self) -> list[Violation]:
        return [v for v in self.violations if not v.blocking]


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class PreparedRecordRule:
    """A record rule ready to run: vars inlined, programs compiled, message formatted."""

    rule: EffectiveRule
    when: _Expr | None
    check: _Expr
    vars: dict[str, Any]
    message: str
    blocking: bool
    violation: Violation  # the one for a plain failure, shared by every failing record
    fast: bool  # neither program needs ``vars``: both run on the shared record context


def prepare_record_rule(rule: EffectiveRule) -> PreparedRecordRule:
    params = rule.params
    if not isinstance(params, RecordParams):
        raise TypeError(f"rule {rule.key} is not a record rule")
    values = {name: var.value for name, var in params.vars.items()}
    try:
        message = params.message.format_map(_Missing({k: _num(v) for k, v in values.items()}))
    except (ValueError, IndexError):  # a stray brace in the text: show it as written
        message = params.message
    blocking = params.blocking if params.blocking is not None else rule.severity == Severity.KEY
    when = _prepare_expr(params.when, values) if params.when else None
    check = _prepare_expr(params.check, values)
    return PreparedRecordRule(
        rule=rule,
        when=when,
        check=check,
        vars=values,
        message=message,
        blocking=blocking,
        violation=Violation.of(rule, message, blocking=blocking),
        fast=not check.needs_vars and (when is None or not when.needs_vars),
    )


# Prepared rules by the identity of the EffectiveRule. The entry keeps the rule itself,
# so its id cannot be reused by another object while cached.
_prepared: dict[int, tuple[EffectiveRule, PreparedRecordRule]] = {}


def prepared(rule: EffectiveRule) -> PreparedRecordRule:
    entry = _prepared.get(id(rule))
    if entry is not None and entry[0] is rule:
        return entry[1]
    if len(_prepared) > 20_000:
        _prepared.clear()
    prep = prepare_record_rule(rule)
    _prepared[id(rule)] = (rule, prep)
    return prep


def _plain(value: Any) -> Any:
    """A value CEL can take: dates as ISO strings, Decimals as floats, others as text."""
    if value is None or isinstance(value, bool | int | float | str | bytes | datetime):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, timedelta):
        return value
    return str(value)


def record_context(record: Mapping[str, Any]) -> cel.Context:
    try:
        return cel.Context(variables={"record": dict(record)})
    except (ValueError, TypeError):
        return cel.Context(variables={"record": _plain(record)})


def _run(expr: _Expr, ctx: cel.Context, record: Mapping[str, Any], rule: PreparedRecordRule):
    if expr.needs_vars:
        return expr.program.execute({"record": _plain(record), "vars": rule.vars})
    return expr.program.execute(ctx)


def _missing_name(exc: Exception) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    quoted = re.search(r"'([^']+)'", str(exc))
    return quoted.group(1) if quoted else str(exc)[:60]


def _failure(prep: PreparedRecordRule, exc: Exception) -> RuleJudgment:
    if isinstance(exc, KeyError | RuntimeError):
        message = _("%(message)s（缺少字段：%(field)s）") % {
            "message": prep.message,
            "field": _missing_name(exc),
        }
        code = "missing_field"
    else:
        log.info("record rule %s: %s", prep.rule.key, exc)
        message = _("%(message)s（字段类型不符）") % {"message": prep.message}
        code = "type_error"
    v = Violation.of(prep.rule, message, blocking=prep.blocking, code=code)
    return RuleJudgment(prep.rule, FAIL, v)


def judge_prepared(
    rules: Sequence[PreparedRecordRule], record: Mapping[str, Any]
) -> list[RuleJudgment]:
    """The pure path: every prepared rule against one record (the hot loop of the bench)."""
    ctx = record_context(record)
    out: list[RuleJudgment] = []
    append = out.append
    for prep in rules:
        when = prep.when
        try:
            if prep.fast:
                if when is not None and when.program.execute(ctx) is not True:
                    append(RuleJudgment(prep.rule, NA))
                    continue
                ok = prep.check.program.execute(ctx)
            else:
                if when is not None and _run(when, ctx, record, prep) is not True:
                    append(RuleJudgment(prep.rule, NA))
                    continue
                ok = _run(prep.check, ctx, record, prep)
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            append(_failure(prep, exc))
            continue
        if ok is True:
            append(RuleJudgment(prep.rule, PASS))
        else:
            if ok is not False:
                log.warning("record rule %s check returned %r, not a bool", prep.rule.key, ok)
            append(RuleJudgment(prep.rule, FAIL, prep.violation))
    return out


def judge_record(rules: Iterable[EffectiveRule], record: Mapping[str, Any]) -> list[RuleJudgment]:
    """Every record rule in ``rules`` against ``record`` (no database)."""
    return judge_prepared(
        [prepared(r) for r in rules if isinstance(r.params, RecordParams)], record
    )


def _subject(subject: Any) -> tuple[str, str]:
    if subject is None:
        return "", ""
    if isinstance(subject, tuple):
        return str(subject[0])[:40], str(subject[1])[:40]
    meta = getattr(subject, "_meta", None)
    if meta is not None:
        return meta.label_lower[:40], str(subject.pk)[:40]
    return "", str(subject)[:40]


def judgment_rows(
    judged: Iterable[RuleJudgment],
    *,
    org: Any,
    at: datetime,
    location: Any = None,
    vendor: Any = None,
    subject: Any = None,
) -> list[Any]:
    """Unsaved ``Judgment`` rows for ``store_judgments``."""
    from .models import Judgment

    subject_type, subject_id = _subject(subject)
    org_id, location_id, vendor_id = _org_id(org), _org_id(location), _org_id(vendor)
    return [
        Judgment(
            rule_id=j.rule.rule_id,
            clause_id=j.rule.clause_id,
            org_id=org_id,
            location_id=location_id,
            vendor_id=vendor_id,
            subject_type=subject_type,
            subject_id=subject_id,
            at=at,
            outcome=str(j.outcome),
            value=None,
        )
        for j in judged
    ]


def store_judgments(items: Iterable[Any], *, batch_size: int = JUDGMENT_BATCH) -> int:
    """Bulk-insert ``Judgment`` rows (instances or field dicts); returns how many."""
    from .models import Judgment

    batch: list[Judgment] = []
    total = 0
    for item in items:
        batch.append(item if isinstance(item, Judgment) else Judgment(**item))
        if len(batch) >= batch_size:
            Judgment.objects.bulk_create(batch)
            total += len(batch)
            batch = []
    if batch:
        Judgment.objects.bulk_create(batch)
        total += len(batch)
    return total


def record_rules(org: Any, record_type: str, at: datetime | None = None) -> list[EffectiveRule]:
    return effective.effective_rules(
        org, kind=RuleKind.RECORD, target=f"record:{record_type}", at=at
    )


def evaluate_record(
    org: Any,
    record_type: str,
    record: Mapping[str, Any],
    *,
    at: datetime | None = None,
    location: Any = None,
    vendor: Any = None,
    subject: Any = None,
    store: bool = True,
) -> RecordResult:
    """Judge ``record`` by the org's record rules for ``record_type``; store the verdicts."""
    at = at or timezone.now()
    judged = judge_record(record_rules(org, record_type, at), record)
    result = RecordResult([j.violation for j in judged if j.violation is not None], judged)
    if store and judged:
        result.stored = store_judgments(
            judgment_rows(judged, org=org, at=at, location=location, vendor=vendor, subject=subject)
        )
    return result


def refusal(violations: Sequence[Violation]) -> RuleRefused:
    """The error for a write refused by the first blocking violation, citing its clause."""
    first = next(v for v in violations if v.blocking)
    message = _("不符合 %(standard)s 第 %(clause)s 条：%(message)s") % {
        "standard": first.standard_code,
        "clause": first.clause_number,
        "message": first.message,
    }
    return RuleRefused(message, violations=[v.cite() for v in violations])


def enforce_record(
    org: Any,
    record_type: str,
    record: Mapping[str, Any],
    *,
    at: datetime | None = None,
    location: Any = None,
    vendor: Any = None,
    subject: Any = None,
    store: bool = True,
) -> RecordResult:
    """``evaluate_record``, refusing the write when a blocking clause fails.

    Returns the result otherwise: its ``non_blocking`` violations are for the caller to
    record as non-conformances.
    """
    result = evaluate_record(
        org,
        record_type,
        record,
        at=at,
        location=location,
        vendor=vendor,
        subject=subject,
        store=store,
    )
    if result.blocking:
        raise refusal(result.violations)
    return result


# --- SLA -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimerSpec:
    name: str
    label: str
    minutes: int
    anchor: str  # created | accepted | arrived | before_start
    calendar: str  # working | 24x7
    pause_reasons: tuple[str, ...]
    escalation: tuple[EscalationStep, ...]
    cite: dict[str, Any]
    rule_key: str = ""
    rule_id: int | None = None
    clause_id: int | None = None


def _stricter_timer(a: TimerSpec, b: TimerSpec) -> TimerSpec:
    if a.anchor == "before_start":  # more lead time is stricter
        return a if a.minutes >= b.minutes else b
    return a if a.minutes <= b.minutes else b


def select_timers(
    rules: Iterable[EffectiveRule], category: str, priority: str | None = None
) -> list[TimerSpec]:
    """The timers for (category, priority) from SLA rules.

    Rules written for this priority win over rules for the category alone (priority
    None); rules for another priority never apply. When several chosen rules (of
    different standards) name the same timer, the stricter one counts.
    """
    sla = [r for r in rules if isinstance(r.params, SlaParams) and r.params.category == category]
    chosen = [r for r in sla if priority is not None and r.params.priority == priority]
    if not chosen:
        chosen = [r for r in sla if r.params.priority is None]
    timers: dict[str, TimerSpec] = {}
    for rule in chosen:
        params: SlaParams = rule.params  # type: ignore[assignment]
        for t in params.timers:
            spec = TimerSpec(
                name=t.name,
                label=t.label,
                minutes=t.minutes,
                anchor=t.anchor,
                calendar=t.calendar or params.calendar,
                pause_reasons=tuple(params.pause_reasons),
                escalation=tuple(params.escalation),
                cite=rule.cite(),
                rule_key=rule.key,
                rule_id=rule.rule_id,
                clause_id=rule.clause_id,
            )
            timers[t.name] = _stricter_timer(timers[t.name], spec) if t.name in timers else spec
    return list(timers.values())


def sla_timers(
    org: Any, category: str, priority: str | None = None, at: datetime | None = None
) -> list[TimerSpec]:
    rules = effective.effective_rules(org, kind=RuleKind.SLA, target=f"workorder:{category}", at=at)
    return select_timers(rules, category, priority)


def _calendar(org: Any, calendar: str):
    from dayuan.workcalendar.calendar import WorkingCalendar

    if calendar == "24x7":
        return WorkingCalendar(around_the_clock=True)
    return WorkingCalendar.for_org(org)


def due_at(start: datetime, timer: TimerSpec, org: Any) -> datetime:
    """When ``timer`` falls due for a clock started (or anchored) at ``start``.

    ``before_start`` timers: ``start`` is the anchor in the future (the meeting's start)
    and the timer is due ``minutes`` wall-clock minutes before it.
    """
    if timer.anchor == "before_start":
        return start.astimezone(SHANGHAI) - timedelta(minutes=timer.minutes)
    if timer.calendar == "24x7":
        return start.astimezone(SHANGHAI) + timedelta(minutes=timer.minutes)
    return _calendar(org, "working").add_working_minutes(start, timer.minutes)


@dataclass(frozen=True)
class EscalationState:
    percent: float  # share of the allowed time used, on the timer's calendar
    reached: tuple[EscalationStep, ...]
    next_step: EscalationStep | None
    next_at: datetime | None  # when next_step will be reached


def escalation_state(
    started_at: datetime,
    due: datetime,
    now: datetime,
    steps: Sequence[EscalationStep],
    org: Any,
    *,
    calendar: str = "working",
) -> EscalationState:
    """Which escalation steps have been reached at ``now`` (percent of elapsed time)."""
    cal = _calendar(org, calendar)
    total = cal.working_minutes_between(started_at, due)
    if total <= 0:
        percent = 100.0 if now >= due else 0.0
    else:
        percent = cal.working_minutes_between(started_at, now) * 100.0 / total
    reached = tuple(s for s in steps if s.at_percent <= percent)
    pending = [s for s in steps if s.at_percent > percent]
    next_step = pending[0] if pending else None
    next_at = None
    if next_step is not None:
        if total > 0:
            next_at = cal.add_working_minutes(
                started_at, math.ceil(total * next_step.at_percent / 100)
            )
        else:
            next_at = due
    return EscalationState(percent, reached, next_step, next_at)


# --- schedules -------------------------------------------------------------------------

MEALS: tuple[tuple[time, time], ...] = (
    (time(7, 0), time(9, 0)),
    (time(11, 0), time(13, 0)),
    (time(17, 0), time(19, 0)),
)
EPOCH_MONDAY = date(2000, 1, 3)
EPOCH_HALF = 2000 * 24  # half-month index of 2000-01-01
MONTH_HALVES = {"half_month": 1, "month": 2, "quarter": 6, "year": 24}


@dataclass(frozen=True)
class Occurrence:
    rule_key: str
    activity: str
    target_type: str  # location_tag | asset_type | record_type
    target: str
    period_start: datetime
    period_end: datetime  # the due instant (exclusive end of the period)
    grace_hours: int
    cite: dict[str, Any] = field(compare=False)
    rule_id: int | None = None
    clause_id: int | None = None

    @property
    def due(self) -> datetime:
        return self.period_end


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def _half_index(t: datetime) -> int:
    return (t.year * 12 + t.month - 1) * 2 + (0 if t.day <= 15 else 1)


def _half_start(h: int) -> datetime:
    months, half = divmod(h, 2)
    year, month0 = divmod(months, 12)
    return datetime(year, month0 + 1, 16 if half else 1, tzinfo=SHANGHAI)


def _periods(
    freq: Frequency,
    lo: datetime,
    hi: datetime,
    clip: tuple[datetime, datetime] | None = None,
) -> Iterator[tuple[datetime, datetime]]:
    """Periods of ``freq`` overlapping ``[lo, hi)``; inside ``clip`` (a seasonal run) the
    month-based grid counts from the run's start and every period is cut to the run."""
    n = freq.every
    lo_l = lo.astimezone(SHANGHAI)
    if freq.unit in MONTH_HALVES:
        step = n * MONTH_HALVES[freq.unit]
        base = _half_index(clip[0]) if clip else EPOCH_HALF
        h = base + (_half_index(lo_l) - base) // step * step
        raw = ((_half_start(h + k * step), _half_start(h + (k + 1) * step)) for k in range(10**6))
    elif freq.unit in ("day", "week"):
        days = n * (7 if freq.unit == "week" else 1)
        offset = (lo_l.date() - EPOCH_MONDAY).days // days * days
        first = EPOCH_MONDAY + timedelta(days=offset)
        raw = (
            (
                _local_midnight(first + timedelta(days=k * days)),
                _local_midnight(first + timedelta(days=(k + 1) * days)),
            )
            for k in range(10**7)
        )
    else:  # meal: slot g = ordinal * 3 + meal; a period is `every` consecutive slots
        g0 = (lo_l.date().toordinal() - 1) * 3
        g0 -= g0 % n

        def slot(g: int, end: bool) -> datetime:
            day, meal = divmod(g, 3)
            return datetime.combine(date.fromordinal(day), MEALS[meal][end], tzinfo=SHANGHAI)

        raw = ((slot(g0 + k * n, False), slot(g0 + k * n + n - 1, True)) for k in range(10**8))
    for start, end in raw:
        if clip is not None:
            if end <= clip[0]:
                continue
            start, end = max(start, clip[0]), min(end, clip[1])
            if start >= clip[1]:
                return
        if start >= hi:
            return
        if end > lo and end > start:
            yield start, end


def _runs(params: ScheduleParams) -> list[int] | None:
    """Months (1–12) at which a run of one frequency starts; None when not seasonal."""
    label = {
        m: next((i for i, s in enumerate(params.seasons) if m in s.months), -1)
        for m in range(1, 13)
    }
    if len(set(label.values())) == 1:
        return None
    return [m for m in range(1, 13) if label[m] != label[12 if m == 1 else m - 1]]


def schedule_periods(
    params: ScheduleParams, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The periods of one schedule rule overlapping ``[start, end)``, in order."""
    run_starts = _runs(params)
    if run_starts is None:
        yield from _periods(params.frequency_for_month(1), start, end)
        return
    local = start.astimezone(SHANGHAI)
    y, m = local.year, local.month
    while m not in run_starts:  # back to the start of the run holding `start`
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    run_start = datetime(y, m, 1, tzinfo=SHANGHAI)
    while run_start < end:
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        while nm not in run_starts:
            ny, nm = (ny + 1, 1) if nm == 12 else (ny, nm + 1)
        run_end = datetime(ny, nm, 1, tzinfo=SHANGHAI)
        freq = params.frequency_for_month(m)
        yield from _periods(freq, max(start, run_start), end, clip=(run_start, run_end))
        y, m, run_start = ny, nm, run_end


def occurrences_of(
    rules: Iterable[EffectiveRule], start: datetime, end: datetime
) -> list[Occurrence]:
    """Due occurrences of the schedule rules in ``[start, end)`` (no database)."""
    out: list[Occurrence] = []
    for rule in rules:
        params = rule.params
        if not isinstance(params, ScheduleParams):
            continue
        tgt = params.target
        target_type, target = next(
            (k, v)
            for k, v in (
                ("location_tag", tgt.location_tag),
                ("asset_type", tgt.asset_type),
                ("record_type", tgt.record_type),
            )
            if v is not None
        )
        cite = rule.cite()
        for ps, pe in schedule_periods(params, start, end):
            out.append(
                Occurrence(
                    rule_key=rule.key,
                    activity=tgt.activity,
                    target_type=target_type,
                    target=target,
                    period_start=ps,
                    period_end=pe,
                    grace_hours=params.grace_hours,
                    cite=cite,
                    rule_id=rule.rule_id,
                    clause_id=rule.clause_id,
                )
            )
    out.sort(key=lambda o: (o.period_start, o.rule_key, o.period_end))
    return out


def due_occurrences(
    org: Any, start: datetime, end: datetime, *, activity: str | None = None
) -> list[Occurrence]:
    if end <= start:
        return []
    rules = effective.effective_rules(
        org,
        kind=RuleKind.SCHEDULE,
        target=f"schedule:{activity}" if activity else None,
        at=start,
    )
    return occurrences_of(rules, start, end)


def missed(occurrence: Occurrence, done_at_list: Iterable[datetime], now: datetime) -> bool:
    """Missed: the period and its grace are over and nothing was done from the period's
    start until the end of the grace."""
    deadline = occurrence.period_end + timedelta(hours=occurrence.grace_hours)
    if deadline >= now:
        return False
    return not any(occurrence.period_start <= d < deadline for d in done_at_list)


# --- checklists ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    text: str
    type: str  # pass_fail | measure | score
    weight: float
    unit: str
    min: float | None
    max: float | None
    max_score: float | None
    deductions: tuple[Any, ...]  # rules.Deduction
    severity: str
    clause_number: str
    clause_text: str
    clause_id: int | None = None


@dataclass(frozen=True)
class Checklist:
    code: str
    title: str
    items: tuple[ChecklistItem, ...]
    grades: tuple[GradeBand, ...]
    fail_grade: str
    pass_line: float | None
    cite: dict[str, Any]
    rule_key: str = ""
    rule_id: int | None = None
    clause_id: int | None = None

    def item(self, key: str) -> ChecklistItem:
        for it in self.items:
            if it.key == key:
                return it
        raise KeyError(key)


@dataclass(frozen=True)
class Answer:
    """What an inspector entered for one item.

    ``outcome`` pass/fail/na (na always wins); ``value`` for a measured item; ``score`` or
    ``deductions`` (labels or indexes of the item's deductions) for a scored item.
    """

    outcome: str | None = None
    value: float | None = None
    score: float | None = None
    deductions: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Grade:
    score_percent: float
    failed_by_severity: dict[str, int]
    failed_items: list[str]
    grade: str
    passed: bool
    label: str = ""
    outcomes: dict[str, str] = field(default_factory=dict)  # item key -> Outcome value


def checklist_from_rule(
    rule: EffectiveRule, clauses: Mapping[str, tuple[int | None, str, str]] | None = None
) -> Checklist:
    """A checklist from its rule; ``clauses`` maps other clause numbers of the same version
    to ``(id, text, severity)`` for items that cite them."""
    params = rule.params
    if not isinstance(params, ChecklistParams):
        raise TypeError(f"rule {rule.key} is not a checklist rule")
    clauses = clauses or {}
    items = []
    for it in params.items:
        number, text, sev, cid = rule.clause_number, rule.clause_text, rule.severity, rule.clause_id
        if it.clause and it.clause != rule.clause_number:
            if it.clause in clauses:
                cid, text, sev = clauses[it.clause]
                number = it.clause
            else:
                log.warning(
                    "checklist %s item %s cites unknown clause %s", rule.key, it.key, it.clause
                )
        items.append(
            ChecklistItem(
                key=it.key,
                text=it.text,
                type=it.type,
                weight=it.weight,
                unit=it.unit,
                min=it.min,
                max=it.max,
                max_score=it.max_score,
                deductions=tuple(it.deductions),
                severity=it.severity or sev,
                clause_number=number,
                clause_text=text,
                clause_id=cid,
            )
        )
    return Checklist(
        code=params.checklist,
        title=params.title,
        items=tuple(items),
        grades=tuple(params.grades),
        fail_grade=params.fail_grade,
        pass_line=params.pass_line,
        cite=rule.cite(),
        rule_key=rule.key,
        rule_id=rule.rule_id,
        clause_id=rule.clause_id,
    )


def build_checklist(org: Any, checklist_code: str, at: datetime | None = None) -> Checklist:
    """The org's effective checklist ``checklist_code`` (the first rule naming it)."""
    from .models import Clause

    rules = effective.effective_rules(
        org, kind=RuleKind.CHECKLIST, target=f"checklist:{checklist_code}", at=at
    )
    if not rules:
        raise NotFound(_("没有生效的检查表：%(code)s") % {"code": checklist_code})
    rule = rules[0]
    wanted = {it.clause for it in rule.params.items if it.clause}  # type: ignore[union-attr]
    clauses = {
        number: (cid, text, sev)
        for cid, number, text, sev in Clause.objects.filter(
            version_id=rule.version_id, number__in=wanted
        ).values_list("id", "number", "text", "severity")
    }
    return checklist_from_rule(rule, clauses)


def judge_measure(item: ChecklistItem | Item, value: float | None) -> str:
    """Pass when ``min <= value <= max`` (either limit may be absent)."""
    if value is None:
        raise InvalidInput(_("请填写测量值。"), code="measure_missing", item=item.key)
    if item.min is not None and value < item.min:
        return Outcome.FAIL
    if item.max is not None and value > item.max:
        return Outcome.FAIL
    return Outcome.PASS


def _as_answer(raw: Any) -> Answer:
    if isinstance(raw, Answer):
        return raw
    if isinstance(raw, str):
        return Answer(outcome=raw)
    if isinstance(raw, bool):
        return Answer(outcome=Outcome.PASS if raw else Outcome.FAIL)
    if isinstance(raw, int | float | Decimal):
        return Answer(value=float(raw), score=float(raw))
    if isinstance(raw, Mapping):
        return Answer(
            outcome=raw.get("outcome"),
            value=raw.get("value"),
            score=raw.get("score"),
            deductions=tuple(raw.get("deductions") or ()),
        )
    raise InvalidInput(_("无法识别的检查结果。"), code="bad_answer")


def _item_result(item: ChecklistItem, answer: Answer) -> tuple[str, float]:
    """(outcome, share of the item's weight earned)."""
    if answer.outcome == Outcome.NA:
        return Outcome.NA, 0.0
    if item.type == "measure":
        if answer.value is None and answer.outcome in (Outcome.PASS, Outcome.FAIL):
            outcome = answer.outcome
        else:
            outcome = judge_measure(item, answer.value)
        return outcome, 1.0 if outcome == Outcome.PASS else 0.0
    if item.type == "score":
        max_score = item.max_score or 1.0
        if answer.score is not None and not answer.deductions:
            score = float(answer.score)
        elif answer.deductions:
            points = 0.0
            for d in answer.deductions:
                if isinstance(d, int) and 0 <= d < len(item.deductions):
                    points += item.deductions[d].points
                else:
                    match = next((x for x in item.deductions if x.label == d), None)
                    if match is None:
                        raise InvalidInput(
                            _("未知的扣分项：%(d)s") % {"d": d}, code="bad_answer", item=item.key
                        )
                    points += match.points
            score = max_score - points
        elif answer.outcome in (Outcome.PASS, Outcome.FAIL):
            score = max_score if answer.outcome == Outcome.PASS else 0.0
        else:
            raise InvalidInput(_("请填写得分。"), code="score_missing", item=item.key)
        score = min(max(score, 0.0), max_score)
        # Any point lost is a finding against the item's clause.
        return (Outcome.PASS if score >= max_score else Outcome.FAIL), score / max_score
    if answer.outcome not in (Outcome.PASS, Outcome.FAIL):
        raise InvalidInput(_("请选择符合或不符合。"), code="bad_answer", item=item.key)
    return answer.outcome, 1.0 if answer.outcome == Outcome.PASS else 0.0


def grade_checklist(
    checklist: Checklist, answers: Mapping[str, Any], *, partial: bool = False
) -> Grade:
    """Score and grade a filled checklist.

    Score: weighted share earned over the applicable (not ``na``) items, in percent (100
    when nothing applies). Grade: the first band whose ``max_failed`` counts and
    ``min_score`` all hold, else ``fail_grade``; a ``pass_line`` must hold as well. With
    no bands, passed iff the score reaches the pass line (or, without one, nothing
    failed). Unanswered items are refused unless ``partial`` (then they count as na).
    """
    unknown = sorted(set(answers) - {it.key for it in checklist.items})
    missing = [it.key for it in checklist.items if it.key not in answers]
    if unknown:
        raise InvalidInput(
            _("检查表中没有这些检查项。"), code="checklist_unknown_items", items=unknown
        )
    if missing and not partial:
        raise InvalidInput(_("还有检查项未填写。"), code="checklist_incomplete", items=missing)
    earned = possible = 0.0
    failed: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    failed_items: list[str] = []
    outcomes: dict[str, str] = {}
    for item in checklist.items:
        if item.key not in answers:
            outcomes[item.key] = Outcome.NA
            continue
        outcome, share = _item_result(item, _as_answer(answers[item.key]))
        outcomes[item.key] = outcome
        if outcome == Outcome.NA:
            continue
        possible += item.weight
        earned += item.weight * share
        if outcome == Outcome.FAIL:
            failed[item.severity] = failed.get(item.severity, 0) + 1
            failed_items.append(item.key)
    score = round(100.0 * earned / possible, 4) if possible else 100.0
    line_ok = checklist.pass_line is None or score >= checklist.pass_line
    if checklist.grades:
        for band in checklist.grades:
            if all(failed.get(sev, 0) <= n for sev, n in band.max_failed.items()) and (
                band.min_score is None or score >= band.min_score
            ):
                return Grade(
                    score,
                    failed,
                    failed_items,
                    band.grade,
                    band.passed and line_ok,
                    band.label,
                    outcomes,
                )
        return Grade(score, failed, failed_items, checklist.fail_grade, False, "", outcomes)
    passed = line_ok if checklist.pass_line is not None else not failed_items
    grade = "pass" if passed else checklist.fail_grade
    return Grade(score, failed, failed_items, grade, passed, "", outcomes)


# --- KPI -------------------------------------------------------------------------------


def judge_kpi(rule: EffectiveRule, value: float | None) -> str:
    """pass/fail against the rule's threshold; na when there is no value (no data)."""
    params = rule.params
    if not isinstance(params, KpiParams):
        raise TypeError(f"rule {rule.key} is not a kpi rule")
    if value is None:
        return Outcome.NA
    ok = value >= params.threshold if params.comparison == ">=" else value <= params.threshold
    return Outcome.PASS if ok else Outcome.FAIL


def kpi_rules(
    org: Any, indicator: str | None = None, at: datetime | None = None
) -> list[EffectiveRule]:
    return effective.effective_rules(
        org, kind=RuleKind.KPI, target=f"kpi:{indicator}" if indicator else None, at=at
    )


# --- booking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingRuleSet:
    """The merged booking constraints of a resource class; ``sources`` names the rule
    that set each constraint (``lead_time``, ``max_duration``, ``max_advance``,
    ``windows``, ``approval``, ``field:<name>``)."""

    resource_class: str
    lead_time_minutes: int = 0
    max_advance_days: int | None = None
    max_duration_minutes: int | None = None
    windows: tuple[Window, ...] = ()
    requires_approval: bool = False
    required_fields: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    emergency_register_after: bool = False
    sources: dict[str, EffectiveRule] = field(default_factory=dict)

    def cite(self, constraint: str) -> dict[str, Any] | None:
        rule = self.sources.get(constraint)
        return rule.cite() if rule else None


def merge_booking(rules: Iterable[EffectiveRule], resource_class: str) -> BookingRuleSet:
    """The strictest of every constraint over the rules for ``resource_class``."""
    chosen = [
        r
        for r in rules
        if isinstance(r.params, BookingParams) and r.params.resource_class == resource_class
    ]
    sources: dict[str, EffectiveRule] = {}
    lead, advance, duration, approval = 0, None, None, False
    fields: list[str] = []
    priority: list[str] = []
    emergency = False
    windows_rule: EffectiveRule | None = None
    for rule in chosen:
        p: BookingParams = rule.params  # type: ignore[assignment]
        if p.lead_time_minutes > lead:
            lead, sources["lead_time"] = p.lead_time_minutes, rule
        if p.max_advance_days is not None and (advance is None or p.max_advance_days < advance):
            advance, sources["max_advance"] = p.max_advance_days, rule
        if p.max_duration_minutes is not None and (
            duration is None or p.max_duration_minutes < duration
        ):
            duration, sources["max_duration"] = p.max_duration_minutes, rule
        if p.requires_approval and not approval:
            approval, sources["approval"] = True, rule
        for name in p.required_fields:
            if name not in fields:
                fields.append(name)
                sources[f"field:{name}"] = rule
        priority += [x for x in p.priority if x not in priority]
        emergency = emergency or p.emergency_register_after
        if p.windows and (
            windows_rule is None or p.lead_time_minutes > windows_rule.params.lead_time_minutes  # type: ignore[union-attr]
        ):
            windows_rule = rule
    if windows_rule is not None:
        sources["windows"] = windows_rule
    return BookingRuleSet(
        resource_class=resource_class,
        lead_time_minutes=lead,
        max_advance_days=advance,
        max_duration_minutes=duration,
        windows=tuple(windows_rule.params.windows) if windows_rule else (),  # type: ignore[union-attr]
        requires_approval=approval,
        required_fields=tuple(fields),
        priority=tuple(priority),
        emergency_register_after=emergency,
        sources=sources,
    )


def booking_rules(org: Any, resource_class: str, at: datetime | None = None) -> BookingRuleSet:
    rules = effective.effective_rules(
        org, kind=RuleKind.BOOKING, target=f"booking:{resource_class}", at=at
    )
    return merge_booking(rules, resource_class)


def _duration_text(minutes: int) -> str:
    if minutes % 1440 == 0:
        return _("%(n)s 天") % {"n": minutes // 1440}
    if minutes % 60 == 0:
        return _("%(n)s 小时") % {"n": minutes // 60}
    return _("%(n)s 分钟") % {"n": minutes}


def _in_window(window: Window, t: datetime) -> bool:
    from dayuan.workcalendar.calendar import is_workday

    if window.days == "workdays" and not is_workday(t.date()):
        return False
    clock = t.time().replace(tzinfo=None)
    return window.start <= clock < window.end


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict | set) and not value)


def check_booking(
    ruleset: BookingRuleSet,
    *,
    start: datetime,
    end: datetime,
    requested_at: datetime,
    fields: Mapping[str, Any] | None = None,
) -> list[Violation]:
    """Every constraint the booking breaks, each citing the clause that set it.

    Lead time and advance limit are wall-clock time from the request to the start;
    windows say when requests are accepted (local time, ``workdays`` on the working
    calendar, the end minute excluded).
    """
    fields = fields or {}
    out: list[Violation] = []

    def add(constraint: str, code: str, message: str) -> None:
        rule = ruleset.sources[constraint]
        out.append(Violation.of(rule, message, blocking=True, code=code))

    if end <= start:
        raise InvalidInput(_("结束时间须晚于开始时间。"), code="booking_bad_range")
    lead = start - requested_at
    if ruleset.lead_time_minutes and lead < timedelta(minutes=ruleset.lead_time_minutes):
        add(
            "lead_time",
            "lead_time",
            _("须至少提前 %(t)s 预订") % {"t": _duration_text(ruleset.lead_time_minutes)},
        )
    if ruleset.max_advance_days is not None and lead > timedelta(days=ruleset.max_advance_days):
        add(
            "max_advance",
            "max_advance",
            _("最多只能提前 %(n)s 天预订") % {"n": ruleset.max_advance_days},
        )
    if ruleset.max_duration_minutes is not None and end - start > timedelta(
        minutes=ruleset.max_duration_minutes
    ):
        add(
            "max_duration",
            "max_duration",
            _("单次预订不得超过 %(t)s") % {"t": _duration_text(ruleset.max_duration_minutes)},
        )
    if ruleset.windows:
        local = requested_at.astimezone(SHANGHAI)
        if not any(_in_window(w, local) for w in ruleset.windows):
            shown = "、".join(
                f"{w.start:%H:%M}–{w.end:%H:%M}" + (_("（工作日）") if w.days == "workdays" else "")
                for w in ruleset.windows
            )
            add("windows", "window", _("只在以下时段受理预订：%(w)s") % {"w": shown})
    for name in ruleset.required_fields:
        if _blank(fields.get(name)):
            add(f"field:{name}", "required_field", _("缺少必填项：%(f)s") % {"f": name})
    return out
