"""The hash chain: tamper detection through ``dayuan audit verify``, the anchor,
database guards, refusals, and appends from several threads at once."""

from __future__ import annotations

import threading

import pytest
from django.core.management import execute_from_command_line
from django.db import DatabaseError, connection, connections, transaction

from dayuan.audit.log import GENESIS, head_mac, hmac_sm3, record, verify_chain
from dayuan.audit.models import AuditCheckpoint, AuditEntry, AuditHead, Outcome
from dayuan.core.context import origin
from dayuan.core.errors import PermissionDenied
from dayuan.orgs import services as org_services

from .helpers import drop_guards, raw, run_verify, write_entries


@pytest.mark.django_db
def test_it_verifies_an_intact_chain_and_exits_zero(world):
    write_entries(5, actor=world.user("a_manager"), org=world.county_a)
    code, out = run_verify()
    assert code == 0
    assert "5" in out
    status = verify_chain()
    assert status.intact and status.checked == 5 and status.bad_id is None


@pytest.mark.django_db
def test_it_verifies_an_empty_log():
    assert run_verify()[0] == 0


@pytest.mark.django_db
def test_it_links_each_entry_to_the_previous_and_keeps_the_anchor_current(world):
    entries = write_entries(3, actor=world.user("a_manager"), org=world.county_a)
    stored = list(AuditEntry.objects.order_by("id"))
    assert stored[0].prev_hash == GENESIS
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    assert all(len(e.hash) == 64 and e.hash != "pending" for e in stored)
    head = AuditHead.objects.get()
    assert (head.last_id, head.last_hash, head.count) == (entries[-1].pk, stored[-1].hash, 3)


@pytest.mark.django_db
def test_it_names_an_altered_middle_entry(world):
    entries = write_entries(5, actor=world.user("a_manager"), org=world.county_a)
    drop_guards()
    target = entries[2].pk
    assert raw("UPDATE {entries} SET actor_name = %s WHERE id = %s", ["mallory", target]) == 1
    code, message = run_verify()
    assert code == 1
    assert f"#{target}" in message
    assert verify_chain().reason == "entry_altered"


@pytest.mark.django_db
def test_it_names_an_entry_whose_changes_were_rewritten(world):
    entries = write_entries(4, actor=world.user("a_manager"), org=world.county_a)
    drop_guards()
    raw(
        "UPDATE {entries} SET changes = %s WHERE id = %s",
        ['{"name": ["a", "b"]}', entries[1].pk],
    )
    code, message = run_verify()
    assert code == 1 and f"#{entries[1].pk}" in message


@pytest.mark.django_db
def test_it_names_the_entry_after_a_deleted_middle_entry(world):
    entries = write_entries(5, actor=world.user("a_manager"), org=world.county_a)
    drop_guards()
    assert raw("DELETE FROM {entries} WHERE id = %s", [entries[2].pk]) == 1
    code, message = run_verify()
    assert code == 1
    assert f"#{entries[3].pk}" in message
    assert verify_chain().reason == "link_broken"


@pytest.mark.django_db
def test_it_detects_a_deleted_last_entry(world):
    entries = write_entries(5, actor=world.user("a_manager"), org=world.county_a)
    drop_guards()
    assert raw("DELETE FROM {entries} WHERE id = %s", [entries[-1].pk]) == 1
    code, message = run_verify()
    assert code == 1
    assert f"#{entries[-1].pk}" in message
    assert verify_chain().reason == "tail_missing"


@pytest.mark.django_db
def test_it_detects_a_deleted_tail_with_the_anchor_moved_back(world):
    """Moving the anchor to the new last entry needs the key: its MAC gives it away."""
    entries = write_entries(4, actor=world.user("a_manager"), org=world.county_a)
    drop_guards()
    raw("DELETE FROM {entries} WHERE id = %s", [entries[-1].pk])
    prev = AuditEntry.objects.get(pk=entries[-2].pk)
    forged = hmac_sm3(f"head|{prev.pk}|{prev.hash}|3|".encode(), key=b"a guessed key")
    AuditHead.objects.update(last_id=prev.pk, last_hash=prev.hash, count=3, mac=forged)
    code, _message = run_verify()
    assert code == 1
    assert verify_chain().reason == "anchor_altered"
    # With the real key it would pass: the MAC is what stops the attacker.
    AuditHead.objects.update(mac=head_mac(prev.pk, prev.hash, 3, None))
    assert run_verify()[0] == 0


