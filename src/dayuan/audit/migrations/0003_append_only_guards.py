"""Database guards: audit rows refuse UPDATE and DELETE; the chain gets its anchor.

PostgreSQL: a row trigger refuses DELETE of entries unless the transaction set
``dayuan.audit_prune`` to 'on' (``set_config(..., true)``, what retention pruning
does), and refuses UPDATE except setting ``hash`` from 'pending' (what ``record``
does right after the insert). Checkpoints and the anchor row refuse UPDATE/DELETE
outright (the anchor is updated, never deleted). TRUNCATE is not guarded: the test
runner's flush uses it.

SQLite has no session variables, and the test runner's flush empties every table
with DELETE, so on SQLite only UPDATE is refused by trigger; a deleted row is still
caught by ``dayuan audit verify`` (the chain and the anchor).

The triggers stop mistakes and casual edits; someone with DDL rights can drop them,
which is what the hash chain is for.
"""

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from django.conf import settings
from django.db import migrations

PG_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION dayuan_audit_entry_guard() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        IF coalesce(current_setting('dayuan.audit_prune', true), '') = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit entries are append-only: DELETE of entry % refused', OLD.id
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      IF OLD.hash = 'pending' AND (to_jsonb(NEW) - 'hash') = (to_jsonb(OLD) - 'hash') THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit entries are append-only: UPDATE of entry % refused', OLD.id
        USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE FUNCTION dayuan_audit_refuse() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION 'audit table %: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry",
    """
    CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION dayuan_audit_entry_guard()
    """,
    "DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_auditcheckpoint",
    """
    CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION dayuan_audit_refuse()
    """,
    "DROP TRIGGER IF EXISTS audit_head_keep ON audit_audithead",
    """
    CREATE TRIGGER audit_head_keep BEFORE DELETE ON audit_audithead
    FOR EACH ROW EXECUTE FUNCTION dayuan_audit_refuse()
    """,
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry",
    "DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_auditcheckpoint",
    "DROP TRIGGER IF EXISTS audit_head_keep ON audit_audithead",
    "DROP FUNCTION IF EXISTS dayuan_audit_entry_guard()",
    "DROP FUNCTION IF EXISTS dayuan_audit_refuse()",
]

# Every column but ``hash`` (frozen here: a later column needs this trigger recreated).
_ENTRY_COLUMNS = [
    "id",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "org_id",
    "source",
    "ip",
    "request_id",
    "changes",
    "outcome",
    "reason",
    "prev_hash",
]
SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS audit_entry_append_only",
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE ON audit_auditentry "
    "WHEN OLD.hash <> 'pending' OR "
    + " OR ".join(f'NEW."{c}" IS NOT OLD."{c}"' for c in _ENTRY_COLUMNS)
    + " BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: UPDATE refused'); END",
    "DROP TRIGGER IF EXISTS audit_checkpoint_append_only",
    "CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE ON audit_auditcheckpoint "
    "BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only: UPDATE refused'); END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_entry_append_only",
    "DROP TRIGGER IF EXISTS audit_checkpoint_append_only",
]


def _run(schema_editor, statements):
    for sql in statements:
        schema_editor.execute(sql, params=None)  # None: "%" is plpgsql's, not a placeholder


def install_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, PG_FORWARD)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_FORWARD)


def remove_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, PG_BACKWARD)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_BACKWARD)


def _mac(data: str) -> str:
    mac = crypto_hmac.HMAC(settings.AUDIT_HMAC_KEY.encode(), hashes.SM3())
    mac.update(data.encode())
    return mac.finalize().hex()


def anchor_existing_chain(apps, schema_editor):
    """Give an existing log its anchor and MAC its checkpoints (layouts as in ``log``)."""
    entry_model = apps.get_model("audit", "AuditEntry")
    head_model = apps.get_model("audit", "AuditHead")
    checkpoint_model = apps.get_model("audit", "AuditCheckpoint")
    db = schema_editor.connection.alias
    for cp in checkpoint_model.objects.using(db).filter(mac=""):
        cp.mac = _mac(f"checkpoint|{cp.first_kept_id}|{cp.prev_hash}|{cp.pruned_count}")
        cp.save(update_fields=["mac"])
    last = entry_model.objects.using(db).order_by("-id").first()
    if last is None or head_model.objects.using(db).exists():
        return
    count = entry_model.objects.using(db).count()
    head_model.objects.using(db).create(
        id=1,
        last_id=last.id,
        last_hash=last.hash,
        count=count,
        reanchored_at=None,
        mac=_mac(f"head|{last.id}|{last.hash}|{count}|"),
    )


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_head_and_macs")]

    operations = [
        migrations.RunPython(anchor_existing_chain, migrations.RunPython.noop),
        migrations.RunPython(install_guards, remove_guards),
    ]
