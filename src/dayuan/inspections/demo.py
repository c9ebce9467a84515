"""Inspection demo data: the rectification standard (JG-DC) and the demo checklists
(JG-XJ), the places and equipment the library's ``schedule`` rules name, who performs
each scheduled activity, and weeks to months of history lived through the services.

Unlike the work-order demo (bulk rows), every inspection, finding, rectification round
and supervision task here is written by the real services (``services``, ``plans``,
``rectification``, ``supervision.services``) with ``now=`` set to the moment it
happened: the history is what the platform would have recorded, with its judgments,
notifications and escalations (audit entries are stamped at load time). The jobs run
once a simulated day at 07:00 (``plans.detect_missed``,
``rectification.escalate_overdue``, ``supervision.services.run_reminders``; in
production every few minutes): the states they reach are the same, only their
notifications are timed more coarsely.

``inspections`` (``DAYUAN_DEMO_INSPECTIONS``) is the rough number of planned
inspections in the history: the history reaches back as many days as that takes (at
most ``HISTORY_DAYS_MAX``, at least two days). A handful of scripted cases run on top of
it whatever the volume, so every state of the loop is there to look at: a rectification
rejected once then accepted, one accepted late, open ones and overdue ones, supervision
tasks in red, yellow and green and one closed. Deterministic for a given ``seed`` and
``now``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from dayuan.accounts.choices import Role
from dayuan.accounts.models import User
from dayuan.core.testing import make_location
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Location, Organization

from .choices import FindingSource, InspectionKind, OccurrenceStatus, RectificationStatus
from .models import Asset, Finding, Inspection, PlanAssignment, PlanOccurrence, Rectification

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEMO_STANDARDS = Path(__file__).resolve().parent / "demo_standards"
STANDARD_FILES = ("JG-DC.standard.yaml", "JG-XJ.standard.yaml")
HISTORY_DAYS_MAX = 122  # about four months
HISTORY_DAYS_MIN = 2
RULE_KINDS = ("sla", "schedule", "checklist")

# Office buildings carry 办公楼 (structure, facade and shared-part patrols).
OFFICE_BUILDING_NAMES = ("综合楼", "办公楼A座", "办公楼B座")

# Who performs each scheduled activity: the vendor's crew inspects its own work (自查),
# the centre's inspector patrols (巡检). (activity, performer, checklist, kind)
ASSIGNMENTS: tuple[tuple[str, str, str, str], ...] = (
    ("clean.stairs", "team", "property.daily", InspectionKind.SELF),
    ("clean.grounds", "team", "property.daily", InspectionKind.SELF),
    ("green.lawn_mowing", "team", "green.lawn", InspectionKind.SELF),
    ("maintain.split_ac", "team", "maintain.split_ac", InspectionKind.SELF),
    ("patrol.grounds", "inspector", "property.daily", InspectionKind.PATROL),
    ("patrol.structure", "inspector", "patrol.building", InspectionKind.PATROL),
    ("patrol.facade", "inspector", "patrol.building", InspectionKind.PATROL),
    ("patrol.shared_parts", "inspector", "patrol.building", InspectionKind.PATROL),
    ("patrol.shared_surfaces", "inspector", "patrol.building", InspectionKind.PATROL),
    ("patrol.lightning_rod", "inspector", "patrol.lightning", InspectionKind.PATROL),
    ("test.lightning_protection", "inspector", "patrol.lightning", InspectionKind.SPECIAL),
    ("patrol.office_equipment", "inspector", "patrol.equipment", InspectionKind.PATROL),
)
# Items that do not apply to an activity's places (property.daily mixes stairs and grounds).
NOT_APPLICABLE = {
    "clean.stairs": {"roads_clean", "green_belts_clean"},
    "clean.grounds": {"stairs_no_dust", "stairs_no_cobweb"},
    "patrol.grounds": {"stairs_no_dust", "stairs_no_cobweb"},
}
# Measured items: (passing range, failing range).
MEASURES = {
    "earth_resistance": ((1.5, 8.5), (11.0, 16.0)),
    "outlet_temp": ((9.0, 15.5), (17.0, 21.0)),
    "lawn_height": ((3.5, 7.5), (9.0, 14.0)),
}
# Chance that an item fails, per centre (load order: city, then the counties) and severity.
CENTRE_FAIL = (0.015, 0.025, 0.04, 0.06)
SEVERITY_FAIL = {"key": 0.25, "important": 0.6, "general": 1.0}
SKIP_SHARE = 0.03  # occurrences nobody performs: missed, a finding against the clause
FAIL_NOTES = {
    "stairs_no_dust": "楼梯转角、扶手积尘明显",
    "stairs_no_cobweb": "楼梯间顶角有蛛网",
    "cctv_recording_complete": "监控录像有 2 小时断档",
    "roads_clean": "停车场入口有积水和烟头",
    "green_belts_clean": "绿化带内有塑料袋等垃圾",
    "structure_sound": "三层走廊顶板有渗水痕迹",
    "facade_secure": "空调外机支架锈蚀松动",
    "doors_windows": "楼梯间窗扇合页损坏，关不严",
    "surfaces_clean": "走廊墙面瓷砖脱落一块",
    "fire_exit_clear": "消防通道堆放纸箱、旧桌椅",
    "rod_intact": "避雷带一处焊点锈蚀开裂",
    "down_conductor": "引下线卡子松脱",
    "earth_resistance": "接地电阻超标",
    "filter_clean": "滤网积灰未清洗",
    "outlet_temp": "制冷效果差，出风温度偏高",
    "bracket_secure": "外机支架螺栓松动",
    "powers_on": "投影仪无法开机",
    "output_ok": "音响有杂音",
    "cables_tidy": "讲台下线缆裸露",
    "lawn_height": "草坪过高，未按期修剪",
    "edges_trimmed": "草坪边缘参差不齐",
    "no_weeds": "绿地内杂草较多",
}
EVIDENCE = (
    "已按要求整改完毕，附整改后照片。",
    "已安排专人处理，现场已恢复，请验收。",
    "已整改并加强日常巡查，附照片。",
)
REJECT_REASONS = (
    "现场复查仍未整改到位，请重新处理。",
    "整改照片与问题位置不符，请补充现场照片。",
    "只做了临时处理，请彻底整改。",
)


def _local(day: Any, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def rules_in_force_since(since: datetime) -> int:
    """Backdate the publication of versions holding ``sla``, ``schedule`` or ``checklist``
    rules to ``since``: the history looks its plans, checklists and deadlines up as of
    each moment, months before the demo's standards were published (at load time)."""
    from dayuan.standards.demo import backdate
    from dayuan.standards.models import StandardVersion

    return backdate(StandardVersion.objects.filter(rules__kind__in=RULE_KINDS), since)


