"""Assessment runs: collect the inputs, freeze them, score, publish, appeal, finalise.

A run assesses one subject (a contract's vendor, or an org) for one period (a month, a
quarter, a year: ``period_start`` is the first day of it). ``compute`` collects every
input the score depends on into ``Run.inputs`` — the scheme as it stands (indicators,
deduction rules, bands, pass line), each computed indicator's value, each person's
score with its id and scorer, each matched finding or event with its rule's points
and money, the fee's terms and the payment formula — as canonical JSON (sorted keys,
numbers as strings), hashed into ``inputs_hash``. ``evaluate(inputs)`` is a pure
function of that dict and gives every number of the run; ``recompute(run)`` is
``evaluate(run.inputs)`` and gives the same numbers bit for bit, whatever has changed
in the data since.

How the score is made (``evaluate``):

- a computed indicator earns ``weight × clamp((value − floor) / (target − floor), 0,
  1)``: the same formula serves "higher is better" (target above floor) and "lower is
  better" (target below floor); without a target and floor, 100 and 0 (higher) or 0
  and 100 (lower). No value (nothing to measure) leaves the indicator out, and the
  others are scaled up to the scheme's full weight (the factor is in each item's
  detail);
- a scored indicator earns ``weight × mean of the scores / max_score`` (max_score
  defaults to the weight); one without any score refuses the compute
  (``unscored_items``);
- deductions: each matched finding or event costs its rule's points and money; the
  points are capped at the scheme's ``max_deduction``; the score is ``max(0, weighted
  − points)``, rounded half-up to 2 places;
- the grade is the first band (highest first) whose ``min_score`` the score reaches;
  ``passed`` is score ≥ pass line;
- the fee is ``monthly_fee × months of the period × covered days / days of the
  period`` (the days the contract covers); the payable amount is the contract's
  formula (``payment.payable``).

Where the values come from (``collect``): a contract run measures the contract's org
subtree with ``vendor=`` the contract's vendor; an org run measures the subject's
subtree. A ``kpi`` indicator takes the kpi rules in force at the end of the period at
the run's org, from the contract's attached standards (for an org run: every kpi rule
in force at the subject), computes each rule's indicator over the period (passing the
rule's filters the indicator accepts, such as ``timer``), judges it against the
rule's threshold and gives the share of the judged rules that passed, in percent
(rules with no data are left out; no judged rule, no value). Deductions match the
findings naming the vendor (an org run: raised in the subject's subtree) raised in the
period and not cancelled, by severity, and the deduction events against the subject
that occurred in the period and were not cancelled (a contract run: events of that
contract or of none), by type.

States: draft → computed → review → published → final, and published → appealed →
final. Compute is allowed in draft, computed and review (it recollects everything and
leaves the run computed). An appeal names items (indicator keys, or ``deductions``);
upheld, it reopens those only: their scores are superseded (the scorers score again),
computed values and deductions are measured again at the next compute, everything
else stays as frozen; that compute makes the run final. Dismissed, the run is final at
once. Every transition is a ``RunEvent`` and an audit entry.

Who: ``assessment.manage`` at the run's org creates, assigns, computes, publishes,
finalises and decides appeals. Scoring needs an assignment (``RunAssessor``) whose
role is the item's ``scorer_role``; a third-party assessor sees and scores only the
runs assigned to them. The assessed party's own people (``assessment.appeal`` granted
at the subject org or below) may appeal within ``ASSESSMENT_APPEAL_DAYS`` (7) days of
publication.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.accounts.choices import Role
from dayuan.accounts.models import Grant, User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.periods import Period
from dayuan.core.scope import grants_of, org_in_scope
from dayuan.notifications.services import emit
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization
from dayuan.standards import engine
from dayuan.standards.choices import Outcome
from dayuan.standards.indicators import INDICATORS
from dayuan.workorders.tasks import role_holders

from . import events, payment, queries
from .choices import (
    AppealStatus,
    ContractStatus,
    DeductionKind,
    IndicatorSort,
    PeriodKind,
    RunStatus,
    ScorerRole,
    SubjectKind,
)
from .models import (
    Appeal,
    Contract,
    DeductionEvent,
    ItemScore,
    Run,
    RunAssessor,
    RunEvent,
    RunItem,
    Scheme,
)

INPUTS_FORMAT = 1
DEDUCTIONS_KEY = "deductions"  # an appeal may name the deductions besides indicator keys
CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")
MONTHS = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}
COMPUTABLE = (RunStatus.DRAFT, RunStatus.COMPUTED, RunStatus.REVIEW)
RUN_FIELDS = [
    "status",
    "score",
    "grade",
    "passed",
    "deduction_points",
    "deduction_money",
    "fee",
    "payable",
    "inputs_hash",
    "version",
]
MAX_TEXT = 2000


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _text(value: str | None, label: str, max_length: int, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(_("请填写%(field)s。") % {"field": label}, code="required")
    if len(value) > max_length:
        raise InvalidInput(
            _("%(field)s不能超过 %(n)s 个字符。") % {"field": label, "n": max_length},
            code="too_long",
        )
    return value


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _str(value: Any) -> str | None:
    """A number as frozen in the inputs: floats by their shortest exact repr, Decimals as
    written (never a float in the JSON, so the hash does not depend on a float printer)."""
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- periods -------------------------------------------------------------------------------


def period_end(kind: str, start: date) -> date:
    """The last day (inclusive) of the period starting on ``start``."""
    months = MONTHS[PeriodKind(kind)]
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, 1) - timedelta(days=1)


def check_period(kind: str, start: Any) -> tuple[str, date, date]:
    """A valid (kind, first day, last day): months start on the 1st, quarters on 1 Jan,
    Apr, Jul or Oct, years on 1 Jan."""
    if kind not in PeriodKind.values:
        raise InvalidInput(_("考核周期无效。"), code="invalid_period", field="period_kind")
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start)
        except ValueError:
            start = None
    if isinstance(start, datetime) or not isinstance(start, date):
        raise InvalidInput(_("考核期开始日期无效。"), code="invalid_period", field="period_start")
    first = start.day == 1 and (
        kind == PeriodKind.MONTH
        or (kind == PeriodKind.QUARTER and start.month in (1, 4, 7, 10))
        or (kind == PeriodKind.YEAR and start.month == 1)
    )
    if not first:
        raise InvalidInput(
            _("考核期须从月、季度或年度的第一天开始。"),
            code="invalid_period",
            field="period_start",
        )
    return kind, start, period_end(kind, start)


# --- evaluation (pure) -----------------------------------------------------------------------


@dataclass
class ItemResult:
    key: str
    sort: str
    weight: Decimal
    value: Decimal | None  # the measured value, or the mean score; None: no data
    points: Decimal | None  # earned (before rescaling), 2 places; None: no data
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    items: list[ItemResult]
    weighted: Decimal  # the weighted sum after rescaling, unrounded
    factor: Decimal  # the rescaling factor (1 when every indicator has data)
    deduction_points: Decimal  # capped
    deduction_points_uncapped: Decimal
    deduction_money: Decimal
    score: Decimal
    grade: str
    grade_label: str
    passed: bool
    fee: Decimal
    payable: Decimal | None  # None: no formula (an org run)
    working: list[dict[str, Any]]


def canonical(inputs: Mapping[str, Any]) -> str:
    return json.dumps(inputs, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def inputs_hash(inputs: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(inputs).encode()).hexdigest()


def _ratio(value: Decimal, ind: Mapping[str, Any]) -> Decimal:
    lower = ind.get("better") == "lower"
    target = _dec(ind.get("target"))
    floor = _dec(ind.get("floor"))
    if target is None:
        target = ZERO if lower else HUNDRED
    if floor is None:
        floor = HUNDRED if lower else ZERO
    if target == floor:
        met = value <= target if lower else value >= target
        return Decimal(1) if met else ZERO
    return min(Decimal(1), max(ZERO, (value - floor) / (target - floor)))


def _item(ind: Mapping[str, Any], inputs: Mapping[str, Any]) -> ItemResult:
    key, weight = ind["key"], Decimal(ind["weight"])
    if ind["sort"] == IndicatorSort.SCORED:
        scores = inputs["scores"].get(key) or []
        max_score = _dec(ind.get("max_score")) or weight
        mean = sum((Decimal(s["score"]) for s in scores), ZERO) / len(scores)
        points = weight * mean / max_score
        detail = {
            "scores": scores,
            "mean": str(_cents(mean)),
            "max_score": str(max_score),
            "points_exact": str(points),
        }
        return ItemResult(key, ind["sort"], weight, mean, points, detail)
    measured = inputs["values"].get(key) or {}
    value = _dec(measured.get("value"))
    detail = dict(measured)
    if value is None:
        return ItemResult(key, ind["sort"], weight, None, None, {**detail, "no_data": True})
    ratio = _ratio(value, ind)
    points = weight * ratio
    detail.update(ratio=str(ratio), points_exact=str(points))
    return ItemResult(key, ind["sort"], weight, value, points, detail)


def _grade(score: Decimal, scheme: Mapping[str, Any]) -> tuple[str, str]:
    bands = sorted(scheme.get("grades") or [], key=lambda b: Decimal(str(b["min_score"])))
    for band in reversed(bands):
        if Decimal(str(band["min_score"])) <= score:
            return str(band.get("grade", "")), str(band.get("label", ""))
    return "fail", str(scheme.get("fail_label", ""))


def _fee(terms: Mapping[str, Any] | None) -> Decimal:
    if not terms:
        return Decimal("0.00")
    whole = Decimal(terms["monthly_fee"]) * terms["months"]
    return _cents(whole * terms["covered_days"] / terms["period_days"])


def evaluate(inputs: Mapping[str, Any]) -> Evaluation:
    """Every number of a run from its frozen inputs, and nothing else (no database, no
    clock): the same inputs give the same Evaluation, bit for bit."""
    unscored = [
        ind["key"]
        for ind in inputs["scheme"]["indicators"]
        if ind["sort"] == IndicatorSort.SCORED and not inputs["scores"].get(ind["key"])
    ]
    if unscored:
        raise InvalidInput(
            _("以下评分指标尚无评分：%(keys)s") % {"keys": "、".join(unscored)},
            code="unscored_items",
            keys=unscored,
        )
    scheme = inputs["scheme"]
    with localcontext() as ctx:
        ctx.prec = 28
        ctx.rounding = ROUND_HALF_UP
        items = [_item(ind, inputs) for ind in scheme["indicators"]]
        total = sum((i.weight for i in items), ZERO)
        with_data = sum((i.weight for i in items if i.points is not None), ZERO)
        if not with_data:
            raise InvalidInput(
                _("本期所有指标均无数据，无法计算得分。"),
                code="no_data",
                keys=[i.key for i in items],
            )
        factor = total / with_data
        earned = sum((i.points for i in items if i.points is not None), ZERO)
        weighted = earned * factor
        if factor != 1:
            for i in items:
                i.detail["rescale"] = {"factor": str(factor), "weight_with_data": str(with_data)}
        for i in items:
            if i.points is not None:
                i.points = _cents(i.points)
        matches = inputs.get("deductions") or []
        points_raw = sum((Decimal(m["points"]) for m in matches), ZERO)
        money = _cents(sum((Decimal(m["money"]) for m in matches), ZERO))
        cap = _dec(scheme.get("max_deduction"))
        points = min(points_raw, cap) if cap is not None else points_raw
        score = _cents(max(ZERO, weighted - points))
        grade, label = _grade(score, scheme)
        pass_line = Decimal(scheme["pass_line"])
        passed = score >= pass_line
        fee = _fee(inputs.get("fee"))
    amount, working = None, []
    if inputs.get("formula"):
        amount, working = payment.payable(
            inputs["formula"],
            {
                "score": score,
                "passed": passed,
                "fee": fee,
                "deduction_money": money,
                "deduction_points": _cents(points),
                "pass_line": pass_line,
            },
        )
    return Evaluation(
        items=items,
        weighted=weighted,
        factor=factor,
        deduction_points=_cents(points),
        deduction_points_uncapped=_cents(points_raw),
        deduction_money=money,
        score=score,
        grade=grade,
        grade_label=label,
        passed=passed,
        fee=fee,
        payable=amount,
        working=working,
    )


def recompute(run: Run) -> Evaluation:
    """The run's numbers again from its frozen inputs (they equal the stored ones)."""
    return evaluate(run.inputs)


