"""Rectification (整改): the order each finding opens, its rounds of evidence and
verdicts, and the ladder that chases it into supervision.

The deadline comes from the effective ``sla`` rule ``category: rectification,
priority: <severity>`` (its first timer, on its calendar); without one, from
``settings.INSPECTIONS_RECTIFY_DEFAULTS``. The responsible party is the finding's
vendor, else its org; it acts while the order is ``ordered`` or ``returned``, and only
then does the ladder run. Reaching the ladder's last step raises a supervision task
(one per order). Every transition is a ``FindingEvent``; every round is kept.

Who may: the named assignee or holders of ``inspections.rectify`` at the assignee org
submit evidence; holders of ``inspections.verify`` at the finding's org verify (not the
one who submitted the round); either side names the assignee. Someone who cannot see
the order (``queries.rectifications``) gets 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dayuan.accounts.models import Grant, User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.text import clean_text as _text
from dayuan.notifications.services import emit
from dayuan.orgs.models import Organization
from dayuan.standards import engine
from dayuan.standards.choices import Outcome
from dayuan.standards.models import Judgment, Rule
from dayuan.standards.rules import EscalationStep
from dayuan.workcalendar.calendar import WorkingCalendar
from dayuan.workorders import photos as photo_files
from dayuan.workorders.catalogue import ancestor_paths
from dayuan.workorders.tasks import role_holders

from . import events, queries
from .choices import AWAITING_PARTY, OPEN_RECTIFICATION, FindingStatus, Verdict
from .choices import RectificationStatus as RS
from .models import Finding, Rectification, RectificationPhoto, RectificationRound
from .services import finding_event

SUBJECT_TYPE = "rectification"
AUDIT_FIELDS = [
    "status",
    "assignee_id",
    "verifier_id",
    "deadline",
    "round_count",
    "closed_on_time",
    "version",
]
ACTION_LABELS = {
    "submit": gettext_lazy("提交整改"),
    "verify": gettext_lazy("验收"),
    "assign": gettext_lazy("指定责任人"),
}
TRANSITIONS: dict[str, frozenset[str]] = {
    "submit": frozenset(AWAITING_PARTY),
    "verify": frozenset({RS.SUBMITTED}),
    "assign": frozenset(OPEN_RECTIFICATION),
}
# The ladder when no rule is in force: ``assignee`` means the responsible party.
DEFAULT_LADDER = (
    EscalationStep(at_percent=80, action="warn", notify=["assignee"]),
    EscalationStep(at_percent=100, action="escalate", notify=["assignee", "inspector"]),
    EscalationStep(at_percent=150, action="escalate_further", notify=["manager"]),
)
STEP_LABELS = {
    "warn": gettext_lazy("预警"),
    "escalate": gettext_lazy("升级"),
    "escalate_further": gettext_lazy("再次升级"),
}


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _calendar(org: Any, calendar: str) -> WorkingCalendar:
    if calendar == "24x7":
        return WorkingCalendar(around_the_clock=True)
    return WorkingCalendar.for_org(org)


def _local(dt: datetime) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M")


# --- who ---------------------------------------------------------------------------------


def party_holders(org: Organization) -> list[User]:
    """Who answers for an order of ``org``: holders of ``inspections.rectify`` at the
    nearest org on its path that has any (the vendor's own people, else the unit's)."""
    roles = policy.roles_for("inspections.rectify")
    paths = ancestor_paths(org.path)
    grants = Grant.objects.filter(
        role__in=roles, org__path__in=paths, org__is_active=True, user__is_active=True
    ).values_list("org__path", "user_id")
    by_path: dict[str, set[int]] = {}
    for path, user_id in grants:
        by_path.setdefault(path, set()).add(user_id)
    for path in reversed(paths):
        if path in by_path:
            return list(User.objects.filter(pk__in=by_path[path]).order_by("pk"))
    return []


def _party(rect: Rectification) -> list[User]:
    if rect.assignee_id:
        return [rect.assignee]
    return party_holders(rect.assignee_org)


def _verifiers(rect: Rectification) -> list[User]:
    """The named verifier, else the inspectors nearest the finding's org (else managers)."""
    if rect.verifier_id:
        return [rect.verifier]
    return role_holders(rect.org, {"inspector"}) or role_holders(rect.org, {"manager"})


def is_party(user: Any, rect: Rectification) -> bool:
    return getattr(user, "pk", None) == rect.assignee_id or policy.can(
        user, "inspections.rectify", rect.assignee_org
    )


