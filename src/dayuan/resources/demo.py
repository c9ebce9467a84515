"""Resource-pool demo data (资源整合、需求匹配): some three hundred resources offered by the
demo's departments, two enterprises, a social organisation and a county volunteer team;
months of demands and who got what; the 公物仓's ledger; volunteers, their activities
and hours; 民生微实事 micro-projects.

Who offers what:

- every centre's departments: the meeting rooms of the compound (the 会议中心's 多功能厅
  shared city-wide, the floors' rooms with their own unit or the centre), courts and car
  parks shared off-peak (篮球场(错峰开放), 停车场(夜间共享)), the car pool (中型客车,
  商务车, the city's 45-seat coach), manpower (会务保障组, 电工维修班, 搬运突击队), the
  民生微实事资金 fund, and a 公物仓 (surplus office furniture, computers, tents…; the
  city's is run by its 资产管理科 and shared with every unit);
- the city-investment enterprise (市城市建设投资集团有限公司): its tower's lecture hall
  and meeting rooms (charged by the hour), night parking, a sports centre shared
  off-peak, donated laptops, a charity fund; and a second enterprise, the 东城区's
  culture and tourism group (a county-level enterprise: its theatre, hall, coaches,
  guides and a fund);
- 市志愿者协会 (city-volunteers) and its service teams (机关, 助老, 文明交通, 应急救援,
  法律援助…), and 东城区机关志愿服务队, a county team of its own.

The history (``months``, ``DAYUAN_DEMO_RESOURCE_MONTHS``, before now; demands posted
before now reach up to three weeks ahead; some fifteen demands a working day) is
written in bulk, as the services would have written it: demands fulfilled, expired
unmatched, cancelled, rejected by their unit's approver; allocations returned or
completed, rejected by the owner, cancelled;
holds only on approved and in-use allocations, and never two on an exclusive resource
at once; inside the resources' weekly windows and outside their closures; headcounts
within the team's size; stock taken by hand-outs (an ``out`` transfer and the saved
value each) and some returned, so ``quantity = available + handed out − returned``;
volunteers whose hours are the sum of their attended sign-ups.

The rows are inserted as they are (``_bulk``: ids given here, the history's own
timestamps, no per-value ORM work), so a month of history costs a fraction of a second.

The present goes through the services, each call with ``now`` set to its moment in the
last day: every demo login (and the pool's own logins) posts an upcoming demand that
some resource can meet; some request their best match (one needs no approval and is
allocated at once); owners approve a few and leave the rest in their 待审批; one demand
goes through its unit's approver, another still waits for them; the city's 公物仓
receives surplus furniture and checks two lots in; staff join volunteer teams and sign
up; the volunteer station records the last activity's attendance and opens a new one; a
county micro-project is proposed and approved and another reports progress; the city's
多功能厅 is closed for a day of checks; the hourly job runs (one car not returned is
reported). With two months of history or more the city also runs next week's batch
matching (a shorter history, the tests', leaves the solver to its own tests: importing
SciPy alone would be a good part of its load time).

People: ``cityinvest_manager`` and ``tourism_manager`` (the enterprises),
``volunteers_manager`` and ``volunteers_worker`` (市志愿者协会: the manager approves
requests for the teams, the worker keeps the volunteer register and attendance),
``dcvolunteers_manager`` (东城区机关志愿服务队) and ``warehouse_manager`` (the city's
资产管理科, which runs the 公物仓). Deterministic for a given ``seed`` and ``now``; a
second load adds nothing.
"""

from __future__ import annotations

import logging
import math
import random
import time as _time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dayuan.accounts.choices import Role
from dayuan.accounts.models import Grant, User
from dayuan.core.errors import DomainError
from dayuan.core.tree import next_child_path
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Location, Organization

from .choices import (
    EXCLUSIVE_KINDS,
    KIND_UNITS,
    STOCK_KINDS,
    ActivityStatus,
    AllocationStatus,
    CostBasis,
    DemandStatus,
    Priority,
    ProjectStatus,
    ResourceKind,
    SignUpStatus,
    StockStatus,
    TransferKind,
    Visibility,
)
from .models import (
    Activity,
    Allocation,
    Closure,
    Demand,
    MicroProject,
    Resource,
    SignUp,
    Transfer,
    Volunteer,
)

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
K = ResourceKind
V = Visibility
A = AllocationStatus
D = DemandStatus
CENT = Decimal("0.01")
FULL_MONTHS = 4

# --- organisations and logins ---------------------------------------------------------------

ENTERPRISE_CODE = "city-investment"  # the core demo's enterprise, under the city
TOURISM = ("dongcheng-tourism", "东城区文化旅游发展集团有限公司")  # under 东城区
SOCIAL_CODE = "city-volunteers"  # 市志愿者协会, the core demo's social organisation
DC_TEAM = ("dongcheng-volunteers", "东城区机关志愿服务队")  # a county team (social org)


@dataclass(frozen=True)
class PoolLogin:
    username: str
    org_code: str  # "@warehouse" is the city's 公物仓 department
    role: str
    display_name: str
    what: str  # what the README and the printed logins say they do


POOL_LOGINS: tuple[PoolLogin, ...] = (
    PoolLogin("cityinvest_manager", ENTERPRISE_CODE, Role.MANAGER, "钱立群",
              "approves requests for 城投's halls, parking and sports centre"),
    PoolLogin("tourism_manager", TOURISM[0], Role.MANAGER, "柳文静",
              "approves requests for the 东城区 culture and tourism group's theatre and coaches"),
    PoolLogin("volunteers_manager", SOCIAL_CODE, Role.MANAGER, "严志宏",
              "approves requests for 市志愿者协会's service teams"),
    PoolLogin("volunteers_worker", SOCIAL_CODE, Role.WORKER, "施晓燕",
              "keeps the volunteer register: activities, sign-ups, attendance and hours"),
    PoolLogin("dcvolunteers_manager", DC_TEAM[0], Role.MANAGER, "金国平",
              "runs 东城区机关志愿服务队: its activities and requests"),
    PoolLogin("warehouse_manager", "@warehouse", Role.MANAGER, "陶建英",
              "runs the city's 公物仓: checks items in, approves hand-outs, returns"),
)  # fmt: skip

# --- weekly windows ---------------------------------------------------------------------------

WORKDAYS = [0, 1, 2, 3, 4]
WEEKEND = [5, 6]
EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]


def _w(days: list[int], start: str, end: str, offpeak: bool = False) -> dict[str, Any]:
    return {"days": days, "start": start, "end": end, "offpeak": offpeak}


OFFICE = [_w(WORKDAYS, "08:00", "18:00")]
HALL = [_w(EVERY_DAY, "08:00", "21:00")]
SHARED_ROOM = [  # a meeting room its unit lends out in the evenings and at weekends too
    _w(WORKDAYS, "08:00", "18:00"),
    _w(WORKDAYS, "18:30", "21:30", True),
    _w(WEEKEND, "09:00", "17:00", True),
]
COURT = [_w(WORKDAYS, "18:00", "21:30", True), _w(WEEKEND, "08:00", "21:00", True)]
PARKING = [_w(WORKDAYS, "18:30", "23:30", True), _w(WEEKEND, "07:00", "22:00", True)]
GYM = [_w(WORKDAYS, "12:00", "13:30"), _w(WORKDAYS, "17:30", "21:00", True)]
VEHICLE = [_w(EVERY_DAY, "07:00", "22:00")]
MANPOWER = [_w(WORKDAYS, "08:30", "17:30")]
TEAM = [_w(WORKDAYS, "18:00", "21:00"), _w(WEEKEND, "08:00", "18:00")]
ENTERPRISE_ROOM = [_w(WORKDAYS, "09:00", "17:30"), _w(WEEKEND, "09:00", "17:00", True)]
THEATRE = [_w([1, 2, 3, 4], "09:00", "17:00", True), _w([0], "09:00", "21:30", True)]
ANY_TIME: list[dict[str, Any]] = []


@dataclass(frozen=True)
class Spec:
    """One resource of the catalogue (before it is placed and owned)."""

    kind: str
    name: str
    capacity: int = 0  # exclusive and headcount kinds
    quantity: int = 0  # stock kinds
    attributes: tuple[str, ...] = ()
    windows: tuple[dict[str, Any], ...] = ()
    visibility: str = V.CENTRE
    cost_basis: str = CostBasis.FREE
    cost: str = "0"
    unit_value: str = "0"
    requires_approval: bool = True
    preference: int = 50
    description: str = ""
    unit: str = ""
    address: str = ""
    place: str = ""  # an AREA location to create under the compound (facilities)


def S(kind: str, name: str, **kw: Any) -> Spec:
    if "windows" in kw:
        kw["windows"] = tuple(kw["windows"])
    if "attributes" in kw:
        kw["attributes"] = tuple(kw["attributes"])
    return Spec(kind, name, **kw)


# Facilities of a compound: (spec, only for these centres or None for all).
FACILITIES: tuple[tuple[Spec, tuple[str, ...] | None], ...] = (
    (S(K.FACILITY, "篮球场(错峰开放)", capacity=30, attributes=["basketball", "outdoor"],
       windows=COURT, visibility=V.PUBLIC, requires_approval=False, preference=70,
       description="标准室外篮球场，工作日晚间和双休日错峰向各单位及社会开放。",
       place="篮球场"), None),
    (S(K.FACILITY, "停车场(夜间共享)", capacity=120, attributes=["parking"], windows=PARKING,
       visibility=V.PUBLIC, requires_approval=False, preference=60,
       description="大院停车场，工作日 18:30 后和双休日向周边单位及居民共享。",
       place="停车场"), None),
    (S(K.FACILITY, "羽毛球馆(错峰开放)", capacity=16, attributes=["air_con", "badminton"],
       windows=COURT, visibility=V.CITY, preference=60, description="四片场地，含空调。",
       place="羽毛球馆"), ("city",)),
    (S(K.FACILITY, "职工健身房", capacity=25, attributes=["air_con"], windows=GYM,
       description="午间和下班后开放，需提前预约。", place="健身房"), ("city", "dongcheng")),
    (S(K.FACILITY, "职工之家活动室", capacity=40, attributes=["air_con", "projector"],
       windows=SHARED_ROOM, description="可开展小型文体活动、观影和培训。",
       place="职工之家"), None),
    (S(K.FACILITY, "中心广场", capacity=500, attributes=["outdoor", "stage"], windows=HALL,
       visibility=V.CITY, description="可搭建舞台，适合大型户外活动和集中宣传。",
       place="中心广场"), ("city", "nanshan")),
    (S(K.FACILITY, "乒乓球室", capacity=12, attributes=["air_con"], windows=GYM,
       place="乒乓球室"), ("dongcheng", "xihu", "nanshan")),
)  # fmt: skip

# The car pool of a centre: (name, seats, attributes, visibility, cost basis, cost).
VEHICLES = {
    "city": (
        ("中型客车（浙A·J2187，19座）", 19, (), V.CENTRE, CostBasis.PER_USE, "120"),
        ("中型客车（浙A·J2190，19座）", 19, (), V.CENTRE, CostBasis.PER_USE, "120"),
        ("大客车（浙A·J5536，45座）", 45, ("seats_45",), V.CITY, CostBasis.PER_USE, "300"),
        ("商务车（浙A·J0713，7座）", 7, (), V.CENTRE, CostBasis.FREE, "0"),
        ("商务车（浙A·J0716，7座）", 7, (), V.CENTRE, CostBasis.FREE, "0"),
        ("商务车（浙A·J0722，7座）", 7, (), V.OWNER, CostBasis.FREE, "0"),
        ("应急保障车（浙A·J9201）", 5, ("first_aid",), V.CITY, CostBasis.FREE, "0"),
        ("厢式货车（浙A·J3378）", 2, ("driving",), V.CENTRE, CostBasis.PER_USE, "80"),
    ),
    "county": (
        ("中型客车（19座）", 19, (), V.CENTRE, CostBasis.PER_USE, "100"),
        ("商务车（7座）", 7, (), V.CENTRE, CostBasis.FREE, "0"),
        ("商务车（7座·二号）", 7, (), V.OWNER, CostBasis.FREE, "0"),
        ("皮卡（物资运输）", 3, ("driving",), V.CENTRE, CostBasis.FREE, "0"),
    ),
}
PLATES = {"dongcheng": "浙A·D", "xihu": "浙A·X", "nanshan": "浙A·N"}

MANPOWER_SPECS = (
    S(K.MANPOWER, "会务保障组", capacity=8, attributes=["sound"], windows=MANPOWER,
      description="会场布置、签到引导、音响调试。"),
    S(K.MANPOWER, "电工维修班", capacity=4, attributes=["electrician"], windows=MANPOWER,
      description="临时用电、灯光线路。"),
    S(K.MANPOWER, "搬运突击队", capacity=10, windows=MANPOWER,
      description="搬家、物资搬运、会场桌椅调整。"),
    S(K.MANPOWER, "信息技术保障组", capacity=4, attributes=["it"], windows=MANPOWER,
      description="视频会议、网络和电脑保障。"),
)  # fmt: skip