# --- collecting the inputs ---------------------------------------------------------------


def _scheme_snapshot(scheme: Scheme) -> dict[str, Any]:
    return {
        "id": scheme.pk,
        "code": scheme.code,
        "name": scheme.name,
        "subject_kind": scheme.subject_kind,
        "pass_line": _str(scheme.pass_line),
        "max_deduction": _str(scheme.max_deduction),
        "grades": [
            {
                "grade": str(b.get("grade", "")),
                "label": str(b.get("label", "")),
                "min_score": _str(b.get("min_score")),
            }
            for b in scheme.grades or []
        ],
        "fail_label": _("不合格"),
        "indicators": [
            {
                "key": i.key,
                "label": i.label,
                "sort": i.sort,
                "source": i.source,
                "weight": _str(i.weight),
                "target": _str(i.target),
                "floor": _str(i.floor),
                "better": i.better,
                "max_score": _str(i.max_score),
                "scorer_role": i.scorer_role,
            }
            for i in scheme.indicators.order_by("position", "id")
        ],
        "deduction_rules": [
            {
                "kind": r.kind,
                "match": r.match,
                "points": _str(r.points),
                "money": _str(r.money),
                "rectify_days": r.rectify_days,
            }
            for r in scheme.deduction_rules.order_by("kind", "match")
        ],
    }


