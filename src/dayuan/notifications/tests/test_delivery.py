"""Delivery: e-mail and webhooks, retries with backoff, leases after a crash, parallel workers."""

from __future__ import annotations

import hashlib
import hmac
import threading
import urllib.parse
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from dayuan.notifications import delivery, events, services
from dayuan.notifications.models import Channel, OutboxMessage, OutboxStatus


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://dayuan.example.gov.cn"


def _emit(world, org, recipients=(), **extra):
    return services.emit(
        events.SYSTEM_ANNOUNCEMENT,
        org=org,
        actor=world.user("a_manager"),
        recipients=list(recipients),
        title=extra.pop("title", "停电通知"),
        body="1号楼周六停电检修。",
        link="/notifications/",
        **extra,
    )


def test_it_sends_emails_to_in_scope_recipients(world):
    event = _emit(world, world.county_a, [world.user("a_staff"), world.user("b_staff")])
    result = delivery.deliver_due()
    assert result.sent == 1
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == ["a_staff@example.gov.cn"]
    assert msg.subject == "停电通知"
    assert "1号楼周六停电检修。" in msg.body
    assert "https://dayuan.example.gov.cn/notifications/" in msg.body
    row = OutboxMessage.objects.get(event=event)
    assert msg.extra_headers["X-Dayuan-Delivery"] == str(row.pk)
    assert row.status == OutboxStatus.SENT and row.sent_at is not None and row.attempts == 1
    assert delivery.deliver_due().claimed == 0
    assert len(mail.outbox) == 1


def test_it_posts_wecom_dingtalk_and_generic_json(world, robot, receiver):
    robot(world.county_a, "/wecom", kind="wecom")
    robot(world.county_a, "/dingtalk", kind="dingtalk")
    robot(world.city, "/generic", kind="generic")
    event = _emit(world, world.county_a)
    assert delivery.deliver_due().sent == 3

    (wecom,) = receiver.at("/wecom")
    assert wecom.json["msgtype"] == "markdown"
    content = wecom.json["markdown"]["content"]
    assert "**停电通知**" in content and "甲县机关服务中心" in content and "系统公告" in content
    assert "[查看详情](https://dayuan.example.gov.cn/notifications/)" in content

    (ding,) = receiver.at("/dingtalk")
    assert ding.json["msgtype"] == "markdown"
    assert ding.json["markdown"]["title"] == "停电通知"
    assert "1号楼周六停电检修。" in ding.json["markdown"]["text"]

    (generic,) = receiver.at("/generic")
    body = generic.json
    assert body["id"] == event.pk and body["type"] == "system.announcement"
    assert body["org"] == {"id": world.county_a.pk, "name": "甲县机关服务中心"}
    assert body["title"] == "停电通知"
    for r in receiver.received:
        row = OutboxMessage.objects.get(pk=int(r.delivery))
        assert row.status == OutboxStatus.SENT
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.headers["X-Dayuan-Event"] == "system.announcement"
        assert "X-Dayuan-Signature" not in r.headers


def test_it_signs_when_a_secret_is_set(world, robot, receiver):
    robot(world.county_a, "/signed", kind="generic", secret="s3cret")
    robot(world.county_a, "/ding", kind="dingtalk", secret="SECxyz")
    _emit(world, world.county_a)
    delivery.deliver_due()
    (signed,) = receiver.at("/signed")
    ts = signed.headers["X-Dayuan-Timestamp"]
    expected = hmac.new(b"s3cret", ts.encode() + b"." + signed.raw, hashlib.sha256).hexdigest()
    assert signed.headers["X-Dayuan-Signature"] == "sha256=" + expected
    (ding,) = receiver.at("/ding")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(ding.path).query)
    assert "timestamp" in query and "sign" in query


def test_it_does_not_send_county_a_events_to_county_bs_robot(world, robot, receiver):
    robot(world.county_b, "/b")
    robot(world.county_a, "/a")
    _emit(world, world.county_a, title="甲县事件")
    delivery.deliver_due()
    assert receiver.at("/b") == []
    assert len(receiver.at("/a")) == 1


def test_it_retries_with_backoff_and_gives_up_after_eight_attempts(world, robot, receiver):
    receiver.status = 500
    robot(world.county_a, "/down")
    _emit(world, world.county_a)
    row = OutboxMessage.objects.get()
    now = row.next_attempt_at
    waits = []
    for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
        # Not yet due a moment before the retry time.
        assert delivery.deliver_due(now=now - timedelta(seconds=1)).claimed == 0
        result = delivery.deliver_due(now=now)
        assert result.claimed == 1
        row.refresh_from_db()
        assert row.attempts == attempt
        assert "HTTP 500" in row.last_error
        if attempt < delivery.MAX_ATTEMPTS:
            assert row.status == OutboxStatus.FAILED
            waits.append(row.next_attempt_at - now)
            now = row.next_attempt_at
    assert row.status == OutboxStatus.DEAD
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 64)]
    assert len(receiver.received) == delivery.MAX_ATTEMPTS
    assert delivery.deliver_due(now=now + timedelta(days=1)).claimed == 0


def test_it_recovers_after_a_failure(world, robot, receiver):
    receiver.status = 503
    robot(world.county_a, "/flaky")
    _emit(world, world.county_a)
    now = timezone.now()
    assert delivery.deliver_due(now=now).failed == 1
    receiver.status = 200
    result = delivery.deliver_due(now=now + timedelta(minutes=1))
    assert result.sent == 1
    row = OutboxMessage.objects.get()
    assert row.status == OutboxStatus.SENT and row.attempts == 2 and row.last_error == ""