ENTERPRISE_SPECS = (
    S(K.VENUE, "城投大厦报告厅", capacity=220,
      attributes=["accessible", "led", "projector", "sound", "video_conf", "air_con"],
      windows=ENTERPRISE_ROOM, visibility=V.CITY, cost_basis=CostBasis.PER_HOUR, cost="300",
      preference=55, address="市府大道 88 号城投大厦 2 楼",
      description="阶梯报告厅，可同声传译，适合大型培训和发布会。"),
    S(K.VENUE, "城投大厦18楼会议室", capacity=30, attributes=["air_con", "projector", "video_conf"],
      windows=ENTERPRISE_ROOM, visibility=V.CITY, cost_basis=CostBasis.PER_HOUR, cost="100",
      address="市府大道 88 号城投大厦 18 楼"),
    S(K.VENUE, "城投大厦20楼会议室", capacity=16, attributes=["air_con", "projector"],
      windows=ENTERPRISE_ROOM, visibility=V.CITY, cost_basis=CostBasis.PER_HOUR, cost="60",
      address="市府大道 88 号城投大厦 20 楼"),
    S(K.FACILITY, "城投大厦地下停车场(夜间共享)", capacity=300, attributes=["parking"],
      windows=PARKING, visibility=V.PUBLIC, requires_approval=False, preference=70,
      address="市府大道 88 号", description="夜间及节假日向周边机关和居民共享车位。"),
    S(K.FACILITY, "城投体育中心停车场(夜间共享)", capacity=500, attributes=["parking"],
      windows=PARKING, visibility=V.PUBLIC, requires_approval=False, address="滨江路 1 号"),
    S(K.FACILITY, "城投体育中心篮球馆(错峰开放)", capacity=40,
      attributes=["air_con", "basketball"], windows=COURT, visibility=V.PUBLIC,
      cost_basis=CostBasis.PER_HOUR, cost="120", address="滨江路 1 号体育中心 B 馆"),
    S(K.FACILITY, "城投体育中心足球场(错峰开放)", capacity=60, attributes=["outdoor"],
      windows=COURT, visibility=V.PUBLIC, cost_basis=CostBasis.PER_HOUR, cost="200",
      address="滨江路 1 号体育中心"),
    S(K.VEHICLE, "城投工程抢修车", capacity=4, attributes=["electrician"], windows=VEHICLE,
      visibility=V.CITY, preference=40),
    S(K.VEHICLE, "城投中型客车（19座）", capacity=19, windows=VEHICLE, visibility=V.CITY,
      cost_basis=CostBasis.PER_USE, cost="400"),
    S(K.ASSET, "笔记本电脑（城投集团捐赠）", quantity=30, attributes=["computer"],
      visibility=V.CITY, unit_value="5200", unit="台",
      description="九成新，已清除数据，捐赠给基层单位和社区使用。"),
    S(K.FUND, "城投公益基金", quantity=500_000, visibility=V.CITY, unit="元",
      description="支持民生微实事和志愿服务项目。"),
    S(K.MANPOWER, "城投青年突击队", capacity=20, windows=TEAM, visibility=V.CITY,
      description="青年职工志愿突击队，可支援大型活动和应急保障。"),
)  # fmt: skip

TOURISM_SPECS = (
    S(K.VENUE, "东城区文化中心小剧场", capacity=400,
      attributes=["accessible", "led", "sound", "stage", "air_con"], windows=THEATRE,
      visibility=V.CITY, cost_basis=CostBasis.PER_USE, cost="2000", preference=45,
      address="东城区文化路 16 号", description="周一全天、周二至周四白天错峰开放。"),
    S(K.VENUE, "东城区文化中心多功能厅", capacity=150,
      attributes=["led", "projector", "sound", "air_con"], windows=ENTERPRISE_ROOM,
      visibility=V.CITY, cost_basis=CostBasis.PER_HOUR, cost="200",
      address="东城区文化路 16 号 3 楼"),
    S(K.VENUE, "东城区文化中心展厅", capacity=100, attributes=["accessible", "led"],
      windows=ENTERPRISE_ROOM, visibility=V.PUBLIC, cost_basis=CostBasis.PER_USE, cost="800",
      address="东城区文化路 16 号 1 楼"),
    S(K.FACILITY, "东城体育馆篮球场(错峰开放)", capacity=40, attributes=["basketball"],
      windows=COURT, visibility=V.PUBLIC, cost_basis=CostBasis.PER_HOUR, cost="80",
      address="东城区体育路 2 号"),
    S(K.FACILITY, "古镇景区停车场(夜间共享)", capacity=200, attributes=["parking"],
      windows=PARKING, visibility=V.PUBLIC, requires_approval=False, address="东城区古镇东门"),
    S(K.VEHICLE, "旅游大巴（浙A·T8801，45座）", capacity=45, attributes=["seats_45"],
      windows=VEHICLE, visibility=V.CITY, cost_basis=CostBasis.PER_USE, cost="1200"),
    S(K.VEHICLE, "旅游大巴（浙A·T8802，45座）", capacity=45, attributes=["seats_45"],
      windows=VEHICLE, visibility=V.CITY, cost_basis=CostBasis.PER_USE, cost="1200"),
    S(K.VEHICLE, "旅游中巴（浙A·T6603，33座）", capacity=33, windows=VEHICLE,
      visibility=V.CITY, cost_basis=CostBasis.PER_USE, cost="900"),
    S(K.MANPOWER, "文旅讲解员队伍", capacity=12, attributes=["teaching"], windows=HALL,
      visibility=V.CITY, description="红色教育基地和文化场馆讲解。"),
    S(K.ASSET, "活动帐篷（文旅集团捐赠）", quantity=20, attributes=["outdoor", "tent"],
      visibility=V.CENTRE, unit_value="800", unit="顶"),
    S(K.FUND, "文旅惠民活动资金", quantity=300_000, visibility=V.CENTRE, unit="元",
      description="支持社区文化活动和惠民演出。"),
)  # fmt: skip

TEAM_SPECS = (
    S(K.VOLUNTEER_TEAM, "机关志愿服务总队", capacity=80,
      attributes=["first_aid", "photography", "teaching"], windows=TEAM, visibility=V.CITY,
      preference=60, description="市直机关干部职工组成，承接各类大型活动志愿服务。"),
    S(K.VOLUNTEER_TEAM, "助老志愿服务队", capacity=30, attributes=["elder_care"],
      windows=TEAM, visibility=V.CITY, description="探访空巢老人、助老食堂帮厨。"),
    S(K.VOLUNTEER_TEAM, "文明交通志愿服务队", capacity=40, windows=TEAM, visibility=V.CITY,
      description="路口文明劝导、交通秩序维护。"),
    S(K.VOLUNTEER_TEAM, "应急救援志愿服务队", capacity=25, attributes=["driving", "first_aid"],
      windows=ANY_TIME, visibility=V.CITY, description="全天候响应，持证急救员。"),
    S(K.VOLUNTEER_TEAM, "法律援助志愿服务队", capacity=12, attributes=["law"], windows=TEAM,
      visibility=V.CITY, description="律师和法律工作者，普法宣传和法律咨询。"),
    S(K.VOLUNTEER_TEAM, "摄影志愿服务队", capacity=10, attributes=["photography"],
      windows=TEAM, visibility=V.CITY),
    S(K.VOLUNTEER_TEAM, "信息技术志愿服务队", capacity=15, attributes=["it"], windows=TEAM,
      visibility=V.CITY, description="帮助老年人使用智能手机、防范电信诈骗。"),
)  # fmt: skip
DC_TEAM_SPEC = S(
    K.VOLUNTEER_TEAM, "东城区机关志愿服务队", capacity=35,
    attributes=["elder_care", "first_aid"], windows=TEAM, visibility=V.CENTRE,
    description="东城区机关干部职工志愿服务队。",
)  # fmt: skip

# 公物仓 lots: (item, attributes, unit value, quantity low, high); names get the giver.
WAREHOUSE_ITEMS: tuple[tuple[str, tuple[str, ...], int, int, int], ...] = (
    ("办公桌（1.4米）", ("office_furniture",), 1200, 2, 20),
    ("办公椅", ("office_furniture",), 450, 4, 40),
    ("文件柜（钢制）", ("office_furniture",), 900, 2, 15),
    ("会议桌（3.6米）", ("office_furniture",), 3800, 1, 4),
    ("会议椅", ("office_furniture",), 380, 10, 60),
    ("三人位沙发", ("office_furniture",), 2600, 1, 4),
    ("书架", ("office_furniture",), 700, 2, 10),
    ("茶水柜", ("office_furniture",), 1100, 1, 5),
    ("档案密集架", ("office_furniture",), 9000, 1, 3),
    ("台式电脑（i5/16G）", ("computer",), 4800, 2, 15),
    ("笔记本电脑", ("computer",), 5600, 1, 8),
    ("激光打印机", ("computer",), 2200, 1, 6),
    ("复印一体机", ("computer",), 18000, 1, 2),
    ("投影仪", ("projector",), 4200, 1, 4),
    ("LED显示屏（2㎡）", ("led",), 12000, 1, 2),
    ("音响套装", ("sound",), 6800, 1, 3),
    ("挂式空调（1.5匹）", ("air_con",), 2800, 1, 8),
    ("饮水机", (), 600, 2, 10),
    ("碎纸机", (), 900, 1, 5),
    ("保险柜", (), 2600, 1, 3),
    ("折叠帐篷（3×3米）", ("outdoor", "tent"), 800, 2, 12),
    ("折叠桌", (), 260, 5, 30),
    ("折叠椅", (), 80, 10, 80),
)
WAREHOUSE_LOTS = {"city": 80, "dongcheng": 30, "nanshan": 25, "xihu": 15}
WAREHOUSE_ORIGINS = ("搬迁移交", "机构改革移交", "办公用房调整腾退", "会议结束移交", "更新换下")

# --- demands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemandKind:
    """A kind of demand people post: what, how many, with what, when."""

    kind: str
    titles: tuple[str, ...]
    amount: tuple[int, int]
    attributes: tuple[tuple[str, ...], ...]  # one of these sets, at random
    pattern: str  # "office", "evening", "weekend", "day", "stock", "hall"
    hours: tuple[float, ...]
    lead: tuple[int, int]  # days between posting and the start
    weight: int


DEMAND_KINDS: tuple[DemandKind, ...] = (
    DemandKind(K.VENUE, ("业务培训会", "工作推进会", "专题座谈会", "招聘面试考场", "主题党日活动",
                         "季度工作例会", "年度考核述职会", "新入职人员培训"),
               (10, 60), ((), ("projector",), ("projector", "sound"), ("video_conf",)),
               "office", (1.5, 2, 3, 4), (2, 12), 30),
    DemandKind(K.VENUE, ("全市系统业务培训班", "职工大会", "表彰大会", "政策宣讲会"),
               (80, 200), (("sound",), ("led", "sound"), ("projector", "sound")),
               "hall", (2, 3, 4), (5, 18), 8),
    DemandKind(K.FACILITY, ("职工篮球友谊赛", "篮球训练"), (10, 24), (("basketball",),),
               "evening", (1.5, 2), (1, 8), 6),
    DemandKind(K.FACILITY, ("加班车辆夜间停放", "周末活动停车"), (20, 80), (("parking",),),
               "evening", (2, 3), (1, 6), 4),
    DemandKind(K.FACILITY, ("职工文体活动", "观影活动", "小型培训"), (15, 35), ((),),
               "office", (1.5, 2), (2, 10), 4),
    DemandKind(K.VEHICLE, ("外出调研用车", "基层走访用车", "会议接送", "外出学习考察"),
               (4, 18), ((),), "day", (3, 4, 8), (1, 7), 14),
    DemandKind(K.VEHICLE, ("集体学习教育参观", "运动会接送"), (30, 45), (("seats_45",),),
               "day", (4, 8), (4, 14), 3),
    DemandKind(K.ASSET, ("新设科室办公桌椅", "办公室家具补充", "会议室桌椅更新"), (2, 10),
               (("office_furniture",),), "stock", (), (3, 20), 8),
    DemandKind(K.ASSET, ("办公电脑更新", "窗口服务电脑补充"), (1, 5), (("computer",),),
               "stock", (), (3, 20), 5),
    DemandKind(K.ASSET, ("户外活动帐篷", "宣传活动物资"), (2, 6), (("tent",),), "stock", (),
               (3, 12), 2),
    DemandKind(K.MANPOWER, ("会务保障支援", "搬家搬运支援", "临时用电保障", "视频会议保障"),
               (2, 8), ((), ("sound",), ("electrician",), ("it",)), "office", (2, 3, 4),
               (1, 7), 8),
    DemandKind(K.VOLUNTEER_TEAM, ("文明交通劝导", "助老探访", "运动会志愿服务", "普法宣传",
                                  "活动摄影记录", "防诈骗宣传进社区"),
               (3, 25), ((), ("elder_care",), ("first_aid",), ("law",), ("photography",)),
               "weekend", (2, 3, 4), (5, 16), 8),
)  # fmt: skip
PRIORITIES = ((Priority.NORMAL, 70), (Priority.HIGH, 16), (Priority.LOW, 7), (Priority.URGENT, 7))
CANCEL_REASONS = ("活动取消", "改为线上开展", "时间调整，另行申请", "已自行解决", "")
REJECT_NOTES = ("当天该资源已安排单位自用", "申请人数超出场地安全容量", "请改用本单位资源",
                "设备检修，暂不外借")  # fmt: skip
