"""The home page per role, and a plain health check for load balancers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from . import policy
from .context_processors import nav_items, unread_for
from .scope import grants_of, scoped

# What each role does here, shown beside the user's grants (one line each).
ROLE_HINTS = {
    "staff": _("提出服务需求，查看自己单位的场所与消息。"),
    "dispatcher": _("受理并派发服务需求，跟踪处理进度。"),
    "worker": _("接收派工，按标准完成并反馈服务。"),
    "inspector": _("开展巡检，发现问题并跟踪整改。"),
    "manager": _("管理本单位的场所、人员与服务标准，查看统计与审计。"),
    "assessor": _("对受托的服务单位和考核周期进行评分。"),
    "admin": _("管理用户、角色授权、组织架构与系统设置。"),
}


def _latest_notifications(user: Any, n: int = 5) -> list[Any] | None:
    """The newest notifications, from whichever reader the notifications app offers.

    ``None`` (not ``[]``) when it offers none, so the page shows no empty list.
    """
    from dayuan.notifications import queries

    latest = getattr(queries, "latest", None)
    if callable(latest):
        return list(latest(user, n))
    inbox = getattr(queries, "inbox", None)
    if callable(inbox):
        return list(inbox(user)[:n])
    return None


def _scope_stats(user: Any) -> dict[str, int]:
    """Counts of what the user manages: three aggregate queries whatever the tree's size."""
    from dayuan.accounts.models import User
    from dayuan.orgs.choices import LocationKind, OrgKind
    from dayuan.orgs.models import Location, Organization

    roles = policy.MANAGERS
    orgs = scoped(user, Organization.objects.filter(is_active=True), roles).aggregate(
        total=Count("pk"), centres=Count("pk", filter=Q(kind__in=OrgKind.centres()))
    )
    locs = scoped(user, Location.objects.filter(is_active=True), roles).aggregate(
        total=Count("pk"),
        compounds=Count("pk", filter=Q(kind=LocationKind.COMPOUND)),
        rooms=Count("pk", filter=Q(kind=LocationKind.ROOM)),
    )
    users = scoped(user, User.objects.filter(is_active=True), roles).count()
    return {
        "orgs": orgs["total"],
        "centres": orgs["centres"],
        "locations": locs["total"],
        "compounds": locs["compounds"],
        "rooms": locs["rooms"],
        "users": users,
    }


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    grants = grants_of(user)
    roles = {g.role for g in grants}
    home_org = next((g.org for g in grants if g.org_id == user.home_org_id), None)
    if home_org is None and user.home_org_id:
        home_org = user.home_org
    manages = bool(roles & policy.MANAGERS)
    return render(
        request,
        "core/home.html",
        {
            "active_nav": "home",
            "roles": roles,
            "grants": [
                {"grant": g, "hint": ROLE_HINTS.get(g.role, "")}
                for g in sorted(grants, key=lambda g: (g.org.path, g.role))
            ],
            "home_org": home_org,
            "unread": unread_for(request),
            "latest": _latest_notifications(user),
            "manages": manages,
            "stats": _scope_stats(user) if manages else None,
            "links": [item for item in nav_items(user) if item["key"] != "home"],
        },
    )


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})
