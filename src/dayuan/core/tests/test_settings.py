"""Settings from the environment: production refuses unsafe configuration."""

import os
import subprocess
import sys

import pytest
from django.db import connection


def _check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DAYUAN_", "DATABASE_URL"))}
    base["DAYUAN_VAR_DIR"] = os.environ.get("DAYUAN_VAR_DIR", "/tmp/dayuan-settings-test")
    return subprocess.run(
        [sys.executable, "-m", "dayuan", "check", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _check({"DAYUAN_ENV": "production", "DAYUAN_ALLOWED_HOSTS": "x.example"})
    assert result.returncode != 0
    assert "DAYUAN_SECRET_KEY" in result.stderr


def test_check_deploy_is_clean_in_production():
    result = _check(
        {
            "DAYUAN_ENV": "production",
            "DAYUAN_SECRET_KEY": "k" * 20 + "-production-secret-key-for-the-test-0123456789",
            "DAYUAN_ALLOWED_HOSTS": "dayuan.example.gov.cn",
        },
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_malformed_values_name_the_variable():
    result = _check({"DAYUAN_SESSION_IDLE_MINUTES": "half an hour"})
    assert result.returncode != 0
    assert "DAYUAN_SESSION_IDLE_MINUTES" in result.stderr


@pytest.mark.django_db
def test_sqlite_runs_in_wal_with_a_busy_timeout():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cur:
        cur.execute("PRAGMA journal_mode")
        assert cur.fetchone()[0] == "wal"
        cur.execute("PRAGMA busy_timeout")
        assert cur.fetchone()[0] >= 5000
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
