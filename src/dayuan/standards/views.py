"""Pages: the standards library, a standard with its clauses in plain Chinese, the
draft editor and adoption form for managers, and the compliance page with charts.

Thin: reads go through ``compliance``/``feedback``/scoped querysets, writes through
``services`` (core) and ``feedback``; a refusal is shown next to the form, citing the
clause when a standard refused it.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from openpyxl import Workbook

from dayuan.core import policy
from dayuan.core.errors import DomainError, InvalidInput, NotFound, RuleRefused
from dayuan.core.scope import scoped

from . import compliance, feedback, queries
from .choices import Severity, VersionStatus
from .forms import (
    AdoptForm,
    ClauseForm,
    CommentForm,
    ComplianceFilterForm,
    LibraryFilterForm,
    PublishForm,
    RuleForm,
    dump_structured,
)
from .models import Adoption, Clause, Rule, Standard, StandardVersion
from .templatetags.standards_text import describe_override, describe_rule

PAGE_SIZE = 20
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NAV = "standards"

ACTION_LABELS = {
    "standards.standard.create": gettext_lazy("创建标准"),
    "standards.standard.update": gettext_lazy("修改标准信息"),
    "standards.standard.retire": gettext_lazy("废止标准"),
    "standards.version.create": gettext_lazy("新建修订草稿"),
    "standards.version.publish": gettext_lazy("发布版本"),
    "standards.version.release": gettext_lazy("全面实施"),
    "standards.clause.upsert": gettext_lazy("编辑条款"),
    "standards.clause.delete": gettext_lazy("删除条款"),
    "standards.rule.upsert": gettext_lazy("编辑规则"),
    "standards.rule.delete": gettext_lazy("删除规则"),
    "standards.adoption.create": gettext_lazy("采用标准"),
    "standards.adoption.update": gettext_lazy("调整本地化参数"),
    "standards.adoption.withdraw": gettext_lazy("撤销采用"),
}


def _services() -> Any:
    """The core write side (imported late: it is the core helper's module)."""
    from . import services

    return services


def _require_view(user: Any) -> None:
    if not policy.can(user, "standards.view"):
        raise DjangoPermissionDenied


def _standard(user: Any, pk: int) -> Standard:
    found = compliance.visible_standards(user).filter(pk=pk).select_related("issuing_org").first()
    if found is None:
        raise Http404
    return found


def _can_manage(user: Any, standard: Standard) -> bool:
    return policy.can(user, "standards.manage", standard.issuing_org)


def _managed_orgs(user: Any) -> list[Any]:
    """Organisations where the user may manage standards (adopt, publish pilots)."""
    from dayuan.orgs.models import Organization

    return list(
        scoped(
            user, Organization.objects.filter(is_active=True), policy.ACTIONS["standards.manage"]
        )
    )


def _refusal(exc: DomainError) -> str:
    """A refusal's message; a rule refusal also names the clause it cites."""
    text = str(exc.message)
    details = exc.details or {}
    clause = details.get("clause")
    if isinstance(exc, RuleRefused) and clause and str(clause) not in text:
        text += _("（依据 %(std)s 第 %(clause)s 条）") % {
            "std": details.get("standard", ""),
            "clause": clause,
        }
    return text


def _field_errors(form: Any, field: str, exc: DomainError) -> None:
    """Put a service's located errors (``details.errors``) next to the field."""
    errors = (exc.details or {}).get("errors") or []
    if errors:
        for err in errors:
            loc = str(err.get("loc", ""))
            if loc in form.fields and loc != field:  # e.g. the rule key
                form.add_error(loc, str(err.get("msg", "")))
            else:
                form.add_error(field, f"{loc}: {err.get('msg', '')}")
    else:
        form.add_error(field if field in form.fields else None, _refusal(exc))


# --- library -------------------------------------------------------------------------


@login_required
def library(request: HttpRequest) -> HttpResponse:
    _require_view(request.user)
    form = LibraryFilterForm(request.GET or None)
    filters = form.filters()
    qs = queries.library(
        request.user,
        domain=filters.get("domain"),
        status=filters.get("status"),
        q=(filters.get("q") or "").strip() or None,
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "standards/library.html",
        {"form": form, "page": page, "query": query.urlencode(), "active_nav": NAV},
    )


# --- a standard ----------------------------------------------------------------------


def _versions(standard: Standard, manage: bool) -> list[StandardVersion]:
    qs = standard.versions.prefetch_related("pilot_orgs").select_related("published_by")
    if not manage:
        qs = qs.exclude(status=VersionStatus.DRAFT)
    return list(qs.order_by("-number"))


def _chosen(versions: list[StandardVersion], wanted: str | None) -> StandardVersion | None:
    if wanted and wanted.isdigit():
        for v in versions:
            if v.number == int(wanted):
                return v
    for v in versions:
        if v.status == VersionStatus.PUBLISHED and not v.pilot_orgs.all():
            return v
    for v in versions:
        if v.status == VersionStatus.PUBLISHED:
            return v
    return versions[0] if versions else None


def _adoptions(user: Any, standard: Standard, versions: list[StandardVersion]) -> list[dict]:
    """The adoptions the user may see, each with its overrides in words."""
    rows = list(queries.adoptions(user, standard_id=standard.pk))
    latest = next((v for v in versions if v.status == VersionStatus.PUBLISHED), None)
    version_ids = {a.pinned_version_id or (latest.pk if latest else None) for a in rows} - {None}
    rules = {
        (r.version_id, r.key): r
        for r in Rule.objects.filter(version_id__in=version_ids).select_related("clause")
    }
    out = []
    for a in rows:
        vid = a.pinned_version_id or (latest.pk if latest else None)
        lines = []
        for key, paths in (a.overrides or {}).items():
            rule = rules.get((vid, key))
            for path, value in (paths or {}).items():
                if rule is None:
                    lines.append(f"{key}.{path} → {value}")
                else:
                    lines.append(
                        _("第 %(clause)s 条 %(change)s")
                        % {
                            "clause": rule.clause.number,
                            "change": describe_override(rule.kind, rule.params, path, value),
                        }
                    )
        out.append({"adoption": a, "lines": lines})
    return out


def _history_note(entry: Any) -> str:
    """What an entry touched, in a few words (version, clause or rule)."""
    changes = entry.changes if isinstance(entry.changes, dict) else {}

    def last(value: Any) -> Any:
        if isinstance(value, list) and len(value) == 2:
            return value[1] if value[1] is not None else value[0]
        return value

    if entry.action.startswith("standards.version.") and isinstance(changes.get("number"), int):
        return _("第 %(n)d 版") % {"n": changes["number"]}
    if entry.action.startswith("standards.clause.") and changes.get("number"):
        return _("条款 %(n)s") % {"n": last(changes["number"])}
    if entry.action.startswith("standards.rule.") and changes.get("key"):
        return _("规则 %(k)s") % {"k": last(changes["key"])}
    return ""


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request.user)
    user = request.user
    standard = _standard(user, pk)
    manage = _can_manage(user, standard)
    versions = _versions(standard, manage)
    version = _chosen(versions, request.GET.get("v"))
    clauses: list[Clause] = []
    if version is not None:
        clauses = list(version.clauses.prefetch_related("rules").order_by("position", "number"))
        for clause in clauses:
            clause.described = [
                {"rule": r, "text": describe_rule(r.kind, r.params, severity=clause.severity)}
                for r in clause.rules.all()
            ]
    editable = manage and version is not None and version.status == VersionStatus.DRAFT
    has_draft = any(v.status == VersionStatus.DRAFT for v in versions)
    comment_form = CommentForm(clauses=clauses) if policy.can(user, "standards.comment") else None
    managed = _managed_orgs(user) if policy.can(user, "standards.manage") else []
    context = {
        "active_nav": NAV,
        "standard": standard,
        "versions": versions,
        "version": version,
        "clauses": clauses,
        "can_manage": manage,
        "editable": editable,
        "has_draft": has_draft,
        "can_adopt": bool(managed) and standard.status == "published",
        "can_propose": bool(managed) and any(v.status == VersionStatus.PUBLISHED for v in versions),
        "adoptions": _adoptions(user, standard, versions),
        "history": [
            {"entry": e, "label": ACTION_LABELS.get(e.action, e.action), "note": _history_note(e)}
            for e in queries.history(user, standard.pk)[:30]
        ],
        "comments": list(feedback.comments(user, standard_id=standard.pk)[:50]),
        "proposals": list(feedback.proposals(user, standard_id=standard.pk)[:10]),
        "comment_form": comment_form,
        "publish_form": PublishForm(orgs=_pilot_choices(user, standard)) if editable else None,
        "severities": Severity,
        "can_trace": policy.can(user, "inspections.view_all"),
    }
    return render(request, "standards/detail.html", context)


