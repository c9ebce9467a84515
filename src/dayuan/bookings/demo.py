"""Booking demo data: the meeting standard (JG-HY) in force, the meeting services as
work-order categories with each centre's property crew responsible, a room for every
meeting room of the compounds (a 大会议厅 per centre that needs approval, one city
room shared with every unit), barber shops and a car wash with their slots, and weeks
of bookings and appointments lived through the services.

Like the inspection demo, every booking, check-in, no-show, cancellation, approval,
displacement and appointment is written by the real services (``services``,
``appointments``) with ``now=`` set to the moment it happened, so events, audit entries
(stamped at load time), notifications and the meeting services' work orders are what
the platform would have recorded. Requests are made inside the standard's request
windows and ahead of its lead times, as people would. The cleaning service joins the
catalogue two workdays before now (``CLEANING_WORKDAYS``): the meetings since leave a
cleaning order behind, which the vendor's crew takes and resolves; older ones left none
(hundreds of orders otherwise, and seconds of load time).

``weeks`` (``DAYUAN_DEMO_BOOKING_WEEKS``) is how far back the history reaches; the next
two weeks are booked too, thinning out with distance. From ``FULL_WEEKS`` on the rooms
are at full density; a shorter history is thinner too (the tests' two weeks hold about
a quarter of the bookings a day), so a small load stays fast. Office-hour peaks (09:00–11:30 and
14:30–17:00), about 8 % no-shows (released by the job), some cancellations. Scripted on
top whatever the volume: a weekly 办公会 series with one occurrence refused for a
conflict, a booking displaced by an urgent meeting, an emergency meeting registered
after it started (先用后登记), a hall booking rejected and one waiting for approval in
each centre, a meeting in progress when the load happens during office hours, and an
upcoming booking and appointment for every demo login. Deterministic for a given
``seed`` and ``now``; a second load adds no second history.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from dayuan.accounts.choices import Role
from dayuan.accounts.models import User
from dayuan.core.errors import DomainError
from dayuan.core.testing import make_location
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Location, Organization

from .choices import MeetingType, Priority, ResourceClass, ServiceKind
from .models import Appointment, AppointmentService, Booking, Room, Slot

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
STANDARD_CODE = "JG-HY"
UPCOMING_DAYS = 14
CENTRE_ROLES = (Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.INSPECTOR, Role.STAFF)

# The meeting services as work-order categories under the catalogue's 会议保障:
# (kind, name, sla_category, icon). JG-HY's projector clock is filed under meeting.setup.
MEETING_CATEGORIES: tuple[tuple[str, str, str, str], ...] = (
    (ServiceKind.TEA, "茶水服务", "meeting.tea", "cup"),
    (ServiceKind.AV, "音视频保障", "meeting.setup", "projector"),
    (ServiceKind.NAME_CARDS, "桌签制作", "meeting.name_cards", "id-card"),
    (ServiceKind.BANNER, "横幅制作", "meeting.banner", "flag"),
    (ServiceKind.LAYOUT, "会场布置", "meeting.layout", "layout"),
    (ServiceKind.CLEANING, "会后保洁", "meeting.cleaning", "broom"),
)

# Request windows when the standard sets none: people book in office hours anyway.
OFFICE_WINDOWS = (("workdays", time(8, 0), time(11, 30)), ("workdays", time(13, 0), time(17, 0)))

# Meeting starts (local) and their weights: peaks 09:00–11:30 and 14:30–17:00.
STARTS: tuple[tuple[time, int], ...] = (
    (time(8, 30), 3), (time(9, 0), 12), (time(9, 30), 10), (time(10, 0), 9),
    (time(10, 30), 6), (time(11, 0), 2), (time(13, 30), 2), (time(14, 0), 4),
    (time(14, 30), 11), (time(15, 0), 10), (time(15, 30), 7), (time(16, 0), 5),
    (time(16, 30), 2),
)  # fmt: skip
DURATIONS = ((30, 2), (60, 10), (90, 8), (120, 5), (180, 1))
HALL_DURATIONS = ((120, 3), (180, 3), (240, 1))
# Expected bookings per room and workday (before the thinning of the days ahead).
POPULARITY = {"conference": 0.45, "vip": 0.2, "meeting": 0.22, "standard": 0.12, "hall": 0.1,
              "shared": 0.45}  # fmt: skip
FULL_WEEKS = 8  # a history this long is at full density; a shorter one is thinner
# The cleaning service joins the catalogue this many workdays before today: older
# meetings left no cleaning order behind (hundreds of them), the last days' show the loop.
CLEANING_WORKDAYS = 2
APPOINTMENT_RATE = 0.1  # expected appointments per slot in the days ahead (x2 in the past)
CANCEL_SHARE = 0.07
NO_SHOW_SHARE = 0.075
SERVICE_SHARE = 0.35  # upcoming bookings that order tea / AV / layout

TITLES: dict[str, tuple[str, ...]] = {
    MeetingType.OFFICE: ("主任办公会", "科室工作例会", "党组会", "专题协调会", "周工作调度会",
                         "后勤保障工作推进会", "安全生产工作会", "节能降耗工作会"),
    MeetingType.STUDY: ("理论学习中心组学习", "党支部主题党日", "业务知识学习会", "廉政教育学习会"),
    MeetingType.TRAINING: ("消防安全培训", "公文写作培训", "新入职人员培训", "信息系统操作培训",
                           "保密知识培训"),
    MeetingType.RECEPTION: ("上级单位调研座谈", "兄弟单位交流座谈", "来访接待座谈"),
    MeetingType.VIDEO: ("全市视频工作会议", "省机关事务局视频会议", "远程视频调度会"),
    MeetingType.OTHER: ("年度预算评审会", "物业服务项目评审会", "采购项目论证会", "职工代表座谈会"),
}  # fmt: skip
TYPE_WEIGHTS = {MeetingType.OFFICE: 10, MeetingType.STUDY: 4, MeetingType.TRAINING: 3,
                MeetingType.RECEPTION: 2, MeetingType.VIDEO: 2, MeetingType.OTHER: 3}  # fmt: skip
HALL_TITLES = ("全体干部职工大会", "年度工作总结表彰大会", "消防安全知识讲座", "廉政警示教育大会",
               "业务技能培训班开班仪式")  # fmt: skip
DISPLACE_REASON = "市领导临时召开专题会议，重要优先，请改用其他会议室。"
CANCEL_REASONS = (
    "会议延期",
    "领导临时有事，会议改期",
    "改为线上召开",
    "参会人员调整，另行安排",
    "",
)
SERVICE_NOTES = {
    ServiceKind.TEA: ("绿茶，会前备好", "需准备矿泉水", "茶水，会中续水"),
    ServiceKind.AV: ("需调试投影和话筒", "有视频连线，请提前调试", "需要无线话筒两支"),
    ServiceKind.LAYOUT: ("课桌式摆放", "回字形摆放，摆放桌签", "主席台摆放 5 个座位"),
}


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=SHANGHAI)


def _weighted(rng: random.Random, pairs: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


# --- setup -------------------------------------------------------------------------------


def install_standard(actor: Any, city: Organization) -> int:
    """JG-HY published and adopted at ``city`` (the standards demo has normally done it)."""
    from dayuan.standards.demo import install, library_path

    return int(install(actor, city, library_path(STANDARD_CODE)).imported)


def rules_in_force_since(since: datetime) -> int:
    """Backdate the versions holding ``booking`` rules (and the meeting clocks and
    checklists beside them) to ``since``: past requests are checked as of their time."""
    from dayuan.standards.demo import backdate
    from dayuan.standards.models import StandardVersion

    return backdate(StandardVersion.objects.filter(rules__kind="booking"), since)


def build_categories(city: Organization, kinds: Sequence[str]) -> dict[str, Any]:
    """``meeting.<kind>`` at the city, under 会议保障 when the catalogue has it."""
    from dayuan.workorders.choices import Tier
    from dayuan.workorders.models import ServiceCategory

    parent = ServiceCategory.objects.filter(org=city, code="meeting_support").first()
    base = parent.position * 10 if parent else 100
    out = {}
    for i, (kind, name, sla_category, icon) in enumerate(MEETING_CATEGORIES, start=1):
        if kind not in kinds:
            continue
        out[str(kind)], _created = ServiceCategory.objects.get_or_create(
            org=city,
            code=f"meeting.{kind}",
            defaults={
                "parent": parent,
                "name": name,
                "tier": parent.tier if parent else Tier.FEATURED,
                "sla_category": sla_category,
                "icon": icon,
                "position": base + i,
            },
        )
    return out


def build_responsibilities(centre: Organization, categories: dict[str, Any]) -> int:
    """The centre's property crew answers for every meeting service in its compounds."""
    from dayuan.workorders.models import Responsibility, Team

    vendor = (
        Organization.objects.filter(parent=centre, kind=OrgKind.VENDOR).order_by("path").first()
    )
    team = Team.objects.filter(org=centre, vendor=vendor).order_by("id").first() if vendor else None
    if team is None:
        return 0
    made = 0
    for compound in Location.objects.filter(org=centre, kind=LocationKind.COMPOUND):
        for category in categories.values():
            _obj, created = Responsibility.objects.get_or_create(
                org=centre, category=category, location=compound, defaults={"team": team}
            )
            made += created
    return made


