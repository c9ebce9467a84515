"""Pages of the resource pool (资源整合、需求匹配): the staff's phone pages (资源广场 with
its filters, a resource with its photo, windows and week of holdings, a direct request;
我的需求: posting a demand and its page with the **ranked matches and their reasons**
and a 申请 button each; 我的调配), the owners' pages (待审批 with approve/reject, 我的资源
and its edit form with weekly windows, closures), the 公物仓 (receive, store, hand-outs
returned, disposals, the ledger), volunteers (activities, sign-up, the keeper's
attendance, the registry), micro-projects, and the overseers' batch matching and
statistics dashboard with its Excel export.

Thin: reads go through ``queries`` (and ``matching``/``stats``/``export``/
``projects.project_summary``), every write through ``services``, ``warehouse``,
``volunteers``, ``projects`` and ``batch``; a refusal is shown as a message or next to
its field, with its code. A record the user cannot see is a 404.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_POST

from dayuan.accounts.models import Grant
from dayuan.bookings import queries as bookings_queries
from dayuan.core import pages, policy
from dayuan.core.errors import DomainError, InvalidInput, NotFound
from dayuan.core.files import private_file
from dayuan.core.periods import Period
from dayuan.orgs import queries as org_queries
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Organization

from . import batch, matching, projects, queries, services, stats, volunteers, warehouse
from . import export as resources_export
from .choices import (
    DEMAND_LIVE,
    EXCLUSIVE_KINDS,
    HEADCOUNT_KINDS,
    KIND_UNITS,
    STOCK_KINDS,
    ActivityStatus,
    AllocationStatus,
    Attribute,
    DemandStatus,
    ProjectStatus,
    ResourceKind,
    SignUpStatus,
    StockStatus,
    TransferKind,
)
from .forms import (
    WEEKDAYS,
    ActivityForm,
    AttendanceForm,
    ClosureForm,
    CompleteForm,
    DecideForm,
    DemandForm,
    EnrolForm,
    MatchRunForm,
    ProgressForm,
    ProjectForm,
    QuantityForm,
    ReasonForm,
    ReceiveForm,
    RequestForm,
    ResourceFilterForm,
    ResourceForm,
    StatsForm,
    VolunteerForm,
)

NAV = "resources"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_SIZE = 30  # rows of a list on one page
MATCHES_SHOWN = 10  # ranked matches on a demand's page
CHOICES_MAX = 500  # rows of a picker (units, locations)
MIN_DAY, MAX_DAY = date(2000, 1, 1), date(2099, 12, 31)

# what each hard-constraint refusal means, for the "excluded" counts and the batch's
# unmatched reasons (the services' own messages say it in full)
REFUSAL_LABELS = {
    "kind_mismatch": gettext_lazy("类型不符"),
    "capacity_short": gettext_lazy("容量不足"),
    "headcount_exceeded": gettext_lazy("人手不足"),
    "insufficient_stock": gettext_lazy("库存不足"),
    "attributes_missing": gettext_lazy("缺少所需属性"),
    "outside_windows": gettext_lazy("不在开放时段"),
    "closed": gettext_lazy("暂停使用"),
    "resource_taken": gettext_lazy("时段已被占用"),
    "over_budget": gettext_lazy("超出预算"),
    "not_usable": gettext_lazy("不在可用范围"),
    "outcompeted": gettext_lazy("资源已分给优先级更高或更合适的需求"),
    "no_candidate": gettext_lazy("没有满足条件的资源"),
}
PART_LABELS = {
    "proximity": gettext_lazy("距离"),
    "fit": gettext_lazy("容量匹配"),
    "cost": gettext_lazy("费用"),
    "balance": gettext_lazy("均衡使用"),
    "preference": gettext_lazy("提供方意愿"),
}


# --- common --------------------------------------------------------------------------


def _now() -> datetime:
    return timezone.now()


def _today() -> date:
    return timezone.localdate()


def _roles(user: Any) -> dict[str, bool]:
    """What the tabs offer: 待审批, 我的资源 and the 公物仓 (owners' managers), 批量匹配
    (resources.match), 统计 (overseers and managers), 志愿者 (keepers)."""
    managed = bool(queries.managed_org_ids(user))
    return {
        "manage": managed,
        "oversee": managed or bool(queries.overseen_org_ids(user)),
        "match": policy.can(user, "resources.match"),
        "keeper": bool(queries.volunteer_org_ids(user)),
    }


def _render(
    request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    ctx.setdefault("active_nav", NAV)
    ctx["roles_rs"] = _roles(request.user)
    return render(request, template, ctx, status=status)


_or_404 = pages.or_404
_message = pages.refusal_with_code
_fail = pages.fail
_attempt = pages.attempt
_back = pages.back
_form_error = pages.form_error
_submit = pages.submit


def _attempt_form(request: HttpRequest, form: Any, invalid: str, done: str, call: Any) -> Any:
    """A small POSTed form (no page of its own): ``invalid`` (or the form's first
    error) as an error message, else ``_attempt``."""
    if not form.is_valid():
        first = next(iter(form.errors.values()), None)
        messages.error(request, str(first[0]) if first else invalid, extra_tags="code-invalid")
        return None
    return _attempt(request, done, call)


class BadParam(InvalidInput):
    """A page's query parameter that cannot be read: the page answers 400 with the
    code and the message (``refuses_bad_params``), nothing is read or written."""

    status = 400


def refuses_bad_params(view: Any) -> Any:
    """A ``BadParam`` raised while reading the request is a 400 page, not a 500."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadParam as exc:
            return _render(
                request,
                "resources/bad_request.html",
                {"message": _message(exc), "code": exc.code, "tab": ""},
                status=exc.status,
            )

    return wrapper


def _day_param(request: HttpRequest, name: str, default: date) -> date:
    raw = (request.GET.get(name) or "").strip()
    if not raw:
        return default
    try:
        day = parse_date(raw)
    except ValueError:
        day = None
    if day is None or not MIN_DAY <= day <= MAX_DAY:
        raise BadParam(
            _("日期无效：请使用 YYYY-MM-DD 格式的有效日期。"), code="bad_day", field=name
        )
    return day


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name) or ""
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    return int(value)


def _page(request: HttpRequest, rows: Any, size: int = PAGE_SIZE) -> Any:
    return Paginator(rows, size).get_page(request.GET.get("page"))


def _query(request: HttpRequest, *names: str) -> str:
    """The list's filters for the pager's links."""
    q = request.GET.copy()
    q.pop("page", None)
    return q.urlencode() if not names else "&".join(f"{n}={q[n]}" for n in names if q.get(n))


def _labels(values: Any) -> list[str]:
    names = dict(Attribute.choices)
    return [str(names.get(v, v)) for v in values or []]


def _local(dt: datetime) -> datetime:
    return timezone.localtime(dt)


def _aware(day: date, at: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, at), timezone.get_current_timezone())


def _require(allowed: bool) -> None:
    if not allowed:
        raise DjangoPermissionDenied


# --- pickers -------------------------------------------------------------------------


def _orgs(user: Any, action: str) -> list[tuple[int, str]]:
    """The units where ``user`` holds ``action`` (home unit first)."""
    rows = [(o.pk, o.name) for o in bookings_queries.orgs(user, action)[:CHOICES_MAX]]
    home = getattr(user, "home_org_id", None)
    rows.sort(key=lambda r: r[0] != home)
    return rows


