"""Assessment demo data: the city's vendor scheme and its county-centre scheme, a
contract with every demo vendor, deduction events, two satisfaction surveys, and a year
of monthly runs (quarterly for the counties) lived through the services.

Every row is written by the real services (``services``, ``runs``) with ``now=`` set to
the moment it happened, so each run holds the inputs, the scores with their scorers,
the events of its history and the audit entries a real year would have left (audit
entries are stamped at load time). A month's run is created and assigned on the 1st
of the next month, scored by the third-party assessor (``assessor``) and the
contract's manager on the 2nd, computed and submitted on the 3rd, published on the 4th
and final once the appeal window has passed. The runs of the last month are still
under way: most published, one appealed, one under review. Two months back one appeal
was upheld (the assessor re-scored the named item) and one dismissed.

``months`` (``DAYUAN_DEMO_ASSESSMENT_MONTHS``, default 12) is how many months of runs
the history holds, up to last month. It may reach back before the work-order and
inspection histories start: the computed indicators of such months have no data and
are left out with the score rescaled over the rest (recorded in each item's detail),
as for any month without data. Deterministic for a given ``seed`` and ``now``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from dayuan.accounts.choices import Role
from dayuan.accounts.models import User
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Location, Organization

from .choices import AppealStatus, EventType, RunStatus
from .models import Contract, Run, Scheme

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_MONTHS = 12

GRADES = [
    {"grade": "excellent", "label": "优秀", "min_score": 90},
    {"grade": "good", "label": "良好", "min_score": 80},
    {"grade": "pass", "label": "合格", "min_score": 70},
    {"grade": "fail", "label": "不合格", "min_score": 0},
]
# Full fee at 90 and above; pro rata to the score between the pass line and 90; 80 %
# of the fee below the pass line; money deductions always come off.
FORMULA = (
    "score >= 90.0 ? fee - deduction_money"
    " : (passed ? fee * score / 100.0 - deduction_money : fee * 0.8 - deduction_money)"
)
VENDOR_SCHEME = "vendor-kh"
COUNTY_SCHEME = "county-kh"

# key, label, source, weight, target, floor, better
VENDOR_COMPUTED = (
    ("insp_pass", "检查合格率", "inspection_pass_rate", 20, 100, 60, "higher"),
    ("rect_on_time", "整改按时率", "rectification_on_time_rate", 10, 100, 50, "higher"),
    ("on_time", "工单按时率", "on_time_rate", 15, 100, 70, "higher"),
    ("satisfaction", "工单满意率", "satisfaction_rate", 10, 100, 60, "higher"),
    ("survey", "问卷满意度", "survey_satisfaction", 10, 100, 50, "higher"),
)
# key, label, weight (= max score), scorer role, guidance
VENDOR_SCORED = (
    (
        "site",
        "现场服务质量（第三方评估）",
        20,
        "assessor",
        "每月随机抽查公共区域、卫生间、楼梯间、绿地不少于 12 处；每处不达标扣 1–2 分，"
        "附照片和位置。",
    ),
    (
        "cooperation",
        "配合与响应（甲方评价）",
        15,
        "manager",
        "会议保障、临时任务、突发事件的响应与配合；人员在岗与着装；台账资料。",
    ),
)
# kind, match, points, money (yuan), rectify days
VENDOR_DEDUCTIONS = (
    ("finding", "key", "2", "1000", 1),
    ("finding", "important", "0.5", "200", 3),
    ("event", "criticism", "3", "5000", 7),
    ("event", "notice", "1", "1000", 7),
    ("event", "media", "10", "20000", 3),
    ("event", "complaint", "1", "500", 3),
)
COUNTY_COMPUTED = (
    ("insp_pass", "检查合格率", "inspection_pass_rate", 25, 100, 60, "higher"),
    ("rect_closure", "整改闭环率", "rectification_closure_rate", 15, 100, 50, "higher"),
    ("rect_on_time", "整改按时率", "rectification_on_time_rate", 15, 100, 50, "higher"),
    ("on_time", "工单按时率", "on_time_rate", 20, 100, 70, "higher"),
    ("satisfaction", "工单满意率", "satisfaction_rate", 15, 100, 60, "higher"),
)
COUNTY_SCORED = (
    (
        "work",
        "重点工作完成情况（市中心评价）",
        10,
        "manager",
        "市中心部署的重点任务、信息报送、督办事项的完成质量和时效。",
    ),
)


@dataclass(frozen=True)
class VendorSpec:
    """A vendor the demo contracts with. Property vendors exist already (one per centre,
    created by ``core.demo``); the city's specialist vendors are added here."""

    code: str
    name: str  # for the vendors created here
    centre: str  # the contracting centre's code
    title: str
    categories: tuple[str, ...]
    monthly_fee: int
    area_m2: int
    headcount: int
    quality: float  # 0–1: how well the vendor does on the scored items


