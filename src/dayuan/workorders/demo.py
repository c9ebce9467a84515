"""Work-order demo data: the centre's service commitments, the catalogue, teams, and months
of history that look like a real compound's (weekday office hours, seasonal air
conditioning, a few urgent jobs, most closed and rated, some open and overdue).

``load_demo(admin, city, counties, orders=40_000)`` writes rows in bulk, as the services
would have written them over time: every clock's ``due_at`` comes from the effective
``sla`` rules through ``engine.sla_timers`` / ``engine.due_at`` (computed once per
centre, category and urgency, then per order on the working calendar), each met or
breached clock has its ``Judgment`` (so the standards compliance page has data), and
every order has a compact timeline. The history is deterministic for a given ``seed``
and ``now``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from dayuan.accounts.choices import Role
from dayuan.accounts.models import Grant, User
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Location, Organization

from .choices import TIMER_MET_BY, Channel, CloseReason, Status, Tier, Urgency
from .models import (
    Responsibility,
    ServiceCategory,
    Team,
    TeamMember,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderTimer,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
STANDARD_FILE = Path(__file__).resolve().parent / "demo_standards" / "JG-FW.standard.yaml"
STANDARD_CODE = "JG-FW"
BATCH = 5000
SUBJECT_TYPE = "workorder"
MET_FIELD = {
    Status.ACCEPTED: "accepted_at",
    Status.ON_SITE: "arrived_at",
    Status.RESOLVED: "resolved_at",
}

# --- the catalogue ---------------------------------------------------------------------


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name: str
    parent: str | None
    tier: str
    sla_category: str
    skill: str = ""
    icon: str = ""
    weight: float = 0.0  # share of requests (leaves only)


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("repair", "维修", None, Tier.BASIC, "repair", icon="wrench"),
    CategorySpec(
        "repair.plumbing", "水电", "repair", Tier.BASIC, "repair", "plumbing", "droplet", 19
    ),
    CategorySpec("repair.ac", "空调", "repair", Tier.BASIC, "repair", "ac", "snowflake", 13),
    CategorySpec("repair.network", "网络", "repair", Tier.BASIC, "repair", "network", "wifi", 12),
    CategorySpec("repair.doors", "门窗", "repair", Tier.BASIC, "repair", "carpentry", "door", 8),
    CategorySpec(
        "repair.furniture", "家具", "repair", Tier.BASIC, "repair", "carpentry", "chair", 8
    ),
    CategorySpec("cleaning", "保洁", None, Tier.BASIC, "cleaning", icon="broom", weight=15),
    CategorySpec("greening", "绿化", None, Tier.BASIC, "greening", icon="leaf", weight=5),
    CategorySpec(
        "meeting_support",
        "会议保障",
        None,
        Tier.FEATURED,
        "meeting_support",
        icon="users",
        weight=12,
    ),
    CategorySpec("moving", "搬运", None, Tier.BASIC, "moving", icon="truck", weight=6),
    CategorySpec("car_wash", "车辆清洗", None, Tier.EXTERNAL, "car_wash", icon="car", weight=2),
)

# Urgent share per top-level category (about 8 % of all requests).
URGENT_SHARE = {"repair": 0.10, "cleaning": 0.04, "meeting_support": 0.08}


@dataclass(frozen=True)
class Problem:
    text: str
    where: tuple[str, ...]  # room tags; "大院"/"楼栋" for outdoor and building-wide jobs
    resolution: str
    materials: tuple[tuple[str, int, str, str], ...] = ()  # (name, qty, unit, unit price)


PROBLEMS: dict[str, tuple[Problem, ...]] = {
    "repair.plumbing": (
        Problem("水龙头漏水，关不紧", ("卫生间", "厨房"), "更换水龙头阀芯，试水正常。",
                (("水龙头阀芯", 1, "个", "35.00"),)),
        Problem("卫生间堵塞，下水很慢", ("卫生间",), "疏通下水管道，已恢复通畅。"),
        Problem("马桶冲水不停", ("卫生间",), "更换马桶进水阀，冲水正常。",
                (("马桶进水阀", 1, "套", "48.00"),)),
        Problem("办公室灯管不亮", ("办公室", "会议室"), "更换 LED 灯管两支，照明恢复。",
                (("LED 灯管", 2, "支", "22.00"),)),
        Problem("插座没电", ("办公室",), "更换损坏插座面板，通电测试正常。",
                (("五孔插座面板", 1, "个", "15.00"),)),
        Problem("电闸跳闸，整层断电", ("配电室", "办公室"), "排查短路点，更换空气开关，恢复供电。",
                (("空气开关", 1, "个", "68.00"),)),
        Problem("热水器不出热水", ("卫生间", "厨房"), "更换温控器，出水温度正常。",
                (("温控器", 1, "个", "85.00"),)),
        Problem("楼梯间感应灯不亮", ("楼梯间",), "更换声控开关，照明恢复。",
                (("声控开关", 1, "个", "18.00"),)),
    ),
    "repair.ac": (
        Problem("空调不制冷", ("办公室", "会议室"), "补充冷媒，清洗滤网，制冷正常。",
                (("R410A 冷媒", 1, "瓶", "160.00"),)),
        Problem("空调不制热", ("办公室", "会议室"), "更换四通阀线圈，制热正常。",
                (("四通阀线圈", 1, "个", "95.00"),)),
        Problem("空调室内机漏水", ("办公室", "会议室"), "疏通冷凝水管，不再漏水。"),
        Problem("空调噪音大", ("办公室",), "紧固风机支架，更换减震垫，噪音消除。",
                (("减震垫", 4, "个", "6.00"),)),
        Problem("空调遥控失灵", ("办公室", "会议室"), "更换遥控器电池并重新配对。",
                (("7 号电池", 2, "节", "3.00"),)),
    ),
    "repair.network": (
        Problem("网络断开，电脑上不了网", ("办公室",), "重做网线水晶头，网络恢复。",
                (("水晶头", 2, "个", "2.00"),)),
        Problem("网速很慢", ("办公室", "会议室"), "更换故障交换机端口，网速恢复正常。"),
        Problem("无线信号弱", ("会议室", "办公室"), "调整无线接入点位置和信道，信号改善。"),
        Problem("电话没有拨号音", ("办公室",), "更换电话线模块，通话正常。",
                (("电话模块", 1, "个", "12.00"),)),
        Problem("打印机无法联网打印", ("办公室",), "重新配置打印机 IP 地址，打印正常。"),
        Problem("会议室投影无信号", ("会议室",), "更换 HDMI 线缆，投影显示正常。",
                (("HDMI 线缆", 1, "根", "45.00"),)),
    ),
    "repair.doors": (
        Problem("门锁损坏，钥匙打不开", ("办公室", "仓库"), "更换锁芯，交付新钥匙三把。",
                (("锁芯", 1, "个", "80.00"),)),
        Problem("门禁刷卡无反应", ("办公室", "机房"), "更换门禁读卡器，刷卡正常。",
                (("门禁读卡器", 1, "个", "150.00"),)),
        Problem("窗户关不严，漏风", ("办公室", "会议室"), "调整窗扇合页，更换密封条。",
                (("密封条", 3, "米", "8.00"),)),
        Problem("门把手松动", ("办公室", "卫生间"), "紧固门把手螺丝，更换垫片。"),
        Problem("窗玻璃破裂", ("办公室", "楼梯间"), "更换钢化玻璃一块。",
                (("钢化玻璃", 1, "块", "220.00"),)),
        Problem("闭门器漏油，门关得太快", ("楼梯间", "办公室"), "更换闭门器，开关平稳。",
                (("闭门器", 1, "个", "120.00"),)),
    ),
    "repair.furniture": (
        Problem("办公椅损坏，无法升降", ("办公室",), "更换气压棒，升降正常。",
                (("气压棒", 1, "根", "60.00"),)),
        Problem("办公桌抽屉卡住", ("办公室",), "更换抽屉滑轨，推拉顺畅。",
                (("抽屉滑轨", 1, "副", "25.00"),)),
        Problem("文件柜锁坏了", ("办公室", "仓库"), "更换文件柜锁，交付钥匙两把。",
                (("文件柜锁", 1, "把", "30.00"),)),
        Problem("书柜层板松动", ("办公室",), "加固层板托，承重正常。"),
        Problem("会议椅扶手断裂", ("会议室",), "更换扶手配件并紧固。",
                (("扶手配件", 1, "套", "40.00"),)),
    ),
    "cleaning": (
        Problem("会议结束，请清扫会议室", ("会议室",), "会议室已清扫，桌面、地面整洁。"),
        Problem("地面有积水", ("卫生间", "楼梯间", "厨房"), "清理积水，摆放防滑提示牌。"),
        Problem("卫生间有异味", ("卫生间",), "全面清洗消毒，放置除味剂。"),
        Problem("楼道垃圾未清运", ("楼梯间",), "垃圾已清运，楼道清洁完毕。"),
        Problem("地毯有污渍，需要清洗", ("会议室", "办公室"), "地毯局部清洗，污渍已去除。"),
        Problem("办公室玻璃需要擦拭", ("办公室",), "玻璃擦拭完毕。"),
        Problem("餐厅地面油污", ("餐厅",), "餐厅地面除油清洁完毕。"),
    ),
    "greening": (
        Problem("大院花木需要修剪", ("大院",), "修剪灌木、绿篱，清运枝叶。"),
        Problem("办公室盆栽枯萎，需要更换", ("办公室", "会议室"), "更换绿植两盆。"),
        Problem("草坪枯黄", ("大院",), "补种草皮并浇水养护。"),
        Problem("树枝被风刮倒，挡住道路", ("大院",), "清理倒伏树枝，道路畅通。"),
        Problem("楼栋门口绿植需要浇水", ("楼栋",), "浇水并松土。"),
    ),
    "meeting_support": (
        Problem("明早会议室布置（30 人）", ("会议室",), "会场按要求布置完毕，桌签、茶水就位。"),
        Problem("会议茶水服务", ("会议室",), "会中茶水服务完成。"),
        Problem("会议音响调试", ("会议室",), "音响、话筒调试正常。"),
        Problem("悬挂会议横幅", ("会议室",), "横幅已悬挂。"),
        Problem("摆放桌签和会议材料", ("会议室",), "桌签、材料摆放完毕。"),
    ),
    "moving": (
        Problem("搬运文件柜两个", ("办公室", "仓库"), "文件柜已搬运到位。"),
        Problem("办公室搬迁，约 20 箱物品", ("办公室",), "物品已全部搬迁到新办公室。"),
        Problem("搬运会议桌椅", ("会议室", "仓库"), "桌椅搬运、摆放完毕。"),
        Problem("搬运会议物资", ("会议室", "仓库"), "物资已送达会场。"),
        Problem("清运废旧家具", ("办公室", "仓库"), "废旧家具已清运至回收点。"),
    ),
    "car_wash": (
        Problem("公务车辆外观清洗", ("大院",), "车辆清洗完毕。"),
        Problem("车辆内饰清洁", ("大院",), "内饰吸尘、擦拭完毕。"),
    ),
}  # fmt: skip

RATING_TAGS_GOOD = ("响应及时", "技术专业", "态度热情", "干净整洁", "一次修好")
RATING_TAGS_BAD = ("响应较慢", "没有彻底解决", "沟通不畅", "现场未清理")
COMMENTS_GOOD = ("很满意，谢谢师傅！", "处理很快，点赞。", "服务周到。", "")
COMMENTS_BAD = ("等了很久才来。", "问题反复出现。", "希望下次能快一点。")
PAUSE_REASONS = (("awaiting_parts", 0.7), ("requester_absent", 0.2), ("access_denied", 0.1))

# Vendor staff added to every centre's team (the demo's own ``<centre>_worker`` leads it).
EXTRA_WORKERS = (
    ("师傅甲", ("plumbing", "ac")),
    ("师傅乙", ("network", "carpentry")),
    ("保洁员", ()),
)
LEAD_SKILLS = ("plumbing", "ac", "network", "carpentry")
WORKER_SURNAMES = ("钱", "孙", "周", "吴", "郑", "冯", "陈", "褚", "卫", "蒋", "沈", "韩")
WORKER_GIVEN = ("建国", "海涛", "丽萍", "国强", "秀英", "志明", "玉兰", "永红", "德华", "春燕")
# Requesters besides the centre's demo logins, in its departments.
EXTRA_STAFF_PER_CENTRE = 8
STAFF_NAMES = (
    "孔令辉", "曹雪梅", "严海波", "华晓东", "金晓燕", "魏子健", "陶红梅", "姜文博",
    "戚晓光", "谢婉清", "邹建平", "喻晓琳", "柏志强", "水立新", "窦雅琴", "章明远",
    "云海峰", "苏晓婷", "潘国庆", "葛丽娟", "奚志勇", "范佳怡", "彭建华", "郎文静",
    "鲁振宇", "韦丽华", "昌永福", "马晓燕", "苗春生", "凤雪芳", "花德明", "方晓丽",
)  # fmt: skip

# Share of clocks missed, per centre (in load order: city, then the counties) and factor
# per category: so the dashboards have differences to show.
CENTRE_BREACH = (0.03, 0.045, 0.06, 0.09)
CATEGORY_BREACH = {"repair": 1.0, "cleaning": 0.8, "greening": 1.3, "meeting_support": 0.6,
                   "moving": 1.5, "car_wash": 1.0}  # fmt: skip
CENTRE_SHARE = (0.4, 0.2, 0.2, 0.2)
HOUR_WEIGHTS = (0.5, 0.3, 0.2, 0.2, 0.2, 0.3, 0.8, 3, 10, 16, 15, 12,
                5, 8, 14, 13, 11, 8, 3, 2, 1.5, 1.2, 1, 0.8)  # fmt: skip

# --- calendar speed --------------------------------------------------------------------


@contextlib.contextmanager
def frozen_day_table() -> Iterator[None]:
    """Read the holiday table once for the whole load.

    Every calendar call re-reads a one-row stamp of the table to notice changes from
    other processes (~160 µs on SQLite); a load making a few hundred thousand calls
    inside one transaction cannot see such changes anyway.
    """
    from dayuan.workcalendar import calendar as wc

    table = wc.current_table()
    original = wc.current_table
    wc.current_table = lambda: table
    try:
        yield
    finally:
        wc.current_table = original


# --- setup -----------------------------------------------------------------------------


def install_standard(actor: Any, city: Organization) -> Any:
    """Import, publish and adopt JG-FW at ``city`` (left as it is if it exists)."""
    from dayuan.standards.demo import install

    return install(actor, city, STANDARD_FILE).standard


def sla_in_force_since(since: datetime) -> int:
    """Backdate the publication of the versions holding ``sla`` rules to ``since``.

    The services look an order's clocks up as of its submission; the generated history
    starts months before the demo's standards were published (at load time), so without
    this the history's clocks would cite rules that were not yet in force.
    """
    from dayuan.standards.demo import backdate
    from dayuan.standards.models import StandardVersion

    return backdate(StandardVersion.objects.filter(rules__kind="sla"), since)


def build_catalogue(org: Organization) -> dict[str, ServiceCategory]:
    """The service catalogue defined at ``org`` (the city: it serves every county)."""
    out: dict[str, ServiceCategory] = {}
    for position, spec in enumerate(CATEGORIES):
        cat, _created = ServiceCategory.objects.get_or_create(
            org=org,
            code=spec.code,
            defaults={
                "parent": out.get(spec.parent) if spec.parent else None,
                "name": spec.name,
                "tier": spec.tier,
                "sla_category": spec.sla_category,
                "skill": spec.skill,
                "icon": spec.icon,
                "position": position,
            },
        )
        out[spec.code] = cat
    return out


def _worker_name(i: int) -> str:
    return WORKER_SURNAMES[i % len(WORKER_SURNAMES)] + WORKER_GIVEN[(i * 7) % len(WORKER_GIVEN)]


def _users_with(org: Organization, role: str) -> list[User]:
    return list(User.objects.filter(grants__org=org, grants__role=role).order_by("id").distinct())


def build_team(
    centre: Organization,
    vendor: Organization,
    lead: User | None,
    categories: dict[str, ServiceCategory],
    *,
    password_hash: str,
    extra_workers: int = len(EXTRA_WORKERS),
    serial: int = 0,
    prefix: str = "",
) -> tuple[Team, list[TeamMember]]:
    """``vendor``'s crew serving ``centre``: its demo worker plus a few more, responsible
    for every internal category across the centre's compounds."""
    team, _created = Team.objects.get_or_create(
        org=centre, name=f"{vendor.name}·综合服务班", defaults={"vendor": vendor}
    )
    members: list[TeamMember] = []
    if lead is not None:
        members.append(
            TeamMember.objects.get_or_create(
                team=team, user=lead, defaults={"skills": list(LEAD_SKILLS)}
            )[0]
        )
    for i, (label, skills) in enumerate(EXTRA_WORKERS[:extra_workers], start=2):
        username = f"{prefix or vendor.code.split('-')[0]}_worker{i}"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(
                username=username,
                display_name=f"{_worker_name(serial * 3 + i)}（{label}）",
                home_org=vendor,
                phone=f"1390571{serial:02d}{i:02d}",
                email=f"{username}@example.gov.cn",
                password=password_hash,
            )
            user.save()
            Grant.objects.create(user=user, org=vendor, role=Role.WORKER)
        members.append(
            TeamMember.objects.get_or_create(
                team=team, user=user, defaults={"skills": list(skills)}
            )[0]
        )
    compounds = Location.objects.filter(org=centre, kind=LocationKind.COMPOUND)
    for compound in compounds:
        for spec in CATEGORIES:
            if spec.tier == Tier.EXTERNAL:
                continue  # external partners are dispatched by hand
            Responsibility.objects.get_or_create(
                org=centre,
                category=categories[spec.code],
                location=compound,
                defaults={"team": team},
            )
    return team, members