def _room_spec(
    rng: random.Random, loc: Location, building: Location | None, shared_taken: bool, city: bool
) -> dict[str, Any]:
    """What kind of room a 会议室 location is: by its name and size."""
    where = building.name if building else ""
    name = loc.name
    if name == "多功能厅":
        return {
            "name": f"{where}大会议厅",
            "resource_class": ResourceClass.LARGE_HALL,
            "capacity": 200,
            "equipment": ["microphone", "projector", "recording", "screen", "video"],
            "requires_approval": True,
            "description": "多功能厅，主席台和 200 个座位，须提前 3 天预订并经审批。",
            "_kind": "hall",
        }
    if name == "贵宾室":
        return {
            "name": f"{where}贵宾室",
            "resource_class": ResourceClass.MEETING_ROOM,
            "capacity": 16,
            "equipment": ["name_cards", "screen"],
            "description": "接待座谈用，沙发围坐。",
            "_kind": "vip",
        }
    if city and not shared_taken and name.startswith("第") and (loc.area_m2 or 0) >= 100:
        return {
            "name": "共享会议室",
            "resource_class": ResourceClass.SHARED_ROOM,
            "capacity": 50,
            "equipment": ["microphone", "projector", "screen", "video"],
            "shared": True,
            "description": "面向各单位开放，须提前 1 天预订；紧急会议可先用后登记。",
            "_kind": "shared",
        }
    if name.startswith("第"):
        big = (loc.area_m2 or 0) >= 100
        if big:
            return {
                "name": f"{where}{name}",
                "resource_class": ResourceClass.MEETING_ROOM,
                "capacity": rng.choice((50, 60)),
                "equipment": ["microphone", "projector", "screen", "video"],
                "_kind": "conference",
            }
        return {
            "name": f"{where}{name}",
            "resource_class": ResourceClass.STANDARD_ROOM,
            "capacity": 30,
            "equipment": ["projector", "whiteboard"],
            "_kind": "standard",
        }
    floor = int("".join(ch for ch in name if ch.isdigit()) or 1)
    if floor % 2:
        pool = ["projector", "screen", "whiteboard", "video", "microphone"]
        kit = sorted(rng.sample(pool, rng.randint(1, 3)))
        return {
            "name": f"{where}{name}",
            "resource_class": ResourceClass.MEETING_ROOM,
            "capacity": rng.choice((12, 16, 20, 24)),
            "equipment": kit,
            "_kind": "meeting",
        }
    return {
        "name": f"{where}{name}",
        "resource_class": ResourceClass.STANDARD_ROOM,
        "capacity": rng.choice((8, 10, 12)),
        "equipment": rng.choice(([], ["whiteboard"], ["screen"])),
        "_kind": "standard",
    }


@dataclass
class RoomInfo:
    room: Room
    kind: str  # hall, vip, shared, conference, meeting, standard
    lead: timedelta
    advance: timedelta | None
    windows: tuple[tuple[str, time, time], ...]
    needs_equipment: bool
    busy: dict[date, list[tuple[datetime, datetime]]] = field(default_factory=dict)

    def free(self, start: datetime, end: datetime) -> bool:
        day = start.astimezone(SHANGHAI).date()
        return all(end <= s or start >= e for s, e in self.busy.get(day, ()))

    def reserve(self, start: datetime, end: datetime) -> None:
        self.busy.setdefault(start.astimezone(SHANGHAI).date(), []).append((start, end))


