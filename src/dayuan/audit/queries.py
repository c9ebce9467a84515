"""Scoped reads of the audit log for the page, the export and the API.

A manager or administrator sees the entries of the organisations their grants reach.
Entries without an organisation (failed sign-ins by unknown names, retention pruning,
system jobs) belong to no subtree, so only an administrator granted at a root
organisation (the city centre) sees them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from dayuan.accounts.choices import Role
from dayuan.core import policy
from dayuan.core.scope import grants_of, scoped

from .models import AuditEntry

EXPORT_CAP = 50_000


def sees_unattributed(user: Any) -> bool:
    """True for an administrator granted at a root of the organisation tree."""
    return any(g.role == Role.ADMIN and g.org.parent_id is None for g in grants_of(user))


def visible(user: Any) -> QuerySet[AuditEntry]:
    base = AuditEntry.objects.all()
    qs = scoped(user, base, roles=policy.ACTIONS["audit.view"])
    if sees_unattributed(user):
        qs = qs | base.filter(org__isnull=True)
    return qs


def _start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return timezone.make_aware(datetime.combine(value, time.min))


def entries(
    user: Any,
    *,
    action: str | None = None,
    actor: str | int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    q: str | None = None,
) -> QuerySet[AuditEntry]:
    """The user's visible entries, newest first, filtered.

    ``action`` matches a prefix ("orgs." finds every orgs action); ``actor`` is a user
    id or a username; a date ``until`` includes that whole day, a datetime is inclusive.
    """
    qs = visible(user)
    if action:
        qs = qs.filter(action__startswith=action.strip())
    if actor not in (None, ""):
        text = str(actor).strip()
        cond = Q(actor_name__iexact=text)
        if text.isdigit():
            cond |= Q(actor_id=int(text))
        qs = qs.filter(cond)
    if object_type:
        qs = qs.filter(object_type=object_type.strip())
    if object_id not in (None, ""):
        qs = qs.filter(object_id=str(object_id).strip())
    if outcome:
        qs = qs.filter(outcome=outcome)
    if since is not None:
        qs = qs.filter(at__gte=_start(since))
    if until is not None:
        if isinstance(until, datetime):
            qs = qs.filter(at__lte=_start(until))
        else:
            qs = qs.filter(at__lt=_start(until + timedelta(days=1)))
    if q:
        text = q.strip()
        qs = qs.filter(
            Q(object_repr__icontains=text)
            | Q(reason__icontains=text)
            | Q(actor_name__icontains=text)
            | Q(action__icontains=text)
            | Q(object_id=text)
        )
    return qs.select_related("org").order_by("-id")