def _extra_staff(centre: Organization, password_hash: str, serial: int) -> list[User]:
    departments = list(
        Organization.objects.filter(parent=centre, kind=OrgKind.DEPARTMENT).order_by("path")
    )
    if not departments:
        return []
    out = []
    for i in range(EXTRA_STAFF_PER_CENTRE):
        username = f"{centre.code}_staff{i + 2}"
        user = User.objects.filter(username=username).first()
        if user is None:
            dept = departments[i % len(departments)]
            user = User(
                username=username,
                display_name=STAFF_NAMES[(serial * EXTRA_STAFF_PER_CENTRE + i) % len(STAFF_NAMES)],
                home_org=dept,
                phone=f"1370571{serial:02d}{i:02d}",
                email=f"{username}@example.gov.cn",
                password=password_hash,
            )
            user.save()
            Grant.objects.create(user=user, org=dept, role=Role.STAFF)
        out.append(user)
    return out


# --- the history -----------------------------------------------------------------------


@dataclass
class Centre:
    """What the generator needs of one centre, read once."""

    org: Organization
    team: Team
    members: list[tuple[int, tuple[str, ...]]]  # (user id, skills)
    requesters: list[int]
    dispatcher_id: int
    rooms_by_tag: dict[str, list[int]]
    compound_ids: list[int]
    building_ids: list[int]
    specs: dict[tuple[str, str], list[Any]]  # (sla_category, urgency) -> TimerSpecs
    breach: float
    share: float