def build_rooms(admin: Any, centre: Organization, rng: random.Random) -> list[Room]:
    """A room for each location tagged 会议室 in the centre's compounds (left as they are
    when the location has one already)."""
    from . import services

    taken = set(Room.objects.filter(org=centre).values_list("location_id", flat=True))
    buildings = {b.path: b for b in Location.objects.filter(org=centre, kind=LocationKind.BUILDING)}
    locs = [
        loc
        for loc in Location.objects.filter(org=centre, kind=LocationKind.ROOM, is_active=True)
        .order_by("path")
        .only("id", "name", "tags", "area_m2", "path", "org_id")
        if "会议室" in (loc.tags or [])
    ]
    is_city = centre.parent_id is None
    shared_taken = Room.objects.filter(shared=True).exists()
    made = []
    for loc in locs:
        building = next((b for p, b in buildings.items() if loc.path.startswith(p)), None)
        spec = _room_spec(rng, loc, building, shared_taken, is_city)
        spec.pop("_kind")
        if loc.pk in taken:
            continue
        shared_taken = shared_taken or spec.get("shared", False)
        made.append(services.save_room(actor=admin, org_id=centre.pk, location_id=loc.pk, **spec))
    return made


def _room_kind(room: Room) -> str:
    if room.resource_class == ResourceClass.LARGE_HALL:
        return "hall"
    if room.shared:
        return "shared"
    if "贵宾" in room.name:
        return "vip"
    if room.resource_class == ResourceClass.STANDARD_ROOM:
        return "standard"
    return "conference" if room.capacity >= 50 else "meeting"


# --- appointment services --------------------------------------------------------------

BARBERS = ("张师傅", "李师傅", "王师傅")
WASHERS = ("陈师傅", "刘师傅")


def _service_place(centre: Organization, name: str, tag: str, *, outdoor: bool) -> Location:
    """The barber's room on the main building's ground floor, or the car-wash bay in
    the compound (made once)."""
    existing = Location.objects.filter(org=centre, name=name).first()
    if existing is not None:
        return existing
    compound = Location.objects.filter(org=centre, kind=LocationKind.COMPOUND).order_by("path")[0]
    if outdoor:
        return make_location(
            centre, name, LocationKind.AREA, compound, area_m2=Decimal(120), tags=[tag]
        )
    building = (
        Location.objects.filter(org=centre, kind=LocationKind.BUILDING, parent=compound)
        .order_by("path")
        .first()
    )
    floor = Location.objects.filter(parent=building, kind=LocationKind.FLOOR).order_by("path")[0]
    return make_location(centre, name, LocationKind.ROOM, floor, area_m2=Decimal(30), tags=[tag])


def build_services(
    admin: Any, city: Organization, county: Organization | None, now: datetime
) -> list[AppointmentService]:
    """Barber shops at the city (open to every unit) and in one county (its own
    people), the city's car wash for official cars (open to every unit)."""
    from . import appointments

    specs: list[tuple[Organization, dict[str, Any], tuple[str, str, bool]]] = [
        (
            city,
            {
                "code": "barber", "name": "理发室", "slot_minutes": 30, "seats_per_slot": 3,
                "opens_at": "09:00", "closes_at": "17:00",
                "breaks": [{"start": "12:00", "end": "13:30"}],
                "description": "三位师傅，每人每次只能有一个未完成的预约。", "shared": True,
                "providers": BARBERS,
            },
            ("理发室", "理发室", False),
        ),
        (
            city,
            {
                "code": "car_wash", "name": "公务车辆清洗", "slot_minutes": 60,
                "seats_per_slot": 2, "opens_at": "08:30", "closes_at": "17:30",
                "breaks": [{"start": "12:00", "end": "13:30"}], "book_ahead_days": 7,
                "min_lead_minutes": 60, "description": "两个洗车工位，外观清洗和内饰清洁。",
                "shared": True, "providers": WASHERS,
            },
            ("洗车点", "洗车点", True),
        ),
    ]  # fmt: skip
    if county is not None:
        specs.append(
            (
                county,
                {
                    "code": "barber", "name": "理发室", "slot_minutes": 30, "seats_per_slot": 3,
                    "opens_at": "09:00", "closes_at": "17:00",
                    "breaks": [{"start": "12:00", "end": "13:30"}],
                    "description": "本中心职工理发，每人每次只能有一个未完成的预约。",
                    "providers": ("赵师傅", "钱师傅", "孙师傅"),
                },
                ("理发室", "理发室", False),
            )
        )  # fmt: skip
    out = []
    for org, spec, (place, tag, outdoor) in specs:
        existing = AppointmentService.objects.filter(org=org, code=spec["code"]).first()
        if existing is not None:
            out.append(existing)
            continue
        loc = _service_place(org, place, tag, outdoor=outdoor)
        spec = {"book_ahead_days": 7, "min_lead_minutes": 30, "cancel_before_minutes": 60,
                "per_person_open_limit": 1, **spec}  # fmt: skip
        spec["providers"] = list(spec["providers"])
        out.append(
            appointments.save_service(
                actor=admin, org_id=org.pk, location_id=loc.pk, now=now, **spec
            )
        )
    return out


# --- the history -------------------------------------------------------------------------


@dataclass
class Centre:
    org: Organization
    manager: Any
    server: Any  # marks appointments served (the dispatcher: bookings.serve)
    bookers: list[Any]  # people who book the centre's rooms (grants at the centre)
    units: list[Organization]  # the centre and its departments (organising units)
    rooms: list[RoomInfo] = field(default_factory=list)


@dataclass
class Meeting:
    info: RoomInfo
    booker: Any
    start: datetime
    end: datetime
    requested: datetime
    title: str
    meeting_type: str
    attendees: int
    unit_id: int | None
    equipment: list[str]
    leaders: bool = False
    priority: str = Priority.NORMAL
    services: list[dict[str, str]] = field(default_factory=list)
    fate: str = "held"  # held, no_show, cancel, pending, reject
    cancel_at: datetime | None = None
    decide_at: datetime | None = None
    displace_reason: str = ""
    emergency: bool = False
    key: str = ""


def _user(org: Organization, role: str) -> Any:
    return (
        User.objects.filter(grants__org=org, grants__role=role, is_active=True)
        .order_by("id")
        .first()
    )


