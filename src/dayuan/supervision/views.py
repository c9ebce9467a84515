"""Pages: the red/yellow/green board by org and by person, the task list, a task with
its history and the actions the user may take now, and the form managers issue with.

Thin: reads through ``queries``, writes through ``services``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from dayuan.core import policy
from dayuan.core.errors import DomainError, StaleVersion
from dayuan.core.pages import apply_error, refusal
from dayuan.core.scope import scoped
from dayuan.orgs.models import Organization
from dayuan.workorders.forms import VersionForm

from . import queries
from .choices import OPEN_TASK, Light
from .forms import (
    CancelForm,
    ReassignForm,
    RemindForm,
    ReportForm,
    ResultForm,
    ReviewForm,
    TaskFilterForm,
    TaskForm,
)
from .models import SupervisionTask

NAV = "supervision"
PAGE_SIZE = 50
EVENT_LABELS = {
    "created": gettext_lazy("交办"),
    "accepted": gettext_lazy("签收"),
    "report": gettext_lazy("报告进展"),
    "submitted": gettext_lazy("提交办理结果"),
    "closed": gettext_lazy("审核通过，办结"),
    "returned": gettext_lazy("审核退回"),
    "remind": gettext_lazy("催办"),
    "escalate": gettext_lazy("升级督办"),
    "reassigned": gettext_lazy("改派"),
    "cancelled": gettext_lazy("撤销"),
    "auto_closed": gettext_lazy("源头已办结，自动办结"),
    "auto_cancelled": gettext_lazy("源头已撤销，自动撤销"),
}

# One whole sentence per action, so each language can phrase it properly.
DONE_MESSAGES = {
    "accept": gettext_lazy("已签收。"),
    "report": gettext_lazy("进展已报告。"),
    "submit": gettext_lazy("办理结果已提交，等待审核。"),
    "review": gettext_lazy("审核意见已保存。"),
    "remind": gettext_lazy("已催办。"),
    "reassign": gettext_lazy("已改派。"),
    "cancel": gettext_lazy("督办事项已撤销。"),
}


def _services() -> Any:
    from . import services

    return services


def _render(
    request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    ctx.setdefault("active_nav", NAV)
    ctx["can_issue"] = policy.can(request.user, "supervision.issue")
    return render(request, template, ctx, status=status)


def _orgs(user: Any, action: str) -> list[Organization]:
    return list(
        scoped(
            user,
            Organization.objects.filter(is_active=True),
            roles=policy.ACTIONS[action],
        )
    )


def _people(user: Any, action: str) -> list[Any]:
    """People the user may hand a task to: the active users of the orgs they issue in."""
    User = get_user_model()
    return list(
        scoped(
            user,
            User.objects.filter(is_active=True).select_related("home_org"),
            roles=policy.ACTIONS[action],
        ).order_by("home_org__path", "username")[:500]
    )


@login_required
def board(request: HttpRequest) -> HttpResponse:
    """The red/yellow/green board by assignee org and by person, and my open tasks."""
    user = request.user
    now = timezone.now()
    mine = queries.task_list(user, status=",".join(OPEN_TASK), mine=True, now=now)
    return _render(
        request,
        "supervision/board.html",
        {
            "by_org": queries.board(user, "org", now=now),
            "by_person": queries.board(user, "person", now=now),
            "mine": list(mine[:50]),
            "lights": Light,
            "tab": "board",
        },
    )


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = TaskFilterForm(request.GET or None, orgs=_orgs(user, "supervision.view_all"))
    f = form.filters()
    status = f.get("status")
    qs = queries.task_list(
        user,
        status=",".join(OPEN_TASK) if status == "open" else status,
        light=f.get("light"),
        source=f.get("source"),
        org_id=f.get("org"),
        mine=bool(f.get("mine")),
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return _render(
        request,
        "supervision/list.html",
        {"form": form, "page": page, "query": query.urlencode(), "tab": "tasks"},
    )


@login_required
def new(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not policy.can(user, "supervision.issue"):
        raise DjangoPermissionDenied
    form = TaskForm(
        request.POST or None,
        orgs=_orgs(user, "supervision.issue"),
        assignees=_people(user, "supervision.issue"),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            task = _services().create_task(
                actor=user,
                org_id=d["org"],
                title=d["title"],
                instruction=d["instruction"],
                deadline=d["deadline"],
                source=d["source"],
                assignee_id=d.get("assignee"),
                report_every_days=d.get("report_every_days") or 0,
            )
        except DomainError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("督办已交办，编号 %(n)s。") % {"n": task.number})
            return redirect("supervision:detail", pk=task.pk)
    return _render(
        request,
        "supervision/new.html",
        {"form": form, "tab": "new"},
        status=422 if form.errors else 200,
    )


def _task(user: Any, pk: int) -> SupervisionTask:
    try:
        return queries.task(user, pk)
    except DomainError:
        raise Http404 from None


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _task(request.user, pk))


def _render_detail(
    request: HttpRequest,
    task: SupervisionTask,
    *,
    forms: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    forms = forms or {}
    svc = _services()
    allowed = set(svc.actions_for(user, task))
    events = list(queries.events(task))
    for e in events:
        e.label = EVENT_LABELS.get(e.action, e.action)
    initial = {"version": task.version}
    ctx: dict[str, Any] = {
        "task": task,
        "events": events,
        "allowed": allowed,
        "error": error,
        "report_due": svc.report_due(task, timezone.now()),
        "report_form": forms.get("report") or ReportForm(),
        "submit_form": forms.get("submit") or ResultForm(initial=initial),
        "review_form": forms.get("review") or ReviewForm(initial=initial),
        "remind_form": forms.get("remind") or RemindForm(),
        "cancel_form": forms.get("cancel") or CancelForm(initial=initial),
        "tab": "tasks",
    }
    if "reassign" in allowed:
        people = [
            u
            for u in _people(user, "supervision.issue")
            if u.home_org and u.home_org.path.startswith(task.org.path)
        ]
        ctx["reassign_form"] = forms.get("reassign") or ReassignForm(
            initial=initial, assignees=people
        )
    return _render(request, "supervision/detail.html", ctx, status=status)


@login_required
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One step on a task from its page; the services check who may do it."""
    user = request.user
    task = _task(user, pk)
    svc = _services()
    form: Any
    if action == "accept":
        form = VersionForm(request.POST)
    elif action == "report":
        form = ReportForm(request.POST)
    elif action == "submit":
        form = ResultForm(request.POST)
    elif action == "review":
        form = ReviewForm(request.POST)
    elif action == "remind":
        form = RemindForm(request.POST)
    elif action == "reassign":
        form = ReassignForm(request.POST, assignees=_people(user, "supervision.issue"))
    elif action == "cancel":
        form = CancelForm(request.POST)
    else:
        raise Http404
    if not form.is_valid():
        return _render_detail(
            request, task, forms={action: form}, error=_("请检查填写的内容。"), status=422
        )
    d = form.cleaned_data
    try:
        if action == "accept":
            svc.accept_task(actor=user, task_id=pk, version=d["version"])
        elif action == "report":
            svc.report_progress(actor=user, task_id=pk, text=d["text"], progress=d.get("progress"))
        elif action == "submit":
            svc.submit_result(actor=user, task_id=pk, version=d["version"], result=d["result"])
        elif action == "review":
            svc.review(
                actor=user,
                task_id=pk,
                version=d["version"],
                approve=d["approve"],
                note=d.get("note") or "",
            )
        elif action == "remind":
            svc.remind(actor=user, task_id=pk, note=d.get("note") or "")
        elif action == "reassign":
            svc.reassign(actor=user, task_id=pk, version=d["version"], assignee_id=d["assignee"])
        elif action == "cancel":
            svc.cancel_task(actor=user, task_id=pk, version=d["version"], reason=d["reason"])
    except DomainError as exc:
        fresh = _task(user, pk) if isinstance(exc, StaleVersion) else task
        return _render_detail(
            request, fresh, forms={action: form}, error=refusal(exc), status=exc.status
        )
    messages.success(request, DONE_MESSAGES[action])
    if not queries.tasks(user).filter(pk=pk).exists():
        return redirect("supervision:home")
    return redirect("supervision:detail", pk=pk)