@dataclass(frozen=True)
class _Scope:
    """Where a run's data lives: an org subtree, optionally one vendor's share of it."""

    org: Organization
    vendor: Organization | None
    period: Period
    rules_at: datetime  # when the kpi rules are read: the period's end, or now


def _scope(run: Run, now: datetime) -> _Scope:
    period = Period(run.period_start, run.period_end)
    at = min(period.end, now)
    if run.contract_id:
        return _Scope(run.contract.org, run.subject_org, period, at)
    return _Scope(run.subject_org, None, period, at)


def _call(compute: Any, scope: _Scope, filters: Mapping[str, Any] | None = None) -> Any:
    accepted = inspect.signature(compute).parameters
    kwargs = {k: v for k, v in (filters or {}).items() if k in accepted and k != "vendor"}
    return compute(scope.org, scope.period.start, scope.period.end, vendor=scope.vendor, **kwargs)


def _kpi(run: Run, scope: _Scope) -> dict[str, Any]:
    rules = engine.kpi_rules(scope.org, at=scope.rules_at)
    if run.contract_id:
        attached = set(run.contract.standards.values_list("pk", flat=True))
        rules = [r for r in rules if r.standard_id in attached]
    judged = []
    for rule in sorted(rules, key=lambda r: (r.standard_code, r.clause_number, r.key)):
        params = rule.params
        indicator = INDICATORS.get(params.indicator)
        value = (
            _call(indicator.compute, scope, params.filters)
            if indicator is not None and indicator.compute is not None
            else None
        )
        judged.append(
            {
                "rule": rule.key,
                "standard": rule.standard_code,
                "clause": rule.clause_number,
                "indicator": params.indicator,
                "comparison": params.comparison,
                "threshold": _str(float(params.threshold)),
                "value": _str(None if value is None else float(value)),
                "outcome": str(engine.judge_kpi(rule, value)),
            }
        )
    passed = sum(1 for j in judged if j["outcome"] == Outcome.PASS)
    counted = sum(1 for j in judged if j["outcome"] != Outcome.NA)
    value = round(100.0 * passed / counted, 2) if counted else None
    return {
        "source": "kpi",
        "value": _str(value),
        "numerator": passed,
        "denominator": counted,
        "rules": judged,
    }


def _measure(ind: Mapping[str, Any], run: Run, scope: _Scope) -> dict[str, Any]:
    source = ind["source"]
    if source == "kpi":
        return _kpi(run, scope)
    indicator = INDICATORS.get(source)
    if indicator is None or indicator.compute is None:
        return {"source": source, "value": None, "unavailable": True}
    value = _call(indicator.compute, scope)
    return {"source": source, "value": _str(None if value is None else float(value))}


