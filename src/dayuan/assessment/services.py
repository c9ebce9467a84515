"""Every change to schemes, contracts and deduction events; surveys in ``surveys``
(their writers are re-exported here, so ``services`` is the one door to every write).

Schemes and contracts are configuration edited by the managers of a centre
(``assessment.manage``): every refusal names the field and a stable code, and an edit
sends the version it read (409 ``stale_version`` otherwise). A scheme's indicators and
deduction rules are replaced as a whole, and only while no run has gone past draft
(a computed run's numbers must stay explainable by the scheme it used).

Deduction events (通报批评, 媒体曝光 …) are recorded by whoever may deduct
(``assessment.deduct``) and tell the subject's people, with a rectification deadline.
``now`` is for tests and jobs; callers leave it out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from dayuan.accounts.models import Grant, User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound
from dayuan.notifications.services import emit
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Location, Organization
from dayuan.standards.choices import Severity
from dayuan.standards.indicators import INDICATORS
from dayuan.standards.models import Adoption, Standard
from dayuan.workorders.models import ServiceCategory

from . import events
from .choices import (
    Better,
    ContractStatus,
    DeductionKind,
    EventType,
    IndicatorSort,
    RunStatus,
    ScorerRole,
    SubjectKind,
)
from .models import (
    Contract,
    DeductionEvent,
    DeductionRule,
    RunItem,
    Scheme,
    SchemeIndicator,
)
from .surveys import (
    close_survey,
    create_survey,
    open_survey,
    respond,
    survey_results,
)
from .validation import (
    acting_org,
    check_version,
    clean_decimal,
    clean_text,
    int_ids,
    now_of,
    org_contract,
    subject_of,
    under,
)

__all__ = [
    "cancel_event",
    "close_survey",
    "create_survey",
    "open_survey",
    "record_event",
    "respond",
    "save_contract",
    "save_scheme",
    "survey_results",
]

KPI_SOURCE = "kpi"  # every kpi rule of the contract's standards
MAX_INDICATORS = 50
MAX_RECTIFY_DAYS = 365
WEIGHT_TOTAL = Decimal("100")

SCHEME_FIELDS = [
    "code",
    "name",
    "subject_kind",
    "description",
    "pass_line",
    "grades",
    "max_deduction",
    "is_active",
    "version",
]
CONTRACT_FIELDS = [
    "vendor_id",
    "number",
    "title",
    "status",
    "categories",
    "starts_on",
    "ends_on",
    "monthly_fee",
    "area_m2",
    "headcount",
    "scheme_id",
    "payment_formula",
    "version",
]
INDICATOR_FIELDS = [
    "label",
    "sort",
    "source",
    "weight",
    "target",
    "floor",
    "better",
    "max_score",
    "scorer_role",
    "guidance",
]


# --- schemes ----------------------------------------------------------------------------


def _grades(grades: Any) -> list[dict[str, Any]]:
    """Bands highest first, strictly descending ``min_score`` in 0–100, unique keys."""
    if not isinstance(grades, list | tuple):
        raise InvalidInput(_("等级设置无效。"), code="invalid_grades", field="grades")
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    previous: Decimal | None = None
    for i, band in enumerate(grades):
        if not isinstance(band, Mapping):
            raise InvalidInput(_("等级设置无效。"), code="invalid_grades", field="grades", index=i)
        key = str(band.get("grade") or "").strip()
        label = str(band.get("label") or "").strip()
        if not key or not label or len(key) > 20 or len(label) > 40 or key in seen:
            raise InvalidInput(
                _("第 %(n)s 个等级的名称缺失、过长或重复。") % {"n": i + 1},
                code="invalid_grades",
                field="grades",
                index=i,
            )
        minimum = clean_decimal(
            band.get("min_score"),
            _("等级最低分"),
            "grades",
            code="invalid_grades",
            minimum=Decimal(0),
            maximum=WEIGHT_TOTAL,
        )
        if previous is not None and minimum >= previous:
            raise InvalidInput(
                _("等级须按最低分从高到低排列。"),
                code="grades_order",
                field="grades",
                index=i,
            )
        previous = minimum
        seen.add(key)
        result.append({"grade": key, "label": label, "min_score": float(minimum)})
    return result


def _indicators(rows: Any) -> list[dict[str, Any]]:
    """Validated indicator rows (model field names); weights must total 100."""
    if not isinstance(rows, list | tuple) or not rows:
        raise InvalidInput(_("请至少设置一项考核指标。"), code="no_indicators", field="indicators")
    if len(rows) > MAX_INDICATORS:
        raise InvalidInput(
            _("考核指标不能超过 %(n)s 项。") % {"n": MAX_INDICATORS},
            code="too_many_indicators",
            field="indicators",
        )
    result: list[dict[str, Any]] = []
    keys: set[str] = set()
    total = Decimal(0)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(
                _("考核指标无效。"), code="invalid_indicator", field="indicators", index=i
            )
        key = str(row.get("key") or "").strip()
        if not key or slugify(key) != key or len(key) > 40:
            raise InvalidInput(
                _("第 %(n)s 项指标的标识无效（字母、数字、连字符）。") % {"n": i + 1},
                code="invalid_key",
                field="indicators",
                index=i,
            )
        if key in keys:
            raise InvalidInput(
                _("指标标识“%(key)s”重复。") % {"key": key},
                code="duplicate_key",
                field="indicators",
                index=i,
            )
        keys.add(key)
        label = clean_text(row.get("label"), _("指标名称"), 100, "indicators")
        sort = row.get("sort")
        if sort not in IndicatorSort.values:
            raise InvalidInput(
                _("指标“%(key)s”的类型无效。") % {"key": key},
                code="invalid_sort",
                field="indicators",
                index=i,
            )
        weight = clean_decimal(
            row.get("weight"),
            _("权重"),
            "indicators",
            code="invalid_weight",
            positive=True,
            maximum=WEIGHT_TOTAL,
        )
        total += weight
        clean: dict[str, Any] = {
            "key": key,
            "label": label,
            "sort": sort,
            "weight": weight,
            "guidance": clean_text(
                row.get("guidance"), _("评分细则"), 2000, "indicators", required=False
            ),
            "position": i,
            "source": "",
            "target": None,
            "floor": None,
            "better": Better.HIGHER,
            "max_score": None,
            "scorer_role": "",
        }
        if sort == IndicatorSort.COMPUTED:
            clean.update(_computed(row, key, i))
        else:
            clean.update(_scored(row, key, i))
        result.append(clean)
    if total != WEIGHT_TOTAL:
        raise InvalidInput(
            _("各项指标权重之和须为 100，当前为 %(total)s。") % {"total": total.normalize()},
            code="weights_sum",
            field="indicators",
            total=str(total),
        )
    return result


def _computed(row: Mapping[str, Any], key: str, i: int) -> dict[str, Any]:
    source = str(row.get("source") or "").strip()
    if source != KPI_SOURCE and source not in INDICATORS:
        raise InvalidInput(
            _("指标“%(key)s”的数据来源“%(source)s”未登记。") % {"key": key, "source": source},
            code="unknown_source",
            field="indicators",
            index=i,
        )
    default_better = INDICATORS[source].better if source in INDICATORS else Better.HIGHER
    better = row.get("better") or default_better
    if better not in Better.values:
        raise InvalidInput(_("指标方向无效。"), code="invalid_better", field="indicators", index=i)
    values = []
    for name, label in (("target", _("满分值")), ("floor", _("零分值"))):
        values.append(
            float(clean_decimal(row.get(name), label, "indicators", code="invalid_range", places=6))
        )
    target, floor = values
    if (better == Better.HIGHER and target <= floor) or (
        better == Better.LOWER and target >= floor
    ):
        raise InvalidInput(
            _("指标“%(key)s”的满分值须优于零分值。") % {"key": key},
            code="invalid_range",
            field="indicators",
            index=i,
        )
    return {"source": source, "better": better, "target": target, "floor": floor}


def _scored(row: Mapping[str, Any], key: str, i: int) -> dict[str, Any]:
    if row.get("max_score") in (None, ""):
        raise InvalidInput(
            _("人工评分指标“%(key)s”须设置评分满分。") % {"key": key},
            code="missing_max_score",
            field="indicators",
            index=i,
        )
    max_score = clean_decimal(
        row.get("max_score"), _("评分满分"), "indicators", code="missing_max_score", positive=True
    )
    role = row.get("scorer_role")
    if role not in ScorerRole.values:
        raise InvalidInput(
            _("人工评分指标“%(key)s”须指定评分人。") % {"key": key},
            code="missing_scorer_role",
            field="indicators",
            index=i,
        )
    return {"max_score": max_score, "scorer_role": role}


def _deduction_rules(rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list | tuple):
        raise InvalidInput(_("扣分规则无效。"), code="invalid_deduction", field="deduction_rules")
    result: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or row.get("kind") not in DeductionKind.values:
            raise InvalidInput(
                _("扣分规则的类型无效。"),
                code="invalid_deduction",
                field="deduction_rules",
                index=i,
            )
        kind = row["kind"]
        match = str(row.get("match") or "")
        allowed = Severity.values if kind == DeductionKind.FINDING else EventType.values
        if match not in allowed:
            raise InvalidInput(
                _("扣分规则匹配“%(match)s”无效。") % {"match": match},
                code="invalid_match",
                field="deduction_rules",
                index=i,
            )
        if (kind, match) in seen:
            raise InvalidInput(
                _("扣分规则重复。"), code="duplicate_rule", field="deduction_rules", index=i
            )
        seen.add((kind, match))
        points = clean_decimal(
            row.get("points", 0),
            _("扣分"),
            "deduction_rules",
            code="invalid_deduction",
            minimum=Decimal(0),
            maximum=WEIGHT_TOTAL,
        )
        money = clean_decimal(
            row.get("money", 0),
            _("扣款"),
            "deduction_rules",
            code="invalid_deduction",
            minimum=Decimal(0),
            maximum=Decimal("9999999999"),
        )
        if not points and not money:
            raise InvalidInput(
                _("扣分规则须设置扣分或扣款。"),
                code="empty_deduction",
                field="deduction_rules",
                index=i,
            )
        days = row.get("rectify_days", 0) or 0
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_RECTIFY_DAYS:
            raise InvalidInput(
                _("整改期限须为 0–%(n)s 天。") % {"n": MAX_RECTIFY_DAYS},
                code="invalid_rectify_days",
                field="deduction_rules",
                index=i,
            )
        result.append(
            {"kind": kind, "match": match, "points": points, "money": money, "rectify_days": days}
        )
    return result


def _children_snapshot(scheme: Scheme) -> dict[str, Any]:
    return _snapshot_children(
        scheme.indicators.order_by("position", "id"), scheme.deduction_rules.order_by("id")
    )


def _snapshot_children(indicators: Iterable[Any], rules: Iterable[Any]) -> dict[str, Any]:
    """The scheme's indicators and deduction rules in a comparable, JSON-ready form."""

    def value(v: Any) -> Any:
        return f"{v:.2f}" if isinstance(v, Decimal) else v  # as the columns keep it

    def row(obj: Any, fields: Sequence[str]) -> dict[str, Any]:
        get = obj.get if isinstance(obj, Mapping) else lambda f: getattr(obj, f)
        return {f: value(get(f)) for f in fields}

    return {
        "indicators": [row(i, ["key", *INDICATOR_FIELDS]) for i in indicators],
        "deduction_rules": [
            row(r, ["kind", "match", "points", "money", "rectify_days"]) for r in rules
        ],
    }