def is_verifier(user: Any, rect: Rectification) -> bool:
    return policy.can(user, "inspections.verify", rect.org)


def may_assign(user: Any, rect: Rectification) -> bool:
    return policy.can(user, "inspections.rectify", rect.assignee_org) or is_verifier(user, rect)


def actions_for(user: Any, rect: Rectification) -> list[str]:
    who = {"submit": is_party, "verify": is_verifier, "assign": may_assign}
    return [a for a, src in TRANSITIONS.items() if rect.status in src and who[a](user, rect)]


def _notify(
    event_type: str,
    rect: Rectification,
    actor: Any,
    recipients: Iterable[Any],
    title: str,
    *,
    key: str,
    org: Organization,
    body: str = "",
    **payload: Any,
) -> None:
    users = [u for u in recipients if u is not None and getattr(u, "pk", None)]
    if actor is not None:  # nobody is told about what they did themselves
        users = [u for u in users if u.pk != actor.pk]
    if not users:
        return
    finding = rect.finding
    emit(
        event_type,
        org=org,
        actor=actor if getattr(actor, "pk", None) else None,
        recipients=users,
        title=title,
        body=body or f"{finding.number}：{finding.description[:100]}",
        link=f"/inspections/findings/{finding.pk}/",
        object=rect,
        dedupe_key=f"rect:{rect.pk}:{key}",
        payload={
            "finding": finding.number,
            "status": rect.status,
            "deadline": rect.deadline.isoformat(),
            **payload,
        },
    )


# --- ordering ----------------------------------------------------------------------------


def deadline_for(org: Organization, severity: str, now: datetime) -> dict[str, Any]:
    """Minutes, calendar, rule and deadline for a finding of ``severity`` raised ``now``."""
    specs = engine.sla_timers(org, "rectification", severity, at=now)
    if specs and specs[0].rule_id is not None:
        spec = specs[0]
        return {
            "minutes": spec.minutes,
            "calendar": spec.calendar,
            "rule_id": spec.rule_id,
            "deadline": engine.due_at(now, spec, org),
        }
    defaults = settings.INSPECTIONS_RECTIFY_DEFAULTS
    minutes, calendar = defaults.get(severity) or defaults["general"]
    return {
        "minutes": minutes,
        "calendar": calendar,
        "rule_id": None,
        "deadline": _calendar(org, calendar).add_working_minutes(now, minutes),
    }


def order_for(finding: Finding, *, actor: Any, now: datetime) -> Rectification:
    """The rectification order of a new finding (inside the caller's transaction)."""
    terms = deadline_for(finding.org, finding.severity, now)
    verifier = (
        actor
        if getattr(actor, "pk", None) and policy.can(actor, "inspections.verify", finding.org)
        else None
    )
    rect = Rectification.objects.create(
        finding=finding,
        org=finding.org,
        assignee_org=finding.vendor or finding.org,
        verifier=verifier,
        status=RS.ORDERED,
        ordered_at=now,
        deadline=terms["deadline"],
        minutes=terms["minutes"],
        calendar=terms["calendar"],
        rule_id=terms["rule_id"],
    )
    finding_event(
        finding,
        actor,
        "ordered",
        now,
        deadline=rect.deadline.isoformat(),
        minutes=rect.minutes,
        calendar=rect.calendar,
        rule_id=rect.rule_id,
        assignee_org=rect.assignee_org_id,
    )
    record(
        "inspections.rectification.order",
        actor=actor if getattr(actor, "pk", None) else None,
        obj=rect,
        changes=diff({}, snapshot(rect, ["finding_id", "assignee_org_id", *AUDIT_FIELDS])),
    )
    _notify(
        events.RECTIFICATION_ORDERED,
        rect,
        actor,
        _party(rect),
        _("整改通知：%(number)s，请于 %(deadline)s 前完成")
        % {"number": finding.number, "deadline": _local(rect.deadline)},
        key="ordered",
        org=rect.assignee_org,
    )
    return rect


# --- transitions -------------------------------------------------------------------------


def _begin(
    actor: Any,
    rect_id: int,
    version: int | None,
    action: str,
    allowed: Callable[[Any, Rectification], bool],
) -> Rectification:
    """Lock, then 404 (not visible) / 403 / 409 stale / 409 illegal, in that order."""
    rect = (
        Rectification.objects.select_for_update(of=("self",))
        .select_related("finding", "org", "assignee_org", "assignee", "verifier")
        .filter(pk=rect_id)
        .first()
    )
    if rect is None or not queries.rectifications(actor).filter(pk=rect.pk).exists():
        raise NotFound()
    if not allowed(actor, rect):
        raise PermissionDenied(action=f"inspections.{action}")
    if version is not None and rect.version != version:
        raise StaleVersion(current_version=rect.version)
    if rect.status not in TRANSITIONS[action]:
        raise Conflict(
            _("整改单当前状态为“%(status)s”，不能执行“%(action)s”。")
            % {"status": RS(rect.status).label, "action": ACTION_LABELS[action]},
            code="illegal_transition",
            status=rect.status,
            action=action,
        )
    return rect