def install_standards(actor: Any, city: Organization) -> int:
    """Import, publish and adopt JG-DC and JG-XJ at ``city`` (left as they are if they exist)."""
    from dayuan.standards.demo import install

    return sum(install(actor, city, DEMO_STANDARDS / name).imported for name in STANDARD_FILES)


# --- places, equipment, assignments ------------------------------------------------------


@dataclass
class Centre:
    """What the history needs of one centre, read once."""

    org: Organization
    vendor: Organization | None
    team_id: int | None
    inspector: User
    manager: User
    worker: User | None  # the vendor's crew lead, who self-inspects and rectifies
    office_buildings: list[Location] = field(default_factory=list)
    fail: float = 0.03


def _user(org: Organization, role: str) -> User | None:
    return (
        User.objects.filter(grants__org=org, grants__role=role, is_active=True)
        .order_by("id")
        .first()
    )


def _area(org: Organization, parent: Location, name: str, tag: str, m2: int) -> Location:
    existing = Location.objects.filter(org=org, parent=parent, name=name).first()
    return existing or make_location(
        org, name, LocationKind.AREA, parent, area_m2=Decimal(m2), tags=[tag]
    )


def _asset(
    admin: Any, org: Organization, loc: Location, asset_type: str, name: str, code: str
) -> None:
    from . import services

    if not Asset.objects.filter(org=org, code=code).exists():
        services.save_asset(
            actor=admin,
            org_id=org.pk,
            location_id=loc.pk,
            asset_type=asset_type,
            name=name,
            code=code,
        )