VENDORS: tuple[VendorSpec, ...] = (
    VendorSpec(
        "city-property",
        "",
        "city",
        "市行政中心大院物业服务合同",
        ("repair", "cleaning", "greening", "meeting_support", "moving"),
        300_000,
        86_000,
        1_200,
        0.93,
    ),
    VendorSpec(
        "dongcheng-property",
        "",
        "dongcheng",
        "东城区行政中心大院物业服务合同",
        ("repair", "cleaning", "greening", "meeting_support", "moving"),
        180_000,
        42_000,
        520,
        0.88,
    ),
    VendorSpec(
        "xihu-property",
        "",
        "xihu",
        "西湖县政府大院物业服务合同",
        ("repair", "cleaning", "greening", "meeting_support", "moving"),
        150_000,
        38_000,
        460,
        0.82,
    ),
    VendorSpec(
        "nanshan-property",
        "",
        "nanshan",
        "南山县机关大院物业服务合同",
        ("repair", "cleaning", "greening", "meeting_support", "moving"),
        120_000,
        30_000,
        380,
        0.76,
    ),
    VendorSpec(
        "city-cleaning",
        "市洁美保洁服务有限公司",
        "city",
        "会议中心及综合楼深度保洁服务合同",
        ("cleaning",),
        95_000,
        24_000,
        0,
        0.90,
    ),
    VendorSpec(
        "city-greening",
        "市绿源园林绿化工程有限公司",
        "city",
        "市行政中心大院绿化养护合同",
        ("greening",),
        80_000,
        31_000,
        0,
        0.86,
    ),
    VendorSpec(
        "city-canteen",
        "市味香餐饮管理有限公司",
        "city",
        "机关食堂餐饮服务合同",
        (),
        260_000,
        1_450,
        1_200,
        0.84,
    ),
    VendorSpec(
        "city-meeting",
        "市嘉会会务服务有限公司",
        "city",
        "会议中心会务服务合同",
        ("meeting_support",),
        110_000,
        3_200,
        0,
        0.91,
    ),
)
SITE_EVIDENCE = (
    "抽查综合楼楼梯间、公共卫生间、地下车库等 12 处，{bad} 处不达标，附现场照片。",
    "夜间暗访 10 处公共区域，{bad} 处保洁不到位（楼梯转角积尘、卫生间异味）。",
    "对照合同服务标准逐项核查 15 处，{bad} 处不符合，已现场告知项目经理。",
)
COOPERATION_COMMENTS = (
    "本月会议保障任务均按时到位，临时任务响应及时。",
    "人员在岗情况良好，个别岗位着装不规范。",
    "台账资料基本齐全，突发停水处置及时。",
    "配合较好，但两次临时搬运任务响应偏慢。",
)
COUNTY_COMMENTS = (
    "重点任务按时完成，信息报送及时准确。",
    "督办事项办结及时，个别材料报送延迟。",
    "本季度工作扎实，节能改造项目推进较快。",
)
SURVEY_QUESTIONS = (
    {"text": "公共区域保洁是否干净整洁？", "kind": "rating"},
    {"text": "报修响应是否及时？", "kind": "rating"},
    {"text": "服务人员态度是否热情规范？", "kind": "rating"},
    {
        "text": "您最希望改进的方面",
        "kind": "choice",
        "choices": ["保洁", "维修", "绿化", "会务", "其他"],
        "required": False,
    },
    {"text": "其他意见和建议", "kind": "text", "required": False},
)
CANTEEN_QUESTIONS = (
    {"text": "饭菜口味和品种是否满意？", "kind": "rating"},
    {"text": "餐厅卫生和食品安全是否满意？", "kind": "rating"},
    {"text": "价格是否合理？", "kind": "rating"},
    {"text": "其他意见和建议", "kind": "text", "required": False},
)
SURVEY_REMARKS = (
    "",
    "",
    "希望卫生间保洁频次再提高一些。",
    "维修师傅很专业。",
    "会议室空调报修后等了较久。",
    "",
    "整体满意。",
)
CANTEEN_REMARKS = ("", "希望多一些素菜。", "早餐品种可以再丰富。", "", "整体满意。")


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def _month_start(day: date, shift: int = 0) -> date:
    n = day.year * 12 + day.month - 1 + shift
    return date(n // 12, n % 12 + 1, 1)


def _months(now: datetime, months: int) -> list[date]:
    """First days of the ``months`` whole months before ``now``, oldest first."""
    this = _month_start(now.astimezone(SHANGHAI).date())
    return [_month_start(this, -k) for k in range(months, 0, -1)]


def _quarters(months: list[date]) -> list[date]:
    """Quarters that have ended by the last month of the history and start in it; at
    least the last one that has ended."""
    if not months:
        return []
    last_end = _month_start(months[-1], 1)
    out = [m for m in months if m.month in (1, 4, 7, 10) and _month_start(m, 3) <= last_end]
    if not out:
        q = _month_start(last_end, -((last_end.month - 1) % 3) - 3)
        out = [q]
    return out


def _q2(x: float) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.5"), rounding=ROUND_HALF_UP)


class Clock:
    """Moments of a month's assessment cycle: ``hours`` after the period ends.

    The last month's cycle is still under way: it is shifted so that its runs are
    published a day and a half before ``now`` (inside the appeal window, so the job
    that finalises runs past their window leaves them alone), or squeezed into the
    time there is when the month ended only days ago."""

    PUBLISH = 82  # hours after the period ends
    FINAL_AFTER = 24 * 12  # the seven-day appeal window has passed

    def __init__(self, period_end: datetime, now: datetime, *, recent: bool = False) -> None:
        self.end = period_end
        self.now = now
        self.recent = recent
        room = (now - period_end).total_seconds() / 3600 - 1
        self.scale = 1.0 if room >= 24 * 5 else max(room, 0.01) / (24 * 5)
        self.shift = 0.0
        if recent and self.scale == 1.0:
            self.shift = max(0.0, room - 36 - self.PUBLISH)

    def at(self, hours: float) -> datetime:
        return self.end + timedelta(hours=self.shift + hours * self.scale)

    def can_finalise(self) -> bool:
        return not self.recent and self.at(self.FINAL_AFTER) < self.now


@dataclass
class Actors:
    admin: User
    assessor: User
    city_manager: User
    managers: dict[int, User]  # centre org id -> its manager
    workers: dict[int, User]  # vendor org id -> its worker (who files appeals)
    staff: dict[int, list[User]]  # centre org id -> its staff


def _user(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def _actors(admin: User, centres: Sequence[Organization]) -> Actors:
    managers, workers, staff = {}, {}, {}
    for c in centres:
        managers[c.pk] = _user(f"{c.code}_manager") or admin
        people = [_user(f"{c.code}_staff")] + [_user(f"{c.code}_staff{i}") for i in range(2, 10)]
        staff[c.pk] = [u for u in people if u is not None]
        vendor = Organization.objects.filter(code=f"{c.code}-property").first()
        worker = _user(f"{c.code}_worker")
        if vendor is not None and worker is not None:
            workers[vendor.pk] = worker
    assessor = User.objects.filter(grants__role=Role.ASSESSOR).order_by("id").first()
    if assessor is None:
        raise RuntimeError("the core demo has no third-party assessor login")
    return Actors(admin, assessor, managers.get(centres[0].pk, admin), managers, workers, staff)


def ensure_vendors(city: Organization) -> dict[str, Organization]:
    """The city's specialist vendors (保洁, 绿化, 餐饮, 会务) beside its property vendor."""
    from dayuan.core.demo import _org

    out = {o.code: o for o in Organization.objects.filter(kind=OrgKind.VENDOR)}
    for spec in VENDORS:
        if spec.code not in out and spec.name:
            out[spec.code] = _org(spec.name, spec.code, OrgKind.VENDOR, city)
    return out


def install_schemes(actor: User, city: Organization) -> tuple[Scheme, Scheme]:
    from . import services

    def computed(rows: Sequence[tuple]) -> list[dict[str, Any]]:
        return [
            {
                "key": k,
                "label": label,
                "sort": "computed",
                "source": src,
                "weight": Decimal(w),
                "target": t,
                "floor": f,
                "better": b,
            }
            for k, label, src, w, t, f, b in rows
        ]

    def scored(rows: Sequence[tuple]) -> list[dict[str, Any]]:
        return [
            {
                "key": k,
                "label": label,
                "sort": "scored",
                "source": "",
                "weight": Decimal(w),
                "max_score": Decimal(w),
                "scorer_role": role,
                "guidance": guidance,
            }
            for k, label, w, role, guidance in rows
        ]

    existing = {s.code: s for s in Scheme.objects.filter(org=city)}
    vendor = existing.get(VENDOR_SCHEME) or services.save_scheme(
        actor=actor,
        org_id=city.pk,
        code=VENDOR_SCHEME,
        name="后勤服务外包单位月度考核方案",
        subject_kind="contract",
        pass_line=Decimal("70"),
        grades=GRADES,
        max_deduction=Decimal("30"),
        description="市机关服务中心统一制定，各县（区）中心的物业合同同样适用，"
        "考核结果全市一盘棋排名。数据指标取自工单、检查、整改和满意度调查；"
        "现场服务质量由第三方评估公司评分；配合与响应由甲方管理人员评分。",
        indicators=[
            {**row, "position": i}
            for i, row in enumerate(computed(VENDOR_COMPUTED) + scored(VENDOR_SCORED))
        ],
        deduction_rules=[
            {
                "kind": kind,
                "match": match,
                "points": Decimal(p),
                "money": Decimal(m),
                "rectify_days": d,
            }
            for kind, match, p, m, d in VENDOR_DEDUCTIONS
        ],
    )
    county = existing.get(COUNTY_SCHEME) or services.save_scheme(
        actor=actor,
        org_id=city.pk,
        code=COUNTY_SCHEME,
        name="县（区）机关服务中心季度考核方案",
        subject_kind="org",
        pass_line=Decimal("70"),
        grades=GRADES,
        description="市中心按同一方案考核各县（区）中心并排名。",
        indicators=[
            {**row, "position": i}
            for i, row in enumerate(computed(COUNTY_COMPUTED) + scored(COUNTY_SCORED))
        ],
        deduction_rules=[],
    )
    return vendor, county


def install_contracts(
    actors: Actors, scheme: Scheme, vendors: dict[str, Organization], starts_on: date
) -> list[tuple[Contract, VendorSpec]]:
    from dayuan.standards.models import Standard
    from dayuan.workorders.models import ServiceCategory

    from . import services

    # The catalogue is the work-order demo's (defined at the city); without it, no scope.
    catalogue = set(ServiceCategory.objects.values_list("code", flat=True))
    standard_ids = list(
        Standard.objects.filter(code__in=("JG-FW", "JG-XJ", "JG-DC")).values_list("id", flat=True)
    )
    out = []
    for n, spec in enumerate(VENDORS, start=1):
        vendor = vendors.get(spec.code)
        if vendor is None:
            continue
        centre = Organization.objects.get(code=spec.centre)
        number = f"HT-{starts_on.year}-{centre.code.upper()[:2]}{n:03d}"
        contract = Contract.objects.filter(number=number).first()
        if contract is None:
            compounds = Location.objects.filter(org=centre, kind=LocationKind.COMPOUND)
            contract = services.save_contract(
                actor=actors.managers.get(centre.pk, actors.admin),
                org_id=centre.pk,
                vendor_id=vendor.pk,
                number=number,
                title=spec.title,
                starts_on=starts_on,
                ends_on=date(starts_on.year + 3, starts_on.month, 1) - timedelta(days=1),
                monthly_fee=Decimal(spec.monthly_fee),
                scheme_id=scheme.pk,
                payment_formula=FORMULA,
                categories=[c for c in spec.categories if c in catalogue],
                location_ids=list(compounds.values_list("id", flat=True)),
                standard_ids=standard_ids,
                area_m2=Decimal(spec.area_m2),
                headcount=spec.headcount or None,
                status="active",
            )
        out.append((contract, spec))
    return out


class History:
    def __init__(self, actors: Actors, now: datetime, rng: random.Random) -> None:
        self.a = actors
        self.now = now
        self.rng = rng
        self.counts: dict[str, int] = {
            "runs": 0,
            "final": 0,
            "published": 0,
            "appealed": 0,
            "review": 0,
            "appeals": 0,
            "events": 0,
            "surveys": 0,
            "responses": 0,
        }

    # --- one run through its cycle --------------------------------------------------------

    def _score(
        self,
        run: Run,
        key: str,
        user: User,
        value: Decimal,
        comment: str,
        evidence: str,
        at: datetime,
    ) -> None:
        from . import runs

        runs.score_item(
            actor=user,
            run_id=run.pk,
            item_key=key,
            score=value,
            comment=comment,
            evidence=evidence,
            now=at,
        )

    def _site_score(self, quality: float) -> tuple[Decimal, str]:
        q = min(1.0, max(0.5, self.rng.gauss(quality, 0.04)))
        value = _q2(20 * q)
        bad = max(0, round((20 - float(value)) / 1.5))
        return value, self.rng.choice(SITE_EVIDENCE).format(bad=bad)

    def contract_run(
        self,
        contract: Contract,
        spec: VendorSpec,
        month: date,
        *,
        stop: str = "final",
        recent: bool = False,
    ) -> Run:
        """Create, assign, score, compute, submit, publish and (past the window) finalise
        the month's run of ``contract``; ``stop`` ends the cycle early."""
        from . import runs

        clock = Clock(_local(_month_start(month, 1), 0), self.now, recent=recent)
        manager = self.a.managers.get(contract.org_id, self.a.admin)
        run = runs.create_run(
            actor=manager,
            scheme_id=contract.scheme_id,
            period_kind="month",
            period_start=month,
            contract_id=contract.pk,
            now=clock.at(9),
        )
        runs.assign_assessor(
            actor=manager,
            run_id=run.pk,
            user_id=self.a.assessor.pk,
            role="assessor",
            now=clock.at(9.2),
        )
        runs.assign_assessor(
            actor=manager, run_id=run.pk, user_id=manager.pk, role="manager", now=clock.at(9.3)
        )
        self.counts["runs"] += 1
        value, evidence = self._site_score(spec.quality)
        self._score(run, "site", self.a.assessor, value, "", evidence, clock.at(34))
        coop = _q2(15 * min(1.0, max(0.5, self.rng.gauss(spec.quality + 0.03, 0.04))))
        self._score(
            run,
            "cooperation",
            manager,
            coop,
            self.rng.choice(COOPERATION_COMMENTS),
            "",
            clock.at(39),
        )
        run = runs.compute(actor=manager, run_id=run.pk, now=clock.at(57))
        if stop == "computed":
            return run
        run = runs.submit_for_review(actor=manager, run_id=run.pk, now=clock.at(58))
        if stop == "review":
            return run
        run = runs.publish(actor=manager, run_id=run.pk, now=clock.at(Clock.PUBLISH))
        if stop == "published" or not clock.can_finalise():
            return run
        run = runs.finalise(actor=manager, run_id=run.pk, now=clock.at(Clock.FINAL_AFTER))
        return run

    def county_run(self, county: Organization, scheme: Scheme, quarter: date) -> Run:
        from . import runs

        clock = Clock(_local(_month_start(quarter, 3), 0), self.now)
        boss = self.a.city_manager
        run = runs.create_run(
            actor=boss,
            scheme_id=scheme.pk,
            period_kind="quarter",
            period_start=quarter,
            subject_org_id=county.pk,
            now=clock.at(9),
        )
        runs.assign_assessor(
            actor=boss, run_id=run.pk, user_id=boss.pk, role="manager", now=clock.at(9.1)
        )
        self.counts["runs"] += 1
        value = _q2(10 * min(1.0, max(0.5, self.rng.gauss(0.87, 0.05))))
        self._score(run, "work", boss, value, self.rng.choice(COUNTY_COMMENTS), "", clock.at(40))
        run = runs.compute(actor=boss, run_id=run.pk, now=clock.at(57))
        run = runs.submit_for_review(actor=boss, run_id=run.pk, now=clock.at(58))
        run = runs.publish(actor=boss, run_id=run.pk, now=clock.at(Clock.PUBLISH))
        if clock.can_finalise():
            run = runs.finalise(actor=boss, run_id=run.pk, now=clock.at(Clock.FINAL_AFTER))
        return run

    # --- appeals --------------------------------------------------------------------------

    def appeal_upheld(self, run: Run) -> None:
        """The vendor contests the assessor's site score; the manager upholds it, the
        assessor re-scores the item, the run is computed again and becomes final."""
        from . import runs

        worker = self.a.workers[run.subject_org_id]
        manager = self.a.managers.get(run.org_id, self.a.admin)
        t = run.published_at
        current = run.items.get(key="site").scores.filter(superseded=False).first()
        base = current.score if current is not None else Decimal("16")
        appeal = runs.appeal(
            actor=worker,
            run_id=run.pk,
            item_keys=["site"],
            reason="第三方抽查当天正值外墙清洗施工，楼梯间积尘系施工所致，已于当日清理，"
            "附施工通知和清理后照片，请求复核现场服务质量得分。",
            now=t + timedelta(days=2, hours=3),
        )
        runs.decide_appeal(
            actor=manager,
            appeal_id=appeal.pk,
            upheld=True,
            decision="经核实，抽查时外墙清洗施工尚未结束，积尘与施工有关。申诉成立，"
            "请第三方评估公司重新评定该项。",
            now=t + timedelta(days=4),
        )
        self._score(
            run,
            "site",
            self.a.assessor,
            min(Decimal("20"), base + Decimal("2.5")),
            "复核后调整。",
            "复核施工记录和整改照片，扣除施工影响的 2 处。",
            t + timedelta(days=5),
        )
        run = runs.compute(actor=manager, run_id=run.pk, now=t + timedelta(days=5, hours=4))
        run.refresh_from_db()
        if run.status != RunStatus.FINAL:
            runs.finalise(actor=manager, run_id=run.pk, now=t + timedelta(days=5, hours=5))
        self.counts["appeals"] += 1

    def appeal_dismissed(self, run: Run) -> None:
        from . import runs

        worker = self.a.workers[run.subject_org_id]
        manager = self.a.managers.get(run.org_id, self.a.admin)
        t = run.published_at
        appeal = runs.appeal(
            actor=worker,
            run_id=run.pk,
            item_keys=["cooperation"],
            reason="本月两次临时搬运任务均在当日完成，不应认定为响应偏慢。",
            now=t + timedelta(days=1, hours=5),
        )
        runs.decide_appeal(
            actor=manager,
            appeal_id=appeal.pk,
            upheld=False,
            decision="经查工单记录，两次任务接单分别超时 2 小时和 3 小时，评分依据充分，"
            "申诉驳回，维持原结果。",
            now=t + timedelta(days=3),
        )
        run.refresh_from_db()
        if run.status != RunStatus.FINAL:
            runs.finalise(actor=manager, run_id=run.pk, now=t + timedelta(days=8))
        self.counts["appeals"] += 1

    def appeal_open(self, run: Run) -> None:
        from . import runs

        worker = self.a.workers[run.subject_org_id]
        t = run.published_at
        at = min(t + timedelta(days=1), t + (self.now - t) / 2)
        runs.appeal(
            actor=worker,
            run_id=run.pk,
            item_keys=["site"],
            reason="抽查的 3 处问题中有 2 处属于甲方装修施工区域，不在我方服务范围内，"
            "请求剔除后重新评分。",
            now=at,
        )
        self.counts["appeals"] += 1

    # --- events and surveys ---------------------------------------------------------------

    def event(self, contract: Contract, event_type: str, day: date, text: str) -> None:
        from . import services

        manager = self.a.managers.get(contract.org_id, self.a.admin)
        occurred = _local(day, 10, 30)
        services.record_event(
            actor=manager,
            org_id=contract.org_id,
            subject_org_id=contract.vendor_id,
            event_type=event_type,
            occurred_at=occurred,
            description=text,
            contract_id=contract.pk,
            now=occurred + timedelta(hours=2),
        )
        self.counts["events"] += 1

    def survey(
        self,
        contract: Contract,
        month: date,
        *,
        anonymous: bool,
        title: str,
        service: str,
        questions: Sequence[dict[str, Any]],
        remarks: Sequence[str],
        mood: float,
    ) -> None:
        from . import services

        manager = self.a.managers.get(contract.org_id, self.a.admin)
        people = self.a.staff.get(contract.org_id, [])
        if not people:
            return
        created = _local(month + timedelta(days=4), 9)
        closes = _local(month + timedelta(days=19), 18)
        survey = services.create_survey(
            actor=manager,
            org_id=contract.org_id,
            title=title,
            closes_at=closes,
            questions=[dict(q) for q in questions],
            invitee_ids=[u.pk for u in people],
            subject_org_id=contract.vendor_id,
            contract_id=contract.pk,
            service=service,
            anonymous=anonymous,
            now=created,
        )
        services.open_survey(actor=manager, survey_id=survey.pk, now=created + timedelta(hours=1))
        self.counts["surveys"] += 1
        qs = list(survey.questions.order_by("position", "id"))
        answering = people[: max(1, round(len(people) * 0.78))]
        for i, person in enumerate(answering):
            answers: dict[str, Any] = {}
            for q in qs:
                if q.kind == "rating":
                    answers[str(q.pk)] = max(1, min(5, round(self.rng.gauss(mood, 0.8))))
                elif q.kind == "choice":
                    answers[str(q.pk)] = self.rng.choice(q.choices)
                else:
                    remark = remarks[i % len(remarks)]
                    if remark:
                        answers[str(q.pk)] = remark
            at = created + timedelta(days=1 + i % 10, hours=self.rng.randrange(0, 8))
            services.respond(actor=person, survey_id=survey.pk, answers=answers, now=at)
            self.counts["responses"] += 1
        services.close_survey(actor=manager, survey_id=survey.pk, now=closes + timedelta(minutes=1))


def _count_states(counts: dict[str, int]) -> None:
    for status in (RunStatus.FINAL, RunStatus.PUBLISHED, RunStatus.APPEALED, RunStatus.REVIEW):
        counts[str(status)] = Run.objects.filter(status=status).count()
    counts["appeals_upheld"] = Run.objects.filter(appeals__status=AppealStatus.UPHELD).count()
    counts["appeals_dismissed"] = Run.objects.filter(appeals__status=AppealStatus.DISMISSED).count()


@transaction.atomic
def load_demo(
    admin: Any,
    city: Organization,
    counties: Sequence[Organization],
    *,
    months: int = DEFAULT_MONTHS,
    seed: int = 2026,
    now: datetime | None = None,
) -> dict[str, int]:
    """The assessment part of the demo; returns row counts. Runs after the inspection
    demo (the runs compute from its findings and the work orders). A second run adds
    no second history."""
    now = now or timezone.now()
    history = _months(now, max(months, 1))
    centres = [city, *counties]
    actors = _actors(admin, centres)
    vendors = ensure_vendors(city)
    vendor_scheme, county_scheme = install_schemes(actors.city_manager, city)
    contracts = install_contracts(actors, vendor_scheme, vendors, history[0])
    counts: dict[str, int] = {"contracts": len(contracts)}
    if Run.objects.exists():  # loaded before: keep that history
        return counts

    h = History(actors, now, random.Random(seed))
    by_vendor = {spec.code: c for c, spec in contracts}
    last = len(history) - 1
    appeal_month = last - 1 if last >= 1 else None
    quarters = set(_quarters(history))
    before = sorted(q for q in quarters if q < history[0])

    for q in before:  # a quarter that began before the monthly history
        for county in counties:
            h.county_run(county, county_scheme, q)

    for i, month in enumerate(history):
        # Things that happen during the month feed its run.
        if i == max(0, last - 2) and "xihu-property" in by_vendor:
            h.event(
                by_vendor["xihu-property"],
                EventType.CRITICISM,
                month + timedelta(days=13),
                "县政府办公室通报：西湖县政府大院 3 号楼消防通道堆放杂物、"
                "夜间值守人员脱岗，予以通报批评。",
            )
        if i == last and "nanshan-property" in by_vendor:
            h.event(
                by_vendor["nanshan-property"],
                EventType.MEDIA,
                month + timedelta(days=8),
                "本地新闻客户端报道南山县机关大院垃圾分类点垃圾满溢、异味扰民，属媒体曝光。",
            )
        if i == max(0, last - 1) and "city-property" in by_vendor:
            h.survey(
                by_vendor["city-property"],
                month,
                anonymous=True,
                title=f"{month.year}年{month.month}月市行政中心大院物业服务满意度调查",
                service="物业服务",
                questions=SURVEY_QUESTIONS,
                remarks=SURVEY_REMARKS,
                mood=4.3,
            )
        if i == last and "city-canteen" in by_vendor:
            h.survey(
                by_vendor["city-canteen"],
                month,
                anonymous=False,
                title=f"{month.year}年{month.month}月机关食堂就餐满意度调查",
                service="机关食堂",
                questions=CANTEEN_QUESTIONS,
                remarks=CANTEEN_REMARKS,
                mood=3.9,
            )

        for contract, spec in contracts:
            stop = "final"
            if i == last and spec.code == "city-meeting":
                stop = "review"  # the manager has not published it yet
            elif i == appeal_month and spec.code in ("dongcheng-property", "xihu-property"):
                stop = "published"  # appealed within the window
            run = h.contract_run(contract, spec, month, stop=stop, recent=i == last)
            if i == appeal_month and spec.code == "dongcheng-property":
                h.appeal_upheld(run)
            elif i == appeal_month and spec.code == "xihu-property":
                h.appeal_dismissed(run)
            elif i == last and spec.code == "nanshan-property" and run.published_at:
                h.appeal_open(run)

        q = _month_start(month, -2)
        if q in quarters and q >= history[0]:  # its last month is done: assess the counties
            for county in counties:
                h.county_run(county, county_scheme, q)

    counts.update(h.counts)
    _count_states(counts)
    return counts