@pytest.mark.django_db
def test_it_detects_a_deleted_tail_and_anchor(world):
    entries = write_entries(4, actor=world.user("a_manager"), org=world.county_a)
    drop_guards()
    raw("DELETE FROM {entries} WHERE id = %s", [entries[-1].pk])
    AuditHead.objects.all().delete()
    code, _message = run_verify()
    assert code == 1
    assert verify_chain().reason == "anchor_missing"


@pytest.mark.django_db
def test_it_keeps_reporting_a_lost_anchor_after_later_writes(world):
    """Deleting the anchor and waiting for the next write must not launder the log."""
    entries = write_entries(3, actor=world.user("a_manager"), org=world.county_a)
    drop_guards()
    raw("DELETE FROM {entries} WHERE id = %s", [entries[-1].pk])
    AuditHead.objects.all().delete()
    later = write_entries(2, actor=world.user("a_manager"), org=world.county_a)
    status = verify_chain()
    assert not status.intact
    assert status.reason == "anchor_lost"
    assert status.bad_id == later[0].pk
    assert run_verify()[0] == 1


@pytest.mark.django_db
def test_it_detects_a_forged_checkpoint_hiding_the_first_entries(world):
    entries = write_entries(4, actor=world.user("a_manager"), org=world.county_a)
    drop_guards()
    raw("DELETE FROM {entries} WHERE id <= %s", [entries[1].pk])
    AuditCheckpoint.objects.create(
        first_kept_id=entries[2].pk, prev_hash=entries[1].hash, pruned_count=2, mac="0" * 64
    )
    code, _message = run_verify()
    assert code == 1
    assert verify_chain().reason == "checkpoint_forged"


@pytest.mark.django_db
def test_it_detects_deleted_first_entries(world):
    entries = write_entries(4, actor=world.user("a_manager"), org=world.county_a)
    drop_guards()
    raw("DELETE FROM {entries} WHERE id = %s", [entries[0].pk])
    code, message = run_verify()
    assert code == 1 and f"#{entries[1].pk}" in message


@pytest.mark.django_db
def test_the_console_command_exits_non_zero_on_a_broken_chain(world, capsys, monkeypatch):
    # run_from_argv closes every connection when done; the test's transaction needs its own.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    entries = write_entries(3, actor=world.user("a_manager"), org=world.county_a)
    execute_from_command_line(["dayuan", "audit", "verify"])  # intact: returns normally
    assert "3" in capsys.readouterr().out
    drop_guards()
    raw("UPDATE {entries} SET reason = %s WHERE id = %s", ["x", entries[1].pk])
    with pytest.raises(SystemExit) as exc:
        execute_from_command_line(["dayuan", "audit", "verify"])
    assert exc.value.code == 1
    assert f"#{entries[1].pk}" in capsys.readouterr().err


