"""Volunteers (志愿者): the registry of a team's volunteers (skills, hours served),
activities with places to sign up for, and attendance that credits hours.

Who does what:

- a team's keepers (``resources.volunteer`` over its org: its workers and managers)
  register volunteers, create and cancel activities, sign their volunteers up and record
  attendance;
- any staff member joins a team they can see (``enrol_self``; once) and signs up
  themself for activities they can see (``queries.visible_activities``: public-good work
  of their centre and the centres above it). A record the actor cannot see is a 404.

No activity ever has more sign-ups than places: a place is taken by the conditional
``UPDATE activity SET taken = taken + 1 WHERE taken < slots AND status = 'open'`` (and a
check constraint), never by a read-then-write; a volunteer holds at most one live
sign-up per activity (a partial unique constraint). Hours are credited once per
sign-up: attendance moves ``volunteer.hours`` by the difference to what that sign-up
was credited before (``F()`` updates), so recording twice changes nothing and
switching attended → absent takes the hours back. ``now`` is for tests and jobs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from dayuan.accounts.models import User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.scope import org_in_scope, scoped_org_ids
from dayuan.core.text import clean_text
from dayuan.notifications.services import emit
from dayuan.orgs.models import Location, Organization

from . import events, queries
from .choices import ActivityStatus, ProjectStatus, SignUpStatus
from .models import Activity, Demand, MicroProject, SignUp, Volunteer
from .warehouse import tags

VOLUNTEER_DATA = frozenset({"name", "phone", "skills", "is_active"})
SELF_EDITABLE = frozenset({"phone", "skills"})  # what a volunteer may change themself
ACTIVITY_DATA = frozenset(
    {
        "org_id",
        "title",
        "description",
        "location_id",
        "address",
        "start_at",
        "end_at",
        "slots",
        "skills",
        "hours",
        "project_id",
        "demand_id",
    }
)
VOLUNTEER_FIELDS = ["org_id", "user_id", "name", "phone", "skills", "is_active", "version"]
ACTIVITY_FIELDS = [
    "org_id",
    "title",
    "start_at",
    "end_at",
    "slots",
    "taken",
    "skills",
    "hours",
    "status",
    "project_id",
    "demand_id",
    "version",
]
MAX_SLOTS = 10_000
MAX_HOURS = Decimal("1000")
HALF = Decimal("0.5")
_PHONE = re.compile(r"^[0-9+\- ]{5,30}$")


# --- small checks ------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _pk(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _data(data: Mapping[str, Any] | None, allowed: frozenset[str]) -> dict[str, Any]:
    """The submitted fields; an unknown key is refused (a typo must not pass silently)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InvalidInput(_("提交的数据格式无效。"), code="invalid", field="data")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise InvalidInput(
            _("未知字段：%(fields)s。")
            % {"fields": pgettext("list separator", "、").join(unknown)},
            code="unknown_field",
            field=unknown[0],
        )
    return dict(data)


def _phone(value: Any) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(_("联系电话格式无效。"), code="invalid_phone", field="phone")
    phone = clean_text(value, "phone", _("联系电话"), 30, required=False)
    if phone and not _PHONE.match(phone):
        raise InvalidInput(_("联系电话格式无效。"), code="invalid_phone", field="phone")
    return phone