class History:
    """Plans the meetings and appointments, then lives them through the services in
    time order (a ``Timeline``: nothing at or after ``now`` runs)."""

    def __init__(
        self, centres: list[Centre], now: datetime, weeks: int, rng: random.Random
    ) -> None:
        from dayuan.inspections.demo import Timeline

        self.centres = centres
        self.now = now
        self.rng = rng
        self.timeline = Timeline(now)
        today = now.astimezone(SHANGHAI).date()
        self.today = today
        self.first_day = today - timedelta(days=7 * weeks)
        self.last_day = today + timedelta(days=UPCOMING_DAYS)
        self.counts: dict[str, int] = {}
        self.refusals: list[str] = []
        self.meetings: list[Meeting] = []
        self.by_key: dict[str, int] = {}  # scripted meeting key -> booking id
        self.everyone = [u for c in centres for u in c.bookers]
        # Volume: full from FULL_WEEKS of history on (the tests' two weeks are thinner).
        self.scale = min(1.0, max(weeks, 1) / FULL_WEEKS)

    def bump(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def attempt(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run one service call; a refusal is counted and logged, never fatal (the
        demo loads at any moment of any day). The services own their transactions (a
        savepoint each here): no second savepoint around them, since releasing one in
        the demo's single large SQLite transaction costs milliseconds."""
        try:
            return fn()
        except DomainError as exc:
            self.bump("refused")
            if len(self.refusals) < 20:
                self.refusals.append(f"{what}: {exc.code} {exc.message}")
            logger.warning("booking demo: %s refused: %s %s", what, exc.code, exc.message)
            return None

    # planning -------------------------------------------------------------------------

    def workdays(self, start: date, end: date) -> list[date]:
        from dayuan.workcalendar.calendar import is_workday

        days, d = [], start
        while d <= end:
            if is_workday(d):
                days.append(d)
            d += timedelta(days=1)
        return days

    def request_time(self, info: RoomInfo, start: datetime, lead: timedelta) -> datetime | None:
        """When the booker asked: ``lead`` before the start (at least the rule's), moved
        back into a request window; None when no such moment lies before now."""
        from dayuan.workcalendar.calendar import is_workday

        latest = min(
            start - max(lead, info.lead + timedelta(minutes=5)),
            self.now - timedelta(minutes=self.rng.randint(1, 90)),
        )
        local = latest.astimezone(SHANGHAI)
        day = local.date()
        windows = info.windows or OFFICE_WINDOWS
        for _ in range(40):
            if is_workday(day):
                for _days, w_start, w_end in sorted(windows, key=lambda w: w[1], reverse=True):
                    opens = _local(day, w_start)
                    closes = _local(day, w_end) - timedelta(minutes=1)
                    if opens <= local:
                        if local > closes:
                            span = int((closes - opens).total_seconds() // 60)
                            local = opens + timedelta(minutes=self.rng.randint(0, span))
                        t = local.replace(second=0, microsecond=0)
                        if info.advance is not None and start - t > info.advance:
                            return None
                        return t if t < self.now else None
            day -= timedelta(days=1)
            local = _local(day, time(23, 59))
        return None

    def pick_lead(self, info: RoomInfo, start: datetime) -> timedelta:
        if info.kind == "hall":
            return timedelta(days=self.rng.randint(4, 12))
        if info.lead >= timedelta(days=1):
            return timedelta(days=self.rng.choice((1, 1, 2, 2, 3, 5, 7)))
        return _weighted(
            self.rng,
            (
                (timedelta(hours=self.rng.randint(3, 20)), 4),
                (timedelta(days=self.rng.randint(1, 4)), 5),
                (timedelta(days=self.rng.randint(5, 12)), 2),
            ),
        )

    def meeting(
        self,
        centre: Centre,
        info: RoomInfo,
        start: datetime,
        end: datetime,
        *,
        booker: Any = None,
        title: str = "",
        meeting_type: str = "",
        requested: datetime | None = None,
        **extra: Any,
    ) -> Meeting | None:
        """Plan one meeting in a free range of the room; None when it cannot be."""
        rng = self.rng
        if not info.free(start, end):
            return None
        if requested is None:
            requested = self.request_time(info, start, self.pick_lead(info, start))
        if requested is None:
            return None
        room = info.room
        if not meeting_type:
            meeting_type = _weighted(rng, tuple(TYPE_WEIGHTS.items()))
            if info.kind == "hall":
                meeting_type = rng.choice((MeetingType.TRAINING, MeetingType.OTHER))
        if not title:
            pool = HALL_TITLES if info.kind == "hall" else TITLES[meeting_type]
            title = rng.choice(pool)
        if booker is None:
            booker = rng.choice(self.everyone if info.kind == "shared" else centre.bookers)
        unit = rng.choice(centre.units) if booker.home_org_id == centre.org.pk else None
        low = max(1, room.capacity // (4 if info.kind == "hall" else 3))
        attendees = rng.randint(low, room.capacity)
        kit = list(room.equipment)
        if info.needs_equipment:
            equipment = sorted(rng.sample(kit, rng.randint(1, len(kit))))
        else:
            equipment = sorted(rng.sample(kit, rng.randint(0, len(kit)))) if kit else []
        m = Meeting(
            info=info,
            booker=booker,
            start=start,
            end=end,
            requested=requested,
            title=title,
            meeting_type=meeting_type,
            attendees=attendees,
            unit_id=unit.pk if unit else None,
            equipment=equipment,
            leaders=rng.random() < 0.2,
            **extra,
        )
        info.reserve(start, end)
        self.meetings.append(m)
        return m

    def plan_random(self) -> None:
        rng = self.rng
        days = self.workdays(self.first_day, self.last_day)
        for centre in self.centres:
            for info in centre.rooms:
                rate = POPULARITY[info.kind] * self.scale
                for day in days:
                    ahead = (day - self.today).days
                    thin = 1.0 if ahead <= 1 else max(0.15, 1 - ahead / (UPCOMING_DAYS + 2))
                    for _ in range(4):
                        if rng.random() >= rate * thin / 4:
                            continue
                        at = _weighted(rng, STARTS)
                        length = _weighted(
                            rng, HALL_DURATIONS if info.kind == "hall" else DURATIONS
                        )
                        start = _local(day, at)
                        end = min(
                            start + timedelta(minutes=length), _local(day, info.room.closes_at)
                        )
                        m = self.meeting(centre, info, start, end)
                        if m is not None:
                            self.fate(m)

    def fate(self, m: Meeting) -> None:
        """What becomes of a planned meeting: cancelled before the start, a no-show,
        held; hall bookings are decided by a manager first."""
        rng = self.rng
        if m.info.kind == "hall" and m.fate == "held":
            decide = m.requested + timedelta(hours=rng.randint(2, 30))
            m.decide_at = min(decide, m.start - timedelta(hours=2))
        if m.start >= self.now and m.info.kind != "hall" and rng.random() < SERVICE_SHARE:
            kinds = [ServiceKind.TEA]
            if m.equipment and rng.random() < 0.5:
                kinds.append(ServiceKind.AV)
            if m.attendees >= 20 and rng.random() < 0.3:
                kinds.append(ServiceKind.LAYOUT)
            m.services = [{"kind": str(k), "note": rng.choice(SERVICE_NOTES[k])} for k in kinds]
        r = rng.random()
        if r < CANCEL_SHARE:
            span = (m.start - timedelta(minutes=30) - m.requested).total_seconds()
            if span > 600:
                m.fate = "cancel"
                m.cancel_at = m.requested + timedelta(seconds=rng.uniform(300, span))
        elif r < CANCEL_SHARE + NO_SHOW_SHARE:
            m.fate = "no_show"

    def centre_of(self, code: str) -> Centre | None:
        return next((c for c in self.centres if c.org.code == code), None)

    def free_start(
        self, info: RoomInfo, day: date, minutes: int, starts: Sequence[time] = ()
    ) -> datetime | None:
        for at in starts or [s for s, _w in STARTS]:
            start = _local(day, at)
            if info.free(start, start + timedelta(minutes=minutes)):
                return start
        return None

    def plan_scripted(self) -> None:
        """The cases every demo shows, planned before the random ones (they take their
        time first)."""
        rng = self.rng
        now = self.now
        city = self.centres[0]
        upcoming = self.workdays(self.today + timedelta(days=1), self.last_day)
        # A meeting in progress (checked in) when the load happens in office hours.
        local = now.astimezone(SHANGHAI)
        room = next((i for i in city.rooms if i.kind == "conference"), city.rooms[0])
        start = local.replace(minute=0 if local.minute < 30 else 30, second=0, microsecond=0)
        if (local - start) < timedelta(minutes=5):
            start -= timedelta(minutes=30)
        end = start + timedelta(minutes=90)
        if (
            self.workdays(local.date(), local.date())
            and start.time() >= room.room.opens_at
            and end.time() <= room.room.closes_at
            and end > now + timedelta(minutes=10)
        ):
            self.meeting(
                city,
                room,
                start,
                end,
                title="后勤保障工作推进会",
                meeting_type=MeetingType.OFFICE,
                fate="held",
                key="in_progress",
            )

        # The weekly 办公会 (Mondays 09:00–10:30) with one occurrence refused: the room
        # was booked for a reception before the series was made.
        room = next(
            (i for i in city.rooms if i.kind == "meeting" and "projector" in i.room.equipment),
            city.rooms[0],
        )
        monday = self.first_day - timedelta(days=self.first_day.weekday())
        if monday < self.first_day:
            monday += timedelta(days=7)
        count = max(2, (self.last_day - monday).days // 7 + 1)
        first = _local(monday, time(9, 0))
        clash = first + timedelta(days=7 * min(2, count - 1))
        made = self.request_time(room, first, timedelta(days=4))
        staff = User.objects.filter(username="city_staff").first() or city.bookers[0]
        early = self.request_time(room, clash, (clash - first) + timedelta(days=6))
        if made is not None and early is not None:
            self.meeting(
                city,
                room,
                clash,
                clash + timedelta(minutes=90),
                requested=early,
                title="上级单位调研座谈",
                meeting_type=MeetingType.RECEPTION,
                key="series_clash",
            )
            for k in range(count):
                s = first + timedelta(days=7 * k)
                if s != clash:
                    room.reserve(s, s + timedelta(minutes=90))
            self.timeline.at(
                made,
                lambda t, r=room, f=first, n=count, u=staff: self.book_series(r, f, n, u, t),
            )

        # Displaced: a county's booking of the shared room gives way to an urgent one.
        shared = next((i for i in city.rooms if i.kind == "shared"), None)
        if shared is not None and len(upcoming) >= 3:
            day = upcoming[min(2, len(upcoming) - 1)]
            start = self.free_start(shared, day, 90, (time(14, 30), time(15, 0), time(9, 0)))
            xihu = self.centre_of("xihu")
            booker = User.objects.filter(username="xihu_staff").first()
            if start is not None and xihu and booker:
                first_req = self.request_time(shared, start, start - now + timedelta(days=2))
                m = self.meeting(
                    city,
                    shared,
                    start,
                    start + timedelta(minutes=90),
                    booker=booker,
                    title="西湖县机关事务工作交流会",
                    meeting_type=MeetingType.RECEPTION,
                    requested=first_req,
                    key="displaced",
                )
                if m is not None:
                    later = self.request_time(shared, start, timedelta(days=1, hours=2))
                    if later is not None and later > m.requested:
                        shared.busy[day].remove((start, start + timedelta(minutes=90)))
                        self.meeting(
                            city,
                            shared,
                            start,
                            start + timedelta(minutes=90),
                            booker=city.manager,
                            title="市领导专题会议",
                            meeting_type=MeetingType.OFFICE,
                            requested=later,
                            priority=Priority.URGENT,
                            key="displacer",
                            displace_reason=DISPLACE_REASON,
                        )
            # 先用后登记: an emergency meeting registered 10 minutes after it began.
            past = self.workdays(self.first_day, self.today - timedelta(days=1))
            if past:
                day = past[len(past) // 2]
                start = self.free_start(shared, day, 60, (time(16, 0), time(15, 30), time(10, 0)))
                if start is not None:
                    self.meeting(
                        city,
                        shared,
                        start,
                        start + timedelta(minutes=60),
                        booker=city.manager,
                        title="防汛应急处置会商会",
                        meeting_type=MeetingType.OFFICE,
                        requested=start + timedelta(minutes=10),
                        emergency=True,
                        priority=Priority.URGENT,
                        key="emergency",
                    )

        # Halls: one booking waiting for approval in each centre; one rejected at the city.
        for n, centre in enumerate(self.centres):
            hall = next((i for i in centre.rooms if i.kind == "hall"), None)
            if hall is None or len(upcoming) < 5:
                continue
            day = upcoming[rng.randint(4, len(upcoming) - 1)]
            start = self.free_start(hall, day, 180, (time(9, 0), time(14, 30)))
            if start is not None:
                self.meeting(
                    centre,
                    hall,
                    start,
                    start + timedelta(minutes=180),
                    title="年度工作总结表彰大会",
                    meeting_type=MeetingType.OTHER,
                    booker=centre.manager if n % 2 else None,
                    fate="pending",
                    requested=self.request_time(hall, start, timedelta(days=4)),
                    key=f"pending_{centre.org.code}",
                )
            if n == 0:
                day = upcoming[3]
                start = self.free_start(hall, day, 120, (time(14, 30), time(9, 0)))
                if start is not None:
                    self.meeting(
                        centre,
                        hall,
                        start,
                        start + timedelta(minutes=120),
                        title="职工文艺汇演彩排",
                        meeting_type=MeetingType.OTHER,
                        fate="reject",
                        key="rejected",
                        requested=self.request_time(hall, start, timedelta(days=5)),
                    )

        # Every demo login has an upcoming meeting in its own centre.
        for centre in self.centres:
            own = [i for i in centre.rooms if i.kind in ("meeting", "conference", "standard")]
            for booker in centre.bookers:
                for day in upcoming[:6]:
                    info = rng.choice(own) if own else None
                    start = info and self.free_start(
                        info, day, 60, (time(9, 30), time(15, 0), time(10, 30), time(16, 0))
                    )
                    if start is None:
                        continue
                    m = self.meeting(
                        centre,
                        info,
                        start,
                        start + timedelta(minutes=60),
                        booker=booker,
                        key=f"login_{booker.username}",
                    )
                    if m is not None:
                        if booker == centre.manager:
                            m.services = [{"kind": str(ServiceKind.TEA), "note": "会前备好茶水"}]
                        break

    # living it ------------------------------------------------------------------------

    def schedule(self) -> None:
        for m in sorted(self.meetings, key=lambda m: (m.requested, m.start)):
            self.timeline.at(m.requested, lambda t, m=m: self.book(m, t))

    def book(self, m: Meeting, t: datetime) -> None:
        from . import services

        room = m.info.room
        fields = dict(
            actor=m.booker,
            room_id=room.pk,
            start_at=m.start,
            end_at=m.end,
            title=m.title,
            attendees=m.attendees,
            organizer_unit_id=m.unit_id,
            meeting_type=m.meeting_type,
            leaders_attending=m.leaders,
            equipment=m.equipment,
            contact_name=m.booker.display_name,
            contact_phone=m.booker.phone,
            priority=m.priority,
            emergency=m.emergency,
            services=m.services,
            displace=bool(m.displace_reason),
            displace_reason=m.displace_reason,
            now=t,
        )
        booking = self.attempt(
            f"book {room.name} {m.start:%m-%d %H:%M}", lambda: services.book_room(**fields)
        )
        if booking is None:
            return
        self.bump("booked")
        if m.key:
            self.by_key[m.key] = booking.pk
        self.follow(m, booking, t)

    def follow(self, m: Meeting, booking: Booking, t: datetime) -> None:
        """Schedule what happens to a booking after it was made."""
        rng = self.rng
        centre_manager = next(c.manager for c in self.centres if c.org.pk == booking.org_id)
        if booking.status == "pending":
            if m.fate == "reject":
                at = m.requested + (self.now - m.requested) * rng.uniform(0.3, 0.9)
                self.timeline.at(at, lambda t, b=booking.pk, u=centre_manager: self.reject(b, u, t))
                return
            if m.fate == "pending":
                return
            at = m.decide_at or m.requested + timedelta(hours=3)
            if m.fate == "cancel" and m.cancel_at and m.cancel_at <= at:
                at = m.cancel_at - timedelta(minutes=1)
            self.timeline.at(at, lambda t, b=booking.pk, u=centre_manager: self.approve(b, u, t))
        if m.fate == "cancel" and m.cancel_at:
            self.timeline.at(m.cancel_at, lambda t, b=booking.pk, u=m.booker: self.cancel(b, u, t))
            return
        if m.fate == "no_show":
            grace = timedelta(minutes=m.info.room.checkin_grace_minutes)
            self.timeline.at(m.start + grace + timedelta(minutes=1), self.release)
            return
        early = timedelta(minutes=rng.randint(-2, 14))
        check = max(m.start - early, t + timedelta(minutes=1))
        self.timeline.at(check, lambda t, b=booking.pk, u=m.booker: self.check_in(b, u, t))
        end = m.end - timedelta(minutes=rng.choice((0, 0, 0, 5, 10, 20)))
        self.timeline.at(end, lambda t, b=booking.pk, u=m.booker: self.end(b, u, t))

    def book_series(self, info: RoomInfo, first: datetime, count: int, booker: Any, t) -> None:
        from . import services

        room = info.room
        result = self.attempt(
            "book_series",
            lambda: services.book_series(
                actor=booker,
                room_id=room.pk,
                rrule=f"FREQ=WEEKLY;BYDAY=MO;COUNT={count}",
                first_start=first,
                duration_minutes=90,
                title="中心主任办公会",
                attendees=min(room.capacity, 12),
                meeting_type=MeetingType.OFFICE,
                leaders_attending=True,
                equipment=[room.equipment[0]] if room.equipment else [],
                contact_name=booker.display_name,
                contact_phone=booker.phone,
                now=t,
            ),
        )
        if result is None:
            return
        series, booked = result
        self.bump("series")
        self.bump("booked", len(booked))
        self.bump("series_conflicts", len(series.conflicts))
        for b in booked:
            m = Meeting(
                info=info,
                booker=booker,
                start=b.start_at,
                end=b.end_at,
                requested=t,
                title=b.title,
                meeting_type=b.meeting_type,
                attendees=b.attendees,
                unit_id=None,
                equipment=b.equipment,
            )
            self.follow(m, b, t)

    def approve(self, booking_id: int, manager: Any, t: datetime) -> None:
        from . import services

        if self.attempt(
            "approve",
            lambda: services.approve(actor=manager, booking_id=booking_id, note="同意。", now=t),
        ):
            self.bump("approved")

    def reject(self, booking_id: int, manager: Any, t: datetime) -> None:
        from . import services

        self.attempt(
            "reject",
            lambda: services.reject(
                actor=manager,
                booking_id=booking_id,
                reason="当天已安排全市性会议，请改期或改用其他会议室。",
                now=t,
            ),
        )

    def cancel(self, booking_id: int, booker: Any, t: datetime) -> None:
        from . import services

        self.attempt(
            "cancel",
            lambda: services.cancel(
                actor=booker, booking_id=booking_id, reason=self.rng.choice(CANCEL_REASONS), now=t
            ),
        )

    def check_in(self, booking_id: int, booker: Any, t: datetime) -> None:
        from . import services

        self.attempt(
            "check_in", lambda: services.check_in(actor=booker, booking_id=booking_id, now=t)
        )

    def end(self, booking_id: int, booker: Any, t: datetime) -> None:
        from . import services

        done = self.attempt(
            "end_meeting", lambda: services.end_meeting(actor=booker, booking_id=booking_id, now=t)
        )
        if done is None:
            return
        from .models import MeetingService

        order_id = (
            MeetingService.objects.filter(booking_id=booking_id, kind=ServiceKind.CLEANING)
            .values_list("workorder_id", flat=True)
            .first()
        )
        if order_id:
            self.bump("cleaning_orders")
            self.timeline.at(
                t + timedelta(minutes=self.rng.randint(5, 20)),
                lambda t, o=order_id: self.clean(o, t),
            )

    def clean(self, order_id: int, t: datetime) -> None:
        """The crew takes the cleaning order, does it and the booker confirms."""
        from dayuan.workorders import services as wo
        from dayuan.workorders.models import WorkOrder

        order = WorkOrder.objects.filter(pk=order_id).first()
        if order is None or order.assignee_id is None or order.status != "dispatched":
            return
        worker = order.assignee

        def run() -> bool:
            o = wo.accept(actor=worker, order_id=order_id, version=order.version, now=t)
            o = wo.arrive(
                actor=worker, order_id=order_id, version=o.version, now=t + timedelta(minutes=3)
            )
            done = t + timedelta(minutes=self.rng.randint(20, 45))
            wo.resolve(
                actor=worker,
                order_id=order_id,
                version=o.version,
                resolution="会场已清扫，桌椅复位，垃圾清运完毕。",
                now=done,
            )
            return True

        if self.attempt("clean", run):
            self.bump("cleaned")

    def release(self, t: datetime) -> None:
        from . import services

        fn = getattr(services, "release_no_shows", None)
        if fn is None:
            from . import tasks

            fn = tasks.release_no_shows
        released = self.attempt("release_no_shows", lambda: fn(now=t))
        self.bump("released", released or 0)

    # appointments ---------------------------------------------------------------------

    def plan_appointments(self, services: list[AppointmentService]) -> None:
        """Slots over the history and the days ahead; past ones mostly served, a few
        no-shows and cancellations; every demo login holds one upcoming appointment
        (their own centre's barber, else the city's shared one)."""
        from . import appointments

        rng = self.rng
        start = min(self.first_day, self.today)
        days = (self.last_day - start).days + 1
        by_org = {c.org.pk: c for c in self.centres}
        barbers = {s.org_id: s for s in services if s.code == "barber"}
        city_barber = barbers.get(self.centres[0].org.pk)
        mine: dict[int, list[Any]] = {}  # service id -> demo logins with an upcoming one
        for centre in self.centres:
            service = barbers.get(centre.org.pk) or city_barber
            if service is not None:
                mine.setdefault(service.pk, []).extend(centre.bookers)
        for service in services:
            self.bump("slots", appointments.generate_slots(service, start=start, days=days))
            ahead = timedelta(days=service.book_ahead_days)
            lead = timedelta(minutes=service.min_lead_minutes + 5)
            slots = list(
                Slot.objects.filter(
                    service=service,
                    start_at__gte=_local(self.first_day, time(0)),
                    start_at__lt=self.now + ahead,
                    is_open=True,
                ).order_by("start_at")
            )
            own = by_org[service.org_id].bookers if service.org_id in by_org else []
            people = self.everyone if service.shared else own
            if not people or not slots:
                continue
            busy_until: dict[int, datetime] = {}
            reserved_from: dict[int, datetime] = {}
            taken: dict[int, int] = {}
            soon, late = self.now + timedelta(hours=3), self.now + ahead - timedelta(days=1)
            future = [s for s in slots if soon < s.start_at < late]
            for i, person in enumerate(mine.get(service.pk, [])):
                if not future:
                    break
                k = (i * 7 + 2) % len(future)
                while taken.get(future[k].pk, 0) >= future[k].seats - 1:
                    k = (k + 1) % len(future)
                slot = future[k]
                at = self.now - timedelta(hours=rng.randint(2, 20))
                self.appointment(service, slot, person, at, fate="upcoming")
                taken[slot.pk] = taken.get(slot.pk, 0) + 1
                reserved_from[person.pk] = at
            rate = APPOINTMENT_RATE * self.scale
            far = datetime.max.replace(tzinfo=SHANGHAI)
            scripted = ["cancel", "no_show"]  # each service shows both, whatever the volume
            for slot in slots:
                past = slot.start_at < self.now
                for _ in range(slot.seats - taken.get(slot.pk, 0)):
                    if rng.random() >= rate / slot.seats * (2 if past else 1):
                        continue
                    r = rng.random()
                    fate = "served" if r > 0.15 else "no_show" if r > 0.07 else "cancel"
                    if past and scripted and slot.start_at - self.now < timedelta(days=-1):
                        fate = scripted.pop()
                    early = 60 * 24 if fate == "cancel" else 60
                    at = slot.start_at - timedelta(minutes=rng.randint(early, 60 * 24 * 3))
                    at = max(at, slot.start_at - ahead + timedelta(minutes=5))
                    at = min(at, slot.start_at - lead)
                    if at >= self.now:
                        at = self.now - timedelta(minutes=rng.randint(5, 60))
                        if slot.start_at - at > ahead:
                            continue
                    free = [
                        p
                        for p in people
                        if busy_until.get(p.pk, at) <= at
                        and slot.end_at <= reserved_from.get(p.pk, far)
                    ]
                    if not free:
                        continue
                    person = rng.choice(free)
                    busy_until[person.pk] = slot.end_at
                    self.appointment(service, slot, person, at, fate=fate)
                    taken[slot.pk] = taken.get(slot.pk, 0) + 1

    def appointment(
        self, service: AppointmentService, slot: Slot, person: Any, at: datetime, *, fate: str
    ) -> None:
        centre = next(c for c in self.centres if c.org.pk == service.org_id)

        def book(t: datetime) -> None:
            from . import appointments

            appt = self.attempt(
                f"book_slot {service.code} {slot.start_at:%m-%d %H:%M}",
                lambda: appointments.book_slot(actor=person, slot_id=slot.pk, note="", now=t),
            )
            if appt is None:
                return
            self.bump("appointments")
            if fate == "served":
                self.timeline.at(
                    slot.end_at - timedelta(minutes=self.rng.randint(0, 10)),
                    lambda t, a=appt.pk: self.serve(a, centre.server, t),
                )
            elif fate == "no_show":
                self.timeline.at(
                    slot.end_at + timedelta(minutes=5),
                    lambda t, a=appt.pk: self.no_show(a, centre.server, t),
                )
            elif fate == "cancel":
                last = slot.start_at - timedelta(minutes=service.cancel_before_minutes + 5)
                if last > t:
                    when = t + (last - t) * self.rng.random()
                    self.timeline.at(when, lambda t, a=appt.pk: self.cancel_appt(a, person, t))
                else:
                    self.timeline.at(
                        slot.end_at, lambda t, a=appt.pk: self.serve(a, centre.server, t)
                    )

        self.timeline.at(at, book)

    def serve(self, appointment_id: int, server: Any, t: datetime) -> None:
        from . import appointments

        self.attempt(
            "mark_served",
            lambda: appointments.mark_served(actor=server, appointment_id=appointment_id, now=t),
        )

    def no_show(self, appointment_id: int, server: Any, t: datetime) -> None:
        from . import appointments

        self.attempt(
            "mark_no_show",
            lambda: appointments.mark_no_show(actor=server, appointment_id=appointment_id, now=t),
        )

    def cancel_appt(self, appointment_id: int, person: Any, t: datetime) -> None:
        from . import appointments

        self.attempt(
            "cancel_appointment",
            lambda: appointments.cancel_appointment(
                actor=person, appointment_id=appointment_id, now=t
            ),
        )


def _centre(org: Organization) -> Centre:
    from dayuan.accounts.models import Grant

    manager = _user(org, Role.MANAGER) or _user(org, Role.ADMIN)
    user_ids = (
        Grant.objects.filter(org=org, role__in=CENTRE_ROLES)
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )
    bookers = list(User.objects.filter(pk__in=list(user_ids), is_active=True).order_by("id"))
    departments = Organization.objects.filter(parent=org, kind=OrgKind.DEPARTMENT)
    units = [org, *departments.order_by("path")]
    return Centre(
        org=org,
        manager=manager,
        server=_user(org, Role.DISPATCHER) or manager,
        bookers=bookers or [manager],
        units=units,
    )


def _room_infos(centre: Centre, now: datetime) -> None:
    from dayuan.standards import engine

    rules: dict[str, Any] = {}
    for room in Room.objects.filter(org=centre.org, is_active=True).order_by("id"):
        rc = room.resource_class
        if rc not in rules:
            rules[rc] = engine.booking_rules(centre.org, rc, at=now)
        rs = rules[rc]
        windows = tuple((w.days, w.start, w.end) for w in rs.windows)
        centre.rooms.append(
            RoomInfo(
                room=room,
                kind=_room_kind(room),
                lead=timedelta(minutes=rs.lead_time_minutes),
                advance=timedelta(days=rs.max_advance_days) if rs.max_advance_days else None,
                windows=windows,
                needs_equipment="equipment" in rs.required_fields and bool(room.equipment),
            )
        )


# --- the entry point ---------------------------------------------------------------------


@transaction.atomic
def load_demo(
    admin: Any,
    city: Organization,
    counties: Sequence[Organization],
    *,
    weeks: int = 8,
    seed: int = 2026,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The bookings part of the demo; returns row counts. Runs after the work-order
    demo (the property crews serve the meetings). A second run adds nothing."""
    from dayuan.workorders.demo import frozen_day_table

    now = now or timezone.now()
    rng = random.Random(seed)
    counts: dict[str, Any] = {}
    with frozen_day_table():
        counts["standards"] = install_standard(admin, city)
        start = _local((now - timedelta(days=7 * weeks + 21)).astimezone(SHANGHAI).date(), time(0))
        rules_in_force_since(start)
        centre_orgs = [city, *counties]
        loaded = Booking.objects.exists() or Appointment.objects.exists()
        kinds = [str(k) for k, *_rest in MEETING_CATEGORIES]
        if not loaded:  # cleaning joins the catalogue during the history (CLEANING_WORKDAYS)
            kinds.remove(ServiceKind.CLEANING)
        categories = build_categories(city, kinds)
        counts["responsibilities"] = sum(
            build_responsibilities(org, categories) for org in centre_orgs
        )
        counts["rooms"] = sum(len(build_rooms(admin, org, rng)) for org in centre_orgs)
        services = build_services(admin, city, counties[0] if counties else None, now)
        if loaded:
            return counts  # loaded before: keep that history
        centres = [_centre(org) for org in [city, *counties]]
        for centre in centres:
            _room_infos(centre, now)
        h = History(centres, now, max(0, weeks), rng)
        h.plan_scripted()
        h.plan_random()
        h.schedule()
        h.plan_appointments(services)

        def cleaning(t: datetime) -> None:
            cleaning = build_categories(city, [ServiceKind.CLEANING])
            h.bump(
                "responsibilities", sum(build_responsibilities(o, cleaning) for o in centre_orgs)
            )

        past = h.workdays(h.first_day, h.today - timedelta(days=1))
        since = past[-CLEANING_WORKDAYS] if len(past) >= CLEANING_WORKDAYS else h.first_day
        h.timeline.at(_local(since, time(0)), cleaning)
        h.timeline.run()
    counts.update(h.counts)
    counts["planned"] = len(h.meetings)
    counts["scripted"] = sorted(h.by_key)
    if h.refusals:
        counts["refusals"] = h.refusals
    return counts