DEMAND_REJECT = ("本月已安排同类活动，暂缓", "请合并到季度培训统一安排", "预算不足")
CLOSURE_REASONS = ("设备检修", "单位自用：重要会议", "场地翻新", "车辆年检", "消防设施检测")

PROJECTS: tuple[tuple[str, str, int], ...] = (
    ("老旧小区楼道扶手加装", "为 6 个老旧小区 32 个单元加装楼道扶手，方便老年人上下楼。", 86_000),
    ("社区助老食堂设施改造", "更新助老食堂厨房设备和就餐桌椅，新增适老化餐具。", 120_000),
    ("机关大院无障碍通道改造", "大院主出入口和食堂增设无障碍坡道、扶手和盲道。", 68_000),
    ("背街小巷路灯修复", "修复和新增背街小巷路灯 46 盏，消除夜间照明盲区。", 54_000),
    ("社区儿童游乐设施更新", "更换老化游乐设施，铺设安全地垫。", 75_000),
    ("小区电动车充电棚建设", "建设集中充电棚 3 处，解决飞线充电隐患。", 98_000),
    ("社区健身路径更新", "更新健身器材 24 件，增设夜间照明。", 46_000),
    ("垃圾分类亭建设", "新建智能垃圾分类亭 8 座，配套洗手设施。", 64_000),
    ("口袋公园绿化提升", "利用闲置地块建设口袋公园，补植乔木和座椅。", 110_000),
    ("社区图书角建设", "在 4 个社区建设图书角，接收各单位捐赠图书。", 28_000),
    ("老年人防诈骗宣传", "组织法律和信息技术志愿者进社区开展防诈骗宣传 12 场。", 18_000),
    ("农贸市场遮阳棚改造", "改造农贸市场外摆区遮阳棚，规范摊位。", 58_000),
    ("公共自行车停放点建设", "新建公共自行车停放点 5 处，施划停车线。", 36_000),
)  # fmt: skip
OUTCOMES = ("已按计划完成，居民满意度调查 96%。", "项目完工验收合格，受益群众反映良好。",
            "提前一周完成，节约资金用于后续维护。")  # fmt: skip

ACTIVITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("文明交通劝导（解放路口）", "早高峰路口文明劝导，引导行人和非机动车守法通行。", ()),
    ("社区助老探访", "探访空巢和独居老人，帮助打扫卫生、陪伴聊天。", ("elder_care",)),
    ("垃圾分类宣传进小区", "在小区出入口指导居民分类投放。", ()),
    ("无偿献血服务", "献血点引导、登记和休息区服务。", ("first_aid",)),
    ("普法宣传进社区", "法律咨询和反诈宣传。", ("law",)),
    ("城市马拉松赛事服务", "补给站、赛道引导和终点服务。", ("first_aid",)),
    ("图书馆志愿服务", "图书整理、读者引导和少儿阅读辅导。", ("teaching",)),
    ("关爱留守儿童", "课业辅导和兴趣活动。", ("teaching",)),
    ("清洁家园行动", "河道沿岸和背街小巷清洁。", ()),
    ("助老智能手机课堂", "教老年人使用健康码、移动支付和防范诈骗。", ("it",)),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏吕丁沈任姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
         "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "晓东", "海燕", "志强", "丽华",
         "文斌", "慧敏", "国庆", "佳怡", "子涵", "雨婷", "浩然", "思远", "俊杰", "欣怡",
         "宇航", "梦瑶", "建国", "淑珍", "立新", "红梅", "家豪")  # fmt: skip
VOLUNTEER_SKILLS = ("first_aid", "elder_care", "law", "photography", "teaching", "it", "driving")
VOLUNTEERS = {"city": 110, "county": 36}


# --- small helpers ------------------------------------------------------------------------------


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=SHANGHAI)


def _hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def _at(day: date, minutes: int) -> datetime:
    return _local(day, time(0)) + timedelta(minutes=minutes)


Spans = tuple[tuple[frozenset[int], int, int], ...]


def spans(windows: Sequence[dict[str, Any]]) -> Spans:
    """Weekly windows as (weekdays, from, to) in minutes of the day."""
    return tuple((frozenset(w["days"]), _hm(w["start"]), _hm(w["end"])) for w in windows)


def covered(windows: Spans, start: datetime, end: datetime) -> bool:
    """Whether ``[start, end)`` lies inside the weekly windows on every calendar day it
    touches (each day's segment inside one window); no windows is any time."""
    if not windows:
        return True
    s, e = start.astimezone(SHANGHAI), end.astimezone(SHANGHAI)
    day = s.date()
    while (midnight := _local(day, time(0))) < e:
        a = max(s, midnight)
        b = min(e, midnight + timedelta(days=1))
        lo = int((a - midnight).total_seconds() // 60)
        hi = math.ceil((b - midnight).total_seconds() / 60)
        weekday = day.weekday()
        if not any(weekday in days and f <= lo and hi <= t for days, f, t in windows):
            return False
        day += timedelta(days=1)
    return True


def estimate_cost(
    basis: str, cost: Decimal, amount: int, start: datetime, end: datetime
) -> Decimal:
    """What the services and matching charge: free 0; by the hour (rounded up to half
    hours); per use; per unit."""
    if basis == CostBasis.PER_HOUR:
        halves = math.ceil((end - start).total_seconds() / 1800)
        return (cost * Decimal(halves) / 2).quantize(CENT)
    if basis == CostBasis.PER_USE:
        return cost.quantize(CENT)
    if basis == CostBasis.PER_UNIT:
        return (cost * amount).quantize(CENT)
    return Decimal("0.00")


def _bulk(model: type, objs: Sequence[Any]) -> None:
    """Insert rows as they are, ids given here, in the driver's own terms (the
    work-order demo's ``RowWriter``: COPY on PostgreSQL, ``executemany`` on SQLite):
    their ``created_at``/``updated_at`` are the history's, not the load's, and the ORM's
    per-value preparation (most of a ``bulk_create``) is skipped. Related objects
    written before lend their ids."""
    if not objs:
        return
    from django.db.models import DateTimeField, FileField, JSONField, Max

    from dayuan.workorders.demo import RowWriter

    writer = RowWriter()
    fields = list(model._meta.concrete_fields)
    names = [f.attname for f in fields]
    kinds = [
        "dt" if isinstance(f, DateTimeField)
        else "json" if isinstance(f, JSONField)
        else "file" if isinstance(f, FileField)
        else ""
        for f in fields
    ]  # fmt: skip
    first = (model._default_manager.aggregate(m=Max("pk"))["m"] or 0) + 1
    rows = []
    for n, obj in enumerate(objs):
        obj.pk = first + n
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        row = []
        for name, kind in zip(names, kinds, strict=True):
            value = getattr(obj, name)
            if kind == "dt":
                value = writer.dt(value)
            elif kind == "json":
                value = writer.json(value)
            elif kind == "file":
                value = value.name or ""
            elif isinstance(value, Enum):
                value = value.value
            row.append(value)
        rows.append(row)
        obj._state.adding = False
    writer.insert(model, names, rows)
    writer.reset_sequences(model)


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _w in weighted], [w for _v, w in weighted])[0]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _number(prefix: str, at: datetime, seq: dict[tuple[str, date], int]) -> str:
    day = at.astimezone(SHANGHAI).date()
    seq[(prefix, day)] = seq.get((prefix, day), 0) + 1
    return f"{prefix}-{day:%Y%m%d}-{seq[(prefix, day)]:05d}"


def _org(name: str, code: str, kind: str, parent: Organization) -> Organization:
    found = Organization.objects.filter(code=code).first()
    if found is not None:
        return found
    path = next_child_path(Organization, parent.path)
    return Organization.objects.create(
        name=name, code=code, kind=kind, parent=parent, path=path, depth=path.count(".") - 1
    )


def _departments(centre: Organization) -> list[Organization]:
    return list(
        Organization.objects.filter(parent=centre, kind=OrgKind.DEPARTMENT).order_by("path")
    ) or [centre]


def _warehouse_org(centre: Organization) -> Organization:
    """The department that runs a centre's 公物仓: its third (资产管理科, 后勤保障科,
    机关事务科), or the first where there is none."""
    depts = _departments(centre)
    return depts[2] if len(depts) > 2 else depts[0]


def ensure_orgs(city: Organization, counties: Sequence[Organization]) -> dict[str, Organization]:
    """The pool's organisations by code: the core demo's enterprise and social
    organisation, the 东城区 culture and tourism group and volunteer team (under the
    first county; under the city when there is none), and each centre's 公物仓 unit."""
    home = counties[0] if counties else city
    out = {
        ENTERPRISE_CODE: Organization.objects.filter(code=ENTERPRISE_CODE).first()
        or _org("市城市建设投资集团有限公司", ENTERPRISE_CODE, OrgKind.ENTERPRISE, city),
        SOCIAL_CODE: Organization.objects.filter(code=SOCIAL_CODE).first()
        or _org("市志愿者协会", SOCIAL_CODE, OrgKind.SOCIAL, city),
        TOURISM[0]: _org(TOURISM[1], TOURISM[0], OrgKind.ENTERPRISE, home),
        DC_TEAM[0]: _org(DC_TEAM[1], DC_TEAM[0], OrgKind.SOCIAL, home),
        "@warehouse": _warehouse_org(city),
    }
    return out


def ensure_logins(orgs: dict[str, Organization], password: str) -> dict[str, User]:
    """The pool's own logins (see ``POOL_LOGINS``), sharing the demo password's hash."""
    out = {}
    for i, spec in enumerate(POOL_LOGINS, start=1):
        org = orgs[spec.org_code]
        user = User.objects.filter(username=spec.username).first()
        if user is None:
            user = User(
                username=spec.username,
                display_name=spec.display_name,
                home_org=org,
                phone=f"1350572{i:04d}",
                email=f"{spec.username}@example.gov.cn",
                password=password,
            )
            user.save()
            Grant.objects.create(user=user, org=org, role=spec.role)
        out[spec.username] = user
    return out


def pool_logins() -> list[tuple[str, str, str]]:
    """(username, role, organisation name) of the pool's logins the demo made, in order:
    what ``dayuan demo`` prints after the core logins."""
    grants = {
        g.user.username: g
        for g in Grant.objects.filter(user__username__in=[p.username for p in POOL_LOGINS])
        .select_related("user", "org")
        .order_by("id")
    }
    rows = []
    for spec in POOL_LOGINS:
        g = grants.get(spec.username)
        if g is not None and g.role == spec.role:
            rows.append((spec.username, str(g.role), g.org.name))
    return rows


# --- the world as the generator sees it -------------------------------------------------------


@dataclass
class OrgInfo:
    pk: int
    path: str
    centre_id: int
    centre_code: str
    kind: str


@dataclass
class Poster:
    user_id: int
    org_id: int
    centre_code: str
    paths: tuple[str, ...]  # the user's grant paths
    centres: frozenset[int]  # the nearest centre above each grant
    location_id: int | None  # where their demands are (their centre's compound, if they may)


@dataclass(eq=False)
class Res:
    """A resource and what the generator keeps of its use."""

    obj: Resource
    centre_code: str
    org_path: str
    ready: datetime  # usable from (a warehouse lot: when it was stored)
    decider_id: int | None
    warehouse: bool = False
    holds: list[tuple[datetime, datetime, int]] = field(default_factory=list)
    closures: list[tuple[datetime, datetime]] = field(default_factory=list)
    tiebreak: float = 0.0  # orders equally good resources (drawn once, from the seed)

    def __post_init__(self) -> None:
        self.kind = self.obj.kind
        self.attributes = frozenset(self.obj.attributes)
        self.spans = spans(self.obj.windows)