def _centre_locations(org: Organization) -> tuple[dict[str, list[int]], list[int], list[int]]:
    rooms: dict[str, list[int]] = {}
    compounds, buildings = [], []
    for pk, kind, tags in Location.objects.filter(org=org, is_active=True).values_list(
        "id", "kind", "tags"
    ):
        if kind == LocationKind.COMPOUND:
            compounds.append(pk)
        elif kind == LocationKind.BUILDING:
            buildings.append(pk)
        elif kind == LocationKind.ROOM:
            for tag in tags or ():
                rooms.setdefault(tag, []).append(pk)
    return rooms, compounds, buildings


def _pick_location(rng: random.Random, centre: Centre, where: tuple[str, ...]) -> int:
    tag = rng.choice(where)
    if tag == "大院" and centre.compound_ids:
        return rng.choice(centre.compound_ids)
    if tag == "楼栋" and centre.building_ids:
        return rng.choice(centre.building_ids)
    pool = centre.rooms_by_tag.get(tag) or centre.rooms_by_tag.get("办公室")
    if not pool:
        pool = [pk for ids in centre.rooms_by_tag.values() for pk in ids] or centre.compound_ids
    return rng.choice(pool)


def order_number(at: datetime, seq: int) -> str:
    """As ``services.submit_request`` numbers them: ``WO-20260302-00017``."""
    return f"WO-{at.astimezone(SHANGHAI):%Y%m%d}-{seq:05d}"