def _replace_children(
    scheme: Scheme, indicators: list[dict[str, Any]], rules: list[dict[str, Any]]
) -> None:
    """Indicators are matched by key (kept rows keep their id, so draft runs' items stay
    attached); a removed indicator takes the draft runs' items for it along."""
    existing = {ind.key: ind for ind in scheme.indicators.all()}
    wanted = {row["key"] for row in indicators}
    removed = [ind.pk for key, ind in existing.items() if key not in wanted]
    if removed:
        RunItem.objects.filter(indicator_id__in=removed, run__status=RunStatus.DRAFT).delete()
        SchemeIndicator.objects.filter(pk__in=removed).delete()
    for row in indicators:
        ind = existing.get(row["key"]) or SchemeIndicator(scheme=scheme, key=row["key"])
        for name, val in row.items():
            setattr(ind, name, val)
        ind.save()
    scheme.deduction_rules.all().delete()
    DeductionRule.objects.bulk_create(DeductionRule(scheme=scheme, **row) for row in rules)


@audited("assessment.save_scheme")
def save_scheme(
    *,
    actor: Any,
    org_id: int,
    code: str,
    name: str,
    subject_kind: str,
    pass_line: Any,
    grades: Any,
    indicators: Any,
    deduction_rules: Any,
    max_deduction: Any = None,
    description: str = "",
    scheme_id: int | None = None,
    version: int | None = None,
) -> Scheme:
    """Define or edit a centre's scheme. Children are replaced as a whole, refused
    (``scheme_in_use``) once a run using the scheme has been computed."""
    org = acting_org(actor, org_id, "assessment.manage")
    if org.kind not in OrgKind.centres():
        raise InvalidInput(
            _("考核方案须由市级或县级中心制定。"), code="invalid_org", field="org_id"
        )
    code = clean_text(code, _("方案编号"), 60, "code")
    if slugify(code) != code:
        raise InvalidInput(
            _("方案编号只能包含字母、数字和连字符。"), code="invalid_code", field="code"
        )
    name = clean_text(name, _("方案名称"), 100, "name")
    description = clean_text(description, _("说明"), 4000, "description", required=False)
    if subject_kind not in SubjectKind.values:
        raise InvalidInput(_("考核对象无效。"), code="invalid_subject_kind", field="subject_kind")
    pass_line = clean_decimal(
        pass_line,
        _("合格线"),
        "pass_line",
        code="invalid_pass_line",
        minimum=Decimal(0),
        maximum=WEIGHT_TOTAL,
    )
    grades = _grades(grades)
    if max_deduction not in (None, ""):
        max_deduction = clean_decimal(
            max_deduction,
            _("扣分上限"),
            "max_deduction",
            code="invalid_max_deduction",
            positive=True,
            maximum=WEIGHT_TOTAL,
        )
    else:
        max_deduction = None
    rows = _indicators(indicators)
    rules = _deduction_rules(deduction_rules)

    if scheme_id is None:
        scheme = Scheme(org=org)
        before: dict[str, Any] = {}
        before_children: dict[str, Any] = {}
    else:
        scheme = Scheme.objects.select_for_update().filter(pk=scheme_id, org=org).first()
        if scheme is None:
            raise NotFound()
        check_version(scheme, version)
        if scheme.runs.exclude(status=RunStatus.DRAFT).exists():
            raise Conflict(
                _("该方案已用于已计算的考核，不能修改指标；请另建新方案。"),
                code="scheme_in_use",
            )
        if subject_kind != scheme.subject_kind and scheme.contracts.exists():
            raise Conflict(_("该方案已用于服务合同，不能改变考核对象。"), code="scheme_in_use")
        before = snapshot(scheme, SCHEME_FIELDS)
        before_children = _children_snapshot(scheme)
        scheme.version += 1
    scheme.code, scheme.name, scheme.subject_kind = code, name, subject_kind
    scheme.description, scheme.pass_line, scheme.grades = description, pass_line, grades
    scheme.max_deduction = max_deduction
    try:
        with transaction.atomic():
            scheme.save()
    except IntegrityError:
        raise InvalidInput(
            _("方案编号“%(code)s”已存在。") % {"code": code}, code="duplicate_code", field="code"
        ) from None
    _replace_children(scheme, rows, rules)
    changes = diff(before, snapshot(scheme, SCHEME_FIELDS))
    changes.update(diff(before_children, _snapshot_children(rows, rules)))
    record("assessment.save_scheme", actor=actor, obj=scheme, changes=changes)
    return scheme


