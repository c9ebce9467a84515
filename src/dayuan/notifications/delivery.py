"""Sending the outbox: claim, send, mark; retry with backoff; give up after 8 attempts.

Guarantees, stated honestly:

* **At most one row per (event, channel, recipient/endpoint)** — the outbox's unique
  constraints, written in the business transaction. A business event emitted twice, a
  retried request or a re-run job cannot make a second row, so there is never a second
  *intended* delivery to the same recipient for the same event.
* **At-least-once transport for each row.** A worker claims due rows with one
  compare-and-set UPDATE (``status`` pending/failed, or ``sending`` whose lease of
  ``LEASE`` has run out, and ``next_attempt_at <= now``) that stamps a fresh
  ``claim_token``; two workers can never both claim a row inside its lease. After
  sending, the row is marked ``sent`` by a CAS on that token. A worker that dies after
  claiming loses nothing: after the lease the row is claimed again. A worker that dies
  *after the receiver accepted the message but before marking it* makes the one case
  of a repeated delivery: the row is sent again after the lease. Every delivery carries
  the row id (``X-Dayuan-Delivery`` header on webhooks and e-mails, and a stable
  ``Message-ID`` on e-mails) so a receiver can drop that duplicate. WeCom/DingTalk group
  robots do not dedupe, so in that rare case a group may see a message twice.
* **Retries.** ``attempts`` counts claims (so a message that crashes its worker still
  runs out). A failed attempt n (1..7) is retried after 2^(n-1) minutes: 1, 2, 4, 8,
  16, 32, 64 min; the 8th failure marks the row ``dead`` (kept, with ``last_error``, for
  an administrator to see). A robot that has been disabled or deleted, or a recipient
  deactivated, ends the row without sending.

Nothing here holds a database transaction open across the network: the claim and each
mark are single autocommit statements.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.utils import timezone

from dayuan import __version__

from . import events
from .models import Channel, OutboxMessage, OutboxStatus, WebhookKind

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BATCH_SIZE = 50
MAX_BATCHES = 20  # per run; the next run (or the periodic task) takes the rest
RESPONSE_LIMIT = 64 * 1024
DELIVERY_HEADER = "X-Dayuan-Delivery"


class DeliveryError(Exception):
    """The receiver did not accept the message; the row will be retried."""


class GiveUp(Exception):
    """Sending can never succeed (robot disabled, recipient gone): end the row now."""


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 1, 2, 4, … minutes."""
    return timedelta(minutes=2 ** max(attempts - 1, 0))


@dataclass
class RunResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    lost: int = 0  # lease lost before marking (another worker took over)
    ids: list[int] = field(default_factory=list)


def _due(now: datetime) -> Q:
    return (
        Q(status__in=[OutboxStatus.PENDING, OutboxStatus.FAILED])
        | Q(status=OutboxStatus.SENDING, claimed_at__lt=now - LEASE)
    ) & Q(next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS)


def claim(
    *, now: datetime | None = None, limit: int | None = None
) -> tuple[str, list[OutboxMessage]]:
    """Claim up to ``limit`` due rows for this worker; returns (token, rows)."""
    now = now or timezone.now()
    _bury_abandoned(now)
    return claim_ids(due_ids(now=now, limit=limit), now=now)


def due_ids(*, now: datetime, limit: int | None = None) -> list[int]:
    """Candidates only: another worker may claim them before our UPDATE runs."""
    return list(
        OutboxMessage.objects.filter(_due(now))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[: limit or BATCH_SIZE]
    )


def claim_ids(ids: list[int], *, now: datetime) -> tuple[str, list[OutboxMessage]]:
    """The compare-and-set: take those of ``ids`` that are still due, under a new token.

    The UPDATE checks the due condition itself, so a row another worker claimed since
    the candidates were read (status ``sending``, fresh ``claimed_at``) is not taken.
    On PostgreSQL a concurrent UPDATE of the same row waits and then re-checks the
    condition on the new row version; on SQLite writers are serialised.
    """
    token = uuid.uuid4().hex
    if not ids:
        return token, []
    OutboxMessage.objects.filter(_due(now), id__in=ids).update(
        status=OutboxStatus.SENDING,
        claim_token=token,
        claimed_at=now,
        attempts=F("attempts") + 1,
    )
    rows = list(
        OutboxMessage.objects.filter(claim_token=token, status=OutboxStatus.SENDING)
        .select_related("event", "event__org", "endpoint", "recipient")
        .order_by("id")
    )
    return token, rows


def _bury_abandoned(now: datetime) -> None:
    """A row whose last allowed attempt lost its worker is dead, not stuck in sending."""
    OutboxMessage.objects.filter(
        status=OutboxStatus.SENDING,
        claimed_at__lt=now - LEASE,
        attempts__gte=MAX_ATTEMPTS,
    ).update(status=OutboxStatus.DEAD, last_error="lease expired on the last attempt")


def _mark_sent(msg: OutboxMessage, token: str) -> bool:
    return bool(
        OutboxMessage.objects.filter(
            pk=msg.pk, claim_token=token, status=OutboxStatus.SENDING
        ).update(status=OutboxStatus.SENT, sent_at=timezone.now(), last_error="")
    )


def _mark_failed(
    msg: OutboxMessage, token: str, error: str, *, now: datetime, give_up: bool = False
) -> str:
    dead = give_up or msg.attempts >= MAX_ATTEMPTS
    status = OutboxStatus.DEAD if dead else OutboxStatus.FAILED
    OutboxMessage.objects.filter(pk=msg.pk, claim_token=token, status=OutboxStatus.SENDING).update(
        status=status,
        last_error=error[:2000],
        next_attempt_at=now if dead else now + backoff(msg.attempts),
    )
    return status