def build_places(admin: Any, centre: Centre) -> None:
    """Tag office buildings 办公楼; add a staircase (楼梯) to the main one and a
    lawn (绿地) per compound; register lightning rods, the lightning-protection system,
    split air conditioners and meeting-room and office equipment as assets."""
    org = centre.org
    prefix = org.code.split("-")[0][:4].upper()
    for compound in Location.objects.filter(org=org, kind=LocationKind.COMPOUND).order_by("path"):
        _area(org, compound, "中心绿地", "绿地", 1200)
        _asset(admin, org, compound, "lightning_protection", "大院防雷接地系统", f"{prefix}-FL-01")
        buildings = Location.objects.filter(org=org, parent=compound, kind=LocationKind.BUILDING)
        for building in buildings.order_by("path"):
            if building.name not in OFFICE_BUILDING_NAMES:
                continue
            if "办公楼" not in (building.tags or []):
                building.tags = sorted({*(building.tags or []), "办公楼"})
                building.save(update_fields=["tags"])
            centre.office_buildings.append(building)
            if len(centre.office_buildings) == 1:  # the main building's staircase
                _area(org, building, f"{building.name}主楼梯", "楼梯", 60)
            code = f"{prefix}-BL-{building.code}"
            _asset(admin, org, building, "lightning_rod", f"{building.name}屋顶避雷针", code)
    rooms = list(
        Location.objects.filter(org=org, kind=LocationKind.ROOM)
        .order_by("path")
        .only("id", "name", "tags", "area_m2", "path", "org_id")
    )
    offices = [r for r in rooms if "办公室" in (r.tags or []) and r.name != "值班室"]
    for i, room in enumerate(offices[:3], start=1):
        _asset(admin, org, room, "split_ac", f"{room.name}分体空调", f"{prefix}-KT-{i:02d}")
    meetings = [r for r in rooms if "会议室" in (r.tags or [])]
    if meetings:
        hall = max(meetings, key=lambda r: (r.area_m2 or 0, -len(r.path)))
        _asset(admin, org, hall, "office_equipment", f"{hall.name}投影音响", f"{prefix}-SB-01")
    if offices:
        _asset(admin, org, offices[0], "office_equipment", "打印复印一体机", f"{prefix}-SB-02")


def build_assignments(admin: Any, centre: Centre) -> int:
    """Who performs each scheduled activity at the centre (see ``ASSIGNMENTS``)."""
    from . import services

    made = 0
    existing = set(PlanAssignment.objects.filter(org=centre.org).values_list("activity", flat=True))
    for activity, performer, checklist, kind in ASSIGNMENTS:
        if activity in existing:
            continue
        by_team = performer == "team" and centre.team_id is not None
        services.save_assignment(
            actor=admin,
            org_id=centre.org.pk,
            activity=activity,
            team_id=centre.team_id if by_team else None,
            inspector_id=None if by_team else centre.inspector.pk,
            vendor_id=centre.vendor.pk if centre.vendor else None,
            checklist_code=checklist,
            kind=kind if by_team or kind != InspectionKind.SELF else InspectionKind.PATROL,
        )
        made += 1
    return made


def _centres(city: Organization, counties: Sequence[Organization]) -> list[Centre]:
    from dayuan.workorders.models import Team

    out = []
    for serial, org in enumerate([city, *counties]):
        vendor = (
            Organization.objects.filter(parent=org, kind=OrgKind.VENDOR).order_by("path").first()
        )
        team = (
            Team.objects.filter(org=org, vendor=vendor).order_by("id").first() if vendor else None
        )
        manager = _user(org, Role.MANAGER) or _user(org, Role.ADMIN)
        out.append(
            Centre(
                org=org,
                vendor=vendor,
                team_id=team.pk if team else None,
                inspector=_user(org, Role.INSPECTOR) or manager,
                manager=manager,
                worker=_user(vendor, Role.WORKER) if vendor else None,
                fail=CENTRE_FAIL[serial % len(CENTRE_FAIL)],
            )
        )
    return out


# --- the history -------------------------------------------------------------------------