@dataclass
class _Clock:
    spec: Any
    started_at: datetime
    due_at: datetime
    met_at: datetime | None = None
    paused_minutes: int = 0
    percent: float = 0.0  # share of the allowed time used when met (for the ladder)


class Generator:
    """Simulates each order's life up to ``now`` and emits the rows."""

    def __init__(
        self,
        centres: list[Centre] | None = None,
        categories: dict[str, ServiceCategory] | None = None,
        *,
        now: datetime,
        months: int,
        seed: int,
    ) -> None:
        from dayuan.workcalendar.calendar import WorkingCalendar, is_workday

        self.centres = centres or []
        self.categories = categories or {}
        self.now = now
        self.rng = random.Random(seed)
        self.cal = WorkingCalendar()
        self.cal24 = WorkingCalendar(around_the_clock=True)
        self.autoclose = timedelta(days=getattr(settings, "WORKORDER_AUTOCLOSE_DAYS", 3))
        self.leaves = [s for s in CATEGORIES if s.weight]
        start = (now - timedelta(days=round(months * 30.44))).astimezone(SHANGHAI).date()
        today = now.astimezone(SHANGHAI).date()
        self.days = [start + timedelta(days=i) for i in range((today - start).days + 1)]
        self.day_weights = [1.0 if is_workday(d) else 0.12 for d in self.days]
        self.start = datetime.combine(start, datetime.min.time(), tzinfo=SHANGHAI)

    # -- helpers

    def _advance(self, t: datetime, minutes: float, calendar: str) -> datetime:
        minutes = max(1, round(minutes))
        if calendar == "24x7":
            return t + timedelta(minutes=minutes)
        return self.cal.add_working_minutes(t, minutes)

    def _due(self, started: datetime, spec: Any, org: Organization) -> datetime:
        from dayuan.standards import engine

        return engine.due_at(started, spec, org)

    def _leaf(self, day: date) -> CategorySpec:
        # Air conditioning peaks in high summer and deep winter.
        peak = day.month in (6, 7, 8, 12, 1)
        weights = [s.weight * (2.2 if peak and s.code == "repair.ac" else 1.0) for s in self.leaves]
        return self.rng.choices(self.leaves, weights)[0]

    def submitted_times(self, n: int) -> list[datetime]:
        rng = self.rng
        days = rng.choices(self.days, self.day_weights, k=n)
        hours = rng.choices(range(24), HOUR_WEIGHTS, k=n)
        out = []
        for day, hour in zip(days, hours, strict=True):
            t = datetime(
                day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60),
                tzinfo=SHANGHAI,
            )  # fmt: skip
            if t >= self.now:
                t = self.now - timedelta(minutes=rng.uniform(1, 600))
            out.append(max(t, self.start))
        out.sort()
        return out

    def _frac(self, p_breach: float) -> float:
        rng = self.rng
        if rng.random() < p_breach:
            return rng.uniform(1.05, 2.4)
        return rng.triangular(0.05, 0.98, 0.35)

    # -- one order

    def simulate(self, t0: datetime, seq: int) -> dict[str, Any]:
        rng = self.rng
        now = self.now
        centre = rng.choices(self.centres, [c.share for c in self.centres])[0]
        leaf = self._leaf(t0.date())
        top = leaf.parent or leaf.code
        urgent = rng.random() < URGENT_SHARE.get(top, 0.02)
        urgency = Urgency.URGENT if urgent else Urgency.NORMAL
        problem = rng.choice(PROBLEMS[leaf.code])
        specs = centre.specs.get((leaf.sla_category, urgency), [])
        p_breach = centre.breach * CATEGORY_BREACH.get(top, 1.0) * (1.5 if urgent else 1.0)
        base_cal = "24x7" if urgent else "working"

        clocks = {s.name: _Clock(s, t0, self._due(t0, s, centre.org)) for s in specs}
        for c in clocks.values():  # anchors other than "created" are not used by JG-FW
            c.percent = self._frac(p_breach) * 100

        def target(name: str, fallback_from: datetime, lo: float, hi: float) -> datetime:
            c = clocks.get(name)
            if c is None:
                return self._advance(fallback_from, rng.uniform(lo, hi), base_cal)
            return self._advance(t0, c.spec.minutes * c.percent / 100, c.spec.calendar)

        accepted = target("respond", t0, 5, 40)
        arrived = max(
            target("arrive", accepted, 10, 90), accepted + timedelta(minutes=rng.uniform(3, 25))
        )
        # Historical pause after arrival (repair clocks allow it), shifting the unmet clocks.
        pause = None
        resolve_clock = clocks.get("resolve")
        if resolve_clock and resolve_clock.spec.pause_reasons and rng.random() < 0.06:
            reason = rng.choices([r for r, _w in PAUSE_REASONS], [w for _r, w in PAUSE_REASONS])[0]
            if reason in resolve_clock.spec.pause_reasons:
                minutes = (
                    rng.randint(120, 1350) if reason == "awaiting_parts" else rng.randint(30, 240)
                )
                paused_at = arrived + timedelta(minutes=rng.uniform(5, 30))
                resumed_at = self._advance(paused_at, minutes, resolve_clock.spec.calendar)
                pause = (reason, paused_at, resumed_at, minutes)
        resolved_floor = (pause[2] if pause else arrived) + timedelta(minutes=rng.uniform(10, 60))
        if resolve_clock is not None:
            extra = pause[3] if pause else 0
            resolved = self._advance(
                t0, resolve_clock.spec.minutes * resolve_clock.percent / 100 + extra,
                resolve_clock.spec.calendar,
            )  # fmt: skip
            resolved = max(resolved, resolved_floor)
        else:
            resolved = max(self._advance(arrived, rng.uniform(20, 180), base_cal), resolved_floor)
        gap = (accepted - t0).total_seconds() / 60
        dispatched = accepted - timedelta(minutes=rng.uniform(0.5, max(0.6, min(15.0, gap * 0.8))))
        dispatched = max(dispatched, t0 + timedelta(seconds=30))

        rated = rng.random() < 0.85
        if rated:
            delay = rng.choice(
                (rng.uniform(5, 120), rng.uniform(60, 1440), rng.uniform(1440, 4000))
            )
            closed = resolved + min(timedelta(minutes=delay), self.autoclose - timedelta(minutes=5))
        else:
            closed = resolved + self.autoclose

        # Some recent orders are stuck somewhere (they make the open/overdue lists).
        cancelled = None
        stuck = None
        if rng.random() < 0.02:
            cancelled = t0 + timedelta(minutes=rng.uniform(2, 25))
        elif now - t0 < timedelta(days=20) and rng.random() < 0.03:
            stuck = rng.choice((Status.DISPATCHED, Status.ACCEPTED, Status.ON_SITE, Status.PAUSED))

        member_pool = [
            m for m in centre.members if not leaf.skill or leaf.skill in m[1]
        ] or centre.members
        assignee = rng.choice(member_pool)[0] if member_pool else None
        requester = rng.choice(centre.requesters)
        channel = rng.choices(
            (Channel.WEB, Channel.PHONE_APP, Channel.DESK),
            (0.3, 0.3, 0.4) if urgent else (0.5, 0.38, 0.12),
        )[0]
        created_by = centre.dispatcher_id if channel == Channel.DESK else requester
        location = _pick_location(rng, centre, problem.where)
        cat = self.categories[leaf.code]

        order: dict[str, Any] = {
            "org_id": centre.org.pk,
            "number": order_number(t0, seq),
            "category_id": cat.pk,
            "location_id": location,
            "description": problem.text,
            "urgency": urgency,
            "channel": channel,
            "requester_id": requester,
            "created_by_id": created_by,
            "contact_phone": f"1380571{requester % 10000:04d}",
            "status": Status.SUBMITTED,
            "submitted_at": t0,
        }
        names = [c.spec.name for c in clocks.values()]

        def met(name: str) -> list[str]:
            """The clocks the transition that meets ``name`` meets."""
            status = TIMER_MET_BY.get(name, Status.RESOLVED)
            return [n for n in names if TIMER_MET_BY.get(n, Status.RESOLVED) == status]

        events: list[tuple] = [
            (t0, created_by, "submit", "", Status.SUBMITTED, "",
             {"channel": channel, "timers": names, "photos": 0})
        ]  # fmt: skip
        status = Status.SUBMITTED

        def step(at: datetime | None, action: str, to: str, actor: int | None, **data: Any) -> bool:
            nonlocal status
            if at is None or at > now:
                return False
            events.append((at, actor, action, status, to, data.pop("note", ""), data))
            status = to
            return True

        team_id = centre.team.pk if centre.team else None
        vendor_id = centre.team.vendor_id if centre.team else None
        done = False
        if cancelled is not None:
            if step(
                cancelled, "cancel", Status.CANCELLED, requester, note="问题已自行解决，撤销报修"
            ):
                order.update(closed_at=cancelled, close_reason=CloseReason.CANCELLED)
            done = True
        if not done and step(
            dispatched, "dispatch", Status.DISPATCHED, centre.dispatcher_id,
            team_id=team_id, assignee_id=assignee,
        ):  # fmt: skip
            order.update(
                dispatched_at=dispatched, team_id=team_id, vendor_id=vendor_id,
                assignee_id=assignee,
            )  # fmt: skip
            if stuck == Status.DISPATCHED:
                done = True
            elif step(
                accepted, "accept", Status.ACCEPTED, assignee, met=met("respond"), started=[]
            ):
                order["accepted_at"] = accepted
                if stuck == Status.ACCEPTED:
                    done = True
                elif step(
                    arrived, "arrive", Status.ON_SITE, assignee, met=met("arrive"), started=[]
                ):
                    order["arrived_at"] = arrived
                    if stuck == Status.PAUSED and resolve_clock is not None:
                        paused_at = arrived + timedelta(minutes=rng.uniform(5, 30))
                        pause = ("awaiting_parts", paused_at, None, 0)
                    if stuck == Status.ON_SITE:
                        done = True
                    elif pause and step(
                        pause[1], "pause", Status.PAUSED, assignee, note=pause[0], reason=pause[0]
                    ):
                        order.update(
                            paused_at=pause[1], pause_reason=pause[0],
                            status_before_pause=Status.ON_SITE,
                        )  # fmt: skip
                        if step(
                            pause[2], "resume", Status.ON_SITE, assignee, note=pause[0],
                            shifted_minutes={"resolve": pause[3]},
                            paused_at=pause[1].isoformat(),
                        ):  # fmt: skip
                            order.update(paused_at=None, pause_reason="", status_before_pause="")
                            resolve_clock.paused_minutes = pause[3]  # type: ignore[union-attr]
                            resolve_clock.due_at = self._advance(  # type: ignore[union-attr]
                                resolve_clock.due_at,
                                pause[3],
                                resolve_clock.spec.calendar,  # type: ignore[union-attr]
                            )
                        else:
                            done = True
                    if not done and step(
                        resolved, "resolve", Status.RESOLVED, assignee,
                        note=problem.resolution, met=met("resolve"), photos=0,
                    ):  # fmt: skip
                        materials = [
                            {"name": n, "qty": q, "unit": u, "price": p}
                            for n, q, u, p in problem.materials
                        ]
                        cost = sum(
                            (Decimal(p) * q for _n, q, _u, p in problem.materials), Decimal(0)
                        )
                        order.update(
                            resolved_at=resolved, resolution=problem.resolution,
                            materials=materials, cost=cost,
                        )  # fmt: skip

        # The clocks as they stand now. They stop when the order is paused or cancelled
        # (the breach job looks at running orders only).
        end = {Status.CANCELLED: order.get("closed_at"), Status.PAUSED: order.get("paused_at")}
        horizon_open = end.get(status) or now
        overdue = False
        timers = []
        for c in clocks.values():
            c.met_at = order.get(MET_FIELD[TIMER_MET_BY.get(c.spec.name, Status.RESOLVED)])
            breached = c.met_at > c.due_at if c.met_at else c.due_at < horizon_open
            overdue |= breached
            if c.met_at is not None:
                percent = c.percent
            elif breached:
                cal = self.cal24 if c.spec.calendar == "24x7" else self.cal
                used = cal.working_minutes_between(c.started_at, horizon_open)
                percent = used * 100 / (c.spec.minutes + c.paused_minutes)
            else:
                percent = 0.0
            level = sum(1 for s in c.spec.escalation if s.at_percent <= percent)
            timers.append((c, breached, level))
        order["overdue"] = overdue

        # Confirmation and rating, or the automatic close without one.
        if status == Status.RESOLVED:
            if rated and closed <= now:
                weights = (1, 2, 6, 28, 63) if not overdue else (8, 10, 25, 35, 22)
                rating = rng.choices((1, 2, 3, 4, 5), weights)[0]
                pool = RATING_TAGS_GOOD if rating >= 4 else RATING_TAGS_BAD
                tags = rng.sample(pool, rng.choice((0, 1, 1, 2)))
                comment = rng.choice(COMMENTS_GOOD if rating >= 4 else COMMENTS_BAD)
                step(closed, "confirm", Status.CONFIRMED, requester, note=comment, rating=rating,
                     tags=tags)  # fmt: skip
                order.update(
                    rating=rating, rating_tags=tags, rating_comment=comment, rated_at=closed,
                    confirmed_at=closed, closed_at=closed, close_reason=CloseReason.CONFIRMED,
                )  # fmt: skip
            elif not rated and step(
                closed, "close_unrated", Status.CLOSED, None, days=self.autoclose.days
            ):
                order.update(closed_at=closed, close_reason=CloseReason.AUTO_UNRATED)
        order["status"] = status
        return {"order": order, "events": events, "timers": timers, "vendor_id": vendor_id}


