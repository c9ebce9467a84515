"""Every write of supervision (督办): tasks issued by managers or raised automatically
when a rectification or a work order runs past its ladder, their handling and review,
and the reminder job.

Who may do what:

- issue (``create_task``): ``supervision.issue`` at an org on the assignee org's path
  (a county manager within the county, the city manager anywhere); that grant's org
  is the task's ``issuer_org``;
- handle (accept, report, submit): the named assignee, or ``supervision.handle`` at
  the task's org;
- the issuer side (review, remind, cancel): the creator, or ``supervision.issue`` at
  the issuer org; reassigning: ``supervision.issue`` at the task's org.

A user who cannot see a task (``queries.tasks``) gets 404 whatever they try, so
another county's tasks are not revealed. Every step of ``run_reminders`` is claimed by
a conditional UPDATE of the task's bookkeeping columns and its notification carries a
dedupe key, so concurrent or repeated runs never notify twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dayuan.accounts.models import User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.numbers import next_number
from dayuan.core.scope import grants_of
from dayuan.core.text import clean_text as _text
from dayuan.notifications.services import emit
from dayuan.orgs.choices import OrgKind
from dayuan.orgs.models import Organization
from dayuan.standards import engine
from dayuan.standards.rules import EscalationStep
from dayuan.workcalendar.calendar import WorkingCalendar
from dayuan.workorders.tasks import role_holders

from . import events, queries
from .choices import OPEN_TASK, Light, TaskSource, TaskStatus
from .models import SupervisionTask, TaskEvent

T = TaskStatus

# action -> statuses it may start from
TRANSITIONS: dict[str, frozenset[str]] = {
    "accept": frozenset({T.OPEN}),
    "report": frozenset({T.OPEN, T.IN_PROGRESS}),
    "submit": frozenset({T.IN_PROGRESS}),
    "review": frozenset({T.SUBMITTED}),
    "remind": frozenset(OPEN_TASK),
    "reassign": frozenset(OPEN_TASK),
    "cancel": frozenset(OPEN_TASK),
}
ACTION_LABELS = {
    "accept": gettext_lazy("签收"),
    "report": gettext_lazy("报告进展"),
    "submit": gettext_lazy("提交办理结果"),
    "review": gettext_lazy("审核"),
    "remind": gettext_lazy("催办"),
    "reassign": gettext_lazy("改派"),
    "cancel": gettext_lazy("撤销"),
}
AUDIT_FIELDS = [
    "status",
    "assignee_id",
    "deadline",
    "result",
    "review_note",
    "closed_on_time",
    "version",
]
# The ladder when no ``sla`` rule of category ``supervision`` is in force.
DEFAULT_LADDER = (
    EscalationStep(at_percent=80, action="warn", notify=["assignee"]),
    EscalationStep(at_percent=100, action="escalate", notify=["assignee"]),
    EscalationStep(at_percent=150, action="escalate_further", notify=["manager"]),
)
AUTO_DAYS = 3  # automatic tasks are due in three working days


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


# --- who ---------------------------------------------------------------------------------


def is_handler(user: Any, task: SupervisionTask) -> bool:
    return getattr(user, "pk", None) == task.assignee_id or policy.can(
        user, "supervision.handle", task.org
    )


def is_issuer(user: Any, task: SupervisionTask) -> bool:
    return getattr(user, "pk", None) == task.created_by_id or policy.can(
        user, "supervision.issue", task.issuer_org
    )


def may_reassign(user: Any, task: SupervisionTask) -> bool:
    return policy.can(user, "supervision.issue", task.org)


def actions_for(user: Any, task: SupervisionTask) -> list[str]:
    """The actions ``user`` may take on ``task`` now (state and permission)."""
    who = {
        "accept": is_handler,
        "report": is_handler,
        "submit": is_handler,
        "review": is_issuer,
        "remind": is_issuer,
        "reassign": may_reassign,
        "cancel": is_issuer,
    }
    return [
        a for a, sources in TRANSITIONS.items() if task.status in sources and who[a](user, task)
    ]


def _assignee_side(task: SupervisionTask) -> list[Any]:
    """The named assignee, else the managers nearest the task's org."""
    if task.assignee_id:
        return [task.assignee]
    return role_holders(task.org, {"manager"})


