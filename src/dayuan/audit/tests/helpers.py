"""Shared helpers of the audit tests: building a chain, simulating an attacker."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from dayuan.audit.log import record
from dayuan.audit.models import AuditEntry


def write_entries(n, *, actor=None, org=None, action="test.thing.update", **extra):
    return [
        record(action, actor=actor, org=org, object_type="test.thing", object_id=i, **extra)
        for i in range(n)
    ]


def run_verify():
    """(exit code, output) of ``dayuan audit verify`` through call_command."""
    out = StringIO()
    try:
        call_command("audit", "verify", stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


def drop_guards():
    """What an attacker with DDL rights does first (rolled back with the test)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry")
            cur.execute(
                "DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_auditcheckpoint"
            )
            cur.execute("DROP TRIGGER IF EXISTS audit_head_keep ON audit_audithead")
        else:
            cur.execute("DROP TRIGGER IF EXISTS audit_entry_append_only")
            cur.execute("DROP TRIGGER IF EXISTS audit_checkpoint_append_only")


def raw(sql, params=()):
    table = AuditEntry._meta.db_table
    with connection.cursor() as cur:
        cur.execute(sql.replace("{entries}", table), params)
        return cur.rowcount


def seed_three_subtrees(world):
    """Two entries in county A, one refused in county B, one without an organisation."""
    a = write_entries(2, actor=world.user("a_manager"), org=world.county_a, action="orgs.x.update")
    b = write_entries(
        1,
        actor=world.user("b_manager"),
        org=world.county_b,
        action="orgs.x.create",
        outcome="refused",
        reason="permission_denied: no",
    )
    none = write_entries(1, actor=None, org=None, action="system.job.run", reason="bad_credentials")
    return a, b, none
