"""Pages: my inspections (today, upcoming, overdue), start and conduct an inspection on
a phone (each answer saved as it is given), its record, findings and their whole
history, the rectification loop (evidence, verdicts), ad hoc findings, the clause
trace and the dashboard.

Thin: reads go through ``queries`` and ``reports``, every write through ``services``
and ``rectification``; a refusal is shown next to the form.
"""

from __future__ import annotations

import mimetypes
import uuid
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from dayuan.core import policy
from dayuan.core.errors import DomainError
from dayuan.core.pages import apply_error, refusal
from dayuan.core.periods import Period
from dayuan.core.scope import path_filter, scope_paths, scoped
from dayuan.orgs import queries as org_queries
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization
from dayuan.standards import effective
from dayuan.standards.choices import RuleKind
from dayuan.workorders.models import TeamMember

from . import queries
from .choices import (
    AWAITING_PARTY,
    FindingStatus,
    InspectionKind,
    InspectionStatus,
    RectificationStatus,
)
from .forms import (
    AssignForm,
    EvidenceForm,
    FindingFilterForm,
    FindingForm,
    ReasonForm,
    StartForm,
    SubmitForm,
    VerifyForm,
    answers_from,
)
from .models import (
    Finding,
    FindingPhoto,
    Inspection,
    InspectionPhoto,
    PlanOccurrence,
    Rectification,
    RectificationPhoto,
)

NAV = "inspections"
PAGE_SIZE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

OUTCOME_LABELS = {
    "pass": gettext_lazy("符合"),
    "fail": gettext_lazy("不符合"),
    "na": gettext_lazy("不适用"),
}
EVENT_LABELS = {
    "raised": gettext_lazy("发现问题"),
    "ordered": gettext_lazy("下达整改"),
    "assigned": gettext_lazy("指派整改人"),
    "evidence": gettext_lazy("提交整改"),
    "accepted": gettext_lazy("验收通过"),
    "rejected": gettext_lazy("验收退回"),
    "overdue": gettext_lazy("整改超期"),
    "escalated": gettext_lazy("超期升级"),
    "supervised": gettext_lazy("转入督办"),
    "supervision_closed": gettext_lazy("督办随整改办结"),
    "supervision_cancelled": gettext_lazy("督办随问题撤销"),
    "closed": gettext_lazy("闭环"),
    "cancelled": gettext_lazy("撤销"),
}


def _services() -> Any:
    """The write side of inspections (imported late: another helper's module)."""
    from . import services

    return services


def _loop() -> Any:
    from . import rectification

    return rectification


def _reports() -> Any:
    from . import reports

    return reports


# --- common --------------------------------------------------------------------------


def _perms(user: Any) -> dict[str, bool]:
    return {
        "conduct": policy.can(user, "inspections.conduct"),
        "self_inspect": policy.can(user, "inspections.self_inspect"),
        "view_all": policy.can(user, "inspections.view_all"),
        "raise": policy.can(user, "inspections.raise"),
        "verify": policy.can(user, "inspections.verify"),
        "rectify": policy.can(user, "inspections.rectify"),
        "plan": policy.can(user, "inspections.plan"),
    }