def _issuer_side(task: SupervisionTask) -> list[Any]:
    if task.created_by_id:
        return [task.created_by]
    return role_holders(task.issuer_org, {"manager"})


def _recipients_for(task: SupervisionTask, roles: Iterable[str]) -> list[Any]:
    """A ladder step's ``notify`` roles: ``assignee`` is the assignee side, any other
    role its nearest holders on the task org's path."""
    roles = {str(r) for r in roles}
    users = _assignee_side(task) if "assignee" in roles or not roles else []
    return users + role_holders(task.org, roles - {"assignee"})


# --- shared steps ------------------------------------------------------------------------


def _link(task: SupervisionTask) -> str:
    return f"/supervision/{task.pk}/"


def _event(
    task: SupervisionTask, actor: Any, action: str, at: datetime, note: str = "", **data: Any
) -> TaskEvent:
    progress = data.pop("progress", None)
    return TaskEvent.objects.create(
        task=task,
        at=at,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        note=str(note)[:2000],
        progress=progress,
        data=data,
    )


def _notify(
    event_type: str,
    task: SupervisionTask,
    actor: Any,
    recipients: Iterable[Any],
    title: str,
    *,
    key: str,
    org: Organization | None = None,
    body: str = "",
    **payload: Any,
) -> None:
    users = [u for u in recipients if u is not None and getattr(u, "pk", None)]
    if actor is not None:  # nobody is told about what they did themselves
        users = [u for u in users if u.pk != actor.pk]
    if not users:
        return
    emit(
        event_type,
        org=org or task.org,
        actor=actor,
        recipients=users,
        title=title,
        body=body or f"{task.number} {task.title}",
        link=_link(task),
        object=task,
        dedupe_key=f"sup:{task.pk}:{key}",
        payload={"number": task.number, "status": task.status, **payload},
    )


def _save(task: SupervisionTask, before: dict[str, Any], actor: Any, verb: str) -> None:
    task.version += 1
    task.save()
    record(
        f"supervision.{verb}",
        actor=actor,
        obj=task,
        changes=diff(before, snapshot(task, AUDIT_FIELDS)),
    )


def _lock(task_id: int) -> SupervisionTask:
    task = (
        SupervisionTask.objects.select_for_update(of=("self",))
        .select_related("org", "issuer_org", "assignee", "created_by")
        .filter(pk=task_id)
        .first()
    )
    if task is None:
        raise NotFound()
    return task


def _begin(
    actor: Any,
    task_id: int,
    version: int | None,
    action: str,
    allowed: Callable[[Any, SupervisionTask], bool],
) -> SupervisionTask:
    """Lock, then 404 (not visible) / 403 / 409 stale / 409 illegal, in that order."""
    task = _lock(task_id)
    if not SupervisionTask.objects.filter(queries.visibility(actor), pk=task.pk).exists():
        raise NotFound()
    if not allowed(actor, task):
        raise PermissionDenied(action=f"supervision.{action}")
    if version is not None and task.version != version:
        raise StaleVersion(current_version=task.version)
    if task.status not in TRANSITIONS[action]:
        raise Conflict(
            _("督办事项当前状态为“%(status)s”，不能执行“%(action)s”。")
            % {"status": TaskStatus(task.status).label, "action": ACTION_LABELS[action]},
            code="illegal_transition",
            status=task.status,
            action=action,
        )
    return task


def _in_subtree(user: User, org: Organization) -> bool:
    """The user belongs to ``org`` or below it (home unit or a grant there)."""
    home = getattr(user, "home_org", None)
    if home is not None and home.path.startswith(org.path):
        return True
    return any(g.org.path.startswith(org.path) for g in grants_of(user))


def _resolve_assignee(assignee_id: int | None, org: Organization) -> User | None:
    if assignee_id is None:
        return None
    user = User.objects.select_related("home_org").filter(pk=assignee_id, is_active=True).first()
    if user is None or not _in_subtree(user, org):
        raise InvalidInput(
            _("承办人须为承办单位（或其下级单位）的在岗人员。"),
            code="invalid_assignee",
            field="assignee_id",
        )
    return user


def _issuer_org(actor: Any, org: Organization) -> Organization:
    """The nearest org on ``org``'s path where the actor may issue."""
    roles = policy.roles_for("supervision.issue")
    grants = [g for g in grants_of(actor) if g.role in roles and org.path.startswith(g.org.path)]
    if not grants:
        raise PermissionDenied(action="supervision.issue")
    return max(grants, key=lambda g: len(g.org.path)).org


