"""Idempotency-Key: replays return the stored reply; a changed body is refused."""

import threading

import pytest
from django.db import connection
from django.test import Client

from dayuan.orgs.models import Location

pytestmark = pytest.mark.django_db


def _body(world, name="东院"):
    return {"org_id": world.county_a.pk, "kind": "compound", "name": name}


def test_a_replay_returns_the_same_reply_and_creates_nothing(world, api):
    c = api(world.user("a_manager"))
    first = c.post("/api/v1/locations", _body(world), HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    again = c.post("/api/v1/locations", _body(world), HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Location.objects.filter(name="东院").count() == 1


def test_the_same_key_with_another_body_is_refused(world, api):
    c = api(world.user("a_manager"))
    c.post("/api/v1/locations", _body(world), HTTP_IDEMPOTENCY_KEY="k-2")
    resp = c.post("/api/v1/locations", _body(world, "西院"), HTTP_IDEMPOTENCY_KEY="k-2")
    assert resp.status_code == 422
    assert resp.json()["code"] == "idempotency_key_reused"
    assert not Location.objects.filter(name="西院").exists()


def test_keys_are_per_user(world, api):
    api(world.user("a_manager")).post("/api/v1/locations", _body(world), HTTP_IDEMPOTENCY_KEY="k-3")
    resp = api(world.user("a_admin")).post(
        "/api/v1/locations", _body(world, "北院"), HTTP_IDEMPOTENCY_KEY="k-3"
    )
    # Another user's identical key is a fresh request, judged and created on its own.
    assert resp.status_code == 201
    assert Location.objects.filter(name__in=["东院", "北院"]).count() == 2


def test_refusals_are_replayed_too(world, api):
    c = api(world.user("a_staff"))
    first = c.post("/api/v1/locations", _body(world), HTTP_IDEMPOTENCY_KEY="k-4")
    again = c.post("/api/v1/locations", _body(world), HTTP_IDEMPOTENCY_KEY="k-4")
    assert first.status_code == again.status_code == 403


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_create_one_record(world):
    from dayuan.accounts.services import issue_token

    raw, _ = issue_token(actor=world.user("a_manager"))
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def worker():
        try:
            client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
            barrier.wait()
            resp = client.post(
                "/api/v1/locations",
                _body(world, "并发院"),
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY="same-key",
            )
            statuses.append(resp.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Location.objects.filter(name="并发院").count() == 1
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