def deliver_due(*, now: datetime | None = None, max_batches: int = MAX_BATCHES) -> RunResult:
    """Claim and send due rows in batches until none is due (or ``max_batches``)."""
    result = RunResult()
    for _ in range(max_batches):
        batch_now = now or timezone.now()  # fresh per batch, so leases stay honest
        token, rows = claim(now=batch_now)
        if not rows:
            break
        result.claimed += len(rows)
        for msg in rows:
            send_claimed(msg, token, result, now=batch_now)
    return result


def send_claimed(
    msg: OutboxMessage,
    token: str,
    result: RunResult | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Send one claimed row and record the outcome by CAS on ``token``."""
    result = result if result is not None else RunResult()
    now = now or timezone.now()
    try:
        send(msg)
    except GiveUp as exc:
        _mark_failed(msg, token, str(exc), now=now, give_up=True)
        result.dead += 1
        return
    except Exception as exc:  # any failure of the transport is retried
        logger.warning("outbox %s attempt %s failed: %s", msg.pk, msg.attempts, exc)
        status = _mark_failed(msg, token, f"{type(exc).__name__}: {exc}", now=now)
        if status == OutboxStatus.DEAD:
            result.dead += 1
        else:
            result.failed += 1
        return
    if _mark_sent(msg, token):
        result.sent += 1
        result.ids.append(msg.pk)
    else:
        logger.warning("outbox %s sent but its lease was lost; a duplicate is possible", msg.pk)
        result.lost += 1


def send(msg: OutboxMessage) -> None:
    if msg.channel == Channel.EMAIL:
        send_email(msg)
    elif msg.channel == Channel.WEBHOOK:
        send_webhook(msg)
    else:
        raise GiveUp(f"unknown channel {msg.channel}")


# --- E-mail -----------------------------------------------------------------------------


def send_email(msg: OutboxMessage) -> None:
    user = msg.recipient
    if user is None or not user.is_active:
        raise GiveUp("recipient inactive or deleted")
    to = msg.payload.get("to") or user.email
    if not to:
        raise GiveUp("recipient has no e-mail address")
    body = msg.payload.get("body", "")
    link = _absolute(msg.event.link)
    if link:
        body = f"{body}\n\n{link}"
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "dayuan.local"
    email = EmailMessage(
        subject=msg.payload.get("subject", msg.event.title),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            DELIVERY_HEADER: str(msg.pk),
            # Stable per row: a mail system can drop a re-sent duplicate.
            "Message-ID": f"<dayuan-outbox-{msg.pk}@{domain}>",
        },
    )
    email.send(fail_silently=False)


# --- Webhooks ---------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A robot URL that redirects is misconfigured; never follow it elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _absolute(link: str) -> str:
    if not link or link.startswith(("http://", "https://")):
        return link
    base = getattr(settings, "SITE_URL", "") or ""
    return f"{base.rstrip('/')}{link}" if base else ""


def render_webhook(kind: str, event: dict[str, Any]) -> dict[str, Any]:
    """The JSON a robot of ``kind`` expects for the generic event body ``event``."""
    if kind == WebhookKind.GENERIC:
        return event
    title = event.get("title", "")
    lines = [f"**{title}**"]
    if event.get("body"):
        lines.append(event["body"])
    org = (event.get("org") or {}).get("name", "")
    lines.append(f"> {org} · {event.get('type_label') or events.label(event.get('type', ''))}")
    link = _absolute(event.get("link", ""))
    if link:
        lines.append(f"[查看详情]({link})")
    text = "\n\n".join(lines)
    if kind == WebhookKind.DINGTALK:
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    return {"msgtype": "markdown", "markdown": {"content": text}}


def _dingtalk_signed(url: str, secret: str) -> str:
    """DingTalk's 加签: timestamp (ms) and base64 HMAC-SHA256 of "ts\\nsecret" in the query."""
    ts = str(int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={sign}"


def send_webhook(msg: OutboxMessage) -> None:
    ep = msg.endpoint
    if ep is None or not ep.is_active:
        raise GiveUp("webhook endpoint disabled or deleted")
    url = ep.url
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise GiveUp("webhook URL must be http or https")
    body = json.dumps(render_webhook(ep.kind, msg.payload), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": f"Dayuan/{__version__}",
        DELIVERY_HEADER: str(msg.pk),
        "X-Dayuan-Event": msg.event.type,
    }
    if ep.secret:
        ts = str(int(time.time()))
        mac = hmac.new(ep.secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
        headers["X-Dayuan-Timestamp"] = ts
        headers["X-Dayuan-Signature"] = "sha256=" + mac.hexdigest()
        if ep.kind == WebhookKind.DINGTALK:
            url = _dingtalk_signed(url, ep.secret)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (scheme checked above)
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
            raw = response.read(RESPONSE_LIMIT)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")
    if ep.kind in {WebhookKind.WECOM, WebhookKind.DINGTALK}:
        # Both robots answer 200 with {"errcode": 0} on success and a non-zero errcode
        # (bad key, rate limit, bad signature) otherwise.
        try:
            reply = json.loads(raw or b"{}")
        except ValueError:
            reply = {}
        errcode = reply.get("errcode", 0) if isinstance(reply, dict) else 0
        if errcode not in (0, "0", None):
            raise DeliveryError(f"robot errcode {errcode}: {reply.get('errmsg', '')}"[:500])