def _pilot_choices(user: Any, standard: Standard) -> list[Any]:
    from dayuan.orgs.models import Organization

    return list(
        Organization.objects.filter(
            path__startswith=standard.issuing_org.path, is_active=True, kind__in=["city", "county"]
        ).order_by("path")
    )


def _back(standard: Standard, version: StandardVersion | None = None) -> str:
    url = reverse("standards:detail", args=[standard.pk])
    return f"{url}?v={version.number}" if version is not None else url


@login_required
@require_POST
def comment(request: HttpRequest, pk: int) -> HttpResponse:
    standard = _standard(request.user, pk)
    clauses = Clause.objects.filter(version__standard=standard)
    if not _can_manage(request.user, standard):
        clauses = clauses.exclude(version__status=VersionStatus.DRAFT)
    form = CommentForm(request.POST, clauses=clauses)
    if form.is_valid():
        try:
            feedback.comment_on_clause(
                actor=request.user,
                clause_id=form.cleaned_data["clause"],
                text=form.cleaned_data["text"],
                suggestion=form.cleaned_data["suggestion"],
            )
        except DomainError as exc:
            messages.error(request, _refusal(exc))
        else:
            messages.success(request, _("意见已提交，谢谢。"))
    else:
        messages.error(request, _("请填写意见并选择条款。"))
    return redirect(f"{_back(standard)}#comments")


