"""emit: scope, dedupe, fan-out to robots; broadcasts; robot services."""

from __future__ import annotations

import logging

import pytest
from django.db import IntegrityError, transaction

from dayuan.core.errors import InvalidInput, NotFound, PermissionDenied
from dayuan.notifications import events, services
from dayuan.notifications.models import Channel, Event, Notification, OutboxMessage


def _emit(world, org, recipients, **extra):
    return services.emit(
        events.SYSTEM_ANNOUNCEMENT,
        org=org,
        actor=world.user("a_manager"),
        recipients=recipients,
        title=extra.pop("title", "停水通知"),
        body="明日 9:00-12:00 停水。",
        link="/orgs/locations/",
        **extra,
    )


def test_it_notifies_each_in_scope_recipient_once(world):
    a_staff, a_manager = world.user("a_staff"), world.user("a_manager")
    event = _emit(world, world.county_a, [a_staff, a_manager, a_staff])
    rows = Notification.objects.filter(event=event)
    assert sorted(rows.values_list("recipient__username", flat=True)) == ["a_manager", "a_staff"]
    assert rows.get(recipient=a_staff).title == "停水通知"
    emails = OutboxMessage.objects.filter(event=event, channel=Channel.EMAIL)
    assert sorted(emails.values_list("payload__to", flat=True)) == [
        "a_manager@example.gov.cn",
        "a_staff@example.gov.cn",
    ]


def test_it_drops_a_county_b_recipient_of_a_county_a_event(world, caplog):
    b_staff = world.user("b_staff")
    with caplog.at_level(logging.WARNING, logger="dayuan.notifications.services"):
        event = _emit(world, world.county_a, [world.user("a_staff"), b_staff])
    assert not Notification.objects.filter(recipient=b_staff).exists()
    assert not OutboxMessage.objects.filter(recipient=b_staff).exists()
    assert Notification.objects.filter(event=event).count() == 1
    assert any("dropped" in r.message and str(b_staff.pk) in r.message for r in caplog.records)


def test_it_lets_the_city_manager_be_notified_of_county_events(world):
    event = _emit(world, world.county_a, [world.user("city_manager")])
    assert Notification.objects.filter(event=event, recipient=world.user("city_manager")).exists()


def test_it_drops_inactive_recipients_and_users_without_email(world):
    a_staff, a_manager = world.user("a_staff"), world.user("a_manager")
    a_staff.is_active = False
    a_staff.save()
    a_manager.email = ""
    a_manager.save()
    event = _emit(world, world.county_a, [a_staff, a_manager])
    assert list(Notification.objects.filter(event=event).values_list("recipient", flat=True)) == [
        a_manager.pk
    ]
    assert not OutboxMessage.objects.filter(event=event, channel=Channel.EMAIL).exists()


def test_it_records_one_event_for_the_same_dedupe_key(world):
    a_staff = world.user("a_staff")
    first = _emit(world, world.county_a, [a_staff], dedupe_key="wo:42:assigned")
    second = _emit(world, world.county_a, [a_staff], dedupe_key="wo:42:assigned", title="另一个")
    assert first.pk == second.pk
    assert Event.objects.filter(dedupe_key="wo:42:assigned").count() == 1
    assert Notification.objects.filter(recipient=a_staff).count() == 1
    assert OutboxMessage.objects.filter(event=first).count() == 1


def test_it_keeps_the_callers_transaction_usable_after_a_dedupe_race(world):
    """The insert runs in a savepoint: losing the unique race returns the first event."""
    a_staff = world.user("a_staff")
    first = _emit(world, world.county_a, [a_staff], dedupe_key="k1")
    with transaction.atomic():
        # Simulate the race: the pre-check misses, the insert hits the unique index.
        from unittest import mock

        with mock.patch.object(Event.objects, "filter", wraps=Event.objects.filter) as flt:
            flt.return_value.first.side_effect = [None, first]
            again = _emit(world, world.county_a, [a_staff], dedupe_key="k1")
        assert again.pk == first.pk
        assert Event.objects.count() == 1  # the transaction still works


def test_it_refuses_an_unregistered_event_type(world):
    with pytest.raises(ValueError, match="unknown event type"):
        services.emit("nobody.registered", org=world.county_a, recipients=[], title="x", body="y")


def test_it_enforces_one_outbox_row_per_event_channel_recipient_in_the_database(world):
    a_staff = world.user("a_staff")
    event = _emit(world, world.county_a, [a_staff])
    msg = OutboxMessage.objects.get(event=event, channel=Channel.EMAIL)
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboxMessage.objects.create(
            event=event,
            channel=Channel.EMAIL,
            recipient=a_staff,
            next_attempt_at=msg.next_attempt_at,
        )


