"""Builders for the booking tests: a meeting standard (lead times, windows, approval,
priority, service clocks before the start, the in-meeting and after-meeting checklists)
adopted at the city; rooms in both counties and a shared city room; the meeting-service
categories with county A's vendor crew responsible; county A's barber shop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from dayuan.core.testing import World, make_location
from dayuan.orgs.choices import LocationKind
from dayuan.orgs.models import Location
from dayuan.standards import effective
from dayuan.standards import services as std_services
from dayuan.standards.models import StandardVersion
from dayuan.standards.tests.factories_core import build_standard
from dayuan.workorders.models import Responsibility, ServiceCategory, Team, TeamMember

from ..choices import ServiceKind
from ..models import AppointmentService, Provider, Room

SHANGHAI = ZoneInfo("Asia/Shanghai")

# A Monday in a plain working week (no holiday near): 2026-12-07 09:00 Shanghai.
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


WINDOWS = [
    {"days": "workdays", "start": "08:00", "end": "11:30"},
    {"days": "workdays", "start": "13:00", "end": "17:00"},
]


def before_start(name: str, label: str, minutes: int) -> dict[str, Any]:
    return {"name": name, "label": label, "minutes": minutes, "anchor": "before_start"}


CLAUSES = [
    (
        "M1",
        "会议室预订至少提前 2 小时；工作日 08:00–11:30、13:00–17:00 受理预订",
        "important",
        False,
        [
            (
                "m1",
                "booking",
                {
                    "resource_class": "meeting_room",
                    "lead_time_minutes": 120,
                    "max_advance_days": 60,
                    "max_duration_minutes": 480,
                    "windows": WINDOWS,
                },
            )
        ],
    ),
    (
        "M4",
        "预订须填写主办单位、参会人数、联系人及电话",
        "general",
        False,
        [
            (
                "m4",
                "booking",
                {
                    "resource_class": "meeting_room",
                    "required_fields": ["organizer_unit", "attendees", "contact_phone"],
                },
            )
        ],
    ),
    (
        "M5",
        "共享会议室至少提前 1 天；紧急会议先用后登记；重要优先、紧急优先",
        "important",
        False,
        [
            (
                "m5",
                "booking",
                {
                    "resource_class": "shared_room",
                    "lead_time_minutes": 1440,
                    "priority": ["important", "urgent"],
                    "emergency_register_after": True,
                },
            )
        ],
    ),
    (
        "M6",
        "大会议厅至少提前 3 天预订并经审批；投影设备于会议开始前 30 分钟调试完毕",
        "important",
        False,
        [
            (
                "m6_hall",
                "booking",
                {
                    "resource_class": "large_hall",
                    "lead_time_minutes": 4320,
                    "requires_approval": True,
                },
            ),
            (
                "m6_av",
                "sla",
                {
                    "category": "meeting.av",
                    "calendar": "24x7",
                    "timers": [before_start("projector_ready", "投影调试完毕", 30)],
                },
            ),
        ],
    ),
    (
        "M7",
        "茶水于会前 15 分钟备齐；会场于会前 60 分钟布置完毕；会后 2 小时内保洁",
        "general",
        False,
        [
            (
                "m7_tea",
                "sla",
                {
                    "category": "meeting.tea",
                    "calendar": "24x7",
                    "timers": [before_start("tea_ready", "茶水备齐", 15)],
                },
            ),
            (
                "m7_layout",
                "sla",
                {
                    "category": "meeting.layout",
                    "calendar": "24x7",
                    "timers": [before_start("layout_ready", "会场布置完毕", 60)],
                },
            ),
            (
                "m7_clean",
                "sla",
                {
                    "category": "meeting.cleaning",
                    "calendar": "24x7",
                    "timers": [{"name": "resolve", "label": "会后保洁", "minutes": 120}],
                },
            ),
        ],
    ),
    (
        "M2",
        "会议进行中约每 20 分钟续茶一次",
        "general",
        False,
        [
            (
                "m2",
                "checklist",
                {
                    "checklist": "meeting.in_meeting",
                    "title": "会中服务检查",
                    "items": [
                        {
                            "key": "tea_refill_interval",
                            "text": "续茶间隔（约每 20 分钟）",
                            "type": "measure",
                            "unit": "min",
                            "max": 20,
                        }
                    ],
                    "grades": [
                        {
                            "grade": "pass",
                            "label": "合格",
                            "max_failed": {"general": 0, "important": 0, "key": 0},
                        }
                    ],
                    "fail_grade": "fail",
                },
            )
        ],
    ),
    (
        "M3",
        "会后检查遗留文件和物品并交还预订人",
        "important",
        False,
        [
            (
                "m3",
                "checklist",
                {
                    "checklist": "meeting.after",
                    "title": "会后检查",
                    "items": [
                        {"key": "left_items_checked", "text": "检查会场有无遗留物品"},
                        {"key": "left_items_returned", "text": "遗留物品已交还或登记"},
                    ],
                    "grades": [
                        {
                            "grade": "pass",
                            "label": "合格",
                            "max_failed": {"general": 0, "important": 0, "key": 0},
                        }
                    ],
                    "fail_grade": "fail",
                },
            )
        ],
    ),
]


@dataclass
class Setup:
    world: World
    standard: Any
    building_a: Location
    building_b: Location
    room_a: Room  # county A, meeting_room, 20 seats, projector + screen
    small_a: Room  # county A, meeting_room, 8 seats, no equipment
    hall_a: Room  # county A, large_hall, 200 seats, approval by rule
    room_b: Room  # county B, meeting_room, 20 seats
    shared: Room  # city, shared_room, 50 seats, shared with every org
    team: Team  # county A's vendor meeting crew, responsible for every meeting.* category
    categories: dict[str, ServiceCategory]
    barber: AppointmentService  # county A, 30-min slots, 3 seats, one open booking each

    def user(self, name: str) -> Any:
        return self.world.user(name)


def _room(org, building, name, **kw) -> Room:
    floor = Location.objects.filter(parent=building, kind=LocationKind.FLOOR).first()
    loc = make_location(org, name, LocationKind.ROOM, floor, area_m2=60, tags=["会议室"])
    return Room.objects.create(org=org, location=loc, building=building, name=name, **kw)


def build(world: World) -> Setup:
    admin = world.user("admin")
    std, version = build_standard(admin, world.city, "meeting-test", clauses=CLAUSES)
    StandardVersion.objects.filter(pk=version.pk).update(
        published_at=at(2020, 1, 1), released_at=at(2020, 1, 1)
    )
    std_services.adopt(actor=admin, org_id=world.city.pk, standard_id=std.pk)
    effective.invalidate()
    building_a = Location.objects.get(org=world.county_a, kind=LocationKind.BUILDING)
    building_b = Location.objects.get(org=world.county_b, kind=LocationKind.BUILDING)
    city_compound = make_location(world.city, "市级大院", LocationKind.COMPOUND, tags=["大院"])
    city_building = make_location(
        world.city, "市级会议中心", LocationKind.BUILDING, city_compound, tags=["会议中心"]
    )
    make_location(world.city, "1层", LocationKind.FLOOR, city_building, tags=["楼层"])
    room_a = _room(
        world.county_a, building_a, "甲县第一会议室", capacity=20, equipment=["projector", "screen"]
    )
    small_a = _room(world.county_a, building_a, "甲县小会议室", capacity=8)
    hall_a = _room(
        world.county_a,
        building_a,
        "甲县大会议厅",
        capacity=200,
        resource_class="large_hall",
        equipment=["microphone", "projector", "screen"],
    )
    room_b = _room(
        world.county_b, building_b, "乙县第一会议室", capacity=20, equipment=["projector"]
    )
    shared = _room(
        world.city,
        city_building,
        "市级共享会议室",
        capacity=50,
        resource_class="shared_room",
        shared=True,
        equipment=["projector", "screen", "video"],
    )
    team = Team.objects.create(org=world.county_a, name="甲县会务服务组", vendor=world.vendor)
    TeamMember.objects.create(team=team, user=world.user("vendor_worker"))
    compound_a = Location.objects.get(org=world.county_a, kind=LocationKind.COMPOUND)
    categories = {}
    for kind in ServiceKind:
        code = f"meeting.{kind.value}"
        categories[kind.value] = ServiceCategory.objects.create(
            org=world.city, code=code, name=str(kind.label), sla_category=code
        )
        Responsibility.objects.create(
            org=world.county_a, category=categories[kind.value], location=compound_a, team=team
        )
    barber = AppointmentService.objects.create(
        org=world.county_a,
        location=room_a.location,
        code="barber",
        name="甲县理发室",
        slot_minutes=30,
        seats_per_slot=3,
        opens_at=time(9, 0),
        closes_at=time(17, 0),
        breaks=[{"start": "12:00", "end": "13:30"}],
        book_ahead_days=7,
        min_lead_minutes=30,
        cancel_before_minutes=60,
        per_person_open_limit=1,
    )
    for i, name in enumerate(("张师傅", "李师傅", "王师傅")):
        Provider.objects.create(service=barber, name=name, sort=i)
    return Setup(
        world,
        std,
        building_a,
        building_b,
        room_a,
        small_a,
        hall_a,
        room_b,
        shared,
        team,
        categories,
        barber,
    )