class Timeline:
    """Actions in time order: each runs with ``now`` set to its instant; actions may
    schedule later ones. Nothing after ``end`` runs: what is left is the present state."""

    def __init__(self, end: datetime) -> None:
        self.end = end
        self._heap: list[tuple[datetime, int, Callable[[datetime], None]]] = []
        self._seq = itertools.count()

    def at(self, t: datetime, action: Callable[[datetime], None]) -> None:
        if t < self.end:
            heapq.heappush(self._heap, (t, next(self._seq), action))

    def run(self) -> None:
        while self._heap:
            t, _seq, action = heapq.heappop(self._heap)
            action(t)


def _working_time(t: datetime, rng: random.Random) -> datetime:
    """``t`` moved into office hours (08:30–17:30) of its day, or the next morning."""
    local = t.astimezone(SHANGHAI)
    if local.hour < 8 or (local.hour == 8 and local.minute < 30):
        return _local(local.date(), 8, 30) + timedelta(minutes=rng.randint(0, 90))
    if local.hour >= 17 and not (local.hour == 17 and local.minute < 30):
        return _local(local.date() + timedelta(days=1), 8, 30) + timedelta(
            minutes=rng.randint(0, 90)
        )
    return t


@dataclass
class History:
    """The demo's months of inspections and the rectification loop, through the services."""

    centres: list[Centre]
    now: datetime
    rng: random.Random
    timeline: Timeline
    counts: dict[str, int] = field(default_factory=dict)
    by_org: dict[int, Centre] = field(default_factory=dict)
    last_missed: int = 0  # the newest missed-occurrence finding already followed up

    def __post_init__(self) -> None:
        self.by_org = {c.org.pk: c for c in self.centres}
        for c in self.centres:
            if c.vendor is not None:
                self.by_org.setdefault(c.vendor.pk, c)

    def bump(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    # inspections ----------------------------------------------------------------------

    def answers(
        self, checklist: Any, centre: Centre, activity: str, fail: set[str] | None = None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Answers for every item: mostly passes, a few failures at the centre's rate, or
        exactly ``fail`` when given; a note on each failed item."""
        answers: dict[str, Any] = {}
        notes: dict[str, str] = {}
        skip = NOT_APPLICABLE.get(activity, set())
        for item in checklist.items:
            if item.key in skip:
                answers[item.key] = "na"
                continue
            if fail is None:
                failed = self.rng.random() < centre.fail * SEVERITY_FAIL.get(item.severity, 1)
            else:
                failed = item.key in fail
            if item.type == "measure":
                good, bad = MEASURES.get(item.key, ((item.min or 0, item.max or 0),) * 2)
                lo, hi = bad if failed else good
                answers[item.key] = {"value": round(self.rng.uniform(lo, hi), 1)}
            else:
                answers[item.key] = "fail" if failed else "pass"
            if failed:
                notes[item.key] = FAIL_NOTES.get(item.key, "")
        return answers, notes

    def inspect(
        self,
        t: datetime,
        *,
        actor: Any,
        centre: Centre,
        kind: str,
        checklist_code: str,
        location_id: int,
        activity: str,
        occurrence_id: int | None = None,
        fail: set[str] | None = None,
        plans: Sequence[str] | None = None,
        key: str,
    ) -> Inspection:
        """Start, fill and submit one inspection at ``t``; order the rectification flow of
        each finding it raises (``plans`` names the flows, else they are drawn)."""
        from . import services

        insp = services.start_inspection(
            actor=actor,
            kind=kind,
            checklist_code=checklist_code,
            location_id=location_id,
            vendor_id=centre.vendor.pk if centre.vendor else None,
            occurrence_id=occurrence_id,
            client_key=key,
            now=t,
        )
        checklist = services.checklist_of(insp)  # the copy taken at start
        answers, notes = self.answers(checklist, centre, activity, fail)
        done = min(t + timedelta(minutes=self.rng.randint(6, 35)), t + (self.now - t) / 2)
        insp = services.submit_inspection(
            actor=actor,
            inspection_id=insp.pk,
            version=insp.version,
            answers=answers,
            notes=notes,
            summary="发现问题已现场告知责任单位。" if notes else "检查未发现问题。",
            now=done,
        )
        self.bump("inspections")
        findings = list(Finding.objects.filter(inspection=insp).order_by("id"))
        for i, finding in enumerate(findings):
            plan = plans[i % len(plans)] if plans else None
            self.follow_up(finding, plan)
        return insp

    def occurrence(self, occ: PlanOccurrence, t: datetime) -> None:
        occ = PlanOccurrence.objects.select_related("asset", "assignment", "team").get(pk=occ.pk)
        if occ.status != OccurrenceStatus.PENDING:
            return
        centre = self.by_org[occ.org_id]
        assignment = occ.assignment
        if occ.team_id is not None and centre.worker is not None:
            actor = centre.worker
        else:
            actor = occ.inspector or centre.inspector
        self.inspect(
            t,
            actor=actor,
            centre=centre,
            kind=assignment.kind if assignment else InspectionKind.PATROL,
            checklist_code=assignment.checklist_code if assignment else "property.daily",
            location_id=occ.location_id or occ.asset.location_id,
            activity=occ.activity,
            occurrence_id=occ.pk,
            key=f"demo-occ-{occ.pk}",
        )

    def plan_occurrences(self, start: datetime) -> None:
        """Each occurrence due in the history is performed within its period, except a
        few that nobody does: the daily job finds them missed."""
        pending = PlanOccurrence.objects.filter(
            status=OccurrenceStatus.PENDING, period_start__lt=self.now
        ).order_by("period_start", "id")
        # The last centre's first one is always skipped: even a short history has a miss.
        last = self.centres[-1].org.pk
        first_skipped = False
        for occ in pending.only("id", "org_id", "period_start", "period_end", "assignment_id"):
            if occ.assignment_id is None or self.rng.random() < SKIP_SHARE:
                continue
            if not first_skipped and occ.org_id == last and occ.period_end < self.now:
                first_skipped = True
                continue
            lo = max(occ.period_start, start)
            hi = min(occ.period_end, self.now)
            if hi <= lo:
                continue
            span = (hi - lo).total_seconds()
            if span <= 86_400:  # a day: the morning round
                t = _local(lo.astimezone(SHANGHAI).date(), 8, 40)
                t += timedelta(minutes=self.rng.randint(0, 150))
            else:
                t = _working_time(lo + timedelta(seconds=self.rng.uniform(0, span)), self.rng)
            if lo <= t < hi:
                self.timeline.at(t, lambda now, o=occ: self.occurrence(o, now))

    # rectification --------------------------------------------------------------------

    def party(self, rect: Rectification) -> Any:
        if rect.assignee_id:
            return rect.assignee
        centre = self.by_org.get(rect.assignee_org_id) or self.by_org.get(rect.org_id)
        if centre and centre.worker and centre.vendor and centre.vendor.pk == rect.assignee_org_id:
            return centre.worker
        org = rect.assignee_org
        for role in (Role.WORKER, Role.DISPATCHER, Role.MANAGER):
            user = _user(org, role)
            if user is not None:
                return user
        return self.by_org[rect.org_id].manager

    def verifier(self, rect: Rectification) -> Any:
        return rect.verifier or self.by_org[rect.org_id].inspector

    def follow_up(self, finding: Finding, plan: str | None = None) -> None:
        """Schedule what the responsible party and the inspector do about a finding.

        ``on_time`` evidence within the deadline, accepted; ``late`` evidence after it,
        accepted; ``reject_once`` rejected with a reason, resubmitted, accepted;
        ``awaiting`` evidence not yet verified; ``stalled`` nothing (overdue, escalates).
        Findings of the last weeks may still be open; older ones have all been dealt with.
        """
        rect = Rectification.objects.get(finding=finding)
        recent = rect.ordered_at > self.now - timedelta(days=21)
        if plan is None:
            flows = ("on_time", "late", "reject_once", "awaiting", "stalled")
            weights = (55, 6, 12, 12, 15) if recent else (76, 11, 13, 0, 0)
            plan = self.rng.choices(flows, weights)[0]
        self.bump(f"plan_{plan}")
        if plan == "stalled":
            return
        span = rect.deadline - rect.ordered_at
        if plan == "late":
            t = rect.deadline + timedelta(hours=self.rng.uniform(4, 72))
        elif plan == "awaiting":  # submitted by now, not yet looked at
            t = rect.ordered_at + min(span, self.now - rect.ordered_at) * self.rng.uniform(0.3, 0.7)
        else:
            t = rect.ordered_at + span * self.rng.uniform(0.15, 0.6)
        t = _working_time(t, self.rng)
        if plan == "on_time" and t >= rect.deadline:
            t = rect.ordered_at + span * 0.3
        self.timeline.at(t, lambda now: self.evidence(rect.pk, plan, now))

    def evidence(self, rect_id: int, plan: str, t: datetime) -> None:
        from . import rectification

        rect = Rectification.objects.select_related("assignee_org").get(pk=rect_id)
        if rect.status not in (RectificationStatus.ORDERED, RectificationStatus.RETURNED):
            return
        rect = rectification.submit_evidence(
            actor=self.party(rect),
            rectification_id=rect.pk,
            version=rect.version,
            evidence=self.rng.choice(EVIDENCE),
            now=t,
        )
        self.bump("rounds")
        if plan == "awaiting":
            return
        verdict = "reject" if plan == "reject_once" and rect.round_count == 1 else "accept"
        later = t + timedelta(hours=self.rng.uniform(0.5, 5))
        if rect.calendar == "24x7" or verdict == "reject":
            later = t + timedelta(minutes=self.rng.randint(30, 120))
        self.timeline.at(
            _working_time(later, self.rng), lambda now: self.verify(rect_id, plan, verdict, now)
        )

    def verify(self, rect_id: int, plan: str, verdict: str, t: datetime) -> None:
        from . import rectification

        rect = Rectification.objects.get(pk=rect_id)
        if rect.status != RectificationStatus.SUBMITTED:
            return
        rectification.verify(
            actor=self.verifier(rect),
            rectification_id=rect.pk,
            version=rect.version,
            verdict=verdict,
            reason=self.rng.choice(REJECT_REASONS) if verdict == "reject" else "",
            now=t,
        )
        self.bump(f"verdict_{verdict}")
        if verdict == "reject":
            again = t + timedelta(minutes=self.rng.randint(60, 240))
            self.timeline.at(
                _working_time(again, self.rng), lambda now: self.evidence(rect_id, plan, now)
            )

    # the daily jobs -------------------------------------------------------------------

    def jobs(self, t: datetime) -> None:
        """The periodic jobs as they would have run that day."""
        from dayuan.supervision import services as supervision

        from . import plans, rectification

        plans.detect_missed(now=t)
        for finding in Finding.objects.filter(
            source=FindingSource.MISSED, pk__gt=self.last_missed
        ).order_by("id"):
            self.last_missed = finding.pk
            self.follow_up(finding)
        rectification.escalate_overdue(now=t)
        supervision.run_reminders(now=t)

    def daily_jobs(self, start: datetime) -> None:
        day = start.astimezone(SHANGHAI).date()
        while True:
            t = _local(day, 7, 0)
            if t >= self.now:
                return
            self.timeline.at(t, self.jobs)
            day += timedelta(days=1)


# --- scripted cases ----------------------------------------------------------------------


def _clause(code: str, number: str) -> Any:
    from dayuan.standards.models import Clause

    return (
        Clause.objects.filter(version__standard__code=code, number=number)
        .order_by("-version__number")
        .first()
    )


def _place(centre: Centre, tag: str) -> Location:
    locs = Location.objects.filter(org=centre.org, kind=LocationKind.AREA).order_by("path")
    return next(loc for loc in locs if tag in (loc.tags or []))


def script_findings(h: History) -> None:
    """One of each rectification state, whatever the volume: rejected once then accepted
    (city), accepted late (county 1), overdue and escalated to supervision (counties 2
    and 3), evidence awaiting verification (county 1), a complaint fixed on time (city)."""
    from . import services

    city, *counties = h.centres
    c1, c2, c3 = (counties * 3)[:3]
    today = h.now.astimezone(SHANGHAI).date()

    def day(n: int, hour: int, minute: int = 0) -> datetime:
        return _local(today - timedelta(days=n), hour, minute)

    def patrol(c: Centre, n: int, hour: int, fail: str, plan: str, tag: str = "") -> None:
        where = _place(c, tag).pk if tag else c.office_buildings[0].pk
        checklist = "property.daily" if tag else "patrol.building"
        kind = InspectionKind.SELF if tag else InspectionKind.PATROL
        actor = c.worker if tag and c.worker else c.inspector
        h.timeline.at(
            day(n, hour),
            lambda now: h.inspect(
                now, actor=actor, centre=c, kind=kind, checklist_code=checklist,
                location_id=where, activity="clean.stairs" if tag else "patrol.structure",
                fail={fail}, plans=[plan], key=f"demo-story-{c.org.code}-{n}-{fail}",
            ),
        )  # fmt: skip

    patrol(city, 9, 10, "fire_exit_clear", "reject_once")
    patrol(c1, 20, 9, "facade_secure", "late")
    patrol(c2, 25, 14, "doors_windows", "stalled")
    patrol(c1, 2, 9, "stairs_no_cobweb", "awaiting", tag="楼梯")

    def raise_(c: Centre, n: int, code: str, number: str, text: str, source: str, plan: str):
        def action(now: datetime) -> None:
            clause = _clause(code, number)
            finding = services.raise_finding(
                actor=c.manager,
                org_id=c.org.pk,
                clause_id=clause.pk,
                description=text,
                location_id=c.office_buildings[0].pk,
                vendor_id=c.vendor.pk if c.vendor else None,
                source=source,
                now=now,
            )
            h.bump("findings_raised")
            h.follow_up(finding, plan)

        h.timeline.at(day(n, 15, 30), action)

    raise_(c3, 6, "JG-XJ", "XJ2", "领导巡查发现：综合楼一层消防通道堆放办公家具。",
           FindingSource.WALKROUND, "stalled")  # fmt: skip
    raise_(city, 12, "JG-WY-2015", "P16", "职工投诉：大院停车场入口连续两天有积水、烟头。",
           FindingSource.COMPLAINT, "on_time")  # fmt: skip


def script_supervision(h: History) -> None:
    """督办 in every light: green (a leader's instruction, reported on time), yellow (a
    complaint due within a day; a county's own task with its progress report late), red
    (overdue, reminded and escalated by the job), and one closed after review."""
    from dayuan.supervision import services as supervision

    city, *counties = h.centres
    c1, c2, c3 = (counties * 3)[:3]
    now = h.now

    def task(
        issuer: Any, c: Centre, assignee: Any, created: datetime, deadline: datetime,
        title: str, instruction: str, source: str = "instruction", every: int = 0,
        steps: Sequence[tuple[timedelta, str, str]] = (),
    ) -> None:  # fmt: skip
        def create(t: datetime) -> None:
            made = supervision.create_task(
                actor=issuer, org_id=c.org.pk, title=title, instruction=instruction,
                deadline=deadline, source=source, assignee_id=assignee.pk,
                report_every_days=every, now=t,
            )  # fmt: skip
            h.bump("tasks")
            for offset, step, text in steps:
                h.timeline.at(t + offset, lambda at, s=step, x=text: act(made.pk, s, x, at))

        def act(task_id: int, step: str, text: str, at: datetime) -> None:
            from dayuan.supervision.models import SupervisionTask

            current = SupervisionTask.objects.get(pk=task_id)
            if step == "accept":
                supervision.accept_task(actor=assignee, task_id=task_id, now=at)
            elif step == "report":
                progress = int(text.split("%")[0]) if "%" in text else None
                supervision.report_progress(
                    actor=assignee, task_id=task_id, text=text.split("%")[-1], progress=progress,
                    now=at,
                )  # fmt: skip
            elif step == "submit":
                supervision.submit_result(
                    actor=assignee, task_id=task_id, version=current.version, result=text, now=at
                )
            elif step == "approve":
                supervision.review(
                    actor=issuer, task_id=task_id, version=current.version, approve=True,
                    note=text, now=at,
                )  # fmt: skip

        h.timeline.at(created, create)

    hour, day = timedelta(hours=1), timedelta(days=1)
    task(
        city.manager, c1, c1.manager, now - 3 * day, now + 12 * day,
        "迎检准备：综合楼外立面及雨篷隐患排查",
        "市领导批示：汛期前完成外立面、雨篷、空调外机支架隐患排查，每 3 天报告进展。",
        every=3,
        steps=[
            (hour, "accept", ""),
            (2 * day, "report", "40%已完成综合楼东、南两面排查，发现支架锈蚀 3 处。"),
        ],
    )  # fmt: skip
    task(
        city.manager, c2, c2.manager, now - 4 * day, now + 20 * hour,
        "职工投诉：食堂二楼卫生间长期异味",
        "12345 转办投诉：食堂二楼卫生间异味严重，请查明原因并彻底整改，办结后回复。",
        source="complaint",
        steps=[(2 * hour, "accept", ""), (day, "report", "50%已疏通地漏，正在更换排风扇。")],
    )  # fmt: skip
    task(
        city.manager, c3, c3.manager, now - 12 * day, now - 2 * day,
        "落实市领导批示：大院雨水井盖破损整改",
        "市领导现场检查发现大院雨水井盖多处破损，存在安全隐患，限期更换并举一反三排查。",
        steps=[(3 * hour, "accept", ""), (4 * day, "report", "30%已采购井盖，等待施工。")],
    )  # fmt: skip
    task(
        city.manager, c1, c1.manager, now - 30 * day, now - 16 * day,
        "职工投诉：综合楼电梯间照明不足",
        "职工反映综合楼电梯间夜间照明不足，请排查更换灯具。",
        source="complaint",
        steps=[
            (2 * hour, "accept", ""),
            (3 * day, "report", "60%已更换 6 盏灯具。"),
            (12 * day, "submit", "电梯间灯具已全部更换为 LED，照度符合要求。"),
            (13 * day, "approve", "现场核实，同意办结。"),
        ],
    )  # fmt: skip
    task(
        c1.manager, c1, c1.inspector, now - 6 * day, now + 5 * day,
        "汛期后屋面防水专项检查",
        "对综合楼、会议中心屋面防水层和排水口开展专项检查，每 2 天报告一次进展。",
        every=2,
        steps=[(hour, "accept", "")],
    )  # fmt: skip


# --- the entry point ---------------------------------------------------------------------


def _history_days(inspections: int, now: datetime) -> int:
    """How many days of history hold about ``inspections`` planned inspections: the
    occurrences of the last four weeks are generated in a savepoint that is rolled back,
    counted, and scaled."""
    from . import plans

    probe = 28
    with transaction.atomic():
        plans.generate_occurrences(start=now - timedelta(days=probe), end=now)
        window = PlanOccurrence.objects.filter(
            due_at__lte=now, due_at__gt=now - timedelta(days=probe), assignment__isnull=False
        )
        per_day = window.count() / probe
        transaction.set_rollback(True)
    days = math.ceil(inspections / per_day) if per_day else HISTORY_DAYS_MAX
    return max(HISTORY_DAYS_MIN, min(HISTORY_DAYS_MAX, days))


@transaction.atomic
def load_demo(
    admin: Any,
    city: Organization,
    counties: Sequence[Organization],
    *,
    inspections: int = 1200,
    seed: int = 2026,
    now: datetime | None = None,
) -> dict[str, int]:
    """The inspection and supervision part of the demo; returns row counts.

    Runs after the work-order demo (it uses the vendors' crews as self-inspection
    teams). A second run adds no second history.
    """
    from dayuan.workorders.demo import frozen_day_table

    from . import plans

    now = now or timezone.now()
    counts: dict[str, int] = {}
    with frozen_day_table():
        counts["standards"] = install_standards(admin, city)
        centres = _centres(city, counties)
        for centre in centres:
            build_places(admin, centre)
            counts["assignments"] = counts.get("assignments", 0) + build_assignments(admin, centre)
        if Inspection.objects.exists():  # loaded before: keep that history
            return counts
        # In force before the history (and the scripted cases of the last month) begins.
        rules_in_force_since(now - timedelta(days=HISTORY_DAYS_MAX + 2))
        days = _history_days(inspections, now) if inspections > 0 else 0
        start = _local((now - timedelta(days=days)).astimezone(SHANGHAI).date(), 0)
        counts["history_days"] = days
        h = History(centres, now, random.Random(seed), Timeline(now))
        if days:
            counts["occurrences"] = plans.generate_occurrences(
                start=start, end=now + timedelta(days=14)
            )
            h.plan_occurrences(start)
        h.daily_jobs(min(start, now - timedelta(days=31)))
        script_findings(h)
        script_supervision(h)
        h.timeline.run()
    counts.update(h.counts)
    return counts
