"""Sign-in: lockout, one message for every failure, tokens, session timeouts."""

import time
from datetime import timedelta

import pytest
from django.test import Client

from dayuan.accounts.models import ApiToken, LoginThrottle
from dayuan.audit.models import AuditEntry

pytestmark = pytest.mark.django_db
PASSWORD = "Dayuan-demo-2026"


def _token(client, username, password=PASSWORD, **extra):
    return client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
        **extra,
    )


def test_it_returns_a_token_that_authenticates(world, client):
    resp = _token(client, "a_staff")
    assert resp.status_code == 200
    body = resp.json()
    assert body["token"].startswith("dy_") and body["expires_at"]
    me = client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.status_code == 200
    assert me.json()["username"] == "a_staff"
    assert me.json()["roles"] == ["staff"]
    # Stored hashed: the raw token is nowhere in the table.
    assert not ApiToken.objects.filter(key_hash=body["token"]).exists()


def test_unknown_user_and_wrong_password_get_the_same_answer(world, client):
    wrong = _token(client, "a_staff", "not-the-password")
    unknown = _token(client, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "login_failed"


def test_it_locks_the_name_after_five_failures_for_fifteen_minutes(world, client, settings):
    for _ in range(5):
        assert _token(client, "a_staff", "bad-password-123").status_code == 401
    # Even the right password is refused now, with the same message.
    locked = _token(client, "a_staff")
    assert locked.status_code == 401
    assert locked.json()["code"] == "login_failed"
    throttle = LoginThrottle.objects.get(username="a_staff")
    assert throttle.locked_until is not None
    # After the lock expires the right password works again.
    LoginThrottle.objects.filter(pk=throttle.pk).update(
        locked_until=throttle.locked_until - timedelta(minutes=15, seconds=1)
    )
    assert _token(client, "a_staff").status_code == 200


def test_four_failures_do_not_lock(world, client):
    for _ in range(4):
        _token(client, "a_staff", "bad-password-123")
    assert _token(client, "a_staff").status_code == 200
    assert not LoginThrottle.objects.filter(username="a_staff").exists()


def test_failed_logins_are_audited_as_refused(world, client):
    _token(client, "a_staff", "bad-password-123")
    entry = AuditEntry.objects.filter(action="accounts.login").latest("id")
    assert entry.outcome == "refused"
    assert entry.changes == {"username": "a_staff"}


def test_a_revoked_token_no_longer_authenticates(world, client):
    token = _token(client, "a_staff").json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    tokens = client.get("/api/v1/auth/tokens", **auth).json()["items"]
    resp = client.delete(f"/api/v1/auth/tokens/{tokens[0]['id']}", **auth)
    assert resp.status_code == 204
    resp = client.get("/api/v1/auth/me", **auth)
    assert resp.status_code == 401
    assert resp.json()["code"] == "not_authenticated"


def test_another_users_token_cannot_be_revoked(world, client, api):
    token_a = _token(client, "a_staff").json()["token"]
    mine = client.get("/api/v1/auth/tokens", HTTP_AUTHORIZATION=f"Bearer {token_a}").json()
    resp = api(world.user("b_staff")).delete(f"/api/v1/auth/tokens/{mine['items'][0]['id']}")
    assert resp.status_code == 404
    assert client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token_a}").status_code == 200


def test_login_page_signs_in_and_shows_one_message_on_failure(world):
    c = Client()
    resp = c.post("/accounts/login/", {"username": "a_staff", "password": "wrong-password-1"})
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.content.decode()
    resp = c.post("/accounts/login/", {"username": "a_staff", "password": PASSWORD})
    assert resp.status_code == 302
    assert c.get("/").status_code == 200


def test_login_refuses_offsite_next(world):
    c = Client()
    resp = c.post(
        "/accounts/login/",
        {"username": "a_staff", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert resp.status_code == 302 and resp["Location"] == "/"


def test_session_expires_after_idle_timeout(world, settings):
    c = Client()
    c.post("/accounts/login/", {"username": "a_staff", "password": PASSWORD})
    assert c.get("/").status_code == 200
    session = c.session
    session["dayuan_session_seen"] = time.time() - 31 * 60
    session.save()
    resp = c.get("/")
    assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]


def test_session_expires_after_absolute_timeout_even_when_active(world):
    c = Client()
    c.post("/accounts/login/", {"username": "a_staff", "password": PASSWORD})
    session = c.session
    session["dayuan_session_started"] = time.time() - 12 * 3600 - 1
    session["dayuan_session_seen"] = time.time()
    session.save()
    resp = c.get("/")
    assert resp.status_code == 302


def test_logout_requires_post_and_ends_the_session(world):
    c = Client()
    c.post("/accounts/login/", {"username": "a_staff", "password": PASSWORD})
    assert c.get("/accounts/logout/").status_code == 405
    c.post("/accounts/logout/")
    assert c.get("/").status_code == 302