def _insert(now: datetime, **fields: Any) -> tuple[SupervisionTask, bool]:
    """Create with the day's next DB number (a savepoint per attempt; a number taken
    meanwhile is retried); ``(task, False)`` when a concurrent run raised the same
    automatic task first."""
    link = {k: fields[k] for k in ("rectification", "workorder") if fields.get(k)}
    for _attempt in range(5):
        try:
            with transaction.atomic():
                task = SupervisionTask.objects.create(
                    number=next_number(SupervisionTask, "DB", now), issued_at=now, **fields
                )
            return task, True
        except IntegrityError:
            if link and (existing := SupervisionTask.objects.filter(**link).first()):
                return existing, False
    raise Conflict(_("督办编号分配冲突，请重试。"), code="number_conflict")


# --- create ------------------------------------------------------------------------------


@audited("supervision.create")
def create_task(
    *,
    actor: Any,
    org_id: int,
    title: str,
    instruction: str,
    deadline: datetime,
    source: str = TaskSource.INSTRUCTION,
    assignee_id: int | None = None,
    report_every_days: int = 0,
    now: datetime | None = None,
) -> SupervisionTask:
    """A manager's 督办 (a leader's instruction, a complaint …) for an org in reach."""
    now = _now(now)
    org = Organization.objects.filter(pk=org_id, is_active=True).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound(_("承办单位不存在或无权访问。"))
    issuer = _issuer_org(actor, org)
    title = _text(title, "title", _("督办事项"), 200)
    instruction = _text(instruction, "instruction", _("督办要求"), 2000)
    if source not in (TaskSource.INSTRUCTION, TaskSource.COMPLAINT, TaskSource.OTHER):
        raise InvalidInput(_("督办来源无效。"), code="invalid_source", field="source")
    if deadline is None or timezone.is_naive(deadline) or deadline <= now:
        raise InvalidInput(_("办结时限须晚于当前时间。"), code="invalid_deadline", field="deadline")
    if not isinstance(report_every_days, int) or not 0 <= report_every_days <= 90:
        raise InvalidInput(
            _("进展报告周期须为 0–90 天。"),
            code="invalid_report_every_days",
            field="report_every_days",
        )
    assignee = _resolve_assignee(assignee_id, org)
    task, _created = _insert(
        now,
        org=org,
        issuer_org=issuer,
        title=title,
        instruction=instruction,
        source=source,
        assignee=assignee,
        created_by=actor,
        deadline=deadline,
        report_every_days=report_every_days,
    )
    _event(task, actor, "created", now, instruction, issuer_org=issuer.pk)
    record(
        "supervision.create",
        actor=actor,
        obj=task,
        changes=diff({}, snapshot(task, ["number", "org_id", "issuer_org_id", *AUDIT_FIELDS])),
    )
    _notify(
        events.ASSIGNED,
        task,
        actor,
        _assignee_side(task),
        _("督办交办：%(title)s") % {"title": task.title},
        key="created",
    )
    return task


def _parent_centre(org: Organization) -> Organization:
    node = org.parent
    while node is not None:
        if node.kind in OrgKind.centres():
            return node
        node = node.parent
    return org


@audited("supervision.raise")
def _raise_auto(
    *, org: Organization, title: str, instruction: str, source: str, now: datetime, **link: Any
) -> SupervisionTask:
    """An automatic task: issued by the org's parent centre, due in three working days,
    no named assignee (the org's managers are told and name one)."""
    existing = SupervisionTask.objects.filter(**link).first()
    if existing is not None:
        return existing
    cal = WorkingCalendar.for_org(org)
    task, created = _insert(
        now,
        org=org,
        issuer_org=_parent_centre(org),
        title=title[:200],
        instruction=instruction[:2000],
        source=source,
        deadline=cal.add_working_minutes(now, AUTO_DAYS * cal.minutes_per_day),
        **link,
    )
    if not created:
        return task
    _event(task, None, "created", now, instruction, source=source)
    record(
        "supervision.raise",
        actor=None,
        obj=task,
        changes=diff({}, snapshot(task, ["number", "org_id", "issuer_org_id", "source"])),
    )
    _notify(
        events.ASSIGNED,
        task,
        None,
        _assignee_side(task),
        _("自动督办：%(title)s") % {"title": task.title},
        key="created",
    )
    return task


