"""Reads: a user's own inbox, and the robots a manager may see.

The inbox is filtered by recipient: scope was enforced when each row was written
(``services.emit`` drops recipients whose grants do not reach the event's org).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from dayuan.core import policy
from dayuan.core.errors import NotFound
from dayuan.core.scope import scoped

from .models import Notification, WebhookEndpoint


def unread_count(user: Any) -> int:
    """One indexed COUNT on (recipient, read_at); called by every page of the shell."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).count()


def inbox(user: Any, *, unread: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient_id=user.pk)
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return qs.select_related("event").order_by("-id")


def notification(user: Any, pk: int) -> Notification:
    row = inbox(user).filter(pk=pk).first()
    if row is None:
        raise NotFound()
    return row


def endpoints(user: Any) -> QuerySet[WebhookEndpoint]:
    """Robots of the orgs where the user may manage robots (their URLs carry keys)."""
    return scoped(
        user, WebhookEndpoint.objects.all(), roles=policy.roles_for("webhooks.manage")
    ).select_related("org")


def endpoint(user: Any, pk: int) -> WebhookEndpoint:
    ep = endpoints(user).filter(pk=pk).first()
    if ep is None:
        raise NotFound()
    return ep