def _render(
    request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    ctx.setdefault("active_nav", NAV)
    ctx["perms_insp"] = _perms(request.user)
    return render(request, template, ctx, status=status)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _file(field: Any) -> FileResponse:
    try:
        handle = field.storage.open(field.name, "rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404 from exc
    content_type = mimetypes.guess_type(field.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _photo_file(request: HttpRequest, photos: QuerySet) -> FileResponse:
    """The photo ``photos`` holds (the one asked for, if the user may see it), or its
    thumbnail with ``?thumb=1``; 404 when there is none."""
    found = photos.only("image", "thumbnail").first()
    if found is None:
        raise Http404
    return _file(found.thumbnail if request.GET.get("thumb") else found.image)


def _photo_urls(photo: Any, name: str) -> Any:
    url = reverse(name, args=[photo.pk])
    photo.full_url = url
    photo.thumb_url = f"{url}?thumb=1"
    return photo


def _location_choices(user: Any) -> list[tuple[int, str]]:
    rows = org_queries.locations(user).filter(is_active=True)[:1000]
    return [(loc.pk, f"{loc.name} · {loc.org.short_name or loc.org.name}") for loc in rows]


def _vendors(user: Any, action: str) -> list[Organization]:
    return list(
        scoped(
            user,
            Organization.objects.filter(is_active=True, kind=OrgKind.VENDOR),
            roles=policy.ACTIONS[action],
        )
    )


def _centres(user: Any, action: str) -> list[Organization]:
    return list(
        scoped(
            user,
            Organization.objects.filter(is_active=True, kind__in=OrgKind.centres()),
            roles=policy.ACTIONS[action],
        )
    )


# --- my inspections ------------------------------------------------------------------


def _team_ids(user: Any) -> list[int]:
    return list(TeamMember.objects.filter(user=user).values_list("team_id", flat=True))


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """我的检查: my occurrences due today, coming up and overdue; my drafts; my loop."""
    user = request.user
    now = timezone.now()
    mine = Q(inspector=user) | Q(team_id__in=_team_ids(user))

    def view(name: str) -> list[PlanOccurrence]:
        qs = queries.occurrence_list(user, view=name, now=now).filter(mine)
        return list(qs.select_related("assignment", "asset__location")[:50])

    today = view("today")
    shown = {o.pk for o in today}
    upcoming = [
        o
        for o in view("upcoming")
        if o.pk not in shown and o.period_start < now + timedelta(days=7)
    ]
    overdue = view("overdue")
    for occ in overdue + today + upcoming:
        occ.start_key = uuid.uuid4().hex
        occ.place = occ.location or (occ.asset.location if occ.asset else None)
        occ.checklist_code = occ.assignment.checklist_code if occ.assignment else ""
        occ.kind = occ.assignment.kind if occ.assignment else InspectionKind.PATROL
    drafts = queries.inspection_list(user, status=InspectionStatus.DRAFT, inspector_id=user.pk)
    recent = queries.inspection_list(
        user, status=InspectionStatus.SUBMITTED, inspector_id=user.pk
    ).order_by("-submitted_at")
    return _render(
        request,
        "inspections/home.html",
        {
            "overdue": overdue,
            "today": today,
            "upcoming": upcoming,
            "drafts": list(drafts[:20]),
            "recent": list(recent[:10]),
            "to_rectify": _to_rectify(user).count(),
            "to_verify": _to_verify(user).count(),
            "tab": "home",
        },
    )


def _to_rectify(user: Any) -> QuerySet[Rectification]:
    """Orders waiting for the user's side: named, or their party's (a vendor, a unit)."""
    cond = Q(assignee=user)
    if ids := queries.party_org_ids(user):
        cond |= Q(assignee_org_id__in=ids)
    return queries.rectifications(user).filter(cond, status__in=AWAITING_PARTY)


def _to_verify(user: Any) -> QuerySet[Rectification]:
    cond = Q(verifier=user)
    if paths := scope_paths(user, policy.ACTIONS["inspections.verify"]):
        ids = Organization.objects.filter(path_filter("", paths)).values_list("pk", flat=True)
        cond |= Q(org_id__in=list(ids))
    return queries.rectifications(user).filter(cond, status=RectificationStatus.SUBMITTED)


# --- start and conduct ---------------------------------------------------------------


def _checklists(org: Any) -> list[tuple[str, str]]:
    """The org's effective checklists as (code, title)."""
    if org is None:
        return []
    seen: dict[str, str] = {}
    for rule in effective.effective_rules(org, kind=RuleKind.CHECKLIST):
        code = getattr(rule.params, "checklist", "")
        if code and code not in seen:
            seen[code] = f"{rule.params.title}（{code}）"
    return sorted(seen.items())


def _kinds(user: Any) -> list[tuple[str, Any]]:
    """The kinds the user may run: self-inspection, or the centre's own kinds."""
    conduct = policy.can(user, "inspections.conduct")
    own = policy.can(user, "inspections.self_inspect")
    return [
        (value, label)
        for value, label in InspectionKind.choices
        if (own if value == InspectionKind.SELF else conduct)
    ]


@login_required
def start(request: HttpRequest) -> HttpResponse:
    """Pick checklist and place (or come from a plan occurrence) and begin."""
    user = request.user
    kinds = _kinds(user)
    if not kinds:
        raise DjangoPermissionDenied
    occurrence = None
    occ_id = request.POST.get("occurrence") or request.GET.get("occurrence")
    if occ_id and str(occ_id).isdigit():
        occurrence = (
            queries.occurrences(user)
            .select_related("assignment", "asset", "org")
            .filter(pk=int(occ_id))
            .first()
        )
        if occurrence is None:
            raise Http404
    initial: dict[str, Any] = {"client_key": uuid.uuid4().hex, "kind": kinds[0][0]}
    if occurrence is not None:
        place = occurrence.location_id or (
            occurrence.asset.location_id if occurrence.asset else None
        )
        initial.update(occurrence=occurrence.pk, location=place, vendor=occurrence.vendor_id)
        if occurrence.assignment:
            initial.update(
                checklist=occurrence.assignment.checklist_code, kind=occurrence.assignment.kind
            )
    org = occurrence.org if occurrence is not None else user.home_org
    form = StartForm(
        request.POST or None,
        initial=initial,
        checklists=_checklists(org),
        locations=_location_choices(user),
        vendors=_vendors(user, "locations.view"),
        kinds=kinds,
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            inspection = _services().start_inspection(
                actor=user,
                kind=d["kind"],
                checklist_code=d["checklist"],
                location_id=d["location"],
                vendor_id=d.get("vendor"),
                occurrence_id=d.get("occurrence"),
                client_key=d["client_key"],
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            return redirect("inspections:conduct", pk=inspection.pk)
    return _render(
        request,
        "inspections/start.html",
        {"form": form, "occurrence": occurrence, "tab": "start"},
        status=422 if form.errors else 200,
    )


def _inspection(user: Any, pk: int) -> Inspection:
    found = (
        queries.inspections(user)
        .select_related("location", "vendor", "inspector", "org", "occurrence")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    return found


def _checklist_items(inspection: Inspection) -> list[dict[str, Any]]:
    return [dict(it) for it in (inspection.checklist or {}).get("items", [])]


def _outcomes(inspection: Inspection) -> tuple[dict[str, str], float | None]:
    """The live judgement of the draft: item outcomes and the partial score."""
    svc = _services()
    if not inspection.answers:
        return {}, None
    return svc.item_outcomes(inspection), svc.draft_grade(inspection).score_percent


def _limit(item: dict[str, Any]) -> str:
    unit = item.get("unit") or ""
    low, high = item.get("min"), item.get("max")
    if low is not None and high is not None:
        return _("%(min)g–%(max)g%(unit)s") % {"min": low, "max": high, "unit": unit}
    if high is not None:
        return _("≤ %(max)g%(unit)s") % {"max": high, "unit": unit}
    if low is not None:
        return _("≥ %(min)g%(unit)s") % {"min": low, "unit": unit}
    return ""


def _item_rows(
    inspection: Inspection, outcomes: dict[str, str], photos: list[InspectionPhoto]
) -> list[dict[str, Any]]:
    rows = []
    for item in _checklist_items(inspection):
        key = item["key"]
        raw = (inspection.answers or {}).get(key)
        raw = raw if isinstance(raw, dict) else {}
        value = raw.get("value", raw.get("score"))
        rows.append(
            {
                "item": item,
                "key": key,
                "answered": bool(raw),
                "chosen": raw.get("outcome", ""),
                "value": "" if value is None else f"{value:g}",
                "note": (inspection.notes or {}).get(key, ""),
                "outcome": outcomes.get(key, ""),
                "limit": _limit(item),
                "photos": [p for p in photos if p.item_key == key],
            }
        )
    return rows


def _summary(rows: list[dict[str, Any]], score: float | None) -> dict[str, Any]:
    return {
        "total": len(rows),
        "answered": sum(1 for r in rows if r["answered"]),
        "failed": sum(1 for r in rows if r["outcome"] == "fail"),
        "score": score,
    }


def _photos(inspection: Inspection) -> list[InspectionPhoto]:
    return [
        _photo_urls(p, "inspections:photo") for p in inspection.photos.order_by("created_at", "id")
    ]


def _own_draft(user: Any, pk: int) -> Inspection:
    inspection = _inspection(user, pk)
    if inspection.inspector_id != user.pk:
        raise Http404
    return inspection


@login_required
def conduct(request: HttpRequest, pk: int) -> HttpResponse:
    """One card per item; every answer is saved as it is given (see ``draft``)."""
    inspection = _own_draft(request.user, pk)
    if inspection.status != InspectionStatus.DRAFT:
        return redirect("inspections:detail", pk=pk)
    return _render_conduct(request, inspection)


def _render_conduct(
    request: HttpRequest, inspection: Inspection, *, error: str = "", status: int = 200
) -> HttpResponse:
    outcomes, score = _outcomes(inspection)
    rows = _item_rows(inspection, outcomes, _photos(inspection))
    return _render(
        request,
        "inspections/conduct.html",
        {
            "inspection": inspection,
            "rows": rows,
            "summary": _summary(rows, score),
            "outcome_labels": OUTCOME_LABELS,
            "error": error,
            "tab": "home",
        },
        status=status,
    )


@login_required
@require_POST
def draft(request: HttpRequest, pk: int) -> HttpResponse:
    """Save one item's answer (HTMX, on each change) and return its judged outcome."""
    user = request.user
    inspection = _own_draft(user, pk)
    key = request.POST.get("key", "")
    items = [it for it in _checklist_items(inspection) if it["key"] == key]
    if not items:
        raise Http404
    answers, notes = answers_from(request.POST, items)
    error = ""
    try:
        inspection = _services().save_draft(
            actor=user, inspection_id=inspection.pk, answers=answers, notes=notes
        )
    except DomainError as exc:
        error = refusal(exc)
        inspection = _inspection(user, pk)
    if not _is_htmx(request):
        return redirect("inspections:conduct", pk=pk)
    outcomes, score = _outcomes(inspection)
    rows = _item_rows(inspection, outcomes, [])
    row = next(r for r in rows if r["key"] == key)
    return render(
        request,
        "inspections/_outcome.html",
        {
            "r": row,
            "error": error,
            "summary": _summary(rows, score),
            "oob": True,
            "outcome_labels": OUTCOME_LABELS,
        },
    )


@login_required
@require_POST
def add_photo(request: HttpRequest, pk: int) -> HttpResponse:
    """Attach a photo to an item (HTMX: returns the item's photo strip)."""
    user = request.user
    inspection = _own_draft(user, pk)
    key = request.POST.get("item_key", "")
    if key not in {it["key"] for it in _checklist_items(inspection)}:
        raise Http404
    error = ""
    upload = request.FILES.get("photo")
    if upload is None:
        error = _("请选择照片。")
    else:
        try:
            _services().add_photo(actor=user, inspection_id=pk, item_key=key, upload=upload)
        except DomainError as exc:
            error = refusal(exc)
    if not _is_htmx(request):
        if error:
            messages.error(request, error)
        return redirect("inspections:conduct", pk=pk)
    photos = [p for p in _photos(inspection) if p.item_key == key]
    return render(
        request,
        "inspections/_item_photos.html",
        {"key": key, "photos": photos, "error": error},
    )


@login_required
@require_POST
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    """Submit: the answers on the page (also the ones not yet saved) and the summary."""
    user = request.user
    inspection = _own_draft(user, pk)
    if inspection.status == InspectionStatus.SUBMITTED:
        return redirect("inspections:detail", pk=pk)
    form = SubmitForm(request.POST)
    form.is_valid()
    answers, notes = answers_from(request.POST, _checklist_items(inspection))
    answers = {k: v for k, v in answers.items() if v is not None}
    try:
        done = _services().submit_inspection(
            actor=user,
            inspection_id=pk,
            answers=answers or None,
            notes=notes or None,
            summary=form.cleaned_data.get("summary") or None,
        )
    except DomainError as exc:
        return _render_conduct(
            request, _inspection(user, pk), error=refusal(exc), status=exc.status
        )
    found = done.findings.count()
    if found:
        messages.warning(
            request,
            ngettext(
                "检查已提交，发现 %(n)d 个问题，已下达整改。",
                "检查已提交，发现 %(n)d 个问题，已下达整改。",
                found,
            )
            % {"n": found},
        )
    else:
        messages.success(request, _("检查已提交。"))
    return redirect("inspections:detail", pk=pk)


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    inspection = _own_draft(user, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请写明作废原因。"))
        return redirect("inspections:conduct", pk=pk)
    try:
        _services().cancel_inspection(
            actor=user,
            inspection_id=pk,
            version=inspection.version,
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        messages.error(request, refusal(exc))
        return redirect("inspections:conduct", pk=pk)
    messages.success(request, _("检查已作废。"))
    return redirect("inspections:home")


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The record: score, grade, every item, photos and the findings it raised."""
    user = request.user
    inspection = _inspection(user, pk)
    photos = _photos(inspection)
    if inspection.status == InspectionStatus.SUBMITTED:
        items = list(inspection.items.select_related("clause").order_by("id"))
        for it in items:
            it.photos = [p for p in photos if p.item_key == it.key]
            it.outcome_label = OUTCOME_LABELS.get(it.outcome, it.outcome)
        rows: list[Any] = []
    else:
        items = []
        outcomes, _score = _outcomes(inspection)
        rows = _item_rows(inspection, outcomes, photos)
    findings = list(
        queries.findings(user)
        .filter(inspection=inspection)
        .select_related("clause", "rectification")
        .order_by("id")
    )
    return _render(
        request,
        "inspections/detail.html",
        {
            "inspection": inspection,
            "items": items,
            "rows": rows,
            "photos": [p for p in photos if not p.item_key],
            "findings": findings,
            "outcome_labels": OUTCOME_LABELS,
            "can_continue": inspection.status == InspectionStatus.DRAFT
            and inspection.inspector_id == user.pk,
            "tab": "list" if inspection.inspector_id != user.pk else "home",
        },
    )


@login_required
def photo(request: HttpRequest, pk: int) -> FileResponse:
    visible = queries.inspections(request.user)
    return _photo_file(request, InspectionPhoto.objects.filter(pk=pk, inspection__in=visible))


@login_required
def inspection_list(request: HttpRequest) -> HttpResponse:
    """Every inspection the user may see, newest first."""
    user = request.user
    status = request.GET.get("status") or ""
    status = status if status in InspectionStatus.values else ""
    kind = request.GET.get("kind") or ""
    kind = kind if kind in InspectionKind.values else ""
    qs = queries.inspection_list(user, status=status or None, kind=kind or None)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return _render(
        request,
        "inspections/list.html",
        {
            "page": page,
            "query": query.urlencode(),
            "status": status,
            "kind": kind,
            "statuses": InspectionStatus.choices,
            "kinds": InspectionKind.choices,
            "tab": "list",
        },
    )


# --- findings and the rectification loop ---------------------------------------------


def _finding_filter_form(request: HttpRequest) -> FindingFilterForm:
    user = request.user
    return FindingFilterForm(
        request.GET or None,
        orgs=_centres(user, "inspections.view_all"),
        vendors=_vendors(user, "inspections.view_all"),
    )


def filtered_findings(user: Any, filters: dict[str, Any]) -> QuerySet[Finding]:
    qs = queries.finding_list(
        user,
        status=filters.get("status"),
        source=filters.get("source"),
        severity=filters.get("severity"),
        vendor_id=filters.get("vendor"),
        org_id=filters.get("org"),
        overdue=True if filters.get("overdue") else None,
    )
    q = (filters.get("q") or "").strip()
    if q:
        qs = qs.filter(
            Q(number__icontains=q)
            | Q(description__icontains=q)
            | Q(location__name__icontains=q)
            | Q(clause__number=q)
        )
    return qs


@login_required
def finding_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = _finding_filter_form(request)
    qs = filtered_findings(user, form.filters())
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return _render(
        request,
        "inspections/findings.html",
        {"form": form, "page": page, "query": query.urlencode(), "tab": "findings"},
    )


@login_required
def rectification_list(request: HttpRequest) -> HttpResponse:
    """The loop's to-do: orders to rectify (the party's side) and to verify."""
    user = request.user
    related = ("finding", "finding__clause", "finding__location", "assignee_org")
    return _render(
        request,
        "inspections/rectifications.html",
        {
            "to_rectify": list(
                _to_rectify(user).select_related(*related).order_by("deadline")[:200]
            ),
            "to_verify": list(_to_verify(user).select_related(*related).order_by("deadline")[:200]),
            "now": timezone.now(),
            "tab": "rectify",
        },
    )


def _finding(user: Any, pk: int) -> Finding:
    try:
        return queries.finding(user, pk)
    except DomainError:
        raise Http404 from None


@login_required
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_finding(request, _finding(request.user, pk))


def _render_finding(
    request: HttpRequest,
    finding: Finding,
    *,
    forms: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    forms = forms or {}
    history = queries.finding_history(user, finding.pk)
    rect, rounds, events = history["rectification"], history["rounds"], history["events"]
    for r in rounds:
        r.photo_list = [_photo_urls(p, "inspections:rect_photo") for p in r.photos.all()]
    for e in events:
        e.label = EVENT_LABELS.get(e.action, e.action)
    version = rect.version if rect else 0
    allowed = set(_loop().actions_for(user, rect)) if rect else set()
    assign_form = None
    if "assign" in allowed:
        assign_form = forms.get("assign") or AssignForm(
            initial={"version": version, "assignee": rect.assignee_id}, people=_people(rect)
        )
    ctx = {
        "finding": finding,
        "photos": [_photo_urls(p, "inspections:finding_photo") for p in finding.photos.all()],
        "rect": rect,
        "rounds": rounds,
        "events": events,
        "error": error,
        "now": timezone.now(),
        "can_rectify": "submit" in allowed,
        "can_verify": "verify" in allowed,
        "assign_form": assign_form,
        "can_cancel": finding.status == FindingStatus.OPEN
        and policy.can(user, "inspections.raise", finding.org),
        "evidence_form": forms.get("evidence") or EvidenceForm(initial={"version": version}),
        "verify_form": forms.get("verify") or VerifyForm(initial={"version": version}),
        "cancel_form": forms.get("cancel") or ReasonForm(initial={"version": finding.version}),
        "tab": "findings",
    }
    return _render(request, "inspections/finding.html", ctx, status=status)


def _people(rect: Rectification) -> list[tuple[int, str]]:
    """Whom the assignee picker offers: the responsible party's people."""
    people = _loop().party_members(rect.assignee_org).order_by("username")
    return [(u.pk, u.display_name or u.username) for u in people]


def _act_on_rectification(
    request: HttpRequest, pk: int, action: str, form: Any, call: Any, done: str
) -> HttpResponse:
    """Run one step of the loop; the finding's page again with the refusal if it fails."""
    user = request.user
    rect = queries.rectifications(user).filter(pk=pk).first()
    if rect is None:
        raise Http404
    if not form.is_valid():
        error, status = _("请检查填写的内容。"), 422
    else:
        try:
            call(user, rect, form.cleaned_data)
        except DomainError as exc:
            apply_error(form, exc)
            error, status = refusal(exc), exc.status
        else:
            messages.success(request, done)
            if queries.findings(user).filter(pk=rect.finding_id).exists():
                return redirect("inspections:finding", pk=rect.finding_id)
            return redirect("inspections:rectifications")
    finding = _finding(user, rect.finding_id)
    return _render_finding(request, finding, forms={action: form}, error=error, status=status)


@login_required
@require_POST
def evidence(request: HttpRequest, pk: int) -> HttpResponse:
    """The responsible party submits what was done, with photos."""
    form = EvidenceForm(request.POST, request.FILES)

    def call(user: Any, rect: Rectification, d: dict[str, Any]) -> None:
        _loop().submit_evidence(
            actor=user,
            rectification_id=rect.pk,
            version=d["version"],
            evidence=d["evidence"],
            photos=d.get("photos") or [],
        )

    return _act_on_rectification(
        request, pk, "evidence", form, call, _("整改材料已提交，等待验收。")
    )


@login_required
@require_POST
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    """The inspector accepts (closes) or rejects (returns, with the reason)."""
    form = VerifyForm(request.POST)

    def call(user: Any, rect: Rectification, d: dict[str, Any]) -> None:
        _loop().verify(
            actor=user,
            rectification_id=rect.pk,
            version=d["version"],
            verdict=d["verdict"],
            reason=d.get("reason") or "",
        )

    accepted = request.POST.get("verdict") == "accept"
    done = _("验收通过，问题已闭环。") if accepted else _("已退回重新整改。")
    return _act_on_rectification(request, pk, "verify", form, call, done)


@login_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Name the person of the responsible party who does the fix."""
    rect = queries.rectifications(request.user).filter(pk=pk).first()
    form = AssignForm(request.POST, people=_people(rect) if rect is not None else [])

    def call(user: Any, rect: Rectification, d: dict[str, Any]) -> None:
        _loop().assign(
            actor=user, rectification_id=rect.pk, version=d["version"], assignee_id=d["assignee"]
        )

    return _act_on_rectification(request, pk, "assign", form, call, _("已指定整改责任人。"))


@login_required
@require_POST
def finding_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    finding = _finding(user, pk)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            _services().cancel_finding(
                actor=user,
                finding_id=pk,
                version=form.cleaned_data["version"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            return _render_finding(
                request, finding, forms={"cancel": form}, error=refusal(exc), status=exc.status
            )
        messages.success(request, _("问题已撤销。"))
        return redirect("inspections:finding", pk=pk)
    return _render_finding(
        request, finding, forms={"cancel": form}, error=_("请写明撤销原因。"), status=422
    )


@login_required
def rect_photo(request: HttpRequest, pk: int) -> FileResponse:
    visible = queries.rectifications(request.user)
    return _photo_file(
        request, RectificationPhoto.objects.filter(pk=pk, round__rectification__in=visible)
    )


@login_required
def finding_photo(request: HttpRequest, pk: int) -> FileResponse:
    """A photo taken when the finding was raised, if the finding is visible."""
    visible = queries.findings(request.user).values("pk")
    return _photo_file(request, FindingPhoto.objects.filter(pk=pk, finding__in=visible))


def _clause_choices(user: Any, org: Organization | None) -> list[tuple[int, str]]:
    """The picker: the clauses behind the org's checklists and schedules first."""
    if org is None:
        return []
    try:
        rows = queries.clause_choices(user, org)
    except DomainError:
        return []
    return [
        (
            c["id"],
            f"{'★ ' if c['suggested'] else ''}{c['standard_code']} {c['number']} {c['text'][:40]}",
        )
        for c in rows
    ]


@login_required
def finding_new(request: HttpRequest) -> HttpResponse:
    """An ad hoc finding, from a walk-round or a complaint, against a clause."""
    user = request.user
    if not policy.can(user, "inspections.raise"):
        raise DjangoPermissionDenied
    orgs = _centres(user, "inspections.raise")
    picked = request.POST.get("org") or request.GET.get("org")
    org = next((o for o in orgs if str(o.pk) == str(picked)), orgs[0] if orgs else None)
    clauses = _clause_choices(user, org)
    form = FindingForm(
        request.POST or None,
        request.FILES or None,
        initial={"org": org.pk if org else None},
        orgs=orgs,
        clauses=clauses,
        locations=_location_choices(user),
        vendors=_vendors(user, "inspections.raise"),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            finding = _services().raise_finding(
                actor=user,
                org_id=d["org"],
                clause_id=d["clause"],
                description=d["description"],
                severity=d.get("severity") or None,
                location_id=d.get("location"),
                vendor_id=d.get("vendor"),
                source=d["source"],
                photos=d.get("photos") or [],
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("问题已登记，编号 %(n)s。") % {"n": finding.number})
            return redirect("inspections:finding", pk=finding.pk)
    return _render(
        request,
        "inspections/finding_new.html",
        {"form": form, "tab": "findings"},
        status=422 if form.errors else 200,
    )


# --- trace and dashboard -------------------------------------------------------------


@login_required
def clause_trace(request: HttpRequest, pk: int) -> HttpResponse:
    """From a clause: every finding, rectification round and verdict the user may see."""
    try:
        trace = queries.trace_clause(request.user, pk)
    except DomainError:
        raise Http404 from None
    return _render(
        request,
        "inspections/clause.html",
        {**trace, "trace_max": queries.TRACE_MAX, "tab": "findings"},
    )


def _require_oversight(user: Any) -> None:
    if not policy.can(user, "inspections.view_all"):
        raise DjangoPermissionDenied


def _org_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("org") or ""
    return int(raw) if raw.isdigit() else None


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_oversight(user)
    period = Period.from_query(request.GET)
    data = _reports().dashboard(
        user, since=period.since, until=period.until, org_id=_org_param(request)
    )
    return _render(
        request,
        "inspections/dashboard.html",
        {
            "data": data,
            "chart": _chart(data),
            "orgs": _centres(user, "inspections.view_all"),
            "org_id": request.GET.get("org") or "",
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "query": request.GET.urlencode(),
            "tab": "dashboard",
        },
    )


def _pct(rate: Any) -> float | None:
    return round(rate * 100, 1) if isinstance(rate, int | float) else None


def _rate(row: dict[str, Any]) -> float | None:
    return _pct(row.get("rate", row.get("pass_rate")))


def _chart(data: dict[str, Any]) -> dict[str, Any]:
    """What the dashboard's charts draw (a JSON block; CSP: no inline scripts)."""

    def rates(rows: list[dict[str, Any]], n: int = 15) -> dict[str, list[Any]]:
        rows = rows[:n]
        return {"names": [r["name"] for r in rows], "rates": [_rate(r) for r in rows]}

    coverage = data["coverage"]
    rect = data["rectification_by_org"]
    sup = data["supervision_by_org"]
    return {
        "labels": {
            "done": _("已完成"),
            "due": _("应检"),
            "pass_rate": _("合格率"),
            "on_time": _("按期整改率"),
            "closure": _("闭环率"),
            "open": _("在办"),
            "overdue": _("超期"),
            "findings": _("问题数"),
        },
        "coverage": {
            "names": [r["name"] for r in coverage],
            "done": [r["done"] for r in coverage],
            "due": [r["due"] for r in coverage],
        },
        "by_clause": rates(
            [
                {**r, "name": f"{r.get('number', '')} {r['name'][:12]}"}
                for r in data["pass_by_clause"]
            ]
        ),
        "by_location": rates(data["pass_by_location"]),
        "by_vendor": rates(data["pass_by_vendor"]),
        "rectification": {
            "names": [r["name"] for r in rect],
            "on_time": [_pct(r["on_time_rate"]) for r in rect],
            "closure": [_pct(r["closure_rate"]) for r in rect],
        },
        "supervision": {
            "names": [r["name"] for r in sup],
            "open": [r["open"] for r in sup],
            "overdue": [r["overdue"] for r in sup],
        },
        "trend": {
            "months": [r["month"] for r in data["trend"]],
            "rates": [_rate(r) for r in data["trend"]],
            "findings": [r["findings"] for r in data["trend"]],
        },
    }


@login_required
def export(request: HttpRequest) -> HttpResponse:
    """The dashboard as an Excel workbook, one sheet per table."""
    user = request.user
    _require_oversight(user)
    period = Period.from_query(request.GET)
    data = _reports().dashboard(
        user, since=period.since, until=period.until, org_id=_org_param(request)
    )
    resp = HttpResponse(_reports().export_xlsx(data), content_type=XLSX)
    stamp = timezone.localdate().strftime("%Y%m%d")
    resp["Content-Disposition"] = f'attachment; filename="inspections-{stamp}.xlsx"'
    return resp
