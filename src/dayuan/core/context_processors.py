"""What every page of the shell needs: navigation for the user's roles, unread count."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import policy


def _nav(user: Any) -> list[dict[str, Any]]:
    items = [{"url": reverse("core:home"), "label": _("首页"), "icon": "home", "key": "home"}]
    if policy.can(user, "locations.view"):
        items.append(
            {
                "url": reverse("orgs:locations"),
                "label": _("场所"),
                "icon": "building",
                "key": "orgs",
            }
        )
    items.append(
        {
            "url": reverse("notifications:inbox"),
            "label": _("消息"),
            "icon": "bell",
            "key": "notifications",
        }
    )
    if policy.can(user, "audit.view"):
        items.append(
            {"url": reverse("audit:list"), "label": _("审计"), "icon": "shield", "key": "audit"}
        )
    return items


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from dayuan.notifications.queries import unread_count

    return {"nav_items": _nav(user), "unread_notifications": unread_count(user)}
