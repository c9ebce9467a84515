"""Every write of the notifications app: emitting events, read marks, robots, broadcasts.

``emit`` is called by other apps' services inside their own transaction, so the
notification rows and the outbox rows commit or roll back with the business change
(the transactional outbox): nothing is sent for a change that did not happen, and
nothing is lost for one that did. Delivery itself happens after commit, in a task.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import InvalidInput, NotFound, StaleVersion
from dayuan.core.scope import org_in_scope
from dayuan.orgs.models import Organization

from . import events
from .models import Channel, Event, Notification, OutboxMessage, WebhookEndpoint, WebhookKind

logger = logging.getLogger(__name__)

ENDPOINT_FIELDS = ["name", "url", "kind", "event_types", "is_active"]


def _ancestor_paths(path: str) -> list[str]:
    """``0001.0002.`` -> ``["0001.", "0001.0002."]``: the org and all its ancestors."""
    parts = [p for p in path.split(".") if p]
    return [".".join(parts[: i + 1]) + "." for i in range(len(parts))]


def _event_json(event: Event) -> dict[str, Any]:
    """The generic webhook body; also what robot messages are rendered from."""
    return {
        "id": event.pk,
        "type": event.type,
        "type_label": events.label(event.type),
        "org": {"id": event.org_id, "name": event.org.name},
        "title": event.title,
        "body": event.body,
        "link": event.link,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
    }


def _create_event(
    event_type: str,
    *,
    org: Organization,
    actor: Any,
    title: str,
    body: str,
    link: str,
    object: models.Model | None,
    dedupe_key: str | None,
    payload: dict[str, Any] | None,
) -> tuple[Event, bool]:
    """Insert the event, or return the one already recorded under ``dedupe_key``."""
    if not events.is_registered(event_type):
        raise ValueError(f"unknown event type {event_type!r}; register it in notifications.events")
    key = dedupe_key or uuid.uuid4().hex
    existing = Event.objects.filter(dedupe_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():  # a savepoint: a lost race must not spoil the caller
            event = Event.objects.create(
                type=event_type,
                org=org,
                actor=actor if getattr(actor, "pk", None) else None,
                object_type=object._meta.label_lower if object is not None else "",
                object_id=str(object.pk) if object is not None else "",
                title=str(title)[:200],
                body=str(body),
                link=str(link)[:500],
                payload=payload or {},
                dedupe_key=key[:200],
            )
    except IntegrityError:
        existing = Event.objects.filter(dedupe_key=key).first()
        if existing is None:
            raise
        return existing, False
    return event, True


def _fan_out(
    event: Event,
    recipients: list[Any],
    endpoints: Iterable[WebhookEndpoint],
) -> None:
    """Write the in-app rows and the outbox rows; enqueue delivery after commit."""
    now = timezone.now()
    Notification.objects.bulk_create(
        [
            Notification(
                recipient=user, event=event, title=event.title, body=event.body, link=event.link
            )
            for user in recipients
        ]
    )
    outbox = [
        OutboxMessage(
            event=event,
            channel=Channel.EMAIL,
            recipient=user,
            payload={"to": user.email, "subject": event.title, "body": event.body},
            next_attempt_at=now,
        )
        for user in recipients
        if user.email
    ]
    body = _event_json(event)
    outbox += [
        OutboxMessage(
            event=event, channel=Channel.WEBHOOK, endpoint=ep, payload=body, next_attempt_at=now
        )
        for ep in endpoints
        if events.matches(ep.event_types, event.type)
    ]
    if outbox:
        OutboxMessage.objects.bulk_create(outbox)
        transaction.on_commit(_enqueue_delivery, robust=True)


def _enqueue_delivery() -> None:
    # The periodic task is the safety net if this enqueue is lost (e.g. Redis down).
    from .tasks import deliver_outbox

    deliver_outbox()


def _unique_users(recipients: Iterable[Any]) -> list[Any]:
    seen: set[int] = set()
    result = []
    for user in recipients:
        if user is None or user.pk is None or user.pk in seen:
            continue
        seen.add(user.pk)
        result.append(user)
    return result


def emit(
    event_type: str,
    *,
    org: Organization,
    actor: Any = None,
    recipients: Iterable[Any],
    title: str,
    body: str,
    link: str = "",
    object: models.Model | None = None,
    dedupe_key: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Event:
    """Record a business event and notify, in the caller's transaction.

    A recipient whose grants do not reach ``org`` is dropped and logged: nobody is
    notified of another subtree's records, whatever the caller passes. The same
    ``dedupe_key`` twice gives the first event back and notifies nobody again.
    Robots whose organisation is ``org`` or one of its ancestors get the event.
    """
    event, created = _create_event(
        event_type,
        org=org,
        actor=actor,
        title=title,
        body=body,
        link=link,
        object=object,
        dedupe_key=dedupe_key,
        payload=payload,
    )
    if not created:
        return event
    kept = []
    for user in _unique_users(recipients):
        if user.is_active and org_in_scope(user, org):
            kept.append(user)
        else:
            logger.warning(
                "notification recipient dropped: user %s does not reach org %s (event %s %s)",
                user.pk,
                org.pk,
                event.pk,
                event_type,
            )
    endpoints = WebhookEndpoint.objects.filter(
        is_active=True, org__is_active=True, org__path__in=_ancestor_paths(org.path)
    )
    _fan_out(event, kept, endpoints)
    return event


# --- Read marks -------------------------------------------------------------------------


@audited("notifications.notification.read")
def mark_read(*, actor: Any, notification_ids: list[int]) -> int:
    """Mark the actor's own notifications read; others' ids are ignored (not revealed)."""
    ids = sorted({int(i) for i in notification_ids})[:500]
    if not ids:
        return 0
    updated = Notification.objects.filter(recipient=actor, pk__in=ids, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if updated:
        record(
            "notifications.notification.read",
            actor=actor,
            object_type="notifications.notification",
            changes={"ids": ids, "updated": updated},
        )
    return updated


@audited("notifications.notification.read_all")
def mark_all_read(*, actor: Any) -> int:
    updated = Notification.objects.filter(recipient=actor, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if updated:
        record(
            "notifications.notification.read_all",
            actor=actor,
            object_type="notifications.notification",
            changes={"updated": updated},
        )
    return updated


# --- Webhook endpoints ------------------------------------------------------------------


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > 500:
        raise InvalidInput(
            _("地址必须以 http:// 或 https:// 开头，且不超过 500 个字符。"),
            code="invalid_url",
            field="url",
        )
    return url


def _clean_event_types(values: list[str] | None) -> list[str]:
    cleaned = sorted({str(v).strip() for v in (values or []) if str(v).strip()})
    bad = [v for v in cleaned if not events.FILTER_PATTERN.match(v) or len(v) > 80]
    if bad or len(cleaned) > 50:
        raise InvalidInput(
            _("事件类型格式不正确，例如 system.announcement 或 workorders.*。"),
            code="invalid_event_types",
            field="event_types",
            values=bad,
        )
    return cleaned


def _clean_kind(kind: str) -> str:
    if kind not in WebhookKind.values:
        raise InvalidInput(_("机器人类型无效。"), code="invalid_kind", field="kind")
    return kind


def _endpoint_for_update(actor: Any, endpoint_id: int) -> WebhookEndpoint:
    ep = (
        WebhookEndpoint.objects.select_for_update()
        .select_related("org")
        .filter(pk=endpoint_id)
        .first()
    )
    if ep is None or not policy.can(actor, "webhooks.manage", ep.org):
        # Out of reach looks the same as missing: another county's robots are not revealed.
        raise NotFound()
    return ep


@audited("notifications.webhook.create")
def create_endpoint(
    *,
    actor: Any,
    org_id: int,
    name: str,
    url: str,
    kind: str = WebhookKind.WECOM,
    secret: str = "",
    event_types: list[str] | None = None,
    is_active: bool = True,
) -> WebhookEndpoint:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound()
    policy.require(actor, "webhooks.manage", org)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("名称不能为空。"), code="invalid_name", field="name")
    ep = WebhookEndpoint.objects.create(
        org=org,
        name=name[:100],
        url=_clean_url(url),
        kind=_clean_kind(kind),
        secret=(secret or "").strip()[:200],
        event_types=_clean_event_types(event_types),
        is_active=is_active,
    )
    record(
        "notifications.webhook.create",
        actor=actor,
        obj=ep,
        changes={**diff({}, snapshot(ep, ENDPOINT_FIELDS)), "secret": bool(ep.secret)},
    )
    return ep


@audited("notifications.webhook.update")
def update_endpoint(
    *, actor: Any, endpoint_id: int, version: int | None = None, **fields: Any
) -> WebhookEndpoint:
    """Change a robot; ``secret`` is write-only (``""`` clears it)."""
    ep = _endpoint_for_update(actor, endpoint_id)
    if version is not None and ep.version != version:
        raise StaleVersion(current_version=ep.version)
    allowed = {*ENDPOINT_FIELDS, "secret"}
    if set(fields) - allowed:
        raise InvalidInput(
            _("不能修改这些字段。"), code="readonly_field", fields=sorted(set(fields) - allowed)
        )
    if "url" in fields:
        fields["url"] = _clean_url(fields["url"])
    if "kind" in fields:
        fields["kind"] = _clean_kind(fields["kind"])
    if "event_types" in fields:
        fields["event_types"] = _clean_event_types(fields["event_types"])
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()[:100]
        if not fields["name"]:
            raise InvalidInput(_("名称不能为空。"), code="invalid_name", field="name")
    if "secret" in fields:
        fields["secret"] = (fields["secret"] or "").strip()[:200]
    before = snapshot(ep, ENDPOINT_FIELDS)
    for key, value in fields.items():
        setattr(ep, key, value)
    ep.version += 1
    ep.save()
    changes = diff(before, snapshot(ep, ENDPOINT_FIELDS))
    if "secret" in fields:
        changes["secret"] = "changed"  # noqa: S105 (a marker, never the secret)
    record("notifications.webhook.update", actor=actor, obj=ep, changes=changes)
    return ep


@audited("notifications.webhook.delete")
def delete_endpoint(*, actor: Any, endpoint_id: int) -> None:
    """Delete a robot; its undelivered messages go with it."""
    ep = _endpoint_for_update(actor, endpoint_id)
    record(
        "notifications.webhook.delete",
        actor=actor,
        obj=ep,
        changes=diff(snapshot(ep, ENDPOINT_FIELDS), {}),
    )
    ep.delete()


# --- Broadcast --------------------------------------------------------------------------


@audited("notifications.broadcast")
def broadcast(*, actor: Any, org_id: int, title: str, body: str, link: str = "") -> Event:
    """An announcement to every active user whose home unit is in the org's subtree.

    Unlike a record, an announcement is published downwards on purpose: a city notice
    reaches county staff whose grants do not reach the city. The audience is the
    subtree of an org the actor manages, so it can never leak to a sibling county.
    The robots of the org, of its ancestors and of its subtree get it too.
    """
    org = Organization.objects.filter(pk=org_id, is_active=True).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound()
    policy.require(actor, "notifications.broadcast", org)
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise InvalidInput(_("标题不能为空，且不超过 200 个字符。"), code="invalid_title")
    event, _created = _create_event(
        events.SYSTEM_ANNOUNCEMENT,
        org=org,
        actor=actor,
        title=title,
        body=body or "",
        link=link,
        object=None,
        dedupe_key=None,
        payload={"broadcast": True},
    )
    users = list(
        get_user_model()
        .objects.filter(is_active=True, home_org__path__startswith=org.path)
        .order_by("pk")
    )
    endpoints = WebhookEndpoint.objects.filter(is_active=True, org__is_active=True).filter(
        models.Q(org__path__in=_ancestor_paths(org.path)) | models.Q(org__path__startswith=org.path)
    )
    _fan_out(event, users, endpoints)
    record(
        "notifications.broadcast",
        actor=actor,
        obj=event,
        org=org,
        changes={"title": title, "recipients": len(users)},
    )
    return event