def _aware(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise InvalidInput(_("请填写有效的时间（含时区）。"), code="invalid_time", field=field)
    return value


def half_hours(value: Decimal) -> Decimal:
    """Rounded up to a half hour (at least one half)."""
    steps = max(1, math.ceil(value / HALF))
    return (HALF * steps).quantize(Decimal("0.1"))


def _hours(value: Any, field: str = "hours") -> Decimal:
    """Hours to credit: more than 0, at most 1000, in half-hour steps."""
    hours: Decimal | None = None
    if not isinstance(value, bool) and value is not None and value != "":
        try:
            hours = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            hours = None
    if (
        hours is None
        or not hours.is_finite()
        or not Decimal(0) < hours <= MAX_HOURS
        or hours % HALF != 0
    ):
        raise InvalidInput(
            _("服务时长须大于 0、不超过 %(max)s 小时，并以半小时为单位。") % {"max": MAX_HOURS},
            code="invalid_hours",
            field=field,
        )
    return hours.quantize(Decimal("0.1"))


def _org(actor: Any, org_id: Any) -> Organization:
    org = None
    if (pk := _pk(org_id)) is not None:
        org = Organization.objects.filter(pk=pk, is_active=True).first()
    if org is None or not org_in_scope(actor, org):
        raise NotFound(_("单位不存在或无权访问。"))
    return org


def _keeps(actor: Any, org: Organization) -> bool:
    return policy.can(actor, "resources.volunteer", org) or policy.can(
        actor, "resources.manage", org
    )


def _require_keeper(actor: Any, org: Organization) -> None:
    if not _keeps(actor, org):
        raise PermissionDenied(action="resources.volunteer")


def _visible_activity(actor: Any, activity_id: Any, *, lock: bool = False) -> Activity:
    activity = None
    if (pk := _pk(activity_id)) is not None:
        qs = queries.visible_activities(actor).filter(pk=pk)
        if lock:
            qs = qs.select_for_update(of=("self",))
        activity = qs.select_related("org").order_by().first()
    if activity is None:
        raise NotFound(_("活动不存在或无权访问。"))
    return activity


def _visible_volunteer(actor: Any, volunteer_id: Any, *, lock: bool = False) -> Volunteer:
    volunteer = None
    if (pk := _pk(volunteer_id)) is not None:
        qs = queries.visible_volunteers(actor).filter(pk=pk)
        if lock:
            qs = qs.select_for_update(of=("self",))
        volunteer = qs.select_related("org", "user").order_by().first()
    if volunteer is None:
        raise NotFound(_("志愿者不存在或无权访问。"))
    return volunteer


def _duplicate_volunteer() -> Conflict:
    return Conflict(_("该用户已登记为志愿者。"), code="duplicate", field="user_id")


def _create_volunteer(**fields: Any) -> Volunteer:
    try:
        with transaction.atomic():  # a savepoint: two taps at once meet the unique user
            return Volunteer.objects.create(**fields)
    except IntegrityError as exc:
        raise _duplicate_volunteer() from exc


# --- the registry -----------------------------------------------------------------------


@audited("resources.volunteer.register")
def register_volunteer(
    *,
    actor: Any,
    org_id: int,
    name: str,
    phone: str = "",
    skills: Sequence[str] = (),
    user_id: int | None = None,
) -> Volunteer:
    """A keeper adds a volunteer to their team, with or without a platform account
    (``user_id``: a user the keeper's grants reach, not yet a volunteer anywhere)."""
    org = _org(actor, org_id)
    _require_keeper(actor, org)
    name = clean_text(name, "name", _("姓名"), 50)
    phone = _phone(phone)
    skills = tags(skills, "skills")
    user = None
    if user_id is not None:
        if (pk := _pk(user_id)) is not None:
            user = User.objects.filter(pk=pk, is_active=True).first()
        if user is None or user.home_org_id not in set(scoped_org_ids(actor)):
            raise InvalidInput(_("用户无效。"), code="invalid_user", field="user_id")
        if Volunteer.objects.filter(user=user).exists():
            raise _duplicate_volunteer()
    volunteer = _create_volunteer(org=org, user=user, name=name, phone=phone, skills=skills)
    record(
        "resources.volunteer.register",
        actor=actor,
        obj=volunteer,
        changes=diff({}, snapshot(volunteer, VOLUNTEER_FIELDS)),
    )
    return volunteer


@audited("resources.volunteer.update")
def update_volunteer(
    *,
    actor: Any,
    volunteer_id: int,
    data: Mapping[str, Any],
    version: int | None = None,
) -> Volunteer:
    """A keeper edits a volunteer (``name``, ``phone``, ``skills``, ``is_active``); a
    volunteer may change their own phone and skills."""
    fields = _data(data, VOLUNTEER_DATA)
    volunteer = _visible_volunteer(actor, volunteer_id, lock=True)
    if not _keeps(actor, volunteer.org):
        if volunteer.user_id != getattr(actor, "pk", None):
            raise PermissionDenied(action="resources.volunteer")
        if set(fields) - SELF_EDITABLE:
            raise PermissionDenied(action="resources.volunteer")
    if version is not None and volunteer.version != version:
        raise StaleVersion(current_version=volunteer.version)
    before = snapshot(volunteer, VOLUNTEER_FIELDS)
    if "name" in fields:
        volunteer.name = clean_text(fields["name"], "name", _("姓名"), 50)
    if "phone" in fields:
        volunteer.phone = _phone(fields["phone"])
    if "skills" in fields:
        volunteer.skills = tags(fields["skills"], "skills")
    if "is_active" in fields:
        volunteer.is_active = bool(fields["is_active"])
    changes = diff(before, snapshot(volunteer, VOLUNTEER_FIELDS))
    if changes:
        volunteer.version += 1
        volunteer.save()
        changes = diff(before, snapshot(volunteer, VOLUNTEER_FIELDS))
    record("resources.volunteer.update", actor=actor, obj=volunteer, changes=changes)
    return volunteer


@audited("resources.volunteer.enrol")
def enrol_self(
    *, actor: Any, org_id: int, skills: Sequence[str] = (), phone: str = ""
) -> Volunteer:
    """A staff member joins a team they can see (one whose public-good work is shown to
    them), once: a second enrolment anywhere is 409 ``duplicate``."""
    if getattr(actor, "pk", None) is None:
        raise NotFound()
    org = None
    if (pk := _pk(org_id)) is not None and pk in set(queries.public_work_org_ids(actor)):
        org = Organization.objects.filter(pk=pk, is_active=True).first()
    if org is None:
        raise NotFound(_("队伍不存在或无权访问。"))
    policy.require(actor, "resources.use")
    skills = tags(skills, "skills")
    phone = _phone(phone or actor.phone)
    if Volunteer.objects.filter(user=actor).exists():
        raise Conflict(_("您已登记为志愿者。"), code="duplicate", field="org_id")
    name = (actor.display_name or actor.username)[:50]
    volunteer = _create_volunteer(org=org, user=actor, name=name, phone=phone, skills=skills)
    record(
        "resources.volunteer.enrol",
        actor=actor,
        obj=volunteer,
        changes=diff({}, snapshot(volunteer, VOLUNTEER_FIELDS)),
    )
    return volunteer


# --- activities ---------------------------------------------------------------------------


def _activity_location(actor: Any, location_id: Any) -> Location | None:
    """An active location of an organisation whose public-good work the actor sees."""
    if location_id is None:
        return None
    location = None
    if (pk := _pk(location_id)) is not None:
        location = Location.objects.filter(pk=pk, is_active=True).first()
    if location is None or location.org_id not in set(queries.public_work_org_ids(actor)):
        raise InvalidInput(_("活动地点无效。"), code="invalid_location", field="location_id")
    return location


def _activity_project(actor: Any, project_id: Any) -> MicroProject | None:
    if project_id is None:
        return None
    project = None
    if (pk := _pk(project_id)) is not None:
        project = queries.visible_projects(actor).filter(pk=pk).first()
    if project is None or project.status not in (
        ProjectStatus.APPROVED,
        ProjectStatus.IN_PROGRESS,
    ):
        raise InvalidInput(
            _("所属项目无效（须为已立项或实施中的项目）。"),
            code="invalid_project",
            field="project_id",
        )
    return project


def _activity_demand(actor: Any, demand_id: Any) -> Demand | None:
    if demand_id is None:
        return None
    demand = None
    if (pk := _pk(demand_id)) is not None:
        demand = queries.visible_demands(actor).filter(pk=pk).first()
    if demand is None:
        raise InvalidInput(_("关联需求无效。"), code="invalid_demand", field="demand_id")
    return demand


@audited("resources.activity.create")
def create_activity(
    *, actor: Any, data: Mapping[str, Any], now: datetime | None = None
) -> Activity:
    """A keeper opens an activity for sign-up. ``data``: ``org_id``, ``title``,
    ``description``, ``location_id``, ``address``, ``start_at``, ``end_at`` (aware, in
    the future), ``slots``, ``skills``, ``hours`` credited for attending (default: its
    length rounded up to a half hour; never more than that), ``project_id`` (an approved
    micro-project), ``demand_id``."""
    now = _now(now)
    fields = _data(data, ACTIVITY_DATA)
    org = _org(actor, fields.get("org_id"))
    _require_keeper(actor, org)
    title = clean_text(fields.get("title"), "title", _("活动名称"), 200)
    description = clean_text(
        fields.get("description"), "description", _("活动内容"), 2000, required=False
    )
    address = clean_text(fields.get("address"), "address", _("地址"), 200, required=False)
    start_at = _aware(fields.get("start_at"), "start_at")
    end_at = _aware(fields.get("end_at"), "end_at")
    if start_at >= end_at:
        raise InvalidInput(_("开始时间须早于结束时间。"), code="window_invalid", field="end_at")
    if start_at <= now:
        raise InvalidInput(_("活动开始时间须晚于当前时间。"), code="window_past", field="start_at")
    slots = fields.get("slots")
    if _pk(slots) is None or not 1 <= slots <= MAX_SLOTS:
        raise InvalidInput(
            _("招募人数须为 1 到 %(max)s 之间的整数。") % {"max": MAX_SLOTS},
            code="out_of_range",
            field="slots",
        )
    length = half_hours(Decimal((end_at - start_at).total_seconds()) / 3600)
    hours = length
    if fields.get("hours") is not None:
        hours = _hours(fields["hours"])
        if hours > length:
            raise InvalidInput(
                _("服务时长不能超过活动时长（%(n)s 小时）。") % {"n": length},
                code="invalid_hours",
                field="hours",
            )
    activity = Activity.objects.create(
        org=org,
        title=title,
        description=description,
        location=_activity_location(actor, fields.get("location_id")),
        address=address,
        start_at=start_at,
        end_at=end_at,
        slots=slots,
        skills=tags(fields.get("skills"), "skills"),
        hours=hours,
        project=_activity_project(actor, fields.get("project_id")),
        demand=_activity_demand(actor, fields.get("demand_id")),
        created_by=actor,
    )
    record(
        "resources.activity.create",
        actor=actor,
        obj=activity,
        changes=diff({}, snapshot(activity, ACTIVITY_FIELDS)),
    )
    return activity


def _require_status(activity: Activity, allowed: Sequence[str], action: Any) -> None:
    if activity.status not in allowed:
        raise Conflict(
            _("活动当前状态为“%(status)s”，不能%(action)s。")
            % {"status": ActivityStatus(activity.status).label, "action": action},
            code="invalid_transition",
            status=activity.status,
        )


@audited("resources.activity.cancel")
def cancel_activity(
    *, actor: Any, activity_id: int, reason: str = "", now: datetime | None = None
) -> Activity:
    """A keeper calls an activity off before it starts: its sign-ups are cancelled and
    the volunteers signed up are told (each under their own unit, only those who may
    see the activity; never the actor)."""
    now = _now(now)
    activity = _visible_activity(actor, activity_id, lock=True)
    _require_keeper(actor, activity.org)
    _require_status(activity, [ActivityStatus.OPEN, ActivityStatus.CLOSED], _("取消"))
    if now >= activity.start_at:
        raise Conflict(_("活动已开始，不能取消。"), code="already_started")
    reason = clean_text(reason, "reason", _("取消原因"), 200, required=False)
    signed = list(
        SignUp.objects.select_for_update(of=("self",))
        .select_related("volunteer__user__home_org")
        .filter(activity=activity, status=SignUpStatus.SIGNED)
        .order_by("pk")
    )
    before = snapshot(activity, ACTIVITY_FIELDS)
    if signed:
        SignUp.objects.filter(pk__in=[s.pk for s in signed]).update(
            status=SignUpStatus.CANCELLED, updated_at=now
        )
    activity.status = ActivityStatus.CANCELLED
    activity.taken = 0
    activity.version += 1
    activity.save()
    changes = diff(before, snapshot(activity, ACTIVITY_FIELDS))
    changes["signups_cancelled"] = len(signed)
    record("resources.activity.cancel", actor=actor, obj=activity, changes=changes, reason=reason)
    _tell_cancelled(activity, actor, [s.volunteer.user for s in signed], reason)
    return activity


def _tell_cancelled(activity: Activity, actor: Any, users: Sequence[Any], reason: str) -> None:
    """One notice per unit of the volunteers told (filed under their home unit, which
    their grants reach), for users who may still see the activity."""
    by_org: dict[int, tuple[Organization, list[Any]]] = {}
    for user in users:
        if user is None or user.pk == getattr(actor, "pk", None) or user.home_org is None:
            continue
        if activity.org_id not in set(queries.public_work_org_ids(user)):
            continue
        by_org.setdefault(user.home_org_id, (user.home_org, []))[1].append(user)
    if not by_org:
        return
    start = timezone.localtime(activity.start_at)
    title = _("志愿活动已取消：%(title)s") % {"title": activity.title}
    body = _("%(day)s 的活动“%(title)s”已取消，您的报名一并取消。") % {
        "day": f"{start:%Y-%m-%d %H:%M}",
        "title": activity.title,
    }
    if reason:
        body += _("原因：%(reason)s。") % {"reason": reason}
    for org_id in sorted(by_org):
        org, recipients = by_org[org_id]
        emit(
            events.ACTIVITY_CANCELLED,
            org=org,
            actor=actor if getattr(actor, "pk", None) else None,
            recipients=recipients,
            title=title,
            body=body,
            link=f"/resources/activities/{activity.pk}/",
            object=activity,
            dedupe_key=f"resources:activity:{activity.pk}:cancelled:{org_id}",
            payload={"activity_id": activity.pk, "reason": reason},
        )


# --- sign-ups -----------------------------------------------------------------------------


def _take_place(activity: Activity) -> bool:
    """One place, by conditional UPDATE (never a read-then-write)."""
    return bool(
        Activity.objects.filter(
            pk=activity.pk, status=ActivityStatus.OPEN, taken__lt=F("slots")
        ).update(taken=F("taken") + 1)
    )


def _already_signed() -> Conflict:
    return Conflict(_("该志愿者已报名此活动。"), code="duplicate")


@audited("resources.volunteer.sign_up")
def sign_up(
    *,
    actor: Any,
    activity_id: int,
    volunteer_id: int | None = None,
    now: datetime | None = None,
) -> SignUp:
    """Take a place in an activity: for the actor's own volunteer record (none: 409
    ``not_volunteer``), or a keeper for a volunteer of their team. The activity must be
    open and not started; a full one is 409 ``activity_full``; once per volunteer
    (``duplicate``)."""
    now = _now(now)
    activity = _visible_activity(actor, activity_id)
    if volunteer_id is None:
        volunteer = Volunteer.objects.filter(user_id=getattr(actor, "pk", None)).first()
        if volunteer is None:
            raise Conflict(_("您还不是志愿者，请先加入一支志愿服务队。"), code="not_volunteer")
    else:
        volunteer = _visible_volunteer(actor, volunteer_id)
        if volunteer.user_id != actor.pk and not _keeps(actor, volunteer.org):
            raise PermissionDenied(action="resources.volunteer")
    if not volunteer.is_active:
        raise Conflict(_("该志愿者已不在册。"), code="volunteer_inactive")
    _require_status(activity, [ActivityStatus.OPEN], _("报名"))
    if now >= activity.start_at:
        raise Conflict(_("活动已开始，不能报名。"), code="already_started")
    live = SignUp.objects.filter(activity=activity, volunteer=volunteer).exclude(
        status=SignUpStatus.CANCELLED
    )
    if live.exists():
        raise _already_signed()
    if not _take_place(activity):
        activity.refresh_from_db(fields=["status", "taken", "slots"])
        _require_status(activity, [ActivityStatus.OPEN], _("报名"))
        raise Conflict(
            _("活动名额已满（%(slots)s 人）。") % {"slots": activity.slots},
            code="activity_full",
            slots=activity.slots,
        )
    try:
        with transaction.atomic():  # a savepoint: a second tap meets the unique sign-up
            signup = SignUp.objects.create(activity=activity, volunteer=volunteer)
    except IntegrityError as exc:
        raise _already_signed() from exc
    activity.refresh_from_db(fields=["taken"])
    record(
        "resources.volunteer.sign_up",
        actor=actor,
        obj=signup,
        org=activity.org,
        changes={
            "activity_id": activity.pk,
            "volunteer_id": volunteer.pk,
            "taken": [activity.taken - 1, activity.taken],
        },
    )
    return signup


@audited("resources.volunteer.cancel_sign_up")
def cancel_sign_up(*, actor: Any, signup_id: int, now: datetime | None = None) -> SignUp:
    """The volunteer, or a keeper of the activity's or the volunteer's team, gives a
    place back before the activity starts."""
    now = _now(now)
    signup = None
    if (pk := _pk(signup_id)) is not None:
        activity_id = (
            queries.visible_signups(actor)
            .filter(pk=pk)
            .values_list("activity_id", flat=True)
            .first()
        )
        if activity_id is None:  # a keeper of the volunteer's own team
            activity_id = (
                SignUp.objects.filter(pk=pk, volunteer__org_id__in=queries.volunteer_org_ids(actor))
                .values_list("activity_id", flat=True)
                .first()
            )
        if activity_id is not None:
            # the activity's row first, as sign_up's conditional UPDATE takes it
            Activity.objects.select_for_update(of=("self",)).filter(pk=activity_id).first()
            signup = (
                SignUp.objects.select_for_update(of=("self",))
                .select_related("activity__org", "volunteer__org")
                .filter(pk=pk)
                .first()
            )
    if signup is None:
        raise NotFound(_("报名记录不存在或无权访问。"))
    activity, volunteer = signup.activity, signup.volunteer
    if volunteer.user_id != actor.pk and not (
        _keeps(actor, activity.org) or _keeps(actor, volunteer.org)
    ):
        raise PermissionDenied(action="resources.volunteer")
    if signup.status != SignUpStatus.SIGNED:
        raise Conflict(
            _("报名当前状态为“%(status)s”，不能取消。")
            % {"status": SignUpStatus(signup.status).label},
            code="invalid_transition",
            status=signup.status,
        )
    if now >= activity.start_at:
        raise Conflict(_("活动已开始，不能取消报名。"), code="already_started")
    signup.status = SignUpStatus.CANCELLED
    signup.save(update_fields=["status", "updated_at"])
    Activity.objects.filter(pk=activity.pk, taken__gt=0).update(taken=F("taken") - 1)
    activity.refresh_from_db(fields=["taken"])
    record(
        "resources.volunteer.cancel_sign_up",
        actor=actor,
        obj=signup,
        org=activity.org,
        changes={
            "status": [SignUpStatus.SIGNED, SignUpStatus.CANCELLED],
            "taken": [activity.taken + 1, activity.taken],
        },
    )
    return signup


# --- attendance ---------------------------------------------------------------------------


def _ids(values: Any, field: str) -> list[int]:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence | set):
        raise InvalidInput(_("名单格式无效。"), code="invalid", field=field)
    out = []
    for value in values:
        if _pk(value) is None:
            raise InvalidInput(_("名单格式无效。"), code="invalid", field=field)
        out.append(value)
    return sorted(set(out))


