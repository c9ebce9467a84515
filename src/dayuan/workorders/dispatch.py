"""Automatic dispatch: which team answers for an order, and which of its workers takes it.

Team: the responsibility for the order's category (or, failing that, its parent
category) at the order's organisation or the nearest ancestor organisation that has
one; within an organisation an exact category beats the parent, and a responsibility
whose location is the nearest ancestor-or-self of the order's location beats a farther
one, with "no location" (the whole organisation) last.

Worker: among the team's members who are on duty, active and (if the category names a
skill) have that skill, the one with the fewest open orders; ties go to whoever was
assigned longest ago (never assigned first), then by username.

Four queries whatever the size of the team or of the order history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q
from django.utils.translation import gettext as _

from .catalogue import ancestor_paths
from .choices import OPEN_STATUSES
from .models import Responsibility, Team, TeamMember, WorkOrder


@dataclass(frozen=True)
class Choice:
    team: Team
    assignee: Any | None  # a User, or None: the order goes to the team's shared queue
    reason: str


@dataclass(frozen=True)
class _Facts:
    org_path: str
    location_path: str | None
    category_id: int
    category_name: str
    parent_id: int | None
    skill: str


def _facts(order: WorkOrder) -> _Facts | None:
    """What the choice depends on, in one query (the caller's instance may be bare)."""
    row = (
        WorkOrder.objects.filter(pk=order.pk)
        .values(
            "org__path",
            "location__path",
            "category_id",
            "category__name",
            "category__parent_id",
            "category__skill",
            "category__parent__skill",
        )
        .first()
    )
    if row is None:
        return None
    return _Facts(
        org_path=row["org__path"],
        location_path=row["location__path"],
        category_id=row["category_id"],
        category_name=row["category__name"],
        parent_id=row["category__parent_id"],
        skill=row["category__skill"] or row["category__parent__skill"] or "",
    )


def _best_responsibility(facts: _Facts) -> Responsibility | None:
    categories = [facts.category_id] + ([facts.parent_id] if facts.parent_id else [])
    where = Q(location__isnull=True)
    if facts.location_path:
        where |= Q(location__path__in=ancestor_paths(facts.location_path))
    rows = list(
        Responsibility.objects.filter(
            where,
            category_id__in=categories,
            org__path__in=ancestor_paths(facts.org_path),
            team__is_active=True,
        ).select_related("org", "location", "category", "team", "team__vendor")
    )
    if not rows:
        return None

    def rank(r: Responsibility) -> tuple[int, int, int, int]:
        return (
            -len(r.org.path),  # nearest organisation first
            0 if r.category_id == facts.category_id else 1,  # exact category before parent
            -(len(r.location.path) if r.location is not None else 0),  # nearest location
            r.pk,
        )

    return min(rows, key=rank)


def choose(order: WorkOrder) -> Choice | None:
    """The team and worker for ``order``, with a sentence saying why; None when no
    responsibility covers the order (see ``no_match_reason``)."""
    facts = _facts(order)
    if facts is None:
        return None
    resp = _best_responsibility(facts)
    if resp is None:
        return None
    team = resp.team
    where = (
        _("“%(loc)s”") % {"loc": resp.location.name}
        if resp.location is not None
        else _("“%(org)s”全单位") % {"org": resp.org.name}
    )
    basis = _("按“%(cat)s”在%(where)s的责任分工派给班组“%(team)s”") % {
        "cat": resp.category.name,
        "where": where,
        "team": team.name,
    }
    members = [
        m
        for m in TeamMember.objects.filter(
            team=team, on_duty=True, user__is_active=True
        ).select_related("user")
        if not facts.skill or facts.skill in (m.skills or [])
    ]
    if not members:
        if facts.skill:
            why = _("班组内没有在岗且具备“%(skill)s”技能的人员，工单进入班组待领队列") % {
                "skill": facts.skill
            }
        else:
            why = _("班组内没有在岗人员，工单进入班组待领队列")
        return Choice(team=team, assignee=None, reason=f"{basis}；{why}。")
    stats = {
        row["assignee_id"]: row
        for row in WorkOrder.objects.filter(assignee_id__in=[m.user_id for m in members])
        .values("assignee_id")
        .annotate(open=Count("pk", filter=Q(status__in=OPEN_STATUSES)), last=Max("dispatched_at"))
        .order_by()
    }

    def load(m: TeamMember) -> tuple[int, int, float, str]:
        s = stats.get(m.user_id)
        last = s["last"] if s else None
        # never assigned sorts before any assignment
        return (
            s["open"] if s else 0,
            0 if last is None else 1,
            last.timestamp() if last is not None else 0.0,
            m.user.username,
        )

    best = min(members, key=load)
    open_count = load(best)[0]
    name = getattr(best.user, "display_name", "") or best.user.username
    qualities = (
        _("在岗、具备“%(skill)s”技能") % {"skill": facts.skill} if facts.skill else _("在岗")
    )
    why = _(
        "选择%(name)s：%(qualities)s，当前未完成工单 %(n)s 件，在 %(count)s 名候选人中负荷最低"
    ) % {"name": name, "qualities": qualities, "n": open_count, "count": len(members)}
    return Choice(team=team, assignee=best.user, reason=f"{basis}；{why}。")


def no_match_reason(order: WorkOrder) -> str:
    """Why ``choose`` found nothing: for the order's timeline when it stays submitted."""
    name = getattr(getattr(order, "category", None), "name", "") or ""
    return _("未找到“%(cat)s”在该地点的责任班组，工单保持待派单状态，请服务台人工派单。") % {
        "cat": name
    }
