"""Manager pages for plans (``inspections.plan``): who performs each scheduled activity
(plan assignments), the equipment schedules name by type (assets), and "generate now"
for the next days after a change.

The choices offered come from what is in force for the org: activities and asset types
from its effective ``schedule`` rules, checklists from its ``checklist`` rules, its
locations, teams, inspectors and vendors. The services decide what is allowed; a
record outside the user's planning scope is a 404, whichever county it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dayuan.accounts.models import User
from dayuan.core import policy
from dayuan.core.errors import DomainError, NotFound
from dayuan.core.pages import apply_error, refusal
from dayuan.core.scope import scoped
from dayuan.orgs import queries as org_queries
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization
from dayuan.standards import effective
from dayuan.standards.choices import RuleKind
from dayuan.workorders.catalogue import ancestor_paths
from dayuan.workorders.models import Team

from . import queries, services
from .forms import AssetForm, AssignmentForm
from .models import Asset, PlanAssignment
from .views import _checklists, _render

MAX_ROWS = 500


def _require_plan(user: Any) -> None:
    if not policy.can(user, "inspections.plan"):
        raise DjangoPermissionDenied


def _plan_orgs(user: Any) -> list[Organization]:
    """The centre and units where the user plans (never an outside party)."""
    orgs = Organization.objects.filter(is_active=True).exclude(kind__in=OrgKind.external())
    return list(scoped(user, orgs, roles=policy.roles_for("inspections.plan")).order_by("path"))


def _picked(request: HttpRequest, orgs: list[Organization]) -> Organization:
    """The org asked for (404 if it is not one of the user's), else the first."""
    raw = request.POST.get("org") or request.GET.get("org")
    if raw:
        org = next((o for o in orgs if str(o.pk) == str(raw)), None)
        if org is None:
            raise Http404
        return org
    if not orgs:
        raise DjangoPermissionDenied
    return orgs[0]


def _plannable(user: Any, qs: QuerySet, pk: int) -> Any:
    """The record if the user may plan for its org; 404 otherwise (another county's
    record is not revealed)."""
    obj = qs.select_related("org").filter(pk=pk).first()
    if obj is None or not policy.can(user, "inspections.plan", obj.org):
        raise Http404
    return obj


def _edit_target(
    request: HttpRequest, user: Any, records: Callable[[Any], QuerySet], pk: int | None
) -> tuple[Organization, Any, list[Organization]]:
    """What an edit page works on: ``(org, record, orgs)``, a new record (``pk`` None)
    in the org picked among ``orgs``, else the record ``records(user)`` holds and its org
    (no org to pick)."""
    if pk is None:
        orgs = _plan_orgs(user)
        return _picked(request, orgs), None, orgs
    obj = _plannable(user, records(user), pk)
    return obj.org, obj, []


def _back(org_id: int) -> HttpResponse:
    return redirect(f"{reverse('inspections:plans')}?org={org_id}")


# --- choices -------------------------------------------------------------------------


def _schedule_targets(org: Organization) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(activity, label) and (asset type, label) of the org's effective schedules."""
    activities: dict[str, str] = {}
    asset_types: dict[str, str] = {}
    for rule in effective.effective_rules(org, kind=RuleKind.SCHEDULE):
        target = rule.params.target  # type: ignore[union-attr]
        what = target.location_tag or target.asset_type
        if what is None:
            continue  # record schedules are not planned per place
        label = f"{target.activity}（{what} · {rule.clause_number}）"
        activities.setdefault(target.activity, label)
        if target.asset_type:
            asset_types.setdefault(target.asset_type, target.asset_type)
    return sorted(activities.items()), sorted(asset_types.items())


def _with(choices: list[tuple[Any, str]], current: Any) -> list[tuple[Any, str]]:
    """Keep a record's current value choosable after the standard stopped naming it."""
    if current and current not in {v for v, _label in choices}:
        return [*choices, (current, str(current))]
    return choices


def _locations(user: Any, org: Organization) -> list[tuple[int, str]]:
    rows = (
        org_queries.locations(user)
        .filter(org__path__startswith=org.path, is_active=True)
        .order_by("path")[:1000]
    )
    return [(loc.pk, f"{loc.name} · {loc.org.short_name or loc.org.name}") for loc in rows]


def _teams(org: Organization) -> list[tuple[int, str]]:
    teams = Team.objects.filter(is_active=True).filter(
        Q(org__path__startswith=org.path) | Q(org__path__in=ancestor_paths(org.path))
    )
    return [(t.pk, t.name) for t in teams.order_by("name", "pk")]


def _inspectors(org: Organization) -> list[tuple[int, str]]:
    """Who may inspect at the org: a conduct or self-inspect role at it or above."""
    roles = policy.roles_for("inspections.conduct") | policy.roles_for("inspections.self_inspect")
    users = User.objects.filter(
        is_active=True, grants__role__in=roles, grants__org__path__in=ancestor_paths(org.path)
    ).distinct()
    return [(u.pk, u.display_name or u.username) for u in users.order_by("username")]


def _vendors(org: Organization) -> list[tuple[int, str]]:
    centre = org.centre or org
    vendors = Organization.objects.filter(
        is_active=True, kind=OrgKind.VENDOR, path__startswith=centre.path
    )
    return [(v.pk, v.name) for v in vendors.order_by("path")]


# --- pages ---------------------------------------------------------------------------


@login_required
def plans(request: HttpRequest) -> HttpResponse:
    """The org's plan assignments and assets, and "generate now"."""
    user = request.user
    _require_plan(user)
    orgs = _plan_orgs(user)
    org = _picked(request, orgs)
    return _render(
        request,
        "inspections/plans.html",
        {
            "orgs": orgs,
            "org": org,
            "assignments": list(queries.assignments(user, org_id=org.pk)[:MAX_ROWS]),
            "assets": list(queries.assets(user, org_id=org.pk)[:MAX_ROWS]),
            "can_generate": policy.can(user, "inspections.plan", org.centre or org),
            "generate_days": services.GENERATE_DAYS,
            "tab": "plans",
        },
    )


def _edit_page(
    request: HttpRequest,
    form: Any,
    org: Organization,
    obj: Any,
    orgs: list[Organization],
    title: str,
) -> HttpResponse:
    return _render(
        request,
        "inspections/plan_form.html",
        {"form": form, "org": org, "obj": obj, "orgs": orgs, "title": title, "tab": "plans"},
        status=422 if form.errors else 200,
    )


@login_required
def assignment_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (``pk`` None) or edit a plan assignment."""
    user = request.user
    _require_plan(user)
    org, obj, orgs = _edit_target(request, user, queries.assignments, pk)
    initial: dict[str, Any] = {"is_active": True}
    if obj is not None:
        initial = {
            "version": obj.version,
            "activity": obj.activity,
            "location": obj.location_id,
            "team": obj.team_id,
            "inspector": obj.inspector_id,
            "vendor": obj.vendor_id,
            "checklist": obj.checklist_code,
            "kind": obj.kind,
            "is_active": obj.is_active,
        }
    activities, _types = _schedule_targets(org)
    form = AssignmentForm(
        request.POST or None,
        initial=initial,
        activities=_with(activities, obj.activity if obj else None),
        locations=_locations(user, org),
        teams=_teams(org),
        inspectors=_inspectors(org),
        vendors=_vendors(org),
        checklists=_with(_checklists(org), obj.checklist_code if obj else None),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.save_assignment(
                actor=user,
                org_id=org.pk,
                activity=d["activity"],
                location_id=d.get("location"),
                team_id=d.get("team"),
                inspector_id=d.get("inspector"),
                vendor_id=d.get("vendor"),
                checklist_code=d.get("checklist") or "",
                kind=d["kind"],
                assignment_id=pk,
                version=d.get("version") if pk else None,
                is_active=d["is_active"],
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("计划分工已保存。"))
            return _back(org.pk)
    title = _("编辑计划分工") if obj else _("新增计划分工")
    return _edit_page(request, form, org, obj, orgs, title)


@login_required
def asset_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Register (``pk`` None) or edit a piece of equipment."""
    user = request.user
    _require_plan(user)
    org, obj, orgs = _edit_target(request, user, queries.assets, pk)
    initial: dict[str, Any] = {"is_active": True}
    if obj is not None:
        initial = {
            "version": obj.version,
            "location": obj.location_id,
            "asset_type": obj.asset_type,
            "name": obj.name,
            "code": obj.code,
            "is_active": obj.is_active,
        }
    _activities, asset_types = _schedule_targets(org)
    form = AssetForm(
        request.POST or None,
        initial=initial,
        locations=_locations(user, org),
        asset_types=_with(asset_types, obj.asset_type if obj else None),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.save_asset(
                actor=user,
                org_id=org.pk,
                location_id=d["location"],
                asset_type=d["asset_type"],
                name=d["name"],
                code=d.get("code") or "",
                asset_id=pk,
                version=d.get("version") if pk else None,
                is_active=d["is_active"],
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("设施设备已保存。"))
            return _back(org.pk)
    title = _("编辑设施设备") if obj else _("登记设施设备")
    return _edit_page(request, form, org, obj, orgs, title)


def _deactivate(request: HttpRequest, obj: Any, call: Any, done: str) -> HttpResponse:
    raw = request.POST.get("version") or ""
    try:
        call(version=int(raw) if raw.isdigit() else None)
    except DomainError as exc:
        messages.error(request, refusal(exc))
    else:
        messages.success(request, done)
    return _back(obj.org_id)


@login_required
@require_POST
def assignment_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require_plan(user)
    obj: PlanAssignment = _plannable(user, queries.assignments(user), pk)

    def call(version: int | None) -> None:
        services.deactivate_assignment(actor=user, assignment_id=obj.pk, version=version)

    return _deactivate(request, obj, call, _("计划分工已停用。"))


@login_required
@require_POST
def asset_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require_plan(user)
    obj: Asset = _plannable(user, queries.assets(user), pk)

    def call(version: int | None) -> None:
        services.deactivate_asset(actor=user, asset_id=obj.pk, version=version)

    return _deactivate(request, obj, call, _("设施设备已停用。"))


@login_required
@require_POST
def generate(request: HttpRequest) -> HttpResponse:
    """Generate the next days' occurrences for the org's centre now."""
    user = request.user
    _require_plan(user)
    org = _picked(request, _plan_orgs(user))
    try:
        created = services.generate_now(actor=user, org_id=org.pk)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, refusal(exc))
    else:
        messages.success(
            request,
            _("已生成未来 %(days)s 天的计划任务，新增 %(n)s 条。")
            % {"days": services.GENERATE_DAYS, "n": created},
        )
    return _back(org.pk)