def raise_from_rectification(rect: Any, *, now: datetime) -> SupervisionTask:
    """The task for a rectification past the last step of its ladder (one per order)."""
    finding = rect.finding
    title = _("整改超期督办：%(number)s") % {"number": finding.number}
    instruction = _("问题 %(number)s 整改已严重超期（期限 %(deadline)s）：%(text)s") % {
        "number": finding.number,
        "deadline": timezone.localtime(rect.deadline).strftime("%Y-%m-%d %H:%M"),
        "text": finding.description[:500],
    }
    return _raise_auto(
        org=rect.org,
        title=title,
        instruction=instruction,
        source=TaskSource.RECTIFICATION,
        now=now,
        rectification=rect,
    )


def raise_from_workorder(order: Any, timer: Any, *, now: datetime) -> SupervisionTask:
    """The task for a work order whose clock passed the last step of its ladder."""
    title = _("工单超期督办：%(number)s") % {"number": order.number}
    instruction = _("工单 %(number)s「%(label)s」已严重超时（应于 %(due)s 前完成）：%(text)s") % {
        "number": order.number,
        "label": timer.label,
        "due": timezone.localtime(timer.due_at).strftime("%Y-%m-%d %H:%M"),
        "text": order.description[:500],
    }
    return _raise_auto(
        org=order.org,
        title=title,
        instruction=instruction,
        source=TaskSource.WORKORDER,
        now=now,
        workorder=order,
    )


def follow_source(
    *,
    now: datetime,
    rectification: Any = None,
    workorder: Any = None,
    cancelled: bool = False,
) -> SupervisionTask | None:
    """An automatic task ends with its source, in the caller's transaction: closed
    with a system result when the rectification is accepted or the work order done
    (on time if by the task's deadline), cancelled when the source is withdrawn.

    Called by the source's services at those transitions; no task, or one already
    closed or cancelled, is left as it is (so calling twice changes nothing).
    """
    if rectification is not None:
        link = {"rectification": rectification}
        note = _("问题已撤销，督办随之撤销。") if cancelled else _("整改已验收通过。")
    elif workorder is not None:
        link = {"workorder": workorder}
        note = _("工单已取消，督办随之撤销。") if cancelled else _("工单已完成。")
    else:
        return None
    task = (
        SupervisionTask.objects.select_for_update(of=("self",))
        .select_related("org", "issuer_org", "assignee", "created_by")
        .filter(status__in=OPEN_TASK, **link)
        .first()
    )
    if task is None:
        return None
    before = snapshot(task, AUDIT_FIELDS)
    task.review_note = note
    if cancelled:
        task.status = T.CANCELLED
    else:
        task.status = T.CLOSED
        task.result = task.result or note
        task.closed_at = now
        task.closed_on_time = now <= task.deadline
    _save(task, before, None, "auto_cancel" if cancelled else "auto_close")
    action = "auto_cancelled" if cancelled else "auto_closed"
    _event(task, None, action, now, note, source=task.source)
    _notify(
        events.CLOSED,
        task,
        None,
        _assignee_side(task),
        (_("督办已自动撤销：%(title)s") if cancelled else _("督办已自动办结：%(title)s"))
        % {"title": task.title},
        key=action,
        body=note,
    )
    return task


# --- handling ----------------------------------------------------------------------------


@audited("supervision.accept")
def accept_task(
    *, actor: Any, task_id: int, version: int | None = None, now: datetime | None = None
) -> SupervisionTask:
    now = _now(now)
    task = _begin(actor, task_id, version, "accept", is_handler)
    before = snapshot(task, AUDIT_FIELDS)
    task.status = T.IN_PROGRESS
    if task.assignee_id is None:
        task.assignee = actor  # who signs for it handles it
    _save(task, before, actor, "accept")
    _event(task, actor, "accepted", now)
    return task


