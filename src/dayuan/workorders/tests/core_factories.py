"""Builders for the core work-order tests: an SLA standard adopted at the city, a
category, a vendor team, and shortcuts to move an order along."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from dayuan.core.testing import World
from dayuan.standards import effective
from dayuan.standards import services as std_services
from dayuan.standards.models import StandardVersion
from dayuan.standards.tests.factories_core import build_standard
from dayuan.workorders import services
from dayuan.workorders.models import ServiceCategory, Team, TeamMember, WorkOrder

SHANGHAI = ZoneInfo("Asia/Shanghai")

SLA_REPAIR = {
    "category": "repair",
    "timers": [
        {"name": "respond", "label": "响应", "minutes": 30},
        {"name": "resolve", "label": "完成", "minutes": 480},
    ],
    "pause_reasons": ["waiting_parts", "requester_absent"],
    "escalation": [
        {"at_percent": 80, "action": "warn", "notify": ["dispatcher"]},
        {"at_percent": 100, "action": "escalate", "notify": ["manager"]},
    ],
}
SLA_REPAIR_URGENT = {
    "category": "repair",
    "priority": "urgent",
    "calendar": "24x7",
    "timers": [
        {"name": "respond", "label": "响应", "minutes": 10},
        {"name": "arrive", "label": "到场", "minutes": 30, "anchor": "accepted"},
        {"name": "resolve", "label": "完成", "minutes": 240},
    ],
    "pause_reasons": ["waiting_parts"],
}
CLAUSES = [
    (
        "W1",
        "零星维修 30 分钟内响应、8 个工作小时内修复",
        "important",
        True,
        [("w1_repair", "sla", SLA_REPAIR)],
    ),
    ("W2", "急修 10 分钟响应、30 分钟到场", "key", True, [("w2_urgent", "sla", SLA_REPAIR_URGENT)]),
]


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@dataclass
class Setup:
    world: World
    category: ServiceCategory
    untimed: ServiceCategory  # no sla rule names its sla_category
    team: Team  # the vendor's crew, serving county A
    room: Any
    room_b: Any
    standard: Any

    def user(self, name: str) -> Any:
        return self.world.user(name)


def build(world: World) -> Setup:
    admin = world.user("admin")
    std, version = build_standard(admin, world.city, "wo-sla", clauses=CLAUSES)
    # Published "long ago", so clocks started at 2024 instants find the rules in force.
    StandardVersion.objects.filter(pk=version.pk).update(
        published_at=at(2020, 1, 1), released_at=at(2020, 1, 1)
    )
    std_services.adopt(actor=admin, org_id=world.city.pk, standard_id=std.pk)
    effective.invalidate()
    category = ServiceCategory.objects.create(
        org=world.city, code="repair.plumbing", name="水电维修", sla_category="repair"
    )
    untimed = ServiceCategory.objects.create(
        org=world.city, code="greening", name="绿化", sla_category="greening"
    )
    team = Team.objects.create(org=world.county_a, name="甲县物业维修班", vendor=world.vendor)
    TeamMember.objects.create(team=team, user=world.user("vendor_worker"))
    return Setup(world, category, untimed, team, world.rooms["a"], world.rooms["b"], std)


def submit(s: Setup, now: datetime | None = None, *, actor: str = "a_staff", **kw: Any):
    kw.setdefault("category_id", s.category.pk)
    kw.setdefault("location_id", s.room.pk)
    kw.setdefault("description", "卫生间水龙头漏水")
    return services.submit_request(actor=s.user(actor), now=now, **kw)


def refresh(order: WorkOrder) -> WorkOrder:
    return WorkOrder.objects.get(pk=order.pk)


def advance(s: Setup, order: WorkOrder, to: str, now: datetime | None = None) -> WorkOrder:
    """Move the order along the happy path up to status ``to`` through the services."""
    disp, worker = s.user("a_dispatcher"), s.user("vendor_worker")
    steps = [
        (
            "dispatched",
            lambda o: services.dispatch(
                actor=disp,
                order_id=o.pk,
                version=o.version,
                team_id=s.team.pk,
                assignee_id=worker.pk,
                now=now,
            ),
        ),
        (
            "accepted",
            lambda o: services.accept(actor=worker, order_id=o.pk, version=o.version, now=now),
        ),
        (
            "on_site",
            lambda o: services.arrive(actor=worker, order_id=o.pk, version=o.version, now=now),
        ),
        (
            "resolved",
            lambda o: services.resolve(
                actor=worker, order_id=o.pk, version=o.version, resolution="已更换阀芯", now=now
            ),
        ),
    ]
    chain = ["submitted", *[status for status, _step in steps]]
    start, stop = chain.index(order.status), chain.index(to)
    for status, step in steps[start:stop]:
        order = step(refresh(order))
        assert order.status == status
    return refresh(order)


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    img.save(out, fmt, **save)
    return out.getvalue()


def gps_jpeg(size: tuple[int, int] = (80, 40), orientation: int | None = None) -> bytes:
    """A JPEG carrying EXIF with a GPS position (and optionally an orientation)."""
    img = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}
    exif[0x8825] = gps  # GPSInfo IFD
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)