# --- contracts ------------------------------------------------------------------------------


def _vendor(vendor_id: int | None, org: Organization) -> Organization:
    """A vendor of the org's subtree, or an external org (vendor, enterprise, social
    organisation) registered at a centre above it, e.g. a city-wide supplier; never one
    of a sibling subtree, nor a third-party assessor."""
    vendor = Organization.objects.filter(pk=vendor_id, is_active=True).first()
    if vendor is not None:
        below = vendor.kind == OrgKind.VENDOR and under(vendor, org) and vendor.pk != org.pk
        external = vendor.kind in OrgKind.external() - {OrgKind.ASSESSOR}
        above = external and vendor.parent is not None and under(org, vendor.parent)
        if below or above:
            return vendor
    raise InvalidInput(
        _("服务单位须为本单位下属的外包服务单位或上级登记的外部单位。"),
        code="invalid_vendor",
        field="vendor_id",
    )


def _scheme_for(scheme_id: int | None, org: Organization, kind: str) -> Scheme:
    scheme = Scheme.objects.select_related("org").filter(pk=scheme_id, is_active=True).first()
    if scheme is None or not under(org, scheme.org) or scheme.subject_kind != kind:
        raise InvalidInput(_("考核方案不可用。"), code="invalid_scheme", field="scheme_id")
    return scheme