@audited("supervision.report")
def report_progress(
    *,
    actor: Any,
    task_id: int,
    text: str,
    progress: int | None = None,
    now: datetime | None = None,
) -> TaskEvent:
    """A progress report (the required periodic one or any other); resets the report clock."""
    now = _now(now)
    task = _begin(actor, task_id, None, "report", is_handler)
    text = _text(text, "text", _("进展情况"), 2000)
    if progress is not None and (not isinstance(progress, int) or not 0 <= progress <= 100):
        raise InvalidInput(_("进度须为 0–100。"), code="invalid_progress", field="progress")
    task.last_report_at = now
    task.save(update_fields=["last_report_at", "updated_at"])
    event = _event(task, actor, "report", now, text, progress=progress)
    record(
        "supervision.report",
        actor=actor,
        obj=task,
        changes={"event_id": event.pk, "progress": progress},
    )
    _notify(
        events.REPORTED,
        task,
        actor,
        _issuer_side(task),
        _("督办进展：%(title)s") % {"title": task.title},
        key=f"report:{event.pk}",
        org=task.issuer_org,
        body=text[:200],
        progress=progress,
    )
    return event


@audited("supervision.submit")
def submit_result(
    *, actor: Any, task_id: int, version: int, result: str, now: datetime | None = None
) -> SupervisionTask:
    now = _now(now)
    task = _begin(actor, task_id, version, "submit", is_handler)
    result = _text(result, "result", _("办理结果"), 2000)
    before = snapshot(task, AUDIT_FIELDS)
    task.status = T.SUBMITTED
    task.result = result
    task.submitted_at = now
    _save(task, before, actor, "submit")
    _event(task, actor, "submitted", now, result)
    _notify(
        events.SUBMITTED,
        task,
        actor,
        _issuer_side(task),
        _("督办待审核：%(title)s") % {"title": task.title},
        key=f"submitted:{task.version}",
        org=task.issuer_org,
    )
    return task