def _org_table() -> dict[int, OrgInfo]:
    rows = list(Organization.objects.values_list("pk", "parent_id", "path", "kind", "code"))
    by_pk = {r[0]: r for r in rows}
    centres = OrgKind.centres()
    out = {}
    for pk, _parent, path, kind, _code in rows:
        node = pk
        while node is not None and by_pk[node][3] not in centres:
            node = by_pk[node][1]
        centre = node if node is not None else pk
        out[pk] = OrgInfo(pk, path, centre, by_pk[centre][4], kind)
    return out


def _posters(centres: Sequence[Organization], table: dict[int, OrgInfo]) -> dict[str, list[Poster]]:
    """Staff of each centre (its departments and the centre itself) who post demands."""
    compounds = dict(
        Location.objects.filter(kind=LocationKind.COMPOUND).values_list("org_id", "pk")
    )
    codes = {c.pk: c.code for c in centres}
    out: dict[str, list[Poster]] = {c.code: [] for c in centres}
    grants = (
        Grant.objects.filter(role=Role.STAFF, user__is_active=True)
        .values_list("user_id", "org_id", "user__home_org_id")
        .order_by("user_id")
    )
    for user_id, org_id, home_id in grants:
        info = table.get(org_id)
        if info is None or info.centre_id not in codes or home_id is None:
            continue
        at_centre = org_id == info.centre_id
        out[codes[info.centre_id]].append(
            Poster(
                user_id=user_id,
                org_id=home_id,
                centre_code=codes[info.centre_id],
                paths=(info.path,),
                centres=frozenset({info.centre_id}),
                location_id=compounds.get(info.centre_id) if at_centre else None,
            )
        )
    return out


def _usable(res: Res, poster: Poster) -> bool:
    """``queries.usable_condition`` in memory."""
    r = res.obj
    if not r.is_active or r.stock_status not in (None, StockStatus.STORED):
        return False
    if r.visibility in (V.CITY, V.PUBLIC):
        return True
    if any(res.org_path.startswith(p) for p in poster.paths):
        return True
    if r.visibility == V.OWNER:  # 仅本单位: the units under the owner too (staff posters)
        return any(p.startswith(res.org_path) for p in poster.paths)
    return r.visibility == V.CENTRE and r.centre_id in poster.centres


def _deciders(table: dict[int, OrgInfo]) -> dict[int, int]:
    """org id → the manager who decides requests for its resources: a manager granted
    at the org, else at the nearest org above it that has one."""
    at: dict[int, int] = {}
    for user_id, org_id in (
        Grant.objects.filter(role=Role.MANAGER, user__is_active=True)
        .order_by("id")
        .values_list("user_id", "org_id")
    ):
        at.setdefault(org_id, user_id)
    by_path = {info.path: pk for pk, info in table.items()}
    out = {}
    for pk, info in table.items():
        path = info.path
        while path:
            org = by_path.get(path)
            if org is not None and org in at:
                out[pk] = at[org]
                break
            path = path[: path.rstrip(".").rfind(".") + 1]
    return out


# --- the pool ---------------------------------------------------------------------------------


def _prefix(compound: Location | None, centre: Organization) -> str:
    """How a centre's own resources are named: its compound without 大院
    (市行政中心, 西湖县政府 …)."""
    if compound is None:
        return centre.short_name or centre.name
    return compound.name.removesuffix("大院")


def _areas(centre: Organization, compound: Location, names: Sequence[str]) -> dict[str, Location]:
    """The compound's shared places (篮球场, 停车场 …) as areas, made where missing, in one
    insert (paths numbered on from the compound's last child, as ``next_child_path``)."""
    from dayuan.core.tree import decode, encode

    found = {
        loc.name: loc
        for loc in Location.objects.filter(
            org=centre, parent=compound, kind=LocationKind.AREA, name__in=list(names)
        )
    }
    missing = [n for n in dict.fromkeys(names) if n not in found]
    if missing:
        first = next_child_path(Location, compound.path)
        number = decode(first[len(compound.path) : -1])
        made = [
            Location(
                org=centre,
                parent=compound,
                kind=LocationKind.AREA,
                name=name,
                path=f"{compound.path}{encode(number + i)}.",
                depth=compound.depth + 1,
                tags=["共享场地"],
            )
            for i, name in enumerate(missing)
        ]
        Location.objects.bulk_create(made)
        found.update({loc.name: loc for loc in made})
    return found


def _room_capacity(area: Decimal | None) -> int:
    return max(8, round(float(area or 20) * 0.6))