def _centres(
    city: Organization, counties: Sequence[Organization], password_hash: str, categories: dict
) -> list[Centre]:
    from dayuan.standards import engine

    out = []
    for serial, org in enumerate([city, *counties]):
        vendor = (
            Organization.objects.filter(parent=org, kind=OrgKind.VENDOR).order_by("path").first()
        )
        lead = None
        if vendor is not None:
            workers = _users_with(vendor, Role.WORKER)
            lead = workers[0] if workers else None
            team, members = build_team(
                org, vendor, lead, categories, password_hash=password_hash, serial=serial
            )
        else:
            team, members = None, []
        requesters = [
            u.pk
            for u in User.objects.filter(grants__org=org)
            .exclude(grants__role__in=(Role.WORKER, Role.ASSESSOR))
            .distinct()
        ]
        requesters += [u.pk for u in _extra_staff(org, password_hash, serial)]
        dispatchers = _users_with(org, Role.DISPATCHER) or _users_with(org, Role.MANAGER)
        rooms, compounds, buildings = _centre_locations(org)
        specs = {
            (sla_cat, urgency): engine.sla_timers(org, sla_cat, priority=urgency)
            for sla_cat in {s.sla_category for s in CATEGORIES}
            for urgency in Urgency.values
        }
        out.append(
            Centre(
                org=org,
                team=team,
                members=[(m.user_id, tuple(m.skills)) for m in members],
                requesters=requesters or [d.pk for d in dispatchers],
                dispatcher_id=dispatchers[0].pk if dispatchers else requesters[0],
                rooms_by_tag=rooms,
                compound_ids=compounds,
                building_ids=buildings,
                specs=specs,
                breach=CENTRE_BREACH[serial % len(CENTRE_BREACH)],
                share=CENTRE_SHARE[serial] if serial < len(CENTRE_SHARE) else 0.2,
            )
        )
    return out