def _save(rect: Rectification, before: dict[str, Any], actor: Any, verb: str) -> None:
    rect.version += 1
    rect.save()
    record(
        f"inspections.rectification.{verb}",
        actor=actor,
        obj=rect,
        changes=diff(before, snapshot(rect, AUDIT_FIELDS)),
    )


def _store_photos(round_: RectificationRound, images: Sequence[Any], actor: Any) -> None:
    for image in images:
        stem = uuid.uuid4().hex
        photo = RectificationPhoto(
            round=round_, width=image.width, height=image.height, uploaded_by=actor
        )
        photo.image.save(f"{stem}.{image.ext}", ContentFile(image.data), save=False)
        photo.thumbnail.save(f"{stem}.{image.ext}", ContentFile(image.thumb), save=False)
        photo.save()


@audited("inspections.rectification.submit")
def submit_evidence(
    *,
    actor: Any,
    rectification_id: int,
    version: int,
    evidence: str,
    photos: Sequence[Any] = (),
    now: datetime | None = None,
) -> Rectification:
    """A round of evidence (text and photos); the verifier is told."""
    now = _now(now)
    rect = _begin(actor, rectification_id, version, "submit", is_party)
    evidence = _text(evidence, "evidence", _("整改说明"), 2000)
    uploads = [u for u in photos or () if u is not None]
    if len(uploads) > photo_files.max_photos():
        raise InvalidInput(
            _("每轮整改最多上传 %(n)s 张照片。") % {"n": photo_files.max_photos()},
            code="invalid_photo",
            max_photos=photo_files.max_photos(),
        )
    images = [photo_files.clean(u) for u in uploads]
    before = snapshot(rect, AUDIT_FIELDS)
    rect.round_count += 1
    round_ = RectificationRound.objects.create(
        rectification=rect,
        number=rect.round_count,
        evidence=evidence,
        submitted_by=actor,
        submitted_at=now,
    )
    _store_photos(round_, images, actor)
    rect.status = RS.SUBMITTED
    _save(rect, before, actor, "submit")
    finding_event(
        rect.finding, actor, "evidence", now, evidence, round=round_.number, photos=len(images)
    )
    _notify(
        events.RECTIFICATION_SUBMITTED,
        rect,
        actor,
        _verifiers(rect),
        _("整改待验收：%(number)s（第 %(round)s 轮）")
        % {"number": rect.finding.number, "round": round_.number},
        key=f"submitted:{round_.number}",
        org=rect.org,
        body=evidence[:200],
        round=round_.number,
    )
    return rect


def _judge(rect: Rectification, outcome: str, at: datetime) -> None:
    """The order's verdict for the compliance data, against its rectification rule."""
    if rect.rule_id is None:
        return
    clause_id = Rule.objects.filter(pk=rect.rule_id).values_list("clause_id", flat=True).first()
    finding = rect.finding
    engine.store_judgments(
        [
            Judgment(
                rule_id=rect.rule_id,
                clause_id=clause_id,
                org_id=rect.org_id,
                location_id=finding.location_id,
                vendor_id=finding.vendor_id,
                subject_type=SUBJECT_TYPE,
                subject_id=str(rect.pk),
                at=at,
                outcome=outcome,
            )
        ]
    )