def test_it_treats_a_robot_errcode_as_a_failure(world, robot, receiver):
    receiver.reply = b'{"errcode": 93000, "errmsg": "invalid webhook url"}'
    robot(world.county_a, "/wecom", kind="wecom")
    _emit(world, world.county_a)
    assert delivery.deliver_due().failed == 1
    row = OutboxMessage.objects.get()
    assert row.status == OutboxStatus.FAILED and "93000" in row.last_error


def test_it_ends_messages_to_a_disabled_robot_without_sending(world, robot, receiver):
    ep = robot(world.county_a, "/off")
    _emit(world, world.county_a)
    ep.is_active = False
    ep.save()
    assert delivery.deliver_due().dead == 1
    assert receiver.received == []
    assert OutboxMessage.objects.get().status == OutboxStatus.DEAD


def test_it_does_not_resend_within_the_lease_after_a_crash(world, robot, receiver):
    robot(world.county_a, "/crash")
    _emit(world, world.county_a)
    t0 = timezone.now()
    token, rows = delivery.claim(now=t0)
    assert len(rows) == 1  # ... and the worker dies here, before sending
    assert delivery.deliver_due(now=t0 + timedelta(minutes=1)).claimed == 0
    assert delivery.deliver_due(now=t0 + delivery.LEASE - timedelta(seconds=1)).claimed == 0
    assert receiver.received == []
    result = delivery.deliver_due(now=t0 + delivery.LEASE + timedelta(seconds=1))
    assert result.sent == 1
    assert len(receiver.received) == 1
    assert delivery.deliver_due(now=t0 + timedelta(hours=1)).claimed == 0
    assert len(receiver.received) == 1
    row = OutboxMessage.objects.get()
    assert row.status == OutboxStatus.SENT and row.attempts == 2
    # The dead worker cannot mark the row any more: its token is stale.
    assert not delivery._mark_sent(rows[0], token)


def test_it_repeats_a_send_that_was_not_marked_with_the_same_delivery_id(world, robot, receiver):
    """The honest case: crash after the receiver accepted but before marking."""
    robot(world.county_a, "/dup")
    _emit(world, world.county_a)
    t0 = timezone.now()
    _token, rows = delivery.claim(now=t0)
    delivery.send(rows[0])  # accepted by the receiver, then the worker dies
    delivery.deliver_due(now=t0 + delivery.LEASE + timedelta(seconds=1))
    assert len(receiver.received) == 2
    assert receiver.received[0].delivery == receiver.received[1].delivery == str(rows[0].pk)


def test_it_buries_a_message_whose_last_attempt_lost_its_worker(world, robot, receiver):
    robot(world.county_a, "/x")
    _emit(world, world.county_a)
    OutboxMessage.objects.update(attempts=delivery.MAX_ATTEMPTS - 1)
    t0 = timezone.now()
    delivery.claim(now=t0)  # the 8th attempt, then a crash
    assert delivery.deliver_due(now=t0 + delivery.LEASE + timedelta(seconds=1)).claimed == 0
    assert OutboxMessage.objects.get().status == OutboxStatus.DEAD
    assert receiver.received == []


def test_it_does_not_let_a_slower_worker_claim_rows_another_worker_took(world, robot, receiver):
    robot(world.county_a, "/a")
    for i in range(3):
        _emit(world, world.county_a, title=f"事件{i}")
    now = timezone.now()
    slow_candidates = delivery.due_ids(now=now)  # worker A reads candidates ...
    token_b, rows_b = delivery.claim(now=now)  # ... worker B claims them first ...
    assert len(rows_b) == 3
    _token_a, rows_a = delivery.claim_ids(slow_candidates, now=now)  # ... A's CAS misses
    assert rows_a == []
    for msg in rows_b:
        delivery.send_claimed(msg, token_b, now=now)
    assert sorted(r.delivery for r in receiver.received) == sorted(str(m.pk) for m in rows_b)


def test_it_enqueues_delivery_after_commit_only(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _emit(world, world.county_a, [world.user("a_staff")])
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _emit(world, world.county_a, [])  # nothing to deliver, nothing to enqueue
    assert callbacks == []


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_it_never_sends_a_message_twice_with_parallel_workers(world, robot, receiver, monkeypatch):
    monkeypatch.setattr(services, "_enqueue_delivery", lambda: None)
    receiver.delay = 0.005
    monkeypatch.setattr(delivery, "BATCH_SIZE", 2)  # many small claims: many chances to race
    robot(world.county_a, "/a")
    robot(world.city, "/city")
    for i in range(20):
        _emit(world, world.county_a, [world.user("a_staff")], title=f"事件{i}")
    expected_webhooks = OutboxMessage.objects.filter(channel=Channel.WEBHOOK).count()
    expected_emails = OutboxMessage.objects.filter(channel=Channel.EMAIL).count()
    assert (expected_webhooks, expected_emails) == (40, 20)

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                delivery.deliver_due(max_batches=100)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    deliveries = [r.delivery for r in receiver.received]
    assert len(deliveries) == expected_webhooks
    assert len(set(deliveries)) == expected_webhooks
    assert len(mail.outbox) == expected_emails
    assert len({m.extra_headers["X-Dayuan-Delivery"] for m in mail.outbox}) == expected_emails
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


@pytest.mark.django_db(transaction=True)
def test_it_delivers_through_the_task_queue_after_commit(world, robot, receiver):
    from huey.contrib.djhuey import HUEY

    robot(world.county_a, "/queued")
    previous = HUEY.immediate
    HUEY.immediate = True  # run enqueued tasks in-process, as `make run` may
    try:
        with transaction.atomic():
            _emit(world, world.county_a, [world.user("a_staff")])
            assert receiver.received == []  # nothing leaves before the commit
        assert len(receiver.at("/queued")) == 1
        assert len(mail.outbox) == 1
        assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}
    finally:
        HUEY.immediate = previous