def _locations(user: Any, *, rooms: bool = True) -> list[tuple[int, str]]:
    qs = org_queries.locations(user).filter(is_active=True)
    if not rooms:
        qs = qs.exclude(kind=LocationKind.ROOM)
    return [(loc.pk, loc.name) for loc in qs.order_by("path")[:CHOICES_MAX]]


def _approvers(user: Any) -> list[tuple[int, str]]:
    """Who may sign off a demand of the user's unit: the managers (``resources.manage``)
    at the unit or above it, the nearest first."""
    org = getattr(user, "home_org", None)
    if org is None:
        return []
    ancestors = [org.path[: i + 1] for i, ch in enumerate(org.path) if ch == "."]
    grants = (
        Grant.objects.filter(
            role__in=policy.ACTIONS["resources.manage"],
            org__path__in=ancestors,
            user__is_active=True,
        )
        .exclude(user=user)
        .select_related("user", "org")
        .order_by("-org__depth", "user__username")[:50]
    )
    seen: set[int] = set()
    rows = []
    for g in grants:
        if g.user_id not in seen:
            seen.add(g.user_id)
            rows.append((g.user_id, f"{g.user}（{g.org.name}）"))
    return rows


def _owners(user: Any) -> list[tuple[int, str]]:
    """The units whose resources the user may use (the 优先提供单位 picker)."""
    ids = queries.usable_resources(user).values("org_id")
    return [(o.pk, o.name) for o in Organization.objects.filter(pk__in=ids).order_by("path")[:200]]


def _open_projects(user: Any) -> list[tuple[int, str]]:
    rows = queries.visible_projects(user).filter(
        status__in=(ProjectStatus.APPROVED, ProjectStatus.IN_PROGRESS)
    )
    return [(p.pk, f"{p.number} {p.title}") for p in rows.order_by("-id")[:100]]


def _teams(user: Any) -> list[tuple[int, str]]:
    """The volunteer teams a staff member may join: social organisations and the units
    offering a volunteer team, among those whose public work the user sees."""
    ids = set(queries.public_work_org_ids(user))
    offering = set(
        queries.usable_resources(user)
        .filter(kind=ResourceKind.VOLUNTEER_TEAM)
        .values_list("org_id", flat=True)
    )
    rows = Organization.objects.filter(pk__in=ids, is_active=True).filter(
        kind=OrgKind.SOCIAL
    ) | Organization.objects.filter(pk__in=offering & ids, is_active=True)
    return [(o.pk, o.name) for o in rows.distinct().order_by("path")[:CHOICES_MAX]]


# --- how things read -----------------------------------------------------------------


def _days_text(days: list[int]) -> str:
    names = dict(WEEKDAYS)
    days = sorted(set(days))
    if not days:
        return ""
    if days == list(range(7)):
        return _("每天")
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return _("%(a)s至%(z)s") % {"a": names[days[0]], "z": names[days[-1]]}
    return pgettext("list separator", "、").join(str(names[d]) for d in days)


def window_lines(windows: Any) -> list[dict[str, Any]]:
    """A resource's weekly windows as lines: 「周一至周五 08:00–18:00」 (错峰共享)."""
    rows = []
    for w in windows or []:
        rows.append(
            {
                "days": _days_text(list(w.get("days") or [])),
                "start": w.get("start", ""),
                "end": w.get("end", ""),
                "offpeak": bool(w.get("offpeak")),
            }
        )
    return rows


def _dress_resource(r: Any) -> Any:
    """Labels, the amount it offers and the photo's page address, for a card."""
    r.attribute_labels = _labels(r.attributes)
    r.unit_label = r.unit or str(KIND_UNITS.get(r.kind, ""))
    r.is_stock = r.kind in STOCK_KINDS
    r.is_exclusive = r.kind in EXCLUSIVE_KINDS
    r.is_headcount = r.kind in HEADCOUNT_KINDS
    r.thumb_url = f"{reverse('resources:photo', args=[r.pk])}?thumb=1" if r.photo else ""
    r.photo_url = reverse("resources:photo", args=[r.pk]) if r.photo else ""
    return r


def _reason_rows(reasons: Any) -> list[dict[str, Any]]:
    """Reasons (``matching.Reason`` or their stored dicts) for the template."""
    out = []
    for r in reasons or []:
        get = r.get if isinstance(r, dict) else lambda k, _r=r: getattr(_r, k, "")
        code = str(get("code") or "")
        out.append({"code": code, "text": str(get("text") or ""), "label": PART_LABELS.get(code)})
    return out


def _unmatched_label(reason: str) -> str:
    code, _sep, detail = (reason or "").partition(":")
    text = str(REFUSAL_LABELS.get(code, code))
    if detail:
        text += _("（主要原因：%(why)s）") % {"why": REFUSAL_LABELS.get(detail, detail)}
    return text


