"""Pages: report a repair from a phone, follow and rate it; the worker's queue; the
service desk's list, dispatch and phone reports; the dashboard.

Thin: reads go through scoped querysets and ``reports``, every write through
``services``; a refusal is shown next to the form (and a stale version as
"已被他人更新，请刷新").
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from openpyxl import Workbook

from dayuan.core import policy
from dayuan.core.errors import DomainError, InvalidInput
from dayuan.core.pages import apply_error, refusal
from dayuan.core.periods import Period
from dayuan.core.scope import scoped
from dayuan.orgs import queries as org_queries
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Organization
from dayuan.standards.rules import SlaParams

from . import queries, reports, sla
from .catalogue import catalogue_for
from .choices import OPEN_STATUSES, Channel, Status
from .forms import (
    MATERIAL_ROWS,
    DeskReportForm,
    DispatchForm,
    FilterForm,
    PauseForm,
    RateForm,
    ReasonForm,
    ReportForm,
    ResolveForm,
    VersionForm,
)
from .models import ServiceCategory, Team, TeamMember, WorkOrder, WorkOrderPhoto, WorkOrderTimer

NAV = "workorders"
PAGE_SIZE = 50
EXPORT_MAX = 10_000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _services() -> Any:
    """The core write side (imported late: it is the core helper's module)."""
    from . import services

    return services


# --- reading -------------------------------------------------------------------------


def visible_orders(user: Any) -> QuerySet[WorkOrder]:
    """Orders the user may open: overseen subtrees, their own requests, their work."""
    return queries.visible(user)


def _order(user: Any, pk: int) -> WorkOrder:
    order = (
        visible_orders(user)
        .select_related("category", "location", "org", "requester", "team", "vendor", "assignee")
        .filter(pk=pk)
        .first()
    )
    if order is None:
        raise Http404
    return order


def _can_oversee(user: Any) -> bool:
    return policy.can(user, "workorders.view_all")


def _is_worker(user: Any) -> bool:
    return policy.can(user, "workorders.work") or TeamMember.objects.filter(user=user).exists()


def catalogue(user: Any, org: Organization | None) -> list[ServiceCategory]:
    """The categories offered at ``org`` as tiles: the leaves of its catalogue (a parent
    with sub-categories is represented by them)."""
    if org is None:
        return []
    try:
        cats = catalogue_for(user, org)
    except DomainError:
        return []
    parents = {getattr(c, "catalogue_parent_id", None) for c in cats}
    return [c for c in cats if c.pk not in parents]


def _timer_rows(order: WorkOrder, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for t in order.timers.all():
        if t.met_at is not None:
            state = "met" if t.met_at <= t.due_at else "breached"
        elif t.breached or t.due_at < now:
            state = "overdue"
        else:
            state = "running"
        rows.append(
            {
                "timer": t,
                "state": state,
                "remaining": _span(t.due_at - now) if t.met_at is None else "",
            }
        )
    return rows


def _span(delta: Any) -> str:
    """A signed duration in words: 剩余 1小时5分 / 超时 20分."""
    minutes = int(delta.total_seconds() // 60)
    late = minutes < 0
    minutes = abs(minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)d天") % {"n": days})
    if hours:
        parts.append(_("%(n)d小时") % {"n": hours})
    parts.append(_("%(n)d分") % {"n": mins})
    text = "".join(parts)
    return _("超时 %(t)s") % {"t": text} if late else _("剩余 %(t)s") % {"t": text}


def _pause_reasons(order: WorkOrder, cache: dict[Any, list[str]] | None = None) -> list[str]:
    """The reasons the order's sla rules allow for pausing its clocks (as the service
    checks them: the rules of its unmet clocks, or its specs when none is running)."""
    reasons: list[str] = []
    timers = [t for t in order.timers.all() if t.met_at is None]
    if timers:
        for t in timers:
            try:
                allowed = SlaParams.model_validate(t.rule.params).pause_reasons
            except ValueError:
                continue
            reasons += [r for r in allowed if r not in reasons]
        return reasons
    key = (order.org_id, order.category.sla_category, order.urgency, order.submitted_at)
    if cache is not None and key in cache:
        return cache[key]
    for spec in sla.specs_for(order):
        reasons += [r for r in spec.pause_reasons if r not in reasons]
    if cache is not None:
        cache[key] = reasons
    return reasons


def _photo_url(photo: WorkOrderPhoto, thumb: bool = True) -> str:
    """The core API's photo view (session-authenticated, checks the order's scope)."""
    name = "api:workorder_photo_thumb" if thumb else "api:workorder_photo"
    return reverse(name, kwargs={"order_id": photo.workorder_id, "photo_id": photo.pk})


EVENT_LABELS = {
    "submit": gettext_lazy("提交报修"),
    "dispatch": gettext_lazy("派单"),
    "auto_dispatch": gettext_lazy("自动派单"),
    "accept": gettext_lazy("接单"),
    "arrive": gettext_lazy("到场"),
    "pause": gettext_lazy("暂停"),
    "resume": gettext_lazy("恢复"),
    "resolve": gettext_lazy("完工"),
    "confirm": gettext_lazy("确认并评价"),
    "rate": gettext_lazy("评价"),
    "close": gettext_lazy("关闭"),
    "close_unrated": gettext_lazy("超时未评价，自动关闭"),
    "cancel": gettext_lazy("取消"),
    "reopen": gettext_lazy("重新打开"),
    "transfer": gettext_lazy("转派"),
    "escalate": gettext_lazy("升级提醒"),
    "breach": gettext_lazy("超时"),
}


def _render(
    request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    """Render with what every work-order page needs: the tabs the user may open."""
    user = request.user
    ctx.setdefault("active_nav", NAV)
    ctx["perms_wo"] = {
        "work": _is_worker(user),
        "view_all": _can_oversee(user),
        "dispatch": policy.can(user, "workorders.dispatch"),
    }
    return render(request, template, ctx, status=status)


# --- home ----------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """One address for everyone: the desk's list, a worker's queue, staff's report."""
    user = request.user
    if _can_oversee(user):
        return order_list(request)
    if _is_worker(user):
        return redirect("workorders:queue")
    return redirect("workorders:new")


# --- reporting -----------------------------------------------------------------------


def _picker_levels(user: Any, picked: Any) -> list[dict[str, Any]]:
    """The location picker's selects: roots, then each level down to the picked location
    (so a form sent back with an error keeps what was chosen), then its children."""
    locations = org_queries.locations(user).filter(is_active=True)
    chain: list[Any] = []
    if picked and str(picked).isdigit():
        target = locations.filter(pk=int(picked)).first()
        if target is not None:
            step = reports.SEGMENT
            paths = [target.path[:i] for i in range(step, len(target.path) + 1, step)]
            chain = list(locations.filter(path__in=paths).order_by("depth"))
    parent_ids = [c.pk for c in chain]
    rows = list(locations.filter(Q(parent__isnull=True) | Q(parent_id__in=parent_ids)))
    levels = [{"options": [r for r in rows if r.parent_id is None], "selected": None}]
    for i, node in enumerate(chain):
        levels[i]["selected"] = node.pk
        children = [r for r in rows if r.parent_id == node.pk]
        if not children:
            break
        levels.append({"options": children, "selected": None, "parent": node})
    return levels


@login_required
def new(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not policy.can(user, "workorders.request"):
        raise DjangoPermissionDenied
    categories = catalogue(user, user.home_org)
    form = ReportForm(request.POST or None, request.FILES or None, categories=categories)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            order = _services().submit_request(
                actor=user,
                category_id=d["category"],
                location_id=d["location"],
                description=d["description"],
                urgency=d["urgency"],
                channel=Channel.PHONE_APP if _is_phone(request) else Channel.WEB,
                contact_phone=d.get("contact_phone") or "",
                photos=d.get("photos") or [],
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("报修已提交，工单号 %(n)s。") % {"n": order.number})
            return redirect("workorders:detail", pk=order.pk)
    return _render(
        request,
        "workorders/new.html",
        {
            "form": form,
            "categories": categories,
            "levels": _picker_levels(user, form["location"].value()),
            "tab": "new",
            "desk": False,
        },
        status=422 if form.errors else 200,
    )


def _is_phone(request: HttpRequest) -> bool:
    agent = request.headers.get("User-Agent", "")
    return "Mobile" in agent or "Android" in agent or "iPhone" in agent


@login_required
def desk_new(request: HttpRequest) -> HttpResponse:
    """The service desk reports on behalf of a caller (代报, channel phone)."""
    user = request.user
    if not policy.can(user, "workorders.dispatch"):
        raise DjangoPermissionDenied
    User = get_user_model()
    requesters = list(
        scoped(
            user,
            User.objects.filter(is_active=True).select_related("home_org"),
            roles=policy.ACTIONS["workorders.dispatch"],
        ).order_by("home_org__path", "username")[:500]
    )
    org = _desk_org(user)
    categories = catalogue(user, org)
    form = DeskReportForm(
        request.POST or None,
        request.FILES or None,
        categories=categories,
        requesters=requesters,
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            order = _services().submit_request(
                actor=user,
                category_id=d["category"],
                location_id=d["location"],
                description=d["description"],
                urgency=d["urgency"],
                channel=Channel.DESK,
                requester_id=d["requester"],
                contact_phone=d.get("contact_phone") or "",
                photos=d.get("photos") or [],
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("已代报，工单号 %(n)s。") % {"n": order.number})
            return redirect("workorders:detail", pk=order.pk)
    return _render(
        request,
        "workorders/new.html",
        {
            "form": form,
            "categories": categories,
            "levels": _picker_levels(user, form["location"].value()),
            "tab": "desk",
            "desk": True,
        },
        status=422 if form.errors else 200,
    )


def _desk_org(user: Any) -> Organization | None:
    """The centre whose catalogue the desk offers: the nearest centre of its grant."""
    for g in sorted(
        (
            g
            for g in user.grants.select_related("org")
            if g.role in policy.ACTIONS["workorders.dispatch"]
        ),
        key=lambda g: g.org.depth,
    ):
        return g.org
    return user.home_org


@login_required
def location_children(request: HttpRequest) -> HttpResponse:
    """The picker's next level (HTMX): the children of the chosen location."""
    raw = request.GET.getlist("location")
    picked = [v for v in raw if v and v.isdigit()]
    children: list[Any] = []
    parent = None
    if picked:
        parent_id = int(picked[-1])
        try:
            parent = org_queries.location(request.user, parent_id)
        except DomainError:
            raise Http404 from None
        children = list(
            org_queries.locations(request.user, within=parent_id).filter(
                parent_id=parent_id, is_active=True
            )
        )
    return _render(
        request,
        "workorders/_locations.html",
        {"children": children, "parent": parent, "level": parent.depth + 1 if parent else 0},
    )


# --- the requester's pages -----------------------------------------------------------


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    qs = (
        WorkOrder.objects.filter(requester=request.user)
        .select_related("category", "location")
        .order_by("-submitted_at", "-id")
    )
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    return _render(request, "workorders/mine.html", {"page": page, "tab": "mine"})


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _order(request.user, pk))


def _render_detail(
    request: HttpRequest,
    order: WorkOrder,
    *,
    forms: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    now = timezone.now()
    timers = list(order.timers.select_related("rule").order_by("started_at", "id"))
    order._prefetched_objects_cache = {**getattr(order, "_prefetched_objects_cache", {})}
    order._prefetched_objects_cache["timers"] = timers
    events = list(order.events.select_related("actor").order_by("at", "id"))
    for e in events:
        e.label = EVENT_LABELS.get(e.action, e.action)
    photos = list(order.photos.order_by("created_at", "id"))
    for p in photos:
        p.thumb_url = _photo_url(p)
        p.full_url = _photo_url(p, thumb=False)
    forms = forms or {}
    is_requester = order.requester_id == user.pk
    allowed = set(_services().allowed_actions(order))
    can_dispatch = policy.can(user, "workorders.dispatch", order.org)
    is_worker = _services().is_worker(user, order) and order.status in OPEN_STATUSES
    ctx = {
        "order": order,
        "timers": _timer_rows(order, now),
        "events": events,
        "photos": photos,
        "active_nav": NAV,
        "error": error,
        "is_requester": is_requester,
        "can_cancel": (is_requester or can_dispatch) and "cancel" in allowed,
        "can_rate": is_requester and "confirm" in allowed,
        "can_reopen": (is_requester or can_dispatch) and "reopen" in allowed,
        "can_dispatch": can_dispatch and "dispatch" in allowed,
        "is_worker": is_worker,
        "rate_form": forms.get("rate") or RateForm(initial={"version": order.version}),
        "cancel_form": forms.get("cancel") or ReasonForm(initial={"version": order.version}),
        "reopen_form": forms.get("reopen") or ReasonForm(initial={"version": order.version}),
    }
    if ctx["can_dispatch"]:
        ctx["dispatch_form"] = forms.get("dispatch") or _dispatch_form(user, order)
    if is_worker:
        ctx["card"] = _card(user, order, forms=forms, now=now)
    return _render(request, "workorders/detail.html", ctx, status=status)


def _dispatch_form(user: Any, order: WorkOrder, data: Any = None) -> DispatchForm:
    teams = list(
        scoped(
            user, Team.objects.filter(is_active=True), roles=policy.ACTIONS["workorders.dispatch"]
        )
    )
    members = (
        TeamMember.objects.filter(team__in=[t.pk for t in teams]).select_related("user")
        if teams
        else []
    )
    workers = list({m.user_id: m.user for m in members}.values())
    return DispatchForm(
        data,
        teams=teams,
        workers=workers,
        initial={"version": order.version, "team": order.team_id, "assignee": order.assignee_id},
    )


# --- actions -------------------------------------------------------------------------


@login_required
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One transition of an order, from the detail page or (HTMX) a queue card."""
    user = request.user
    order = _order(user, pk)
    htmx = request.headers.get("HX-Request") == "true"
    svc = _services()
    form: Any
    if action == "pause":
        form = PauseForm(request.POST, reasons=_pause_reasons(order))
    elif action == "resolve":
        form = ResolveForm(request.POST, request.FILES)
    elif action in ("cancel", "reopen"):
        form = ReasonForm(request.POST)
    elif action == "rate":
        form = RateForm(request.POST)
    elif action in ("accept", "arrive", "resume"):
        form = VersionForm(request.POST)
    elif action in ("dispatch", "auto_dispatch"):
        form = (
            _dispatch_form(user, order, request.POST)
            if action == "dispatch"
            else VersionForm(request.POST)
        )
    else:
        raise Http404
    error, status = "", 200
    valid = form.is_valid()
    materials = form.materials() if isinstance(form, ResolveForm) and valid else []
    if valid and not form.errors:
        d = form.cleaned_data
        common = {"actor": user, "order_id": order.pk, "version": d["version"]}
        try:
            if action in ("accept", "arrive", "resume"):
                getattr(svc, action)(**common)
            elif action == "pause":
                svc.pause(**common, reason=d["reason"])
            elif action == "resolve":
                svc.resolve(
                    **common,
                    resolution=d["resolution"],
                    materials=materials,
                    cost=d.get("cost") or 0,
                    photos=d.get("photos") or [],
                )
            elif action == "cancel":
                svc.cancel(**common, reason=d["reason"])
            elif action == "reopen":
                svc.reopen(**common, reason=d["reason"])
            elif action == "rate":
                svc.confirm_and_rate(
                    **common, rating=d["rating"], tags=d["tags"], comment=d["comment"]
                )
            elif action == "dispatch":
                svc.dispatch(**common, team_id=d.get("team"), assignee_id=d.get("assignee"))
            elif action == "auto_dispatch":
                svc.auto_dispatch(**common)
        except DomainError as exc:
            error, status = refusal(exc), exc.status
            if isinstance(exc, InvalidInput):
                apply_error(form, exc)
    else:
        error, status = _("请检查填写的内容。"), 422
    fresh = order
    if not error or status == 409:
        fresh = _reread(user, pk) or order
    if htmx and request.POST.get("from") == "queue":
        ctx_forms = {action: form} if error and status != 409 else {}
        return render(
            request,
            "workorders/_card.html",
            {"c": _card(user, fresh, forms=ctx_forms, error=error, now=timezone.now())},
        )
    if error:
        return _render_detail(request, fresh, forms={action: form}, error=error, status=status)
    messages.success(request, _("已更新：%(s)s") % {"s": fresh.get_status_display()})
    if request.POST.get("from") == "queue":
        return redirect("workorders:queue")
    if not visible_orders(user).filter(pk=pk).exists():
        return redirect("workorders:home")
    return redirect("workorders:detail", pk=pk)


def _reread(user: Any, pk: int) -> WorkOrder | None:
    """The order after the change; None if the change took it out of the user's sight."""
    return (
        visible_orders(user)
        .select_related("category", "location", "org", "requester", "team", "vendor", "assignee")
        .filter(pk=pk)
        .first()
    )


# --- the worker's queue --------------------------------------------------------------


def _card(
    user: Any,
    order: WorkOrder,
    *,
    forms: dict[str, Any] | None = None,
    error: str = "",
    now: datetime,
    reasons_cache: dict[Any, list[str]] | None = None,
) -> dict[str, Any]:
    """What a worker's card shows for one order: clocks and the next allowed steps."""
    forms = forms or {}
    timers = _timer_rows(order, now)
    running = [t for t in timers if t["timer"].met_at is None]
    next_due = min((t["timer"].due_at for t in running), default=None)
    card: dict[str, Any] = {
        "order": order,
        "timers": timers,
        "next_due": next_due,
        "error": error,
        "version_form": VersionForm(initial={"version": order.version}),
    }
    s = order.status
    steps = []
    if s == Status.DISPATCHED:
        steps.append(("accept", _("接单")))
    if s == Status.ACCEPTED:
        steps.append(("arrive", _("到场")))
    if s == Status.PAUSED:
        steps.append(("resume", _("恢复计时")))
    card["simple_steps"] = steps
    allowed = set(_services().allowed_actions(order))
    card["can_pause"] = "pause" in allowed
    card["can_resolve"] = "resolve" in allowed
    if card["can_pause"]:
        reasons = _pause_reasons(order, reasons_cache)
        card["can_pause"] = bool(reasons)
        card["pause_form"] = forms.get("pause") or PauseForm(
            initial={"version": order.version}, reasons=reasons
        )
    if card["can_resolve"]:
        card["resolve_form"] = forms.get("resolve") or ResolveForm(
            initial={"version": order.version}
        )
        card["material_rows"] = range(MATERIAL_ROWS)
    return card


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """My queue: orders assigned to me or to my teams, open ones first by due time."""
    user = request.user
    qs = (
        queries.queue(user)
        .select_related("org")
        .prefetch_related(
            Prefetch(
                "timers", queryset=WorkOrderTimer.objects.select_related("rule").order_by("due_at")
            )
        )
    )
    now = timezone.now()
    cache: dict[Any, list[str]] = {}
    cards = [_card(user, o, now=now, reasons_cache=cache) for o in qs[:200]]
    return _render(request, "workorders/queue.html", {"cards": cards, "tab": "queue"})


# --- the desk's list -----------------------------------------------------------------


def _filter_form(request: HttpRequest) -> FilterForm:
    user = request.user
    overseen_orgs = list(
        scoped(
            user,
            Organization.objects.filter(is_active=True),
            roles=policy.ACTIONS["workorders.view_all"],
        )
    )
    centres = [o for o in overseen_orgs if o.kind in OrgKind.centres()]
    vendors = [o for o in overseen_orgs if o.kind == OrgKind.VENDOR]
    categories = list(
        scoped(user, ServiceCategory.objects.all(), roles=policy.ACTIONS["workorders.view_all"])
    )
    categories += [c for c in catalogue(user, user.home_org) if c not in categories]
    buildings = list(
        scoped(
            user,
            org_queries.locations(user, kind=LocationKind.BUILDING),
            roles=policy.ACTIONS["workorders.view_all"],
        )
    )
    return FilterForm(
        request.GET or None,
        categories=categories,
        buildings=buildings,
        vendors=vendors,
        orgs=centres,
    )


def filtered(user: Any, filters: dict[str, Any]) -> QuerySet[WorkOrder]:
    qs = reports.overseen(user)
    status = filters.get("status")
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if filters.get("category"):
        qs = qs.filter(category_id__in=queries.category_ids(filters["category"]))
    if filters.get("location"):
        path = (
            org_queries.locations(user)
            .filter(pk=filters["location"])
            .values_list("path", flat=True)
            .first()
        )
        qs = qs.filter(location__path__startswith=path) if path else qs.none()
    if filters.get("vendor"):
        qs = qs.filter(vendor_id=filters["vendor"])
    if filters.get("org"):
        path = Organization.objects.filter(pk=filters["org"]).values_list("path", flat=True).first()
        ids = Organization.objects.filter(path__startswith=path).values_list("pk", flat=True)
        qs = qs.filter(org_id__in=list(ids)) if path else qs.none()
    if filters.get("overdue"):
        qs = qs.filter(reports.overdue_q())
    q = (filters.get("q") or "").strip()
    if q:
        qs = qs.filter(
            Q(number__icontains=q)
            | Q(description__icontains=q)
            | Q(location__name__icontains=q)
            | Q(requester__display_name__icontains=q)
            | Q(requester__username__icontains=q)
        )
    return qs.order_by("-submitted_at", "-id")


def _require_oversight(user: Any) -> None:
    if not _can_oversee(user):
        raise DjangoPermissionDenied


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_oversight(user)
    form = _filter_form(request)
    qs = filtered(user, form.filters()).select_related(
        "category", "location", "org", "requester", "team", "vendor", "assignee"
    )
    now = timezone.now()
    late = WorkOrderTimer.objects.filter(
        workorder=OuterRef("pk"), met_at__isnull=True, due_at__lt=now
    )
    qs = qs.annotate(late=Exists(late))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return _render(
        request,
        "workorders/list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "tab": "list",
            "can_dispatch": policy.can(user, "workorders.dispatch"),
        },
    )


@login_required
def export(request: HttpRequest) -> HttpResponse:
    """The filtered list as Excel, capped at ``EXPORT_MAX`` rows."""
    user = request.user
    _require_oversight(user)
    form = _filter_form(request)
    qs = filtered(user, form.filters()).select_related(
        "category", "location", "org", "requester", "team", "vendor", "assignee"
    )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("工单"))
    ws.append(
        [
            _("工单号"),
            _("单位"),
            _("类别"),
            _("地点"),
            _("问题描述"),
            _("紧急程度"),
            _("渠道"),
            _("报修人"),
            _("状态"),
            _("班组"),
            _("外包单位"),
            _("处理人"),
            _("提交时间"),
            _("完成时间"),
            _("超时"),
            _("评分"),
            _("费用(元)"),
        ]
    )
    for rows, o in enumerate(qs[: EXPORT_MAX + 1], start=1):
        if rows > EXPORT_MAX:
            ws.append([_("仅导出前 %(n)d 条，请缩小筛选范围。") % {"n": EXPORT_MAX}])
            break
        ws.append(
            [
                o.number,
                o.org.name,
                o.category.name,
                o.location.name,
                o.description,
                o.get_urgency_display(),
                o.get_channel_display(),
                str(o.requester),
                o.get_status_display(),
                o.team.name if o.team else "",
                o.vendor.name if o.vendor else "",
                str(o.assignee) if o.assignee else "",
                _local(o.submitted_at),
                _local(o.resolved_at),
                _("是") if o.overdue else "",
                o.rating if o.rating is not None else "",
                float(o.cost),
            ]
        )
    from io import BytesIO

    buf = BytesIO()
    wb.save(buf)
    resp = HttpResponse(buf.getvalue(), content_type=XLSX)
    resp["Content-Disposition"] = f'attachment; filename="workorders-{date.today():%Y%m%d}.xlsx"'
    return resp


def _local(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


# --- dashboard -----------------------------------------------------------------------


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_oversight(user)
    period = Period.from_query(request.GET)
    org_id = request.GET.get("org")
    data = reports.dashboard(
        user, period, org_id=int(org_id) if org_id and org_id.isdigit() else None
    )
    chart = {
        "labels": {
            "volume": _("报修量"),
            "on_time": _("按时率"),
            "count": _("工单数"),
            "overdue": _("超时"),
        },
        "days": [r["day"][5:] for r in data["by_day"]],
        "day_counts": [r["count"] for r in data["by_day"]],
        "categories": [{"name": r["name"], "value": r["count"]} for r in data["by_category"]],
        "buildings": {
            "names": [r["name"] for r in data["by_building"][:15]],
            "counts": [r["count"] for r in data["by_building"][:15]],
        },
        "orgs": {
            "names": [r["name"] for r in data["by_org"]],
            "counts": [r["count"] for r in data["by_org"]],
            "overdue": [r["overdue"] for r in data["by_org"]],
        },
        "on_time": {
            "names": [r["label"] for r in data["on_time"]],
            "rates": [
                round(r["rate"] * 100, 1) if r["rate"] is not None else None
                for r in data["on_time"]
            ],
        },
    }
    orgs = list(
        scoped(
            user,
            Organization.objects.filter(is_active=True, kind__in=OrgKind.centres()),
            roles=policy.ACTIONS["workorders.view_all"],
        )
    )
    return _render(
        request,
        "workorders/dashboard.html",
        {
            "data": data,
            "chart": chart,
            "orgs": orgs,
            "org_id": org_id or "",
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "tab": "dashboard",
        },
    )