def test_it_sends_a_countys_events_to_its_robot_and_the_citys_only(world, robot):
    city, a, b = (
        robot(world.city, "/city"),
        robot(world.county_a, "/a"),
        robot(world.county_b, "/b"),
    )
    robot(world.county_a, "/a-off", is_active=False)
    event = _emit(world, world.county_a, [])
    targets = set(
        OutboxMessage.objects.filter(event=event, channel=Channel.WEBHOOK).values_list(
            "endpoint", flat=True
        )
    )
    assert targets == {city.pk, a.pk}
    event_b = _emit(world, world.county_b, [])
    targets_b = set(OutboxMessage.objects.filter(event=event_b).values_list("endpoint", flat=True))
    assert targets_b == {city.pk, b.pk}


def test_it_applies_the_robots_event_type_filter(world, robot):
    wanted = robot(world.county_a, "/system", event_types=["system.*"])
    exact = robot(world.county_a, "/exact", event_types=[events.SYSTEM_ANNOUNCEMENT])
    robot(world.county_a, "/workorders", event_types=["workorders.*"])
    event = _emit(world, world.county_a, [])
    targets = set(OutboxMessage.objects.filter(event=event).values_list("endpoint", flat=True))
    assert targets == {wanted.pk, exact.pk}


def test_it_writes_nothing_when_the_business_transaction_rolls_back(world):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        _emit(world, world.county_a, [world.user("a_staff")])
        raise Boom
    assert not Event.objects.exists()
    assert not Notification.objects.exists()
    assert not OutboxMessage.objects.exists()


# --- broadcast ----------------------------------------------------------------------------


def test_it_broadcasts_a_city_notice_to_everyone_below(world, robot):
    a_robot, b_robot = robot(world.county_a, "/a"), robot(world.county_b, "/b")
    event = services.broadcast(
        actor=world.user("city_manager"), org_id=world.city.pk, title="国庆放假通知", body="..."
    )
    names = set(
        Notification.objects.filter(event=event).values_list("recipient__username", flat=True)
    )
    assert {"a_staff", "b_staff", "vendor_worker", "assessor", "city_manager"} <= names
    robots = set(OutboxMessage.objects.filter(event=event).values_list("endpoint", flat=True))
    assert {a_robot.pk, b_robot.pk} <= robots


def test_it_keeps_a_county_broadcast_inside_the_county(world, robot):
    a_robot, b_robot = robot(world.county_a, "/a"), robot(world.county_b, "/b")
    event = services.broadcast(
        actor=world.user("a_manager"), org_id=world.county_a.pk, title="甲县通知", body="..."
    )
    names = set(
        Notification.objects.filter(event=event).values_list("recipient__username", flat=True)
    )
    assert "a_staff" in names and "vendor_worker" in names
    assert not any(n.startswith("b_") or n.startswith("city") for n in names)
    robots = set(OutboxMessage.objects.filter(event=event).values_list("endpoint", flat=True))
    assert a_robot.pk in robots and b_robot.pk not in robots


def test_it_refuses_broadcasts_above_or_beside_the_actors_reach(world):
    with pytest.raises(NotFound):  # the city is above a county manager's reach
        services.broadcast(actor=world.user("a_manager"), org_id=world.city.pk, title="x", body="")
    with pytest.raises(NotFound):
        services.broadcast(
            actor=world.user("b_manager"), org_id=world.county_a.pk, title="x", body=""
        )
    with pytest.raises(PermissionDenied):
        services.broadcast(
            actor=world.user("a_staff"), org_id=world.county_a.pk, title="x", body=""
        )
    assert not Notification.objects.exists()


# --- robots -------------------------------------------------------------------------------


def test_it_lets_only_managers_in_reach_manage_robots(world):
    ep = services.create_endpoint(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        name="甲县后勤群",
        url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
        kind="wecom",
    )
    with pytest.raises(PermissionDenied):
        services.create_endpoint(
            actor=world.user("a_staff"), org_id=world.county_a.pk, name="x", url="https://x.cn/"
        )
    with pytest.raises(NotFound):
        services.create_endpoint(
            actor=world.user("b_manager"), org_id=world.county_a.pk, name="x", url="https://x.cn/"
        )
    with pytest.raises(NotFound):
        services.update_endpoint(actor=world.user("b_manager"), endpoint_id=ep.pk, is_active=False)
    with pytest.raises(NotFound):
        services.delete_endpoint(actor=world.user("b_manager"), endpoint_id=ep.pk)
    ep.refresh_from_db()
    assert ep.is_active
    services.update_endpoint(actor=world.user("city_manager"), endpoint_id=ep.pk, is_active=False)
    ep.refresh_from_db()
    assert not ep.is_active and ep.version == 2


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)", ""]
)
def test_it_refuses_robot_urls_that_are_not_http(world, url):
    with pytest.raises(InvalidInput):
        services.create_endpoint(
            actor=world.user("a_manager"), org_id=world.county_a.pk, name="x", url=url
        )


def test_it_refuses_malformed_event_type_filters(world):
    with pytest.raises(InvalidInput):
        services.create_endpoint(
            actor=world.user("a_manager"),
            org_id=world.county_a.pk,
            name="x",
            url="https://x.cn/",
            event_types=["DROP TABLE"],
        )