def _categories(values: Any, org: Organization) -> list[str]:
    if not isinstance(values, list | tuple):
        raise InvalidInput(_("服务类别无效。"), code="invalid_category", field="categories")
    codes = sorted({str(v).strip() for v in values})
    if not codes:
        return []
    ancestors = [org.path[:i] for i in range(1, len(org.path) + 1) if org.path[i - 1] == "."]
    known = set(
        ServiceCategory.objects.filter(
            Q(org__path__in=ancestors) | Q(org__path__startswith=org.path), code__in=codes
        ).values_list("code", flat=True)
    )
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise InvalidInput(
            _("服务类别不存在：%(codes)s。") % {"codes": "、".join(unknown)},
            code="invalid_category",
            field="categories",
            codes=unknown,
        )
    return codes


def _locations(ids: list[int], org: Organization) -> list[Location]:
    locations = list(
        Location.objects.filter(pk__in=ids, is_active=True, org__path__startswith=org.path)
    )
    if len(locations) != len(ids):
        raise InvalidInput(
            _("服务地点须为本单位的在用场所。"), code="invalid_location", field="location_ids"
        )
    return locations


def _standards(ids: list[int], org: Organization) -> list[Standard]:
    """Standards issued on the org's path, or adopted by it or an org above."""
    if not ids:
        return []
    ancestors = [org.path[:i] for i in range(1, len(org.path) + 1) if org.path[i - 1] == "."]
    adopted = Adoption.objects.filter(org__path__in=ancestors, is_active=True).values("standard_id")
    standards = list(
        Standard.objects.filter(pk__in=ids).filter(
            Q(issuing_org__path__in=ancestors) | Q(pk__in=adopted)
        )
    )
    if len(standards) != len(ids):
        raise InvalidInput(
            _("所选标准不适用于本单位。"), code="invalid_standard", field="standard_ids"
        )
    return standards