@login_required
@require_POST
def propose(request: HttpRequest, pk: int) -> HttpResponse:
    standard = _standard(request.user, pk)
    try:
        found = feedback.propose_revision(actor=request.user, standard_id=standard.pk)
    except DomainError as exc:
        messages.error(request, _refusal(exc))
        return redirect(_back(standard))
    return redirect("standards:proposal", pk=found.pk)


@login_required
def proposal(request: HttpRequest, pk: int) -> HttpResponse:
    _require_view(request.user)
    try:
        found = feedback.proposal(request.user, pk)
    except NotFound as exc:
        raise Http404 from exc
    return render(request, "standards/proposal.html", {"proposal": found, "active_nav": NAV})


# --- editor ----------------------------------------------------------------------------


def _draft(user: Any, version_id: int) -> StandardVersion:
    version = (
        StandardVersion.objects.select_related("standard__issuing_org")
        .filter(pk=version_id, standard__in=compliance.visible_standards(user))
        .first()
    )
    if version is None:
        raise Http404
    if not _can_manage(user, version.standard):
        raise DjangoPermissionDenied
    return version


@login_required
@require_POST
def new_draft(request: HttpRequest, pk: int) -> HttpResponse:
    standard = _standard(request.user, pk)
    try:
        draft = _services().new_draft(actor=request.user, standard_id=standard.pk)
    except DomainError as exc:
        messages.error(request, _refusal(exc))
        return redirect(_back(standard))
    messages.success(request, _("已创建草稿第 %(n)d 版。") % {"n": draft.number})
    return redirect(_back(standard, draft))