@audited("inspections.rectification.verify")
def verify(
    *,
    actor: Any,
    rectification_id: int,
    version: int,
    verdict: str,
    reason: str = "",
    deadline: datetime | None = None,
    now: datetime | None = None,
) -> Rectification:
    """Accept (the order and the finding close; on time if by the deadline) or reject
    with a reason (back to the party, optionally with a later deadline)."""
    now = _now(now)
    rect = _begin(actor, rectification_id, version, "verify", is_verifier)
    if verdict not in Verdict.values:
        raise InvalidInput(_("验收结论无效。"), code="invalid_verdict", field="verdict")
    round_ = rect.rounds.select_for_update().get(number=rect.round_count)
    if round_.submitted_by_id == actor.pk:
        raise PermissionDenied(
            _("不能验收自己提交的整改。"), code="self_verify", action="inspections.verify"
        )
    reason = (reason or "").strip()
    if verdict == Verdict.REJECT:
        reason = _text(reason, "reason", _("退回原因"), 500)
    elif len(reason) > 500:
        raise InvalidInput(_("验收意见不能超过 500 个字符。"), code="too_long", field="reason")
    if deadline is not None and (
        verdict != Verdict.REJECT
        or timezone.is_naive(deadline)
        or deadline <= rect.deadline
        or deadline <= now
    ):
        raise InvalidInput(
            _("新的整改期限须晚于原期限和当前时间（仅退回时可设定）。"),
            code="invalid_deadline",
            field="deadline",
        )
    before = snapshot(rect, AUDIT_FIELDS)
    round_.verdict = verdict
    round_.reason = reason
    round_.verified_by = actor
    round_.verified_at = now
    round_.save()
    rect.verifier = actor
    finding = rect.finding
    if verdict == Verdict.ACCEPT:
        rect.status = RS.ACCEPTED
        rect.closed_at = now
        rect.closed_on_time = now <= rect.deadline
        _save(rect, before, actor, "verify")
        if not rect.overdue:  # an overdue order was judged when the job found it
            _judge(rect, Outcome.PASS if rect.closed_on_time else Outcome.FAIL, now)
        Finding.objects.filter(pk=finding.pk).update(
            status=FindingStatus.CLOSED, closed_at=now, version=finding.version + 1
        )
        finding_event(finding, actor, "accepted", now, reason, round=round_.number)
        finding_event(finding, actor, "closed", now, on_time=rect.closed_on_time)
        end_supervision(rect, now)
        event_type = events.RECTIFICATION_ACCEPTED
        title = _("整改验收通过：%(number)s") % {"number": finding.number}
    else:
        rect.status = RS.RETURNED
        data: dict[str, Any] = {"round": round_.number}
        if deadline is not None:
            data["old_deadline"] = rect.deadline.isoformat()
            data["deadline"] = deadline.isoformat()
            rect.deadline = deadline
            rect.escalation_level = 0  # a new window: a new run of the ladder
        _save(rect, before, actor, "verify")
        finding_event(finding, actor, "rejected", now, reason, **data)
        event_type = events.RECTIFICATION_REJECTED
        title = _("整改退回：%(number)s，请于 %(deadline)s 前重新整改") % {
            "number": finding.number,
            "deadline": _local(rect.deadline),
        }
    _notify(
        event_type,
        rect,
        actor,
        [*_party(rect), round_.submitted_by],
        title,
        key=f"verdict:{round_.number}",
        org=rect.assignee_org,
        body=reason or finding.description[:100],
        round=round_.number,
        verdict=verdict,
    )
    return rect


def end_supervision(rect: Rectification, now: datetime, *, cancelled: bool = False) -> None:
    """The 督办 raised when the order ran past its ladder ends with the order."""
    from dayuan.supervision import services as supervision

    task = supervision.follow_source(rectification=rect, cancelled=cancelled, now=now)
    if task is not None:
        action = "supervision_cancelled" if cancelled else "supervision_closed"
        finding_event(rect.finding, None, action, now, task.number, task_id=task.pk)


def party_members(org: Organization) -> QuerySet[User]:
    """Who may be named to do a fix for ``org``: a rectify grant in its subtree."""
    return User.objects.filter(
        is_active=True,
        grants__role__in=policy.roles_for("inspections.rectify"),
        grants__org__path__startswith=org.path,
        grants__org__is_active=True,
    ).distinct()


@audited("inspections.rectification.assign")
def assign(
    *,
    actor: Any,
    rectification_id: int,
    version: int,
    assignee_id: int,
    now: datetime | None = None,
) -> Rectification:
    """Name the person of the responsible party who does the fix."""
    now = _now(now)
    rect = _begin(actor, rectification_id, version, "assign", may_assign)
    person = party_members(rect.assignee_org).filter(pk=assignee_id).first()
    if person is None:
        raise InvalidInput(
            _("整改责任人须为整改单位的人员。"), code="invalid_assignee", field="assignee_id"
        )
    before = snapshot(rect, AUDIT_FIELDS)
    rect.assignee = person
    _save(rect, before, actor, "assign")
    finding_event(rect.finding, actor, "assigned", now, person.display_name, assignee=person.pk)
    _notify(
        events.RECTIFICATION_ORDERED,
        rect,
        actor,
        [person],
        _("整改任务：%(number)s，请于 %(deadline)s 前完成")
        % {"number": rect.finding.number, "deadline": _local(rect.deadline)},
        key=f"assigned:{rect.version}",
        org=rect.assignee_org,
    )
    return rect