@audited("resources.activity.attendance")
def record_attendance(
    *,
    actor: Any,
    activity_id: int,
    attended: Sequence[int],
    absent: Sequence[int] = (),
    hours: Decimal | None = None,
    now: datetime | None = None,
) -> list[SignUp]:
    """A keeper records who came, once the activity has started. ``attended`` and
    ``absent`` are **volunteer ids** of the activity's live sign-ups (a sign-up not
    named keeps its state). Each attended sign-up is credited ``hours`` (default: the
    activity's; recording again without ``hours`` keeps what it was credited) exactly
    once: the volunteer's total moves by the difference; absent takes it back. The
    activity is ``done``. Returns the sign-ups changed or confirmed, by volunteer id."""
    now = _now(now)
    activity = _visible_activity(actor, activity_id, lock=True)
    _require_keeper(actor, activity.org)
    _require_status(
        activity, [ActivityStatus.OPEN, ActivityStatus.CLOSED, ActivityStatus.DONE], _("登记考勤")
    )
    if now < activity.start_at:
        raise Conflict(_("活动尚未开始，不能登记考勤。"), code="not_started")
    came, missed = _ids(attended, "attended"), _ids(absent, "absent")
    both = set(came) & set(missed)
    if both:
        raise InvalidInput(
            _("同一志愿者不能既出席又缺席。"), code="conflicting", field="absent", ids=sorted(both)
        )
    credit = None if hours is None else _hours(hours)
    signups = {
        s.volunteer_id: s
        for s in SignUp.objects.select_for_update(of=("self",))
        .filter(activity=activity, volunteer_id__in=came + missed)
        .exclude(status=SignUpStatus.CANCELLED)
        .order_by("volunteer_id")
    }
    unknown = sorted(set(came + missed) - set(signups))
    if unknown:
        raise InvalidInput(
            _("名单中有未报名此活动的志愿者。"),
            code="not_signed_up",
            field="attended" if unknown[0] in came else "absent",
            ids=unknown,
        )
    changed: dict[str, list[Any]] = {}
    out: list[SignUp] = []
    for volunteer_id in sorted(signups):
        signup = signups[volunteer_id]
        old_status, old_hours = signup.status, signup.hours
        if volunteer_id in came:
            new_hours = credit
            if new_hours is None:
                attended_before = old_status == SignUpStatus.ATTENDED
                new_hours = old_hours if attended_before else activity.hours
            new_status = SignUpStatus.ATTENDED
        else:
            new_hours, new_status = Decimal("0.0"), SignUpStatus.ABSENT
        was = 1 if old_status == SignUpStatus.ATTENDED else 0
        now_in = 1 if new_status == SignUpStatus.ATTENDED else 0
        delta = new_hours - old_hours
        if delta or now_in != was:
            Volunteer.objects.filter(pk=volunteer_id).update(
                hours=F("hours") + delta, activities=F("activities") + (now_in - was)
            )
        if (old_status, old_hours) != (new_status, new_hours):
            signup.status, signup.hours = new_status, new_hours
            signup.recorded_by, signup.recorded_at = actor, now
            signup.save(
                update_fields=["status", "hours", "recorded_by", "recorded_at", "updated_at"]
            )
            changed[str(volunteer_id)] = [
                [old_status, str(old_hours)],
                [new_status, str(new_hours)],
            ]
        out.append(signup)
    before_status = activity.status
    if activity.status != ActivityStatus.DONE:
        activity.status = ActivityStatus.DONE
        activity.version += 1
        activity.save(update_fields=["status", "version", "updated_at"])
    record(
        "resources.activity.attendance",
        actor=actor,
        obj=activity,
        changes={
            "status": [before_status, activity.status],
            "signups": changed,
            "attended": len(came),
            "absent": len(missed),
        },
    )
    return out