@login_required
def clause_edit(
    request: HttpRequest, version_id: int, clause_id: int | None = None
) -> HttpResponse:
    version = _draft(request.user, version_id)
    clause = None
    if clause_id is not None:
        clause = Clause.objects.filter(pk=clause_id, version=version).first()
        if clause is None:
            raise Http404
    status = 200
    if request.method == "POST":
        form = ClauseForm(request.POST)
        if clause is not None:
            form.data = form.data.copy()
            form.data["number"] = clause.number  # upsert is by number: it stays
        if form.is_valid():
            data = form.cleaned_data
            try:
                _services().upsert_clause(
                    actor=request.user,
                    version_id=version.pk,
                    number=data["number"],
                    text=data["text"],
                    severity=data["severity"],
                    binding=data["binding"],
                    position=data["position"],
                )
            except DomainError as exc:
                _field_errors(form, (exc.details or {}).get("field") or "text", exc)
                status = exc.status
            else:
                messages.success(request, _("条款已保存。"))
                return redirect(_back(version.standard, version))
        else:
            status = 422
    else:
        initial = (
            {
                "number": clause.number,
                "text": clause.text,
                "severity": clause.severity,
                "binding": clause.binding,
                "position": clause.position,
            }
            if clause
            else {"severity": Severity.GENERAL}
        )
        form = ClauseForm(initial=initial)
    return render(
        request,
        "standards/clause_form.html",
        {"form": form, "version": version, "clause": clause, "active_nav": NAV},
        status=status,
    )


@login_required
@require_POST
def clause_delete(request: HttpRequest, clause_id: int) -> HttpResponse:
    clause = Clause.objects.select_related("version").filter(pk=clause_id).first()
    if clause is None:
        raise Http404
    version = _draft(request.user, clause.version_id)
    try:
        _services().delete_clause(actor=request.user, clause_id=clause.pk)
    except DomainError as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, _("条款已删除。"))
    return redirect(_back(version.standard, version))


@login_required
def rule_edit(request: HttpRequest, clause_id: int, rule_id: int | None = None) -> HttpResponse:
    clause = Clause.objects.filter(pk=clause_id).first()
    if clause is None:
        raise Http404
    version = _draft(request.user, clause.version_id)
    rule = None
    if rule_id is not None:
        rule = Rule.objects.filter(pk=rule_id, clause=clause).first()
        if rule is None:
            raise Http404
    status = 200
    preview = ""
    if request.method == "POST":
        form = RuleForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = _services().upsert_rule(
                    actor=request.user,
                    clause_id=clause.pk,
                    key=data["key"],
                    kind=data["kind"],
                    params=data["params"],
                    source_document=data["source_document"],
                    source_edition=data["source_edition"],
                    source_clause=data["source_clause"],
                    verified=data["verified"],
                )
            except DomainError as exc:
                _field_errors(form, "params", exc)
                status = exc.status
            else:
                messages.success(
                    request,
                    _("规则已保存：%(text)s")
                    % {"text": describe_rule(saved.kind, saved.params, severity=clause.severity)},
                )
                return redirect(_back(version.standard, version))
        else:
            status = 422
    else:
        initial: dict[str, Any] = {"verified": True}
        if rule is not None:
            initial = {
                "key": rule.key,
                "kind": rule.kind,
                "params": dump_structured(rule.params),
                "source_document": rule.source_document,
                "source_edition": rule.source_edition,
                "source_clause": rule.source_clause,
                "verified": rule.verified,
            }
            preview = describe_rule(rule.kind, rule.params, severity=clause.severity)
        form = RuleForm(initial=initial)
    return render(
        request,
        "standards/rule_form.html",
        {
            "form": form,
            "clause": clause,
            "version": version,
            "rule": rule,
            "preview": preview,
            "active_nav": NAV,
        },
        status=status,
    )


