"""Org scope: county B never sees, changes or hears of county A's orders; a vendor
worker sees only what is assigned to them (or their team); staff see their own."""

from __future__ import annotations

import pytest

from dayuan.notifications.models import Notification
from dayuan.workorders.choices import Status
from dayuan.workorders.models import Team, WorkOrder

from .core_factories import advance, build, submit

pytestmark = pytest.mark.django_db

B_USERS = ("b_staff", "b_manager", "b_dispatcher", "b_inspector", "b_admin")


@pytest.fixture
def s(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return build(world)


def test_it_keeps_county_a_orders_from_county_b_users(api, s):
    order = advance(s, submit(s), Status.DISPATCHED)
    path = f"/api/v1/workorders/{order.pk}"
    for name in B_USERS:
        client = api(s.user(name))
        assert client.get("/api/v1/workorders").json()["count"] == 0, name
        assert client.get(f"/api/v1/workorders?org_id={s.world.county_a.pk}").json()["count"] == 0
        assert client.get(path).status_code == 404, name
        assert client.get("/api/v1/workorders/queue").json()["count"] == 0
        for action, data in (
            ("cancel", {"reason": "x"}),
            ("transfer", {"reason": "x", "team_id": s.team.pk}),
            ("accept", {}),
            ("pause", {"reason": "waiting_parts"}),
        ):
            r = client.post(f"{path}/{action}", {"version": order.version, **data})
            assert r.status_code == 404, (name, action, r.content)
    fresh = WorkOrder.objects.get(pk=order.pk)
    assert fresh.status == Status.DISPATCHED and fresh.version == order.version
    # the city sees every county
    assert api(s.user("city_manager")).get(path).status_code == 200


def test_it_never_notifies_county_b_of_county_a_orders(api, s):
    order = submit(s)
    order = advance(s, order, Status.RESOLVED)
    assert Notification.objects.filter(recipient=s.user("a_dispatcher")).exists()
    for name in B_USERS:
        assert not Notification.objects.filter(recipient=s.user(name)).exists(), name
        inbox = api(s.user(name)).get("/api/v1/notifications").json()
        assert inbox["count"] == 0, name


def test_it_refuses_county_b_teams_and_requesters_for_county_a_orders(s):
    from dayuan.core.errors import InvalidInput
    from dayuan.workorders import services

    team_b = Team.objects.create(org=s.world.county_b, name="乙县维修班")
    order = submit(s)
    with pytest.raises(InvalidInput) as exc:
        services.dispatch(
            actor=s.user("a_dispatcher"),
            order_id=order.pk,
            version=order.version,
            team_id=team_b.pk,
        )
    assert exc.value.code == "invalid_team"
    with pytest.raises(InvalidInput) as exc:
        submit(s, actor="a_dispatcher", requester_id=s.user("b_staff").pk, channel="desk")
    assert exc.value.code == "invalid_requester"


def test_it_shows_a_vendor_worker_only_assigned_orders(api, s):
    mine = advance(s, submit(s), Status.DISPATCHED)
    not_mine = submit(s, description="另一单")
    client = api(s.user("vendor_worker"))
    listed = client.get("/api/v1/workorders").json()
    assert [o["id"] for o in listed["items"]] == [mine.pk]
    assert client.get(f"/api/v1/workorders/{not_mine.pk}").status_code == 404
    assert (
        client.post(
            f"/api/v1/workorders/{not_mine.pk}/cancel", {"version": 1, "reason": "x"}
        ).status_code
        == 404
    )
    assert [o["id"] for o in client.get("/api/v1/workorders/queue").json()["items"]] == [mine.pk]


def test_it_shows_staff_only_their_own_requests(api, s):
    own = submit(s)
    desk = submit(s, actor="a_dispatcher", description="服务台登记")
    listed = api(s.user("a_staff")).get("/api/v1/workorders").json()
    assert [o["id"] for o in listed["items"]] == [own.pk]
    assert api(s.user("a_staff")).get(f"/api/v1/workorders/{desk.pk}").status_code == 404
    # an order filed on her behalf by the desk is hers
    filed = submit(
        s,
        actor="a_dispatcher",
        requester_id=s.user("a_staff").pk,
        channel="desk",
        description="电话报修",
    )
    assert filed.requester == s.user("a_staff") and filed.created_by == s.user("a_dispatcher")
    assert api(s.user("a_staff")).get(f"/api/v1/workorders/{filed.pk}").status_code == 200
