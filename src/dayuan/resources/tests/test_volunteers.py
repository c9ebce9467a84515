"""Volunteers: a team's keepers register volunteers, staff join a team they can see
(once), activities take sign-ups up to their places (never more), a place is given
back before the start, attendance credits the hours exactly once (recording again
changes nothing, attended → absent takes them back), and calling an activity off tells
the volunteers signed up, each under their own unit, and nobody outside its scope."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from dayuan.audit.models import AuditEntry, Outcome
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.tests import races
from dayuan.notifications.models import Notification

from .. import events, queries
from .. import volunteers as vs
from ..choices import ActivityStatus, ProjectStatus, SignUpStatus
from ..models import Activity, MicroProject, SignUp, Volunteer
from .factories import MONDAY, at, on

pytestmark = pytest.mark.django_db

NOW = at(2026, 12, 1, 10, 0)  # the week before the activities
START = on(MONDAY, 9)
END = on(MONDAY, 11, 30)


def entries(action: str, outcome: str = Outcome.SUCCESS):
    return AuditEntry.objects.filter(action=action, outcome=outcome).order_by("pk")


def activity(pw, user="social_worker", **data) -> Activity:
    fields = {
        "org_id": pw.social.pk,
        "title": "敬老院探访",
        "start_at": START,
        "end_at": END,
        "slots": 3,
        "skills": ["elder_care"],
        **data,
    }
    return vs.create_activity(actor=pw.user(user), data=fields, now=NOW)


def enrol(pw, who: str, org=None) -> Volunteer:
    return vs.enrol_self(actor=pw.user(who), org_id=(org or pw.social).pk, skills=["it"])


def sign(pw, who: str, act: Activity, now=NOW, **kw):
    return vs.sign_up(actor=pw.user(who), activity_id=act.pk, now=now, **kw)


def hours_of(v: Volunteer) -> tuple[Decimal, int]:
    v.refresh_from_db()
    return v.hours, v.activities


# --- the registry -------------------------------------------------------------------------


def test_a_keeper_registers_volunteers_with_or_without_an_account(pw):
    keeper = pw.user("social_worker")
    v = vs.register_volunteer(
        actor=keeper,
        org_id=pw.social.pk,
        name=" 张阿姨 ",
        phone="138 0000 1111",
        skills=["elder_care", "first_aid", "elder_care"],
    )
    assert (v.org_id, v.user_id, v.name, v.phone) == (pw.social.pk, None, "张阿姨", "138 0000 1111")
    assert v.skills == ["elder_care", "first_aid"] and v.hours == 0
    entry = entries("resources.volunteer.register").get()
    assert entry.org_id == pw.social.pk and entry.changes["name"] == [None, "张阿姨"]
    # county A's manager links one of their staff's accounts
    linked = vs.register_volunteer(
        actor=pw.user("a_manager"),
        org_id=pw.world.county_a.pk,
        name="甲县职工",
        user_id=pw.user("a_staff").pk,
    )
    assert linked.user == pw.user("a_staff")
    with pytest.raises(Conflict) as exc:  # one volunteer record per account
        vs.enrol_self(actor=pw.user("a_staff"), org_id=pw.social.pk)
    assert exc.value.code == "duplicate"


@pytest.mark.parametrize(
    ("user", "kw", "error", "code"),
    [
        ("b_manager", {}, NotFound, "not_found"),  # the city's association is not B's
        ("a_staff", {"org": "county_a"}, PermissionDenied, "permission_denied"),
        ("a_manager", {"org": "county_a", "user": "b_staff"}, InvalidInput, "invalid_user"),
        ("a_manager", {"org": "county_a", "user": "a_staff", "twice": True}, Conflict, "duplicate"),
        ("social_worker", {"name": ""}, InvalidInput, "required"),
        ("social_worker", {"phone": "call me"}, InvalidInput, "invalid_phone"),
        ("social_worker", {"phone": 13800001111}, InvalidInput, "invalid_phone"),
        ("social_worker", {"skills": [1]}, InvalidInput, "invalid_tags"),
        ("social_worker", {"skills": [f"s{i}" for i in range(21)]}, InvalidInput, "invalid_tags"),
    ],
)
def test_register_refusals_change_nothing(pw, user, kw, error, code):
    org = pw.world.county_a if kw.get("org") == "county_a" else pw.social
    user_id = pw.user(kw["user"]).pk if "user" in kw else None
    if kw.get("twice"):
        vs.register_volunteer(actor=pw.user(user), org_id=org.pk, name="甲", user_id=user_id)
    before = Volunteer.objects.count()
    with pytest.raises(error) as exc:
        vs.register_volunteer(
            actor=pw.user(user),
            org_id=org.pk,
            name=kw.get("name", "李"),
            phone=kw.get("phone", ""),
            skills=kw.get("skills", ()),
            user_id=user_id,
        )
    assert exc.value.code == code
    assert Volunteer.objects.count() == before
    assert entries("resources.volunteer.register", Outcome.REFUSED).count() == 1


def test_staff_join_a_team_they_can_see_once(pw):
    v = vs.enrol_self(actor=pw.user("a_staff"), org_id=pw.social.pk, skills=["it"], phone="")
    assert (v.org_id, v.user, v.name, v.skills) == (
        pw.social.pk,
        pw.user("a_staff"),
        "a_staff",
        ["it"],
    )
    assert v in queries.visible_volunteers(pw.user("a_staff"))
    assert v in queries.visible_volunteers(pw.user("social_worker"))
    assert v not in queries.visible_volunteers(pw.user("b_manager"))
    with pytest.raises(Conflict) as exc:
        vs.enrol_self(actor=pw.user("a_staff"), org_id=pw.world.county_a.pk)
    assert exc.value.code == "duplicate"
    # county B's staff see the city's association, not county A
    vs.enrol_self(actor=pw.user("b_staff"), org_id=pw.social.pk)
    with pytest.raises(NotFound):
        vs.enrol_self(actor=pw.user("b_inspector"), org_id=pw.world.county_a.pk)
    with pytest.raises(NotFound):
        vs.enrol_self(actor=pw.user("b_inspector"), org_id=pw.dept_a.pk)
    assert Volunteer.objects.count() == 2
    assert entries("resources.volunteer.enrol").count() == 2
    assert entries("resources.volunteer.enrol", Outcome.REFUSED).count() == 3


def test_update_by_the_keeper_and_by_the_volunteer_themself(pw):
    v = enrol(pw, "a_staff")
    keeper = pw.user("social_manager")
    v = vs.update_volunteer(
        actor=keeper, volunteer_id=v.pk, data={"name": "小王", "skills": ["law"]}, version=1
    )
    assert (v.name, v.skills, v.version) == ("小王", ["law"], 2)
    assert entries("resources.volunteer.update").last().changes["name"] == ["a_staff", "小王"]
    with pytest.raises(StaleVersion):
        vs.update_volunteer(actor=keeper, volunteer_id=v.pk, data={"name": "x"}, version=1)
    me = pw.user("a_staff")
    v = vs.update_volunteer(actor=me, volunteer_id=v.pk, data={"phone": "13900000000"})
    assert v.phone == "13900000000"
    with pytest.raises(PermissionDenied):  # the name and the register are the keeper's
        vs.update_volunteer(actor=me, volunteer_id=v.pk, data={"is_active": False})
    with pytest.raises(InvalidInput) as exc:
        vs.update_volunteer(actor=keeper, volunteer_id=v.pk, data={"hours": 100})
    assert exc.value.code == "unknown_field"
    for who in ("b_manager", "dept_a_staff", "ent_manager"):
        with pytest.raises(NotFound):
            vs.update_volunteer(actor=pw.user(who), volunteer_id=v.pk, data={"name": "x"})
    v.refresh_from_db()
    assert (v.name, v.hours, v.is_active) == ("小王", 0, True)


# --- activities ---------------------------------------------------------------------------


def test_create_activity_defaults_its_hours_to_its_length(pw):
    act = activity(pw)
    assert (act.status, act.slots, act.taken, act.hours) == (
        ActivityStatus.OPEN,
        3,
        0,
        Decimal("2.5"),
    )
    assert act.created_by == pw.user("social_worker") and act.skills == ["elder_care"]
    odd = activity(pw, end_at=START + timedelta(minutes=100), hours=None)
    assert odd.hours == Decimal("2.0")  # 1 h 40 min, rounded up to half hours
    short = activity(pw, hours="1.5")
    assert short.hours == Decimal("1.5")
    assert entries("resources.activity.create").count() == 3


@pytest.mark.parametrize(
    ("user", "data", "error", "code"),
    [
        ("b_manager", {}, NotFound, "not_found"),
        ("a_staff", {"org_id": "county_a"}, PermissionDenied, "permission_denied"),
        ("social_worker", {"hours": 3}, InvalidInput, "invalid_hours"),  # longer than it lasts
        ("social_worker", {"hours": "1.25"}, InvalidInput, "invalid_hours"),
        ("social_worker", {"hours": 0}, InvalidInput, "invalid_hours"),
        ("social_worker", {"start_at": on(MONDAY, 12)}, InvalidInput, "window_invalid"),
        ("social_worker", {"start_at": at(2026, 11, 30, 9)}, InvalidInput, "window_past"),
        ("social_worker", {"start_at": "tomorrow"}, InvalidInput, "invalid_time"),
        ("social_worker", {"slots": 0}, InvalidInput, "out_of_range"),
        ("social_worker", {"slots": "3"}, InvalidInput, "out_of_range"),
        ("social_worker", {"title": ""}, InvalidInput, "required"),
        ("social_worker", {"colour": "red"}, InvalidInput, "unknown_field"),
        ("social_worker", {"location_id": "b_room"}, InvalidInput, "invalid_location"),
        ("social_worker", {"project_id": "proposed"}, InvalidInput, "invalid_project"),
        ("social_worker", {"demand_id": 10**6}, InvalidInput, "invalid_demand"),
    ],
)
def test_create_activity_refusals_change_nothing(pw, user, data, error, code):
    if data.get("org_id") == "county_a":
        data["org_id"] = pw.world.county_a.pk
    if data.get("location_id") == "b_room":
        data["location_id"] = pw.world.rooms["b"].pk
    if data.get("project_id") == "proposed":
        data["project_id"] = MicroProject.objects.create(
            org=pw.social,
            number="WS-T-1",
            title="社区义诊",
            budget=1000,
            leader=pw.user("social_manager"),
            status=ProjectStatus.PROPOSED,
        ).pk
    with pytest.raises(error) as exc:
        activity(pw, user=user, **data)
    assert exc.value.code == code
    assert not Activity.objects.exists()
    assert entries("resources.activity.create", Outcome.REFUSED).count() == 1


def test_an_activity_of_an_approved_project_in_a_county_location(pw):
    project = MicroProject.objects.create(
        org=pw.world.county_a,
        number="WS-T-2",
        title="老旧小区助老",
        budget=5000,
        leader=pw.user("a_manager"),
        status=ProjectStatus.APPROVED,
    )
    room = pw.world.rooms["a"]
    act = activity(
        pw,
        user="a_manager",
        org_id=pw.world.county_a.pk,
        project_id=project.pk,
        location_id=room.pk,
    )
    assert (act.project, act.location) == (project, room)


# --- sign-ups -----------------------------------------------------------------------------


def test_places_are_never_exceeded(pw):
    act = activity(pw, slots=2)
    for who in ("a_staff", "b_staff", "dept_a_staff"):
        enrol(pw, who)
    first = sign(pw, "a_staff", act)
    assert (first.status, first.volunteer.user) == (SignUpStatus.SIGNED, pw.user("a_staff"))
    sign(pw, "b_staff", act)
    with pytest.raises(Conflict) as exc:
        sign(pw, "dept_a_staff", act)
    assert exc.value.code == "activity_full" and exc.value.details["slots"] == 2
    act.refresh_from_db()
    assert act.taken == 2
    assert SignUp.objects.filter(activity=act).count() == 2
    # a place given back is taken again
    vs.cancel_sign_up(actor=pw.user("a_staff"), signup_id=first.pk, now=NOW)
    act.refresh_from_db()
    assert act.taken == 1
    sign(pw, "dept_a_staff", act)
    act.refresh_from_db()
    assert act.taken == 2 == act.signups.filter(status=SignUpStatus.SIGNED).count()
    assert entries("resources.volunteer.sign_up").count() == 3
    refused = entries("resources.volunteer.sign_up", Outcome.REFUSED).get()
    assert refused.reason.startswith("activity_full")


def test_sign_up_refusals(pw):
    act = activity(pw)
    with pytest.raises(Conflict) as exc:  # not a volunteer yet
        sign(pw, "a_staff", act)
    assert exc.value.code == "not_volunteer"
    enrol(pw, "a_staff")
    sign(pw, "a_staff", act)
    with pytest.raises(Conflict) as exc:
        sign(pw, "a_staff", act)
    assert exc.value.code == "duplicate"
    enrol(pw, "b_staff")
    with pytest.raises(Conflict) as exc:
        sign(pw, "b_staff", act, now=START)
    assert exc.value.code == "already_started"
    county_a = activity(pw, user="a_manager", org_id=pw.world.county_a.pk)
    with pytest.raises(NotFound):  # county B does not see county A's activity
        sign(pw, "b_staff", county_a)
    someone = vs.register_volunteer(actor=pw.user("social_worker"), org_id=pw.social.pk, name="赵")
    with pytest.raises(NotFound):  # not their volunteer: not even visible
        sign(pw, "a_manager", act, volunteer_id=someone.pk)
    Volunteer.objects.filter(user=pw.user("b_staff")).update(is_active=False)
    with pytest.raises(Conflict) as exc:
        sign(pw, "b_staff", act)
    assert exc.value.code == "volunteer_inactive"
    vs.cancel_activity(actor=pw.user("social_worker"), activity_id=act.pk, now=NOW)
    with pytest.raises(Conflict) as exc:
        sign(pw, "social_worker", act, volunteer_id=someone.pk)
    assert exc.value.code == "invalid_transition"
    act.refresh_from_db()
    assert act.taken == 0
    assert SignUp.objects.filter(activity=act).exclude(status=SignUpStatus.CANCELLED).count() == 0


def test_a_keeper_signs_up_a_volunteer_of_their_team(pw):
    act = activity(pw)
    v = vs.register_volunteer(actor=pw.user("social_worker"), org_id=pw.social.pk, name="赵")
    s = sign(pw, "social_manager", act, volunteer_id=v.pk)
    assert s.volunteer == v
    act.refresh_from_db()
    assert act.taken == 1
    # and the keeper cancels it for them
    vs.cancel_sign_up(actor=pw.user("social_worker"), signup_id=s.pk, now=NOW)
    s.refresh_from_db()
    assert s.status == SignUpStatus.CANCELLED
    # a new sign-up after a cancelled one is allowed (the unique place is per live one)
    again = sign(pw, "social_manager", act, volunteer_id=v.pk)
    assert again.pk != s.pk


def test_cancel_sign_up_refusals(pw):
    act = activity(pw)
    enrol(pw, "a_staff")
    s = sign(pw, "a_staff", act)
    for who in ("b_staff", "dept_a_staff"):
        with pytest.raises(NotFound):
            vs.cancel_sign_up(actor=pw.user(who), signup_id=s.pk, now=NOW)
    with pytest.raises(Conflict) as exc:
        vs.cancel_sign_up(actor=pw.user("a_staff"), signup_id=s.pk, now=START)
    assert exc.value.code == "already_started"
    vs.cancel_sign_up(actor=pw.user("a_staff"), signup_id=s.pk, now=NOW)
    with pytest.raises(Conflict) as exc:
        vs.cancel_sign_up(actor=pw.user("a_staff"), signup_id=s.pk, now=NOW)
    assert exc.value.code == "invalid_transition"
    act.refresh_from_db()
    assert act.taken == 0
    assert entries("resources.volunteer.cancel_sign_up").count() == 1
    assert entries("resources.volunteer.cancel_sign_up", Outcome.REFUSED).count() == 4


# --- attendance ---------------------------------------------------------------------------


def test_attendance_credits_hours_exactly_once_and_can_be_taken_back(pw):
    act = activity(pw, slots=5)
    people = {who: enrol(pw, who) for who in ("a_staff", "b_staff", "dept_a_staff")}
    for who in people:
        sign(pw, who, act)
    keeper = pw.user("social_worker")
    a, b, d = people["a_staff"], people["b_staff"], people["dept_a_staff"]
    with pytest.raises(Conflict) as exc:
        vs.record_attendance(actor=keeper, activity_id=act.pk, attended=[a.pk], now=NOW)
    assert exc.value.code == "not_started"

    after = END + timedelta(hours=1)
    got = vs.record_attendance(
        actor=keeper, activity_id=act.pk, attended=[a.pk, b.pk], absent=[d.pk], now=after
    )
    assert [(s.volunteer_id, s.status, s.hours) for s in got] == sorted(
        [
            (a.pk, SignUpStatus.ATTENDED, Decimal("2.5")),
            (b.pk, SignUpStatus.ATTENDED, Decimal("2.5")),
            (d.pk, SignUpStatus.ABSENT, Decimal("0")),
        ]
    )
    assert hours_of(a) == (Decimal("2.5"), 1) and hours_of(d) == (Decimal("0"), 0)
    act.refresh_from_db()
    assert act.status == ActivityStatus.DONE
    # recorded twice: nothing more credited
    vs.record_attendance(
        actor=keeper, activity_id=act.pk, attended=[a.pk, b.pk], absent=[d.pk], now=after
    )
    assert hours_of(a) == (Decimal("2.5"), 1) and hours_of(b) == (Decimal("2.5"), 1)
    # a correction: b was absent after all, d came, a is credited 2 hours only
    vs.record_attendance(
        actor=keeper, activity_id=act.pk, attended=[d.pk], absent=[b.pk], now=after
    )
    vs.record_attendance(
        actor=keeper, activity_id=act.pk, attended=[a.pk], hours=Decimal("2"), now=after
    )
    assert hours_of(a) == (Decimal("2.0"), 1)
    assert hours_of(b) == (Decimal("0.0"), 0)
    assert hours_of(d) == (Decimal("2.5"), 1)
    # recording again without hours keeps the 2 hours credited to a
    vs.record_attendance(actor=keeper, activity_id=act.pk, attended=[a.pk], now=after)
    assert hours_of(a) == (Decimal("2.0"), 1)
    total = sum(s.hours for s in SignUp.objects.filter(activity=act, status="attended"))
    assert total == sum(v.hours for v in Volunteer.objects.all()) == Decimal("4.5")
    assert entries("resources.activity.attendance").count() == 5
    second = entries("resources.activity.attendance")[1]
    assert second.changes["signups"] == {}  # the repeat changed nothing


def test_hours_accumulate_over_activities(pw):
    v = enrol(pw, "a_staff")
    keeper = pw.user("social_worker")
    for i in range(3):
        act = activity(pw, start_at=START + timedelta(days=i), end_at=END + timedelta(days=i))
        sign(pw, "a_staff", act)
        vs.record_attendance(
            actor=keeper, activity_id=act.pk, attended=[v.pk], now=END + timedelta(days=i)
        )
    assert hours_of(v) == (Decimal("7.5"), 3)
    ranked = list(queries.visible_volunteers(keeper).order_by("-hours"))
    assert ranked[0] == v


def test_attendance_refusals(pw):
    act = activity(pw)
    a = enrol(pw, "a_staff")
    b = enrol(pw, "b_staff")
    sign(pw, "a_staff", act)
    after = END
    keeper = pw.user("social_worker")
    cases = [
        ({"attended": [b.pk]}, InvalidInput, "not_signed_up"),  # b never signed up
        ({"attended": [a.pk], "absent": [a.pk]}, InvalidInput, "conflicting"),
        ({"attended": [a.pk], "hours": "0.3"}, InvalidInput, "invalid_hours"),
        ({"attended": "1,2"}, InvalidInput, "invalid"),
    ]
    for kw, error, code in cases:
        with pytest.raises(error) as exc:
            vs.record_attendance(actor=keeper, activity_id=act.pk, now=after, **kw)
        assert exc.value.code == code
    with pytest.raises(PermissionDenied):  # a volunteer does not record their own hours
        vs.record_attendance(
            actor=pw.user("a_staff"), activity_id=act.pk, attended=[a.pk], now=after
        )
    with pytest.raises(NotFound):
        vs.record_attendance(
            actor=pw.user("b_manager"),
            activity_id=activity(pw, user="a_manager", org_id=pw.world.county_a.pk).pk,
            attended=[],
            now=after,
        )
    assert hours_of(a) == (Decimal("0"), 0)
    act.refresh_from_db()
    assert act.status == ActivityStatus.OPEN


# --- calling an activity off ------------------------------------------------------------------


def test_cancel_notifies_the_signed_volunteers_within_scope_only(pw):
    act = activity(pw, user="a_manager", org_id=pw.world.county_a.pk, slots=10)
    for who in ("a_staff", "dept_a_staff", "a_inspector"):
        enrol(pw, who, org=pw.world.county_a)
        sign(pw, who, act)
    vs.cancel_sign_up(
        actor=pw.user("a_inspector"),
        signup_id=SignUp.objects.get(volunteer__user=pw.user("a_inspector")).pk,
        now=NOW,
    )
    # a volunteer without an account, and one whose account has moved to county B
    quiet = vs.register_volunteer(
        actor=pw.user("a_manager"), org_id=pw.world.county_a.pk, name="钱"
    )
    sign(pw, "a_manager", act, volunteer_id=quiet.pk)
    moved = Volunteer.objects.create(org=pw.world.county_a, user=pw.user("b_staff"), name="孙")
    SignUp.objects.create(activity=act, volunteer=moved)
    # the actor is a volunteer here too: never told about their own act
    mine = Volunteer.objects.create(org=pw.world.county_a, user=pw.user("a_manager"), name="经理")
    SignUp.objects.create(activity=act, volunteer=mine)

    vs.cancel_activity(actor=pw.user("a_manager"), activity_id=act.pk, reason="暴雨预警", now=NOW)
    act.refresh_from_db()
    assert (act.status, act.taken) == (ActivityStatus.CANCELLED, 0)
    assert not act.signups.exclude(status=SignUpStatus.CANCELLED).exists()
    told = Notification.objects.filter(event__type=events.ACTIVITY_CANCELLED)
    assert {n.recipient.username for n in told} == {"a_staff", "dept_a_staff"}
    by_user = {n.recipient.username: n.event.org_id for n in told}
    assert by_user == {"a_staff": pw.world.county_a.pk, "dept_a_staff": pw.dept_a.pk}
    assert all("暴雨预警" in n.body and "敬老院探访" in n.title for n in told)
    entry = entries("resources.activity.cancel").get()
    assert entry.changes["signups_cancelled"] == 5 and entry.reason == "暴雨预警"
    # twice, or after the start: refused
    with pytest.raises(Conflict) as exc:
        vs.cancel_activity(actor=pw.user("a_manager"), activity_id=act.pk, now=NOW)
    assert exc.value.code == "invalid_transition"
    other = activity(pw)
    with pytest.raises(Conflict) as exc:
        vs.cancel_activity(actor=pw.user("social_worker"), activity_id=other.pk, now=START)
    assert exc.value.code == "already_started"
    with pytest.raises(NotFound):
        vs.cancel_activity(actor=pw.user("b_manager"), activity_id=act.pk, now=NOW)
    with pytest.raises(PermissionDenied):  # county A's staff see the association's activity
        vs.cancel_activity(actor=pw.user("a_staff"), activity_id=other.pk, now=NOW)
    other.refresh_from_db()
    assert other.status == ActivityStatus.OPEN


# --- real threads -----------------------------------------------------------------------------
# Run on the session's database: SQLite's file database by default (each thread its own
# connection, the IMMEDIATE transactions queueing on the write lock), PostgreSQL with
# ``DATABASE_URL`` (at most ``PG_POOL`` connections at once); see ``core.tests.races``.

PG_POOL = 20
LOCK_WAIT_MS = 120_000


def _race(calls):
    return races.race(
        calls, pg_pool=PG_POOL, lock_wait_ms=LOCK_WAIT_MS, start_timeout=60, join_timeout=300
    )


def _team(pw, n: int, prefix: str) -> list[Volunteer]:
    """``n`` county A staff, each enrolled in the city's volunteer association."""
    users = races.people(pw.world.county_a, n, prefix)
    Volunteer.objects.bulk_create(
        [Volunteer(org=pw.social, user=u, name=u.username) for u in users]
    )
    return list(Volunteer.objects.filter(user__in=users).select_related("user").order_by("pk"))