# --- fast inserts ----------------------------------------------------------------------

ORDER_FIELDS = (
    "id", "org_id", "number", "category_id", "location_id", "description", "urgency",
    "channel", "requester_id", "created_by_id", "contact_phone", "status", "team_id",
    "vendor_id", "assignee_id", "submitted_at", "dispatched_at", "accepted_at", "arrived_at",
    "resolved_at", "confirmed_at", "closed_at", "paused_at", "pause_reason",
    "status_before_pause", "close_reason", "reopen_count", "resolution", "materials", "cost",
    "rating", "rating_tags", "rating_comment", "rated_at", "overdue", "version", "created_at",
    "updated_at",
)  # fmt: skip
ORDER_DEFAULTS = {
    "team_id": None, "vendor_id": None, "assignee_id": None, "dispatched_at": None,
    "accepted_at": None, "arrived_at": None, "resolved_at": None, "confirmed_at": None,
    "closed_at": None, "paused_at": None, "pause_reason": "", "status_before_pause": "",
    "close_reason": "", "reopen_count": 0, "resolution": "", "materials": [], "cost": Decimal(0),
    "rating": None, "rating_tags": [], "rating_comment": "", "rated_at": None, "overdue": False,
}  # fmt: skip
TIMER_FIELDS = (
    "workorder_id", "name", "label", "minutes", "calendar", "anchor", "started_at", "due_at",
    "paused_minutes", "met_at", "breached", "escalation_level", "rule_id", "clause_id",
)  # fmt: skip
EVENT_FIELDS = (
    "workorder_id",
    "at",
    "actor_id",
    "action",
    "from_status",
    "to_status",
    "note",
    "data",
)
JUDGMENT_FIELDS = (
    "rule_id", "clause_id", "org_id", "location_id", "vendor_id", "subject_type", "subject_id",
    "at", "outcome", "value",
)  # fmt: skip


