"""Pages: the inbox shows and marks only the user's own messages; robots page in scope."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dayuan.notifications import events, services
from dayuan.notifications.models import Event, Notification, WebhookEndpoint


def _login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def a_notice(world):
    event = services.emit(
        events.SYSTEM_ANNOUNCEMENT,
        org=world.county_a,
        recipients=[world.user("a_staff"), world.user("b_staff")],
        title="甲县食堂菜单更新",
        body="本周菜单已更新。",
        link="/orgs/locations/",
    )
    return Notification.objects.get(event=event)


def test_it_shows_the_inbox_with_unread_highlighted(client, world, a_notice):
    res = _login(client, world.user("a_staff")).get(reverse("notifications:inbox"))
    assert res.status_code == 200
    html = res.content.decode()
    assert "甲县食堂菜单更新" in html
    assert 'class="notice unread"' in html
    assert 'data-testid="unread-badge">1<' in html
    assert res.context["active_nav"] == "notifications"


def test_it_shows_b_staff_nothing_of_county_a(client, world, a_notice):
    res = _login(client, world.user("b_staff")).get(reverse("notifications:inbox"))
    assert "甲县食堂菜单更新" not in res.content.decode()
    assert "unread-badge" not in res.content.decode()


def test_it_marks_one_read_with_htmx_and_returns_the_row(client, world, a_notice):
    _login(client, world.user("a_staff"))
    res = client.post(reverse("notifications:read", args=[a_notice.pk]), HTTP_HX_REQUEST="true")
    assert res.status_code == 200
    html = res.content.decode()
    assert html.lstrip().startswith("<li") and "notice unread" not in html and "已读" in html
    a_notice.refresh_from_db()
    assert a_notice.read_at is not None


def test_it_does_not_let_b_staff_mark_or_open_a_staffs_notification(client, world, a_notice):
    _login(client, world.user("b_staff"))
    assert client.post(reverse("notifications:read", args=[a_notice.pk])).status_code == 404
    assert client.get(reverse("notifications:open", args=[a_notice.pk])).status_code == 404
    client.post(reverse("notifications:read_all"))
    a_notice.refresh_from_db()
    assert a_notice.read_at is None


def test_it_marks_all_read(client, world, a_notice):
    _login(client, world.user("a_staff"))
    res = client.post(reverse("notifications:read_all"))
    assert res.status_code == 302
    assert not Notification.objects.filter(recipient=world.user("a_staff"), read_at=None).exists()


def test_it_opens_the_link_and_marks_read(client, world, a_notice):
    _login(client, world.user("a_staff"))
    res = client.get(reverse("notifications:open", args=[a_notice.pk]))
    assert res.status_code == 302 and res["Location"] == "/orgs/locations/"
    a_notice.refresh_from_db()
    assert a_notice.read_at is not None


def test_it_does_not_redirect_to_another_site(client, world):
    event = services.emit(
        events.SYSTEM_ANNOUNCEMENT,
        org=world.county_a,
        recipients=[world.user("a_staff")],
        title="x",
        body="",
        link="https://evil.example.com/",
    )
    n = Notification.objects.get(event=event)
    res = _login(client, world.user("a_staff")).get(reverse("notifications:open", args=[n.pk]))
    assert res["Location"] == reverse("notifications:inbox")


def _fill_inbox(world, user, count, prefix):
    rows = Event.objects.bulk_create(
        [
            Event(
                type=events.SYSTEM_ANNOUNCEMENT,
                org=world.county_a,
                title=f"通知{i}",
                dedupe_key=f"{prefix}:{i}",
            )
            for i in range(count)
        ]
    )
    Notification.objects.bulk_create(
        [Notification(recipient=user, event=e, title=e.title) for e in rows]
    )


def test_it_renders_the_inbox_in_constant_queries(client, world, django_assert_max_num_queries):
    user = world.user("a_staff")
    _login(client, user)
    _fill_inbox(world, user, 3, "few")
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("notifications:inbox")).status_code == 200
    _fill_inbox(world, user, 297, "many")
    assert Notification.objects.filter(recipient=user).count() == 300
    with django_assert_max_num_queries(len(few.captured_queries)):
        res = client.get(reverse("notifications:inbox"))
    assert res.status_code == 200
    assert res.content.decode().count('data-testid="notification"') == 30
    assert 'data-testid="unread-badge">300<' in res.content.decode()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("notifications:inbox") + "?page=5").status_code == 200


# --- robots page ----------------------------------------------------------------------------


@pytest.fixture
def a_robot(world):
    return services.create_endpoint(
        actor=world.user("a_manager"),
        org_id=world.county_a.pk,
        name="甲县后勤群",
        url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
    )


def test_it_lists_robots_in_the_managers_scope(client, world, a_robot):
    res = _login(client, world.user("a_manager")).get(reverse("notifications:webhooks"))
    assert res.status_code == 200 and "甲县后勤群" in res.content.decode()
    client.logout()
    res = _login(client, world.user("b_manager")).get(reverse("notifications:webhooks"))
    assert res.status_code == 200 and "甲县后勤群" not in res.content.decode()


def test_it_refuses_the_robots_page_to_staff(client, world):
    res = _login(client, world.user("a_staff")).get(reverse("notifications:webhooks"))
    assert res.status_code == 403


def test_it_adds_and_disables_a_robot_from_the_page(client, world):
    _login(client, world.user("a_manager"))
    res = client.post(
        reverse("notifications:webhooks"),
        {
            "org_id": world.county_a.pk,
            "name": "甲县值班群",
            "kind": "wecom",
            "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            "event_types": [events.SYSTEM_ANNOUNCEMENT],
        },
    )
    assert res.status_code == 302
    ep = WebhookEndpoint.objects.get(name="甲县值班群")
    assert ep.event_types == [events.SYSTEM_ANNOUNCEMENT]
    client.post(reverse("notifications:webhook_toggle", args=[ep.pk]))
    ep.refresh_from_db()
    assert not ep.is_active


def test_it_does_not_let_b_manager_add_touch_a_robot_of_county_a(client, world, a_robot):
    _login(client, world.user("b_manager"))
    res = client.post(
        reverse("notifications:webhooks"),
        {"org_id": world.county_a.pk, "name": "x", "kind": "wecom", "url": "https://x.cn/"},
    )
    assert res.status_code == 422  # county A is not among the form's choices
    assert (
        client.post(reverse("notifications:webhook_toggle", args=[a_robot.pk])).status_code == 404
    )
    assert (
        client.post(reverse("notifications:webhook_delete", args=[a_robot.pk])).status_code == 404
    )
    a_robot.refresh_from_db()
    assert a_robot.is_active


def test_it_broadcasts_from_the_page(client, world):
    _login(client, world.user("a_manager"))
    assert client.get(reverse("notifications:broadcast")).status_code == 200
    res = client.post(
        reverse("notifications:broadcast"),
        {"org_id": world.county_a.pk, "title": "周五消防演练", "body": "请准时参加。"},
    )
    assert res.status_code == 302
    assert Notification.objects.filter(
        recipient=world.user("a_staff"), title="周五消防演练"
    ).exists()
    assert not Notification.objects.filter(recipient=world.user("b_staff")).exists()
    client.logout()
    res = _login(client, world.user("a_staff")).get(reverse("notifications:broadcast"))
    assert res.status_code == 403