def _open_activity(pw, slots: int, day: int = 0) -> Activity:
    return Activity.objects.create(
        org=pw.social,
        title=f"赛会志愿服务{day}",
        start_at=START + timedelta(days=day),
        end_at=END + timedelta(days=day),
        slots=slots,
        hours=Decimal("2.5"),
        created_by=pw.user("social_worker"),
    )


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_30_volunteers_for_10_places_make_exactly_10_sign_ups(pw, capsys):
    team = _team(pw, 30, "race-v")
    timings = []
    for r in range(3):
        act = _open_activity(pw, 10, day=r)
        calls = [
            lambda v=v, act=act: vs.sign_up(actor=v.user, activity_id=act.pk, now=NOW) for v in team
        ]
        started = time.monotonic()
        results, errors = _race(calls)
        timings.append(time.monotonic() - started)
        assert len(results) == 10, (len(results), errors[:3])
        assert len(errors) == 20
        races.assert_only_refused(errors, "activity_full")
        act.refresh_from_db()
        held = SignUp.objects.filter(activity=act, status=SignUpStatus.SIGNED)
        assert act.taken == 10 == held.count()
        assert {s.pk for s in results} == set(held.values_list("pk", flat=True))
        assert len(set(held.values_list("volunteer_id", flat=True))) == 10
        refused = entries("resources.volunteer.sign_up", Outcome.REFUSED)
        assert refused.count() == 20 * (r + 1)
    with capsys.disabled():
        print(
            f"\n[{connection.vendor}] 30 sign-ups for 10 places, seconds per round: "
            f"{', '.join(f'{t:.1f}' for t in timings)}"
        )


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_a_volunteer_tapping_ten_times_at_once_signs_up_once(pw):
    [v] = _team(pw, 1, "race-t")
    act = _open_activity(pw, 50)
    calls = [lambda: vs.sign_up(actor=v.user, activity_id=act.pk, now=NOW) for _ in range(10)]
    results, errors = _race(calls)
    assert len(results) == 1, errors[:3]
    races.assert_only_refused(errors, "duplicate")
    act.refresh_from_db()
    assert act.taken == 1 == SignUp.objects.filter(activity=act).count()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_cancelling_while_others_sign_up_keeps_taken_equal_to_the_places_held(pw, capsys):
    holders = _team(pw, 10, "race-h")
    act = _open_activity(pw, 10)
    held = [vs.sign_up(actor=v.user, activity_id=act.pk, now=NOW) for v in holders]
    newcomers = _team(pw, 30, "race-n")
    calls = [
        lambda v=v, s=s: vs.cancel_sign_up(actor=v.user, signup_id=s.pk, now=NOW)
        for v, s in zip(holders, held, strict=True)
    ] + [lambda v=v: vs.sign_up(actor=v.user, activity_id=act.pk, now=NOW) for v in newcomers]
    random.Random(9).shuffle(calls)
    results, errors = _race(calls)
    races.assert_only_refused(errors, "activity_full")
    cancelled = [x for x in results if x.status == SignUpStatus.CANCELLED]
    won = [x for x in results if x.status == SignUpStatus.SIGNED]
    assert len(cancelled) == 10 and len(won) + len(errors) == 30
    act.refresh_from_db()
    live = SignUp.objects.filter(activity=act, status=SignUpStatus.SIGNED).count()
    assert act.taken == live == len(won) <= 10
    with capsys.disabled():
        print(f"\n[{connection.vendor}] 10 cancellations racing 30 sign-ups: {len(won)} signed")


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_negative_control_a_read_then_write_overbooks(pw, monkeypatch):
    """The race is real: with the place taken by a read and a write instead of the
    conditional UPDATE, more volunteers get in than there are places (PostgreSQL only:
    SQLite's IMMEDIATE transaction serialises whole services)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers per transaction: no race to lose")
    team = _team(pw, 30, "race-x")
    act = _open_activity(pw, 10)

    def read_then_write(activity):
        taken = Activity.objects.get(pk=activity.pk).taken
        if taken >= activity.slots:
            return False
        time.sleep(0.005)  # the time a request spends between its read and its write
        Activity.objects.filter(pk=activity.pk).update(taken=taken + 1)
        return True

    monkeypatch.setattr(vs, "_take_place", read_then_write)
    calls = [lambda v=v: vs.sign_up(actor=v.user, activity_id=act.pk, now=NOW) for v in team]
    results, errors = _race(calls)
    races.assert_only_refused(errors, "activity_full")
    act.refresh_from_db()
    assert len(results) > 10 and act.taken < len(results)