@dataclass
class PoolBuilder:
    """Resources written in bulk, as ``services.save_resource`` and
    ``warehouse.receive``/``store`` would have written them."""

    now: datetime
    first: datetime
    rng: random.Random
    table: dict[int, OrgInfo]
    deciders: dict[int, int]
    rows: list[tuple[Resource, str, datetime, bool]] = field(default_factory=list)
    lots: list[tuple[Resource, Organization, datetime]] = field(default_factory=list)  # received

    def add(
        self,
        spec: Spec,
        org: Organization,
        *,
        name: str | None = None,
        location: Location | None = None,
        ready: datetime | None = None,
        warehouse: bool = False,
        **over: Any,
    ) -> Resource:
        info = self.table[org.pk]
        stock = spec.kind in STOCK_KINDS
        quantity = over.pop("quantity", spec.quantity)
        r = Resource(
            org=org,
            centre_id=info.centre_id,
            kind=spec.kind,
            name=(name or spec.name)[:120],
            description=over.pop("description", spec.description),
            location=location,
            address=over.pop("address", spec.address),
            capacity=0 if stock else over.pop("capacity", spec.capacity),
            quantity=quantity if stock else 0,
            available=quantity if stock else 0,
            unit=over.pop("unit", spec.unit) or str(KIND_UNITS[spec.kind]),
            attributes=sorted(set(over.pop("attributes", spec.attributes))),
            windows=[] if stock else [dict(w) for w in over.pop("windows", spec.windows)],
            visibility=over.pop("visibility", spec.visibility),
            cost_basis=over.pop("cost_basis", spec.cost_basis),
            cost=Decimal(over.pop("cost", spec.cost)),
            unit_value=Decimal(over.pop("unit_value", spec.unit_value)),
            requires_approval=over.pop("requires_approval", spec.requires_approval),
            preference=over.pop("preference", spec.preference),
            contact_id=self.deciders.get(org.pk),
            contact_phone=over.pop("contact_phone", ""),
            stock_status=StockStatus.STORED if warehouse else None,
        )
        assert not over, over
        ready = ready or self.first - timedelta(days=60)
        r.created_at = r.updated_at = ready
        self.rows.append((r, info.centre_code, ready, warehouse))
        return r

    # what each centre offers -----------------------------------------------------------------

    def centre(self, centre: Organization, serial: int) -> None:
        depts = _departments(centre)
        office = depts[0]
        finance = depts[1] if len(depts) > 1 else depts[0]
        logistics = depts[2] if len(depts) > 2 else depts[-1]
        compound = Location.objects.filter(org=centre, kind=LocationKind.COMPOUND).first()
        prefix = _prefix(compound, centre)
        phone = centre.contact_phone or ""
        self._rooms(centre, depts, prefix, phone)
        if compound is None:
            return
        offered = [spec for spec, only in FACILITIES if only is None or centre.code in only]
        areas = _areas(centre, compound, [spec.place for spec in offered])
        for spec in offered:
            capacity = spec.capacity if centre.code == "city" else max(10, spec.capacity * 2 // 3)
            self.add(
                spec,
                logistics,
                name=f"{prefix}{spec.name}",
                location=areas[spec.place],
                capacity=capacity,
                contact_phone=phone,
            )
        key = "city" if centre.code == "city" else "county"
        plate = PLATES.get(centre.code, "浙A·C")
        for i, (vname, seats, attrs, vis, basis, cost) in enumerate(VEHICLES[key], start=1):
            if key == "county":
                kind_name = vname.split("（")[0]
                vname = f"{kind_name}（{plate}{1000 + serial * 100 + i}，{seats}座）"
            self.add(
                S(K.VEHICLE, vname, capacity=seats, attributes=attrs, windows=VEHICLE),
                office,
                name=f"{prefix}{vname}",
                location=compound,
                visibility=vis,
                cost_basis=basis,
                cost=cost,
                description="公务用车平台统一调度，含驾驶员。",
            )
        for spec in MANPOWER_SPECS:
            self.add(
                spec,
                logistics,
                name=f"{prefix}{spec.name}",
                location=compound,
                capacity=spec.capacity if key == "city" else max(2, spec.capacity // 2),
            )
        short = centre.name.replace("机关服务中心", "")
        self.add(
            S(K.FUND, f"{short}民生微实事资金", unit="元",
              description="用于群众身边的小事、急事、难事，项目化申报使用。"),
            finance,
            quantity=2_000_000 if key == "city" else 600_000,
        )  # fmt: skip
        if key == "city":
            self.add(
                S(K.FUND, "市级志愿服务专项经费", unit="元", visibility=V.CITY,
                  description="志愿服务活动的保险、交通和餐费补贴。"),
                finance,
                quantity=200_000,
            )  # fmt: skip
        self._warehouse(centre, compound, serial)

    def _rooms(
        self, centre: Organization, depts: list[Organization], prefix: str, phone: str
    ) -> None:
        """The compound's meeting rooms: the 会议中心's for the centre (its 多功能厅
        city-wide, one room lent out evenings and weekends), each office floor's for the
        department on that floor."""
        buildings = {
            b.path: b for b in Location.objects.filter(org=centre, kind=LocationKind.BUILDING)
        }
        rooms = [
            r
            for r in Location.objects.filter(org=centre, kind=LocationKind.ROOM).order_by("path")
            if "会议室" in (r.tags or [])
        ]
        shared_done = False
        for n, room in enumerate(rooms):
            building = next((b for p, b in buildings.items() if room.path.startswith(p)), None)
            bname = building.name if building else ""
            capacity = _room_capacity(room.area_m2)
            name = f"{prefix}{bname}{room.name}"
            if bname == "会议中心":
                if room.name == "多功能厅":
                    self.add(
                        S(K.VENUE, name, capacity=capacity, windows=HALL, visibility=V.CITY,
                          attributes=["accessible", "air_con", "led", "projector", "sound",
                                      "stage", "video_conf"],
                          cost_basis=CostBasis.PER_USE, cost="300", preference=70,
                          description="可举办报告会、培训班和文艺演出，收取保洁和能耗费。"),
                        depts[0], location=room, contact_phone=phone,
                    )  # fmt: skip
                    continue
                shared = not shared_done and room.name.startswith("第二")
                shared_done = shared_done or shared
                attrs = ["air_con", "projector", "sound"]
                if room.name.startswith("第一") or room.name == "贵宾室":
                    attrs.append("video_conf")
                if room.code.split("-")[-1].startswith("1"):  # the ground floor
                    attrs.append("accessible")
                self.add(
                    S(K.VENUE, name, capacity=capacity, attributes=attrs,
                      windows=SHARED_ROOM if shared else HALL,
                      visibility=V.PUBLIC if shared else V.CENTRE, preference=60,
                      description="晚间和双休日向社会组织错峰开放。" if shared else ""),
                    depts[0], location=room, contact_phone=phone,
                )  # fmt: skip
                continue
            dept = depts[n % len(depts)]
            attrs = ["air_con", "projector"] + (["video_conf"] if n % 3 == 0 else [])
            self.add(
                S(K.VENUE, name, capacity=capacity, attributes=attrs, windows=OFFICE,
                  visibility=V.OWNER if n % 2 else V.CENTRE, preference=45),
                dept, location=room,
            )  # fmt: skip

    def _warehouse(self, centre: Organization, compound: Location, serial: int) -> None:
        """The centre's 公物仓: lots received from its units over the last months,
        checked and stored (``in`` transfers; the ledger's first rows)."""
        n = WAREHOUSE_LOTS.get(centre.code, 15)
        org = _warehouse_org(centre)
        place = f"{compound.name}公物仓库"
        givers = [o for o in _departments(centre) if o.pk != org.pk] or [centre]
        span = max((self.now - timedelta(days=3) - (self.first - timedelta(days=90))).days, 10)
        for i in range(n):
            item, attrs, value, low, high = WAREHOUSE_ITEMS[(i * 7 + serial) % len(WAREHOUSE_ITEMS)]
            giver = givers[i % len(givers)]
            origin = WAREHOUSE_ORIGINS[(i + serial) % len(WAREHOUSE_ORIGINS)]
            received = (
                self.first
                - timedelta(days=90)
                + timedelta(days=self.rng.randint(0, span), minutes=self.rng.randint(540, 1020))
            )
            quantity = self.rng.randint(low, high)
            r = self.add(
                S(K.ASSET, item, attributes=attrs,
                  visibility=V.CITY if centre.code == "city" else V.CENTRE),
                org,
                name=f"{item}（{giver.name}{origin}）",
                address=place,
                ready=received + timedelta(days=self.rng.randint(1, 3)),
                warehouse=True,
                quantity=quantity,
                unit_value=str(value),
                unit=str(KIND_UNITS[K.ASSET]),
                description=f"{giver.name}{origin}，九成新，验收合格。",
            )  # fmt: skip
            self.lots.append((r, giver, received))

    def partners(self, orgs: dict[str, Organization]) -> None:
        for spec in ENTERPRISE_SPECS:
            self.add(spec, orgs[ENTERPRISE_CODE], contact_phone="0571-87123000")
        for spec in TOURISM_SPECS:
            self.add(spec, orgs[TOURISM[0]], contact_phone="0571-86123000")
        for spec in TEAM_SPECS:
            self.add(
                spec,
                orgs[SOCIAL_CODE],
                name=f"市志愿者协会{spec.name}",
                contact_phone="0571-87555000",
            )
        self.add(DC_TEAM_SPEC, orgs[DC_TEAM[0]], contact_phone="0571-86155000")

    def pool(self) -> list[Res]:
        """The resources as the generator tracks them (written with the history)."""
        return [
            Res(
                r,
                code,
                self.table[r.org_id].path,
                ready,
                self.deciders.get(r.org_id),
                wh,
                tiebreak=self.rng.random(),
            )
            for r, code, ready, wh in self.rows
        ]


# --- the history ------------------------------------------------------------------------------


def _next_workday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _next_weekend(day: date) -> date:
    while day.weekday() < 5:
        day += timedelta(days=1)
    return day


def window(dk: DemandKind, posted: datetime, rng: random.Random) -> tuple[datetime, datetime]:
    """When a demand of this kind, posted at ``posted``, is for (local office habits)."""
    day = (posted + timedelta(days=rng.randint(*dk.lead))).astimezone(SHANGHAI).date()
    p = dk.pattern
    if p == "stock":  # needed from a morning, by a week later
        start = _local(day, time(9))
        return start, _local(day + timedelta(days=7), time(17))
    hours = rng.choice(dk.hours)
    minutes = int(hours * 60)
    if p in ("office", "hall"):
        day = _next_workday(day)
        starts = (510, 540, 570, 600, 840, 870, 900) if p == "office" else (540, 570, 840)
        fits = [m for m in starts if m + minutes <= 1050] or [510]
        start_m = rng.choice(fits)
    elif p == "evening":
        if rng.random() < 0.7:
            day, start_m = _next_workday(day), rng.choice((1110, 1140))
            minutes = min(minutes, 120)
        else:
            day, start_m = _next_weekend(day), rng.choice((540, 840, 900))
    elif p == "weekend":
        if rng.random() < 0.75:
            day = _next_weekend(day)
            fits = [m for m in (510, 540, 840) if m + minutes <= 1080] or [540]
            start_m = rng.choice(fits)
        else:
            day, start_m, minutes = _next_workday(day), 1110, 120
    else:  # "day": vehicles, any day
        start_m = 480 if minutes >= 480 else rng.choice((480, 510, 540, 810, 840))
    start = _at(day, start_m)
    return start, start + timedelta(minutes=minutes)


def _overlap(spans: Sequence[tuple[datetime, datetime, int]], s: datetime, e: datetime) -> int:
    return sum(n for a, b, n in spans if a < e and s < b)


@dataclass
class Draft:
    """A demand (or a direct request) before it is written."""

    poster: Poster
    kind: str
    title: str
    amount: int
    attributes: tuple[str, ...]
    start: datetime
    end: datetime
    posted: datetime
    priority: str = Priority.NORMAL
    description: str = ""
    preferred_owner_id: int | None = None
    project: MicroProject | None = None


@dataclass
class History:
    now: datetime
    first: datetime
    rng: random.Random
    pool: list[Res]
    approvers: dict[str, int]  # centre code -> its manager
    fallback_id: int  # who acts where nobody else would (the admin)
    orgs: dict[str, Organization]
    seq: dict[tuple[str, date], int] = field(default_factory=dict)
    demands: list[Demand] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    overdue_done: bool = False
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def __post_init__(self) -> None:
        self._usable: dict[tuple[int, str], list[Res]] = {}
        self._labels: dict[str, str] = {}
        self.by_kind: dict[str, list[Res]] = defaultdict(list)
        for res in self.pool:
            self.by_kind[res.kind].append(res)

    # finding a resource ----------------------------------------------------------------------

    def fits(self, res: Res, d: Draft, at: datetime) -> bool:
        r = res.obj
        if d.kind in STOCK_KINDS:
            if r.available < d.amount:
                return False
        elif r.capacity < d.amount:
            return False
        if res.ready > at or not res.attributes.issuperset(d.attributes):
            return False
        if d.kind in STOCK_KINDS:
            return True
        if not covered(res.spans, d.start, d.end):
            return False
        if any(a < d.end and d.start < b for a, b in res.closures):
            return False
        if d.kind in EXCLUSIVE_KINDS:
            return not any(a < d.end and d.start < b for a, b, _n in res.holds)
        return _overlap(res.holds, d.start, d.end) + d.amount <= r.capacity

    def usable(self, poster: Poster, kind: str) -> list[Res]:
        """The resources of a kind the poster may use, in the order people pick them:
        their own centre's first, then the snuggest, then the cheapest."""
        key = (poster.user_id, kind)
        found = self._usable.get(key)
        if found is None:
            found = [r for r in self.by_kind[kind] if _usable(r, poster)]
            found.sort(
                key=lambda r: (
                    r.centre_code != poster.centre_code,
                    r.obj.capacity,
                    r.obj.cost,
                    r.tiebreak,
                )
            )
            self._usable[key] = found
        return found

    def candidates(self, d: Draft, at: datetime, limit: int = 6) -> list[Res]:
        """The first ``limit`` resources that meet every hard constraint now (the
        preferred owner's first)."""
        pool = self.usable(d.poster, d.kind)
        out: list[Res] = []
        if d.preferred_owner_id is not None:
            out = [r for r in pool if r.obj.org_id == d.preferred_owner_id and self.fits(r, d, at)][
                :limit
            ]
        for res in pool:
            if len(out) >= limit:
                break
            if res not in out and self.fits(res, d, at):
                out.append(res)
        return out

    def cost(self, res: Res, d: Draft) -> Decimal:
        r = res.obj
        return estimate_cost(r.cost_basis, r.cost, d.amount, d.start, d.end)

    def choose(self, found: list[Res]) -> Res | None:
        if not found:
            return None
        top = found[:3]
        return self.rng.choices(top, [6, 3, 1][: len(top)])[0]

    # drafting ---------------------------------------------------------------------------------

    def draft(self, poster: Poster, posted: datetime) -> Draft:
        dk = _pick(self.rng, [(k, k.weight) for k in DEMAND_KINDS])
        start, end = window(dk, posted, self.rng)
        amount = self.rng.randint(*dk.amount)
        attrs = self.rng.choice(dk.attributes)
        title = self.rng.choice(dk.titles)
        preferred = None
        if dk.kind == K.VENUE and poster.centre_code == "city" and self.rng.random() < 0.06:
            preferred = self.orgs[ENTERPRISE_CODE].pk
        return Draft(
            poster=poster,
            kind=dk.kind,
            title=title,
            amount=amount,
            attributes=attrs,
            start=start,
            end=end,
            posted=posted,
            priority=_pick(self.rng, PRIORITIES),
            description=self.describe(dk.kind, amount, attrs),
            preferred_owner_id=preferred,
        )

    def describe(self, kind: str, amount: int, attrs: Sequence[str]) -> str:
        if not self._labels:
            from .choices import Attribute

            self._labels.update({a.value: str(a.label) for a in Attribute})
            self._labels.update({k: str(v) for k, v in KIND_UNITS.items()})
        unit = self._labels[kind]
        labels = "、".join(self._labels[a] for a in attrs if a in self._labels)
        text = f"需{amount}{unit}"
        return text + (f"，需具备{labels}。" if labels else "。")

    # writing one demand through its life -------------------------------------------------------

    def _t(self, after: datetime, lo: int, hi: int) -> datetime:
        """A moment ``lo``–``hi`` minutes after ``after``."""
        return after + timedelta(minutes=self.rng.randint(lo, hi))

    def demand(self, d: Draft, *, direct: bool = False) -> Demand | None:
        """Write one demand (or direct request) as the services would have, up to now."""
        rng = self.rng
        poster = d.poster
        dem: Demand | None = None
        open_from = d.posted
        if not direct:
            dem = Demand(
                org_id=poster.org_id,
                number=_number("XQ", d.posted, self.seq),
                title=d.title,
                description=d.description,
                kind=d.kind,
                amount=d.amount,
                attributes=sorted(d.attributes),
                start_at=d.start,
                end_at=d.end,
                location_id=poster.location_id,
                priority=d.priority,
                status=D.OPEN,
                posted_by_id=poster.user_id,
                preferred_owner_id=d.preferred_owner_id,
                project=d.project,
                posted_at=d.posted,
            )
            self.demands.append(dem)
            if rng.random() < 0.1 and poster.centre_code in self.approvers:
                dem.approver_id = self.approvers[poster.centre_code]
                decided = self._t(d.posted, 30, 1200)
                if decided > self.now:
                    dem.status = D.SUBMITTED
                    return self._close_if_past(dem)
                if rng.random() < 0.2:
                    dem.status, dem.closed_reason = D.REJECTED, rng.choice(DEMAND_REJECT)
                    dem.version = 2
                    return dem
                dem.approved_at, dem.version = decided, 2
                open_from = decided
        found = self.candidates(d, open_from)
        res = self.choose(found)
        requested = self._t(open_from, 5, 300)
        latest = d.start - timedelta(minutes=30) if d.kind not in STOCK_KINDS else d.end
        if res is None or rng.random() < 0.05 or requested > min(self.now, latest):
            return self._close_if_past(dem)
        for attempt in range(2):
            alloc = self.request(d, res, dem, requested)
            if alloc.status != A.REJECTED:
                break
            budget = dem.budget if dem is not None else None
            others = [
                r
                for r in found
                if r is not res
                and self.fits(r, d, alloc.decided_at)
                and (budget is None or self.cost(r, d) <= budget)
            ]
            requested = self._t(alloc.decided_at, 30, 240)
            if not others or attempt or requested > min(self.now, latest):
                break
            res = others[0]
        if dem is not None and dem.status == D.OPEN:
            self._close_if_past(dem)
        return dem

    def _close_if_past(self, dem: Demand | None) -> Demand | None:
        """An open or submitted demand whose window has passed was expired by the job."""
        if dem is not None and dem.status in (D.OPEN, D.SUBMITTED) and dem.end_at <= self.now:
            dem.status = D.EXPIRED
            dem.closed_reason = "需求时间已过，未匹配到资源"
            dem.version += 1
        return dem

    def request(self, d: Draft, res: Res, dem: Demand | None, requested: datetime) -> Allocation:
        rng = self.rng
        r = res.obj
        stock = r.kind in STOCK_KINDS
        a = Allocation(
            org_id=r.org_id,
            resource=r,
            number=_number("DP", requested, self.seq),
            demand=dem,
            project=d.project,
            requester_id=d.poster.user_id,
            requester_org_id=dem.org_id if dem is not None else d.poster.org_id,
            start_at=d.start,
            end_at=d.end,
            amount=d.amount,
            status=A.REQUESTED,
            holds=False,
            exclusive=r.kind in EXCLUSIVE_KINDS,
            cost=self.cost(res, d),
            requested_at=requested,
        )
        if dem is not None and dem.budget is None and a.cost > 0 and rng.random() < 0.4:
            dem.budget = (a.cost * Decimal("1.5") / 100).to_integral_value(ROUND_CEILING) * 100
        self.allocations.append(a)
        self.counts["requests"] += 1
        limit = d.start - timedelta(minutes=10) if not stock else d.end - timedelta(hours=1)
        # the poster calls it off before anyone decided
        if dem is not None and rng.random() < 0.05:
            cancelled = self._t(requested, 60, 1800)
            if cancelled < min(limit, self.now):
                a.status, a.decision_note, a.version = A.CANCELLED, dem_reason(rng), 2
                dem.status, dem.closed_reason = D.CANCELLED, a.decision_note
                dem.version += 1
                return a
        decided = requested  # no approval needed: at once
        if r.requires_approval:
            decided = min(self._t(requested, 20, 1560), limit)
        waiting = (
            r.requires_approval
            and d.start > self.now
            and requested > self.now - timedelta(days=3)
            and rng.random() < 0.35
        )
        if decided > self.now or waiting:
            return a  # still waiting for the owner
        if r.requires_approval and (rng.random() < 0.05 or not self.fits(res, d, decided)):
            return self.reject(a, res, decided, rng.choice(REJECT_NOTES))
        return self.approve(a, res, dem, decided)

    def reject(self, a: Allocation, res: Res, at: datetime, note: str) -> Allocation:
        a.status, a.decided_by_id, a.decided_at, a.decision_note = (
            A.REJECTED,
            res.decider_id,
            at,
            note,
        )
        a.version = 2
        self.counts["rejected"] += 1
        return a

    def approve(self, a: Allocation, res: Res, dem: Demand | None, at: datetime) -> Allocation:
        rng = self.rng
        r = res.obj
        stock = r.kind in STOCK_KINDS
        a.status, a.holds, a.decided_at, a.version = A.APPROVED, True, at, 2
        if r.requires_approval:
            a.decided_by_id = res.decider_id
        else:
            a.decision_note = "免审批，自动调配"
        if dem is not None:
            dem.status, dem.matched_at, dem.version = D.MATCHED, at, dem.version + 1
        if stock:
            r.available -= a.amount
            a.saved = (r.unit_value * a.amount).quantize(CENT)
            if res.warehouse:
                self.transfer(res, TransferKind.OUT, a.amount, res.obj.org_id, a.requester_org_id,
                              at, res.decider_id, a)  # fmt: skip
            done = self._t(at, 240, 4320)
            if done <= self.now:
                a.status, a.holds, a.finished_at, a.version = A.COMPLETED, False, done, 3
                self._fulfil(dem, done)
                if res.warehouse and ("帐篷" in r.name or "折叠" in r.name) and rng.random() < 0.4:
                    back = done + timedelta(days=rng.randint(2, 10), minutes=rng.randint(0, 300))
                    if back <= self.now:
                        r.available += a.amount
                        note = "活动结束，完好归还"
                        self.transfer(res, TransferKind.RETURN, a.amount, a.requester_org_id,
                                      r.org_id, back, res.decider_id, a, note)  # fmt: skip
                        a.status, a.version = A.RETURNED, 4
                        self.counts["returned"] += 1
            return a
        res.holds.append((a.start_at, a.end_at, a.amount))
        if a.start_at > self.now:
            return a
        started = self._t(a.start_at, 0, 15)
        finished = self._t(a.end_at, -15, 45)
        if started > self.now:
            return a
        a.status, a.started_at, a.version = A.IN_USE, started, 3
        overdue = (
            not self.overdue_done
            and r.kind == K.VEHICLE
            and a.end_at < self.now - timedelta(hours=2)
            and a.end_at > self.now - timedelta(days=4)
        )
        if overdue:  # one car not returned yet: the hourly job reports it
            self.overdue_done = True
            return a
        if finished <= self.now:
            a.status, a.holds, a.finished_at, a.version = A.RETURNED, False, finished, 4
            self._fulfil(dem, finished)
        return a

    def _fulfil(self, dem: Demand | None, at: datetime) -> None:
        if dem is not None and dem.status == D.MATCHED:
            dem.status, dem.fulfilled_at, dem.version = D.FULFILLED, at, dem.version + 1

    def transfer(
        self,
        res: Res,
        kind: str,
        quantity: int,
        from_org: int,
        to_org: int,
        at: datetime,
        actor: int | None,
        allocation: Allocation | None = None,
        note: str = "",
    ) -> None:
        r = res.obj
        self.transfers.append(
            Transfer(
                resource=r,
                org_id=r.org_id,
                kind=kind,
                quantity=quantity,
                from_org_id=from_org,
                to_org_id=to_org,
                value=(r.unit_value * quantity).quantize(CENT),
                allocation=allocation,
                at=at,
                actor_id=actor or self.fallback_id,
                note=note,
            )
        )


def dem_reason(rng: random.Random) -> str:
    return rng.choice(CANCEL_REASONS) or "需求已取消"


# --- closures, projects, volunteers -----------------------------------------------------------


def closures(hist: History) -> list[Closure]:
    """Some venues, courts and cars closed for a day or an afternoon, in the history
    and in the next two weeks (drawn before any demand, so nothing holds them)."""
    rng = hist.rng
    timed = [r for r in hist.pool if r.kind in EXCLUSIVE_KINDS and r.obj.windows]
    span = max((hist.now - hist.first).days + 14, 7)
    out = []
    for res in rng.sample(timed, min(len(timed), 6 + span // 8)):
        day = (hist.first + timedelta(days=rng.randint(0, span))).astimezone(SHANGHAI).date()
        if rng.random() < 0.5:
            start, end = _local(day, time(7)), _local(day + timedelta(days=1), time(7))
        else:
            start, end = _local(day, time(13)), _local(day, time(22))
        reason = "车辆年检" if res.kind == K.VEHICLE else rng.choice(CLOSURE_REASONS[:3])
        res.closures.append((start, end))
        c = Closure(resource=res.obj, start_at=start, end_at=end, reason=reason)
        c.created_by_id = res.decider_id or hist.fallback_id
        out.append(c)
    return out


PROJECT_PLAN = {
    "city": (ProjectStatus.COMPLETED, ProjectStatus.IN_PROGRESS, ProjectStatus.IN_PROGRESS,
             ProjectStatus.APPROVED),
    "dongcheng": (ProjectStatus.COMPLETED, ProjectStatus.IN_PROGRESS, ProjectStatus.PROPOSED),
    "xihu": (ProjectStatus.IN_PROGRESS, ProjectStatus.APPROVED, ProjectStatus.CANCELLED),
    "nanshan": (ProjectStatus.COMPLETED, ProjectStatus.IN_PROGRESS, ProjectStatus.PROPOSED),
}  # fmt: skip


def projects(
    hist: History, centres: Sequence[Organization], posters: dict[str, list[Poster]]
) -> list[tuple[MicroProject, Poster]]:
    """民生微实事 projects of each centre in every state, each approved one with its
    fund demand (a grant from a 民生微实事资金) in the history."""
    rng, now, first = hist.rng, hist.now, hist.first
    span = max((now - first).total_seconds(), 86400.0)
    out: list[tuple[MicroProject, Poster]] = []
    n = 0
    for centre in centres:
        staff = posters.get(centre.code) or []
        if not staff:
            continue
        for status in PROJECT_PLAN.get(centre.code, PROJECT_PLAN["nanshan"]):
            title, description, budget = PROJECTS[n % len(PROJECTS)]
            n += 1
            leader = staff[(n * 5) % len(staff)]
            if status == ProjectStatus.COMPLETED:
                created = first - timedelta(days=20)
            elif status == ProjectStatus.IN_PROGRESS:
                created = first + timedelta(seconds=span * 0.1)
            elif status == ProjectStatus.CANCELLED:
                created = first + timedelta(seconds=span * 0.3)
            elif status == ProjectStatus.APPROVED:
                created = now - timedelta(days=8)
            else:
                created = now - timedelta(days=2)
            created = _at(created.astimezone(SHANGHAI).date(), rng.randint(540, 1000))
            p = MicroProject(
                org_id=leader.org_id,
                number=_number("WS", created, hist.seq),
                title=title,
                description=description,
                budget=Decimal(budget),
                status=ProjectStatus.PROPOSED,
                leader_id=leader.user_id,
                location_id=leader.location_id,
            )
            p.created_at = created
            p.updated_at = created
            if status == ProjectStatus.CANCELLED:
                p.status, p.version = status, 2
            elif status != ProjectStatus.PROPOSED:
                p.approved_at = created + timedelta(days=rng.randint(3, 6), hours=2)
                p.status, p.version = ProjectStatus.APPROVED, 2
                p.starts_on = (p.approved_at + timedelta(days=7)).date()
                p.ends_on = p.starts_on + timedelta(days=rng.choice((60, 90, 120)))
                if status == ProjectStatus.IN_PROGRESS:
                    p.progress = rng.choice((20, 35, 50, 65, 80))
                    p.spent = (p.budget * p.progress / 100).quantize(Decimal("100"))
                    p.beneficiaries = rng.randint(50, 800)
                    p.status, p.version = status, 4
                elif status == ProjectStatus.COMPLETED:
                    p.progress, p.status, p.version = 100, status, 5
                    p.spent = (p.budget * Decimal(rng.choice(("0.86", "0.92", "0.97")))).quantize(
                        Decimal("100")
                    )
                    p.beneficiaries = rng.randint(300, 3000)
                    p.outcome = rng.choice(OUTCOMES)
                    p.completed_at = first + timedelta(seconds=span * 0.2)
            else:
                p.starts_on = (created + timedelta(days=20)).date()
                p.ends_on = p.starts_on + timedelta(days=90)
            p.updated_at = p.completed_at or p.approved_at or created
            out.append((p, leader))
    return out


def project_funds(hist: History, made: list[tuple[MicroProject, Poster]]) -> None:
    """Each approved project asked for its grant: a fund demand and its allocation."""
    for p, leader in made:
        if p.approved_at is None:
            continue
        posted = p.approved_at + timedelta(days=1)
        day = (posted + timedelta(days=2)).astimezone(SHANGHAI).date()
        amount = int((p.budget * Decimal("0.6") / 1000).to_integral_value()) * 1000
        d = Draft(
            poster=leader,
            kind=K.FUND,
            title=f"{p.title}项目资金",
            amount=amount,
            attributes=(),
            start=_local(day, time(9)),
            end=_local(day + timedelta(days=14), time(17)),
            posted=posted,
            priority=Priority.HIGH,
            description=f"民生微实事项目 {p.number} 的启动资金。",
            project=p,
        )
        hist.demand(d)


@dataclass
class Keepers:
    city: int  # volunteers_worker
    county: int  # dcvolunteers_manager


def volunteers(
    hist: History,
    orgs: dict[str, Organization],
    keepers: Keepers,
    city_projects: list[MicroProject],
) -> dict[str, Any]:
    """The two teams' volunteers, weekly activities (the city's twice a week), sign-ups
    and attendance; each volunteer's hours are the sum of their attended sign-ups. The
    city's last activity before now waits for its attendance (recorded live)."""
    rng, now, first = hist.rng, hist.now, hist.first
    teams = [
        ("city", orgs[SOCIAL_CODE], keepers.city, ((5, 540, 690), (2, 1110, 1230))),
        ("county", orgs[DC_TEAM[0]], keepers.county, ((6, 540, 690),)),
    ]
    vols: list[Volunteer] = []
    acts: list[Activity] = []
    signups: list[SignUp] = []
    pending: Activity | None = None
    for key, org, keeper, slots_of_week in teams:
        people = []
        for _i in range(VOLUNTEERS[key]):
            v = Volunteer(
                org=org,
                name=_name(rng),
                phone=f"139{rng.randint(10_000_000, 99_999_999)}",
                skills=sorted(set(rng.sample(VOLUNTEER_SKILLS, rng.choice((0, 1, 1, 2))))),
            )
            v.created_at = v.updated_at = first - timedelta(days=rng.randint(20, 400))
            people.append(v)
        vols += people
        day = first.astimezone(SHANGHAI).date()
        last = (now + timedelta(days=14)).astimezone(SHANGHAI).date()
        n = 0
        while day <= last:
            for weekday, lo, hi in slots_of_week:
                if day.weekday() != weekday:
                    continue
                title, description, skills = ACTIVITIES[
                    (n * 3 + (key == "county")) % len(ACTIVITIES)
                ]
                n += 1
                start, end = _at(day, lo), _at(day, hi)
                size = rng.randint(10, 30) if key == "city" else rng.randint(8, 15)
                hours = Decimal(math.ceil((hi - lo) / 30)) / 2
                a = Activity(
                    org=org,
                    title=title,
                    description=description,
                    address="市民中心广场" if key == "city" else "东城区新时代文明实践中心",
                    start_at=start,
                    end_at=end,
                    slots=size,
                    skills=sorted(skills),
                    hours=hours,
                    status=ActivityStatus.OPEN,
                    created_by_id=keeper,
                )
                made = start - timedelta(days=7)
                a.created_at = made
                a.updated_at = made
                if key == "city" and city_projects and rng.random() < 0.25:
                    p = rng.choice(city_projects)
                    if p.approved_at is not None and p.approved_at < made:
                        a.project = p
                acts.append(a)
                cancelled = end <= now and rng.random() < 0.05
                if end <= now and not cancelled:
                    a.status, a.version = ActivityStatus.DONE, 2
                if cancelled:
                    a.status, a.version = ActivityStatus.CANCELLED, 2
                    a.updated_at = start - timedelta(days=1)
                    continue
                past = end <= now
                count = rng.randint(size // 2, size) if past else rng.randint(0, size * 3 // 5)
                if made > now:
                    count = 0
                for v in rng.sample(people, min(count, len(people))):
                    s = SignUp(activity=a, volunteer=v, status=SignUpStatus.SIGNED)
                    room = max(int((min(start, now) - made).total_seconds() // 60), 1)
                    s.created_at = s.updated_at = made + timedelta(minutes=rng.randrange(room))
                    signups.append(s)
                    roll = rng.random()
                    if roll < 0.05 and s.created_at < min(start, now) - timedelta(hours=1):
                        s.status = SignUpStatus.CANCELLED
                        continue
                    a.taken += 1
                    if past:
                        s.recorded_by_id = keeper
                        s.recorded_at = end + timedelta(minutes=rng.randint(10, 120))
                        if roll < 0.15:
                            s.status = SignUpStatus.ABSENT
                        else:
                            s.status, s.hours = SignUpStatus.ATTENDED, hours
                            v.hours += hours
                            v.activities += 1
            day += timedelta(days=1)
    # the city's last finished activity waits for its attendance (recorded live)
    done = [
        a
        for a in acts
        if a.org_id == orgs[SOCIAL_CODE].pk
        and a.status == ActivityStatus.DONE
        and a.end_at <= now - timedelta(hours=1)
        and a.end_at > now - timedelta(days=12)
    ]
    if done:
        pending = max(done, key=lambda a: a.end_at)
        pending.status, pending.version = ActivityStatus.OPEN, 1
        for s in signups:
            if s.activity is pending and s.status != SignUpStatus.CANCELLED:
                if s.status == SignUpStatus.ATTENDED:
                    s.volunteer.hours -= s.hours
                    s.volunteer.activities -= 1
                s.status, s.hours, s.recorded_by_id, s.recorded_at = (
                    SignUpStatus.SIGNED, Decimal("0"), None, None,
                )  # fmt: skip
    for v in vols:
        v.version = 1 + v.activities
    _bulk(Volunteer, vols)
    _bulk(Activity, acts)
    _bulk(SignUp, signups)
    return {
        "volunteers": len(vols),
        "activities": len(acts),
        "signups": len(signups),
        "pending_activity": pending,
    }


# --- the present, through the services --------------------------------------------------------

# What each demo login asks for: (demand kind index by role or username, title).
LOGIN_DEMANDS: dict[str, tuple[str, str, int, tuple[str, ...]]] = {
    # role or username: (pattern key, title, amount, attributes)
    Role.STAFF: ("venue", "科室业务培训", 24, ("projector",)),
    Role.MANAGER: ("vehicle", "基层调研用车", 12, ()),
    Role.DISPATCHER: ("manpower", "会务保障支援", 4, ()),
    Role.INSPECTOR: ("vehicle", "巡查检查用车", 5, ()),
    Role.ADMIN: ("hall", "信息系统操作培训班", 90, ("sound",)),
    Role.WORKER: ("court", "职工篮球友谊赛", 12, ("basketball",)),
    Role.ASSESSOR: ("venue", "第三方评估座谈会", 10, ()),
    "cityinvest_manager": ("team", "城投片区文明交通劝导", 12, ()),
    "tourism_manager": ("venue", "文旅项目推介座谈会", 20, ("projector",)),
    "volunteers_manager": ("vehicle", "志愿者集中培训接送", 18, ()),
    "volunteers_worker": ("asset", "志愿服务站帐篷", 3, ("tent",)),
    "dcvolunteers_manager": ("venue", "志愿服务队季度总结会", 30, ()),
    "warehouse_manager": ("manpower", "公物仓整理搬运", 6, ()),
}
PATTERNS = {
    "venue": DemandKind(K.VENUE, (), (0, 0), (), "office", (2, 3), (3, 9), 0),
    "hall": DemandKind(K.VENUE, (), (0, 0), (), "hall", (3,), (5, 12), 0),
    "vehicle": DemandKind(K.VEHICLE, (), (0, 0), (), "day", (4, 8), (2, 8), 0),
    "manpower": DemandKind(K.MANPOWER, (), (0, 0), (), "office", (3,), (2, 8), 0),
    "court": DemandKind(K.FACILITY, (), (0, 0), (), "evening", (2,), (2, 7), 0),
    "team": DemandKind(K.VOLUNTEER_TEAM, (), (0, 0), (), "weekend", (3,), (4, 10), 0),
    "asset": DemandKind(K.ASSET, (), (0, 0), (), "stock", (), (3, 9), 0),
}
# who requests their best match (the rest leave their demand open for matching); whose
# request the owner approves at once
REQUESTERS = ("city_staff", "dongcheng_staff", "xihu_staff", "city_worker", "cityinvest_manager",
              "volunteers_worker")  # fmt: skip
APPROVED_AT_ONCE = ("city_staff", "dongcheng_staff", "volunteers_worker")
SUBMITTED = {"xihu_staff": True, "nanshan_staff": False}  # with an approver: approved or not


class Live:
    """Service calls at moments just before now; a refusal is counted, never fatal."""

    def __init__(self, hist: History, users: dict[str, User], counts: dict[str, Any]) -> None:
        self.hist = hist
        self.now = hist.now
        self.rng = hist.rng
        self.users = users
        self.counts = counts
        self.refusals: list[str] = []
        self.table = _org_table()
        self.compounds = dict(
            Location.objects.filter(kind=LocationKind.COMPOUND).values_list("org_id", "pk")
        )
        self.drafts: dict[int, Draft] = {}

    def bump(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def attempt(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except DomainError as exc:
            self.bump("refused")
            if len(self.refusals) < 20:
                self.refusals.append(f"{what}: {exc.code} {exc.message}")
            logger.warning("resources demo: %s refused: %s %s", what, exc.code, exc.message)
            return None

    def poster(self, user: User) -> Poster:
        grants = list(user.grants.select_related("org"))
        table = self.table
        centres = frozenset(table[g.org_id].centre_id for g in grants)
        home = table[user.home_org_id]
        at_centre = any(g.org_id == table[g.org_id].centre_id for g in grants)
        compound = self.compounds.get(home.centre_id) if at_centre else None
        return Poster(user.pk, user.home_org_id, home.centre_code,
                      tuple(g.org.path for g in grants), centres, compound)  # fmt: skip

    # the demo logins' demands -----------------------------------------------------------------

    def demands(self, logins: Sequence[str]) -> dict[str, Demand]:
        from . import services

        out: dict[str, Demand] = {}
        t = self.now - timedelta(hours=30)
        step = timedelta(hours=24) / max(len(logins), 1)
        for username in logins:
            user = self.users.get(username)
            if user is None:
                continue
            t += step
            role = user.grants.values_list("role", flat=True).first()
            key, title, amount, attrs = LOGIN_DEMANDS.get(username) or LOGIN_DEMANDS[role]
            poster = self.poster(user)
            d = self.draft(poster, key, title, amount, attrs, t)
            data: dict[str, Any] = {
                "title": d.title,
                "description": d.description,
                "kind": d.kind,
                "amount": d.amount,
                "attributes": list(d.attributes),
                "start_at": d.start,
                "end_at": d.end,
                "priority": d.priority,
            }
            if poster.location_id is not None:
                data["location_id"] = poster.location_id
            if username in SUBMITTED:
                data["approver_id"] = self.hist.approvers.get(poster.centre_code)
            dem = self.attempt(
                f"post_demand {username}",
                lambda u=user, data=data, t=t: services.post_demand(actor=u, data=data, now=t),
            )
            if dem is None:
                continue
            self.bump("demands_posted")
            out[username] = dem
            self.drafts[dem.pk] = d
        return out

    def draft(
        self, poster: Poster, key: str, title: str, amount: int, attrs: tuple[str, ...], t: datetime
    ) -> Draft:
        """A demand that some resource can meet (tried on a few days)."""
        dk = PATTERNS[key]
        d = None
        for _try in range(8):
            start, end = window(dk, t, self.rng)
            d = Draft(poster, dk.kind, title, amount, attrs, start, end, t,
                      description=self.hist.describe(dk.kind, amount, attrs))  # fmt: skip
            if self.hist.candidates(d, t):
                return d
        dk = PATTERNS["venue"]
        start, end = window(dk, t, self.rng)
        return Draft(poster, K.VENUE, title, 8, (), start, end, t,
                     description=self.hist.describe(K.VENUE, 8, ()))  # fmt: skip

    def requests(self, posted: dict[str, Demand]) -> None:
        from . import services

        for username in REQUESTERS:
            dem = posted.get(username)
            if dem is None:
                continue
            user = self.users[username]
            d = self.drafts[dem.pk]
            t = dem.posted_at + timedelta(minutes=self.rng.randint(3, 20))
            if username in SUBMITTED:
                if not SUBMITTED[username]:
                    continue
                approver = User.objects.get(pk=dem.approver_id)
                t = dem.posted_at + timedelta(minutes=40)
                if not self.attempt(
                    f"decide_demand {username}",
                    lambda a=approver, dem=dem, t=t: services.decide_demand(
                        actor=a, demand_id=dem.pk, approve=True, note="同意", now=t
                    ),
                ):
                    continue
                t += timedelta(minutes=15)
            found = self.hist.candidates(d, t)
            if not found:
                continue
            res = found[0]
            alloc = self.attempt(
                f"request_allocation {username}",
                lambda u=user, r=res, dem=dem, t=t: services.request_allocation(
                    actor=u, resource_id=r.obj.pk, demand_id=dem.pk, now=t
                ),
            )
            if alloc is None:
                continue
            self.bump("requests")
            if alloc.status == A.APPROVED:
                self.hold(res, alloc)
                self.bump("auto_approved")
                continue
            if username not in APPROVED_AT_ONCE:
                continue
            decider = User.objects.filter(pk=res.decider_id).first()
            if decider is None:
                continue
            t2 = t + timedelta(minutes=self.rng.randint(30, 120))
            if t2 >= self.now:
                t2 = self.now - timedelta(minutes=1)
            done = self.attempt(
                f"decide_allocation {username}",
                lambda d_=decider, a=alloc, t2=t2: services.decide_allocation(
                    actor=d_, allocation_id=a.pk, approve=True, note="同意，请按时使用", now=t2
                ),
            )
            if done is not None:
                self.hold(res, done)
                self.bump("approved")

    def hold(self, res: Res, alloc: Allocation) -> None:
        if res.kind in STOCK_KINDS:
            res.obj.refresh_from_db(fields=["available", "stock_status", "version"])
        else:
            res.holds.append((alloc.start_at, alloc.end_at, alloc.amount))

    # the warehouse ----------------------------------------------------------------------------

    def warehouse(self, city: Organization, orgs: dict[str, Organization]) -> None:
        """Surplus furniture and computers come in; two lots are checked and stored,
        the chairs wait for their check (入库待验)."""
        from . import warehouse

        receiver = self.users.get("city_manager")
        keeper = self.users.get("warehouse_manager")
        if receiver is None or keeper is None:
            return
        depts = _departments(city)
        compound = Location.objects.filter(org=city, kind=LocationKind.COMPOUND).first()
        lots = (
            ("办公桌椅套装（市机关服务中心办公室调整腾退）", depts[0], 12, "1650",
             ["office_furniture"], True),
            ("台式电脑（i7/16G，财务科更新换下）", depts[min(1, len(depts) - 1)], 6, "5200",
             ["computer"], True),
            ("会议椅（办公室会议室改造换下）", depts[0], 40, "380", ["office_furniture"], False),
        )  # fmt: skip
        t = self.now - timedelta(hours=29)
        for name, giver, quantity, value, attrs, stored in lots:
            t += timedelta(minutes=25)
            item = self.attempt(
                "warehouse.receive",
                lambda name=name, giver=giver, quantity=quantity, value=value, attrs=attrs, t=t: (
                    warehouse.receive(
                        actor=receiver,
                        warehouse_org_id=orgs["@warehouse"].pk,
                        from_org_id=giver.pk,
                        name=name,
                        quantity=quantity,
                        unit_value=Decimal(value),
                        attributes=attrs,
                        description="九成新，待验收入库后统一调剂。",
                        visibility=V.CITY,
                        now=t,
                    )
                ),
            )
            if item is None:
                continue
            self.bump("warehouse_received")
            if compound is not None:
                Resource.objects.filter(pk=item.pk).update(address=f"{compound.name}公物仓库")
            if stored:
                done = self.attempt(
                    "warehouse.store",
                    lambda item=item, t=t: warehouse.store(
                        actor=keeper, resource_id=item.pk, now=t + timedelta(hours=3)
                    ),
                )
                if done is not None:
                    self.bump("warehouse_stored")

    # volunteers -------------------------------------------------------------------------------

    def volunteers(self, orgs: dict[str, Organization], pending: Activity | None) -> None:
        from . import volunteers

        keeper = self.users.get("volunteers_worker")
        t = self.now - timedelta(hours=20)
        if pending is not None and keeper is not None:
            live = list(
                SignUp.objects.filter(activity=pending, status=SignUpStatus.SIGNED)
                .order_by("volunteer_id")
                .values_list("volunteer_id", flat=True)
            )
            absent = live[:: max(len(live) // 2, 1)][:2] if len(live) > 4 else []
            when = max(pending.end_at + timedelta(minutes=40), t)
            if when < self.now:
                done = self.attempt(
                    "record_attendance",
                    lambda: volunteers.record_attendance(
                        actor=keeper,
                        activity_id=pending.pk,
                        attended=[v for v in live if v not in absent],
                        absent=absent,
                        now=when,
                    ),
                )
                if done is not None:
                    self.bump("attendance_recorded", len(done))
        for username, team in (("city_staff", SOCIAL_CODE), ("dongcheng_staff", DC_TEAM[0])):
            user = self.users.get(username)
            if user is None or team not in orgs:
                continue
            t += timedelta(minutes=37)
            vol = self.attempt(
                f"enrol_self {username}",
                lambda u=user, team=team, t=t: volunteers.enrol_self(
                    actor=u, org_id=orgs[team].pk, skills=["photography"]
                ),
            )
            if vol is None:
                continue
            self.bump("volunteers_enrolled")
            upcoming = (
                Activity.objects.filter(
                    org=orgs[team], status=ActivityStatus.OPEN, start_at__gt=self.now
                )
                .filter(taken__lt=F("slots"))
                .order_by("start_at")
                .first()
            )
            if upcoming is not None and self.attempt(
                f"sign_up {username}",
                lambda u=user, a=upcoming, t=t: volunteers.sign_up(
                    actor=u, activity_id=a.pk, now=t + timedelta(minutes=5)
                ),
            ):
                self.bump("signed_up")
        if keeper is None:
            return
        day = _next_weekend((self.now + timedelta(days=3)).astimezone(SHANGHAI).date())
        activity = self.attempt(
            "create_activity",
            lambda: volunteers.create_activity(
                actor=keeper,
                data={
                    "org_id": orgs[SOCIAL_CODE].pk,
                    "title": "机关大院周边环境清洁行动",
                    "description": "清理大院周边绿化带和背街小巷垃圾，劝导文明停车。",
                    "address": "市行政中心大院北门集合",
                    "start_at": _local(day, time(14)),
                    "end_at": _local(day, time(16, 30)),
                    "slots": 20,
                    "skills": [],
                },
                now=t + timedelta(hours=2),
            ),
        )
        if activity is None:
            return
        self.bump("activities_created")
        regulars = list(
            Volunteer.objects.filter(org=orgs[SOCIAL_CODE], user__isnull=True)
            .order_by("-hours", "pk")
            .values_list("pk", flat=True)[:3]
        )
        for pk in regulars:
            if self.attempt(
                "sign_up (keeper)",
                lambda pk=pk: volunteers.sign_up(
                    actor=keeper,
                    activity_id=activity.pk,
                    volunteer_id=pk,
                    now=t + timedelta(hours=2, minutes=10),
                ),
            ):
                self.bump("signed_up")

    # projects, a closure, the batch, the hourly job --------------------------------------------

    def projects(self, counties: Sequence[Organization]) -> None:
        from . import projects

        proposer = self.users.get("dongcheng_staff")
        manager = self.users.get("dongcheng_manager")
        if proposer is None or manager is None or not counties:
            return
        t = self.now - timedelta(hours=8)
        start = (self.now + timedelta(days=14)).astimezone(SHANGHAI).date()
        made = self.attempt(
            "create_project",
            lambda: projects.create_project(
                actor=proposer,
                data={
                    "org_id": counties[0].pk,
                    "title": "机关大院职工子女暑期托管点",
                    "description": "利用职工之家活动室开设暑期托管点，志愿者辅导作业。",
                    "budget": Decimal("32000"),
                    "starts_on": start,
                    "ends_on": start + timedelta(days=45),
                },
                now=t,
            ),
        )
        if made is None:
            return
        self.bump("projects_created")
        if self.attempt(
            "decide_project",
            lambda: projects.decide_project(
                actor=manager, project_id=made.pk, approve=True, note="同意立项", now=t
            ),
        ):
            self.bump("projects_approved")
        running = (
            MicroProject.objects.filter(
                status=ProjectStatus.IN_PROGRESS, org__path__startswith=counties[-1].path
            )
            .order_by("pk")
            .first()
        )
        boss = self.users.get(f"{counties[-1].code}_manager")
        if running is not None and boss is not None:
            progress = min(running.progress + 10, 95)
            spent = min(running.budget, running.spent + Decimal("3000"))
            if self.attempt(
                "update_progress",
                lambda: projects.update_progress(
                    actor=boss,
                    project_id=running.pk,
                    progress=progress,
                    spent=spent,
                    note="主体工程完工，进入验收准备。",
                    now=t + timedelta(hours=1),
                ),
            ):
                self.bump("projects_progressed")

    def closure(self) -> None:
        """The city's 多功能厅 closes for a day of equipment checks next week."""
        from . import services

        manager = self.users.get("city_manager")
        hall = next(
            (r for r in self.hist.pool if r.kind == K.VENUE and r.obj.name.endswith("多功能厅")),
            None,
        )
        if manager is None or hall is None:
            return
        day = (self.now + timedelta(days=9)).astimezone(SHANGHAI).date()
        for _try in range(7):
            start, end = _local(day, time(8)), _local(day, time(21))
            if not any(a < end and start < b for a, b, _n in hall.holds):
                break
            day += timedelta(days=1)
        else:
            return
        if self.attempt(
            "add_closure",
            lambda: services.add_closure(
                actor=manager,
                resource_id=hall.obj.pk,
                start_at=start,
                end_at=end,
                reason="音响和LED屏年度检修",
            ),
        ):
            hall.closures.append((start, end))
            self.bump("closures_added")

    def batch(self, city: Organization) -> None:
        """The city's overseers match next week's open demands at once (not applied: the
        batch page shows the proposals and what stayed unmatched)."""
        from . import batch

        manager = self.users.get("city_manager")
        if manager is None:
            return
        today = self.now.astimezone(SHANGHAI).date()
        monday = today + timedelta(days=7 - today.weekday())
        run = self.attempt(
            "run_batch",
            lambda: batch.run_batch(
                actor=manager,
                org_id=city.pk,
                window_start=_local(monday, time(0)),
                window_end=_local(monday + timedelta(days=7), time(0)),
                now=self.now - timedelta(minutes=20),
            ),
        )
        if run is not None:
            self.counts["batch"] = {"demands": run.demands, "matched": run.matched}

    def jobs(self) -> None:
        from . import tasks

        result = tasks.run_hourly(now=self.now)
        self.bump("overdue_reminded", result.overdue_reminded)
        self.bump("expired_by_job", result.demands_expired + result.requests_expired)


# --- the entry point --------------------------------------------------------------------------


def _write_history(
    hist: History, builder: PoolBuilder, made: list[Closure], plan: list[MicroProject]
) -> dict[str, int]:
    """The pool, its closures, the projects, demands, allocations and the 公物仓 ledger,
    in bulk, with the stock the history left on each resource."""
    rng, now = hist.rng, hist.now
    by_obj = {id(res.obj): res for res in hist.pool}
    lots = [(by_obj[id(r)], giver, received, r.quantity) for r, giver, received in builder.lots]
    # a few worn-out lots written off (报废处置)
    for res, _giver, _received, _quantity in lots[3::9][:4]:
        r = res.obj
        if r.available >= 2:
            k = rng.randint(1, min(3, r.available))
            at = max(res.ready + timedelta(days=1), now - timedelta(days=rng.randint(2, 20)))
            if at < now:
                r.available -= k
                r.quantity -= k
                hist.transfer(res, TransferKind.DISPOSE, k, r.org_id, r.org_id, at,
                              res.decider_id, None, "损坏严重，无维修价值，按规定报废")  # fmt: skip
    for res, giver, received, quantity in lots:
        hist.transfer(res, TransferKind.IN, quantity, giver.pk, res.obj.org_id, received,
                      res.decider_id, None, "移交入库")  # fmt: skip
    for res in hist.pool:
        r = res.obj
        if r.stock_status is not None:
            r.stock_status = StockStatus.OUT if r.available == 0 else StockStatus.STORED
    for d in hist.demands:
        d.created_at = d.posted_at
        d.updated_at = max(
            t for t in (d.posted_at, d.approved_at, d.matched_at, d.fulfilled_at) if t is not None
        )
    for a in hist.allocations:
        a.created_at = a.requested_at
        a.updated_at = max(
            t for t in (a.requested_at, a.decided_at, a.started_at, a.finished_at) if t is not None
        )
    _bulk(Resource, [res.obj for res in hist.pool])
    _bulk(Closure, made)
    _bulk(MicroProject, plan)
    _bulk(Demand, hist.demands)
    _bulk(Allocation, hist.allocations)
    _bulk(Transfer, hist.transfers)
    return {
        "resources": len(hist.pool),
        "closures": len(made),
        "projects": len(plan),
        "demands": len(hist.demands),
        "allocations": len(hist.allocations),
        "transfers": len(hist.transfers),
    }


def _first_manager(org: Organization) -> User | None:
    return (
        User.objects.filter(grants__org=org, grants__role=Role.MANAGER, is_active=True)
        .order_by("id")
        .first()
    )


@transaction.atomic
def load_demo(
    admin: Any,
    city: Organization,
    counties: Sequence[Organization],
    *,
    months: int = FULL_MONTHS,
    seed: int = 2026,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The resource pool's part of the demo; returns row counts. A second run adds
    nothing (the organisations and logins are kept, no second pool)."""
    from dayuan.core.demo import DEMO_LOGINS

    now = now or timezone.now()
    rng = random.Random(seed)
    seconds: dict[str, float] = {}
    clock = [_time.process_time()]
    started = _time.monotonic()

    def lap(name: str) -> None:
        t = _time.process_time()
        seconds[name] = round(t - clock[0], 3)
        clock[0] = t

    orgs = ensure_orgs(city, counties)
    users = ensure_logins(orgs, admin.password)
    counts: dict[str, Any] = {}
    if Resource.objects.exists():
        return counts  # loaded before: keep that pool and its history
    months = max(months, 1)
    first = now - timedelta(days=30 * months)
    centres = [city, *counties]
    table = _org_table()
    deciders = _deciders(table)

    builder = PoolBuilder(now, first, rng, table, deciders)
    for serial, centre in enumerate(centres):
        builder.centre(centre, serial)
    builder.partners(orgs)
    pool = builder.pool()
    lap("pool")

    posters = _posters(centres, table)
    approvers = {c.code: m.pk for c in centres if (m := _first_manager(c)) is not None}
    hist = History(now, first, rng, pool, approvers, admin.pk, orgs)
    made = closures(hist)
    for c in made:
        c.created_at = c.updated_at = c.start_at - timedelta(days=5)
    plan = projects(hist, centres, posters)
    project_funds(hist, plan)
    lap("projects")
    day = first.astimezone(SHANGHAI).date()
    while day <= now.astimezone(SHANGHAI).date():
        workday = day.weekday() < 5
        for centre in centres:
            staff = posters.get(centre.code)
            if not staff:
                continue
            rate = 6 if centre.pk == city.pk else 3
            n = rng.randint(rate - 2, rate + 2) if workday else rng.randint(0, 1)
            for _i in range(n):
                posted = _at(day, rng.randint(510, 1050) if workday else rng.randint(600, 1200))
                if posted >= now:
                    continue
                d = hist.draft(rng.choice(staff), posted)
                hist.demand(d, direct=rng.random() < 0.15)
        day += timedelta(days=1)
    lap("history")
    counts.update(_write_history(hist, builder, made, [p for p, _l in plan]))
    lap("write_history")
    team = volunteers(
        hist,
        orgs,
        Keepers(users["volunteers_worker"].pk, users["dcvolunteers_manager"].pk),
        [p for p, _l in plan if p.org_id in {o.pk for o in [city, *_departments(city)]}],
    )
    pending = team.pop("pending_activity")
    counts.update(team)
    lap("volunteers")

    logins = [n for n, _r, _o in DEMO_LOGINS] + [p.username for p in POOL_LOGINS]
    everyone = {u.username: u for u in User.objects.filter(username__in=logins)}
    live = Live(hist, everyone, counts)
    live.warehouse(city, orgs)
    lap("live_warehouse")
    posted = live.demands(logins)
    lap("live_demands")
    live.requests(posted)
    lap("live_requests")
    live.volunteers(orgs, pending)
    lap("live_volunteers")
    live.projects(counties)
    lap("live_projects")
    live.closure()
    lap("live_closure")
    if months >= 2:  # a short history (the tests') leaves the batch to its own tests
        live.batch(city)
    lap("live_batch")
    live.jobs()
    lap("live_jobs")
    if live.refusals:
        counts["refusals"] = live.refusals
    counts["cpu_seconds"] = seconds
    logger.info(
        "resources demo: %s resources, %s demands, %s allocations, %s volunteers in %.1f s",
        counts["resources"],
        counts["demands"],
        counts["allocations"],
        counts["volunteers"],
        _time.monotonic() - started,
    )
    return counts