def _scores(run: Run, keys: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    rows = (
        ItemScore.objects.filter(item__run=run, item__key__in=list(keys), superseded=False)
        .order_by("item__key", "id")
        .values("id", "item__key", "scorer_id", "score")
    )
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for r in rows:
        out[r["item__key"]].append(
            {"id": r["id"], "scorer_id": r["scorer_id"], "score": _str(r["score"])}
        )
    return out


def _deductions(run: Run, scope: _Scope, rules: Sequence[Mapping[str, Any]]) -> list[dict]:
    from dayuan.inspections.choices import FindingStatus
    from dayuan.inspections.models import Finding

    start, end = scope.period.start, scope.period.end
    by_severity = {r["match"]: r for r in rules if r["kind"] == DeductionKind.FINDING}
    by_type = {r["match"]: r for r in rules if r["kind"] == DeductionKind.EVENT}
    out: list[dict[str, Any]] = []

    def add(kind: str, rule: Mapping[str, Any], **row: Any) -> None:
        out.append(
            {
                "kind": kind,
                "match": rule["match"],
                "points": rule["points"],
                "money": rule["money"],
                "rectify_days": rule["rectify_days"],
                **row,
            }
        )

    if by_severity:
        findings = Finding.objects.filter(
            raised_at__gte=start, raised_at__lt=end, severity__in=list(by_severity)
        ).exclude(status=FindingStatus.CANCELLED)
        if run.contract_id:
            findings = findings.filter(
                vendor=run.subject_org, org__path__startswith=run.contract.org.path
            )
        else:
            findings = findings.filter(org__path__startswith=run.subject_org.path)
        for f in findings.order_by("raised_at", "id").values(
            "id", "number", "severity", "raised_at", "description"
        ):
            add(
                DeductionKind.FINDING,
                by_severity[f["severity"]],
                id=f["id"],
                ref=f["number"],
                at=f["raised_at"].isoformat(),
                description=f["description"][:200],
            )
    if by_type:
        evts = DeductionEvent.objects.filter(
            subject_org=run.subject_org,
            occurred_at__gte=start,
            occurred_at__lt=end,
            cancelled=False,
            event_type__in=list(by_type),
        )
        if run.contract_id:
            evts = evts.filter(Q(contract__isnull=True) | Q(contract_id=run.contract_id))
        for e in evts.order_by("occurred_at", "id").values(
            "id", "event_type", "occurred_at", "description"
        ):
            add(
                DeductionKind.EVENT,
                by_type[e["event_type"]],
                id=e["id"],
                ref="",
                at=e["occurred_at"].isoformat(),
                description=e["description"][:200],
            )
    return out


def _fee_terms(run: Run) -> dict[str, Any] | None:
    contract = run.contract
    if contract is None:
        return None
    first = max(run.period_start, contract.starts_on)
    last = min(run.period_end, contract.ends_on)
    covered = max(0, (last - first).days + 1)
    return {
        "monthly_fee": _str(contract.monthly_fee),
        "months": MONTHS[PeriodKind(run.period_kind)],
        "period_days": (run.period_end - run.period_start).days + 1,
        "covered_days": covered,
    }


def collect(run: Run, now: datetime) -> dict[str, Any]:
    """Every input of the run, as of now (reads the database; ``evaluate`` does not)."""
    scheme = _scheme_snapshot(run.scheme)
    scope = _scope(run, now)
    indicators = scheme["indicators"]
    return {
        "format": INPUTS_FORMAT,
        "run": {
            "id": run.pk,
            "org_id": run.org_id,
            "subject_org_id": run.subject_org_id,
            "contract_id": run.contract_id,
            "period_kind": run.period_kind,
            "period_start": run.period_start.isoformat(),
            "period_end": run.period_end.isoformat(),
        },
        "collected_at": now.isoformat(),
        "scheme": scheme,
        "values": {
            i["key"]: _measure(i, run, scope)
            for i in indicators
            if i["sort"] == IndicatorSort.COMPUTED
        },
        "scores": _scores(run, [i["key"] for i in indicators if i["sort"] == IndicatorSort.SCORED]),
        "deductions": _deductions(run, scope, scheme["deduction_rules"]),
        "fee": _fee_terms(run),
        "formula": run.contract.payment_formula if run.contract_id else "",
    }


def _recollect(run: Run, appeal: Appeal, now: datetime) -> dict[str, Any]:
    """The frozen inputs with the items an upheld appeal named measured (or scored)
    again; everything else as frozen."""
    inputs = copy.deepcopy(run.inputs)
    keys = set(appeal.item_keys)
    scope = _scope(run, now)
    indicators = inputs["scheme"]["indicators"]
    for ind in indicators:
        if ind["key"] not in keys:
            continue
        if ind["sort"] == IndicatorSort.COMPUTED:
            inputs["values"][ind["key"]] = _measure(ind, run, scope)
        else:
            inputs["scores"].update(_scores(run, [ind["key"]]))
    if DEDUCTIONS_KEY in keys:
        inputs["deductions"] = _deductions(run, scope, inputs["scheme"]["deduction_rules"])
    inputs.setdefault("reopened", []).append(
        {"appeal_id": appeal.pk, "keys": sorted(keys), "at": now.isoformat()}
    )
    return inputs


# --- helpers of the services ---------------------------------------------------------------


def _lock(actor: Any, run_id: int) -> Run:
    """The run, locked, if the actor may see it (else 404, so its existence stays hidden)."""
    run = (
        Run.objects.select_for_update(of=("self",))
        .select_related("org", "subject_org", "scheme", "contract", "contract__org")
        .filter(pk=run_id)
        .first()
    )
    if run is None or not queries.runs(actor).filter(pk=run.pk).exists():
        raise NotFound(_("考核不存在或无权访问。"))
    return run


def _check_version(run: Run, version: int | None) -> None:
    if version is not None and run.version != version:
        raise StaleVersion(current_version=run.version)


def _require_status(run: Run, *allowed: str) -> None:
    if run.status not in allowed:
        raise Conflict(
            _("考核当前状态为“%(status)s”，不能执行此操作。")
            % {"status": RunStatus(run.status).label},
            code="invalid_state",
            status=run.status,
        )


def _event(run: Run, actor: Any, action: str, now: datetime, note: str = "", **data: Any) -> None:
    RunEvent.objects.create(
        run=run,
        at=now,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        note=note,
        data=data,
    )


def _save(run: Run, before: dict[str, Any], actor: Any, action: str, **extra: Any) -> None:
    run.version += 1
    run.save()
    changes = diff(before, snapshot(run, RUN_FIELDS))
    changes.update(extra)
    record(
        f"assessment.run.{action}",
        actor=actor if getattr(actor, "pk", None) else None,
        obj=run,
        changes=changes,
    )


def _link(run: Run) -> str:
    return f"/assessment/runs/{run.pk}/"


def _subject_people(run: Run) -> list[User]:
    """The assessed party's own people: those holding ``assessment.appeal`` at the
    subject org itself."""
    grants = Grant.objects.filter(
        org=run.subject_org,
        role__in=policy.roles_for("assessment.appeal"),
        user__is_active=True,
    ).select_related("user")
    return list({g.user_id: g.user for g in grants}.values())


def _title(run: Run) -> str:
    return _("%(subject)s %(start)s 至 %(end)s 考核") % {
        "subject": run.subject_org.name,
        "start": run.period_start.isoformat(),
        "end": run.period_end.isoformat(),
    }


def _tell_subject(run: Run, actor: Any, event_type: str, title: str, body: str, key: str) -> None:
    emit(
        event_type,
        org=run.subject_org,
        actor=actor if getattr(actor, "pk", None) else None,
        recipients=_subject_people(run),
        title=title,
        body=body,
        link=_link(run),
        object=run,
        dedupe_key=f"assessment:run:{run.pk}:{key}",
        payload={"run_id": run.pk, "score": _str(run.score), "payable": _str(run.payable)},
    )


def _tell_assessor(run: Run, actor: Any, user: User, key: str, body: str) -> None:
    """An assessor of another organisation (the third party) is told under their own
    org: their grants do not reach the run's."""
    org = run.org if org_in_scope(user, run.org) else user.home_org
    emit(
        events.SCORING_ASSIGNED,
        org=org,
        actor=actor,
        recipients=[user],
        title=_("考核评分任务：%(title)s") % {"title": _title(run)},
        body=body,
        link=_link(run),
        object=run,
        dedupe_key=f"assessment:run:{run.pk}:{key}:{user.pk}",
    )


# --- creating runs ---------------------------------------------------------------------------


def _new_run(
    actor: Any,
    scheme: Scheme,
    kind: str,
    start: date,
    end: date,
    *,
    org: Organization,
    subject: Organization,
    contract: Contract | None,
    now: datetime,
) -> Run:
    exists = Run.objects.filter(
        scheme=scheme, subject_org=subject, period_kind=kind, period_start=start
    ).exists()
    if exists:
        raise Conflict(_("该对象本期的考核已存在。"), code="run_exists")
    try:
        with transaction.atomic():
            run = Run.objects.create(
                org=org,
                scheme=scheme,
                contract=contract,
                subject_org=subject,
                period_kind=kind,
                period_start=start,
                period_end=end,
                created_by=actor,
            )
    except IntegrityError as exc:
        raise Conflict(_("该对象本期的考核已存在。"), code="run_exists") from exc
    RunItem.objects.bulk_create(
        RunItem(run=run, indicator=i, key=i.key, sort=i.sort, weight=i.weight)
        for i in scheme.indicators.order_by("position", "id")
    )
    _event(run, actor, "created", now)
    record(
        "assessment.run.create",
        actor=actor,
        obj=run,
        changes=diff(
            {},
            snapshot(
                run,
                ["scheme_id", "contract_id", "subject_org_id", "period_kind", "period_start"],
            ),
        ),
    )
    return run


def _covers(contract: Contract, start: date, end: date) -> bool:
    return contract.starts_on <= end and contract.ends_on >= start


@audited("assessment.create_run")
def create_run(
    *,
    actor: Any,
    scheme_id: int,
    period_kind: str,
    period_start: date,
    contract_id: int | None = None,
    subject_org_id: int | None = None,
    now: datetime | None = None,
) -> Run:
    """A draft run of a contract (its vendor) or of an org, with one item per indicator."""
    now = _now(now)
    kind, start, end = check_period(period_kind, period_start)
    scheme = queries.schemes(actor).filter(pk=scheme_id).first()
    if scheme is None:
        raise NotFound(_("考核方案不存在或无权访问。"))
    if not scheme.is_active:
        raise InvalidInput(_("该考核方案已停用。"), code="scheme_inactive", field="scheme_id")
    if scheme.subject_kind == SubjectKind.CONTRACT:
        contract = (
            queries.contracts(actor).select_related("org", "vendor").filter(pk=contract_id).first()
            if contract_id is not None
            else None
        )
        if contract is None:
            raise NotFound(_("合同不存在或无权访问。"))
        if contract.scheme_id != scheme.pk:
            raise InvalidInput(
                _("该合同未采用此考核方案。"), code="scheme_mismatch", field="scheme_id"
            )
        if contract.status == ContractStatus.DRAFT:
            raise InvalidInput(
                _("合同尚未生效，不能考核。"), code="contract_not_active", field="contract_id"
            )
        if not _covers(contract, start, end):
            raise InvalidInput(
                _("考核期不在合同期内。"), code="outside_contract", field="period_start"
            )
        org, subject = contract.org, contract.vendor
    else:
        subject = Organization.objects.filter(pk=subject_org_id, is_active=True).first()
        if subject is None or not subject.path.startswith(scheme.org.path) or subject == scheme.org:
            raise InvalidInput(
                _("被考核单位须为方案所属单位的下级单位。"),
                code="invalid_subject",
                field="subject_org_id",
            )
        contract, org = None, scheme.org
    policy.require(actor, "assessment.manage", org)
    return _new_run(
        actor, scheme, kind, start, end, org=org, subject=subject, contract=contract, now=now
    )


@audited("assessment.create_runs")
def create_runs(
    *,
    actor: Any,
    org_id: int,
    period_kind: str,
    period_start: date,
    now: datetime | None = None,
) -> list[Run]:
    """The period's runs of an org in one go: one per active contract in its subtree
    that covers the period, and, for each org scheme of the org, one per centre
    directly below it. Runs that exist already are skipped; returns the new ones."""
    now = _now(now)
    kind, start, end = check_period(period_kind, period_start)
    org = Organization.objects.filter(pk=org_id, is_active=True).first()
    if org is None or not policy.can(actor, "assessment.view", org):
        raise NotFound(_("单位不存在或无权访问。"))
    policy.require(actor, "assessment.manage", org)
    existing = set(
        Run.objects.filter(period_kind=kind, period_start=start).values_list(
            "scheme_id", "subject_org_id"
        )
    )
    created: list[Run] = []
    contracts = (
        Contract.objects.filter(
            org__path__startswith=org.path,
            status=ContractStatus.ACTIVE,
            starts_on__lte=end,
            ends_on__gte=start,
            scheme__is_active=True,
        )
        .select_related("org", "vendor", "scheme")
        .order_by("number")
    )
    for contract in contracts:
        if (contract.scheme_id, contract.vendor_id) in existing:
            continue
        existing.add((contract.scheme_id, contract.vendor_id))
        created.append(
            _new_run(
                actor,
                contract.scheme,
                kind,
                start,
                end,
                org=contract.org,
                subject=contract.vendor,
                contract=contract,
                now=now,
            )
        )
    schemes = Scheme.objects.filter(org=org, subject_kind=SubjectKind.ORG, is_active=True)
    units = list(
        Organization.objects.filter(
            parent=org, is_active=True, kind__in=OrgKind.centres()
        ).order_by("path")
    )
    for scheme in schemes.order_by("code"):
        for unit in units:
            if (scheme.pk, unit.pk) in existing:
                continue
            existing.add((scheme.pk, unit.pk))
            created.append(
                _new_run(
                    actor, scheme, kind, start, end, org=org, subject=unit, contract=None, now=now
                )
            )
    return created


# --- assessors and scores ----------------------------------------------------------------------


@audited("assessment.assign")
def assign_assessor(
    *, actor: Any, run_id: int, user_id: int, role: str, now: datetime | None = None
) -> RunAssessor:
    """Assign a manager or a third-party assessor to score the run's items of that role
    (the same assignment again is returned as it is)."""
    now = _now(now)
    run = _lock(actor, run_id)
    policy.require(actor, "assessment.manage", run.org)
    _require_status(run, *COMPUTABLE)
    if role not in ScorerRole.values:
        raise InvalidInput(_("评分人角色无效。"), code="invalid_role", field="role")
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise InvalidInput(_("用户不存在或已停用。"), code="invalid_user", field="user_id")
    if role == ScorerRole.ASSESSOR:
        ok = any(g.role == Role.ASSESSOR for g in grants_of(user))
    else:
        ok = org_in_scope(user, run.org, roles={Role.MANAGER})
    if not ok:
        raise InvalidInput(
            _("该用户不能以此角色评分。"), code="invalid_assessor", field="user_id", role=role
        )
    if any(g.org.path.startswith(run.subject_org.path) for g in grants_of(user)):
        raise InvalidInput(
            _("被考核单位的人员不能评分。"), code="invalid_assessor", field="user_id"
        )
    found = RunAssessor.objects.filter(run=run, user=user).first()
    if found is not None:
        if found.role != role:
            raise Conflict(
                _("该用户已以其他角色参与评分。"), code="already_assigned", role=found.role
            )
        return found
    assignment = RunAssessor.objects.create(
        run=run, user=user, role=role, assigned_by=actor, assigned_at=now
    )
    _event(run, actor, "assigned", now, user_id=user.pk, role=role)
    record(
        "assessment.run.assign",
        actor=actor,
        obj=assignment,
        changes={"run_id": run.pk, "user_id": user.pk, "role": role},
    )
    _tell_assessor(run, actor, user, "assigned", _("请对您负责的考核指标评分并填写依据。"))
    return assignment


def _reopened_by_appeal(run: Run) -> set[str]:
    """The item keys the run's upheld appeal reopened (while it is being redone)."""
    if run.status != RunStatus.APPEALED:
        return set()
    appeal = run.appeals.order_by("-created_at", "-id").first()
    if appeal is None or appeal.status != AppealStatus.UPHELD:
        return set()
    return set(appeal.item_keys)


@audited("assessment.score")
def score_item(
    *,
    actor: Any,
    run_id: int,
    item_key: str,
    score: Any,
    comment: str = "",
    evidence: str = "",
    now: datetime | None = None,
) -> ItemScore:
    """An assigned scorer scores one item of their role (again: the score is replaced)."""
    now = _now(now)
    run = _lock(actor, run_id)
    assignment = RunAssessor.objects.filter(run=run, user=actor).first()
    if assignment is None:
        raise PermissionDenied(_("您未被指派为本次考核评分。"), code="not_assigned")
    policy.require(
        actor,
        "assessment.score",
        run.org if assignment.role == ScorerRole.MANAGER else None,
    )
    item = RunItem.objects.select_related("indicator").filter(run=run, key=item_key).first()
    if item is None:
        raise InvalidInput(_("考核指标不存在。"), code="unknown_item", field="item_key")
    if item.sort != IndicatorSort.SCORED:
        raise InvalidInput(
            _("该指标由数据计算，不能人工评分。"), code="not_scored_item", field="item_key"
        )
    if item.indicator.scorer_role != assignment.role:
        raise PermissionDenied(
            _("该指标不由您的角色评分。"),
            code="wrong_scorer_role",
            scorer_role=item.indicator.scorer_role,
        )
    if run.status not in COMPUTABLE and item.key not in _reopened_by_appeal(run):
        raise Conflict(
            _("考核已提交或公布，不能再评分。"), code="scoring_closed", status=run.status
        )
    max_score = item.indicator.max_score or item.weight
    try:
        value = Decimal(str(score))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(_("评分须为数字。"), code="invalid_score", field="score") from exc
    if isinstance(score, bool) or not value.is_finite() or not ZERO <= value <= max_score:
        raise InvalidInput(
            _("评分须在 0 到 %(max)s 之间。") % {"max": max_score},
            code="invalid_score",
            field="score",
        )
    value = _cents(value)
    comment = _text(comment, _("评语"), 1000, required=False)
    evidence = _text(evidence, _("依据"), MAX_TEXT, required=False)
    row = ItemScore.objects.filter(item=item, scorer=actor, superseded=False).first()
    before = snapshot(row, ["score", "comment", "evidence"]) if row else {}
    if row is None:
        row = ItemScore(item=item, scorer=actor)
    row.score, row.comment, row.evidence = value, comment, evidence
    row.save()
    record(
        "assessment.run.score",
        actor=actor,
        obj=row,
        changes={
            "run_id": run.pk,
            "item_key": item.key,
            **diff(before, snapshot(row, ["score", "comment", "evidence"])),
        },
    )
    return row


# --- computing -----------------------------------------------------------------------------


def _store(run: Run, inputs: dict[str, Any], ev: Evaluation, now: datetime) -> None:
    run.inputs = inputs
    run.inputs_hash = inputs_hash(inputs)
    run.score = ev.score
    run.grade = ev.grade
    run.grade_label = ev.grade_label
    run.passed = ev.passed
    run.deduction_points = ev.deduction_points
    run.deduction_money = ev.deduction_money
    run.fee = ev.fee
    run.payable = ev.payable
    run.payable_working = ev.working
    run.computed_at = now
    items = {i.key: i for i in RunItem.objects.filter(run=run)}
    missing = [
        RunItem(run=run, indicator=ind, key=ind.key, sort=ind.sort, weight=ind.weight)
        for ind in run.scheme.indicators.all()
        if ind.key not in items
    ]
    for created in RunItem.objects.bulk_create(missing):
        items[created.key] = created
    changed = []
    for result in ev.items:
        item = items[result.key]
        item.value = None if result.value is None else float(result.value)
        item.points = result.points
        item.weight = result.weight
        item.detail = result.detail
        changed.append(item)
    RunItem.objects.bulk_update(changed, ["value", "points", "weight", "detail"])


@audited("assessment.compute")
def compute(
    *, actor: Any, run_id: int, version: int | None = None, now: datetime | None = None
) -> Run:
    """Collect and freeze the inputs, evaluate, store the items and the result.

    In draft, computed or review: everything is collected afresh and the run is
    computed. After an upheld appeal: only the reopened items are collected again, and
    the run is final."""
    now = _now(now)
    run = _lock(actor, run_id)
    policy.require(actor, "assessment.manage", run.org)
    _check_version(run, version)
    reopened = _reopened_by_appeal(run)
    if run.status == RunStatus.APPEALED and not reopened:
        raise Conflict(_("申诉尚未处理，不能重新计算。"), code="appeal_open")
    if not reopened:
        _require_status(run, *COMPUTABLE)
    before = snapshot(run, RUN_FIELDS)
    if reopened:
        appeal = run.appeals.order_by("-created_at", "-id").first()
        inputs = _recollect(run, appeal, now)
    else:
        inputs = collect(run, now)
    ev = evaluate(inputs)
    _store(run, inputs, ev, now)
    data = {
        "score": _str(ev.score),
        "payable": _str(ev.payable),
        "inputs_hash": run.inputs_hash,
    }
    if reopened:
        run.status = RunStatus.FINAL
        run.finalised_at = now
        _event(run, actor, "recomputed", now, reopened=sorted(reopened), **data)
        _event(run, actor, "finalised", now)
        _save(run, before, actor, "compute")
        _tell_subject(
            run,
            actor,
            events.RUN_FINAL,
            _("考核结果已确定：%(title)s") % {"title": _title(run)},
            _("申诉指标已重新评定，得分 %(score)s。") % {"score": run.score},
            "final",
        )
    else:
        run.status = RunStatus.COMPUTED
        _event(run, actor, "computed", now, **data)
        _save(run, before, actor, "compute")
    return run


def _check_scores_frozen(run: Run) -> None:
    """Refuse to go on when a score changed after the compute (compute again first)."""
    keys = list((run.inputs.get("scores") or {}).keys())
    if _scores(run, keys) != run.inputs.get("scores", {}):
        raise Conflict(_("计算后评分有变更，请重新计算。"), code="scores_changed")


@audited("assessment.submit")
def submit_for_review(
    *, actor: Any, run_id: int, version: int | None = None, now: datetime | None = None
) -> Run:
    now = _now(now)
    run = _lock(actor, run_id)
    policy.require(actor, "assessment.manage", run.org)
    _check_version(run, version)
    _require_status(run, RunStatus.COMPUTED)
    _check_scores_frozen(run)
    before = snapshot(run, RUN_FIELDS)
    run.status = RunStatus.REVIEW
    _event(run, actor, "submitted", now)
    _save(run, before, actor, "submit")
    return run


@audited("assessment.publish")
def publish(
    *, actor: Any, run_id: int, version: int | None = None, now: datetime | None = None
) -> Run:
    """Publish a reviewed run: the assessed party sees it and may appeal."""
    now = _now(now)
    run = _lock(actor, run_id)
    policy.require(actor, "assessment.manage", run.org)
    _check_version(run, version)
    _require_status(run, RunStatus.REVIEW)
    _check_scores_frozen(run)
    before = snapshot(run, RUN_FIELDS)
    run.status = RunStatus.PUBLISHED
    run.published_at = now
    _event(run, actor, "published", now, score=_str(run.score), payable=_str(run.payable))
    _save(run, before, actor, "publish")
    days = appeal_days()
    _tell_subject(
        run,
        actor,
        events.RUN_PUBLISHED,
        _("考核结果公布：%(title)s") % {"title": _title(run)},
        _("得分 %(score)s（%(grade)s）。如有异议，请在 %(days)s 日内提出申诉。")
        % {"score": run.score, "grade": run.grade_label, "days": days},
        "published",
    )
    return run


def appeal_days() -> int:
    return int(getattr(settings, "ASSESSMENT_APPEAL_DAYS", 7))


def appeal_deadline(run: Run) -> datetime | None:
    if run.published_at is None:
        return None
    return run.published_at + timedelta(days=appeal_days())


def _finalise(run: Run, actor: Any, now: datetime, note: str = "") -> None:
    before = snapshot(run, RUN_FIELDS)
    run.status = RunStatus.FINAL
    run.finalised_at = now
    _event(run, actor, "finalised", now, note=note)
    _save(run, before, actor, "finalise")
    _tell_subject(
        run,
        actor,
        events.RUN_FINAL,
        _("考核结果已确定：%(title)s") % {"title": _title(run)},
        _("得分 %(score)s，应付金额 %(payable)s 元。")
        % {"score": run.score, "payable": run.payable if run.payable is not None else "—"},
        "final",
    )


@audited("assessment.finalise")
def finalise(
    *, actor: Any, run_id: int, version: int | None = None, now: datetime | None = None
) -> Run:
    """Make a published run final: a manager at any time (the party gives up its
    appeal, or the centre closes the period)."""
    now = _now(now)
    run = _lock(actor, run_id)
    policy.require(actor, "assessment.manage", run.org)
    _check_version(run, version)
    _require_status(run, RunStatus.PUBLISHED)
    _finalise(run, actor, now)
    return run


def finalise_due(now: datetime | None = None) -> int:
    """The job: published runs whose appeal window has passed become final (no actor).
    Returns how many."""
    now = _now(now)
    cutoff = now - timedelta(days=appeal_days())
    ids = list(
        Run.objects.filter(status=RunStatus.PUBLISHED, published_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    done = 0
    for pk in ids:
        with transaction.atomic():
            run = (
                Run.objects.select_for_update(of=("self",))
                .select_related("subject_org")
                .filter(pk=pk, status=RunStatus.PUBLISHED)
                .first()
            )
            if run is not None:
                _finalise(run, None, now, note=_("申诉期已过"))
                done += 1
    return done


# --- appeals ---------------------------------------------------------------------------------


def _is_party(actor: Any, run: Run) -> bool:
    roles = policy.roles_for("assessment.appeal")
    return any(
        g.role in roles and g.org.path.startswith(run.subject_org.path) for g in grants_of(actor)
    )


@audited("assessment.appeal")
def appeal(
    *,
    actor: Any,
    run_id: int,
    item_keys: Sequence[str],
    reason: str,
    now: datetime | None = None,
) -> Appeal:
    """The assessed party contests named items of a published run, within the window."""
    now = _now(now)
    run = _lock(actor, run_id)
    if not _is_party(actor, run):
        raise PermissionDenied(_("只有被考核单位可以申诉。"), code="not_party")
    _require_status(run, RunStatus.PUBLISHED)
    deadline = appeal_deadline(run)
    if deadline is None or now > deadline:
        raise Conflict(
            _("已超过申诉期限（公布后 %(days)s 日）。") % {"days": appeal_days()},
            code="appeal_window_closed",
        )
    known = set(run.items.values_list("key", flat=True)) | {DEDUCTIONS_KEY}
    keys: list[str] = []
    for key in item_keys or ():
        key = str(key)
        if key not in known:
            raise InvalidInput(
                _("申诉指标不存在：%(key)s") % {"key": key}, code="unknown_item", field="item_keys"
            )
        if key not in keys:
            keys.append(key)
    if not keys:
        raise InvalidInput(_("请选择申诉的指标。"), code="required", field="item_keys")
    reason = _text(reason, _("申诉理由"), MAX_TEXT)
    filed = Appeal.objects.create(run=run, item_keys=keys, reason=reason, filed_by=actor)
    record(
        "assessment.appeal.file",
        actor=actor,
        obj=filed,
        changes={"run_id": run.pk, "item_keys": keys, "reason": reason},
    )
    before = snapshot(run, RUN_FIELDS)
    run.status = RunStatus.APPEALED
    _event(run, actor, "appealed", now, note=reason, appeal_id=filed.pk, item_keys=keys)
    _save(run, before, actor, "appeal", appeal_id=filed.pk)
    emit(
        events.APPEAL_FILED,
        org=run.org,
        actor=actor,
        recipients=role_holders(run.org, {Role.MANAGER}),
        title=_("考核申诉：%(title)s") % {"title": _title(run)},
        body=reason[:200],
        link=_link(run),
        object=filed,
        dedupe_key=f"assessment:appeal:{filed.pk}:filed",
    )
    return filed


@audited("assessment.decide_appeal")
def decide_appeal(
    *,
    actor: Any,
    appeal_id: int,
    upheld: bool,
    decision: str,
    now: datetime | None = None,
) -> Appeal:
    """Uphold (reopen the named items: scorers score again, values are measured again
    at the next compute, which makes the run final) or dismiss (the run is final)."""
    now = _now(now)
    found = Appeal.objects.filter(pk=appeal_id).values_list("run_id", flat=True).first()
    if found is None:
        raise NotFound(_("申诉不存在或无权访问。"))
    run = _lock(actor, found)
    policy.require(actor, "assessment.manage", run.org)
    filed = Appeal.objects.select_for_update().select_related("filed_by").get(pk=appeal_id)
    if filed.status != AppealStatus.OPEN or run.status != RunStatus.APPEALED:
        raise Conflict(_("该申诉已处理。"), code="appeal_decided")
    decision = _text(decision, _("处理意见"), MAX_TEXT)
    filed.status = AppealStatus.UPHELD if upheld else AppealStatus.DISMISSED
    filed.decided_by = actor
    filed.decided_at = now
    filed.decision = decision
    filed.save()
    record(
        "assessment.appeal.decide",
        actor=actor,
        obj=filed,
        changes={"status": [AppealStatus.OPEN, filed.status], "decision": decision},
    )
    emit(
        events.APPEAL_DECIDED,
        org=run.subject_org,
        actor=actor,
        recipients=[filed.filed_by, *_subject_people(run)],
        title=_("申诉处理结果：%(title)s") % {"title": _title(run)},
        body=(_("申诉成立：") if upheld else _("申诉驳回：")) + decision[:200],
        link=_link(run),
        object=filed,
        dedupe_key=f"assessment:appeal:{filed.pk}:decided",
    )
    if not upheld:
        _event(run, actor, "appeal_dismissed", now, note=decision, appeal_id=filed.pk)
        _finalise(run, actor, now)
        return filed
    keys = set(filed.item_keys)
    items = list(run.items.select_related("indicator").filter(key__in=keys))
    RunItem.objects.filter(pk__in=[i.pk for i in items]).update(reopened=True)
    scored = [i for i in items if i.sort == IndicatorSort.SCORED]
    ItemScore.objects.filter(item__in=scored, superseded=False).update(superseded=True)
    _event(
        run, actor, "appeal_upheld", now, note=decision, appeal_id=filed.pk, item_keys=sorted(keys)
    )
    before = snapshot(run, RUN_FIELDS)
    _save(run, before, actor, "reopen", appeal_id=filed.pk, item_keys=sorted(keys))
    roles = {i.indicator.scorer_role for i in scored}
    for assignment in RunAssessor.objects.filter(run=run, role__in=roles).select_related(
        "user", "user__home_org"
    ):
        _tell_assessor(
            run,
            actor,
            assignment.user,
            f"reopened:{filed.pk}",
            _("申诉成立，请重新评分：%(keys)s") % {"keys": "、".join(sorted(keys))},
        )
    return filed
