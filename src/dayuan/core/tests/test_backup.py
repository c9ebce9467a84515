"""Backup and restore: a populated database round-trips, table by table, on SQLite and
PostgreSQL; files that are not our backups, and restores over live data, are refused."""

from __future__ import annotations

import threading
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from dayuan.accounts.models import Grant, User
from dayuan.accounts.services import issue_token
from dayuan.audit.log import record, verify_chain
from dayuan.audit.models import AuditEntry
from dayuan.core.backup import AUDIT_ACTION
from dayuan.core.context import origin
from dayuan.core.testing import build_world, make_org
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Location, Organization

pytestmark = pytest.mark.django_db(transaction=True)


def every_table() -> dict[str, list[tuple]]:
    """Every model's table and every m2m through table, rows in primary-key order."""
    return {
        model._meta.db_table: list(model._base_manager.order_by("pk").values_list())
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


def assert_same_but_the_restore_entry(before, after):
    """Every table equal, except that the restore appended its own audit entry (and so
    moved the chain's anchor row, which ``verify_chain`` checks)."""
    entries = AuditEntry._meta.db_table
    head = apps.get_model("audit", "AuditHead")._meta.db_table
    moving = {entries, head}
    assert after[entries][:-1] == before[entries]
    assert len(after[entries]) == len(before[entries]) + 1
    assert {t: r for t, r in after.items() if t not in moving} == {
        t: r for t, r in before.items() if t not in moving
    }
    assert len(after[head]) == len(before[head]) == 1
    assert verify_chain().intact


def populate():
    world = build_world()
    with origin("web", ip="10.0.0.8"):
        for n in range(5):
            record(
                "test.sample.update",
                actor=world.user("a_manager"),
                obj=world.county_a,
                changes={"name": [f"旧{n}", f"新{n}"]},
            )
    issue_token(actor=world.user("a_staff"))
    world.user("admin").groups.create(name="运维")  # an m2m through row
    return world


def backup(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("backup", str(path), *args, stdout=out)
    return out.getvalue()


def restore(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("restore", str(path), *args, stdout=out)
    return out.getvalue()


def test_it_round_trips_every_table(tmp_path):
    world = populate()
    before = every_table()
    assert len(before[Location._meta.db_table]) > 10
    assert before[User.groups.through._meta.db_table]

    out = backup(tmp_path / "dayuan.bak")
    assert "张表" in out
    assert (tmp_path / "dayuan.bak").stat().st_size > 0
    taken = AuditEntry.objects.get(action=AUDIT_ACTION)
    assert taken.changes["operation"] == "backup"
    assert taken.source == "cli"

    # Damage: rows deleted, changed and added after the backup.
    Location.objects.filter(org=world.county_b, kind=LocationKind.ROOM).delete()
    Grant.objects.filter(user__username__startswith="b_").delete()
    Organization.objects.filter(pk=world.county_a.pk).update(name="改坏了")
    make_org("新单位", "new-unit", OrgKind.DEPARTMENT, world.city)
    record("test.after.backup", actor=world.user("admin"))  # entries are append-only
    with connection.cursor() as cur:  # as a later migration would
        cur.execute("CREATE TABLE later_feature (id integer PRIMARY KEY)")
    assert every_table() != before

    out = restore(tmp_path / "dayuan.bak", "--force")
    assert "张表" in out
    assert "later_feature" not in connection.introspection.table_names()

    after = every_table()
    assert_same_but_the_restore_entry(before, after)
    entry = AuditEntry.objects.order_by("-id").first()
    assert (entry.action, entry.changes["operation"], entry.source) == (
        AUDIT_ACTION,
        "restore",
        "cli",
    )
    assert not AuditEntry.objects.filter(action="test.after.backup").exists()

    # The connection works and new ids do not collide with restored rows.
    org = make_org("恢复后新建", "after-restore", OrgKind.DEPARTMENT, world.city)
    assert org.pk > max(row[0] for row in before[Organization._meta.db_table])


def test_it_refuses_to_restore_over_data_without_force(tmp_path):
    world = populate()
    backup(tmp_path / "b")
    Organization.objects.filter(pk=world.county_b.pk).update(name="恢复前的改动")
    with pytest.raises(CommandError, match="--force"):
        restore(tmp_path / "b")
    assert Organization.objects.get(pk=world.county_b.pk).name == "恢复前的改动"
    refused = AuditEntry.objects.filter(action=AUDIT_ACTION, outcome="refused").get()
    assert refused.changes["operation"] == "restore"


def test_it_restores_into_an_empty_database_without_force(tmp_path):
    populate()
    before = every_table()
    backup(tmp_path / "b")
    call_command("flush", "--noinput", verbosity=0)
    restore(tmp_path / "b")
    assert_same_but_the_restore_entry(before, every_table())


def test_it_refuses_files_that_are_not_backups_of_this_app(tmp_path):
    populate()
    text = tmp_path / "notes.txt"
    text.write_text("不是备份")
    with pytest.raises(CommandError):
        restore(text, "--force")

    import sqlite3

    foreign = tmp_path / "foreign.sqlite3"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    with pytest.raises(CommandError):
        restore(foreign, "--force")

    with pytest.raises(CommandError, match="不存在"):
        restore(tmp_path / "missing.bak", "--force")
    assert User.objects.filter(username="a_staff").exists()


def test_it_refuses_a_backup_from_a_newer_version(tmp_path):
    populate()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)",
            ["orgs", "9999_from_the_future", "2030-01-01 00:00:00+00:00"],
        )
    backup(tmp_path / "future")
    with connection.cursor() as cur:
        cur.execute("DELETE FROM django_migrations WHERE name = %s", ["9999_from_the_future"])
    with pytest.raises(CommandError, match="9999_from_the_future"):
        restore(tmp_path / "future", "--force")


def test_it_names_the_file_in_a_directory_and_will_not_overwrite(tmp_path):
    populate()
    out = backup(tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    assert files[0].name.startswith("dayuan-")
    assert str(files[0]) in out
    with pytest.raises(CommandError, match="--force"):
        backup(files[0])
    backup(files[0], "--force")


@pytest.mark.concurrency
def test_it_takes_a_consistent_backup_while_writers_run(tmp_path):
    world = populate()
    stop = threading.Event()
    written = []

    def writer():
        try:
            while not stop.is_set():
                written.append(record("test.live.write", actor=world.user("admin")).pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            threading.Event().wait(0.01)
        backup(tmp_path / "live")
    finally:
        stop.set()
        thread.join()
    assert len(written) > 20

    restore(tmp_path / "live", "--force")
    # The copy is a snapshot: a prefix of the writes, the chain intact across it.
    kept = set(AuditEntry.objects.filter(action="test.live.write").values_list("pk", flat=True))
    assert kept and kept == set(written[: len(kept)])
    assert verify_chain().intact


def test_it_restores_an_older_backup_and_says_to_migrate(tmp_path):
    populate()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT app, name, applied FROM django_migrations WHERE app = 'orgs' "
            "ORDER BY id DESC LIMIT 1"
        )
        latest = cur.fetchone()
        cur.execute("DELETE FROM django_migrations WHERE app = %s AND name = %s", latest[:2])
    try:
        backup(tmp_path / "older")
        out = restore(tmp_path / "older", "--force")
        assert "dayuan migrate" in out
    finally:
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)", latest
            )
