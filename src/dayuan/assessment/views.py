"""Pages of contracts, schemes, deduction events, assessment runs (scores, deductions,
payable with its working, appeals), third-party assessors' scoring, the vendor's view of
its results, the ranking (一盘棋), benefit evaluation (效益评估) and surveys (考评).

Thin: reads go through ``queries`` (and ``reports``/``benefit``), every write through
``services`` and ``runs``; a refusal is shown next to the form.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from dayuan.accounts.models import User
from dayuan.core import policy
from dayuan.core.errors import DomainError
from dayuan.core.pages import apply_error, refusal
from dayuan.core.periods import Period
from dayuan.core.scope import scoped
from dayuan.orgs import queries as org_queries
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization
from dayuan.standards.indicators import INDICATORS
from dayuan.standards.models import Standard
from dayuan.workorders.models import ServiceCategory

from . import queries
from .choices import (
    AppealStatus,
    EventType,
    IndicatorSort,
    PeriodKind,
    QuestionKind,
    RunStatus,
    SurveyStatus,
)
from .forms import (
    AppealForm,
    AssignForm,
    ContractForm,
    CreateRunsForm,
    DecideForm,
    DeductionFormSet,
    EventForm,
    FormulaTestForm,
    GradeFormSet,
    IndicatorFormSet,
    RankingForm,
    ReasonForm,
    RunFilterForm,
    SchemeForm,
    ScoreForm,
    SurveyForm,
    rows_of,
)
from .models import RunAssessor, RunItem, Scheme

NAV = "assessment"
PAGE_SIZE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# a starting point for a new contract: full fee from 90, pro rata from the pass line
DEFAULT_FORMULA = (
    "score >= 90.0 ? fee - deduction_money"
    " : (passed ? fee * score / 100.0 - deduction_money : fee * 0.8 - deduction_money)"
)
SCORABLE = (RunStatus.DRAFT, RunStatus.COMPUTED, RunStatus.REVIEW, RunStatus.APPEALED)

EVENT_LABELS = {
    "created": gettext_lazy("创建"),
    "assigned": gettext_lazy("指派评分人"),
    "computed": gettext_lazy("计算得分"),
    "recomputed": gettext_lazy("重新计算"),
    "submitted": gettext_lazy("提交审核"),
    "published": gettext_lazy("公布结果"),
    "appealed": gettext_lazy("提出申诉"),
    "appeal_upheld": gettext_lazy("申诉成立"),
    "appeal_dismissed": gettext_lazy("申诉驳回"),
    "finalised": gettext_lazy("结果确定"),
}
DETAIL_LABELS = {
    "numerator": gettext_lazy("分子"),
    "denominator": gettext_lazy("分母"),
    "source": gettext_lazy("数据来源"),
    "target": gettext_lazy("满分值"),
    "floor": gettext_lazy("零分值"),
    "ratio": gettext_lazy("得分比例"),
    "no_data": gettext_lazy("无数据"),
    "rescaled": gettext_lazy("按有数据指标折算"),
    "scores": gettext_lazy("评分"),
    "mean": gettext_lazy("平均"),
    "max_score": gettext_lazy("评分满分"),
    "count": gettext_lazy("人数"),
    "rules": gettext_lazy("规则"),
    "note": gettext_lazy("说明"),
    "value": gettext_lazy("数值"),
    "points_exact": gettext_lazy("未取整得分"),
}


def _services() -> Any:
    """The write side (imported late: another helper's module)."""
    from . import services

    return services


def _runs() -> Any:
    from . import runs

    return runs


def _payment() -> Any:
    from . import payment

    return payment


def _reports() -> Any:
    from . import reports

    return reports


def _benefit() -> Any:
    from . import benefit

    return benefit


# --- common --------------------------------------------------------------------------


def _perms(user: Any) -> dict[str, bool]:
    return {
        key: policy.can(user, f"assessment.{key}")
        for key in ("view", "manage", "score", "deduct", "appeal")
    } | {"assigned": RunAssessor.objects.filter(user=user).exists()}


def _render(
    request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    ctx.setdefault("active_nav", NAV)
    ctx["perms_as"] = _perms(request.user)
    return render(request, template, ctx, status=status)


def _require(user: Any, action: str) -> None:
    if not policy.can(user, action):
        raise DjangoPermissionDenied


def _int(raw: Any) -> int | None:
    raw = str(raw or "")
    return int(raw) if raw.isdigit() else None


def _orgs(user: Any, action: str, kinds: set[str]) -> list[Organization]:
    return list(
        scoped(
            user,
            Organization.objects.filter(is_active=True, kind__in=kinds),
            roles=policy.ACTIONS[action],
        ).order_by("path")
    )


def _centres(user: Any, action: str = "assessment.manage") -> list[Organization]:
    return _orgs(user, action, OrgKind.centres())


def _vendors(user: Any, action: str = "assessment.manage") -> list[Organization]:
    return _orgs(user, action, {OrgKind.VENDOR})


def _one(getter: Any, user: Any, pk: int) -> Any:
    try:
        return getter(user, pk)
    except DomainError:
        raise Http404 from None


def _query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _period_start(kind: str, today: date) -> date:
    if kind == PeriodKind.QUARTER:
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    if kind == PeriodKind.YEAR:
        return date(today.year, 1, 1)
    return today.replace(day=1)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The section's door: the runs for managers, 我的评分 for an assessor, the results
    for the assessed party."""
    perms = _perms(request.user)
    if perms["view"]:
        return redirect("assessment:runs")
    if perms["assigned"] or perms["score"]:
        return redirect("assessment:mine")
    if perms["appeal"]:
        return redirect("assessment:results")
    raise DjangoPermissionDenied


# --- runs ------------------------------------------------------------------------------


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    """Every run the user oversees, filtered by period, status and scheme."""
    user = request.user
    _require(user, "assessment.view")
    form = RunFilterForm(request.GET or None, schemes=list(queries.schemes(user)))
    f = form.filters()
    qs = queries.run_list(user, status=f.get("status"), scheme_id=f.get("scheme"))
    if f.get("period"):
        qs = qs.filter(period_start__lte=f["period"], period_end__gte=f["period"])
    create_form = None
    if policy.can(user, "assessment.manage"):
        today = timezone.localdate()
        create_form = CreateRunsForm(
            initial={"period_kind": PeriodKind.MONTH, "period_start": today.replace(day=1)},
            orgs=_centres(user),
        )
    return _render(
        request,
        "assessment/runs.html",
        {
            "form": form,
            "create_form": create_form,
            "page": Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page")),
            "query": _query(request),
            "tab": "runs",
        },
    )


@login_required
@require_POST
def runs_create(request: HttpRequest) -> HttpResponse:
    """Create the period's runs of every active contract (and unit scheme) of an org."""
    user = request.user
    _require(user, "assessment.manage")
    form = CreateRunsForm(request.POST, orgs=_centres(user))
    if form.is_valid():
        d = form.cleaned_data
        start = _period_start(d["period_kind"], d["period_start"])
        try:
            made = _runs().create_runs(
                actor=user, org_id=d["org"], period_kind=d["period_kind"], period_start=start
            )
        except DomainError as exc:
            messages.error(request, refusal(exc))
        else:
            messages.success(
                request,
                ngettext("已创建 %(n)d 项考核。", "已创建 %(n)d 项考核。", len(made))
                % {"n": len(made)},
            )
    else:
        messages.error(request, _("请选择单位、周期和开始日期。"))
    return redirect("assessment:runs")


def _detail_rows(detail: Any) -> list[tuple[Any, str]]:
    """How an item was computed, as (label, text) pairs for people."""
    if not isinstance(detail, dict):
        return []
    rows = []
    for key, value in detail.items():
        # the source is shown beside the rows; "no data" already fills the value column
        if value is None or key in ("source", "no_data"):
            continue
        if key in ("scores", "scorers") and isinstance(value, list):
            value = "、".join(
                str(s.get("score", s)) if isinstance(s, dict) else str(s) for s in value
            )
        elif isinstance(value, bool):
            value = _("是") if value else _("否")
        elif isinstance(value, dict | list):
            continue
        else:
            value = _short(value)
        rows.append((DETAIL_LABELS.get(key, key), str(value)))
    return rows


def _short(value: Any) -> str:
    """A long decimal (a ratio, exact points) to four places; anything else as is."""
    try:
        number = Decimal(str(value))
    except (ArithmeticError, ValueError):
        return str(value)
    if number.is_finite() and number.as_tuple().exponent < -4:
        return str(number.quantize(Decimal("0.0001")))
    return str(value)


def _my_role(access: Any) -> str | None:
    """The scorer role the user may score as: their assignment's (managers too)."""
    return access.assessor_role


def _actions(user: Any, run: Any, access: Any) -> set[str]:
    """What the page offers; the services decide."""
    manage = access.manager and policy.can(user, "assessment.manage", run.org)
    out: set[str] = set()
    s = run.status
    if manage:
        if s in (RunStatus.DRAFT, RunStatus.COMPUTED, RunStatus.REVIEW, RunStatus.APPEALED):
            out |= {"compute", "assign"}
        if s == RunStatus.COMPUTED:
            out.add("submit")
        if s == RunStatus.REVIEW:
            out.add("publish")
        if s == RunStatus.PUBLISHED:
            out.add("finalise")
    if access.subject and not access.manager and s == RunStatus.PUBLISHED:
        out.add("appeal")
    return out


def _people(user: Any, run: Any) -> list[tuple[int, str]]:
    """Who may be asked to score: managers of the run's org subtree and assessors."""
    from dayuan.accounts.choices import Role

    qs = User.objects.filter(
        is_active=True,
        grants__role__in=[Role.MANAGER, Role.ASSESSOR],
    ).filter(Q(grants__org__path__startswith=run.org.path) | Q(grants__org__kind=OrgKind.ASSESSOR))
    return [(u.pk, str(u)) for u in qs.distinct().order_by("username")[:300]]


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_run(request, pk)


def _render_run(
    request: HttpRequest,
    pk: int,
    *,
    forms: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    data = _one(queries.run_detail, user, pk)
    run, access = data["run"], data["access"]
    forms = forms or {}
    actions = _actions(user, run, access)
    role = _my_role(access)
    for item in data["items"]:
        item.how = _detail_rows(item.detail)
        registered = INDICATORS.get(item.indicator.source)
        item.source_label = registered.label if registered else item.indicator.source
        item.can_score = (
            role is not None
            and item.sort == IndicatorSort.SCORED
            and item.indicator.scorer_role == role
            and run.status in SCORABLE
            and (run.status != RunStatus.APPEALED or item.reopened)
        )
    open_appeals = [a for a in data["appeals"] if a.status == AppealStatus.OPEN]
    ctx = {
        **data,
        "actions": actions,
        "working": _reports().working_lines(run.payable_working),
        "deduction_rows": [_reports().deduction_row(d) for d in data["deductions"]],
        "event_labels": EVENT_LABELS,
        "open_appeals": open_appeals if "compute" in actions or access.manager else [],
        "error": error,
        "tab": "runs" if access.manager else ("mine" if access.assessor_role else "results"),
    }
    for e in data["events"]:
        e.label = EVENT_LABELS.get(e.action, e.action)
    if "assign" in actions:
        ctx["assign_form"] = forms.get("assign") or AssignForm(people=_people(user, run))
    if "appeal" in actions:
        ctx["appeal_form"] = forms.get("appeal") or AppealForm(
            items=[(i.key, i.indicator.label) for i in data["items"]]
        )
    if ctx["open_appeals"] and access.manager and policy.can(user, "assessment.manage", run.org):
        ctx["decide_form"] = forms.get("decide") or DecideForm()
    return _render(request, "assessment/run.html", ctx, status=status)


_TRANSITIONS = {
    "compute": ("compute", gettext_lazy("已计算得分。")),
    "submit": ("submit_for_review", gettext_lazy("已提交审核。")),
    "publish": ("publish", gettext_lazy("考核结果已公布。")),
    "finalise": ("finalise", gettext_lazy("考核结果已确定。")),
}


@login_required
@require_POST
def run_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Compute, submit for review, publish or finalise (the service checks the state)."""
    user = request.user
    run = _one(queries.run, user, pk)
    name, done = _TRANSITIONS[action]
    try:
        getattr(_runs(), name)(actor=user, run_id=run.pk, version=_int(request.POST.get("version")))
    except DomainError as exc:
        return _render_run(request, pk, error=refusal(exc), status=409)
    messages.success(request, str(done))
    return redirect("assessment:run", pk=pk)


@login_required
@require_POST
def run_assign(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    run = _one(queries.run, user, pk)
    form = AssignForm(request.POST, people=_people(user, run))
    if form.is_valid():
        try:
            _runs().assign_assessor(
                actor=user,
                run_id=run.pk,
                user_id=form.cleaned_data["user"],
                role=form.cleaned_data["role"],
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("已指派评分人。"))
            return redirect("assessment:run", pk=pk)
    return _render_run(request, pk, forms={"assign": form}, status=422)


@login_required
@require_POST
def run_appeal(request: HttpRequest, pk: int) -> HttpResponse:
    """The assessed party contests named items of a published run."""
    user = request.user
    data = _one(queries.run_detail, user, pk)
    form = AppealForm(request.POST, items=[(i.key, i.indicator.label) for i in data["items"]])
    if form.is_valid():
        try:
            _runs().appeal(
                actor=user,
                run_id=pk,
                item_keys=form.cleaned_data["items"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("申诉已提交。"))
            return redirect("assessment:run", pk=pk)
    return _render_run(request, pk, forms={"appeal": form}, status=422)


@login_required
@require_POST
def appeal_decide(request: HttpRequest, pk: int, appeal_id: int) -> HttpResponse:
    user = request.user
    data = _one(queries.run_detail, user, pk)
    if not any(a.pk == appeal_id for a in data["appeals"]):
        raise Http404
    form = DecideForm(request.POST)
    if form.is_valid():
        try:
            _runs().decide_appeal(
                actor=user,
                appeal_id=appeal_id,
                upheld=form.cleaned_data["upheld"],
                decision=form.cleaned_data["decision"],
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("申诉已处理。"))
            return redirect("assessment:run", pk=pk)
    return _render_run(request, pk, forms={"decide": form}, status=422)


def _download(body: bytes, content_type: str, name: str) -> HttpResponse:
    resp = HttpResponse(body, content_type=content_type)
    resp["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


@login_required
def run_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's report in Chinese, as far as the user may see it."""
    detail = _one(queries.run_detail, request.user, pk)
    body = _reports().run_pdf(detail)
    return _download(body, "application/pdf", f"assessment-{pk}.pdf")


@login_required
def run_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    """The run as a workbook, with the ranking on the same scheme and period."""
    user = request.user
    detail = _one(queries.run_detail, user, pk)
    r = detail["run"]
    ranking = (
        queries.ranking(user, r.scheme_id, r.period_kind, r.period_start)
        if detail["access"].manager
        else None
    )
    body = _reports().run_xlsx(detail, ranking=ranking)
    return _download(body, XLSX, f"assessment-{pk}.xlsx")


# --- scoring -----------------------------------------------------------------------------


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """我的评分: the runs the user is assigned to score, with the items still to score."""
    user = request.user
    assignments = {
        a.run_id: a.role for a in RunAssessor.objects.filter(user=user).only("run_id", "role")
    }
    runs = list(
        queries.runs(user)
        .filter(pk__in=list(assignments), status__in=SCORABLE)
        .select_related(*queries.RUN_RELATED)
        .order_by("-period_start", "id")[:200]
    )
    items = (
        RunItem.objects.filter(run__in=runs, sort=IndicatorSort.SCORED)
        .select_related("indicator")
        .prefetch_related("scores")
        .order_by("indicator__position", "id")
    )
    by_run: dict[int, list[RunItem]] = {}
    status = {r.pk: r.status for r in runs}
    for item in items:
        if item.indicator.scorer_role != assignments.get(item.run_id):
            continue
        if status[item.run_id] == RunStatus.APPEALED and not item.reopened:
            continue
        mine_ = [s for s in item.scores.all() if s.scorer_id == user.pk and not s.superseded]
        item.my_score = mine_[0] if mine_ else None
        by_run.setdefault(item.run_id, []).append(item)
    for run in runs:
        run.to_score = by_run.get(run.pk, [])
        run.pending = sum(1 for i in run.to_score if i.my_score is None)
    return _render(request, "assessment/mine.html", {"runs": runs, "tab": "mine"})


@login_required
def score(request: HttpRequest, pk: int, key: str) -> HttpResponse:
    """One scored item: the guidance, the user's current score, the form."""
    user = request.user
    data = _one(queries.run_detail, user, pk)
    run = data["run"]
    item = next((i for i in data["items"] if i.key == key), None)
    if item is None or item.sort != IndicatorSort.SCORED:
        raise Http404
    own = next((s for s in item.score_list if s.scorer_id == user.pk and not s.superseded), None)
    initial = {"score": own.score, "comment": own.comment, "evidence": own.evidence} if own else {}
    form = ScoreForm(request.POST or None, initial=initial, max_score=item.indicator.max_score)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            _runs().score_item(
                actor=user,
                run_id=run.pk,
                item_key=key,
                score=d["score"],
                comment=d.get("comment", ""),
                evidence=d.get("evidence", ""),
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("评分已保存。"))
            if data["access"].manager:
                return redirect("assessment:run", pk=run.pk)
            return redirect("assessment:mine")
    return _render(
        request,
        "assessment/score.html",
        {"run": run, "item": item, "own": own, "form": form, "tab": "mine"},
        status=422 if form.errors else 200,
    )


@login_required
def results(request: HttpRequest) -> HttpResponse:
    """The assessed party's published results (a vendor's, a county centre's)."""
    user = request.user
    _require(user, "assessment.appeal")
    ids = queries.subject_org_ids(user)
    qs = queries.run_list(user, status=",".join(queries.SUBJECT_VISIBLE)).filter(
        subject_org_id__in=ids
    )
    return _render(
        request,
        "assessment/results.html",
        {
            "page": Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page")),
            "query": _query(request),
            "tab": "results",
        },
    )


# --- contracts -------------------------------------------------------------------------


@login_required
def contract_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(user, "assessment.view")
    status = request.GET.get("status") or ""
    qs = queries.contract_list(
        user, status=status if status in dict(_contract_statuses()) else None
    )
    return _render(
        request,
        "assessment/contracts.html",
        {
            "page": Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page")),
            "query": _query(request),
            "status": status,
            "statuses": _contract_statuses(),
            "tab": "contracts",
        },
    )


def _contract_statuses() -> list[tuple[str, Any]]:
    from .choices import ContractStatus

    return list(ContractStatus.choices)


@login_required
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    contract = _one(queries.contract, user, pk)
    runs = queries.run_list(user, contract_id=contract.pk)[:24]
    events = queries.event_list(user, contract_id=contract.pk)[:50]
    return _render(
        request,
        "assessment/contract.html",
        {
            "contract": contract,
            "runs": runs,
            "events": events,
            "can_edit": policy.can(user, "assessment.manage", contract.org),
            "formula_form": FormulaTestForm(
                initial={
                    "payment_formula": contract.payment_formula,
                    "fee": contract.monthly_fee,
                    "pass_line": contract.scheme.pass_line,
                }
            ),
            "tab": "contracts",
        },
    )


def _category_choices(user: Any) -> list[tuple[str, str]]:
    rows = scoped(user, ServiceCategory.objects.filter(parent__isnull=True)).order_by("code")
    seen: dict[str, str] = {}
    for c in rows:
        seen.setdefault(c.code, c.name)
    return list(seen.items())


def _standard_choices(user: Any) -> list[tuple[int, str]]:
    from dayuan.standards import queries as std_queries

    rows = Standard.objects.filter(std_queries.library_filter(user)).order_by("code")[:200]
    return [(s.pk, f"{s.code} {s.title}") for s in rows]


def _location_choices(user: Any) -> list[tuple[int, str]]:
    rows = org_queries.locations(user).filter(is_active=True, depth__lte=2)[:500]
    return [(loc.pk, f"{loc.name} · {loc.org.short_name or loc.org.name}") for loc in rows]


@login_required
def contract_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """New contract, or edit one (optimistic version)."""
    user = request.user
    _require(user, "assessment.manage")
    contract = _one(queries.contract, user, pk) if pk else None
    initial: dict[str, Any] = {}
    if contract is not None:
        initial = {
            "version": contract.version,
            "org": contract.org_id,
            "vendor": contract.vendor_id,
            "number": contract.number,
            "title": contract.title,
            "status": contract.status,
            "starts_on": contract.starts_on,
            "ends_on": contract.ends_on,
            "monthly_fee": contract.monthly_fee,
            "area_m2": contract.area_m2,
            "headcount": contract.headcount,
            "categories": contract.categories,
            "locations": [loc.pk for loc in contract.locations.all()],
            "standards": [s.pk for s in contract.standards.all()],
            "scheme": contract.scheme_id,
            "payment_formula": contract.payment_formula,
        }
    else:
        initial = {"payment_formula": DEFAULT_FORMULA, "status": "active"}
    form = ContractForm(
        request.POST or None,
        initial=initial,
        orgs=_centres(user),
        vendors=_vendors(user),
        schemes=list(queries.schemes(user).filter(is_active=True)),
        categories=_category_choices(user),
        locations=_location_choices(user),
        standards=_standard_choices(user),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            saved = _services().save_contract(
                actor=user,
                org_id=d["org"],
                vendor_id=d["vendor"],
                number=d["number"],
                title=d["title"],
                starts_on=d["starts_on"],
                ends_on=d["ends_on"],
                monthly_fee=d["monthly_fee"],
                scheme_id=d["scheme"],
                payment_formula=d["payment_formula"],
                categories=d.get("categories") or (),
                location_ids=d.get("locations") or (),
                standard_ids=d.get("standards") or (),
                area_m2=d.get("area_m2"),
                headcount=d.get("headcount"),
                status=d["status"],
                contract_id=contract.pk if contract else None,
                version=d.get("version") if contract else None,
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("合同已保存。"))
            return redirect("assessment:contract", pk=saved.pk)
    return _render(
        request,
        "assessment/contract_form.html",
        {
            "form": form,
            "contract": contract,
            "formula_form": FormulaTestForm(),
            "tab": "contracts",
        },
        status=422 if form.errors else 200,
    )


@login_required
@require_POST
def formula_test(request: HttpRequest) -> HttpResponse:
    """测试公式 (HTMX): check the formula and show the payable with its working."""
    _require(request.user, "assessment.view")
    form = FormulaTestForm(request.POST)
    ctx: dict[str, Any] = {"form": form}
    if form.is_valid():
        d = form.cleaned_data
        score = d["score"]
        variables = {
            "score": score,
            "passed": score >= d["pass_line"],
            "fee": d["fee"],
            "deduction_money": d["deduction_money"],
            "deduction_points": d["deduction_points"],
            "pass_line": d["pass_line"],
        }
        try:
            _payment().check_formula(d["payment_formula"])
            amount, working = _payment().payable(d["payment_formula"], variables)
        except DomainError as exc:
            ctx["error"] = refusal(exc)
        else:
            ctx["amount"] = amount
            ctx["steps"] = _reports().working_lines(working)
    else:
        ctx["error"] = _("请填写公式和试算数值。")
    return render(request, "assessment/_formula_result.html", ctx)


# --- schemes ---------------------------------------------------------------------------


def _sources() -> list[tuple[str, str]]:
    rows = [(code, f"{ind.label}（{code}）") for code, ind in sorted(INDICATORS.items())]
    return [*rows, ("kpi", _("标准中的全部 kpi 规则（kpi）"))]


@login_required
def scheme_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(user, "assessment.view")
    return _render(
        request,
        "assessment/schemes.html",
        {"schemes": list(queries.scheme_list(user)), "tab": "schemes"},
    )


@login_required
def scheme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    scheme = _one(queries.scheme, user, pk)
    indicators = list(scheme.indicators.all())
    total = sum((i.weight for i in indicators), Decimal(0))
    return _render(
        request,
        "assessment/scheme.html",
        {
            "scheme": scheme,
            "indicators": indicators,
            "rules": list(scheme.deduction_rules.all()),
            "total_weight": total,
            "can_edit": policy.can(user, "assessment.manage", scheme.org),
            "tab": "schemes",
        },
    )


def _scheme_initial(scheme: Scheme | None) -> tuple[dict, list, list, list]:
    if scheme is None:
        return (
            {"pass_line": 60},
            [],
            [],
            [
                {"grade": "excellent", "label": "优秀", "min_score": 90},
                {"grade": "good", "label": "良好", "min_score": 80},
                {"grade": "pass", "label": "合格", "min_score": 60},
            ],
        )
    head = {
        "version": scheme.version,
        "org": scheme.org_id,
        "code": scheme.code,
        "name": scheme.name,
        "subject_kind": scheme.subject_kind,
        "pass_line": scheme.pass_line,
        "max_deduction": scheme.max_deduction,
        "description": scheme.description,
    }
    fields = (
        "key",
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
    )
    indicators = [{f: getattr(i, f) for f in fields} for i in scheme.indicators.all()]
    rules = [
        {f: getattr(r, f) for f in ("kind", "match", "points", "money", "rectify_days")}
        for r in scheme.deduction_rules.all()
    ]
    return head, indicators, rules, list(scheme.grades or [])


@login_required
def scheme_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A scheme with its indicators, deductions and grade bands on one page."""
    user = request.user
    _require(user, "assessment.manage")
    scheme = _one(queries.scheme, user, pk) if pk else None
    head, indicators, rules, grades = _scheme_initial(scheme)
    data = request.POST or None
    form = SchemeForm(data, initial=head, orgs=_centres(user))
    ind_set = IndicatorFormSet(
        data, initial=indicators, prefix="ind", form_kwargs={"sources": _sources()}
    )
    rule_set = DeductionFormSet(data, initial=rules, prefix="ded")
    grade_set = GradeFormSet(data, initial=grades, prefix="grade")
    sets = (form, ind_set, rule_set, grade_set)
    if request.method == "POST" and all(f.is_valid() for f in sets):
        d = form.cleaned_data
        for i, row in enumerate(ind := rows_of(ind_set)):
            row["position"] = i
        grade_rows = sorted(rows_of(grade_set), key=lambda g: g["min_score"], reverse=True)
        try:
            saved = _services().save_scheme(
                actor=user,
                org_id=d["org"],
                code=d["code"],
                name=d["name"],
                subject_kind=d["subject_kind"],
                pass_line=d["pass_line"],
                grades=[{**g, "min_score": float(g["min_score"])} for g in grade_rows],
                indicators=ind,
                deduction_rules=rows_of(rule_set),
                max_deduction=d.get("max_deduction"),
                description=d.get("description") or "",
                scheme_id=scheme.pk if scheme else None,
                version=d.get("version") if scheme else None,
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("考核方案已保存。"))
            return redirect("assessment:scheme", pk=saved.pk)
    return _render(
        request,
        "assessment/scheme_form.html",
        {
            "form": form,
            "ind_set": ind_set,
            "rule_set": rule_set,
            "grade_set": grade_set,
            "scheme": scheme,
            "tab": "schemes",
        },
        status=422 if request.method == "POST" else 200,
    )


# --- deduction events ------------------------------------------------------------------


def _event_form(request: HttpRequest, user: Any) -> EventForm:
    subjects = _orgs(user, "assessment.deduct", {OrgKind.VENDOR, *OrgKind.centres()})
    return EventForm(
        request.POST or None,
        initial={"occurred_at": timezone.localtime().replace(second=0, microsecond=0)},
        orgs=_orgs(user, "assessment.deduct", OrgKind.centres()),
        subjects=subjects,
        contracts=list(queries.contract_list(user, status="active")[:200]),
    )


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    """扣分事件: record one (通报批评, 媒体曝光 …), the list, cancel."""
    user = request.user
    if not (policy.can(user, "assessment.view") or policy.can(user, "assessment.deduct")):
        raise DjangoPermissionDenied
    form = _event_form(request, user) if policy.can(user, "assessment.deduct") else None
    if request.method == "POST" and form is not None and form.is_valid():
        d = form.cleaned_data
        try:
            _services().record_event(
                actor=user,
                org_id=d["org"],
                subject_org_id=d["subject_org"],
                event_type=d["event_type"],
                occurred_at=d["occurred_at"],
                description=d["description"],
                contract_id=d.get("contract"),
                rectify_days=d.get("rectify_days"),
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("扣分事件已登记。"))
            return redirect("assessment:events")
    event_type = request.GET.get("type") or ""
    qs = queries.event_list(user, event_type=event_type if event_type in EventType.values else None)
    return _render(
        request,
        "assessment/events.html",
        {
            "form": form,
            "page": Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page")),
            "query": _query(request),
            "types": EventType.choices,
            "event_type": event_type,
            "tab": "events",
        },
        status=422 if form is not None and form.errors else 200,
    )


@login_required
@require_POST
def event_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    event = _one(queries.event, user, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写撤销原因。"))
        return redirect("assessment:events")
    try:
        _services().cancel_event(actor=user, event_id=event.pk, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, refusal(exc))
    else:
        messages.success(request, _("扣分事件已撤销。"))
    return redirect("assessment:events")


# --- ranking and benefit ---------------------------------------------------------------


@login_required
def ranking(request: HttpRequest) -> HttpResponse:
    """一盘棋: vendors (or county centres) assessed on one scheme for one period."""
    user = request.user
    _require(user, "assessment.view")
    schemes = list(queries.schemes(user))
    today = timezone.localdate()
    first = today.replace(day=1)
    initial = {
        "scheme": schemes[0].pk if schemes else None,
        "period_kind": PeriodKind.MONTH,
        "period_start": (first - timedelta(days=1)).replace(day=1),
    }
    form = RankingForm(request.GET or None, initial=initial, schemes=schemes)
    rows: list[dict[str, Any]] = []
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        params = (d["scheme"], d["period_kind"], _period_start(d["period_kind"], d["period_start"]))
    elif schemes:
        params = (initial["scheme"], initial["period_kind"], initial["period_start"])
    else:
        params = None
    if params:
        rows = queries.ranking(user, *params)
    chart = {
        "names": [r["subject_name"] for r in rows if r["score"] is not None],
        "scores": [float(r["score"]) for r in rows if r["score"] is not None],
        "label": _("得分"),
    }
    return _render(
        request,
        "assessment/ranking.html",
        {"form": form, "rows": rows, "chart": chart, "tab": "ranking"},
    )


@login_required
def benefit(request: HttpRequest) -> HttpResponse:
    """效益评估: cost per work order, per m², per person; vendors and centres side by side."""
    user = request.user
    _require(user, "assessment.view")
    period = Period.from_query(request.GET) if request.GET.get("since") else _last_months(3)
    try:
        data = _benefit().comparison(user, since=period.since, until=period.until)
    except DomainError as exc:
        messages.error(request, refusal(exc))
        data = {"rows": [], "notes": []}
    return _render(
        request,
        "assessment/benefit.html",
        {
            "rows": data["rows"],
            "notes": data.get("notes", []),
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "chart": _benefit_chart(data["rows"]),
            "tab": "benefit",
        },
    )


def _last_months(n: int) -> Period:
    today = timezone.localdate()
    end = today.replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    for _i in range(n - 1):
        start = (start - timedelta(days=1)).replace(day=1)
    return Period(start, end)


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _benefit_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "names": [r.get("name", "") for r in rows],
        "per_order": [_num(r.get("cost_per_order")) for r in rows],
        "per_m2": [_num(r.get("cost_per_m2")) for r in rows],
        "per_person": [_num(r.get("cost_per_person")) for r in rows],
        "labels": {
            "per_order": _("每工单成本（元）"),
            "per_m2": _("每平方米成本（元）"),
            "per_person": _("人均成本（元）"),
        },
    }


# --- surveys ---------------------------------------------------------------------------


@login_required
def survey_list(request: HttpRequest) -> HttpResponse:
    """My surveys (to answer) and, for managers, the surveys of their orgs."""
    user = request.user
    rows = list(queries.survey_list(user)[:200])
    managed = set(queries.manager_org_ids(user))
    return _render(
        request,
        "assessment/surveys.html",
        {
            "to_answer": [s for s in rows if s.invited and s.status != SurveyStatus.DRAFT],
            "managed": [s for s in rows if s.org_id in managed],
            "tab": "surveys",
        },
    )


def _invitee_choices(user: Any) -> list[tuple[int, str]]:
    ids = queries.managed_org_ids(user)
    qs = User.objects.filter(is_active=True, home_org_id__in=ids).select_related("home_org")
    return [
        (u.pk, f"{u} · {u.home_org.name}") for u in qs.order_by("home_org__path", "username")[:500]
    ]


@login_required
def survey_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(user, "assessment.manage")
    form = SurveyForm(
        request.POST or None,
        initial={
            "closes_at": timezone.localtime() + timedelta(days=14),
            "anonymous": True,
            "open_now": True,
        },
        orgs=_centres(user),
        subjects=_orgs(user, "assessment.manage", {OrgKind.VENDOR, *OrgKind.centres()}),
        people=_invitee_choices(user),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            survey = _services().create_survey(
                actor=user,
                org_id=d["org"],
                title=d["title"],
                closes_at=d["closes_at"],
                questions=d["questions"],
                invitee_ids=d["invitees"],
                subject_org_id=d.get("subject_org"),
                service=d.get("service") or "",
                anonymous=d["anonymous"],
            )
            if d.get("open_now"):
                _services().open_survey(actor=user, survey_id=survey.pk)
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("问卷已创建。"))
            return redirect("assessment:survey_results", pk=survey.pk)
    return _render(
        request,
        "assessment/survey_form.html",
        {"form": form, "tab": "surveys"},
        status=422 if form.errors else 200,
    )


def _answers(request: HttpRequest, questions: list[Any]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for q in questions:
        raw = (request.POST.get(f"q{q.pk}") or "").strip()
        if not raw:
            continue
        if q.kind == QuestionKind.RATING:
            answers[str(q.pk)] = int(raw) if raw.isdigit() else raw
        else:
            answers[str(q.pk)] = raw[:1000]
    return answers


@login_required
def survey_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Answer a survey (once), or see where it stands."""
    user = request.user
    survey = _one(queries.survey, user, pk)
    questions = list(survey.questions.all())
    error = ""
    if request.method == "POST":
        try:
            _services().respond(
                actor=user, survey_id=survey.pk, answers=_answers(request, questions)
            )
        except DomainError as exc:
            error = refusal(exc)
        else:
            messages.success(request, _("感谢您的评价，答卷已提交。"))
            return redirect("assessment:surveys")
    for q in questions:
        q.value = request.POST.get(f"q{q.pk}", "") if request.method == "POST" else ""
    return _render(
        request,
        "assessment/survey.html",
        {
            "survey": survey,
            "questions": questions,
            "error": error,
            "can_answer": survey.invited
            and not survey.responded
            and survey.status == SurveyStatus.OPEN,
            "is_manager": queries.is_survey_manager(user, survey),
            "tab": "surveys",
        },
        status=422 if error else 200,
    )


@login_required
def survey_results(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    survey = _one(queries.survey, user, pk)
    if not queries.is_survey_manager(user, survey):
        raise Http404
    try:
        data = _services().survey_results(user, survey.pk)
    except DomainError:
        raise Http404 from None
    questions = data.get("questions", [])
    return _render(
        request,
        "assessment/survey_results.html",
        {
            "survey": survey,
            "data": data,
            "questions": questions,
            "chart": {
                "questions": [
                    {"counts": {str(k): v for k, v in q.get("distribution", {}).items()}}
                    for q in questions
                ],
                "label": _("人数"),
            },
            "can_manage": policy.can(user, "assessment.manage", survey.org),
            "tab": "surveys",
        },
    )


@login_required
@require_POST
def survey_state(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    user = request.user
    survey = _one(queries.survey, user, pk)
    fn = _services().open_survey if action == "open" else _services().close_survey
    try:
        fn(actor=user, survey_id=survey.pk, version=_int(request.POST.get("version")))
    except DomainError as exc:
        messages.error(request, refusal(exc))
    else:
        messages.success(request, _("问卷已发布。") if action == "open" else _("问卷已结束。"))
    return redirect(reverse("assessment:survey_results", args=[survey.pk]))