# --- the ladder --------------------------------------------------------------------------


def ladder(rect: Rectification) -> tuple[EscalationStep, ...]:
    """The order's ladder: its rule's (as in force when ordered), else the default."""
    if rect.rule_id is not None:
        for spec in engine.sla_timers(
            rect.org, "rectification", rect.finding.severity, at=rect.ordered_at
        ):
            if spec.rule_id == rect.rule_id and spec.escalation:
                return tuple(spec.escalation)
    return DEFAULT_LADDER


def _notify_step(rect: Rectification, step: EscalationStep, level: int, now: datetime) -> None:
    roles = {str(r) for r in step.notify} or {"assignee"}
    finding = rect.finding
    title = _("【%(action)s】整改 %(number)s 时限已用 %(percent)s%%") % {
        "action": STEP_LABELS.get(step.action, step.action),
        "number": finding.number,
        "percent": step.at_percent,
    }
    body = _("%(description)s；整改期限 %(deadline)s。") % {
        "description": finding.description[:100],
        "deadline": _local(rect.deadline),
    }
    run = int(rect.deadline.timestamp())  # a new deadline starts a new run of the ladder
    payload = {"level": level, "at_percent": step.at_percent, "action": step.action}
    if "assignee" in roles:
        _notify(
            events.RECTIFICATION_ESCALATED,
            rect,
            None,
            _party(rect),
            title,
            key=f"step:{run}:{level}:party",
            org=rect.assignee_org,
            body=body,
            **payload,
        )
    if staff := roles - {"assignee"}:
        _notify(
            events.RECTIFICATION_ESCALATED,
            rect,
            None,
            role_holders(rect.org, staff),
            title,
            key=f"step:{run}:{level}",
            org=rect.org,
            body=body,
            **payload,
        )


def _mark_overdue(rect: Rectification, now: datetime) -> bool:
    if rect.overdue or now <= rect.deadline:
        return False
    if not Rectification.objects.filter(pk=rect.pk, overdue=False).update(overdue=True):
        return False
    rect.overdue = True
    finding_event(rect.finding, None, "overdue", now, deadline=rect.deadline.isoformat())
    _judge(rect, Outcome.FAIL, rect.deadline)
    return True


def _climb(rect: Rectification, now: datetime) -> int:
    """Notify the newly reached steps (claimed by a conditional UPDATE); at the last
    step, raise the supervision task."""
    from dayuan.supervision import services as supervision

    steps = ladder(rect)
    state = engine.escalation_state(
        rect.ordered_at, rect.deadline, now, steps, rect.org, calendar=rect.calendar
    )
    start = rect.escalation_level
    reached = len(state.reached)
    if reached <= start:
        return 0
    if not Rectification.objects.filter(pk=rect.pk, escalation_level__lt=reached).update(
        escalation_level=reached
    ):
        return 0  # another run claimed these steps
    rect.escalation_level = reached
    for level in range(start + 1, reached + 1):
        step = state.reached[level - 1]
        _notify_step(rect, step, level, now)
        finding_event(
            rect.finding,
            None,
            "escalated",
            now,
            str(STEP_LABELS.get(step.action, step.action)),
            level=level,
            at_percent=step.at_percent,
            step=step.action,
        )
    if reached == len(steps):
        task = supervision.raise_from_rectification(rect, now=now)
        finding_event(rect.finding, None, "supervised", now, task.number, task_id=task.pk)
    return reached - start


def escalate_overdue(now: datetime | None = None) -> dict[str, int]:
    """The job: for orders awaiting the party, notify each newly reached ladder step
    once, flag orders past their deadline, and raise supervision at the last step.
    Safe to run twice or in parallel (conditional UPDATEs and dedupe keys)."""
    now = _now(now)
    counts = {"steps": 0, "overdue": 0}
    ids = list(
        Rectification.objects.filter(status__in=AWAITING_PARTY)
        .order_by("deadline", "pk")
        .values_list("pk", flat=True)
    )
    for rect_id in ids:
        with transaction.atomic():
            rect = (
                Rectification.objects.select_related(
                    "finding", "org", "assignee_org", "assignee", "verifier"
                )
                .filter(pk=rect_id, status__in=AWAITING_PARTY)
                .first()
            )
            if rect is None:
                continue
            counts["overdue"] += _mark_overdue(rect, now)
            counts["steps"] += _climb(rect, now)
    return counts
