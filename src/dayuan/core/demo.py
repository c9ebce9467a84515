"""Demo data: a city centre, three county centres, their compounds and one login per role.

``load_demo()`` builds it in one transaction with the same rows the services would
write (paths, depths, sorted tags, hashed passwords) and one ``system.demo.load`` audit
entry. ``DEMO_LOGINS`` is the list the README and the tests print and check; it is
derived from the same specification the loader uses, so the two cannot drift apart.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction

from dayuan.accounts.choices import Role
from dayuan.accounts.models import Grant, User
from dayuan.core.context import origin
from dayuan.core.testing import TEST_PASSWORD, make_location
from dayuan.core.tree import next_child_path
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Location, Organization

DEMO_PASSWORD = TEST_PASSWORD


@dataclass(frozen=True)
class BuildingSpec:
    name: str
    code: str  # prefix of room codes, e.g. "A" gives A-301
    floors: int
    layout: str  # "office", "conference" or "canteen"


@dataclass(frozen=True)
class CentreSpec:
    code: str
    name: str
    short_name: str
    phone: str
    departments: tuple[str, ...]
    compound: str
    buildings: tuple[BuildingSpec, ...]
    vendor: tuple[str, str]  # (code, name)


CITY = CentreSpec(
    code="city",
    name="市机关服务中心",
    short_name="市中心",
    phone="0571-87000000",
    departments=("办公室", "财务科", "资产管理科"),
    compound="市行政中心大院",
    buildings=(
        BuildingSpec("综合楼", "ZH", 8, "office"),
        BuildingSpec("办公楼A座", "A", 6, "office"),
        BuildingSpec("会议中心", "HY", 3, "conference"),
        BuildingSpec("食堂", "ST", 3, "canteen"),
    ),
    vendor=("city-property", "城市物业服务有限公司"),
)

COUNTIES = (
    CentreSpec(
        code="dongcheng",
        name="东城区机关服务中心",
        short_name="东城区中心",
        phone="0571-86100000",
        departments=("办公室", "财务科", "后勤保障科"),
        compound="东城区行政中心大院",
        buildings=(
            BuildingSpec("综合楼", "ZH", 6, "office"),
            BuildingSpec("会议中心", "HY", 3, "conference"),
            BuildingSpec("食堂", "ST", 3, "canteen"),
        ),
        vendor=("dongcheng-property", "东城区鑫安物业管理有限公司"),
    ),
    CentreSpec(
        code="xihu",
        name="西湖县机关服务中心",
        short_name="西湖县中心",
        phone="0571-86200000",
        departments=("办公室", "财务科"),
        compound="西湖县政府大院",
        buildings=(
            BuildingSpec("办公楼A座", "A", 5, "office"),
            BuildingSpec("办公楼B座", "B", 4, "office"),
            BuildingSpec("会议中心", "HY", 3, "conference"),
            BuildingSpec("食堂", "ST", 3, "canteen"),
        ),
        vendor=("xihu-property", "西湖县绿洲物业服务有限公司"),
    ),
    CentreSpec(
        code="nanshan",
        name="南山县机关服务中心",
        short_name="南山县中心",
        phone="0571-86300000",
        departments=("办公室", "财务科", "机关事务科"),
        compound="南山县机关大院",
        buildings=(
            BuildingSpec("综合楼", "ZH", 5, "office"),
            BuildingSpec("会议中心", "HY", 3, "conference"),
            BuildingSpec("食堂", "ST", 3, "canteen"),
        ),
        vendor=("nanshan-property", "南山县恒泰后勤服务有限公司"),
    ),
)

ENTERPRISE = ("city-investment", "市城市建设投资集团有限公司")
SOCIAL = ("city-volunteers", "市志愿者协会")
ASSESSOR = ("assessor", "正衡第三方评估有限公司")

_NUMERALS = "一二三四五六七八九十"

CENTRE_ROLES = (Role.MANAGER, Role.DISPATCHER, Role.INSPECTOR, Role.STAFF)

# Display names, handed out in login order.
_NAMES = [
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "陈静",
    "杨磊",
    "赵敏",
    "黄强",
    "周杰",
    "吴霞",
    "徐涛",
    "孙丽",
    "马超",
    "朱琳",
    "胡斌",
    "郭婷",
    "何勇",
    "林慧",
    "高峰",
    "罗欣",
    "郑凯",
    "梁燕",
    "谢军",
    "宋佳",
    "唐亮",
    "韩雪",
    "冯刚",
    "邓蕾",
]


@dataclass(frozen=True)
class LoginSpec:
    username: str
    role: str
    org_code: str  # where the account lives and holds its role


def _login_specs() -> list[LoginSpec]:
    specs = [LoginSpec("admin", Role.ADMIN, CITY.code)]
    specs += [LoginSpec(f"city_{role}", role, CITY.code) for role in CENTRE_ROLES]
    specs.append(LoginSpec("city_worker", Role.WORKER, CITY.vendor[0]))
    for county in COUNTIES:
        specs.append(LoginSpec(f"{county.code}_admin", Role.ADMIN, county.code))
        specs += [LoginSpec(f"{county.code}_{role}", role, county.code) for role in CENTRE_ROLES]
        specs.append(LoginSpec(f"{county.code}_worker", Role.WORKER, county.vendor[0]))
    specs.append(LoginSpec("assessor", Role.ASSESSOR, ASSESSOR[0]))
    return specs


def _org_names() -> dict[str, str]:
    names = {c.code: c.name for c in (CITY, *COUNTIES)}
    names.update({c.vendor[0]: c.vendor[1] for c in (CITY, *COUNTIES)})
    names.update(dict((ENTERPRISE, SOCIAL, ASSESSOR)))
    return names


LOGIN_SPECS = _login_specs()
# (username, role, organisation name) for every demo account, in display order.
DEMO_LOGINS: list[tuple[str, str, str]] = [
    (s.username, str(s.role), _org_names()[s.org_code]) for s in LOGIN_SPECS
]


def _room(
    org: Organization, floor: Location, name: str, code: str, area: int, *tags: str
) -> Location:
    return make_location(
        org,
        name,
        LocationKind.ROOM,
        floor,
        code=code,
        area_m2=Decimal(area),
        tags=sorted(set(tags)),
    )


def _office_floor(org: Organization, floor: Location, b: BuildingSpec, f: int) -> None:
    n = 0

    def code() -> str:
        nonlocal n
        n += 1
        return f"{b.code}-{f}{n:02d}"

    offices = 6 if f > 1 else 3
    if f == 1:
        _room(org, floor, "值班室", code(), 18, "办公室")
        _room(org, floor, "配电室", code(), 24, "配电室")
    for i in range(offices):
        c = code()
        _room(org, floor, f"{c.split('-')[1]}室", c, (20, 24, 30, 36)[i % 4], "办公室")
    _room(org, floor, f"{f}楼会议室", code(), 60 if f % 2 else 45, "会议室")
    if f == b.floors:
        _room(org, floor, "信息机房", code(), 40, "机房")
    _room(org, floor, f"{f}楼卫生间", code(), 16, "卫生间")
    _room(org, floor, f"{f}楼楼梯间", code(), 14, "楼梯间")


def _conference_floor(org: Organization, floor: Location, b: BuildingSpec, f: int) -> None:
    rooms: list[tuple[str, int, tuple[str, ...]]]
    if f == 1:
        rooms = [("多功能厅", 320, ("会议室",)), ("贵宾室", 50, ("会议室",))]
        rooms.append(("配电室", 20, ("配电室",)))
    else:
        first = 2 * (f - 2)  # second floor: 第一、第二会议室; third: 第三、第四 ...
        rooms = [(f"第{_NUMERALS[first]}会议室", 120, ("会议室",))]
        if f < b.floors:
            rooms.append((f"第{_NUMERALS[first + 1]}会议室", 60, ("会议室",)))
        else:
            rooms += [("音控室", 25, ("机房",)), ("会务仓库", 30, ("仓库",))]
    rooms += [(f"{f}楼卫生间", 20, ("卫生间",)), (f"{f}楼楼梯间", 16, ("楼梯间",))]
    for n, (name, area, tags) in enumerate(rooms, start=1):
        _room(org, floor, name, f"{b.code}-{f}{n:02d}", area, *tags)


def _canteen_floor(org: Organization, floor: Location, b: BuildingSpec, f: int) -> None:
    rooms: list[tuple[str, int, tuple[str, ...]]]
    if f == 1:
        rooms = [
            ("中心厨房", 220, ("厨房",)),
            ("主食加工间", 60, ("厨房",)),
            ("食材仓库", 80, ("仓库",)),
            ("留样间", 10, ("厨房",)),
            ("配电室", 18, ("配电室",)),
        ]
    elif f == 2:
        rooms = [("职工餐厅", 400, ("餐厅",)), ("备餐间", 40, ("厨房",))]
    else:
        rooms = [("包间一", 36, ("餐厅",)), ("包间二", 36, ("餐厅",)), ("杂物仓库", 24, ("仓库",))]
    rooms += [(f"{f}楼卫生间", 18, ("卫生间",)), (f"{f}楼楼梯间", 14, ("楼梯间",))]
    for n, (name, area, tags) in enumerate(rooms, start=1):
        _room(org, floor, name, f"{b.code}-{f}{n:02d}", area, *tags)


_LAYOUTS = {"office": _office_floor, "conference": _conference_floor, "canteen": _canteen_floor}


def _build_compound(org: Organization, spec: CentreSpec) -> None:
    compound = make_location(org, spec.compound, LocationKind.COMPOUND, tags=["大院"])
    for b in spec.buildings:
        building = make_location(
            org, b.name, LocationKind.BUILDING, compound, code=b.code, tags=["楼栋"]
        )
        for f in range(1, b.floors + 1):
            floor = make_location(
                org, f"{f}层", LocationKind.FLOOR, building, code=f"{b.code}-{f}F", tags=["楼层"]
            )
            _LAYOUTS[b.layout](org, floor, b, f)


def _org(
    name: str, code: str, kind: str, parent: Organization | None, **extra: Any
) -> Organization:
    path = next_child_path(Organization, parent.path if parent else "")
    return Organization.objects.create(
        name=name,
        code=code,
        kind=kind,
        parent=parent,
        path=path,
        depth=path.count(".") - 1,
        **extra,
    )


def _centre(spec: CentreSpec, kind: str, parent: Organization | None) -> Organization:
    org = _org(
        spec.name, spec.code, kind, parent, short_name=spec.short_name, contact_phone=spec.phone
    )
    for i, dept in enumerate(spec.departments, start=1):
        _org(dept, f"{spec.code}-dept-{i}", OrgKind.DEPARTMENT, org)
    _org(spec.vendor[1], spec.vendor[0], OrgKind.VENDOR, org)
    _build_compound(org, spec)
    return org


def demo_loaded() -> bool:
    return Organization.objects.exists()


def _large_sqlite_cache(func: Any) -> Any:
    """The load is one transaction of some 150 MB on SQLite; with the default 20 MB page
    cache its pages spill and every savepoint release of the services' history gets
    slow (the full demo: ~150 s instead of ~115 s). Raise the cache for the load only."""
    import functools

    from django.db import connection

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if connection.vendor != "sqlite":
            return func(*args, **kwargs)
        with connection.cursor() as cur:
            cur.execute("PRAGMA cache_size")
            before = cur.fetchone()[0]
            cur.execute("PRAGMA cache_size=-400000")  # KiB: up to ~400 MB
        try:
            return func(*args, **kwargs)
        finally:
            with connection.cursor() as cur:
                cur.execute(f"PRAGMA cache_size={int(before)}")

    return wrapper


@_large_sqlite_cache
@transaction.atomic
def load_demo(password: str = DEMO_PASSWORD) -> dict[str, int]:
    """Build the demo world into an empty database; returns row counts for the audit entry."""
    from dayuan.audit.log import record

    city = _centre(CITY, OrgKind.CITY, None)
    for county in COUNTIES:
        _centre(county, OrgKind.COUNTY, city)
    for code, name, kind in (
        (*ENTERPRISE, OrgKind.ENTERPRISE),
        (*SOCIAL, OrgKind.SOCIAL),
        (*ASSESSOR, OrgKind.ASSESSOR),
    ):
        _org(name, code, kind, city)

    orgs = {o.code: o for o in Organization.objects.all()}
    # Argon2 takes ~0.1 s a hash and releases the GIL: hash on every core at once.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        hashes = list(pool.map(make_password, [password] * len(LOGIN_SPECS)))
    for i, spec in enumerate(LOGIN_SPECS):
        org = orgs[spec.org_code]
        user = User(
            username=spec.username,
            display_name=_NAMES[i % len(_NAMES)],
            home_org=org,
            phone=f"1380571{i + 1:04d}",
            email=f"{spec.username}@example.gov.cn",
        )
        user.password = hashes[i]
        user.save()
        Grant.objects.create(user=user, org=org, role=spec.role)

    # Later capabilities extend the demo here, each from its own app.
    from dayuan.standards.demo import load_demo as load_standards_demo

    admin = User.objects.get(username="admin")
    counties = [orgs[c.code] for c in COUNTIES]
    with origin("cli"):
        load_standards_demo(admin, city, counties)

    from dayuan.workorders.demo import load_demo as load_workorders_demo

    with origin("cli"):
        load_workorders_demo(
            admin,
            city,
            counties,
            orders=int(os.environ.get("DAYUAN_DEMO_WORKORDERS", "40000")),
        )

    from dayuan.inspections.demo import load_demo as load_inspections_demo

    with origin("cli"):
        load_inspections_demo(
            admin,
            city,
            counties,
            inspections=int(os.environ.get("DAYUAN_DEMO_INSPECTIONS", "1200")),
        )

    from dayuan.assessment.demo import load_demo as load_assessment_demo

    with origin("cli"):
        load_assessment_demo(
            admin,
            city,
            counties,
            months=int(os.environ.get("DAYUAN_DEMO_ASSESSMENT_MONTHS", "12")),
        )

    from dayuan.bookings.demo import load_demo as load_bookings_demo

    with origin("cli"):
        load_bookings_demo(
            admin,
            city,
            counties,
            weeks=int(os.environ.get("DAYUAN_DEMO_BOOKING_WEEKS", "8")),
        )

    from dayuan.canteen.demo import load_demo as load_canteen_demo

    with origin("cli"):
        load_canteen_demo(
            admin,
            city,
            counties,
            days=int(os.environ.get("DAYUAN_DEMO_CANTEEN_DAYS", "90")),
        )

    from dayuan.resources.demo import load_demo as load_resources_demo

    with origin("cli"):
        load_resources_demo(
            admin,
            city,
            counties,
            months=int(os.environ.get("DAYUAN_DEMO_RESOURCE_MONTHS", "4")),
        )

    counts: dict[str, Any] = {
        "organizations": Organization.objects.count(),
        "locations": Location.objects.count(),
        "users": User.objects.count(),
    }
    with origin("cli"):
        record("system.demo.load", actor=None, obj=city, changes={"counts": counts})
    return counts