class RowWriter:
    """Plain multi-row inserts in the driver's own terms: COPY on PostgreSQL,
    ``executemany`` on SQLite. The ORM's ``bulk_create`` prepares every value through
    its field (~10 µs each); at half a million rows that is most of the load time."""

    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection
        self.pg = connection.vendor == "postgresql"
        ops = connection.ops
        self._json = lambda value: ops.adapt_json_value(value, None)
        if self.pg:
            self.dt = lambda value: value
        else:
            utc = ZoneInfo("UTC")
            self.dt = lambda value: (
                None if value is None else str(value.astimezone(utc).replace(tzinfo=None))
            )

    def json(self, value: Any) -> Any:
        return self._json(value)

    def insert(self, model: type, fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        qn = self.connection.ops.quote_name
        columns = ", ".join(qn(model._meta.get_field(f).column) for f in fields)
        table = qn(model._meta.db_table)
        with self.connection.cursor() as cur:
            if self.pg:
                with cur.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(fields))
                cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608
        return len(rows)

    def reset_sequences(self, *models: type) -> None:
        from django.core.management.color import no_style

        sqls = self.connection.ops.sequence_reset_sql(no_style(), list(models))
        if sqls:
            with self.connection.cursor() as cur:
                for sql in sqls:
                    cur.execute(sql)


