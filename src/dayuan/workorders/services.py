"""Every change to a work order: one function per transition of an explicit state machine.

Each transition locks the order row, checks that the actor may see it (404 otherwise),
that they may do this (403), that the version they read is current (409
``stale_version``) and that the machine allows the move from the current status (409
``illegal_transition``); then sets the timestamps, writes the timeline event and the
audit entry, meets and starts the SLA clocks of ``sla.py`` and emits notifications,
all in one transaction. ``now`` is for tests and jobs; callers leave it out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dayuan.accounts.choices import Role
from dayuan.accounts.models import Grant, User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RuleRefused,
    StaleVersion,
)
from dayuan.core.numbers import next_number
from dayuan.core.scope import org_in_scope
from dayuan.notifications.services import emit
from dayuan.orgs.models import Location
from dayuan.standards.models import Rule
from dayuan.standards.rules import SlaParams

from . import events, queries, sla
from . import photos as photo_files
from .choices import Channel, CloseReason, PhotoKind, Status, Urgency
from .models import ServiceCategory, Team, TeamMember, WorkOrder, WorkOrderEvent

S = Status

# action -> (statuses it may start from, status it leads to; None: decided by the action)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "dispatch": (frozenset({S.SUBMITTED}), S.DISPATCHED),
    "accept": (frozenset({S.DISPATCHED}), S.ACCEPTED),
    "arrive": (frozenset({S.ACCEPTED}), S.ON_SITE),
    "pause": (frozenset({S.DISPATCHED, S.ACCEPTED, S.ON_SITE}), S.PAUSED),
    "resume": (frozenset({S.PAUSED}), None),  # back to status_before_pause
    "resolve": (frozenset({S.ON_SITE}), S.RESOLVED),
    "confirm": (frozenset({S.RESOLVED}), S.CONFIRMED),
    "close_unrated": (frozenset({S.RESOLVED}), S.CLOSED),
    "cancel": (frozenset({S.SUBMITTED, S.DISPATCHED, S.ACCEPTED}), S.CANCELLED),
    "reopen": (frozenset({S.RESOLVED, S.CONFIRMED, S.CLOSED}), None),  # dispatched|submitted
    "transfer": (frozenset({S.DISPATCHED, S.ACCEPTED}), S.DISPATCHED),
}

ACTION_LABELS = {
    "submit": gettext_lazy("提交"),
    "dispatch": gettext_lazy("派单"),
    "auto_dispatch": gettext_lazy("自动派单"),
    "accept": gettext_lazy("接单"),
    "arrive": gettext_lazy("到场"),
    "pause": gettext_lazy("暂停"),
    "resume": gettext_lazy("恢复"),
    "resolve": gettext_lazy("完成"),
    "confirm": gettext_lazy("确认评价"),
    "close_unrated": gettext_lazy("自动关闭"),
    "cancel": gettext_lazy("取消"),
    "reopen": gettext_lazy("重新打开"),
    "transfer": gettext_lazy("转派"),
}

AUDIT_FIELDS = [
    "status",
    "team_id",
    "vendor_id",
    "assignee_id",
    "pause_reason",
    "status_before_pause",
    "close_reason",
    "reopen_count",
    "resolution",
    "materials",
    "cost",
    "rating",
    "rating_tags",
    "rating_comment",
    "overdue",
    "version",
]
MAX_TAGS = 10


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _text(value: str | None, field: str, max_length: int, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(
            _("请填写%(field)s。") % {"field": _FIELD_LABELS.get(field, field)},
            code="required",
            field=field,
        )
    if len(value) > max_length:
        raise InvalidInput(
            _("%(field)s不能超过 %(n)s 个字符。")
            % {"field": _FIELD_LABELS.get(field, field), "n": max_length},
            code="too_long",
            field=field,
        )
    return value


_FIELD_LABELS = {
    "description": gettext_lazy("问题描述"),
    "reason": gettext_lazy("原因"),
    "resolution": gettext_lazy("处理说明"),
    "comment": gettext_lazy("评价内容"),
    "contact_phone": gettext_lazy("联系电话"),
}


# --- the machine ------------------------------------------------------------------------


def allowed_actions(order: WorkOrder) -> list[str]:
    """The actions the machine allows from the order's status (not who may do them)."""
    return [a for a, (sources, _t) in TRANSITIONS.items() if order.status in sources]