@audited("supervision.review")
def review(
    *,
    actor: Any,
    task_id: int,
    version: int,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> SupervisionTask:
    """Approve (closed; on time if the result came before the deadline) or return it
    to the assignee with a note."""
    now = _now(now)
    task = _begin(actor, task_id, version, "review", is_issuer)
    note = (note or "").strip()
    if not approve:
        note = _text(note, "note", _("退回意见"), 500)
    if len(note) > 500:
        raise InvalidInput(_("审核意见不能超过 500 个字符。"), code="too_long", field="note")
    before = snapshot(task, AUDIT_FIELDS)
    task.review_note = note
    task.reviewed_by = actor
    if approve:
        task.status = T.CLOSED
        task.closed_at = now
        task.closed_on_time = task.submitted_at is not None and task.submitted_at <= task.deadline
    else:
        task.status = T.IN_PROGRESS
    _save(task, before, actor, "review")
    _event(task, actor, "closed" if approve else "returned", now, note)
    _notify(
        events.CLOSED if approve else events.RETURNED,
        task,
        actor,
        _assignee_side(task),
        (_("督办已办结：%(title)s") if approve else _("督办退回：%(title)s"))
        % {"title": task.title},
        key=f"review:{task.version}",
        body=note,
    )
    return task


@audited("supervision.remind")
def remind(*, actor: Any, task_id: int, note: str = "", now: datetime | None = None) -> TaskEvent:
    """A manual 催办 from the issuer side."""
    now = _now(now)
    task = _begin(actor, task_id, None, "remind", is_issuer)
    note = (note or "").strip()[:500]
    event = _event(task, actor, "remind", now, note, kind="manual")
    record("supervision.remind", actor=actor, obj=task, changes={"event_id": event.pk})
    _notify(
        events.REMINDED,
        task,
        actor,
        _assignee_side(task),
        _("督办催办：%(title)s") % {"title": task.title},
        key=f"remind:{event.pk}",
        body=note,
        kind="manual",
    )
    return event


@audited("supervision.reassign")
def reassign(
    *, actor: Any, task_id: int, version: int, assignee_id: int, now: datetime | None = None
) -> SupervisionTask:
    now = _now(now)
    task = _begin(actor, task_id, version, "reassign", may_reassign)
    assignee = _resolve_assignee(assignee_id, task.org)
    if assignee is None:
        raise InvalidInput(_("请选择承办人。"), code="required", field="assignee_id")
    before = snapshot(task, AUDIT_FIELDS)
    previous = task.assignee_id
    task.assignee = assignee
    _save(task, before, actor, "reassign")
    _event(task, actor, "reassigned", now, previous=previous, assignee=assignee.pk)
    _notify(
        events.ASSIGNED,
        task,
        actor,
        [assignee],
        _("督办交办：%(title)s") % {"title": task.title},
        key=f"assigned:{task.version}",
    )
    return task


@audited("supervision.cancel")
def cancel_task(
    *, actor: Any, task_id: int, version: int, reason: str, now: datetime | None = None
) -> SupervisionTask:
    now = _now(now)
    task = _begin(actor, task_id, version, "cancel", is_issuer)
    reason = _text(reason, "reason", _("撤销原因"), 500)
    before = snapshot(task, AUDIT_FIELDS)
    task.status = T.CANCELLED
    task.review_note = reason
    _save(task, before, actor, "cancel")
    _event(task, actor, "cancelled", now, reason)
    _notify(
        events.CLOSED,
        task,
        actor,
        _assignee_side(task),
        _("督办已撤销：%(title)s") % {"title": task.title},
        key=f"cancel:{task.version}",
        body=reason,
    )
    return task


# --- the board ---------------------------------------------------------------------------


def report_due(task: SupervisionTask, now: datetime) -> datetime | None:
    """When the latest required progress report fell due (None: none is late)."""
    if task.report_every_days <= 0:
        return None
    ref = task.last_report_at or task.issued_at
    period = timedelta(days=task.report_every_days)
    periods = math.floor((now - ref) / period)
    return ref + periods * period if periods >= 1 else None


def light(task: SupervisionTask, now: datetime) -> str:
    """Red past the deadline; yellow within 24 h of it, in the last 20 % of the window
    or with a progress report late; green otherwise; done once closed or cancelled.
    (``queries.light_expr`` is the same in SQL, for lists and the board.)"""
    if task.status in (T.CLOSED, T.CANCELLED):
        return Light.DONE
    if now > task.deadline:
        return Light.RED
    window = task.deadline - task.issued_at
    if (
        task.deadline - now <= timedelta(hours=queries.YELLOW_HOURS)
        or now >= task.issued_at + window * queries.YELLOW_SHARE
        or report_due(task, now) is not None
    ):
        return Light.YELLOW
    return Light.GREEN


# --- the reminder job --------------------------------------------------------------------


def ladder(org: Organization, at: datetime) -> tuple[tuple[EscalationStep, ...], str]:
    """The effective ``supervision`` ladder and its calendar (else the default)."""
    for spec in engine.sla_timers(org, "supervision", at=at):
        if spec.escalation:
            return tuple(spec.escalation), spec.calendar
    return DEFAULT_LADDER, "24x7"


def _step(steps: Iterable[EscalationStep], action: str) -> EscalationStep | None:
    return next((s for s in steps if s.action == action), None)


def _ancestors_to_city(org: Organization) -> list[Organization]:
    """The org's parents, nearest first, up to and including the city (never above)."""
    out: list[Organization] = []
    node = org
    while node.kind != OrgKind.CITY and node.parent_id is not None:
        node = node.parent
        out.append(node)
    return out


def _remind_before(task: SupervisionTask, steps: Any, percent: float, now: datetime) -> int:
    warn = _step(steps, "warn") or DEFAULT_LADDER[0]
    if task.reminded_before or now >= task.deadline or percent < warn.at_percent:
        return 0
    if not SupervisionTask.objects.filter(pk=task.pk, reminded_before=False).update(
        reminded_before=True
    ):
        return 0
    task.reminded_before = True
    _event(task, None, "remind", now, kind="before")
    _notify(
        events.REMINDED,
        task,
        None,
        _recipients_for(task, warn.notify),
        _("督办即将到期：%(title)s") % {"title": task.title},
        key="before",
        body=_("请于 %(deadline)s 前办结。")
        % {"deadline": timezone.localtime(task.deadline).strftime("%Y-%m-%d %H:%M")},
        kind="before",
    )
    return 1


def _remind_overdue(task: SupervisionTask, steps: Any, now: datetime) -> int:
    """One 催办 per calendar day overdue; ``overdue_reminders`` is the overdue day last
    reminded for (1: the day the deadline passed), so a missed run never sends two."""
    if now <= task.deadline:
        return 0
    today = timezone.localdate(now)
    day = (today - timezone.localdate(task.deadline)).days + 1
    if task.overdue_reminders >= day:
        return 0
    if not SupervisionTask.objects.filter(pk=task.pk, overdue_reminders__lt=day).update(
        overdue_reminders=day
    ):
        return 0
    task.overdue_reminders = day
    step = _step(steps, "escalate") or DEFAULT_LADDER[1]
    _event(task, None, "remind", now, kind="overdue", day=day)
    _notify(
        events.REMINDED,
        task,
        None,
        _recipients_for(task, step.notify),
        _("【催办】督办已超期 %(day)s 天：%(title)s") % {"day": day, "title": task.title},
        key=f"overdue:{today.isoformat()}",
        body=_("办结时限 %(deadline)s 已过，请尽快办结并报告。")
        % {"deadline": timezone.localtime(task.deadline).strftime("%Y-%m-%d %H:%M")},
        kind="overdue",
        day=day,
    )
    return 1


def _escalate(task: SupervisionTask, steps: Any, percent: float, now: datetime) -> int:
    """Up one org level at the ``escalate_further`` step, and one more for each further
    full window overdue, never above the city."""
    further = _step(steps, "escalate_further") or DEFAULT_LADDER[2]
    if percent < further.at_percent:
        return 0
    chain = _ancestors_to_city(task.org)
    target = min(1 + math.floor((percent - further.at_percent) / 100), len(chain))
    start = task.escalation_level
    if target <= start:
        return 0
    if not SupervisionTask.objects.filter(pk=task.pk, escalation_level__lt=target).update(
        escalation_level=target, escalated_to=chain[target - 1]
    ):
        return 0
    task.escalation_level = target
    task.escalated_to = chain[target - 1]
    for level in range(start + 1, target + 1):
        parent = chain[level - 1]
        _event(task, None, "escalate", now, parent.name, level=level, org=parent.pk)
        _notify(
            events.ESCALATED,
            task,
            None,
            role_holders(parent, {"manager"}),
            _("【升级】督办严重超期：%(title)s（%(org)s）")
            % {"title": task.title, "org": task.org.name},
            key=f"escalate:{level}",
            org=parent,
            level=level,
            escalated_to=parent.pk,
        )
    return target - start


def _remind_report(task: SupervisionTask, now: datetime) -> int:
    due = report_due(task, now)
    if due is None:
        return 0
    claimed = (
        SupervisionTask.objects.filter(pk=task.pk)
        .filter(Q(report_reminded_at__isnull=True) | Q(report_reminded_at__lt=due))
        .update(report_reminded_at=now)
    )
    if not claimed:
        return 0
    task.report_reminded_at = now
    _event(task, None, "remind", now, kind="report")
    _notify(
        events.REMINDED,
        task,
        None,
        _assignee_side(task),
        _("请报告督办进展：%(title)s") % {"title": task.title},
        key=f"report:{int(due.timestamp())}",
        body=_("每 %(n)s 天须报告一次进展。") % {"n": task.report_every_days},
        kind="report",
    )
    return 1


def run_reminders(now: datetime | None = None) -> dict[str, int]:
    """The 督办 job: a reminder before the deadline (the ladder's ``warn`` step), one
    催办 per calendar day overdue, escalation up the org tree, report reminders.

    Only tasks awaiting the assignee (open, in progress) are chased; a submitted one
    waits for its review. Each task's steps run in a transaction of their own.
    """
    now = _now(now)
    counts = {"before": 0, "overdue": 0, "escalated": 0, "report": 0}
    ladders: dict[int, tuple[tuple[EscalationStep, ...], str]] = {}
    ids = list(
        SupervisionTask.objects.filter(status__in=(T.OPEN, T.IN_PROGRESS))
        .order_by("deadline", "pk")
        .values_list("pk", flat=True)
    )
    for task_id in ids:
        with transaction.atomic():
            task = (
                SupervisionTask.objects.select_related(
                    "org__parent", "issuer_org", "assignee", "created_by"
                )
                .filter(pk=task_id, status__in=(T.OPEN, T.IN_PROGRESS))
                .first()
            )
            if task is None:
                continue
            if task.org_id not in ladders:
                ladders[task.org_id] = ladder(task.org, now)
            steps, calendar = ladders[task.org_id]
            state = engine.escalation_state(
                task.issued_at, task.deadline, now, steps, task.org, calendar=calendar
            )
            counts["before"] += _remind_before(task, steps, state.percent, now)
            counts["overdue"] += _remind_overdue(task, steps, now)
            counts["escalated"] += _escalate(task, steps, state.percent, now)
            counts["report"] += _remind_report(task, now)
    return counts
