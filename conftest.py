"""Shared fixtures: a world of two sibling counties, API clients per user."""

from __future__ import annotations

import os

import pytest

# The demo's months of work orders are for people; tests load a small history.
os.environ.setdefault("DAYUAN_DEMO_WORKORDERS", "300")
os.environ.setdefault("DAYUAN_DEMO_INSPECTIONS", "60")
os.environ.setdefault("DAYUAN_DEMO_ASSESSMENT_MONTHS", "2")

from dayuan.core.testing import World, build_world


@pytest.fixture(autouse=True)
def _fast_settings(settings):
    # Argon2 is deliberately slow; tests hash dozens of passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tasks run inline in tests (Huey's immediate mode: in-memory storage, no consumer).
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True


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