def actions_for(user: Any, order: WorkOrder) -> list[str]:
    """The actions ``user`` may take on ``order`` now (state machine and permission)."""
    who = {
        "dispatch": is_dispatcher,
        "accept": is_worker,
        "arrive": is_worker,
        "pause": is_worker,
        "resume": is_worker,
        "resolve": is_worker,
        "confirm": is_requester,
        "cancel": _requester_or_dispatcher,
        "reopen": _requester_or_dispatcher,
        "transfer": is_dispatcher,
    }
    out = [a for a in allowed_actions(order) if a in who and who[a](user, order)]
    if "dispatch" in out:
        out.insert(out.index("dispatch") + 1, "auto_dispatch")
    return out


def _check_transition(order: WorkOrder, action: str) -> None:
    sources, _target = TRANSITIONS[action]
    if order.status not in sources:
        raise Conflict(
            _("工单当前状态为“%(status)s”，不能执行“%(action)s”。")
            % {"status": Status(order.status).label, "action": ACTION_LABELS[action]},
            code="illegal_transition",
            status=order.status,
            action=action,
            allowed=allowed_actions(order),
        )


def _lock(order_id: int) -> WorkOrder:
    order = (
        WorkOrder.objects.select_for_update(of=("self",))
        .select_related("org", "category", "location")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound()
    return order


def _begin(actor: Any, order_id: int, version: int | None, action: str, allowed) -> WorkOrder:
    """Lock, then 404 / 403 / 409 stale / 409 illegal, in that order."""
    order = _lock(order_id)
    if actor is not None and not queries.can_see(actor, order):
        raise NotFound()
    if actor is not None and not allowed(actor, order):
        raise PermissionDenied(action=f"workorders.{action}")
    if version is not None and order.version != version:
        raise StaleVersion(current_version=order.version)
    _check_transition(order, action)
    return order


# --- who may -----------------------------------------------------------------------------


def is_dispatcher(user: Any, order: WorkOrder) -> bool:
    return policy.can(user, "workorders.dispatch", order.org)


def is_worker(user: Any, order: WorkOrder) -> bool:
    """Assignee, a member of the order's team, or a dispatcher of its org."""
    if user is None or not getattr(user, "pk", None):
        return False
    if order.assignee_id == user.pk:
        return True
    if order.team_id and TeamMember.objects.filter(team_id=order.team_id, user=user).exists():
        return True
    return is_dispatcher(user, order)


def is_requester(user: Any, order: WorkOrder) -> bool:
    return getattr(user, "pk", None) == order.requester_id


def _requester_or_dispatcher(user: Any, order: WorkOrder) -> bool:
    return is_requester(user, order) or is_dispatcher(user, order)


# --- shared steps ------------------------------------------------------------------------


def _event(
    order: WorkOrder,
    actor: Any,
    action: str,
    from_status: str,
    at: datetime,
    note: str = "",
    **data: Any,
) -> WorkOrderEvent:
    return WorkOrderEvent.objects.create(
        workorder=order,
        at=at,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        from_status=from_status,
        to_status=order.status,
        note=str(note)[:500],
        data=data,
    )


def _save(order: WorkOrder, before: dict[str, Any], actor: Any, verb: str) -> WorkOrder:
    order.version += 1
    order.save()
    record(
        f"workorders.{verb}",
        actor=actor,
        obj=order,
        changes=diff(before, snapshot(order, AUDIT_FIELDS)),
    )
    return order


def _end_supervision(order: WorkOrder, now: datetime, *, cancelled: bool = False) -> None:
    """A 督办 raised when the order ran past its ladder ends when the work is done (or
    the order cancelled). Confirming or closing a resolved order, or reopening it,
    leaves the task as it is. Imported late: supervision imports this app."""
    from dayuan.supervision import services as supervision

    supervision.follow_source(workorder=order, cancelled=cancelled, now=now)


def _link(order: WorkOrder) -> str:
    return f"/workorders/{order.pk}/"


def _notify(
    event_type: str,
    order: WorkOrder,
    actor: Any,
    recipients: Iterable[Any],
    title: str,
    *,
    org: Any = None,
    key: str,
) -> None:
    recipients = [u for u in recipients if u is not None and getattr(u, "pk", None)]
    if actor is not None:  # nobody is told about what they did themselves
        recipients = [u for u in recipients if u.pk != actor.pk]
    if not recipients:
        return
    emit(
        event_type,
        org=org or order.org,
        actor=actor,
        recipients=recipients,
        title=title,
        body=f"{order.number} {order.category.name}：{order.description[:100]}",
        link=_link(order),
        object=order,
        dedupe_key=f"wo:{order.pk}:{key}:{order.version}",
        payload={"number": order.number, "status": order.status},
    )


def _worker_recipients(order: WorkOrder) -> list[Any]:
    """The assignee, or the on-duty members of the team when nobody is assigned yet."""
    if order.assignee_id:
        return [order.assignee]
    if order.team_id:
        return [
            m.user
            for m in TeamMember.objects.filter(team_id=order.team_id, on_duty=True)
            .select_related("user")
            .filter(user__is_active=True)
        ]
    return []


def dispatchers_of(org: Any) -> list[User]:
    """The dispatchers nearest the org: its own, else those of the closest ancestor."""
    paths = [p for p in org.path.split(".") if p]
    for depth in range(len(paths), 0, -1):
        path = ".".join(paths[:depth]) + "."
        users = list(
            User.objects.filter(
                is_active=True,
                pk__in=Grant.objects.filter(
                    role=Role.DISPATCHER, org__path=path, org__is_active=True
                ).values("user_id"),
            )
        )
        if users:
            return users
    return []


def _worker_org(order: WorkOrder) -> Any:
    return order.vendor or order.org


def _in_line(org_a: Any, org_b: Any) -> bool:
    """One org is the other or above/below it (a city team may serve a county)."""
    return org_a.path.startswith(org_b.path) or org_b.path.startswith(org_a.path)


def _resolve_assignment(
    order: WorkOrder, team_id: int | None, assignee_id: int | None
) -> tuple[Team | None, User | None]:
    if team_id is None and assignee_id is None:
        raise InvalidInput(_("请选择处理班组或处理人。"), code="assignment_required")
    team = None
    if team_id is not None:
        team = Team.objects.select_related("org", "vendor").filter(pk=team_id).first()
        if team is None or not team.is_active or not _in_line(team.org, order.org):
            raise InvalidInput(_("所选班组不可用。"), code="invalid_team", field="team_id")
    assignee = None
    if assignee_id is not None:
        assignee = User.objects.filter(pk=assignee_id, is_active=True).first()
        if assignee is None:
            raise InvalidInput(
                _("所选处理人不可用。"), code="invalid_assignee", field="assignee_id"
            )
        if team is None:
            membership = (
                TeamMember.objects.filter(user=assignee, team__is_active=True)
                .select_related("team__org", "team__vendor")
                .order_by("team_id")
            )
            team = next((m.team for m in membership if _in_line(m.team.org, order.org)), None)
            if team is None and not policy.can(assignee, "workorders.work", order.org):
                raise InvalidInput(
                    _("所选处理人不属于可承接该工单的班组。"),
                    code="invalid_assignee",
                    field="assignee_id",
                )
        elif not TeamMember.objects.filter(team=team, user=assignee).exists():
            raise InvalidInput(
                _("所选处理人不是该班组成员。"), code="invalid_assignee", field="assignee_id"
            )
    return team, assignee


def _assign(order: WorkOrder, team: Team | None, assignee: User | None) -> None:
    order.team = team
    order.vendor = team.vendor if team is not None else None
    order.assignee = assignee


# --- submit ------------------------------------------------------------------------------


def _next_number(at: datetime) -> str:
    return next_number(WorkOrder, "WO", at)


@audited("workorders.submit")
def submit_request(
    *,
    actor: Any,
    org_id: int | None = None,
    category_id: int,
    location_id: int,
    description: str,
    urgency: str = "normal",
    channel: str = "web",
    requester_id: int | None = None,
    contact_phone: str = "",
    photos: Sequence[Any] = (),
    now: datetime | None = None,
) -> WorkOrder:
    """A service request: becomes a work order in ``submitted``; starts ``created`` clocks.

    The order belongs to the location's org. ``requester_id`` files it on someone's
    behalf (the service desk taking a call) and needs ``workorders.dispatch``.
    """
    now = _now(now)
    location = Location.objects.select_related("org").filter(pk=location_id).first()
    if location is None or not policy.can(actor, "locations.view", location.org):
        raise NotFound(_("地点不存在或无权访问。"))
    org = location.org
    if org_id is not None and org_id != org.pk:
        raise InvalidInput(_("地点不属于所选单位。"), code="invalid_location", field="location_id")
    policy.require(actor, "workorders.request", org)
    if not location.is_active:
        raise InvalidInput(_("该地点已停用。"), code="invalid_location", field="location_id")
    category = ServiceCategory.objects.select_related("org").filter(pk=category_id).first()
    if category is None or not category.is_active or not org.path.startswith(category.org.path):
        raise InvalidInput(_("服务类别不可用。"), code="invalid_category", field="category_id")
    if urgency not in Urgency.values:
        raise InvalidInput(_("紧急程度无效。"), code="invalid_urgency", field="urgency")
    if channel not in Channel.values:
        raise InvalidInput(_("渠道无效。"), code="invalid_channel", field="channel")
    description = _text(description, "description", 1000)
    contact_phone = _text(contact_phone, "contact_phone", 20, required=False)
    requester = actor
    if requester_id is not None and requester_id != actor.pk:
        policy.require(actor, "workorders.dispatch", org)
        requester = User.objects.filter(pk=requester_id, is_active=True).first()
        if requester is None or not org_in_scope(requester, org):
            raise InvalidInput(
                _("报修人不存在或不属于该单位。"), code="invalid_requester", field="requester_id"
            )
    images = photo_files.prepare(photos)
    order = None
    for _attempt in range(5):
        try:
            with transaction.atomic():  # a savepoint: a number taken meanwhile is retried
                order = WorkOrder.objects.create(
                    org=org,
                    number=_next_number(now),
                    category=category,
                    location=location,
                    description=description,
                    urgency=urgency,
                    channel=channel,
                    requester=requester,
                    created_by=actor,
                    contact_phone=contact_phone,
                    status=S.SUBMITTED,
                    submitted_at=now,
                )
            break
        except IntegrityError:
            continue
    if order is None:
        raise Conflict(_("工单号分配冲突，请重试。"), code="number_conflict")
    photo_files.store(order, images, kind=PhotoKind.REPORT, actor=actor)
    timers = sla.start_timers(order, "created", now)
    _event(
        order,
        actor,
        "submit",
        "",
        now,
        channel=channel,
        timers=[t.name for t in timers],
        photos=len(images),
    )
    record(
        "workorders.submit",
        actor=actor,
        obj=order,
        changes=diff({}, snapshot(order, ["number", "category_id", "location_id", *AUDIT_FIELDS])),
    )
    _notify(
        events.SUBMITTED,
        order,
        actor,
        dispatchers_of(org),
        _("新报修：%(number)s") % {"number": order.number},
        key="submit",
    )
    return order


# --- dispatch ----------------------------------------------------------------------------


def _after_dispatch(order: WorkOrder, actor: Any) -> None:
    _notify(
        events.DISPATCHED,
        order,
        actor,
        _worker_recipients(order),
        _("新派单：%(number)s") % {"number": order.number},
        org=_worker_org(order),
        key="dispatch",
    )


@audited("workorders.dispatch")
def dispatch(
    *,
    actor: Any,
    order_id: int,
    version: int,
    team_id: int | None = None,
    assignee_id: int | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    now = _now(now)
    order = _begin(actor, order_id, version, "dispatch", is_dispatcher)
    team, assignee = _resolve_assignment(order, team_id, assignee_id)
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    _assign(order, team, assignee)
    order.status = S.DISPATCHED
    order.dispatched_at = now
    _save(order, before, actor, "dispatch")
    _event(
        order,
        actor,
        "dispatch",
        from_status,
        now,
        team_id=order.team_id,
        assignee_id=order.assignee_id,
    )
    _after_dispatch(order, actor)
    return order


@audited("workorders.auto_dispatch")
def auto_dispatch(
    *, actor: Any, order_id: int, version: int | None = None, now: datetime | None = None
) -> WorkOrder:
    """Dispatch by the responsibility table (``dispatch.choose``): nearest location wins."""
    from . import dispatch as chooser

    now = _now(now)
    order = _begin(actor, order_id, version, "dispatch", is_dispatcher)
    choice = chooser.choose(order)
    if choice is None or (choice.team is None and choice.assignee is None):
        raise Conflict(
            _("没有找到负责该类别和地点的班组，请手动派单。"), code="no_responsible_team"
        )
    team, assignee = _resolve_assignment(
        order,
        choice.team.pk if choice.team is not None else None,
        choice.assignee.pk if choice.assignee is not None else None,
    )
    _apply_choice(order, team, assignee, actor, now, str(getattr(choice, "reason", "")))
    return order


def _apply_choice(
    order: WorkOrder,
    team: Team | None,
    assignee: User | None,
    actor: Any,
    at: datetime,
    reason: str,
) -> None:
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    _assign(order, team, assignee)
    order.status = S.DISPATCHED
    order.dispatched_at = at
    _save(order, before, actor, "auto_dispatch")
    _event(
        order,
        actor,
        "auto_dispatch",
        from_status,
        at,
        note=reason[:500],
        team_id=order.team_id,
        assignee_id=order.assignee_id,
    )
    _after_dispatch(order, actor)


# --- the worker's steps ------------------------------------------------------------------


@audited("workorders.accept")
def accept(*, actor: Any, order_id: int, version: int, now: datetime | None = None) -> WorkOrder:
    """The worker takes the order (the assignee becomes the actor if none was named)."""
    now = _now(now)
    order = _begin(actor, order_id, version, "accept", is_worker)
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    if order.assignee_id is None:
        order.assignee = actor
    order.status = S.ACCEPTED
    order.accepted_at = now
    met = sla.meet(order, S.ACCEPTED, now)
    started = sla.start_timers(order, "accepted", now)
    _save(order, before, actor, "accept")
    _event(
        order,
        actor,
        "accept",
        from_status,
        now,
        met=[t.name for t in met],
        started=[t.name for t in started],
    )
    _notify(
        events.ACCEPTED,
        order,
        actor,
        [order.requester],
        _("您的报修 %(number)s 已接单") % {"number": order.number},
        key="accept",
    )
    return order


@audited("workorders.arrive")
def arrive(*, actor: Any, order_id: int, version: int, now: datetime | None = None) -> WorkOrder:
    now = _now(now)
    order = _begin(actor, order_id, version, "arrive", is_worker)
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    order.status = S.ON_SITE
    order.arrived_at = now
    met = sla.meet(order, S.ON_SITE, now)
    started = sla.start_timers(order, "arrived", now)
    _save(order, before, actor, "arrive")
    _event(
        order,
        actor,
        "arrive",
        from_status,
        now,
        met=[t.name for t in met],
        started=[t.name for t in started],
    )
    return order


def _cite(rule: Rule) -> dict[str, Any]:
    clause = rule.clause
    version = rule.version
    return {
        "standard": version.standard.code,
        "version": version.number,
        "clause": clause.number,
        "text": clause.text,
        "severity": clause.severity,
    }


def _check_pause_reason(order: WorkOrder, reason: str) -> None:
    """Only a reason the clocks' rules allow; refused citing the clause otherwise.

    An order without running clocks (no rule for its category) may pause for any
    reason: there is no clock to stop.
    """
    timers = list(
        order.timers.filter(met_at__isnull=True).select_related(
            "rule__clause", "rule__version__standard"
        )
    )
    if not timers:
        return
    allowed: set[str] = set()
    for timer in timers:
        try:
            allowed |= set(SlaParams.model_validate(timer.rule.params).pause_reasons)
        except ValueError:
            continue
    if reason in allowed:
        return
    rule = timers[0].rule
    cite = _cite(rule)
    shown = "、".join(sorted(allowed)) or _("无")
    message = _(
        "不符合 %(standard)s 第 %(clause)s 条：暂停原因“%(reason)s”不被允许（允许：%(allowed)s）"
    ) % {
        "standard": cite["standard"],
        "clause": cite["clause"],
        "reason": reason,
        "allowed": shown,
    }
    raise RuleRefused(
        message,
        code="pause_reason_refused",
        reason=reason,
        allowed=sorted(allowed),
        violations=[{**cite, "rule": rule.key, "code": "pause_reason", "message": message}],
    )


@audited("workorders.pause")
def pause(
    *, actor: Any, order_id: int, version: int, reason: str, now: datetime | None = None
) -> WorkOrder:
    """Stop the clocks for a reason the rule allows (waiting for parts, the requester…)."""
    now = _now(now)
    order = _begin(actor, order_id, version, "pause", is_worker)
    reason = _text(reason, "reason", 40)
    _check_pause_reason(order, reason)
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    order.status_before_pause = order.status
    order.status = S.PAUSED
    order.paused_at = now
    order.pause_reason = reason
    _save(order, before, actor, "pause")
    _event(order, actor, "pause", from_status, now, note=reason, reason=reason)
    return order


@audited("workorders.resume")
def resume(*, actor: Any, order_id: int, version: int, now: datetime | None = None) -> WorkOrder:
    """Back to the status before the pause; unmet clocks move later by the paused time."""
    now = _now(now)
    order = _begin(actor, order_id, version, "resume", is_worker)
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    paused_at = order.paused_at or now
    shifted = sla.shift_for_pause(order, paused_at, now)
    order.status = order.status_before_pause or S.DISPATCHED
    order.status_before_pause = ""
    order.paused_at = None
    reason = order.pause_reason
    order.pause_reason = ""
    _save(order, before, actor, "resume")
    _event(
        order,
        actor,
        "resume",
        from_status,
        now,
        note=reason,
        shifted_minutes=shifted,
        paused_at=paused_at.isoformat(),
    )
    return order


def _clean_materials(materials: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(materials or ()):
        if not isinstance(item, dict):
            raise InvalidInput(_("耗材格式无效。"), code="invalid_materials", index=i)
        name = str(item.get("name") or "").strip()
        if not name or len(name) > 60:
            raise InvalidInput(
                _("请填写耗材名称（不超过 60 字）。"), code="invalid_materials", index=i
            )
        try:
            qty = Decimal(str(item.get("qty", 1)))
            price = Decimal(str(item.get("price", 0) or 0))
        except (InvalidOperation, ValueError) as exc:
            raise InvalidInput(
                _("耗材数量或单价无效。"), code="invalid_materials", index=i
            ) from exc
        if qty <= 0 or price < 0 or not qty.is_finite() or not price.is_finite():
            raise InvalidInput(
                _("耗材数量须大于 0，单价不能为负数。"), code="invalid_materials", index=i
            )
        out.append(
            {
                "name": name,
                "qty": str(qty),
                "unit": str(item.get("unit") or "")[:10],
                "price": str(price),
            }
        )
    if len(out) > 50:
        raise InvalidInput(_("耗材最多 50 项。"), code="invalid_materials")
    return out


@audited("workorders.resolve")
def resolve(
    *,
    actor: Any,
    order_id: int,
    version: int,
    resolution: str,
    materials: Sequence[Any] = (),
    cost: Any = 0,
    photos: Sequence[Any] = (),
    now: datetime | None = None,
) -> WorkOrder:
    """The work is done: meets the resolve clocks; the requester is asked to rate."""
    now = _now(now)
    order = _begin(actor, order_id, version, "resolve", is_worker)
    resolution = _text(resolution, "resolution", 2000)
    clean_materials = _clean_materials(materials)
    try:
        cost = Decimal(str(cost or 0)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(_("费用无效。"), code="invalid_cost", field="cost") from exc
    if cost < 0 or cost >= Decimal("100000000"):
        raise InvalidInput(_("费用须在 0 到 1 亿元之间。"), code="invalid_cost", field="cost")
    images = photo_files.prepare(photos, order)
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    order.status = S.RESOLVED
    order.resolved_at = now
    order.resolution = resolution
    order.materials = clean_materials
    order.cost = cost
    met = sla.meet(order, S.RESOLVED, now)
    photo_files.store(order, images, kind=PhotoKind.COMPLETION, actor=actor)
    _save(order, before, actor, "resolve")
    _event(
        order,
        actor,
        "resolve",
        from_status,
        now,
        note=resolution[:500],
        met=[t.name for t in met],
        photos=len(images),
    )
    _end_supervision(order, now)
    _notify(
        events.RESOLVED,
        order,
        actor,
        [order.requester],
        _("您的报修 %(number)s 已完成，请确认并评价") % {"number": order.number},
        key="resolve",
    )
    return order


# --- the requester's steps ---------------------------------------------------------------


@audited("workorders.confirm")
def confirm_and_rate(
    *,
    actor: Any,
    order_id: int,
    version: int,
    rating: int,
    tags: Sequence[str] = (),
    comment: str = "",
    now: datetime | None = None,
) -> WorkOrder:
    now = _now(now)
    order = _begin(actor, order_id, version, "confirm", is_requester)
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise InvalidInput(_("评分须为 1 到 5 分。"), code="invalid_rating", field="rating")
    clean_tags = []
    for tag in tags or ():
        tag = str(tag).strip()
        if tag and tag not in clean_tags:
            clean_tags.append(tag)
    if len(clean_tags) > MAX_TAGS or any(len(t) > 20 for t in clean_tags):
        raise InvalidInput(
            _("评价标签最多 10 个，每个不超过 20 个字符。"), code="invalid_tags", field="tags"
        )
    comment = _text(comment, "comment", 500, required=False)
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    order.status = S.CONFIRMED
    order.confirmed_at = now
    order.closed_at = now
    order.close_reason = CloseReason.CONFIRMED
    order.rating = rating
    order.rating_tags = clean_tags
    order.rating_comment = comment
    order.rated_at = now
    _save(order, before, actor, "confirm")
    _event(order, actor, "confirm", from_status, now, note=comment, rating=rating, tags=clean_tags)
    return order


@audited("workorders.close_unrated")
def close_unrated(*, order_id: int, now: datetime | None = None) -> WorkOrder:
    """The auto-close job: a resolved order nobody rated within the allowed days.

    Already closed or confirmed: returned unchanged (the job may run twice). Not yet
    due: 409 ``autoclose_not_due``.
    """
    now = _now(now)
    order = _lock(order_id)
    if order.status in (S.CLOSED, S.CONFIRMED):
        return order
    _check_transition(order, "close_unrated")
    days = int(getattr(settings, "WORKORDER_AUTOCLOSE_DAYS", 3))
    if order.resolved_at and order.resolved_at + timedelta(days=days) > now:
        raise Conflict(_("尚未到自动关闭时间。"), code="autoclose_not_due")
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    order.status = S.CLOSED
    order.closed_at = now
    order.close_reason = CloseReason.AUTO_UNRATED
    _save(order, before, None, "close_unrated")
    _event(order, None, "close_unrated", from_status, now, days=days)
    return order


@audited("workorders.cancel")
def cancel(
    *, actor: Any, order_id: int, version: int, reason: str, now: datetime | None = None
) -> WorkOrder:
    """Withdrawn by its requester, or cancelled by the desk, before work starts on site."""
    now = _now(now)
    order = _begin(actor, order_id, version, "cancel", _requester_or_dispatcher)
    reason = _text(reason, "reason", 500)
    _cancel(order, actor, reason, now)
    if is_dispatcher(actor, order) and not is_requester(actor, order):
        _notify(
            events.CANCELLED,
            order,
            actor,
            [order.requester],
            _("您的报修 %(number)s 已被取消") % {"number": order.number},
            key="cancel-requester",
        )
    return order


def _cancel(order: WorkOrder, actor: Any, reason: str, now: datetime) -> None:
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    order.status = S.CANCELLED
    order.closed_at = now
    order.close_reason = CloseReason.CANCELLED
    _save(order, before, actor, "cancel")
    _event(order, actor, "cancel", from_status, now, note=reason)
    _end_supervision(order, now, cancelled=True)
    recipients = _worker_recipients(order) if from_status != S.SUBMITTED else []
    _notify(
        events.CANCELLED,
        order,
        actor,
        recipients,
        _("工单 %(number)s 已取消") % {"number": order.number},
        org=_worker_org(order),
        key="cancel",
    )


@audited("workorders.reopen")
def reopen(
    *, actor: Any, order_id: int, version: int, reason: str, now: datetime | None = None
) -> WorkOrder:
    """Not fixed after all: back to the assignee (or the desk), with a fresh resolve clock.

    Allowed within ``WORKORDER_REOPEN_DAYS`` of the resolution, to the requester or a
    dispatcher. The clocks met on resolve start again from now; the first run's
    verdicts stay recorded.
    """
    now = _now(now)
    order = _begin(actor, order_id, version, "reopen", _requester_or_dispatcher)
    reason = _text(reason, "reason", 500)
    days = int(getattr(settings, "WORKORDER_REOPEN_DAYS", 7))
    if order.resolved_at is None or order.resolved_at + timedelta(days=days) < now:
        raise Conflict(
            _("工单完成已超过 %(n)s 天，不能重新打开，请重新报修。") % {"n": days},
            code="reopen_window_passed",
            days=days,
        )
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    previous = {
        "resolved_at": order.resolved_at.isoformat(),
        "rating": order.rating,
        "resolution": order.resolution[:200],
    }
    order.status = S.DISPATCHED if order.assignee_id else S.SUBMITTED
    order.reopen_count += 1
    order.resolved_at = None
    order.confirmed_at = None
    order.closed_at = None
    order.close_reason = ""
    order.rating = None
    order.rating_tags = []
    order.rating_comment = ""
    order.rated_at = None
    restarted = []
    for timer in order.timers.all():
        if sla.met_by(timer.name) == S.RESOLVED and timer.met_at is not None:
            previous.setdefault("timers", {})[timer.name] = {
                "due_at": timer.due_at.isoformat(),
                "met_at": timer.met_at.isoformat(),
                "breached": timer.breached,
            }
            sla.restart(timer, order, now)
            restarted.append(timer.name)
    if order.assignee_id:
        order.dispatched_at = now
    _save(order, before, actor, "reopen")
    _event(
        order,
        actor,
        "reopen",
        from_status,
        now,
        note=reason,
        previous=previous,
        restarted=restarted,
    )
    _notify(
        events.REOPENED,
        order,
        actor,
        _worker_recipients(order),
        _("工单 %(number)s 被重新打开") % {"number": order.number},
        org=_worker_org(order),
        key="reopen",
    )
    if not order.assignee_id:
        _notify(
            events.REOPENED,
            order,
            actor,
            dispatchers_of(order.org),
            _("工单 %(number)s 被重新打开") % {"number": order.number},
            key="reopen-desk",
        )
    return order


@audited("workorders.transfer")
def transfer(
    *,
    actor: Any,
    order_id: int,
    version: int,
    team_id: int | None = None,
    assignee_id: int | None = None,
    reason: str,
    now: datetime | None = None,
) -> WorkOrder:
    """The desk hands the order to another team or worker; it waits to be accepted again."""
    now = _now(now)
    order = _begin(actor, order_id, version, "transfer", is_dispatcher)
    reason = _text(reason, "reason", 500)
    team, assignee = _resolve_assignment(order, team_id, assignee_id)
    before = snapshot(order, AUDIT_FIELDS)
    from_status = order.status
    previous = {"team_id": order.team_id, "assignee_id": order.assignee_id}
    _assign(order, team, assignee)
    order.status = S.DISPATCHED
    order.dispatched_at = now
    _save(order, before, actor, "transfer")
    _event(
        order,
        actor,
        "transfer",
        from_status,
        now,
        note=reason,
        previous=previous,
        team_id=order.team_id,
        assignee_id=order.assignee_id,
    )
    _notify(
        events.TRANSFERRED,
        order,
        actor,
        _worker_recipients(order),
        _("转派工单：%(number)s") % {"number": order.number},
        org=_worker_org(order),
        key="transfer",
    )
    return order


# --- orders placed by other apps (meeting services) ---------------------------------------


def submit_for_booking(
    *,
    org: Any,
    category: ServiceCategory,
    location: Location,
    description: str,
    requester: Any,
    created_by: Any,
    anchor_at: datetime,
    now: datetime,
) -> WorkOrder:
    """A service ordered with a room booking (tea, AV, layout, cleaning …).

    The booking service has already decided who may order it, so no request
    permission is checked here. Besides the ``created`` clocks, the ``before_start``
    clocks run against ``anchor_at`` (the meeting's start: tea ready 15 minutes before
    it). The order goes straight to the team the responsibility table names; with no
    responsible team it stays submitted for the desk, which is told, and nothing fails.
    Runs inside the caller's transaction (a savepoint of its own).
    """
    description = (description or "").strip()[:1000] or category.name
    with transaction.atomic():
        order = None
        for _attempt in range(5):
            try:
                with transaction.atomic():  # a savepoint: a number taken meanwhile is retried
                    order = WorkOrder.objects.create(
                        org=org,
                        number=_next_number(now),
                        category=category,
                        location=location,
                        description=description,
                        urgency=Urgency.NORMAL,
                        channel=Channel.WEB,
                        requester=requester,
                        created_by=created_by,
                        status=S.SUBMITTED,
                        submitted_at=now,
                    )
                break
            except IntegrityError:
                continue
        if order is None:
            raise Conflict(_("工单号分配冲突，请重试。"), code="number_conflict")
        specs = sla.specs_for(order)
        timers = sla.start_timers(order, "created", now, specs)
        timers += sla.start_timers(order, "before_start", anchor_at, specs)
        _event(
            order,
            created_by,
            "submit",
            "",
            now,
            channel=order.channel,
            source="booking",
            anchor_at=anchor_at.isoformat(),
            timers=[t.name for t in timers],
        )
        record(
            "workorders.submit",
            actor=created_by,
            obj=order,
            changes=diff(
                {}, snapshot(order, ["number", "category_id", "location_id", *AUDIT_FIELDS])
            ),
        )
        if not _auto_assign(order, now):
            _notify(
                events.SUBMITTED,
                order,
                created_by,
                dispatchers_of(org),
                _("新会议服务工单：%(number)s") % {"number": order.number},
                key="submit",
            )
    return order


def _auto_assign(order: WorkOrder, now: datetime) -> bool:
    """Dispatch by the responsibility table as the system; False when nobody answers."""
    from . import dispatch as chooser

    choice = chooser.choose(order)
    if choice is None or (choice.team is None and choice.assignee is None):
        return False
    try:
        team, assignee = _resolve_assignment(
            order,
            choice.team.pk if choice.team is not None else None,
            choice.assignee.pk if choice.assignee is not None else None,
        )
    except InvalidInput:  # the table names a team that cannot take it: the desk decides
        return False
    _apply_choice(order, team, assignee, None, now, str(getattr(choice, "reason", "")))
    return True


def cancel_for_booking(
    *, actor: Any, order_id: int, reason: str, now: datetime | None = None
) -> WorkOrder | None:
    """Cancel a meeting-service order because its booking went away (cancelled,
    rejected, displaced, released). The booking service checked who may; an order
    already worked on site or finished is left as it is (None)."""
    now = _now(now)
    order = _lock(order_id)
    if order.status not in TRANSITIONS["cancel"][0]:
        return None
    _cancel(order, actor, _text(reason, "reason", 500), now)
    return order
