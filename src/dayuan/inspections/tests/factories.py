"""Builders for the inspection tests: a standard with schedules, a checklist and the
rectification and supervision ladders, adopted at the city; stairs and assets in both
counties; the vendor's crew cleaning county A's stairs and county A's inspector on patrol."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from dayuan.core.testing import World, make_location
from dayuan.orgs.choices import LocationKind
from dayuan.orgs.models import Location
from dayuan.standards import effective
from dayuan.standards import services as std_services
from dayuan.standards.models import StandardVersion
from dayuan.standards.tests.factories_core import build_standard
from dayuan.workorders.models import Team, TeamMember

from ..models import Asset, PlanAssignment

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


LADDER = [
    {"at_percent": 80, "action": "warn", "notify": ["assignee"]},
    {"at_percent": 100, "action": "escalate", "notify": ["inspector", "manager"]},
    {"at_percent": 150, "action": "escalate_further", "notify": ["manager"]},
]


def rectify(severity: str, minutes: int, calendar: str) -> dict[str, Any]:
    return {
        "category": "rectification",
        "priority": severity,
        "calendar": calendar,
        "timers": [{"name": "rectify", "label": "整改", "minutes": minutes}],
        "escalation": LADDER,
    }


CHECKLIST = {
    "checklist": "patrol.daily",
    "title": "日常巡检表",
    "items": [
        {"key": "floor_clean", "text": "地面干净无垃圾", "weight": 1},
        {"key": "stairs_clear", "text": "楼梯通道无堆物", "weight": 2},
        {
            "key": "server_temp",
            "text": "机房温度",
            "type": "measure",
            "unit": "℃",
            "max": 27,
            "weight": 2,
            "severity": "important",
            "clause": "X5",
        },
        {
            "key": "fire_exit",
            "text": "消防通道畅通",
            "weight": 5,
            "severity": "key",
            "clause": "X5",
        },
    ],
    "grades": [
        {"grade": "good", "label": "优", "max_failed": {"key": 0, "important": 0, "general": 0}},
        {"grade": "pass", "label": "合格", "max_failed": {"key": 0, "important": 0, "general": 1}},
    ],
    "fail_grade": "fail",
    "pass_line": 60,
}

CLAUSES = [
    (
        "X1",
        "楼梯每日清扫",
        "general",
        False,
        [
            (
                "x1_stairs",
                "schedule",
                {
                    "target": {"location_tag": "楼梯", "activity": "clean.stairs"},
                    "frequency": {"every": 1, "unit": "day"},
                    "grace_hours": 2,
                },
            )
        ],
    ),
    (
        "X2",
        "办公楼每季度结构巡查",
        "important",
        False,
        [
            (
                "x2_structure",
                "schedule",
                {
                    "target": {"location_tag": "办公楼", "activity": "patrol.structure"},
                    "frequency": {"every": 1, "unit": "quarter"},
                },
            )
        ],
    ),
    (
        "X3",
        "避雷针雨季每月、其余每季度巡查",
        "important",
        False,
        [
            (
                "x3_rods",
                "schedule",
                {
                    "target": {"asset_type": "lightning_rod", "activity": "patrol.lightning_rod"},
                    "frequency": {"every": 1, "unit": "quarter"},
                    "seasons": [
                        {
                            "label": "雨季",
                            "months": [5, 6, 7, 8, 9],
                            "frequency": {"every": 1, "unit": "month"},
                        }
                    ],
                },
            )
        ],
    ),
    ("X4", "日常巡检", "general", False, [("x4_patrol", "checklist", CHECKLIST)]),
    ("X5", "消防通道与机房", "important", True, []),
    ("R1", "关键问题 24 小时整改", "key", True, [("r1", "sla", rectify("key", 1440, "24x7"))]),
    (
        "R2",
        "重要问题 3 个工作日整改",
        "important",
        False,
        [("r2", "sla", rectify("important", 1350, "working"))],
    ),
    (
        "R3",
        "一般问题 10 个工作日整改",
        "general",
        False,
        [("r3", "sla", rectify("general", 4500, "working"))],
    ),
    (
        "S1",
        "督办提醒与升级",
        "important",
        False,
        [
            (
                "s1",
                "sla",
                {
                    "category": "supervision",
                    "calendar": "24x7",
                    "timers": [{"name": "handle", "label": "办结", "minutes": 7200}],
                    "escalation": [
                        {"at_percent": 80, "action": "warn", "notify": ["assignee"]},
                        {"at_percent": 100, "action": "escalate", "notify": ["assignee"]},
                        {"at_percent": 150, "action": "escalate_further", "notify": ["manager"]},
                    ],
                },
            )
        ],
    ),
]


@dataclass
class Setup:
    world: World
    standard: Any
    team: Team  # the vendor's crew, county A
    stairs_a: Location
    stairs_b: Location
    building_a: Location
    building_b: Location
    rod_a: Asset
    rod_b: Asset
    stairs_plan: PlanAssignment  # county A stairs cleaning: vendor team, self-inspection
    patrol_plan: PlanAssignment  # county A structure patrol: a_inspector, patrol.daily

    def user(self, name: str) -> Any:
        return self.world.user(name)


def build(world: World) -> Setup:
    admin = world.user("admin")
    std, version = build_standard(admin, world.city, "insp-test", clauses=CLAUSES)
    # In force "long ago", so occurrences and clocks at 2025/2026 instants find the rules.
    StandardVersion.objects.filter(pk=version.pk).update(
        published_at=at(2020, 1, 1), released_at=at(2020, 1, 1)
    )
    std_services.adopt(actor=admin, org_id=world.city.pk, standard_id=std.pk)
    effective.invalidate()
    buildings = {}
    stairs = {}
    for key, org in (("a", world.county_a), ("b", world.county_b)):
        building = Location.objects.filter(org=org, kind=LocationKind.BUILDING).get()
        buildings[key] = building
        stairs[key] = make_location(org, "1号楼楼梯", LocationKind.AREA, building, tags=["楼梯"])
    rod_a = Asset.objects.create(
        org=world.county_a, location=buildings["a"], asset_type="lightning_rod", name="1号楼避雷针"
    )
    rod_b = Asset.objects.create(
        org=world.county_b, location=buildings["b"], asset_type="lightning_rod", name="1号楼避雷针"
    )
    team = Team.objects.create(org=world.county_a, name="甲县物业保洁班", vendor=world.vendor)
    TeamMember.objects.create(team=team, user=world.user("vendor_worker"))
    stairs_plan = PlanAssignment.objects.create(
        org=world.county_a,
        activity="clean.stairs",
        team=team,
        vendor=world.vendor,
        checklist_code="patrol.daily",
        kind="self",
    )
    patrol_plan = PlanAssignment.objects.create(
        org=world.county_a,
        activity="patrol.structure",
        inspector=world.user("a_inspector"),
        vendor=world.vendor,
        checklist_code="patrol.daily",
        kind="patrol",
    )
    return Setup(
        world,
        std,
        team,
        stairs["a"],
        stairs["b"],
        buildings["a"],
        buildings["b"],
        rod_a,
        rod_b,
        stairs_plan,
        patrol_plan,
    )


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 60, 60)).save(out, fmt)
    return out.getvalue()


def upload(data: bytes | None = None, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data or image_bytes(), content_type=content_type)


ALL_PASS = {
    "floor_clean": "pass",
    "stairs_clear": "pass",
    "server_temp": {"value": 24},
    "fire_exit": "pass",
}