@audited("assessment.save_contract")
def save_contract(
    *,
    actor: Any,
    org_id: int,
    vendor_id: int,
    number: str,
    title: str,
    starts_on: date,
    ends_on: date,
    monthly_fee: Any,
    scheme_id: int,
    payment_formula: str,
    categories: Sequence[str] = (),
    location_ids: Sequence[int] = (),
    standard_ids: Sequence[int] = (),
    area_m2: Any = None,
    headcount: int | None = None,
    status: str = ContractStatus.DRAFT,
    contract_id: int | None = None,
    version: int | None = None,
) -> Contract:
    """Register or edit a service contract; the formula is compiled before anything is
    saved, so a contract never holds one that cannot pay."""
    from .payment import check_formula  # the engine's module

    org = acting_org(actor, org_id, "assessment.manage")
    if org.kind in OrgKind.external():
        raise InvalidInput(_("甲方须为中心或机关单位。"), code="invalid_org", field="org_id")
    vendor = _vendor(vendor_id, org)
    number = clean_text(number, _("合同编号"), 40, "number")
    title = clean_text(title, _("合同名称"), 200, "title")
    if not isinstance(starts_on, date) or not isinstance(ends_on, date):
        raise InvalidInput(_("请填写合同期限。"), code="invalid_period", field="starts_on")
    if ends_on < starts_on:
        raise InvalidInput(
            _("合同结束日期不能早于开始日期。"), code="invalid_period", field="ends_on"
        )
    monthly_fee = clean_decimal(
        monthly_fee,
        _("月服务费"),
        "monthly_fee",
        code="invalid_fee",
        minimum=Decimal(0),
        maximum=Decimal("9999999999"),
    )
    if area_m2 not in (None, ""):
        area_m2 = clean_decimal(
            area_m2,
            _("服务面积"),
            "area_m2",
            code="invalid_area",
            positive=True,
            maximum=Decimal("9999999999"),
        )
    else:
        area_m2 = None
    if headcount is not None and (
        isinstance(headcount, bool) or not isinstance(headcount, int) or headcount <= 0
    ):
        raise InvalidInput(_("服务人数须为正整数。"), code="invalid_headcount", field="headcount")
    if status not in ContractStatus.values:
        raise InvalidInput(_("合同状态无效。"), code="invalid_status", field="status")
    scheme = _scheme_for(scheme_id, org, SubjectKind.CONTRACT)
    payment_formula = clean_text(payment_formula, _("付款公式"), 2000, "payment_formula")
    check_formula(payment_formula)
    categories = _categories(categories, org)
    locations = _locations(int_ids(location_ids, "location_ids"), org)
    standards = _standards(int_ids(standard_ids, "standard_ids"), org)

    if contract_id is None:
        contract = Contract(org=org)
        before: dict[str, Any] = {}
    else:
        contract = Contract.objects.select_for_update().filter(pk=contract_id, org=org).first()
        if contract is None:
            raise NotFound()
        check_version(contract, version)
        before = snapshot(contract, CONTRACT_FIELDS)
        before["location_ids"] = sorted(contract.locations.values_list("pk", flat=True))
        before["standard_ids"] = sorted(contract.standards.values_list("pk", flat=True))
        contract.version += 1
    contract.vendor, contract.number, contract.title = vendor, number, title
    contract.starts_on, contract.ends_on, contract.monthly_fee = starts_on, ends_on, monthly_fee
    contract.area_m2, contract.headcount, contract.status = area_m2, headcount, status
    contract.scheme, contract.payment_formula = scheme, payment_formula
    contract.categories = categories
    try:
        with transaction.atomic():
            contract.save()
    except IntegrityError:
        raise InvalidInput(
            _("合同编号“%(number)s”已存在。") % {"number": number},
            code="duplicate_number",
            field="number",
        ) from None
    contract.locations.set(locations)
    contract.standards.set(standards)
    after = snapshot(contract, CONTRACT_FIELDS)
    after["location_ids"] = sorted(loc.pk for loc in locations)
    after["standard_ids"] = sorted(std.pk for std in standards)
    record("assessment.save_contract", actor=actor, obj=contract, changes=diff(before, after))
    return contract