@pytest.mark.django_db
def test_the_database_refuses_updates_of_entries(world):
    entries = write_entries(2, actor=world.user("a_manager"), org=world.county_a)
    with pytest.raises(DatabaseError), transaction.atomic():
        raw("UPDATE {entries} SET actor_name = %s WHERE id = %s", ["mallory", entries[0].pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        raw("UPDATE {entries} SET hash = %s WHERE id = %s", ["0" * 64, entries[0].pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditCheckpoint.objects.create(first_kept_id=1, prev_hash=GENESIS, mac="x")
        AuditCheckpoint.objects.update(prev_hash="y")
    assert AuditEntry.objects.get(pk=entries[0].pk).actor_name == "a_manager"
    assert run_verify()[0] == 0


@pytest.mark.django_db
def test_the_database_refuses_deletes_of_entries_on_postgresql(world):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite refuses updates only; deletions are caught by verify")
    entries = write_entries(2, actor=world.user("a_manager"), org=world.county_a)
    with pytest.raises(DatabaseError), transaction.atomic():
        raw("DELETE FROM {entries} WHERE id = %s", [entries[0].pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditHead.objects.all().delete()
    assert AuditEntry.objects.count() == 2


@pytest.mark.django_db
def test_it_keeps_a_refused_entry_when_a_service_refuses(world):
    staff = world.user("a_staff")
    with origin("api", "10.1.2.3"), pytest.raises(PermissionDenied):
        org_services.create_location(
            actor=staff, org_id=world.county_a.pk, parent_id=None, kind="compound", name="新院"
        )
    entry = AuditEntry.objects.get()
    assert entry.outcome == Outcome.REFUSED
    assert entry.action == "orgs.location.create"
    assert entry.actor_id == staff.pk and entry.actor_name == "a_staff"
    assert entry.reason.startswith("permission_denied")
    assert entry.org_id == world.county_a.pk  # filed under the actor's home organisation
    assert entry.changes["target"] == {"org_id": world.county_a.pk, "parent_id": None}
    assert (entry.source, entry.ip) == ("api", "10.1.2.3")
    assert not org_services.Location.objects.filter(name="新院").exists()
    assert run_verify()[0] == 0


@pytest.mark.django_db
def test_it_records_before_and_after_of_a_successful_write(world):
    manager = world.user("a_manager")
    loc = org_services.create_location(
        actor=manager, org_id=world.county_a.pk, parent_id=None, kind="compound", name="新院"
    )
    org_services.update_location(actor=manager, location_id=loc.pk, version=1, name="新院二")
    entry = AuditEntry.objects.filter(action="orgs.location.update").get()
    assert entry.outcome == Outcome.SUCCESS
    assert entry.changes == {"name": ["新院", "新院二"]}
    assert (entry.object_type, entry.object_id) == ("orgs.location", str(loc.pk))
    assert entry.org_id == world.county_a.pk
    assert run_verify()[0] == 0


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_chain_valid_under_concurrent_appends(world):
    threads_n, per_thread = 6, 8
    manager_pk = world.user("a_manager").pk
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        from dayuan.accounts.models import User
        from dayuan.audit.log import record

        try:
            actor = User.objects.get(pk=manager_pk)
            barrier.wait(timeout=30)
            for i in range(per_thread):
                with transaction.atomic():
                    record(
                        "test.concurrent",
                        actor=actor,
                        org=world.county_a,
                        object_type="test.thing",
                        object_id=f"{n}-{i}",
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    total = threads_n * per_thread
    assert AuditEntry.objects.count() == total
    prevs = list(AuditEntry.objects.values_list("prev_hash", flat=True))
    assert len(set(prevs)) == total  # nobody chained onto the same predecessor
    assert AuditHead.objects.get().count == total
    code, out = run_verify()
    assert code == 0, out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2001:0DB8:0000:0000::1", "2001:db8::1"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("10.0.0.7", "10.0.0.7"),
        ("not an address", None),
    ],
)
def test_it_stores_the_source_address_as_hashed(world, given, stored):
    """The hash covers what the database keeps, whatever form the address came in."""
    with origin("web", given):
        entry = write_entries(1, actor=world.user("a_manager"), org=world.county_a)[0]
    assert entry.ip == stored
    assert AuditEntry.objects.get(pk=entry.pk).ip == stored
    assert run_verify()[0] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value",
    [
        *(1e16, 1.2345678901234568e20, -0.0, 1e300, 1e-7, 0.1, 2**70, float("nan"), float("inf")),
        *({"b": 1, "a": [1, "ü", None, True]}, "a\u2028b", 'q"\\'),
    ],
)
def test_it_hashes_changes_the_same_after_the_database_round_trip(value):
    """jsonb hands numbers back in its own form (1e16 as an integer): still verifies."""
    record("test.value", actor=None, changes={"x": value})
    status = verify_chain()
    assert status.intact, status