def _flush(writer: RowWriter, batch: list[dict[str, Any]], first_id: int) -> dict[str, int]:
    """Insert one batch: orders (with ids given here), then clocks, timelines, judgments."""
    from dayuan.standards.models import Judgment

    dt, js = writer.dt, writer.json
    dt_fields = {f for f in ORDER_FIELDS if f.endswith("_at")}
    json_fields = {"materials", "rating_tags"}
    orders, timers, events, judgments = [], [], [], []
    for pk, item in enumerate(batch, start=first_id):
        o = {**ORDER_DEFAULTS, **item["order"]}
        evs = item["events"]
        o.update(id=pk, version=len(evs), created_at=o["submitted_at"], updated_at=evs[-1][0])
        orders.append(
            tuple(
                dt(o[f]) if f in dt_fields else js(o[f]) if f in json_fields else o[f]
                for f in ORDER_FIELDS
            )
        )
        for at, actor, action, frm, to, note, data in evs:
            events.append((pk, dt(at), actor, action, frm, to, note, js(data)))
        for c, breached, level in item["timers"]:
            spec = c.spec
            timers.append(
                (pk, spec.name, spec.label, spec.minutes, spec.calendar, spec.anchor,
                 dt(c.started_at), dt(c.due_at), c.paused_minutes, dt(c.met_at), breached,
                 level, spec.rule_id, spec.clause_id)
            )  # fmt: skip
            if c.met_at is not None or breached:
                judgments.append(
                    (spec.rule_id, spec.clause_id, o["org_id"], o["location_id"],
                     item["vendor_id"], SUBJECT_TYPE, str(pk),
                     dt(c.due_at if breached else c.met_at), "fail" if breached else "pass", None)
                )  # fmt: skip
    writer.insert(WorkOrder, ORDER_FIELDS, orders)
    return {
        "timers": writer.insert(WorkOrderTimer, TIMER_FIELDS, timers),
        "events": writer.insert(WorkOrderEvent, EVENT_FIELDS, events),
        "judgments": writer.insert(Judgment, JUDGMENT_FIELDS, judgments),
    }


@transaction.atomic
def load_demo(
    admin: Any,
    city: Organization,
    counties: Sequence[Organization],
    *,
    orders: int = 40_000,
    months: int = 6,
    seed: int = 2026,
    now: datetime | None = None,
) -> dict[str, int]:
    """The work-order part of the demo; returns row counts.

    ``admin`` manages standards at ``city``. Users added (three more workers per vendor,
    eight requesters per centre) share ``admin``'s password hash, so they log in with
    the demo password and cost no Argon2 round.
    """
    now = now or timezone.now()
    with frozen_day_table():
        gen = Generator(categories={}, now=now, months=months, seed=seed)
        install_standard(admin, city)
        sla_in_force_since(gen.start - timedelta(days=1))
        gen.categories = categories = build_catalogue(city)
        gen.centres = centres = _centres(city, counties, admin.password, categories)
        if WorkOrder.objects.exists():  # loaded before: keep that history, add no second one
            orders = 0
        writer = RowWriter()
        next_id = (WorkOrder.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        counts = {"orders": 0, "timers": 0, "events": 0, "judgments": 0}
        per_day: dict[date, int] = {}
        batch: list[dict[str, Any]] = []
        for i, t0 in enumerate(gen.submitted_times(orders)):
            day = t0.astimezone(SHANGHAI).date()
            per_day[day] = per_day.get(day, 0) + 1
            batch.append(gen.simulate(t0, per_day[day]))
            if len(batch) >= BATCH or i == orders - 1:
                for k, v in _flush(writer, batch, next_id).items():
                    counts[k] += v
                counts["orders"] += len(batch)
                next_id += len(batch)
                batch = []
        writer.reset_sequences(WorkOrder)
    counts["categories"] = len(categories)
    counts["teams"] = sum(1 for c in centres if c.team)
    return counts