# --- deduction events -------------------------------------------------------------------


def _subject_people(subject: Organization) -> list[User]:
    """Who answers for the subject: its own ``assessment.appeal`` holders (the vendor's
    workers and managers, a county's managers)."""
    grants = Grant.objects.filter(
        org=subject,
        role__in=policy.ACTIONS["assessment.appeal"],
        user__is_active=True,
    ).select_related("user")
    return list({g.user_id: g.user for g in grants}.values())


def _rectify_days(days: int | None, contract: Contract | None, event_type: str) -> int | None:
    """The given days, else the contract scheme's rule for this event type (if any)."""
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= MAX_RECTIFY_DAYS:
            raise InvalidInput(
                _("整改期限须为 1–%(n)s 天。") % {"n": MAX_RECTIFY_DAYS},
                code="invalid_rectify_days",
                field="rectify_days",
            )
        return days
    if contract is None:
        return None
    rule = DeductionRule.objects.filter(
        scheme_id=contract.scheme_id, kind=DeductionKind.EVENT, match=event_type
    ).first()
    return rule.rectify_days if rule is not None and rule.rectify_days else None


@audited("assessment.record_event")
def record_event(
    *,
    actor: Any,
    org_id: int,
    subject_org_id: int,
    event_type: str,
    occurred_at: datetime,
    description: str,
    contract_id: int | None = None,
    rectify_days: int | None = None,
    now: datetime | None = None,
) -> DeductionEvent:
    """Record an event that costs the subject points or money under the deduction rules
    of its scheme, and tell the subject's people (with the rectification deadline)."""
    now = now_of(now)
    org = acting_org(actor, org_id, "assessment.deduct")
    if event_type not in EventType.values:
        raise InvalidInput(_("事件类型无效。"), code="invalid_event_type", field="event_type")
    if not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
        raise InvalidInput(_("请填写发生时间。"), code="invalid_time", field="occurred_at")
    if occurred_at > now:
        raise InvalidInput(_("发生时间不能晚于现在。"), code="invalid_time", field="occurred_at")
    description = clean_text(description, _("事件说明"), 1000, "description")
    contract = org_contract(contract_id, org)
    subject = subject_of(subject_org_id, org, contract)
    days = _rectify_days(rectify_days, contract, event_type)
    event = DeductionEvent.objects.create(
        org=org,
        subject_org=subject,
        contract=contract,
        event_type=event_type,
        occurred_at=occurred_at,
        description=description,
        rectify_deadline=now + timedelta(days=days) if days else None,
        created_by=actor,
    )
    record(
        "assessment.record_event",
        actor=actor,
        obj=event,
        changes=snapshot(
            event,
            [
                "subject_org_id",
                "contract_id",
                "event_type",
                "occurred_at",
                "description",
                "rectify_deadline",
            ],
        ),
    )
    recipients = [u for u in _subject_people(subject) if u.pk != actor.pk]
    if recipients:
        deadline = event.rectify_deadline
        body = event.description[:200]
        if deadline is not None:
            body = _("%(text)s（请于 %(deadline)s 前完成整改）") % {
                "text": body,
                "deadline": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M"),
            }
        emit(
            events.DEDUCTION_RECORDED,
            org=subject,
            actor=actor,
            recipients=recipients,
            title=_("考核扣分事件：%(type)s") % {"type": event.get_event_type_display()},
            body=body,
            link=f"/assessment/events/{event.pk}/",
            object=event,
            dedupe_key=f"dedevent:{event.pk}:recorded",
            payload={
                "event_type": event.event_type,
                "subject_org_id": subject.pk,
                "contract_id": event.contract_id,
                "rectify_deadline": deadline.isoformat() if deadline else None,
            },
        )
    return event


@audited("assessment.cancel_event")
def cancel_event(
    *, actor: Any, event_id: int, reason: str, now: datetime | None = None
) -> DeductionEvent:
    """Withdraw an event recorded in error; runs computed before keep their frozen
    inputs, later computations leave it out."""
    event = (
        DeductionEvent.objects.select_for_update(of=("self",))
        .select_related("org")
        .filter(pk=event_id)
        .first()
    )
    if event is None or not (
        policy.can(actor, "assessment.view", event.org)
        or policy.can(actor, "assessment.deduct", event.org)
    ):
        raise NotFound()
    policy.require(actor, "assessment.deduct", event.org)
    reason = clean_text(reason, _("撤销原因"), 500, "reason")
    if event.cancelled:
        raise Conflict(_("该事件已撤销。"), code="already_cancelled")
    event.cancelled = True
    event.save(update_fields=["cancelled", "updated_at"])
    record(
        "assessment.cancel_event",
        actor=actor,
        obj=event,
        changes={"cancelled": [False, True]},
        reason=reason,
    )
    return event
