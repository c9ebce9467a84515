"""Canteen demo data: the city's canteen, run by its catering company (市味香餐饮), and the
first county's own canteen; meal periods, some forty dishes each (百县千碗 dishes of
Zhejiang's counties, the chefs' alliance's 名厨 dishes, vegetarian, spicy, take-away
packages, the allergens of GB 7718), fridges, a dozen food handlers (one certificate
expiring within 30 days, one expired and off duty) and months of meals.

The history (``days``, ``DAYUAN_DEMO_CANTEEN_DAYS``, before yesterday) is written in
bulk, as the services would have written it: closed menus whose ``sold`` counters are
the sums of their holding reservations' lines and whose ``reserved_count`` is those
reservations plus the vouchers not voided; reservations served, missed (no-shows) and
cancelled; voucher batches for meetings and visitors; ratings; diners counted as served
+ redeemed vouchers + walk-ins with a working-week pattern (Friday dinners are thin, rest
days serve a few people on duty), so the forecast's backtest has something to measure.
Beside them the kitchen's logs, each with the judgments the standard (JG-ST) gives it,
so compliance by clause shows: a sample of nearly every dish (a few missing, found by
the missing-sample job), fridge temperatures (a few out of range, through the service,
each with its finding), tableware disinfection by every method, receiving checks,
morning health checks, waste weighings and the daily waste evaluation.

Yesterday, today up to the moment of the load and tomorrow's reservations are lived
through the services (``Timeline``: each call with ``now`` set to its moment): menus
saved and published, vouchers issued and voided, meals closed with their walk-ins,
samples taken and removed, every log, the kitchens' daily checks and the periodic jobs.
The demo logins' own reservations go through the services step by step (报餐,
cancellation, the counter's hand-over, ratings); everybody else's reservations of those
meals are written at once when the menu is published, with the counters the service
keeps, and handed over in one update (some hundreds of service calls otherwise, most of
the load). Every demo login who eats at one of the two canteens holds a reservation for
tomorrow's lunch, and the city's service desk has issued vouchers for tomorrow's meeting.
A history shorter than ``FULL_DAYS`` lives only today through the services.

People: the city's kitchen logins ``city_cook`` … ``city_cook3`` are the catering
company's workers (``worker`` grants there, so they operate the canteen); the county's
``dongcheng_cook`` works for the county centre itself. ``<centre>_staff10`` and up are
more people of the departments, who eat there (fewer for a short history). Deterministic
for a given ``seed`` and ``now``; a second load adds nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from dayuan.accounts.choices import Role
from dayuan.accounts.models import Grant, User
from dayuan.core.errors import DomainError
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Location, Organization

from .choices import (
    HOLDING,
    ColdUnitKind,
    DishCategory,
    DisinfectionMethod,
    Meal,
    MenuStatus,
    RecordType,
    ReservationKind,
    ReservationStatus,
    VoucherPurpose,
    VoucherStatus,
    WasteKind,
)
from .models import (
    Canteen,
    ColdUnit,
    Dish,
    DishRating,
    Disinfection,
    FoodHandler,
    FoodSample,
    HealthCheck,
    MealPeriod,
    Menu,
    MenuItem,
    ReceivingCheck,
    Reservation,
    ReservationLine,
    TemperatureLog,
    Voucher,
    VoucherBatch,
    WasteDay,
    WasteLog,
)

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
STANDARD_CODE = "JG-ST"
VENDOR_CODE = "city-canteen"
LIVE_DAYS = 1  # days before today lived through the services (and today, and tomorrow)
FULL_DAYS = 28  # a history this long has every diner; a shorter one fewer (fast tests)
EXTRA_DINERS = {"city": 140, "county": 60}  # more people of the departments who eat there
MEALS = (Meal.BREAKFAST, Meal.LUNCH, Meal.DINNER)

# --- the catalogue ----------------------------------------------------------------------

# slots: what a dish is on a menu (see ``_compose``)
B_BASE, B_EXTRA, B_SPECIAL = "b_base", "b_extra", "b_special"
BAIXIAN, MINGCHU, MEAT, VEG, SOUP, STAPLE, FRUIT, PACKAGE = (
    "baixian", "mingchu", "meat", "veg", "soup", "staple", "fruit", "package",
)  # fmt: skip


@dataclass(frozen=True)
class DishSpec:
    name: str
    category: str
    slot: str
    price: str
    tags: tuple[str, ...] = ()
    allergens: tuple[str, ...] = ()
    region: str = ""
    description: str = ""
    quality: float = 4.0  # mean stars
    city_only: bool = False


D = DishCategory
CATALOGUE: tuple[DishSpec, ...] = (
    # breakfast
    DishSpec("鲜肉大包", D.SNACK, B_BASE, "1.50", (), ("gluten",), "", "当日现包，肉馅鲜香", 4.2),
    DishSpec("香菇青菜包", D.SNACK, B_BASE, "1.00", ("vegetarian",), ("gluten",), quality=4.0),
    DishSpec("白粥", D.STAPLE, B_BASE, "0.50", ("low_salt", "vegetarian"), quality=3.9),
    DishSpec("现磨豆浆", D.SOUP, B_BASE, "1.00", ("vegetarian",), ("soy",), quality=4.1),
    DishSpec("茶叶蛋", D.SNACK, B_BASE, "1.00", ("vegetarian",), ("egg",), quality=4.0),
    DishSpec("油条", D.SNACK, B_EXTRA, "1.00", ("vegetarian",), ("gluten",), quality=3.8),
    DishSpec("糯米烧卖", D.SNACK, B_EXTRA, "2.00", (), ("gluten", "soy"), quality=4.1),
    DishSpec("嵊州小笼包", D.SNACK, B_SPECIAL, "3.00", ("baixian",), ("gluten", "soy"), "绍兴嵊州",
             "皮薄馅足，一笼八只，限量供应", 4.6),
    DishSpec("金华酥饼", D.SNACK, B_SPECIAL, "2.00", ("baixian",), ("gluten",), "金华",
             "梅干菜肉馅，炭火烘烤，层层起酥", 4.4),
    DishSpec("缙云烧饼", D.SNACK, B_SPECIAL, "3.00", ("baixian",), ("gluten",), "丽水缙云",
             "桶炉现烤，外脆里香", 4.5),
    DishSpec("宁波猪油汤圆", D.SNACK, B_SPECIAL, "3.00", ("baixian",), ("gluten",), "宁波",
             "黑芝麻猪油馅，一份六只", 4.3, True),
    # 百县千碗: a county's dish a meal, limited and pre-ordered
    DishSpec("东坡肉", D.MEAT, BAIXIAN, "12.00", ("baixian",), ("soy",), "杭州",
             "五花肉文火慢炖，酥烂不腻", 4.6),
    DishSpec("西湖醋鱼", D.MEAT, BAIXIAN, "15.00", ("baixian",), ("fish",), "杭州",
             "草鱼现杀，糖醋汁浇制", 4.0),
    DishSpec("龙井虾仁", D.MEAT, BAIXIAN, "18.00", ("baixian",), ("crustacean",), "杭州",
             "明前龙井与河虾仁同炒", 4.4, True),
    DishSpec("霉干菜焖肉", D.MEAT, BAIXIAN, "10.00", ("baixian",), ("soy",), "绍兴",
             "绍兴霉干菜与五花肉同焖", 4.5),
    DishSpec("金华火腿炖春笋", D.MEAT, BAIXIAN, "12.00", ("baixian", "low_salt"), (), "金华",
             "火腿提鲜，春笋清脆", 4.2),
    DishSpec("衢州鸭头", D.MEAT, BAIXIAN, "8.00", ("baixian", "spicy"), ("soy",), "衢州",
             "麻辣鲜香，一份两只", 3.8),
    DishSpec("舟山红烧带鱼", D.MEAT, BAIXIAN, "12.00", ("baixian",), ("fish", "soy"), "舟山",
             "东海带鱼，红烧入味", 4.1),
    DishSpec("天目笋干老鸭煲", D.MEAT, BAIXIAN, "14.00", ("baixian",), (), "杭州临安",
             "天目山笋干与老鸭慢炖三小时", 4.5, True),
    DishSpec("台州食饼筒", D.STAPLE, BAIXIAN, "6.00", ("baixian",), ("egg", "gluten"), "台州",
             "薄饼卷十余种菜肴，一份一卷", 4.3),
    # 名厨联盟: the chefs' alliance's dishes
    DishSpec("名厨酸菜鱼", D.MEAT, MINGCHU, "15.00", ("mingchu", "spicy"), ("fish",), "",
             "名厨联盟推荐菜，鲈鱼片现片现做", 4.7),
    DishSpec("名厨蟹粉豆腐", D.MEAT, MINGCHU, "16.00", ("mingchu",), ("crustacean", "soy"), "",
             "蟹黄蟹肉与嫩豆腐同烩", 4.5, True),
    DishSpec("名厨糖醋小排", D.MEAT, MINGCHU, "14.00", ("mingchu",), ("soy",), "",
             "酸甜适口，外酥里嫩", 4.6),
    DishSpec("名厨白斩鸡", D.MEAT, MINGCHU, "12.00", ("mingchu", "low_salt"), ("soy",), "",
             "三黄鸡白煮，配姜葱蘸料", 4.3, True),
    # everyday dishes
    DishSpec("宫保鸡丁", D.MEAT, MEAT, "6.00", ("spicy",), ("peanut", "soy"), quality=3.9),
    DishSpec("麻婆豆腐", D.MEAT, MEAT, "4.00", ("spicy",), ("soy",), quality=3.8),
    DishSpec("红烧鸡块", D.MEAT, MEAT, "6.00", (), ("soy",), quality=3.6),
    DishSpec("土豆烧牛肉", D.MEAT, MEAT, "8.00", (), ("soy",), quality=4.0),
    DishSpec("鱼香肉丝", D.MEAT, MEAT, "6.00", ("spicy",), ("soy",), quality=3.9),
    DishSpec("红烧狮子头", D.MEAT, MEAT, "7.00", (), ("gluten", "soy"), quality=4.1,
             city_only=True),
    DishSpec("清炒时蔬", D.VEGETABLE, VEG, "2.00", ("low_salt", "vegetarian"), quality=4.0),
    DishSpec("蒜蓉西兰花", D.VEGETABLE, VEG, "3.00", ("low_salt", "vegetarian"), quality=4.1),
    DishSpec("手撕包菜", D.VEGETABLE, VEG, "2.00", ("spicy", "vegetarian"), quality=3.7),
    DishSpec("干煸四季豆", D.VEGETABLE, VEG, "3.00", ("spicy", "vegetarian"), quality=3.3),
    DishSpec("地三鲜", D.VEGETABLE, VEG, "3.00", ("vegetarian",), ("soy",), quality=3.5),
    DishSpec("番茄炒蛋", D.VEGETABLE, VEG, "3.00", ("vegetarian",), ("egg",), quality=4.2),
    DishSpec("素烧豆腐", D.VEGETABLE, VEG, "2.00", ("vegetarian",), ("soy",), quality=3.1),
    DishSpec("番茄蛋汤", D.SOUP, SOUP, "1.00", ("vegetarian",), ("egg",), quality=3.8),
    DishSpec("紫菜虾皮汤", D.SOUP, SOUP, "1.00", (), ("crustacean",), quality=3.2),
    DishSpec("冬瓜排骨汤", D.SOUP, SOUP, "2.00", ("low_salt",), (), quality=4.0),
    DishSpec("温州鱼丸汤", D.SOUP, SOUP, "3.00", ("baixian",), ("fish",), "温州",
             "鲜鱼肉手打鱼丸", 4.2, True),
    DishSpec("米饭", D.STAPLE, STAPLE, "0.50", ("vegetarian",), quality=4.0),
    DishSpec("杂粮饭", D.STAPLE, STAPLE, "1.00", ("low_salt", "vegetarian"), quality=3.9),
    DishSpec("清真牛肉拉面", D.STAPLE, STAPLE, "8.00", ("halal",), ("gluten",), "",
             "清真窗口供应", 4.2, True),
    DishSpec("时令水果", D.FRUIT, FRUIT, "2.00", ("vegetarian",), quality=4.2),
    DishSpec("外带套餐A（两荤一素）", D.PACKAGE, PACKAGE, "16.00", (), ("egg", "soy"),
             description="两荤一素一饭，打包带走", quality=3.9),
    DishSpec("外带套餐B（一荤两素）", D.PACKAGE, PACKAGE, "12.00", (), ("soy",),
             description="一荤两素一饭，打包带走", quality=3.8),
    DishSpec("素食外带套餐", D.PACKAGE, PACKAGE, "10.00", ("vegetarian",), ("soy",),
             description="三素一饭，打包带走", quality=3.7),
    DishSpec("名厨外带套餐", D.PACKAGE, PACKAGE, "22.00", ("mingchu",), ("fish", "soy"),
             description="名厨当日推荐两荤一素", quality=4.5, city_only=True),
)  # fmt: skip
SPECS = {s.name: s for s in CATALOGUE}

COMMENTS = {
    5: ("味道很好，分量足", "很正宗，家乡的味道", "下次还点", "肥而不腻，酥烂入味", "推荐！"),
    4: ("不错，稍微有点咸", "口味可以，希望多上几次", "挺好吃的", "分量再多一点就好了"),
    3: ("一般，偏油", "味道还行，有点凉了", "分量偏少", "中规中矩"),
    2: ("太咸了", "菜有点老", "不够新鲜，希望改进"),
    1: ("有点不新鲜，希望改进", "太辣了，吃不了", "口味很差"),
}
VOUCHER_GUESTS = {
    VoucherPurpose.MEETING: ("全市机关后勤工作会议", "节能降耗工作推进会", "物业服务项目评审会",
                             "业务技能培训班", "年度预算评审会"),
    VoucherPurpose.VISITOR: ("省机关事务局调研组", "兄弟县区考察交流", "上级单位检查组",
                             "来访接待"),
    VoucherPurpose.DUTY: ("防汛值班人员", "加班人员", "节假日值班人员"),
}  # fmt: skip
SUPPLIERS: tuple[tuple[str, str, tuple[tuple[str, str, str, float, float, int], ...]], ...] = (
    # supplier, licence, items: (item, spec, unit, quantity low, high, shelf-life days)
    ("市农产品配送中心有限公司", "JY13301050012345", (
        ("青菜", "散装", "kg", 20, 45, 2), ("西兰花", "散装", "kg", 10, 25, 3),
        ("番茄", "散装", "kg", 10, 25, 5), ("土豆", "散装", "kg", 15, 40, 15),
        ("包菜", "散装", "kg", 10, 30, 7), ("四季豆", "散装", "kg", 8, 20, 3))),
    ("市润丰肉食品有限公司", "SC10433010500231", (
        ("猪五花肉", "冷鲜", "kg", 15, 35, 3), ("猪肋排", "冷鲜", "kg", 8, 20, 3),
        ("鸡腿", "冷冻", "kg", 10, 25, 180), ("牛腩", "冷冻", "kg", 8, 18, 180))),
    ("市鲜达水产批发有限公司", "JY13301060023456", (
        ("鲈鱼", "鲜活", "kg", 10, 25, 1), ("带鱼", "冷冻", "kg", 8, 20, 180),
        ("虾仁", "冷冻 500g/袋", "袋", 10, 30, 180))),
    ("市金穗粮油贸易有限公司", "JY13301020034567", (
        ("大米", "25kg/袋", "袋", 4, 12, 365), ("菜籽油", "5L/桶", "桶", 4, 10, 540),
        ("面粉", "25kg/袋", "袋", 2, 5, 270))),
    ("市康禾蛋品有限公司", "SC13133010200087", (("鸡蛋", "15kg/箱", "箱", 2, 6, 30),)),
    ("市豆香坊豆制品厂", "SC12533010800152", (
        ("老豆腐", "散装", "kg", 8, 20, 2), ("千张", "散装", "kg", 4, 10, 3))),
)  # fmt: skip
REJECT_REASONS = ("感官检查不合格：叶菜发黄腐烂", "冷链温度超标，到货时已解冻", "无合格证明，拒收")
SYMPTOMS = ("腹泻", "发热 37.9 ℃", "手部化脓性伤口", "咳嗽、咽痛")
HANDLERS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    # name, post, handles ready-to-eat food
    "city": (("方国强", "食堂经理", True), ("郑海林", "厨师长", True), ("沈建华", "厨师", True),
             ("钱美娟", "面点师", True), ("蒋立新", "切配", True), ("卢桂芳", "洗消", False),
             ("陆晓红", "售饭员", True)),
    "county": (("俞志刚", "炊事班长", True), ("杜秀英", "厨师", True), ("葛卫东", "面点师", True),
               ("潘丽萍", "售饭员", True), ("许阿根", "帮厨", True)),
}  # fmt: skip
COOKS = {"city": ("方国强（食堂经理）", "郑海林（厨师长）", "陆晓红（售饭员）"),
         "county": ("俞志刚（炊事班长）",)}  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
         "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "晓东", "海燕", "志强", "丽华",
         "文斌", "慧敏", "国庆", "佳怡", "子涵", "雨婷", "浩然", "思远")  # fmt: skip

# Who eats: reservation propensities drawn per person and meal (breakfast, lunch, dinner).
LUNCH_P = (0.97, 0.95, 0.9, 0.88, 0.85, 0.8, 0.75, 0.7, 0.6, 0.45, 0.3, 0.15)
BREAKFAST_P = (0.8, 0.7, 0.5, 0.35, 0.2, 0.1, 0.05, 0.0, 0.0, 0.0)
DINNER_P = (0.6, 0.45, 0.3, 0.2, 0.12, 0.08, 0.05, 0.0, 0.0, 0.0, 0.0)
# Working-week pattern by meal: Monday … Friday.
WEEKDAY = {
    Meal.BREAKFAST: (1.0, 1.0, 1.0, 0.98, 0.92),
    Meal.LUNCH: (1.05, 1.0, 1.0, 0.97, 0.82),
    Meal.DINNER: (1.1, 1.0, 1.05, 0.9, 0.45),
}
# Walk-ins at full size (city, county) by meal; rest days a fifth of lunch and dinner.
WALK_INS = {
    Meal.BREAKFAST: (12, 6),
    Meal.LUNCH: (30, 12),
    Meal.DINNER: (8, 4),
}
CANCEL_SHARE = 0.05
NO_SHOW = (0.06, 0.1)  # working days, Fridays
RATE_SHARE = 0.14  # served diners who rate a dish or two
PREORDER = {Meal.BREAKFAST: 0.35, Meal.LUNCH: 0.4, Meal.DINNER: 0.3}  # per limited dish
TAKEAWAY = {Meal.BREAKFAST: 0.0, Meal.LUNCH: 0.08, Meal.DINNER: 0.15}


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=SHANGHAI)


def _today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def _user(username: str) -> User | None:
    return User.objects.filter(username=username, is_active=True).first()


def _first_with(org: Organization, role: str) -> User | None:
    return (
        User.objects.filter(grants__org=org, grants__role=role, is_active=True)
        .order_by("id")
        .first()
    )


# --- setup --------------------------------------------------------------------------------


def install_standard(actor: Any, city: Organization) -> int:
    """JG-ST published and adopted at ``city`` (the standards demo has normally done it)."""
    from dayuan.standards.demo import install, library_path

    return int(install(actor, city, library_path(STANDARD_CODE)).imported)


def rules_in_force_since(since: datetime) -> int:
    """Backdate JG-ST's published versions to ``since``: the history's logs are judged
    as of their own time, months before the standard was published (at load time)."""
    from dayuan.standards.demo import backdate
    from dayuan.standards.models import StandardVersion

    return backdate(StandardVersion.objects.filter(standard__code=STANDARD_CODE), since)


def _new_user(
    username: str, display: str, home: Organization, role: str, phone: str, password: str
) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(
            username=username,
            display_name=display,
            home_org=home,
            phone=phone,
            email=f"{username}@example.gov.cn",
            password=password,
        )
        user.save()
        Grant.objects.create(user=user, org=home, role=role)
    return user


def ensure_cooks(
    key: str, centre: Organization, vendor: Organization | None, password: str
) -> list[User]:
    """The kitchen's logins: the catering company's workers (``worker`` grants at the
    company, so they operate the canteen it runs), or the centre's own cook."""
    home = vendor or centre
    out = []
    for i, display in enumerate(COOKS[key], start=1):
        username = f"{centre.code}_cook" + (str(i) if i > 1 else "")
        phone = f"1350571{(0 if key == 'city' else 1)}{i:03d}"
        out.append(_new_user(username, display, home, Role.WORKER, phone, password))
    return out


