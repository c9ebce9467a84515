"""Shared fixtures: a world of two sibling counties, API clients per user."""

from __future__ import annotations

import os

import pytest

# The demo's months of work orders are for people; tests load a small history.
os.environ.setdefault("DAYUAN_DEMO_WORKORDERS", "300")
os.environ.setdefault("DAYUAN_DEMO_INSPECTIONS", "60")
os.environ.setdefault("DAYUAN_DEMO_ASSESSMENT_MONTHS", "2")
os.environ.setdefault("DAYUAN_DEMO_BOOKING_WEEKS", "2")
os.environ.setdefault("DAYUAN_DEMO_CANTEEN_DAYS", "7")
os.environ.setdefault("DAYUAN_DEMO_RESOURCE_MONTHS", "1")

from dayuan.core.testing import World, build_world


@pytest.fixture(autouse=True)
def _fast_settings(settings):
    # Argon2 is deliberately slow; tests hash dozens of passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tasks run inline in tests (Huey's immediate mode: in-memory storage, no consumer).
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language (Chinese), whatever ran before it in the
    same worker: a test that renders English must not leak it into the next one."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_effective_rules():
    """Tests roll back and reuse ids: no effective-rule set may outlive its test."""
    from dayuan.standards import effective

    effective.invalidate()
    yield
    effective.invalidate()


@pytest.fixture
def world(db) -> World:
    return build_world()


class ApiClient:
    """An HTTP client for the API with a bearer token, through the real URL stack."""

    def __init__(self, client, user=None):
        self.client = client
        self.headers = {}
        if user is not None:
            from dayuan.accounts.services import issue_token

            raw, _ = issue_token(actor=user)
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {raw}"

    def _call(self, method, path, data=None, **extra):
        kwargs = {**self.headers, **extra}
        fn = getattr(self.client, method)
        if data is not None:
            return fn(path, data=data, content_type="application/json", **kwargs)
        return fn(path, **kwargs)

    def get(self, path, **extra):
        return self._call("get", path, **extra)

    def post(self, path, data=None, **extra):
        return self._call("post", path, data if data is not None else {}, **extra)

    def patch(self, path, data=None, **extra):
        return self._call("patch", path, data if data is not None else {}, **extra)

    def delete(self, path, **extra):
        return self._call("delete", path, **extra)


@pytest.fixture
def api(client):
    """``api(user)`` returns an API client authenticated as ``user``."""

    def make(user=None):
        from django.test import Client

        return ApiClient(Client(), user)

    return make


@pytest.fixture(scope="module")
def module_db(django_db_setup, django_db_blocker):
    """A database state built once per module, rolled back when the module ends.

    Loading the demo takes seconds; the demo tests share one load. The module's outer
    transaction holds the data and each test's own ``db`` transaction nests inside it as
    a savepoint, so a test's changes still vanish after it. Tests that need real commits
    (threads) cannot use it.
    """
    from django.db import transaction
    from django.test import override_settings
    from huey.contrib.djhuey import HUEY

    with django_db_blocker.unblock():
        HUEY.immediate = True
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            atomic = transaction.atomic()
            atomic.__enter__()
            try:
                yield
            finally:
                transaction.set_rollback(True)
                atomic.__exit__(None, None, None)