@login_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = Rule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    version = _draft(request.user, rule.version_id)
    try:
        _services().delete_rule(actor=request.user, rule_id=rule.pk)
    except DomainError as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, _("规则已删除。"))
    return redirect(_back(version.standard, version))


@login_required
@require_POST
def publish(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _draft(request.user, version_id)
    form = PublishForm(request.POST, orgs=_pilot_choices(request.user, version.standard))
    if not form.is_valid():
        messages.error(request, _("试点单位选择无效。"))
        return redirect(_back(version.standard, version))
    try:
        done = _services().publish(
            actor=request.user,
            version_id=version.pk,
            change_note=form.cleaned_data["change_note"],
            pilot_org_ids=form.cleaned_data["pilot_orgs"] or None,
        )
    except DomainError as exc:
        messages.error(request, _refusal(exc))
        return redirect(_back(version.standard, version))
    messages.success(request, _("第 %(n)d 版已发布。") % {"n": done.number})
    return redirect(_back(version.standard, done))


# --- adoption --------------------------------------------------------------------------


@login_required
def adopt(request: HttpRequest, pk: int) -> HttpResponse:
    """Adopt a standard at an organisation the user manages, or change its overrides."""
    user = request.user
    standard = _standard(user, pk)
    orgs = _managed_orgs(user)
    if not orgs:
        raise DjangoPermissionDenied
    versions = list(
        standard.versions.filter(
            status__in=[VersionStatus.PUBLISHED, VersionStatus.SUPERSEDED]
        ).order_by("-number")
    )
    existing = {
        a.org_id: a for a in scoped(user, Adoption.objects.filter(standard=standard, org__in=orgs))
    }
    status = 200
    if request.method == "POST":
        form = AdoptForm(request.POST, orgs=orgs, versions=versions)
        if form.is_valid():
            data = form.cleaned_data
            current = existing.get(data["org"])
            try:
                if current is not None and current.is_active:
                    _services().set_overrides(
                        actor=user,
                        adoption_id=current.pk,
                        version=current.version,
                        overrides=data["overrides"],
                    )
                else:
                    _services().adopt(
                        actor=user,
                        org_id=data["org"],
                        standard_id=standard.pk,
                        version_id=data["version"],
                        overrides=data["overrides"] or None,
                        note=data["note"],
                    )
            except (RuleRefused, InvalidInput) as exc:
                _field_errors(form, "overrides", exc)
                status = exc.status
            except DomainError as exc:
                form.add_error(None, _refusal(exc))
                status = exc.status
            else:
                messages.success(request, _("已保存采用设置。"))
                return redirect(f"{_back(standard)}#adoptions")
        else:
            status = 422
    else:
        first = orgs[0]
        wanted = request.GET.get("org")
        if wanted and wanted.isdigit():
            first = next((o for o in orgs if o.pk == int(wanted)), first)
        current = existing.get(first.pk)
        form = AdoptForm(
            initial={
                "org": first.pk,
                "version": current.pinned_version_id if current else None,
                "overrides": dump_structured(current.overrides) if current else "",
                "note": current.note if current else "",
            },
            orgs=orgs,
            versions=versions,
        )
    latest = next((v for v in versions if v.status == VersionStatus.PUBLISHED), None)
    tunables = _tunables(latest) if latest else []
    return render(
        request,
        "standards/adopt.html",
        {
            "form": form,
            "standard": standard,
            "existing": existing,
            "tunables": tunables,
            "active_nav": NAV,
        },
        status=status,
    )


def _tunables(version: StandardVersion) -> list[dict[str, Any]]:
    """What may be overridden, with the current value and the stricter direction."""
    from .rules import RuleParamsError, tunables

    rows = []
    for rule in Rule.objects.filter(version=version).select_related("clause"):
        try:
            found = tunables(rule.kind, rule.params)
        except RuleParamsError:
            continue
        for path, (value, stricter) in found.items():
            rows.append(
                {
                    "key": rule.key,
                    "path": path,
                    "value": value,
                    "stricter": _("越大越严") if stricter == "higher" else _("越小越严"),
                    "clause": rule.clause.number,
                    "binding": rule.clause.binding,
                }
            )
    return rows


# --- compliance ------------------------------------------------------------------------


def _compliance_form(request: HttpRequest) -> ComplianceFilterForm:
    from dayuan.orgs.models import Organization

    user = request.user
    standards = list(compliance.visible_standards(user).order_by("code"))
    orgs = list(scoped(user, Organization.objects.filter(is_active=True)).order_by("path")[:500])
    return ComplianceFilterForm(request.GET or None, standards=standards, orgs=orgs)


def _severity_label(value: str) -> str:
    return str(dict(Severity.choices).get(value, value))


@login_required
def compliance_page(request: HttpRequest) -> HttpResponse:
    _require_view(request.user)
    user = request.user
    form = _compliance_form(request)
    filters = form.filters()
    try:
        stats = compliance.clause_compliance(user, **filters)
        worst = compliance.most_violated(user, limit=10, **filters)
        never = compliance.never_exercised(
            user,
            filters.get("standard_id"),
            org_id=filters.get("org_id"),
            since=filters.get("since"),
            until=filters.get("until"),
        )
        months = compliance.trend(
            user, **{k: v for k, v in filters.items() if k in ("standard_id", "org_id")}
        )
        orgs = compliance.by_org(user, **filters)
    except NotFound as exc:
        raise Http404 from exc
    chart = {
        "trend": {
            "months": [m["month"] for m in months],
            "rates": [round(m["rate"] * 100, 1) if m["rate"] is not None else None for m in months],
            "totals": [m["total"] for m in months],
            "label": _("符合率（%）"),
            "totals_label": _("判定次数"),
        },
        "orgs": {
            "names": [o.org_name for o in orgs],
            "rates": [round(o.rate * 100, 1) if o.rate is not None else None for o in orgs],
            "label": _("符合率（%）"),
        },
    }
    totals = {
        "total": sum(s.total for s in stats),
        "passed": sum(s.passed for s in stats),
        "failed": sum(s.failed for s in stats),
    }
    totals["rate"] = compliance.rate(totals["passed"], totals["failed"])
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "standards/compliance.html",
        {
            "form": form,
            "stats": stats,
            "worst": worst,
            "never": never,
            "orgs": orgs,
            "chart": chart,
            "totals": totals,
            "query": query.urlencode(),
            "active_nav": NAV,
            "can_trace": policy.can(user, "inspections.view_all"),
        },
    )


@login_required
def compliance_export(request: HttpRequest) -> HttpResponse:
    """The per-clause compliance table as .xlsx, same filters as the page."""
    _require_view(request.user)
    form = _compliance_form(request)
    try:
        stats = compliance.clause_compliance(request.user, **form.filters())
    except NotFound as exc:
        raise Http404 from exc
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("条款符合率"))
    ws.append(
        [
            _("标准"),
            _("版本"),
            _("条款号"),
            _("条款内容"),
            _("重要程度"),
            _("判定次数"),
            _("符合"),
            _("不符合"),
            _("不适用"),
            _("符合率"),
        ]
    )
    for s in stats:
        ws.append(
            [
                s.standard_code,
                s.version_number,
                s.clause_number,
                s.clause_text,
                _severity_label(s.severity),
                s.total,
                s.passed,
                s.failed,
                s.na,
                round(s.rate, 4) if s.rate is not None else None,
            ]
        )
    buffer = BytesIO()
    wb.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="compliance-{stamp}.xlsx"'
    return response