def ensure_diners(centre: Organization, n: int, password: str, serial: int) -> list[User]:
    """``n`` more people in the centre's departments (``<code>_staff10`` …), written in
    bulk: they eat in the canteen and share the demo password's hash."""
    departments = list(
        Organization.objects.filter(parent=centre, kind=OrgKind.DEPARTMENT).order_by("path")
    ) or [centre]
    names = [f"{centre.code}_staff{10 + i}" for i in range(n)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    users, homes = [], []
    for i, username in enumerate(names):
        if username in existing:
            continue
        dept = departments[i % len(departments)]
        k = serial * 1000 + i
        users.append(
            User(
                username=username,
                display_name=SURNAMES[(k * 7) % len(SURNAMES)] + GIVEN[(k * 11 + 3) % len(GIVEN)],
                home_org=dept,
                phone=f"1360571{serial}{i:03d}",
                email=f"{username}@example.gov.cn",
                password=password,
            )
        )
        homes.append(dept)
    made = User.objects.bulk_create(users)
    if made and made[0].pk is None:  # a backend that does not return ids
        made = list(User.objects.filter(username__in=[u.username for u in users]))
        made.sort(key=lambda u: names.index(u.username))
    Grant.objects.bulk_create(
        Grant(user=u, org=h, role=Role.STAFF) for u, h in zip(made, homes, strict=True)
    )
    return list(User.objects.filter(username__in=names).order_by("id"))


def _canteen_places(centre: Organization) -> tuple[Location, Location | None]:
    """The compound's 食堂 building and its 中心厨房."""
    building = (
        Location.objects.filter(org=centre, kind=LocationKind.BUILDING, name="食堂")
        .order_by("path")
        .first()
    )
    if building is None:
        building = (
            Location.objects.filter(org=centre, kind=LocationKind.BUILDING).order_by("path").first()
        )
    if building is None:
        raise RuntimeError(f"{centre.code} has no building for its canteen")
    kitchen = (
        Location.objects.filter(path__startswith=building.path, name="中心厨房")
        .order_by("path")
        .first()
    )
    return building, kitchen


@dataclass
class Diner:
    user: Any
    org_id: int
    p: dict[str, float]
    takeaway: float
    rater: float
    duty: float  # chance of eating there on a rest day
    login: bool = False


@dataclass
class Site:
    key: str  # "city", "county"
    canteen: Canteen
    centre: Organization
    manager: Any
    cooks: list[Any]  # operators: hand over, keep the logs
    periods: dict[str, MealPeriod]
    dishes: dict[str, Dish]
    units: list[ColdUnit]
    handlers: list[FoodHandler]
    diners: list[Diner]
    issuers: list[Any]
    scale: float
    tray_g: tuple[float, float] = (48.0, 31.0)  # tray leftovers per diner: start, end

    @property
    def sample_fridge(self) -> ColdUnit:
        return next(u for u in self.units if u.kind == ColdUnitKind.SAMPLE)

    def cook(self, rng: random.Random) -> Any:
        return rng.choice(self.cooks)


def _dishes_for(key: str) -> list[DishSpec]:
    return [s for s in CATALOGUE if key == "city" or not s.city_only]


def build_site(
    admin: Any,
    key: str,
    centre: Organization,
    vendor: Organization | None,
    now: datetime,
    rng: random.Random,
    *,
    scale: float,
    serial: int,
) -> Site:
    """One canteen through the services: its places, meal periods, dishes, fridges,
    food handlers and the people who cook and eat there."""
    from . import safety, services

    manager = _first_with(centre, Role.MANAGER) or admin
    cooks = ensure_cooks(key, centre, vendor, admin.password)
    building, kitchen = _canteen_places(centre)
    name = "市行政中心机关食堂" if key == "city" else f"{centre.short_name or centre.name}机关食堂"
    canteen = services.save_canteen(
        actor=admin,
        org_id=centre.pk,
        location_id=building.pk,
        data={
            "name": name,
            "operator_id": vendor.pk if vendor else None,
            "kitchen_id": kitchen.pk if kitchen else None,
            "seats": 400 if key == "city" else 180,
            "takeaway_slot_minutes": 15,
            "voucher_batch_max": 50 if key == "city" else 30,
            "no_show_grace_minutes": 30,
        },
    )
    if key != "city":  # the county starts lunch a little later and charges less
        services.save_meal_period(
            actor=manager,
            canteen_id=canteen.pk,
            meal=Meal.LUNCH,
            serve_start=time(11, 40),
            serve_end=time(13, 0),
            reserve_cutoff_minutes=120,
            cancel_cutoff_minutes=150,
            eat_in_price=Decimal("7.00"),
        )
    # The catalogue in bulk, as ``services.save_dish`` writes each (tags and allergens
    # sorted): some ninety service calls would be most of a small load's time.
    made = Dish.objects.bulk_create(
        Dish(
            org=centre,
            canteen=canteen,
            name=spec.name,
            category=str(spec.category),
            tags=sorted(set(spec.tags)),
            allergens=sorted(set(spec.allergens)),
            region=spec.region,
            price=Decimal(spec.price),
            description=spec.description,
        )
        for spec in _dishes_for(key)
    )
    if not made or made[0].pk is None:
        made = list(Dish.objects.filter(canteen=canteen))
    dishes = {d.name: d for d in made}
    units = [
        ColdUnit.objects.create(canteen=canteen, name=unit_name, kind=kind)
        for unit_name, kind in (
            ("留样专用冰箱", ColdUnitKind.SAMPLE),
            ("冷藏柜1（蔬果）", ColdUnitKind.CHILLED),
            ("冷藏柜2（半成品）", ColdUnitKind.CHILLED),
            ("冷冻库", ColdUnitKind.FROZEN),
        )
    ]
    handlers = []
    today = _today(now)
    cook_by_name = {c.display_name.split("（")[0]: c for c in cooks}
    for i, (person, post, ready) in enumerate(HANDLERS[key]):
        expires = today + timedelta(days=120 + 37 * i)
        active = True
        if key == "city" and i == 3:
            expires = today + timedelta(days=12)  # to renew: the daily job has warned
        elif key == "county" and i == 4:
            expires, active = today - timedelta(days=20), False  # lapsed: off duty since
        handlers.append(
            safety.save_handler(
                actor=manager,
                canteen_id=canteen.pk,
                data={
                    "name": person,
                    "post": post,
                    "handles_ready_to_eat": ready,
                    "certificate_no": f"{'SJ' if key == 'city' else 'DC'}JK{2026000 + 37 * i + 11}",
                    "issued_on": expires - timedelta(days=365),
                    "expires_on": expires,
                    "is_active": active,
                    "user_id": cook_by_name[person].pk if person in cook_by_name else None,
                },
            )
        )
    periods = {p.meal: p for p in MealPeriod.objects.filter(canteen=canteen)}
    site = Site(
        key=key,
        canteen=canteen,
        centre=centre,
        manager=manager,
        cooks=cooks,
        periods=periods,
        dishes=dishes,
        units=units,
        handlers=handlers,
        diners=[],
        issuers=[],
        scale=scale,
    )
    extra = round(EXTRA_DINERS["city" if key == "city" else "county"] * scale)
    ensure_diners(centre, extra, admin.password, serial)
    site.diners = _diners(centre, cooks, rng)
    site.issuers = [
        u
        for u in (
            _first_with(centre, Role.DISPATCHER),
            manager,
            _user(f"{centre.code}_staff"),
        )
        if u is not None
    ]
    return site


def _diners(centre: Organization, cooks: list[Any], rng: random.Random) -> list[Diner]:
    """Who eats in the centre's canteen: its people (not a sub-centre's, not the cooks)."""
    from dayuan.core.demo import DEMO_LOGINS

    logins = {u for u, _r, _o in DEMO_LOGINS}
    sub = list(
        Organization.objects.filter(
            path__startswith=centre.path, kind__in=OrgKind.centres()
        ).exclude(pk=centre.pk)
    )
    people = (
        User.objects.filter(is_active=True, home_org__path__startswith=centre.path)
        .exclude(pk__in=[c.pk for c in cooks])
        .select_related("home_org")
        .order_by("id")
    )
    out = []
    for user in people:
        if any(user.home_org.path.startswith(s.path) for s in sub):
            continue
        out.append(
            Diner(
                user=user,
                org_id=user.home_org_id,
                p={
                    Meal.BREAKFAST: rng.choice(BREAKFAST_P),
                    Meal.LUNCH: rng.choice(LUNCH_P),
                    Meal.DINNER: rng.choice(DINNER_P),
                },
                takeaway=rng.random(),
                rater=rng.random(),
                duty=rng.choice((0.0, 0.0, 0.05, 0.1, 0.2)),
                login=user.username in logins,
            )
        )
    return out


# --- planning: what happens at each meal ------------------------------------------------


@dataclass
class PlannedItem:
    dish: Dish
    portions: int | None
    per_person_max: int = 2
    sold: int = 0

    @property
    def takeaway(self) -> bool:
        return self.dish.category == DishCategory.PACKAGE


Rating = tuple["PlannedItem", int, str, datetime]  # item, stars, comment, when


@dataclass
class PlannedRes:
    diner: Diner
    kind: str
    lines: list[tuple[PlannedItem, int]]
    pickup_at: datetime | None
    created: datetime
    fate: str  # served, no_show, cancelled
    at: datetime | None = None  # served or cancelled at
    ratings: list[Rating] = field(default_factory=list)
    pk: int | None = None


@dataclass
class PlannedBatch:
    issuer: Any
    purpose: str
    guest: str
    count: int
    created: datetime
    redeemed: list[datetime | None]
    void_at: datetime | None = None
    booking_id: int | None = None


@dataclass
class MealPlan:
    site: Site
    day: date
    meal: str
    items: list[PlannedItem]
    start: datetime
    end: datetime
    reserve_until: datetime
    cancel_until: datetime
    price: Decimal
    published: datetime
    reservations: list[PlannedRes] = field(default_factory=list)
    batches: list[PlannedBatch] = field(default_factory=list)
    walk_ins: int = 0
    closed: datetime | None = None
    missing_sample: PlannedItem | None = None
    menu_id: int | None = None

    @property
    def diners(self) -> int:
        served = sum(1 for r in self.reservations if r.fate == "served")
        redeemed = sum(1 for b in self.batches if b.void_at is None for t in b.redeemed if t)
        return served + redeemed + self.walk_ins


def _published(day: date) -> datetime:
    """Menus are published for the week on the Thursday before it, at 16:00."""
    monday = day - timedelta(days=day.weekday())
    return _local(monday - timedelta(days=4), time(16, 0))


class Planner:
    """What each meal holds: its dishes (a rotation per slot, limited portions sized to
    the expected demand), who reserves and what becomes of each reservation, vouchers,
    walk-ins and ratings."""

    def __init__(self, now: datetime, rng: random.Random) -> None:
        from dayuan.workcalendar.calendar import is_workday

        self.now = now
        self.rng = rng
        self.is_workday = is_workday
        self.rotation: dict[tuple[str, str], int] = {}

    def _next(self, site: Site, slot: str, pool: list[str], k: int = 1) -> list[str]:
        """The next ``k`` dishes of a rotating pool (each dish comes round in turn)."""
        i = self.rotation.get((site.key, slot), self.rng.randrange(len(pool)))
        self.rotation[(site.key, slot)] = i + k
        return [pool[(i + j) % len(pool)] for j in range(k)]

    def compose(self, site: Site, day: date, meal: str, workday: bool) -> list[PlannedItem]:
        by_slot: dict[str, list[str]] = {}
        for name in site.dishes:
            by_slot.setdefault(SPECS[name].slot, []).append(name)
        expected = self.expected(site, day, meal, workday)
        limited = max(8, round(expected * PREORDER[meal] * 1.1))
        items: list[PlannedItem] = []

        def add(names: Iterable[str], portions: int | None = None, per_person: int = 2) -> None:
            for n in names:
                items.append(PlannedItem(site.dishes[n], portions, per_person))

        if meal == Meal.BREAKFAST:
            add(by_slot[B_BASE])
            add(self._next(site, B_EXTRA, by_slot[B_EXTRA]))
            add(self._next(site, B_SPECIAL, by_slot[B_SPECIAL]), limited, 2)
            return items
        lunch = meal == Meal.LUNCH
        add(self._next(site, BAIXIAN, by_slot[BAIXIAN]), limited, 1)
        if lunch and (site.key == "city" or day.weekday() in (1, 3)):
            add(self._next(site, MINGCHU, by_slot[MINGCHU]), max(8, round(limited * 0.8)), 1)
        add(self._next(site, MEAT, by_slot[MEAT], 2 if lunch else 1))
        add(self._next(site, VEG, by_slot[VEG], 3 if lunch else 2))
        add(self._next(site, SOUP, by_slot[SOUP]))
        staples = [n for n in by_slot[STAPLE] if n != "米饭"]
        add(["米饭", *(self._next(site, STAPLE, staples) if lunch else [])])
        if lunch:
            add(by_slot[FRUIT])
        packages = by_slot[PACKAGE]
        boxes = max(4, round(expected * TAKEAWAY[meal] * 0.8))
        wanted = packages[:2] if lunch else packages[1:2]
        if lunch and day.weekday() in (0, 2, 4):
            wanted = [*wanted, "素食外带套餐"]
        if lunch and "名厨外带套餐" in site.dishes and day.weekday() == 3:
            wanted = [*wanted, "名厨外带套餐"]
        add(wanted, boxes, 2)
        return items

    def expected(self, site: Site, day: date, meal: str, workday: bool) -> float:
        if not workday:
            return sum(d.duty for d in site.diners) * (0.6 if meal == Meal.DINNER else 1.0)
        factor = WEEKDAY[meal][min(day.weekday(), 4)]
        return sum(min(1.0, d.p[meal] * factor) for d in site.diners)

    def meals(self, site: Site, day: date) -> list[str]:
        if self.is_workday(day):
            return list(MEALS)
        return [Meal.LUNCH, Meal.DINNER]  # rest days: lunch and dinner for the people on duty

    def plan(self, site: Site, day: date, meal: str, *, logins: bool = False) -> MealPlan:
        rng = self.rng
        workday = self.is_workday(day)
        period = site.periods[meal]
        start = _local(day, period.serve_start)
        end = _local(day, period.serve_end)
        plan = MealPlan(
            site=site,
            day=day,
            meal=meal,
            items=self.compose(site, day, meal, workday),
            start=start,
            end=end,
            reserve_until=start - timedelta(minutes=period.reserve_cutoff_minutes),
            cancel_until=start - timedelta(minutes=period.cancel_cutoff_minutes),
            price=period.eat_in_price,
            published=_published(day),
        )
        factor = WEEKDAY[meal][min(day.weekday(), 4)] if workday else 1.0
        friday = day.weekday() == 4
        noise = rng.gauss(1.0, 0.04)
        for diner in site.diners:
            p = min(1.0, diner.p[meal] * factor * noise) if workday else diner.duty
            if meal == Meal.DINNER and not workday:
                p *= 0.6
            forced = logins and diner.login and meal == Meal.LUNCH
            if not forced and rng.random() >= p:
                continue
            plan.reservations.append(self.reservation(plan, diner, friday, forced))
        plan.reservations.sort(key=lambda r: r.created)
        self.take_portions(plan)
        base = WALK_INS[meal][0 if site.key == "city" else 1] * (1 if workday else 0.2)
        if meal == Meal.BREAKFAST and not workday:
            base = 0
        scale = 0.4 + 0.6 * site.scale
        plan.walk_ins = max(0, round(base * scale * factor * rng.gauss(1.0, 0.15)))
        if workday and meal == Meal.LUNCH and rng.random() < (0.3 if site.key == "city" else 0.12):
            plan.batches.append(self.batch(plan, VoucherPurpose.MEETING))
        elif workday and meal == Meal.LUNCH and rng.random() < 0.1:
            plan.batches.append(self.batch(plan, VoucherPurpose.VISITOR))
        elif meal == Meal.DINNER and rng.random() < 0.05:
            plan.batches.append(self.batch(plan, VoucherPurpose.DUTY))
        plan.closed = end + timedelta(minutes=rng.randint(8, 25))
        return plan

    def reservation(self, plan: MealPlan, diner: Diner, friday: bool, forced: bool) -> PlannedRes:
        rng = self.rng
        span = (plan.reserve_until - plan.published).total_seconds() - 180
        # Most people reserve close to the deadline: the evening before, the same morning.
        created = plan.reserve_until - timedelta(seconds=span * rng.random() ** 2.5 + 60)
        if forced:  # a demo login reserved tomorrow's lunch in the last day
            latest = min(plan.reserve_until, self.now) - timedelta(minutes=5)
            created = latest - timedelta(minutes=rng.randint(10, 20 * 60))
            created = max(created, plan.published + timedelta(minutes=5))
        kind = ReservationKind.EAT_IN
        lines: list[tuple[PlannedItem, int]] = []
        limited = [i for i in plan.items if i.portions is not None]
        pickup = None
        if diner.takeaway < TAKEAWAY[plan.meal] * 2 and rng.random() < 0.5:
            kind = ReservationKind.TAKEAWAY
            boxes = [i for i in limited if i.takeaway]
            if boxes:
                box = rng.choice(boxes)
                lines.append((box, 2 if rng.random() < 0.05 else 1))
                step = plan.site.canteen.takeaway_slot_minutes
                slots = int((plan.end - plan.start).total_seconds() // 60 // step)
                pickup = plan.start + timedelta(minutes=step * min(slots - 1, rng.randint(0, 3)))
            else:
                kind = ReservationKind.EAT_IN
        if kind == ReservationKind.EAT_IN:
            for item in limited:
                if not item.takeaway and rng.random() < PREORDER[plan.meal]:
                    q = 2 if item.per_person_max > 1 and rng.random() < 0.08 else 1
                    lines.append((item, q))
        fate = "served"
        r = rng.random()
        no_show = NO_SHOW[1] if friday else NO_SHOW[0]
        if not forced and r < CANCEL_SHARE:
            fate = "cancelled"
        elif not forced and r < CANCEL_SHARE + no_show:
            fate = "no_show"
        res = PlannedRes(diner, kind, lines, pickup, created, fate)
        if fate == "cancelled":
            last = plan.cancel_until - timedelta(minutes=1)
            if last <= created:
                res.fate = "served"
            else:
                res.at = created + (last - created) * rng.random()
        if res.fate == "served":
            if pickup is not None:
                res.at = pickup + timedelta(minutes=rng.randint(0, 12))
            else:
                minutes = (plan.end - plan.start).total_seconds() / 60
                res.at = plan.start + timedelta(minutes=minutes * rng.betavariate(1.6, 3.2))
            if rng.random() < RATE_SHARE * (0.5 + diner.rater):
                res.ratings = self.ratings(plan, res)
        return res

    def ratings(self, plan: MealPlan, res: PlannedRes) -> list[Rating]:
        rng = self.rng
        if res.kind == ReservationKind.TAKEAWAY:
            pool = [item for item, _q in res.lines]
        else:
            ordered = {item.dish.pk for item, _q in res.lines}
            pool = [
                i
                for i in plan.items
                if not i.takeaway and (i.dish.name != "米饭" or rng.random() < 0.05)
            ]
            pool.sort(key=lambda i: (i.dish.pk not in ordered, i.dish.category != "meat"))
            pool = pool[:6]
        out = []
        for item in rng.sample(pool, min(len(pool), rng.choice((1, 1, 2)))):
            spec = SPECS[item.dish.name]
            stars = max(1, min(5, round(rng.gauss(spec.quality, 0.75))))
            comment = rng.choice(COMMENTS[stars]) if rng.random() < 0.35 else ""
            at = plan.end + timedelta(minutes=rng.randint(5, 30 * 60))
            out.append((item, stars, comment, at))
        return out

    def take_portions(self, plan: MealPlan) -> None:
        """Limited dishes in the order people reserved: none beyond the portions (a
        cancelled reservation gave its portions back, but later; ignored here)."""
        for res in plan.reservations:
            kept = []
            for item, q in res.lines:
                if item.sold + q <= (item.portions or 0):
                    item.sold += q
                    kept.append((item, q))
            res.lines = kept
            if res.kind == ReservationKind.TAKEAWAY and not kept:
                res.kind, res.pickup_at = ReservationKind.EAT_IN, None
            if res.fate == "cancelled":
                for item, q in kept:
                    item.sold -= q

    def batch(self, plan: MealPlan, purpose: str) -> PlannedBatch:
        rng = self.rng
        site = plan.site
        limit = site.canteen.voucher_batch_max
        wanted = rng.randint(2, 6) if purpose == VoucherPurpose.DUTY else rng.randint(4, 25)
        count = min(limit, wanted)
        created = plan.reserve_until - timedelta(hours=rng.randint(3, 60))
        created = max(created, plan.published + timedelta(minutes=30))
        batch = PlannedBatch(
            issuer=rng.choice(site.issuers),
            purpose=purpose,
            guest=rng.choice(VOUCHER_GUESTS[purpose]),
            count=count,
            created=created,
            redeemed=[],
        )
        if rng.random() < 0.04 and plan.cancel_until - created > timedelta(hours=1):
            batch.void_at = created + (plan.cancel_until - created) * rng.random()
        minutes = (plan.end - plan.start).total_seconds() / 60
        for _ in range(count):
            used = batch.void_at is None and rng.random() < 0.92
            batch.redeemed.append(
                plan.start + timedelta(minutes=minutes * rng.betavariate(1.5, 3)) if used else None
            )
        return batch


# --- the kitchen's day: what its logs record ------------------------------------------------


@dataclass
class LogEntry:
    """One entry of the kitchen's logs at ``at``: ``kind`` names the service."""

    kind: str  # temperature, disinfection, receiving, health, waste, waste_day
    at: datetime
    values: dict[str, Any]


DISINFECTIONS = {
    "breakfast": (DisinfectionMethod.STEAM, "碗、筷、勺"),
    "lunch": (DisinfectionMethod.DISHWASHER, "餐盘、碗、筷"),
    "dinner": (DisinfectionMethod.INFRARED, "餐具（保洁柜）"),
    "monday": (DisinfectionMethod.CHLORINE, "砧板、刀具、盛器"),
    "wednesday": (DisinfectionMethod.BOILING, "抹布、毛巾"),
}


def _disinfection(method: str, rng: random.Random) -> dict[str, Any]:
    """What the kitchen measures for each method (within JG-ST C3, with some margin)."""
    if method in (DisinfectionMethod.BOILING, DisinfectionMethod.STEAM):
        return {"temp_c": Decimal(100), "minutes": Decimal(rng.choice((10, 12, 15, 15, 20)))}
    if method == DisinfectionMethod.INFRARED:
        return {
            "temp_c": Decimal(rng.choice((120, 122, 125))),
            "minutes": Decimal(rng.choice((15, 20))),
        }
    if method == DisinfectionMethod.DISHWASHER:
        return {
            "rinse_temp_c": Decimal(rng.choice(("85.0", "86.5", "88.0", "90.0"))),
            "rinse_seconds": rng.choice((40, 45, 60)),
        }
    return {
        "chlorine_mg_l": rng.choice((250, 280, 300)),
        "minutes": Decimal(rng.choice((5, 8, 10))),
        "fully_immersed": True,
    }


def _reading(kind: str, rng: random.Random) -> Decimal:
    if kind == ColdUnitKind.FROZEN:
        return Decimal(str(round(rng.uniform(-22, -15), 1)))
    if kind == ColdUnitKind.SAMPLE:
        return Decimal(str(round(rng.uniform(1.5, 6.0), 1)))
    return Decimal(str(round(rng.uniform(1.0, 6.5), 1)))


def day_logs(
    site: Site, day: date, plans: list[MealPlan], rng: random.Random, frac: float, workday: bool
) -> list[LogEntry]:
    """The kitchen's logs of one day it serves meals: health checks before work, fridge
    readings morning and afternoon, deliveries checked in, tableware disinfected after
    each meal (every method over a week), weighings and the day's waste evaluation.
    ``frac`` (0 → 1 over the history) lowers the tray leftovers: 光盘行动 works."""
    if not plans:
        return []
    out: list[LogEntry] = []
    on_duty = [h for h in site.handlers if h.issued_on <= day <= h.expires_on]
    if not workday:
        on_duty = on_duty[: max(2, len(on_duty) // 2)]
    for i, h in enumerate(on_duty):
        unwell = rng.random() < 0.004
        out.append(
            LogEntry(
                "health",
                _local(day, time(6, 30)) + timedelta(minutes=2 * i + rng.randint(0, 3)),
                {
                    "handler": h,
                    "healthy": not unwell,
                    "symptoms": rng.choice(SYMPTOMS) if unwell else "",
                },
            )
        )
    for hour in (7, 16):
        for j, unit in enumerate(site.units):
            out.append(
                LogEntry(
                    "temperature",
                    _local(day, time(hour, 30)) + timedelta(minutes=j + rng.randint(0, 8)),
                    {"unit": unit, "temp_c": _reading(unit.kind, rng)},
                )
            )
    if workday:
        for k, (supplier, licence, goods) in enumerate(rng.sample(SUPPLIERS, 3)):
            item, spec, unit_name, low, high, shelf = rng.choice(goods)
            age = 0 if shelf <= 3 else rng.randint(1, min(shelf // 3, 60))
            produced = day - timedelta(days=age)
            accepted = rng.random() > 0.015
            quantity = rng.uniform(low, high) * (0.4 + 0.6 * site.scale)
            quantity = round(quantity, 1 if unit_name == "kg" else 0)
            out.append(
                LogEntry(
                    "receiving",
                    _local(day, time(6, 10)) + timedelta(minutes=25 * k + rng.randint(0, 15)),
                    {
                        "supplier": supplier,
                        "supplier_licence": licence,
                        "item": item,
                        "spec": spec,
                        "quantity": Decimal(str(max(quantity, 1))),
                        "unit": unit_name,
                        "batch_no": f"{produced:%Y%m%d}{rng.randint(1, 99):02d}",
                        "production_date": produced,
                        "best_before": produced + timedelta(days=shelf),
                        "certificate_no": f"HG{produced:%y%m%d}{rng.randint(100, 999)}",
                        "accepted": accepted,
                        "reject_reason": "" if accepted else rng.choice(REJECT_REASONS),
                    },
                )
            )
    for plan in plans:
        method, items = DISINFECTIONS[str(plan.meal)]
        out.append(
            LogEntry(
                "disinfection",
                plan.end + timedelta(minutes=rng.randint(30, 60)),
                {"method": method, "items": items, **_disinfection(method, rng)},
            )
        )
    extra = {0: "monday", 2: "wednesday"}.get(day.weekday())
    if extra and workday:
        method, items = DISINFECTIONS[extra]
        out.append(
            LogEntry(
                "disinfection",
                _local(day, time(14, 0)) + timedelta(minutes=rng.randint(0, 30)),
                {"method": method, "items": items, **_disinfection(method, rng)},
            )
        )
    tray_g = site.tray_g[0] + (site.tray_g[1] - site.tray_g[0]) * frac
    total = 0
    for plan in plans:
        diners = plan.diners
        total += diners
        if plan.meal == Meal.BREAKFAST or diners == 0:
            continue
        kg = diners * tray_g * rng.gauss(1.0, 0.12) / 1000
        out.append(
            LogEntry(
                "waste",
                plan.closed or plan.end,
                {"kind": WasteKind.TRAY, "meal": plan.meal, "weight_kg": _kg(kg)},
            )
        )
    if total:
        for kind, per_diner, hour in (
            (WasteKind.TRIMMINGS, 0.025, time(15, 0)),
            (WasteKind.UNSOLD, 0.018, time(19, 40)),
            (WasteKind.KITCHEN, 0.095, time(20, 0)),
        ):
            kg = total * per_diner * rng.gauss(1.0, 0.15)
            out.append(
                LogEntry(
                    "waste",
                    _local(day, hour) + timedelta(minutes=rng.randint(0, 20)),
                    {"kind": kind, "meal": "", "weight_kg": _kg(kg)},
                )
            )
        out.append(LogEntry("waste_day", _local(day, time(20, 30)), {}))
    out.sort(key=lambda e: e.at)
    return out


def _kg(value: float) -> Decimal:
    return Decimal(str(round(max(value, 0.1), 2)))


# --- the history in bulk ----------------------------------------------------------------


class Table:
    """Rows of one model with ids given here, inserted at once by ``RowWriter`` (the
    work-order demo's: COPY on PostgreSQL, ``executemany`` on SQLite)."""

    def __init__(self, model: type, writer: Any) -> None:
        from django.db import models as m

        self.model = model
        self.writer = writer
        fields = list(model._meta.concrete_fields)
        self.names = [f.attname for f in fields]
        self.defaults = {f.attname: f.get_default() for f in fields}
        convert: list[Callable[[Any], Any] | None] = []
        for f in fields:
            if isinstance(f, m.DateTimeField):
                convert.append(writer.dt)
            elif isinstance(f, m.JSONField):
                convert.append(writer.json)
            else:
                convert.append(None)
        self.convert = convert
        self.rows: list[dict[str, Any]] = []
        self.next_id = (model._default_manager.aggregate(m=Max("id"))["m"] or 0) + 1

    def add(self, **values: Any) -> int:
        pk = self.next_id
        self.next_id += 1
        values["id"] = pk
        self.rows.append(values)
        return pk

    def flush(self) -> int:
        rows = []
        for values in self.rows:
            row = []
            for name, conv in zip(self.names, self.convert, strict=True):
                v = values[name] if name in values else self.defaults[name]
                row.append(conv(v) if conv is not None and v is not None else v)
            rows.append(tuple(row))
        n = self.writer.insert(self.model, self.names, rows)
        self.rows = []
        return n


class Judge:
    """The standard's verdicts on the history's logs, as the services' ``enforce_record``
    stores them: one ``Judgment`` per record rule and log."""

    def __init__(self, table: Table, at: datetime) -> None:
        self.table = table
        self.at = at
        self.rules: dict[tuple[int, str], list[Any]] = {}

    def __call__(self, site: Site, record_type: str, record: dict[str, Any], log_model: type,
                 pk: int, at: datetime) -> bool:  # fmt: skip
        from dayuan.standards import engine
        from dayuan.standards.rules import RecordParams

        key = (site.canteen.org_id, record_type)
        if key not in self.rules:
            rules = engine.record_rules(site.canteen.org, record_type, self.at)
            self.rules[key] = [
                engine.prepared(r) for r in rules if isinstance(r.params, RecordParams)
            ]
        canteen = site.canteen
        passed = True
        for j in engine.judge_prepared(self.rules[key], record):
            passed = passed and j.outcome != "fail"
            self.table.add(
                rule_id=j.rule.rule_id,
                clause_id=j.rule.clause_id,
                org_id=canteen.org_id,
                location_id=canteen.kitchen_id or canteen.location_id,
                vendor_id=canteen.operator_id,
                subject_type=log_model._meta.label_lower,
                subject_id=str(pk),
                at=at,
                outcome=str(j.outcome),
                value=None,
            )
        return passed


def _reservation_row(plan: MealPlan, res: PlannedRes, number: str, code: str) -> dict[str, Any]:
    """What every reservation row holds, as ``reservations.reserve`` writes it."""
    canteen = plan.site.canteen
    amount = (plan.price if res.kind == ReservationKind.EAT_IN else Decimal(0)) + sum(
        (item.dish.price * q for item, q in res.lines), Decimal(0)
    )
    return {
        "created_at": res.created,
        "org_id": canteen.org_id,
        "canteen_id": canteen.pk,
        "menu_id": plan.menu_id,
        "person_id": res.diner.user.pk,
        "person_org_id": res.diner.org_id,
        "number": number,
        "kind": res.kind,
        "pickup_at": res.pickup_at,
        "pickup_code": code,
        "amount": amount,
        "client_key": None,
    }


def _rating_row(
    canteen: Canteen,
    plan: MealPlan,
    item: Any,
    item_id: int,
    res: PlannedRes,
    stars: int,
    comment: str,
    at: datetime,
) -> dict[str, Any]:
    """A diner's rating of a dish of the meal, as a row (the history's and the last
    day's alike)."""
    return {
        "created_at": at,
        "updated_at": at,
        "org_id": canteen.org_id,
        "canteen_id": canteen.pk,
        "menu_item_id": item_id,
        "dish_id": item.dish.pk,
        "day": plan.day,
        "person_id": res.diner.user.pk,
        "stars": stars,
        "comment": comment,
    }


def _last_number(kind: str, day: date) -> int:
    """The day's last ``<kind>-YYYYMMDD-NNNNN`` number in use (0 when none)."""
    prefix = f"{kind}-{day:%Y%m%d}-"
    last = (
        Reservation.objects.filter(number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return int(last[len(prefix) :]) if last else 0


def _iso(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).isoformat()


def _name(user: Any) -> str:
    return (getattr(user, "display_name", "") or getattr(user, "username", "")).strip()


class HistoryWriter:
    """Writes planned meals and kitchen logs as the services would have left them."""

    def __init__(self, now: datetime, start: datetime, rng: random.Random) -> None:
        from dayuan.standards.models import Judgment
        from dayuan.workorders.demo import RowWriter

        self.now = now
        self.rng = rng
        self.writer = RowWriter()
        models = (
            Menu, MenuItem, Reservation, ReservationLine, VoucherBatch, Voucher, DishRating,
            FoodSample, TemperatureLog, Disinfection, ReceivingCheck, HealthCheck, WasteLog,
            WasteDay, Judgment,
        )  # fmt: skip
        self.t = {model: Table(model, self.writer) for model in models}
        self.judge = Judge(self.t[Judgment], start)
        self.numbers: dict[tuple[str, date], int] = {}
        self.counts: dict[str, int] = {}

    def number(self, kind: str, at: datetime) -> str:
        day = at.astimezone(SHANGHAI).date()
        n = self.numbers.get((kind, day), 0) + 1
        self.numbers[(kind, day)] = n
        return f"{kind}-{day:%Y%m%d}-{n:05d}"

    def meal(self, plan: MealPlan) -> None:
        rng = self.rng
        site, canteen = plan.site, plan.site.canteen
        t = self.t
        cook = site.cook(rng)
        menu_id = plan.menu_id = t[Menu].next_id
        item_ids: dict[int, int] = {}
        for position, item in enumerate(plan.items):
            item_ids[id(item)] = t[MenuItem].add(
                menu_id=menu_id,
                dish_id=item.dish.pk,
                price=item.dish.price,
                portions=item.portions,
                sold=item.sold,
                per_person_max=item.per_person_max,
                takeaway=item.takeaway,
                position=position,
            )
        codes = rng.sample(range(100_000, 1_000_000), len(plan.reservations))
        holding = 0
        for res, code in zip(plan.reservations, codes, strict=True):
            status = {
                "served": ReservationStatus.SERVED,
                "no_show": ReservationStatus.NO_SHOW,
                "cancelled": ReservationStatus.CANCELLED,
            }[res.fate]
            holding += status in HOLDING
            done = res.at if res.fate != "no_show" else plan.closed
            res_id = t[Reservation].add(
                **_reservation_row(plan, res, self.number("BC", res.created), str(code)),
                updated_at=done or res.created,
                status=status,
                served_at=res.at if res.fate == "served" else None,
                served_by_id=cook.pk if res.fate == "served" else None,
                cancelled_at=res.at if res.fate == "cancelled" else None,
            )
            for item, q in res.lines:
                t[ReservationLine].add(
                    reservation_id=res_id,
                    menu_item_id=item_ids[id(item)],
                    quantity=q,
                    price=item.dish.price,
                )
            for item, stars, comment, at in res.ratings:
                if at >= self.now:
                    continue
                t[DishRating].add(
                    **_rating_row(canteen, plan, item, item_ids[id(item)], res, stars, comment, at)
                )
        vouchers = 0
        for batch in plan.batches:
            batch_id = t[VoucherBatch].add(
                created_at=batch.created,
                updated_at=batch.void_at or batch.created,
                org_id=canteen.org_id,
                canteen_id=canteen.pk,
                menu_id=menu_id,
                issuer_id=batch.issuer.pk,
                unit_id=batch.issuer.home_org_id,
                purpose=batch.purpose,
                guest=batch.guest,
                count=batch.count,
                booking_id=None,
                number=self.number("CQ", batch.created),
                client_key=None,
            )
            codes = rng.sample(range(10_000_000, 100_000_000), batch.count)
            for at, code in zip(batch.redeemed, codes, strict=True):
                status = (
                    VoucherStatus.VOID
                    if batch.void_at
                    else VoucherStatus.REDEEMED
                    if at
                    else VoucherStatus.ISSUED
                )
                vouchers += status != VoucherStatus.VOID
                t[Voucher].add(
                    batch_id=batch_id,
                    menu_id=menu_id,
                    code=str(code),
                    status=status,
                    redeemed_at=at,
                    redeemed_by_id=cook.pk if at else None,
                )
        checked = plan.end + timedelta(hours=2, minutes=rng.randint(1, 29))
        if plan.missing_sample is not None:
            checked = None  # the missing-sample job finds it
        t[Menu].add(
            created_at=plan.published - timedelta(hours=1),
            updated_at=plan.closed,
            version=3,
            org_id=canteen.org_id,
            canteen_id=canteen.pk,
            day=plan.day,
            meal=plan.meal,
            status=MenuStatus.CLOSED,
            serve_start=plan.start,
            serve_end=plan.end,
            reserve_until=plan.reserve_until,
            cancel_until=plan.cancel_until,
            eat_in_price=plan.price,
            capacity=None,
            reserved_count=holding + vouchers,
            walk_ins=plan.walk_ins,
            diners=plan.diners,
            note="",
            published_at=plan.published,
            published_by_id=site.manager.pk,
            closed_at=plan.closed,
            samples_checked_at=checked,
        )
        plan.menu_id = menu_id
        self.samples(plan, item_ids, cook)

    def samples(self, plan: MealPlan, item_ids: dict[int, int], cook: Any) -> None:
        """A sample of every dish (but the one missing), weighed over the county's
        minimum, kept 48 hours and then cleared."""
        rng = self.rng
        site = plan.site
        minimum = 150 if site.key != "city" else 125
        fridge = site.sample_fridge
        sampled = plan.start - timedelta(minutes=rng.randint(15, 40))
        for item in plan.items:
            if item is plan.missing_sample:
                continue
            weight = Decimal(str(round(rng.uniform(minimum + 3, minimum + 70), 1)))
            keep = sampled + timedelta(hours=48)
            removed = keep + timedelta(minutes=rng.randint(10, 240))
            removed = removed if removed < self.now else None
            pk = self.t[FoodSample].add(
                created_at=sampled,
                updated_at=removed or sampled,
                org_id=site.canteen.org_id,
                canteen_id=site.canteen.pk,
                recorded_at=sampled,
                recorded_by_id=cook.pk,
                passed=True,
                finding_id=None,
                menu_id=plan.menu_id,
                menu_item_id=item_ids[id(item)],
                dish_id=item.dish.pk,
                weight_g=weight,
                keep_until=keep,
                fridge_id=fridge.pk,
                sealed=True,
                removed_at=removed,
                removed_by_id=cook.pk if removed else None,
                reminded_at=None,
            )
            record = {
                "dish": item.dish.name,
                "sampled_at": _iso(sampled),
                "sampled_by": _name(cook),
                "sealed": True,
                "weight_g": float(weight),
                "retention_hours": 48,
            }
            self.judge(site, RecordType.FOOD_SAMPLE, record, FoodSample, pk, sampled)

    def log(self, site: Site, entry: LogEntry, day: date) -> None:
        """One entry of the kitchen's logs, with its judgments."""
        rng = self.rng
        canteen = site.canteen
        cook = site.cook(rng)
        v = entry.values
        at = entry.at
        common = {
            "created_at": at,
            "updated_at": at,
            "org_id": canteen.org_id,
            "canteen_id": canteen.pk,
            "recorded_at": at,
            "recorded_by_id": cook.pk,
            "passed": True,
            "finding_id": None,
        }
        if entry.kind == "temperature":
            unit = v["unit"]
            pk = self.t[TemperatureLog].add(**common, unit_id=unit.pk, temp_c=v["temp_c"])
            if unit.kind == ColdUnitKind.SAMPLE:
                rtype, record = RecordType.SAMPLE_FRIDGE, {"temp_c": float(v["temp_c"])}
            else:
                rtype = RecordType.STORAGE
                record = {"storage": str(unit.kind), "temp_c": float(v["temp_c"])}
            self.judge(site, rtype, record, TemperatureLog, pk, at)
        elif entry.kind == "disinfection":
            fields = {k: v.get(k) for k in ("temp_c", "minutes", "rinse_temp_c", "rinse_seconds",
                                            "chlorine_mg_l", "fully_immersed")}  # fmt: skip
            pk = self.t[Disinfection].add(**common, method=v["method"], items=v["items"], **fields)
            record = {"method": str(v["method"])}
            for k, value in fields.items():
                if value is not None:
                    record[k] = float(value) if isinstance(value, Decimal) else value
            self.judge(site, RecordType.DISINFECTION, record, Disinfection, pk, at)
        elif entry.kind == "receiving":
            pk = self.t[ReceivingCheck].add(**common, **v)
            record = {
                "supplier": v["supplier"],
                "item": v["item"],
                "quantity": float(v["quantity"]),
                "batch_no": v["batch_no"],
                "certificate_no": v["certificate_no"],
                "accepted": v["accepted"],
                "production_date": v["production_date"].isoformat(),
                "in_date": v["best_before"] >= day,
            }
            self.judge(site, RecordType.RECEIVING, record, ReceivingCheck, pk, at)
        elif entry.kind == "health":
            h = v["handler"]
            pk = self.t[HealthCheck].add(
                **{**common, "passed": v["healthy"]},
                handler_id=h.pk,
                day=day,
                healthy=v["healthy"],
                symptoms=v["symptoms"],
            )
            record = {
                "handles_ready_to_eat": h.handles_ready_to_eat,
                "certificate_expires_at": _iso(_local(h.expires_on + timedelta(days=1), time(0))),
                "checked_at": _iso(at),
            }
            self.judge(site, RecordType.STAFF_ON_DUTY, record, HealthCheck, pk, at)
        elif entry.kind == "waste":
            pk = self.t[WasteLog].add(
                **common, day=day, meal=v["meal"], kind=v["kind"], weight_kg=v["weight_kg"]
            )
            record = {
                "weight_kg": float(v["weight_kg"]),
                "registered_by": _name(cook),
                "kind": str(v["kind"]),
                "meal": str(v["meal"]),
                "day": day.isoformat(),
            }
            self.judge(site, RecordType.WASTE_LEDGER, record, WasteLog, pk, at)
        elif entry.kind == "waste_day":
            self.waste_day(site, day, v["plans"], v["logs"], common)

    def waste_day(self, site: Site, day: date, plans: list[MealPlan], logs: list[LogEntry],
                  common: dict[str, Any]) -> None:  # fmt: skip
        sums = {k: Decimal(0) for k in WasteKind.values}
        for e in logs:
            if e.kind == "waste":
                sums[str(e.values["kind"])] += e.values["weight_kg"]
        diners = sum(p.diners for p in plans)
        if diners <= 0:
            return
        tray = sums[WasteKind.TRAY]
        per_diner = (tray * 1000 / diners).quantize(Decimal("0.1"))
        waste = sums[WasteKind.KITCHEN] + sums[WasteKind.UNSOLD] + tray
        pk = self.t[WasteDay].add(
            **common,
            day=day,
            diners=diners,
            kitchen_waste_kg=sums[WasteKind.KITCHEN],
            unsold_discarded_kg=sums[WasteKind.UNSOLD],
            tray_waste_kg=tray,
            trimmings_reused_kg=sums[WasteKind.TRIMMINGS],
            tray_waste_per_diner_g=per_diner,
        )
        record = {
            "day": day.isoformat(),
            "diners": diners,
            "kitchen_waste_kg": float(sums[WasteKind.KITCHEN]),
            "unsold_discarded_kg": float(sums[WasteKind.UNSOLD]),
            "tray_waste_kg": float(tray),
            "tray_waste_rate": float(per_diner),
            "trimmings_reused_kg": float(sums[WasteKind.TRIMMINGS]),
            "waste_per_diner_g": round(float(waste) * 1000 / diners, 1),
        }
        self.judge(site, RecordType.WASTE_DAILY, record, WasteDay, pk, common["recorded_at"])

    def flush(self) -> dict[str, int]:
        counts = {}
        for model, table in self.t.items():
            counts[model._meta.model_name] = table.flush()
        self.writer.reset_sequences(*self.t)
        return counts


# --- the last days, through the services ------------------------------------------------------


def _stamp(model: type, pk: int, at: datetime) -> None:
    """The row as created at ``at`` (the services stamp the load's own clock)."""
    model._default_manager.filter(pk=pk).update(created_at=at, updated_at=at)


class Live:
    """Yesterday, today (up to ``now``) and tomorrow's reservations, each action a
    service call at its own moment (a ``Timeline``: nothing at or after ``now`` runs)."""

    def __init__(self, now: datetime, rng: random.Random, counts: dict[str, Any]) -> None:
        from dayuan.inspections.demo import Timeline

        self.now = now
        self.rng = rng
        self.timeline = Timeline(now)
        self.counts = counts
        self.refusals: list[str] = []

    def bump(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def attempt(self, what: str, fn: Callable[[], Any]) -> Any:
        """One service call; a refusal is counted and logged, never fatal (the demo loads
        at any moment of any day)."""
        try:
            return fn()
        except DomainError as exc:
            self.bump("refused")
            if len(self.refusals) < 20:
                self.refusals.append(f"{what}: {exc.code} {exc.message}")
            logger.warning("canteen demo: %s refused: %s %s", what, exc.code, exc.message)
            return None

    def at(self, t: datetime, action: Callable[[datetime], None]) -> None:
        self.timeline.at(t, action)

    # menus and reservations ------------------------------------------------------------

    def meal(self, plan: MealPlan) -> None:
        self.at(plan.published, lambda t: self.publish(plan, t))

    def publish(self, plan: MealPlan, t: datetime) -> None:
        from . import services

        site = plan.site
        items = [
            {"dish_id": i.dish.pk, "portions": i.portions, "per_person_max": i.per_person_max}
            for i in plan.items
        ]
        menu = self.attempt(
            f"save_menu {plan.day} {plan.meal}",
            lambda: services.save_menu(
                actor=site.manager,
                canteen_id=site.canteen.pk,
                day=plan.day,
                meal=plan.meal,
                items=items,
                now=t,
            ),
        )
        if menu is None:
            return
        menu = self.attempt(
            "publish_menu",
            lambda: services.publish_menu(actor=site.manager, menu_id=menu.pk, now=t),
        )
        if menu is None:
            return
        Menu.objects.filter(pk=menu.pk).update(created_at=t - timedelta(hours=1), updated_at=t)
        self.bump("menus")
        plan.menu_id = menu.pk
        ids = dict(MenuItem.objects.filter(menu=menu).values_list("dish_id", "id"))
        by_item = {id(i): ids[i.dish.pk] for i in plan.items}
        crowd = [r for r in plan.reservations if not r.diner.login and r.created < self.now]
        self.crowd(plan, crowd, by_item)
        for res in plan.reservations:
            if res.diner.login:  # the demo logins' own reservations: every step a service call
                self.at(res.created, lambda t, r=res: self.reserve(plan, r, by_item, t))
        served_by = min(plan.closed or self.now, self.now) - timedelta(microseconds=1)
        if crowd and served_by > plan.start:
            self.at(served_by, lambda t: self.serve_crowd(plan, crowd, by_item, t))
        for batch in plan.batches:
            self.at(batch.created, lambda t, b=batch: self.issue(plan, b, t))
        for item in plan.items:
            if item is plan.missing_sample:
                continue
            item_id = by_item[id(item)]
            self.at(
                plan.start - timedelta(minutes=self.rng.randint(15, 40)),
                lambda t, i=item_id: self.sample(plan, i, t),
            )
        if plan.closed is not None:
            self.at(plan.closed, lambda t: self.close(plan, t))

    def crowd(self, plan: MealPlan, crowd: list[PlannedRes], by_item: dict[int, int]) -> None:
        """Everybody else's reservations of a meal lived through the services, written
        at once when its menu is published, with the counters the service keeps: the
        portions of their dishes and the places they hold (the plan never oversells)."""
        from django.db.models import F

        from dayuan.workorders.demo import RowWriter

        if not crowd:
            return
        writer = RowWriter()
        rows, lines = Table(Reservation, writer), Table(ReservationLine, writer)
        numbers: dict[date, int] = {}
        codes = self.rng.sample(range(100_000, 1_000_000), len(crowd))
        sold: dict[int, int] = {}
        holding = 0
        for res, code in zip(crowd, codes, strict=True):
            day = res.created.astimezone(SHANGHAI).date()
            if day not in numbers:
                numbers[day] = _last_number("BC", day)
            numbers[day] += 1
            cancelled = res.fate == "cancelled" and res.at is not None and res.at < self.now
            res.pk = rows.add(
                **_reservation_row(plan, res, f"BC-{day:%Y%m%d}-{numbers[day]:05d}", str(code)),
                status=ReservationStatus.CANCELLED if cancelled else ReservationStatus.RESERVED,
                cancelled_at=res.at if cancelled else None,
                updated_at=res.at if cancelled else res.created,
            )
            for item, q in res.lines:
                lines.add(
                    reservation_id=res.pk,
                    menu_item_id=by_item[id(item)],
                    quantity=q,
                    price=item.dish.price,
                )
                if not cancelled:
                    sold[by_item[id(item)]] = sold.get(by_item[id(item)], 0) + q
            holding += not cancelled
        rows.flush()
        lines.flush()
        writer.reset_sequences(Reservation, ReservationLine)
        for item_id, q in sorted(sold.items()):
            MenuItem.objects.filter(pk=item_id).update(sold=F("sold") + q)
        Menu.objects.filter(pk=plan.menu_id).update(reserved_count=F("reserved_count") + holding)
        self.bump("reservations", len(crowd))

    def serve_crowd(
        self, plan: MealPlan, crowd: list[PlannedRes], by_item: dict[int, int], t: datetime
    ) -> None:
        """The counter's hand-overs of the crowd's meals up to ``t`` (the logins' go
        through the service one by one), and the stars they gave since."""
        from dayuan.workorders.demo import RowWriter

        served = [
            Reservation(
                pk=r.pk,
                status=ReservationStatus.SERVED,
                served_at=r.at,
                served_by_id=plan.site.cook(self.rng).pk,
                updated_at=r.at,
            )
            for r in crowd
            if r.fate == "served" and r.at is not None and r.at < t
        ]
        Reservation.objects.bulk_update(
            served, ["status", "served_at", "served_by", "updated_at"], batch_size=200
        )
        self.bump("handed_over", len(served))
        ratings = Table(DishRating, RowWriter())
        canteen = plan.site.canteen
        for r in crowd:
            if r.fate != "served" or r.at is None or r.at >= t:
                continue
            for item, stars, comment, at in r.ratings:
                if at < self.now:
                    ratings.add(
                        **_rating_row(canteen, plan, item, by_item[id(item)], r, stars, comment, at)
                    )
        self.bump("ratings", ratings.flush())
        ratings.writer.reset_sequences(DishRating)

    def reserve(self, plan: MealPlan, res: PlannedRes, by_item: dict[int, int], t: datetime):
        from . import reservations

        user = res.diner.user
        r = self.attempt(
            f"reserve {plan.day} {plan.meal} {user.username}",
            lambda: reservations.reserve(
                actor=user,
                menu_id=plan.menu_id,
                kind=res.kind,
                items=[{"menu_item_id": by_item[id(i)], "quantity": q} for i, q in res.lines],
                pickup_at=res.pickup_at,
                now=t,
            ),
        )
        if r is None:
            return
        _stamp(Reservation, r.pk, t)
        self.bump("reservations")
        if res.fate == "cancelled" and res.at:
            self.at(res.at, lambda t: self.cancel(r.pk, user, t))
        elif res.fate == "served" and res.at:
            qr = self.rng.random() < 0.7  # most scan the QR code, some read out the digits
            code = f"DYC:{plan.menu_id}:{r.pickup_code}" if qr else r.pickup_code
            self.at(res.at, lambda t: self.hand_over(plan, code, t))
            for item, stars, comment, at in res.ratings:
                mi = by_item[id(item)]
                self.at(at, lambda t, mi=mi, s=stars, c=comment: self.rate(user, mi, s, c, t))

    def cancel(self, reservation_id: int, user: Any, t: datetime) -> None:
        from . import reservations

        if self.attempt(
            "cancel_reservation",
            lambda: reservations.cancel_reservation(
                actor=user, reservation_id=reservation_id, now=t
            ),
        ):
            self.bump("cancelled")

    def hand_over(self, plan: MealPlan, code: str, t: datetime) -> None:
        from . import reservations

        cook = plan.site.cook(self.rng)
        if self.attempt(
            "hand_over",
            lambda: reservations.hand_over(
                actor=cook, canteen_id=plan.site.canteen.pk, code=code, now=t
            ),
        ):
            self.bump("handed_over")

    def rate(self, user: Any, menu_item_id: int, stars: int, comment: str, t: datetime) -> None:
        from . import services

        rating = self.attempt(
            "rate_dish",
            lambda: services.rate_dish(
                actor=user, menu_item_id=menu_item_id, stars=stars, comment=comment, now=t
            ),
        )
        if rating is not None:
            _stamp(DishRating, rating.pk, t)
            self.bump("ratings")

    def issue(self, plan: MealPlan, batch: PlannedBatch, t: datetime) -> None:
        from . import reservations

        made = self.attempt(
            "issue_vouchers",
            lambda: reservations.issue_vouchers(
                actor=batch.issuer,
                menu_id=plan.menu_id,
                count=batch.count,
                purpose=batch.purpose,
                guest=batch.guest,
                booking_id=batch.booking_id,
                now=t,
            ),
        )
        if made is None:
            return
        _stamp(VoucherBatch, made.pk, t)
        self.bump("voucher_batches")
        if batch.void_at is not None:
            self.at(batch.void_at, lambda t: self.void(made.pk, batch.issuer, t))
            return
        codes = list(made.vouchers.order_by("id").values_list("code", flat=True))
        for code, used in zip(codes, batch.redeemed, strict=False):
            if used is not None:
                self.at(used, lambda t, c=code: self.hand_over(plan, c, t))

    def void(self, batch_id: int, issuer: Any, t: datetime) -> None:
        from . import reservations

        self.attempt(
            "void_vouchers",
            lambda: reservations.void_vouchers(actor=issuer, batch_id=batch_id, now=t),
        )

    def close(self, plan: MealPlan, t: datetime) -> None:
        from . import reservations

        cook = plan.site.cook(self.rng)
        if self.attempt(
            "close_meal",
            lambda: reservations.close_meal(
                actor=cook, menu_id=plan.menu_id, walk_ins=plan.walk_ins, now=t
            ),
        ):
            self.bump("closed")

    # the kitchen's logs --------------------------------------------------------------------

    def sample(self, plan: MealPlan, menu_item_id: int, t: datetime) -> None:
        from . import safety

        site = plan.site
        minimum = 150 if site.key != "city" else 125
        weight = Decimal(str(round(self.rng.uniform(minimum + 3, minimum + 70), 1)))
        cook = site.cook(self.rng)
        sample = self.attempt(
            "record_sample",
            lambda: safety.record_sample(
                actor=cook,
                menu_item_id=menu_item_id,
                weight_g=weight,
                fridge_id=site.sample_fridge.pk,
                sampled_at=t,
                now=t,
            ),
        )
        if sample is None:
            return
        self.bump("samples")
        done = sample.keep_until + timedelta(minutes=self.rng.randint(10, 240))
        self.at(done, lambda t: self.remove(sample.pk, cook, t))

    def remove(self, sample_id: int, cook: Any, t: datetime) -> None:
        from . import safety

        self.attempt(
            "remove_sample",
            lambda: safety.remove_sample(actor=cook, sample_id=sample_id, now=t),
        )

    def log(self, site: Site, entry: LogEntry, day: date) -> None:
        self.at(entry.at, lambda t: self._log(site, entry, day, t))

    def _log(self, site: Site, entry: LogEntry, day: date, t: datetime) -> None:
        from . import safety, waste

        cook = site.cook(self.rng)
        v = entry.values
        cid = site.canteen.pk
        calls: dict[str, Callable[[], Any]] = {
            "temperature": lambda: safety.record_temperature(
                actor=cook, unit_id=v["unit"].pk, temp_c=v["temp_c"], now=t
            ),
            "disinfection": lambda: safety.record_disinfection(
                actor=cook,
                canteen_id=cid,
                **{k: val for k, val in v.items() if val is not None},
                now=t,
            ),
            "receiving": lambda: safety.record_receiving(
                actor=cook,
                canteen_id=cid,
                data={
                    **v,
                    "production_date": v["production_date"].isoformat(),
                    "best_before": v["best_before"].isoformat(),
                },
                now=t,
            ),
            "health": lambda: safety.record_health_check(
                actor=cook,
                handler_id=v["handler"].pk,
                healthy=v["healthy"],
                symptoms=v["symptoms"],
                now=t,
            ),
            "waste": lambda: waste.record_waste(
                actor=cook,
                canteen_id=cid,
                day=day,
                kind=v["kind"],
                weight_kg=v["weight_kg"],
                meal=v["meal"],
                now=t,
            ),
            "waste_day": lambda: waste.evaluate_waste_day(
                actor=cook, canteen_id=cid, day=day, now=t
            ),
        }
        if self.attempt(f"{entry.kind} {site.key}", calls[entry.kind]) is not None:
            self.bump(f"log_{entry.kind}")

    # the periodic jobs -----------------------------------------------------------------------

    def jobs(self, t: datetime) -> None:
        from . import reservations, safety

        self.bump("closed_by_job", reservations.close_finished(now=t))
        self.bump("missing_samples", safety.run_detect_missing_samples(now=t))
        self.bump("sample_reminders", safety.run_remind_sample_removal(now=t))

    def plan_checks(self, sites: list[Site], start: date, end: date) -> None:
        """The day's opening and closing checks of each kitchen from the plans, then
        done by the kitchen before work and after the last meal."""
        from dayuan.inspections import plans

        def generate(t: datetime) -> None:
            for site in sites:
                plans.generate_occurrences(
                    org=site.centre, start=_local(start, time(0)), end=_local(end, time(0))
                )

        self.at(_local(start, time(0, 5)), generate)
        day = start
        while day < end:
            for site in sites:
                for hour, minute, first in ((6, 45, True), (20, 50, False)):
                    self.at(
                        _local(day, time(hour, minute)) + timedelta(minutes=self.rng.randint(0, 9)),
                        lambda t, s=site, d=day, f=first: self.check(s, d, f, t),
                    )
            day += timedelta(days=1)

    def check(self, site: Site, day: date, opening: bool, t: datetime) -> None:
        from dayuan.inspections import services as inspections
        from dayuan.inspections.choices import InspectionKind, OccurrenceStatus

        from . import safety

        found = [
            o
            for o in safety.daily_checks(site.canteen, day)
            if o.status == OccurrenceStatus.PENDING
            and (o.activity.endswith("opening_check") == opening)
        ]
        if not found:
            return
        occ = found[0]
        cook = site.cooks[0]

        def run() -> Any:
            insp = inspections.start_inspection(
                actor=cook,
                kind=InspectionKind.SELF,
                checklist_code=occ.assignment.checklist_code if occ.assignment else "",
                location_id=occ.location_id,
                vendor_id=site.canteen.operator_id,
                occurrence_id=occ.pk,
                client_key=f"demo-kitchen-{occ.pk}",
                now=t,
            )
            items = inspections.checklist_of(insp).items
            return inspections.submit_inspection(
                actor=cook,
                inspection_id=insp.pk,
                version=insp.version,
                answers={item.key: "pass" for item in items},
                summary="检查未发现问题。",
                now=t + timedelta(minutes=self.rng.randint(8, 15)),
            )

        if self.attempt("kitchen check", run) is not None:
            self.bump("kitchen_checks")

    def certificates(self, t: datetime) -> None:
        from . import safety

        self.bump("certificate_alerts", safety.run_alert_expiring_certificates(now=t))


def check_plans(site: Site, vendor: Organization | None) -> None:
    """Who does the kitchen's daily opening and closing checks (JG-ST C13): the catering
    company's crew (a team of the cooks) or the county's own cook."""
    from dayuan.workorders.models import Team, TeamMember

    from . import safety

    if site.canteen.kitchen_id is None:
        return
    team_id = inspector_id = None
    if vendor is not None and site.canteen.operator_id == vendor.pk:
        team, _created = Team.objects.get_or_create(
            org=site.centre, name=f"{vendor.name}·食堂班组", defaults={"vendor": vendor}
        )
        for cook in site.cooks:
            TeamMember.objects.get_or_create(team=team, user=cook, defaults={"skills": []})
        team_id = team.pk
    else:
        inspector_id = site.cooks[0].pk
    safety.ensure_check_plans(
        actor=site.manager,
        canteen_id=site.canteen.pk,
        inspector_id=inspector_id,
        team_id=team_id,
    )


def _meeting(site: Site, day: date, issuer: Any) -> Any:
    """Tomorrow's meeting at the centre the service desk issues vouchers for."""
    from dayuan.bookings.models import Booking
    from dayuan.bookings.services import booking_visible

    found = (
        Booking.objects.filter(
            org=site.centre,
            active=True,
            start_at__gte=_local(day, time(8)),
            start_at__lt=_local(day, time(12)),
            attendees__gte=8,
        )
        .order_by("-attendees", "start_at")
        .select_related("org", "organizer_unit")
    )
    return next((b for b in found[:20] if booking_visible(issuer, b)), None)


# --- the entry point --------------------------------------------------------------------------


@transaction.atomic
def load_demo(
    admin: Any,
    city: Organization,
    counties: Sequence[Organization],
    *,
    days: int = 90,
    seed: int = 2026,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The canteen part of the demo; returns row counts. Runs after the bookings demo
    (tomorrow's meeting gets vouchers). A second run adds nothing."""
    from dayuan.workorders.demo import frozen_day_table

    from . import safety

    now = now or timezone.now()
    rng = random.Random(seed)
    counts: dict[str, Any] = {}
    today = _today(now)
    days = max(days, LIVE_DAYS + 1)
    first = today - timedelta(days=days)
    with frozen_day_table():
        counts["standards"] = install_standard(admin, city)
        rules_in_force_since(_published(first) - timedelta(days=1))
        if Canteen.objects.exists():
            return counts  # loaded before: keep that history
        vendor = Organization.objects.filter(code=VENDOR_CODE, kind=OrgKind.VENDOR).first()
        scale = min(1.0, days / FULL_DAYS)
        sites = [build_site(admin, "city", city, vendor, now, rng, scale=scale, serial=0)]
        if counties:
            sites.append(
                build_site(admin, "county", counties[0], None, now, rng, scale=scale, serial=1)
            )
        for site in sites:
            check_plans(site, vendor)
        counts["canteens"] = len(sites)
        counts["dishes"] = sum(len(s.dishes) for s in sites)
        counts["handlers"] = sum(len(s.handlers) for s in sites)
        counts["diners"] = sum(len(s.diners) for s in sites)

        planner = Planner(now, rng)
        live = Live(now, rng, counts)
        writer = HistoryWriter(now, _published(first), rng)
        # a short history (the tests') lives only today through the services
        live_from = today - timedelta(days=LIVE_DAYS if scale >= 1 else 0)
        bulk: list[tuple[Site, date, list[MealPlan], bool]] = []
        day = first
        while day <= today + timedelta(days=1):
            workday = planner.is_workday(day)
            for site in sites:
                plans = [
                    planner.plan(site, day, meal, logins=day > today)
                    for meal in planner.meals(site, day)
                ]
                if day < live_from:
                    bulk.append((site, day, plans, workday))
                    continue
                for plan in plans:
                    if day > today:
                        plan.closed = None
                    live.meal(plan)
                if day <= today:
                    frac = (day - first).days / days
                    for entry in day_logs(site, day, plans, rng, frac, workday):
                        if entry.kind == "waste_day":
                            entry.values = {}
                        live.log(site, entry, day)
            day += timedelta(days=1)

        # the history: a few meals missing a sample, found by the job; then in bulk
        served = [p for _s, _d, plans, _w in bulk for p in plans if p.diners > 0]
        picks = {len(served) // 2} | {i for i in range(len(served)) if rng.random() < 1 / 70}
        for i in sorted(picks):
            if i < len(served):
                plan = served[i]
                plan.missing_sample = rng.choice([it for it in plan.items if not it.takeaway])
        for site, day, plans, workday in bulk:
            for plan in plans:
                writer.meal(plan)
            frac = (day - first).days / days
            logs = day_logs(site, day, plans, rng, frac, workday)
            for entry in logs:
                if entry.kind == "waste_day":
                    entry.values = {"plans": plans, "logs": logs}
                writer.log(site, entry, day)
        counts.update(writer.flush())
        for plan in served:
            if plan.missing_sample is not None and plan.menu_id is not None:
                at = plan.end + timedelta(hours=2, minutes=rng.randint(1, 29))
                live.at(at, lambda t, m=plan.menu_id: safety._check_menu_samples(m, t))
        script_failures(live, sites, first, live_from, rng)

        # the jobs as they ran over the live days; tomorrow's meeting gets its vouchers
        d = live_from
        while d <= today:
            for hour, minute in ((9, 40), (14, 5), (20, 40)):
                live.at(_local(d, time(hour, minute)), live.jobs)
            live.at(_local(d, time(9, 10)), live.certificates)
            d += timedelta(days=1)
        live.plan_checks(sites, live_from, today + timedelta(days=2))
        meeting_vouchers(live, sites[0], today + timedelta(days=1))
        live.timeline.run()
    counts.update(live.counts)
    if live.refusals:
        counts["refusals"] = live.refusals
    return counts


def script_failures(
    live: Live, sites: list[Site], first: date, last: date, rng: random.Random
) -> None:
    """A few readings out of range over the history, through the service: each is kept,
    failed, with a finding and the kitchen told (JG-ST C2, C6)."""
    from . import safety

    span = max((last - first).days, 1)
    cases = (
        ("city", ColdUnitKind.CHILLED, 0.55, "9.6"),
        ("county", ColdUnitKind.FROZEN, 0.3, "-8.5"),
        ("city", ColdUnitKind.SAMPLE, 0.85, "11.2"),
    )
    by_key = {s.key: s for s in sites}
    for key, kind, frac, temp in cases:
        site = by_key.get(key)
        if site is None:
            continue
        unit = next(u for u in site.units if u.kind == kind)
        day = first + timedelta(days=int(span * frac))
        t = _local(day, time(11, 5)) + timedelta(minutes=rng.randint(0, 40))
        cook = site.cooks[0]
        live.at(
            t,
            lambda t, u=unit, c=cook, v=temp: (
                live.attempt(
                    "record_temperature",
                    lambda: safety.record_temperature(
                        actor=c, unit_id=u.pk, temp_c=Decimal(v), now=t
                    ),
                )
                and live.bump("out_of_range")
            ),
        )


def meeting_vouchers(live: Live, site: Site, day: date) -> None:
    """The service desk issues vouchers for tomorrow's meeting at the city (linked to
    the booking when the bookings demo has one)."""
    issuer = _first_with(site.centre, Role.DISPATCHER) or site.manager

    def issue(t: datetime) -> None:
        from . import reservations

        menu = Menu.objects.filter(canteen=site.canteen, day=day, meal=Meal.LUNCH).first()
        if menu is None:
            return
        booking = _meeting(site, day, issuer)
        count = min(booking.attendees if booking else 20, 20, site.canteen.voucher_batch_max)
        made = live.attempt(
            "issue_vouchers (meeting)",
            lambda: reservations.issue_vouchers(
                actor=issuer,
                menu_id=menu.pk,
                count=count,
                purpose=VoucherPurpose.MEETING,
                guest=(booking.title if booking else "全市机关后勤工作会议")[:100],
                booking_id=booking.pk if booking else None,
                now=t,
            ),
        )
        if made is not None:
            _stamp(VoucherBatch, made.pk, t)
            live.bump("meeting_vouchers", made.count)

    live.at(live.now - timedelta(hours=2, minutes=live.rng.randint(0, 50)), issue)
