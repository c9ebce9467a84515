"""Scoped reads of users and grants."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from dayuan.core.policy import ACTIONS
from dayuan.core.scope import scoped

from .models import Grant, User


def users(user: Any, *, org_id: int | None = None, q: str | None = None) -> QuerySet[User]:
    """Users whose home organisation the viewer manages (managers and administrators)."""
    qs = scoped(user, User.objects.all(), roles=ACTIONS["users.view"]).select_related("home_org")
    if org_id is not None:
        qs = qs.filter(home_org_id=org_id)
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
    return qs.order_by("username")


def grants(user: Any, *, user_id: int | None = None) -> QuerySet[Grant]:
    qs = scoped(user, Grant.objects.all(), roles=ACTIONS["users.view"]).select_related(
        "org", "user"
    )
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    return qs.order_by("user__username", "org__path", "role")
