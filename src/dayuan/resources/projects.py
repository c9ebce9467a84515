"""民生微实事 micro-projects: small public-good projects a unit proposes with a budget,
a manager approves, the leader carries out (progress, money spent, people reached) and
completes with an outcome; the resources committed to them (allocations, funds),
their volunteer activities and demands are summed up by ``project_summary``.

Anyone may propose for an org their grants reach (``resources.use``); a manager
(``resources.manage`` over the org) approves or turns it down; the leader or a manager
reports progress and completes it. Spending never exceeds the budget (422
``over_budget``). A project the actor cannot see (``queries.visible_projects``) is a
404. ``now`` is for tests and jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from dayuan.accounts.models import User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.core.numbers import next_number
from dayuan.core.scope import org_in_scope
from dayuan.core.text import clean_text
from dayuan.orgs.models import Location, Organization

from . import queries
from .choices import (
    ActivityStatus,
    AllocationStatus,
    DemandStatus,
    ProjectStatus,
    ResourceKind,
    SignUpStatus,
)
from .models import Allocation, MicroProject, SignUp

PROJECT_DATA = frozenset(
    {
        "org_id",
        "title",
        "description",
        "budget",
        "location_id",
        "leader_id",
        "starts_on",
        "ends_on",
    }
)
PROJECT_FIELDS = [
    "org_id",
    "number",
    "title",
    "budget",
    "spent",
    "status",
    "progress",
    "beneficiaries",
    "outcome",
    "location_id",
    "leader_id",
    "starts_on",
    "ends_on",
    "version",
]
MAX_BUDGET = Decimal("100000000")
MAX_BENEFICIARIES = 10_000_000
CENT = Decimal("0.01")
# allocations that committed the resource to the project (held now or used)
COMMITTED = (
    AllocationStatus.APPROVED,
    AllocationStatus.IN_USE,
    AllocationStatus.RETURNED,
    AllocationStatus.COMPLETED,
)
RUNNING = (ProjectStatus.APPROVED, ProjectStatus.IN_PROGRESS)


# --- small checks ------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _pk(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _data(data: Mapping[str, Any] | None) -> dict[str, Any]:
    if data is None or not isinstance(data, Mapping):
        raise InvalidInput(_("提交的数据格式无效。"), code="invalid", field="data")
    unknown = sorted(str(k) for k in data if k not in PROJECT_DATA)
    if unknown:
        raise InvalidInput(
            _("未知字段：%(fields)s。")
            % {"fields": pgettext("list separator", "、").join(unknown)},
            code="unknown_field",
            field=unknown[0],
        )
    return dict(data)


def _money(value: Any, field: str, label: Any) -> Decimal:
    amount: Decimal | None = None
    if not isinstance(value, bool) and value is not None and value != "":
        try:
            amount = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            amount = None
    if (
        amount is None
        or not amount.is_finite()
        or not Decimal(0) <= amount <= MAX_BUDGET
        or amount != amount.quantize(CENT)
    ):
        raise InvalidInput(
            _("%(field)s须在 0 到 %(max)s 元之间，最多两位小数。")
            % {"field": label, "max": MAX_BUDGET},
            code="invalid_amount",
            field=field,
        )
    return amount.quantize(CENT)


def _count(value: Any, field: str, label: Any, high: int) -> int:
    if _pk(value) is None or not 0 <= value <= high:
        raise InvalidInput(
            _("%(field)s须为 0 到 %(high)s 之间的整数。") % {"field": label, "high": high},
            code="out_of_range",
            field=field,
            low=0,
            high=high,
        )
    return value


def _day(value: Any, field: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(_("日期无效。"), code="invalid_day", field=field)
    return value


def _within_budget(project: MicroProject, spent: Decimal) -> None:
    if spent > project.budget:
        raise InvalidInput(
            _("已支出 %(spent)s 元超过预算 %(budget)s 元。")
            % {"spent": spent, "budget": project.budget},
            code="over_budget",
            field="spent",
            budget=str(project.budget),
        )


def _project(actor: Any, project_id: Any) -> MicroProject:
    """A project the actor sees, row locked; else 404."""
    project = None
    if (pk := _pk(project_id)) is not None:
        project = (
            queries.visible_projects(actor)
            .select_for_update(of=("self",))
            .select_related("org")
            .filter(pk=pk)
            .order_by()
            .first()
        )
    if project is None:
        raise NotFound(_("项目不存在或无权访问。"))
    return project


def _require_running(project: MicroProject, action: Any) -> None:
    if project.status not in RUNNING:
        raise Conflict(
            _("项目当前状态为“%(status)s”，不能%(action)s。")
            % {"status": ProjectStatus(project.status).label, "action": action},
            code="invalid_transition",
            status=project.status,
        )


def _require_leader_or_manager(actor: Any, project: MicroProject) -> None:
    if project.leader_id != getattr(actor, "pk", None) and not policy.can(
        actor, "resources.manage", project.org
    ):
        raise PermissionDenied(action="resources.manage")


# --- writes -------------------------------------------------------------------------------


@audited("resources.project.create")
def create_project(
    *, actor: Any, data: Mapping[str, Any], now: datetime | None = None
) -> MicroProject:
    """Propose a project (申报) for an org the actor's grants reach. ``data``:
    ``org_id``, ``title``, ``description``, ``budget``, ``location_id`` (of that org or
    below), ``leader_id`` (default the actor; someone whose grants reach the org),
    ``starts_on``, ``ends_on`` (dates)."""
    now = _now(now)
    fields = _data(data)
    org = None
    if (pk := _pk(fields.get("org_id"))) is not None:
        org = Organization.objects.filter(pk=pk, is_active=True).first()
    if org is None or not org_in_scope(actor, org):
        raise NotFound(_("单位不存在或无权访问。"))
    policy.require(actor, "resources.use", org)
    title = clean_text(fields.get("title"), "title", _("项目名称"), 200)
    description = clean_text(
        fields.get("description"), "description", _("项目内容"), 2000, required=False
    )
    budget = _money(fields.get("budget"), "budget", _("预算"))
    leader = actor
    if fields.get("leader_id") is not None:
        leader = None
        if (pk := _pk(fields["leader_id"])) is not None:
            leader = User.objects.filter(pk=pk, is_active=True).first()
        if leader is None or not org_in_scope(leader, org):
            raise InvalidInput(_("项目负责人无效。"), code="invalid_leader", field="leader_id")
    location = None
    if fields.get("location_id") is not None:
        if (pk := _pk(fields["location_id"])) is not None:
            location = Location.objects.select_related("org").filter(pk=pk).first()
        if location is None or not location.is_active or not location.org.path.startswith(org.path):
            raise InvalidInput(
                _("实施地点须属于承办单位。"), code="invalid_location", field="location_id"
            )
    starts_on = _day(fields.get("starts_on"), "starts_on")
    ends_on = _day(fields.get("ends_on"), "ends_on")
    if starts_on and ends_on and ends_on < starts_on:
        raise InvalidInput(
            _("计划完成日期须不早于开始日期。"), code="window_invalid", field="ends_on"
        )
    project = None
    for _attempt in range(5):
        try:
            with transaction.atomic():  # a savepoint: a number taken meanwhile is retried
                project = MicroProject.objects.create(
                    org=org,
                    number=next_number(MicroProject, "WS", now),
                    title=title,
                    description=description,
                    budget=budget,
                    location=location,
                    leader=leader,
                    starts_on=starts_on,
                    ends_on=ends_on,
                )
            break
        except IntegrityError:
            continue
    if project is None:
        raise Conflict(_("项目编号分配冲突，请重试。"), code="number_conflict")
    record(
        "resources.project.create",
        actor=actor,
        obj=project,
        changes=diff({}, snapshot(project, PROJECT_FIELDS)),
    )
    return project


@audited("resources.project.decide")
def decide_project(
    *,
    actor: Any,
    project_id: int,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> MicroProject:
    """A manager approves a proposed project (立项) or turns it down (cancelled)."""
    now = _now(now)
    project = _project(actor, project_id)
    policy.require(actor, "resources.manage", project.org)
    if project.status != ProjectStatus.PROPOSED:
        raise Conflict(
            _("项目当前状态为“%(status)s”，不能审批。")
            % {"status": ProjectStatus(project.status).label},
            code="invalid_transition",
            status=project.status,
        )
    note = clean_text(note, "note", _("审批意见"), 500, required=False)
    before = snapshot(project, PROJECT_FIELDS)
    if approve:
        project.status = ProjectStatus.APPROVED
        project.approved_at = now
    else:
        project.status = ProjectStatus.CANCELLED
    project.version += 1
    project.save()
    record(
        "resources.project.decide",
        actor=actor,
        obj=project,
        changes=diff(before, snapshot(project, PROJECT_FIELDS)),
        reason=note,
    )
    return project


@audited("resources.project.progress")
def update_progress(
    *,
    actor: Any,
    project_id: int,
    progress: int,
    spent: Decimal | None = None,
    beneficiaries: int | None = None,
    note: str = "",
    version: int | None = None,
    now: datetime | None = None,
) -> MicroProject:
    """The leader or a manager reports progress (0–100 %), money spent so far (never
    over the budget) and people reached. The first report starts the project
    (approved → in progress)."""
    now = _now(now)
    project = _project(actor, project_id)
    _require_leader_or_manager(actor, project)
    _require_running(project, _("更新进度"))
    if version is not None and project.version != version:
        raise StaleVersion(current_version=project.version)
    if _pk(progress) is None or not 0 <= progress <= 100:
        raise InvalidInput(
            _("进度须为 0 到 100 之间的整数。"), code="out_of_range", field="progress"
        )
    note = clean_text(note, "note", _("进展说明"), 500, required=False)
    before = snapshot(project, PROJECT_FIELDS)
    if spent is not None:
        project.spent = _money(spent, "spent", _("已支出"))
        _within_budget(project, project.spent)
    if beneficiaries is not None:
        project.beneficiaries = _count(
            beneficiaries, "beneficiaries", _("受益人数"), MAX_BENEFICIARIES
        )
    project.progress = progress
    project.status = ProjectStatus.IN_PROGRESS
    project.version += 1
    project.save()
    changes = diff(before, snapshot(project, PROJECT_FIELDS))
    changes["at"] = now.isoformat()
    record("resources.project.progress", actor=actor, obj=project, changes=changes, reason=note)
    return project


@audited("resources.project.complete")
def complete_project(
    *,
    actor: Any,
    project_id: int,
    outcome: str,
    beneficiaries: int,
    spent: Decimal,
    now: datetime | None = None,
) -> MicroProject:
    """The leader or a manager closes a running project with its outcome (成效), the
    people reached and the money spent (within the budget)."""
    now = _now(now)
    project = _project(actor, project_id)
    _require_leader_or_manager(actor, project)
    _require_running(project, _("完成"))
    outcome = clean_text(outcome, "outcome", _("成效"), 2000)
    beneficiaries = _count(beneficiaries, "beneficiaries", _("受益人数"), MAX_BENEFICIARIES)
    spent = _money(spent, "spent", _("已支出"))
    _within_budget(project, spent)
    before = snapshot(project, PROJECT_FIELDS)
    project.outcome, project.beneficiaries, project.spent = outcome, beneficiaries, spent
    project.progress = 100
    project.status = ProjectStatus.COMPLETED
    project.completed_at = now
    project.version += 1
    project.save()
    record(
        "resources.project.complete",
        actor=actor,
        obj=project,
        changes=diff(before, snapshot(project, PROJECT_FIELDS)),
    )
    return project


# --- the summary ---------------------------------------------------------------------------


def project_summary(project: MicroProject) -> dict[str, Any]:
    """What a project has: budget and spending; the resources committed to it
    (allocations approved, in use, returned or completed), by kind, with their cost and
    what reuse saved; funds granted (fund allocations' amounts, yuan); requests still
    waiting; volunteer activities and the hours served at them (attended sign-ups);
    demands by status. Five queries whatever the size. The caller has checked that the
    user may see the project (``queries.project_for``).

    ``{"budget", "spent", "remaining", "allocations": [{"kind", "label", "count",
    "amount", "cost", "saved"}], "allocations_pending", "funds", "cost", "saved",
    "activities", "volunteers", "volunteer_hours", "demands": {status: n},
    "demands_total"}`` (money and hours as Decimal)."""
    zero = Decimal("0.00")
    rows = (
        Allocation.objects.filter(project=project, status__in=COMMITTED)
        .values("resource__kind")
        .annotate(n=Count("pk"), amount=Sum("amount"), cost=Sum("cost"), saved=Sum("saved"))
        .order_by("resource__kind")
    )
    labels = dict(ResourceKind.choices)
    allocations = [
        {
            "kind": r["resource__kind"],
            "label": str(labels.get(r["resource__kind"], r["resource__kind"])),
            "count": r["n"],
            "amount": r["amount"] or 0,
            "cost": r["cost"] or zero,
            "saved": r["saved"] or zero,
        }
        for r in rows
    ]
    pending = Allocation.objects.filter(project=project, status=AllocationStatus.REQUESTED).count()
    funds = sum((Decimal(a["amount"]) for a in allocations if a["kind"] == ResourceKind.FUND), zero)
    attended = SignUp.objects.filter(activity__project=project, status=SignUpStatus.ATTENDED)
    served = attended.aggregate(hours=Sum("hours"), people=Count("volunteer_id", distinct=True))
    activities = project.activities.exclude(status=ActivityStatus.CANCELLED).count()
    by_status = dict(
        project.demands.values("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    demands = {s: by_status.get(s, 0) for s in DemandStatus.values if by_status.get(s)}
    return {
        "budget": project.budget,
        "spent": project.spent,
        "remaining": project.budget - project.spent,
        "allocations": allocations,
        "allocations_pending": pending,
        "funds": funds.quantize(CENT),
        "cost": sum((a["cost"] for a in allocations), zero),
        "saved": sum((a["saved"] for a in allocations), zero),
        "activities": activities,
        "volunteers": served["people"] or 0,
        "volunteer_hours": served["hours"] or Decimal("0.0"),
        "demands": demands,
        "demands_total": sum(demands.values()),
    }
