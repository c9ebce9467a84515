"""What every page of the shell needs: navigation for the user's roles, unread count."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import policy

# The shell's sections, in menu order: (key, URL name, label, hint, icon, action(s) or None;
# a section with several actions shows when the user may do any of them).
# The phone's bottom bar shows the first five the user may open.
SECTIONS = [
    ("home", "core:home", _("首页"), "", "home", None),
    (
        "workorders",
        "workorders:home",
        _("报修"),
        _("一键报修、派单与服务评价"),
        "wrench",
        "workorders.request",
    ),
    (
        "bookings",
        "bookings:home",
        pgettext_lazy("section", "预约"),
        _("会议室预订、会议服务与理发等服务预约"),
        "calendar",
        "bookings.book",
    ),
    (
        "inspections",
        "inspections:home",
        _("检查"),
        _("巡检、自查、问题整改与验收"),
        "shield",
        ("inspections.view_all", "inspections.conduct", "inspections.rectify"),
    ),
    (
        "orgs",
        "orgs:locations",
        _("场所"),
        _("大院、楼栋、楼层与房间"),
        "building",
        "locations.view",
    ),
    (
        "canteen",
        "canteen:home",
        _("食堂"),
        _("每日菜单、报餐取餐、食品安全与浪费"),
        "bowl",
        "canteen.reserve",
    ),
    (
        "resources",
        "resources:home",
        _("资源"),
        _("资源广场、需求匹配、公物仓与志愿服务"),
        "org",
        "resources.use",
    ),
    ("notifications", "notifications:inbox", _("消息"), _("通知与提醒"), "bell", None),
    (
        "standards",
        "standards:library",
        _("标准"),
        _("服务标准、条款与符合率"),
        "book",
        "standards.view",
    ),
    (
        "supervision",
        "supervision:home",
        _("督办"),
        _("督办事项、催办与红黄绿灯"),
        "org",
        ("supervision.view_all", "supervision.issue", "supervision.handle"),
    ),
    (
        "assessment",
        "assessment:home",
        _("考核"),
        _("合同、考核评分、付款与满意度调查"),
        "user",
        ("assessment.view", "assessment.score", "assessment.appeal"),
    ),
    ("calendar", "workcalendar:year", _("日历"), _("工作日与节假日"), "calendar", "calendar.view"),
    ("audit", "audit:list", _("审计"), _("谁在何时做了什么"), "shield", "audit.view"),
]


def nav_items(user: Any) -> list[dict[str, Any]]:
    """The sections this user may open; a section whose page is not installed is left out."""
    items = []
    for key, url_name, label, hint, icon, action in SECTIONS:
        actions = (action,) if isinstance(action, str) else action or ()
        if actions and not any(policy.can(user, a) for a in actions):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"key": key, "url": url, "label": label, "hint": hint, "icon": icon})
    return items


def unread_for(request: HttpRequest) -> int:
    """The user's unread notification count, computed once per request."""
    cached = getattr(request, "_dayuan_unread", None)
    if cached is None:
        from dayuan.notifications.queries import unread_count

        cached = unread_count(request.user)
        request._dayuan_unread = cached  # type: ignore[attr-defined]
    return cached


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if not hasattr(request, "_dayuan_nav"):
        request._dayuan_nav = nav_items(user)  # type: ignore[attr-defined]
    return {"nav_items": request._dayuan_nav, "unread_notifications": unread_for(request)}