def _excluded_rows(excluded: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"code": code, "label": str(REFUSAL_LABELS.get(code, code)), "count": n}
        for code, n in sorted((excluded or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        if n
    ]


# --- 资源广场 ----------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """资源广场: the resources shared with the user, filtered by kind and words."""
    user = request.user
    form = ResourceFilterForm(request.GET or None)
    kind, q = None, ""
    if form.is_valid():
        kind = form.cleaned_data.get("kind") or None
        q = form.cleaned_data.get("q") or ""
    page = _page(request, queries.resource_list(user, kind=kind, q=q, usable_only=True))
    for r in page:
        _dress_resource(r)
    return _render(
        request,
        "resources/home.html",
        {
            "form": form,
            "kind": kind or "",
            "kinds": ResourceKind.choices,
            "q": q,
            "rows": page,
            "page": page,
            "query": _query(request),
            "tab": "home",
        },
    )


def _may_manage(user: Any, resource: Any) -> bool:
    return resource.org_id in set(queries.managed_org_ids(user))


def _is_usable(user: Any, resource: Any) -> bool:
    return queries.usable_resources(user).filter(pk=resource.pk).exists()


DAY_FROM, DAY_TO = 7, 22  # the hours the week bars show


def _calendar_days(user: Any, resource: Any, week_start: date) -> list[dict[str, Any]]:
    """The week's days (``queries.resource_calendar``) with the resource's holdings and
    closures placed on a 07:00–22:00 bar, and the windows open that day. A holding the
    user may not see says only that the time is taken."""
    cal = _or_404(
        queries.resource_calendar, user, resource.pk, week_start, week_start + timedelta(days=6)
    )
    days = []
    for cd in cal.days:
        base = _aware(cd.day, time(DAY_FROM))
        blocks = []
        for b in cd.busy:
            a = b.allocation
            label = _("已占用")
            if a is not None:
                label = a.requester_org.name if a.requester_org_id else a.number
            if resource.kind in HEADCOUNT_KINDS:
                label = _("%(who)s · %(n)s 人") % {"who": label, "n": b.amount}
            blocks.append(
                _place(
                    {
                        "start": b.start_at,
                        "end": b.end_at,
                        "label": label,
                        "closure": False,
                        "allocation_id": a.pk if a is not None else None,
                    },
                    base,
                )
            )
        for c in cd.closures:
            blocks.append(
                _place(
                    {
                        "start": c.start_at,
                        "end": c.end_at,
                        "label": c.reason or _("暂停使用"),
                        "closure": True,
                        "allocation_id": None,
                    },
                    base,
                )
            )
        blocks.sort(key=lambda b: b["start"])
        days.append(
            {
                "day": cd.day,
                "blocks": blocks,
                "open": [
                    {"start": _local(o.start_at), "end": _local(o.end_at), "offpeak": o.offpeak}
                    for o in cd.open
                ],
                "is_open": bool(cd.open),
            }
        )
    return days


def _place(b: dict[str, Any], base: datetime) -> dict[str, Any]:
    span = (DAY_TO - DAY_FROM) * 60
    a = max(0.0, (b["start"] - base).total_seconds() / 60)
    z = min(float(span), (b["end"] - base).total_seconds() / 60)
    return {
        **b,
        "left": round(100 * min(a, span) / span, 2),
        "width": round(max(0.0, 100 * (z - a) / span), 2),
    }


@login_required
@refuses_bad_params
def resource_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A resource: photo, what it offers, windows, its week of holdings and closures,
    and the request button (when the user may use it)."""
    user = request.user
    res = _dress_resource(_or_404(queries.resource_for, user, pk))
    the_day = _day_param(request, "week", _today())
    week_start = the_day - timedelta(days=the_day.weekday())
    time_kind = res.kind not in STOCK_KINDS
    return _render(
        request,
        "resources/resource.html",
        {
            "r": res,
            "windows": window_lines(res.windows),
            "week": _calendar_days(user, res, week_start) if time_kind else [],
            "week_start": week_start,
            "prev": week_start - timedelta(days=7),
            "next": week_start + timedelta(days=7),
            "hours": [
                (f"{h:02d}:00", round(100 * (h - DAY_FROM) / (DAY_TO - DAY_FROM), 2))
                for h in range(DAY_FROM, DAY_TO, 3)
            ],
            "can_request": _is_usable(user, res),
            "can_manage": _may_manage(user, res),
            "closures": list(queries.closure_list(user, res.pk)[:20])
            if _may_manage(user, res)
            else [],
            "tab": "home",
        },
    )


@login_required
def resource_photo(request: HttpRequest, pk: int) -> FileResponse:
    """A resource's photo (``?thumb=1``: its thumbnail) for whoever sees the resource;
    never a public media URL."""
    res = _or_404(queries.resource_for, request.user, pk)
    if not res.photo:
        raise Http404
    field = res.photo_thumb if request.GET.get("thumb") and res.photo_thumb else res.photo
    return _or_404(private_file, field)


def _default_range() -> tuple[datetime, datetime]:
    """Tomorrow 09:00–12:00 as a starting point."""
    start = _aware(_today() + timedelta(days=1), time(9, 0))
    return start, start + timedelta(hours=3)


@login_required
def request_resource(request: HttpRequest, pk: int) -> HttpResponse:
    """申请使用: a direct request for a resource (without a demand)."""
    user = request.user
    res = _dress_resource(_or_404(queries.resource_for, user, pk))
    start, end = _default_range()
    form = RequestForm(
        request.POST if request.method == "POST" else None,
        initial={
            "client_key": uuid.uuid4().hex,
            "start_at": _local(start),
            "end_at": _local(end),
            "amount": 1,
        },
        projects=_open_projects(user),
    )

    def save() -> Any:
        d = form.cleaned_data
        return services.request_allocation(
            actor=user,
            resource_id=res.pk,
            start_at=d["start_at"],
            end_at=d["end_at"],
            amount=d["amount"],
            note=d.get("note") or "",
            project_id=d.get("project"),
            client_key=d["client_key"],
        )

    ok, alloc, status = _submit(request, form, save)
    if ok:
        messages.success(request, _allocated_text(alloc))
        return redirect("resources:allocation", pk=alloc.pk)
    return _render(
        request,
        "resources/request.html",
        {"r": res, "form": form, "windows": window_lines(res.windows), "tab": "home"},
        status=status,
    )


def _allocated_text(alloc: Any) -> str:
    if alloc.status in (AllocationStatus.APPROVED, AllocationStatus.IN_USE):
        return _("已调配：%(name)s 可以使用了。") % {"name": alloc.resource.name}
    return _("已提交申请，等待提供单位审批。")


# --- demands -------------------------------------------------------------------------


@login_required
def demands(request: HttpRequest) -> HttpResponse:
    """我的需求 (``?all=1``: every demand the user oversees), by status."""
    user = request.user
    roles = _roles(user)
    show_all = bool(request.GET.get("all")) and roles["oversee"]
    status = request.GET.get("status") or None
    if status not in DemandStatus.values:
        status = None
    rows = queries.demand_list(user, status=status, mine=not show_all)
    page = _page(request, rows)
    return _render(
        request,
        "resources/demands.html",
        {
            "rows": page,
            "page": page,
            "query": _query(request),
            "status": status or "",
            "statuses": DemandStatus.choices,
            "show_all": show_all,
            "tab": "demands",
        },
    )


@login_required
def demand_new(request: HttpRequest) -> HttpResponse:
    """发布需求: kind, amount, attributes, time window, place, budget, priority and an
    approver when the unit signs it off first."""
    user = request.user
    start, end = _default_range()
    initial: dict[str, Any] = {
        "client_key": uuid.uuid4().hex,
        "org": getattr(user, "home_org_id", None),
        "start_at": _local(start),
        "end_at": _local(end),
    }
    if (kind := request.GET.get("kind")) in ResourceKind.values:
        initial["kind"] = kind
    if (project := _int_param(request, "project")) is not None:
        initial["project"] = project
    form = DemandForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        orgs=_orgs(user, "resources.use"),
        locations=_locations(user, rooms=False),
        approvers=_approvers(user),
        owners=_owners(user),
        projects=_open_projects(user),
    )
    ok, demand, status = _submit(
        request,
        form,
        lambda: services.post_demand(
            actor=user, data=form.service_data(), client_key=form.cleaned_data["client_key"]
        ),
    )
    if ok:
        if demand.status == DemandStatus.SUBMITTED:
            messages.success(request, _("需求已提交，等待审批人审核。"))
        else:
            messages.success(request, _("需求已发布，下面是为您匹配的资源。"))
        return redirect("resources:demand", pk=demand.pk)
    return _render(
        request,
        "resources/demand_form.html",
        {"form": form, "tab": "demands"},
        status=status,
    )


def _may_act_for(user: Any, demand: Any) -> bool:
    return demand.posted_by_id == user.pk or demand.org_id in set(queries.managed_org_ids(user))


def _candidates(user: Any, demand: Any) -> tuple[list[Any], Any]:
    """The demand's ranked matches (best first) dressed for the page, and the result."""
    result = matching.match(user, demand, limit=MATCHES_SHOWN)
    rows = []
    for rank, c in enumerate(result.candidates, start=1):
        res = _dress_resource(c.resource)
        rows.append(
            {
                "rank": rank,
                "resource": res,
                "score": round(float(c.score) * 100),
                "cost": c.cost,
                "reasons": _reason_rows(c.reasons),
                "parts": [
                    {"code": k, "label": PART_LABELS.get(k, k), "pct": round(float(v) * 100)}
                    for k, v in (c.parts or {}).items()
                ],
            }
        )
    return rows, result


@login_required
def demand_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A demand: what is asked, its allocations, and while it is open the resources
    that meet every hard constraint, ranked, each with its reasons and a 申请 button."""
    user = request.user
    d = _or_404(queries.demand_for, user, pk)
    may_act = _may_act_for(user, d)
    allocations = list(
        d.allocations.select_related("resource", "org").order_by("-requested_at", "-id")
    )
    requested = {a.resource_id for a in allocations if a.status == AllocationStatus.REQUESTED}
    candidates: list[Any] = []
    result = None
    if d.status == DemandStatus.OPEN and may_act:
        candidates, result = _candidates(user, d)
        for c in candidates:
            c["requested"] = c["resource"].pk in requested
    managed = set(queries.managed_org_ids(user))
    return _render(
        request,
        "resources/demand.html",
        {
            "d": d,
            "attribute_labels": _labels(d.attributes),
            "unit_label": KIND_UNITS.get(d.kind, ""),
            "allocations": allocations,
            "candidates": candidates,
            "considered": result.considered if result else 0,
            "excluded": _excluded_rows(result.excluded) if result else [],
            "may_act": may_act,
            "can_decide": d.status == DemandStatus.SUBMITTED
            and (d.approver_id == user.pk or d.org_id in managed),
            "can_cancel": may_act and d.status in DEMAND_LIVE,
            "client_key": uuid.uuid4().hex,
            "tab": "demands",
        },
    )


@login_required
@require_POST
def demand_request(request: HttpRequest, pk: int) -> HttpResponse:
    """申请 one of a demand's matches: a request for the demand's window and amount."""
    user = request.user
    d = _or_404(queries.demand_for, user, pk)
    back = reverse("resources:demand", args=[d.pk])
    try:
        resource_id = int(request.POST.get("resource") or "")
    except ValueError:
        messages.error(request, _("请选择要申请的资源。"), extra_tags="code-invalid")
        return redirect(back)
    key = (request.POST.get("client_key") or "")[:64] or None
    alloc = _attempt(
        request,
        "",
        lambda: services.request_allocation(
            actor=user, resource_id=resource_id, demand_id=d.pk, client_key=key
        ),
    )
    if alloc is not None:
        messages.success(request, _allocated_text(alloc))
    return redirect(back)


@login_required
@require_POST
def demand_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """The unit's approver signs a demand off (or turns it down, with a reason)."""
    user = request.user
    d = _or_404(queries.demand_for, user, pk)
    form = DecideForm(request.POST)
    _attempt_form(
        request,
        form,
        _("请选择同意或驳回。"),
        _("已审核。"),
        lambda: services.decide_demand(
            actor=user, demand_id=d.pk, approve=form.approve, note=form.cleaned_data["note"]
        ),
    )
    return _back(request, reverse("resources:demand", args=[d.pk]))


@login_required
@require_POST
def demand_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    d = _or_404(queries.demand_for, user, pk)
    form = ReasonForm(request.POST)
    _attempt_form(
        request,
        form,
        _("原因过长。"),
        _("需求已取消。"),
        lambda: services.cancel_demand(
            actor=user, demand_id=d.pk, reason=form.cleaned_data.get("reason") or ""
        ),
    )
    return redirect("resources:demand", pk=d.pk)


# --- allocations ---------------------------------------------------------------------

SIDES = ("mine", "owner", "unit")


@login_required
def allocations(request: HttpRequest) -> HttpResponse:
    """我的调配 (``?side=owner``: requests for the resources the user manages;
    ``?side=unit``: the user's units' allocations)."""
    user = request.user
    side = request.GET.get("side") or "mine"
    if side not in SIDES:
        side = "mine"
    status = request.GET.get("status") or None
    if status not in AllocationStatus.values:
        status = None
    page = _page(request, queries.allocation_list(user, side=side, status=status))
    return _render(
        request,
        "resources/allocations.html",
        {
            "rows": page,
            "page": page,
            "query": _query(request),
            "side": side,
            "status": status or "",
            "statuses": AllocationStatus.choices,
            "tab": "allocations",
        },
    )


def _allocation_actions(user: Any, a: Any, now: datetime, handed: int, returned: int) -> dict:
    """What the user may do with an allocation now (the services decide in the end):
    the owner's managers decide a request; either side starts, finishes or cancels
    (the requesting side only before the start); a warehouse hand-out comes back by
    归还入库, not by a cancel."""
    managed = set(queries.managed_org_ids(user))
    owner = a.org_id in managed
    requester = (
        a.requester_id == user.pk
        or (a.demand_id is not None and a.demand.posted_by_id == user.pk)
        or a.requester_org_id in managed
    )
    stock = a.resource.kind in STOCK_KINDS
    holding = a.status in (AllocationStatus.APPROVED, AllocationStatus.IN_USE)
    handed_out = a.resource.stock_status is not None and holding and handed > 0
    started = now >= a.start_at
    return {
        "decide": owner and a.status == AllocationStatus.REQUESTED,
        "start": (owner or requester) and a.status == AllocationStatus.APPROVED,
        "finish": (owner or requester)
        and holding
        and (stock or a.status == AllocationStatus.IN_USE or started),
        "cancel": a.status in (AllocationStatus.REQUESTED, AllocationStatus.APPROVED)
        and (owner or (requester and (stock or not started)))
        and not handed_out,
        "return": owner and a.resource.stock_status is not None and handed > returned,
    }


@login_required
def allocation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One allocation: the resource, the range and amount, where it stands, and what
    the user may do with it now."""
    user = request.user
    a = _or_404(queries.allocation_for, user, pk)
    _dress_resource(a.resource)
    transfers = list(a.transfers.select_related("from_org", "to_org").order_by("at", "id"))
    returned = sum(t.quantity for t in transfers if t.kind == TransferKind.RETURN)
    handed = sum(t.quantity for t in transfers if t.kind == TransferKind.OUT)
    acts = _allocation_actions(user, a, _now(), handed, returned)
    return _render(
        request,
        "resources/allocation.html",
        {
            "a": a,
            "acts": acts,
            "transfers": transfers,
            "returnable": handed - returned,
            "tab": "allocations",
        },
    )


@login_required
@require_POST
def allocation_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """The owner's manager approves (the resource is held) or rejects a request. From
    待审批 with HTMX the decided row comes back in place (or the refusal with its code);
    without, a message and back to the page the form was on."""
    user = request.user
    a = _or_404(queries.allocation_for, user, pk)
    form = DecideForm(request.POST)
    done = _("已批准，资源已调配。")
    if request.POST.get("decision") == "reject":
        done = _("已驳回申请。")
    if request.headers.get("HX-Request") != "true":
        _attempt_form(
            request,
            form,
            _("请选择批准或驳回。"),
            done,
            lambda: _decide(user, a, form),
        )
        return _back(request, reverse("resources:allocation", args=[a.pk]))
    error, code = "", ""
    if not form.is_valid():
        first = next(iter(form.errors.values()), None)
        error, code = (str(first[0]) if first else _("请选择批准或驳回。")), "invalid"
    else:
        try:
            a = _decide(user, a, form)
        except DomainError as exc:
            if isinstance(exc, NotFound) and exc.code == "not_found":
                raise Http404 from exc
            error, code = _message(exc), exc.code
    a = _or_404(queries.allocation_for, user, a.pk)
    _dress_resource(a.resource)
    return _render(
        request,
        "resources/_approval.html",
        {"a": a, "done": "" if error else done, "error": error, "code": code},
    )


def _decide(user: Any, a: Any, form: DecideForm) -> Any:
    return services.decide_allocation(
        actor=user,
        allocation_id=a.pk,
        approve=form.approve,
        note=form.cleaned_data["note"],
        version=form.cleaned_data.get("version"),
    )


def _allocation_step(request: HttpRequest, pk: int, done: str, call: Any) -> HttpResponse:
    user = request.user
    a = _or_404(queries.allocation_for, user, pk)
    _attempt(request, done, lambda: call(user, a))
    return _back(request, reverse("resources:allocation", args=[a.pk]))


@login_required
@require_POST
def allocation_start(request: HttpRequest, pk: int) -> HttpResponse:
    return _allocation_step(
        request,
        pk,
        _("已开始使用。"),
        lambda user, a: services.start_use(actor=user, allocation_id=a.pk),
    )


@login_required
@require_POST
def allocation_finish(request: HttpRequest, pk: int) -> HttpResponse:
    note = (request.POST.get("note") or "")[:500]
    return _allocation_step(
        request,
        pk,
        _("已归还/完成。"),
        lambda user, a: services.finish_allocation(actor=user, allocation_id=a.pk, note=note),
    )


@login_required
@require_POST
def allocation_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    reason = (request.POST.get("reason") or "")[:500]
    return _allocation_step(
        request,
        pk,
        _("已取消，资源已释放。"),
        lambda user, a: services.cancel_allocation(actor=user, allocation_id=a.pk, reason=reason),
    )


@login_required
@require_POST
def allocation_return(request: HttpRequest, pk: int) -> HttpResponse:
    """归还入库: items handed out from the 公物仓 come back into stock."""
    user = request.user
    a = _or_404(queries.allocation_for, user, pk)
    form = QuantityForm(request.POST)
    _attempt_form(
        request,
        form,
        _("请填写归还数量。"),
        _("已归还入库。"),
        lambda: warehouse.return_items(
            actor=user,
            allocation_id=a.pk,
            quantity=form.cleaned_data["quantity"],
            note=form.cleaned_data.get("reason") or "",
        ),
    )
    return _back(request, reverse("resources:allocation", args=[a.pk]))


# --- owners --------------------------------------------------------------------------


@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    """待审批: requests for the resources the user manages, oldest first."""
    user = request.user
    _require(bool(queries.managed_org_ids(user)))
    page = _page(request, queries.pending_approvals(user))
    for a in page:
        _dress_resource(a.resource)
    return _render(
        request,
        "resources/approvals.html",
        {
            "rows": page,
            "page": page,
            "query": "",
            "demands": list(queries.demand_approvals(user)[:50]),
            "tab": "approvals",
        },
    )


@login_required
def my_resources(request: HttpRequest) -> HttpResponse:
    """我的资源: everything the user's units offer (inactive ones too)."""
    user = request.user
    managed = queries.managed_org_ids(user)
    _require(bool(managed))
    form = ResourceFilterForm(request.GET or None)
    kind, q = None, ""
    if form.is_valid():
        kind = form.cleaned_data.get("kind") or None
        q = form.cleaned_data.get("q") or ""
    rows = queries.resource_list(user, kind=kind, q=q, include_inactive=True, managed=True)
    page = _page(request, rows)
    for r in page:
        _dress_resource(r)
    return _render(
        request,
        "resources/manage.html",
        {
            "form": form,
            "kind": kind or "",
            "kinds": ResourceKind.choices,
            "q": q,
            "rows": page,
            "page": page,
            "query": _query(request),
            "tab": "manage",
        },
    )


def _managed_resource(user: Any, pk: int) -> Any:
    """A resource the user manages: out of sight a 404, in sight but not theirs a 403."""
    res = _or_404(queries.resource_for, user, pk)
    _require(_may_manage(user, res))
    return res


def _contacts(user: Any, org_ids: list[int]) -> list[tuple[int, str]]:
    from dayuan.accounts import queries as accounts_queries

    rows = accounts_queries.users(user).filter(home_org_id__in=org_ids, is_active=True)
    return [(u.pk, str(u)) for u in rows.order_by("username")[:200]]


@login_required
def resource_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A resource's card (new or existing): what, where, how much, the weekly windows,
    who may use it, the cost, and its photo."""
    user = request.user
    res = _managed_resource(user, pk) if pk is not None else None
    managed = queries.managed_org_ids(user)
    _require(bool(managed))
    orgs = _orgs(user, "resources.manage")
    initial: dict[str, Any] = {"org": getattr(user, "home_org_id", None)}
    if res is not None:
        initial = ResourceForm.initial_for(res)
    form = ResourceForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        initial=initial,
        orgs=orgs,
        locations=_locations(user),
        contacts=_contacts(user, managed),
        editing=res is not None,
    )

    def save() -> Any:
        return services.save_resource(
            actor=user,
            data=form.service_data(),
            resource_id=res.pk if res else None,
            version=form.cleaned_data.get("version") if res else None,
        )

    ok, saved, status = _submit(request, form, save)
    if ok:
        upload = form.cleaned_data.get("photo")
        if upload:
            try:
                services.set_resource_photo(actor=user, resource_id=saved.pk, upload=upload)
            except DomainError as exc:
                messages.error(request, _message(exc), extra_tags=f"code-{exc.code}")
                return redirect("resources:resource_edit", pk=saved.pk)
        messages.success(request, _("资源已保存。"))
        return redirect("resources:resource", pk=saved.pk)
    return _render(
        request,
        "resources/resource_form.html",
        {
            "form": form,
            "r": _dress_resource(res) if res else None,
            "window_rows": form.window_rows(),
            "tab": "manage",
        },
        status=status,
    )


@login_required
def closures(request: HttpRequest, pk: int) -> HttpResponse:
    """暂停使用: the periods a resource cannot be used (maintenance, the owner's own
    event); add and remove."""
    user = request.user
    res = _dress_resource(_managed_resource(user, pk))
    form = ClosureForm(request.POST if request.method == "POST" else None)
    ok, _saved, status = _submit(
        request,
        form,
        lambda: services.add_closure(
            actor=user,
            resource_id=res.pk,
            start_at=form.cleaned_data["start_at"],
            end_at=form.cleaned_data["end_at"],
            reason=form.cleaned_data.get("reason") or "",
        ),
    )
    if ok:
        messages.success(request, _("已添加暂停使用时段。"))
        return redirect("resources:closures", pk=res.pk)
    rows = list(queries.closure_list(user, res.pk)[:100])
    return _render(
        request,
        "resources/closures.html",
        {"r": res, "form": form, "rows": rows, "tab": "manage"},
        status=status,
    )


@login_required
@require_POST
def closure_remove(request: HttpRequest, pk: int, cid: int) -> HttpResponse:
    user = request.user
    res = _managed_resource(user, pk)
    if not res.closures.filter(pk=cid).exists():
        raise Http404
    _attempt(
        request,
        _("已删除暂停使用时段。"),
        lambda: services.remove_closure(actor=user, closure_id=cid),
    )
    return redirect("resources:closures", pk=res.pk)


# --- the warehouse (公物仓) -----------------------------------------------------------


@login_required
def warehouse_home(request: HttpRequest) -> HttpResponse:
    """公物仓: the items in the warehouses the user manages or oversees (received,
    stored, all handed out), the receive form, and the ledger of transfers."""
    user = request.user
    overseen = queries.overseen_org_ids(user)
    _require(bool(overseen))
    managed = queries.managed_org_ids(user)
    form = ReceiveForm(
        request.POST if request.method == "POST" else None,
        warehouses=_orgs(user, "resources.manage"),
        orgs=[(o.pk, o.name) for o in org_queries.organizations(user)[:CHOICES_MAX]],
        locations=_locations(user),
    )

    def receive() -> Any:
        d = form.cleaned_data
        return warehouse.receive(
            actor=user,
            warehouse_org_id=d["warehouse"],
            from_org_id=d["from_org"],
            name=d["name"],
            quantity=d["quantity"],
            unit_value=d["unit_value"],
            attributes=form.tags(),
            description=d.get("description") or "",
            location_id=d.get("location"),
            visibility=d["visibility"],
        )

    ok, _item, status = _submit(request, form, receive)
    if ok:
        messages.success(request, _("已登记入库，请验收后入库上架。"))
        return redirect("resources:warehouse")
    stock = request.GET.get("stock") or ""
    if stock not in StockStatus.values:
        stock = ""
    items = queries.resource_list(
        user,
        kind=ResourceKind.ASSET,
        include_inactive=True,
        stock_status=stock or ",".join(StockStatus.values),
    ).filter(org_id__in=overseen)
    page = _page(request, items)
    managed_set = set(managed)
    for r in page:
        _dress_resource(r)
        r.may_manage = r.org_id in managed_set
    transfers = list(queries.transfer_list(user)[:50])
    return _render(
        request,
        "resources/warehouse.html",
        {
            "form": form,
            "can_receive": bool(managed),
            "rows": page,
            "page": page,
            "query": _query(request),
            "stock": stock,
            "stock_statuses": StockStatus.choices,
            "transfers": transfers,
            "tab": "warehouse",
        },
        status=status,
    )


@login_required
@require_POST
def warehouse_store(request: HttpRequest, pk: int) -> HttpResponse:
    """验收入库: a received item is checked and offered to the pool."""
    user = request.user
    res = _managed_resource(user, pk)
    _attempt(
        request,
        _("已验收入库，可供调剂。"),
        lambda: warehouse.store(actor=user, resource_id=res.pk),
    )
    return _back(request, reverse("resources:warehouse"))


@login_required
@require_POST
def warehouse_dispose(request: HttpRequest, pk: int) -> HttpResponse:
    """报废处置: items leave the warehouse for good."""
    user = request.user
    res = _managed_resource(user, pk)
    form = QuantityForm(request.POST)
    if form.is_valid() and not (form.cleaned_data.get("reason") or "").strip():
        form.add_error("reason", _("请写明处置原因。"))
    _attempt_form(
        request,
        form,
        _("请填写处置数量和原因。"),
        _("已报废处置。"),
        lambda: warehouse.dispose(
            actor=user,
            resource_id=res.pk,
            quantity=form.cleaned_data["quantity"],
            reason=form.cleaned_data["reason"],
        ),
    )
    return _back(request, reverse("resources:warehouse"))


# --- volunteers ----------------------------------------------------------------------


def _my_volunteer(user: Any) -> Any:
    return queries.visible_volunteers(user).filter(user=user).select_related("org").first()


@login_required
def activities(request: HttpRequest) -> HttpResponse:
    """志愿服务: the coming activities (``?past=1``: the past ones), the user's volunteer
    card with the hours accrued, or the form to join a team."""
    user = request.user
    past = bool(request.GET.get("past"))
    page = _page(request, queries.activity_list(user, upcoming=not past))
    me = _my_volunteer(user)
    for a in page:
        a.left = max(0, a.slots - a.taken)
        a.skill_labels = _labels(a.skills)
    return _render(
        request,
        "resources/activities.html",
        {
            "rows": page,
            "page": page,
            "query": _query(request),
            "past": past,
            "me": me,
            "enrol_form": EnrolForm(teams=_teams(user)) if me is None else None,
            "tab": "volunteers",
        },
    )


@login_required
@require_POST
def enrol(request: HttpRequest) -> HttpResponse:
    """加入志愿服务队 (once per person)."""
    user = request.user
    form = EnrolForm(request.POST, teams=_teams(user))
    _attempt_form(
        request,
        form,
        _("请选择志愿服务队。"),
        _("已加入志愿服务队，可以报名活动了。"),
        lambda: volunteers.enrol_self(
            actor=user,
            org_id=form.cleaned_data["org"],
            skills=form.cleaned_data.get("skills") or [],
            phone=form.cleaned_data.get("phone") or "",
        ),
    )
    return _back(request, reverse("resources:activities"))


def _keeps(user: Any, activity: Any) -> bool:
    return activity.org_id in set(queries.volunteer_org_ids(user))


@login_required
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An activity: places left, sign up or cancel; for its keepers the sign-ups and,
    once it has started, the attendance sheet."""
    user = request.user
    a = _or_404(queries.activity_for, user, pk)
    now = _now()
    me = _my_volunteer(user)
    my_signup = None
    if me is not None:
        my_signup = a.signups.filter(volunteer=me).exclude(status=SignUpStatus.CANCELLED).first()
    keeper = _keeps(user, a)
    signups = []
    attendance = None
    if keeper:
        signups = list(queries.signup_list(user, a.pk).exclude(status=SignUpStatus.CANCELLED))
        if now >= a.start_at and a.status != ActivityStatus.CANCELLED:
            attendance = AttendanceForm(signups=signups, initial={"hours": a.hours})
    return _render(
        request,
        "resources/activity.html",
        {
            "a": a,
            "left": max(0, a.slots - a.taken),
            "skill_labels": _labels(a.skills),
            "me": me,
            "my_signup": my_signup,
            "can_sign": a.status == ActivityStatus.OPEN and now < a.start_at and not my_signup,
            "can_unsign": my_signup is not None
            and my_signup.status == SignUpStatus.SIGNED
            and now < a.start_at,
            "keeper": keeper,
            "signups": signups,
            "attendance": attendance,
            "attendance_rows": [
                {"signup": s, "field": attendance[f"attended_{s.pk}"]} for s in signups
            ]
            if attendance
            else [],
            "can_cancel": keeper and a.status in (ActivityStatus.OPEN, ActivityStatus.CLOSED),
            "tab": "volunteers",
        },
    )


@login_required
def activity_new(request: HttpRequest) -> HttpResponse:
    """发布志愿活动 (keepers)."""
    user = request.user
    keep = queries.volunteer_org_ids(user)
    _require(bool(keep))
    start, end = _default_range()
    form = ActivityForm(
        request.POST if request.method == "POST" else None,
        initial={
            "org": getattr(user, "home_org_id", None),
            "start_at": _local(start),
            "end_at": _local(end),
            "slots": 10,
        },
        orgs=[
            (o.pk, o.name)
            for o in Organization.objects.filter(pk__in=keep).order_by("path")[:CHOICES_MAX]
        ],
        locations=_locations(user),
        projects=_open_projects(user),
    )
    ok, made, status = _submit(
        request,
        form,
        lambda: volunteers.create_activity(actor=user, data=form.service_data()),
    )
    if ok:
        messages.success(request, _("志愿活动已发布。"))
        return redirect("resources:activity", pk=made.pk)
    return _render(
        request,
        "resources/activity_form.html",
        {"form": form, "tab": "volunteers"},
        status=status,
    )


@login_required
@require_POST
def activity_sign_up(request: HttpRequest, pk: int) -> HttpResponse:
    """报名 (oneself; a keeper may sign a volunteer of theirs up: ``volunteer``)."""
    user = request.user
    a = _or_404(queries.activity_for, user, pk)
    raw = request.POST.get("volunteer") or ""
    volunteer_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None
    _attempt(
        request,
        _("报名成功。"),
        lambda: volunteers.sign_up(actor=user, activity_id=a.pk, volunteer_id=volunteer_id),
    )
    return _back(request, reverse("resources:activity", args=[a.pk]))


@login_required
@require_POST
def signup_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    s = queries.visible_signups(user).filter(pk=pk).first()
    if s is None:
        raise Http404
    _attempt(
        request,
        _("已取消报名。"),
        lambda: volunteers.cancel_sign_up(actor=user, signup_id=s.pk),
    )
    return _back(request, reverse("resources:activity", args=[s.activity_id]))


@login_required
@require_POST
def activity_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """考勤: the keeper ticks who came; hours are credited once per sign-up."""
    user = request.user
    a = _or_404(queries.activity_for, user, pk)
    _require(_keeps(user, a))
    signups = list(
        queries.visible_signups(user).filter(activity=a).exclude(status=SignUpStatus.CANCELLED)
    )
    form = AttendanceForm(request.POST, signups=signups)

    def record() -> Any:
        came, missed = form.split()
        return volunteers.record_attendance(
            actor=user,
            activity_id=a.pk,
            attended=came,
            absent=missed,
            hours=form.cleaned_data.get("hours"),
        )

    _attempt_form(request, form, _("考勤数据无效。"), _("考勤已记录，服务时长已计入。"), record)
    return redirect("resources:activity", pk=a.pk)


@login_required
@require_POST
def activity_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    a = _or_404(queries.activity_for, user, pk)
    _require(_keeps(user, a))
    form = ReasonForm(request.POST)
    _attempt_form(
        request,
        form,
        _("原因过长。"),
        _("活动已取消，已通知报名人员。"),
        lambda: volunteers.cancel_activity(
            actor=user, activity_id=a.pk, reason=form.cleaned_data.get("reason") or ""
        ),
    )
    return redirect("resources:activity", pk=a.pk)


@login_required
def volunteer_list(request: HttpRequest) -> HttpResponse:
    """志愿者名册 (keepers and overseers), by hours; a keeper registers volunteers."""
    user = request.user
    keep = queries.volunteer_org_ids(user)
    _require(bool(keep) or bool(queries.overseen_org_ids(user)))
    teams = [
        (o.pk, o.name)
        for o in Organization.objects.filter(pk__in=keep).order_by("path")[:CHOICES_MAX]
    ]
    form = VolunteerForm(request.POST if request.method == "POST" else None, teams=teams)
    if request.method == "POST":
        _require(bool(keep))
    ok, _made, status = _submit(
        request,
        form,
        lambda: volunteers.register_volunteer(
            actor=user,
            org_id=form.cleaned_data["org"],
            name=form.cleaned_data["name"],
            phone=form.cleaned_data.get("phone") or "",
            skills=form.cleaned_data.get("skills") or [],
        ),
    )
    if ok:
        messages.success(request, _("志愿者已登记。"))
        return redirect("resources:volunteers")
    q = (request.GET.get("q") or "").strip()[:50]
    page = _page(request, queries.volunteer_list(user, q=q))
    for v in page:
        v.skill_labels = _labels(v.skills)
    return _render(
        request,
        "resources/volunteers.html",
        {
            "form": form,
            "can_register": bool(keep),
            "rows": page,
            "page": page,
            "q": q,
            "query": _query(request),
            "tab": "volunteers",
        },
        status=status,
    )


# --- micro-projects ------------------------------------------------------------------


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    """民生微实事: the projects of the user's centre (and above), by status."""
    user = request.user
    status = request.GET.get("status") or None
    if status not in ProjectStatus.values:
        status = None
    page = _page(request, queries.project_list(user, status=status))
    return _render(
        request,
        "resources/projects.html",
        {
            "rows": page,
            "page": page,
            "query": _query(request),
            "status": status or "",
            "statuses": ProjectStatus.choices,
            "tab": "projects",
        },
    )


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    """申报微实事项目 (anyone; a manager of the unit approves it)."""
    user = request.user
    form = ProjectForm(
        request.POST if request.method == "POST" else None,
        initial={"org": getattr(user, "home_org_id", None)},
        orgs=_orgs(user, "resources.use"),
        locations=_locations(user, rooms=False),
    )
    ok, made, status = _submit(
        request,
        form,
        lambda: projects.create_project(actor=user, data=form.service_data(user.pk)),
    )
    if ok:
        messages.success(request, _("项目已申报，等待审批。"))
        return redirect("resources:project", pk=made.pk)
    return _render(
        request, "resources/project_form.html", {"form": form, "tab": "projects"}, status=status
    )


@login_required
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A micro-project: budget and spending, progress, the resources committed, the
    volunteer hours of its activities, its demands; decide, report progress, complete."""
    user = request.user
    p = _or_404(queries.project_for, user, pk)
    summary = projects.project_summary(p)
    manager = p.org_id in set(queries.managed_org_ids(user))
    runner = manager or p.leader_id == user.pk
    live = p.status in (ProjectStatus.APPROVED, ProjectStatus.IN_PROGRESS)
    return _render(
        request,
        "resources/project.html",
        {
            "p": p,
            "summary": summary,
            "can_decide": manager and p.status == ProjectStatus.PROPOSED,
            "can_progress": runner and live,
            "progress_form": ProgressForm(
                initial={
                    "version": p.version,
                    "progress": p.progress,
                    "spent": p.spent,
                    "beneficiaries": p.beneficiaries,
                }
            ),
            "complete_form": CompleteForm(
                initial={"spent": p.spent, "beneficiaries": p.beneficiaries}
            ),
            "tab": "projects",
        },
    )


@login_required
@require_POST
def project_decide(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    p = _or_404(queries.project_for, user, pk)
    form = DecideForm(request.POST)
    _attempt_form(
        request,
        form,
        _("请选择立项或驳回。"),
        _("已审批。"),
        lambda: projects.decide_project(
            actor=user, project_id=p.pk, approve=form.approve, note=form.cleaned_data["note"]
        ),
    )
    return redirect("resources:project", pk=p.pk)


@login_required
@require_POST
def project_progress(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    p = _or_404(queries.project_for, user, pk)
    form = ProgressForm(request.POST)

    def update() -> Any:
        d = form.cleaned_data
        return projects.update_progress(
            actor=user,
            project_id=p.pk,
            progress=d["progress"],
            spent=d.get("spent"),
            beneficiaries=d.get("beneficiaries"),
            note=d.get("note") or "",
            version=d.get("version"),
        )

    _attempt_form(request, form, _("请填写 0–100 的进度。"), _("进展已更新。"), update)
    return redirect("resources:project", pk=p.pk)


@login_required
@require_POST
def project_complete(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    p = _or_404(queries.project_for, user, pk)
    form = CompleteForm(request.POST)
    _attempt_form(
        request,
        form,
        _("请填写成效、受益人数和实际支出。"),
        _("项目已完成。"),
        lambda: projects.complete_project(
            actor=user,
            project_id=p.pk,
            outcome=form.cleaned_data["outcome"],
            beneficiaries=form.cleaned_data["beneficiaries"],
            spent=form.cleaned_data["spent"],
        ),
    )
    return redirect("resources:project", pk=p.pk)


# --- batch matching ------------------------------------------------------------------


def _require_match(user: Any) -> None:
    _require(policy.can(user, "resources.match"))


@login_required
def match_home(request: HttpRequest) -> HttpResponse:
    """批量匹配: run the optimal assignment of a period's open demands of a centre, and
    the runs so far."""
    user = request.user
    _require_match(user)
    today = _today()
    monday = today + timedelta(days=7 - today.weekday())
    form = MatchRunForm(
        request.POST if request.method == "POST" else None,
        initial={"since": monday, "until": monday + timedelta(days=6), "candidates": 10},
        orgs=_orgs(user, "resources.match"),
    )

    def run() -> Any:
        d = form.cleaned_data
        return batch.run_batch(
            actor=user,
            org_id=d["org"],
            window_start=_aware(d["since"], time.min),
            window_end=_aware(d["until"] + timedelta(days=1), time.min),
            candidates_per_demand=d["candidates"],
        )

    ok, made, status = _submit(request, form, run)
    if ok:
        messages.success(
            request,
            _("已完成匹配：%(m)s / %(n)s 个需求有建议资源。")
            % {"m": made.matched, "n": made.demands},
        )
        return redirect("resources:run", pk=made.pk)
    runs = list(queries.run_list(user)[:20])
    return _render(
        request,
        "resources/match.html",
        {"form": form, "runs": runs, "tab": "match"},
        status=status,
    )


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A run's result: each demand with the proposed resource, its score and reasons,
    or why it stayed unmatched; apply turns the proposals into requests."""
    user = request.user
    run = _or_404(queries.run_for, user, pk)
    proposals = list(queries.proposal_list(user, run.pk))
    for p in proposals:
        p.reason_rows = _reason_rows(p.reasons)
        p.unmatched_label = _unmatched_label(p.unmatched_reason) if p.unmatched_reason else ""
        p.score_pct = round(float(p.score or 0) * 100)
    matched = [p for p in proposals if p.resource_id]
    unmatched = [p for p in proposals if not p.resource_id]
    return _render(
        request,
        "resources/run.html",
        {
            "run": run,
            "matched": matched,
            "unmatched": unmatched,
            "objective": run.objective or {},
            "can_apply": run.applied_at is None and policy.can(user, "resources.match", run.org),
            "tab": "match",
        },
    )


@login_required
@require_POST
def run_apply(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    run = _or_404(queries.run_for, user, pk)
    made = _attempt(request, "", lambda: batch.apply_run(actor=user, run_id=run.pk))
    if made is not None:
        messages.success(request, _("已按匹配结果提交 %(n)s 个资源申请。") % {"n": len(made)})
    return redirect("resources:run", pk=run.pk)


# --- statistics ----------------------------------------------------------------------


def _stats_params(request: HttpRequest) -> tuple[Period, int | None, list[tuple[int, str]]]:
    user = request.user
    overseen = queries.overseen_org_ids(user)
    _require(bool(overseen))
    period = Period.from_query(request.GET)
    orgs = [
        (o.pk, o.name)
        for o in Organization.objects.filter(pk__in=overseen, kind__in=OrgKind.centres()).order_by(
            "path"
        )
    ]
    oid = _int_param(request, "org")
    if oid is not None and oid not in set(overseen):
        raise Http404
    return period, oid, orgs


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else round(number, 2)


def _pct(value: Any) -> float | None:
    number = _num(value)
    return None if number is None else round(float(number) * 100, 1)


@login_required
def stats_dashboard(request: HttpRequest) -> HttpResponse:
    """统计: utilisation by kind and owner, demand fulfilment and time to match,
    savings from reuse, volunteer hours, projects, and every centre side by side."""
    user = request.user
    period, oid, orgs = _stats_params(request)
    data = _or_404(stats.pool_stats, user, start=period.since, end=period.until, org_id=oid)
    return _render(
        request,
        "resources/stats.html",
        {
            "data": data,
            "chart": _chart(data),
            "form": StatsForm(
                initial={"since": period.since, "until": period.until, "org": oid}, orgs=orgs
            ),
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "org_id": oid,
            "tab": "stats",
        },
    )


def _chart(data: Any) -> dict[str, Any]:
    """The dashboard's series for resources/stats.js (JSON in the page: CSP)."""
    owners = [o for o in data.by_owner if o.time_rate is not None]
    owners.sort(key=lambda o: -(o.time_rate or 0))
    owners = owners[:15]
    savings = data.savings_by_org[:15]
    teams = data.hours_by_team[:15]
    centres = data.by_centre
    return {
        "labels": {
            "utilisation": _("使用率（%）"),
            "saved": _("节约金额（元）"),
            "hours": _("服务时长（小时）"),
            "fulfilment": _("需求满足率（%）"),
            "demands": _("需求数"),
        },
        "kinds": [str(k.label) for k in data.by_kind],
        "kind_util": [_pct(k.rate) for k in data.by_kind],
        "owners": [o.name for o in owners],
        "owner_util": [_pct(o.time_rate) for o in owners],
        "saving_orgs": [r.name for r in savings],
        "saved": [_num(r.saved) for r in savings],
        "teams": [r.name for r in teams],
        "hours": [_num(r.hours) for r in teams],
        "centres": [c.name for c in centres],
        "centre_fulfilment": [_pct(c.demands.rate if c.demands else None) for c in centres],
        "centre_demands": [c.demands.posted if c.demands else 0 for c in centres],
    }


@login_required
def stats_export(request: HttpRequest) -> HttpResponse:
    """The dashboard's period as an Excel workbook."""
    user = request.user
    period, oid, _choices = _stats_params(request)
    body = _or_404(
        resources_export.pool_stats_xlsx, user, start=period.since, end=period.until, org_id=oid
    )
    resp = HttpResponse(body, content_type=XLSX)
    stamp = timezone.localdate().strftime("%Y%m%d")
    resp["Content-Disposition"] = f'attachment; filename="resources-{stamp}.xlsx"'
    return resp
