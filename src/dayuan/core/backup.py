"""Backing up and restoring the one database: SQLite by its online backup API,
PostgreSQL by ``pg_dump``/``pg_restore``.

A backup is taken while the application runs (SQLite copies a consistent snapshot
beside the WAL writers; ``pg_dump`` reads one repeatable-read snapshot) and is checked
before it is kept. A restore first checks that the file is a backup of *this*
application (it has ``django_migrations`` and no migration the code does not know),
refuses to overwrite a database that holds data unless forced, and replaces the
contents in one transaction, so a failed restore leaves the old data in place.
Both write an audit entry (``system.backup``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connection, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django.utils.translation import gettext as _

AUDIT_ACTION = "system.backup"
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
# Tables that `migrate` fills by itself; rows there do not make a database "non-empty".
_BOOKKEEPING = {"django_migrations", "django_content_type", "auth_permission"}


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why, in Chinese."""


@dataclass
class Result:
    operation: str  # backup | restore
    engine: str  # sqlite | postgresql
    path: Path
    size: int
    tables: int
    notes: list[str] = field(default_factory=list)

    def as_changes(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "engine": self.engine,
            "path": str(self.path),
            "size": self.size,
            "tables": self.tables,
        }


# --- Shared ---------------------------------------------------------------------------


def engine() -> str:
    vendor = connection.vendor
    if vendor not in {"sqlite", "postgresql"}:
        raise BackupError(_("不支持的数据库类型：%(vendor)s") % {"vendor": vendor})
    return vendor


def default_filename(now: datetime | None = None) -> str:
    stamp = timezone.localtime(now or timezone.now()).strftime("%Y%m%d-%H%M%S")
    suffix = "sqlite3" if engine() == "sqlite" else "dump"
    return f"dayuan-{stamp}.{suffix}"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover


def known_migrations() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(every migration name this code knows, including names its squashed migrations
    replace; the migrations a database of this version has applied)."""
    disk = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    known, current = set(disk), set(disk)
    for key, migration in disk.items():
        replaced = {tuple(r) for r in migration.replaces or ()}
        known |= replaced
        if replaced:
            current.discard(key)
            current |= replaced
    return known, current


def _check_migrations(recorded: set[tuple[str, str]], notes: list[str]) -> None:
    """Refuse a backup from a newer version; note when ``migrate`` is due after restore."""
    if not recorded:
        raise BackupError(_("备份文件中没有迁移记录（django_migrations 为空），不是本系统的备份。"))
    known, current = known_migrations()
    unknown = sorted(recorded - known)
    if unknown:
        names = ", ".join(f"{a}.{n}" for a, n in unknown[:5])
        raise BackupError(
            _(
                "备份来自更新的版本，包含本程序不认识的迁移：%(names)s。请用相同或更新版本的程序恢复。"
            )
            % {"names": names}
        )
    if current - recorded:
        notes.append(_("备份早于当前程序版本：恢复后请运行 `dayuan migrate`。"))


def _live_has_data() -> bool:
    """Whether the live database holds any row beyond what ``migrate`` writes itself."""
    existing = set(connection.introspection.table_names())
    tables = {
        m._meta.db_table
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy
    }
    with connection.cursor() as cur:
        for table in sorted((tables & existing) - _BOOKKEEPING):
            cur.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")  # noqa: S608
            if cur.fetchone():
                return True
    return False


def _record(result: Result | None, *, operation: str, error: str = "") -> None:
    """The audit entry of a backup or restore (written to the live database)."""
    from dayuan.audit.log import record
    from dayuan.audit.models import Outcome

    changes = result.as_changes() if result else {"operation": operation, "engine": engine()}
    record(
        AUDIT_ACTION,
        actor=None,
        object_type="database",
        object_id=Path(str(connection.settings_dict["NAME"])).name,
        changes=changes,
        outcome=Outcome.REFUSED if error else Outcome.SUCCESS,
        reason=error,
    )


def _record_failure(operation: str, exc: Exception) -> None:
    # Best effort: the database may be unreachable, which is often why we failed.
    with contextlib.suppress(Exception):
        _record(None, operation=operation, error=str(exc))


@contextlib.contextmanager
def _temp_beside(target: Path, suffix: str) -> Iterator[Path]:
    """A temporary file in the target's directory, so the final rename is atomic."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _resolve_target(path: str | Path, overwrite: bool) -> Path:
    target = Path(path).expanduser()
    if target.is_dir():
        target = target / default_filename()
    if target.exists() and not overwrite:
        raise BackupError(_("%(path)s 已存在；如要覆盖请加 --force。") % {"path": target})
    if not target.parent.is_dir():
        raise BackupError(_("目录不存在：%(dir)s") % {"dir": target.parent})
    return target.resolve()


def backup(path: str | Path, *, overwrite: bool = False) -> Result:
    """Copy the live database to ``path`` (a file, or a directory for a dated name)."""
    try:
        target = _resolve_target(path, overwrite)
        kind = engine()
        result = _sqlite_backup(target) if kind == "sqlite" else _pg_backup(target)
    except BackupError as exc:
        _record_failure("backup", exc)
        raise
    try:
        _record(result, operation="backup")
    except Exception as exc:  # the backup is written; say so rather than fail
        result.notes.append(_("已备份，但写审计记录失败：%(error)s") % {"error": exc})
    return result


def restore(path: str | Path, *, force: bool = False) -> Result:
    """Replace the live database's contents with the backup at ``path``."""
    source = Path(path).expanduser()
    if connection.in_atomic_block:
        raise BackupError(_("不能在事务中恢复数据库。"))
    try:
        if not source.is_file():
            raise BackupError(_("备份文件不存在：%(path)s") % {"path": source})
        kind = engine()
        notes: list[str] = []
        toc = _pg_validate(source, notes) if kind == "postgresql" else []
        tables = _sqlite_validate(source, notes) if kind == "sqlite" else 0
        if not force and _live_has_data():
            raise BackupError(_("当前数据库中已有数据；确认要用备份覆盖时请加 --force。"))
        # Our own connection must not hold a transaction or cached state over the swap.
        connections.close_all()
        if kind == "sqlite":
            _sqlite_restore(source)
        else:
            tables = _pg_restore(source, toc, notes)
        result = Result("restore", kind, source.resolve(), source.stat().st_size, tables, notes)
    except BackupError as exc:
        _record_failure("restore", exc)
        raise
    try:
        _record(result, operation="restore")
    except Exception as exc:  # the restored data is in place; say so rather than fail
        result.notes.append(_("已恢复，但写审计记录失败：%(error)s") % {"error": exc})
    return result


# --- SQLite ---------------------------------------------------------------------------


def _sqlite_live_path() -> Path:
    name = str(connection.settings_dict["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError(_("内存数据库无法备份或恢复。"))
    return Path(name)


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return [r[0] for r in rows]


def _sqlite_check(conn: sqlite3.Connection) -> None:
    problems = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    if problems != ["ok"]:
        raise BackupError(
            _("SQLite 完整性检查未通过：%(problems)s") % {"problems": "; ".join(problems[:5])}
        )


def _sqlite_backup(target: Path) -> Result:
    live = _sqlite_live_path()
    if not live.exists():
        raise BackupError(_("数据库文件不存在：%(path)s") % {"path": live})
    with _temp_beside(target, ".tmp") as tmp:
        src = sqlite3.connect(live, timeout=20)
        dst = sqlite3.connect(tmp)
        try:
            # One step: a read snapshot for the whole copy, writers carry on in the WAL.
            src.backup(dst)
            # A single self-contained file: no -wal/-shm next to the backup.
            dst.execute("PRAGMA journal_mode=DELETE")
            _sqlite_check(dst)
            tables = len(_sqlite_tables(dst))
        except sqlite3.Error as exc:
            raise BackupError(_("SQLite 备份失败：%(error)s") % {"error": exc}) from exc
        finally:
            dst.close()
            src.close()
        os.replace(tmp, target)
    return Result("backup", "sqlite", target, target.stat().st_size, tables)


def _sqlite_validate(source: Path, notes: list[str]) -> int:
    with source.open("rb") as fh:
        if fh.read(16) != SQLITE_MAGIC:
            raise BackupError(_("%(path)s 不是 SQLite 数据库文件。") % {"path": source})
    try:
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            _sqlite_check(conn)
            tables = _sqlite_tables(conn)
            if "django_migrations" not in tables:
                raise BackupError(
                    _("%(path)s 不是本系统的备份：没有 django_migrations 表。") % {"path": source}
                )
            recorded = set(conn.execute("SELECT app, name FROM django_migrations").fetchall())
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(_("无法读取备份文件：%(error)s") % {"error": exc}) from exc
    _check_migrations(recorded, notes)
    return len(tables)


def _sqlite_restore(source: Path) -> None:
    """Copy the backup into the live file through SQLite's own locking.

    The backup API writes the pages in one write transaction on the live database, so
    it is atomic, journalled in the live WAL, and other connections (other processes
    included) simply see the restored contents; no stale -wal/-shm can be replayed
    over a renamed file.
    """
    live = _sqlite_live_path()
    if not live.exists():
        sqlite3.connect(live).close()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(live, timeout=60)
    try:
        dst.execute("PRAGMA busy_timeout=60000")
        src.backup(dst)
        _sqlite_check(dst)
        # Fold the restored pages into the main file and empty the WAL.
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise BackupError(_("SQLite 恢复失败：%(error)s") % {"error": exc}) from exc
    finally:
        dst.close()
        src.close()


# --- PostgreSQL -----------------------------------------------------------------------

_TOC_LINE = re.compile(r"^\d+; \d+ \d+ (?P<kind>[A-Z][A-Z ]*?) (?P<schema>\S+) (?P<name>\S+) ")


def _pg_env() -> tuple[list[str], dict[str, str]]:
    """Connection arguments from ``DATABASES['default']``; the password goes via the env."""
    sd = connection.settings_dict
    args = []
    if sd.get("HOST"):
        args += ["--host", str(sd["HOST"])]
    if sd.get("PORT"):
        args += ["--port", str(sd["PORT"])]
    if sd.get("USER"):
        args += ["--username", str(sd["USER"])]
    env = dict(os.environ)
    if sd.get("PASSWORD"):
        env["PGPASSWORD"] = str(sd["PASSWORD"])
    options = sd.get("OPTIONS") or {}
    for key, var in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
    ):
        if options.get(key):
            env[var] = str(options[key])
    return args, env


def _pg_tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise BackupError(
            _("找不到 %(tool)s：请安装与服务器主版本相同的 PostgreSQL 客户端。") % {"tool": name}
        )
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    connection.ensure_connection()
    server = connection.pg_version // 10000
    if match and int(match.group(1)) < server:
        raise BackupError(
            _("%(tool)s 版本 %(client)s 低于服务器版本 %(server)s：请安装匹配的客户端。")
            % {"tool": name, "client": match.group(1), "server": server}
        )
    return exe


def _run(cmd: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise BackupError(
            _("%(what)s失败：%(detail)s") % {"what": what, "detail": " / ".join(detail[-5:])}
        )
    return proc


def _pg_toc(path: Path) -> list[tuple[str, str, str]]:
    """(kind, schema, name) of each entry in a custom-format dump."""
    _args, env = _pg_env()
    proc = _run([_pg_tool("pg_restore"), "--list", str(path)], env, _("读取备份目录"))
    entries = []
    for line in proc.stdout.splitlines():
        match = _TOC_LINE.match(line)
        if match:
            entries.append((match["kind"], match["schema"], match["name"]))
    return entries


def _pg_backup(target: Path) -> Result:
    args, env = _pg_env()
    exe = _pg_tool("pg_dump")
    with _temp_beside(target, ".tmp") as tmp:
        _run(
            [
                exe,
                "--format=custom",
                *args,
                "--file",
                str(tmp),
                str(connection.settings_dict["NAME"]),
            ],
            env,
            _("pg_dump 备份"),
        )
        tables = sum(1 for kind, _s, _n in _pg_toc(tmp) if kind == "TABLE")
        os.replace(tmp, target)
    return Result("backup", "postgresql", target, target.stat().st_size, tables)


def _pg_validate(source: Path, notes: list[str]) -> list[tuple[str, str, str]]:
    with source.open("rb") as fh:
        if fh.read(5) != PG_MAGIC:
            raise BackupError(
                _("%(path)s 不是 pg_dump 自定义格式（--format=custom）的备份。") % {"path": source}
            )
    toc = _pg_toc(source)
    if not any(kind == "TABLE" and name == "django_migrations" for kind, _s, name in toc):
        raise BackupError(
            _("%(path)s 不是本系统的备份：没有 django_migrations 表。") % {"path": source}
        )
    _args, env = _pg_env()
    proc = _run(
        [
            _pg_tool("pg_restore"),
            "--data-only",
            "--table=django_migrations",
            "--file=-",
            str(source),
        ],
        env,
        _("读取迁移记录"),
    )
    recorded: set[tuple[str, str]] = set()
    in_copy = False
    for line in proc.stdout.splitlines():
        if line.startswith("COPY ") and "django_migrations" in line:
            in_copy = True
        elif in_copy and line == "\\.":
            in_copy = False
        elif in_copy:
            cols = line.split("\t")
            if len(cols) >= 3:
                recorded.add((cols[1], cols[2]))
    _check_migrations(recorded, notes)
    return toc


def _pg_restore(source: Path, toc: list[tuple[str, str, str]], notes: list[str]) -> int:
    dumped = {(schema, name) for kind, schema, name in toc if kind == "TABLE"}
    schemas = {schema for schema, _n in dumped}
    # Tables the backup does not have (made by a later migration) would survive
    # --clean and break the next `migrate`; drop them so the database matches the backup.
    with connection.cursor() as cur:
        cur.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(%s)",
            [sorted(schemas)],
        )
        extra = sorted(set(cur.fetchall()) - dumped)
    if extra:
        with transaction.atomic(), connection.cursor() as cur:
            for schema, name in extra:
                qn = connection.ops.quote_name
                cur.execute(f"DROP TABLE IF EXISTS {qn(schema)}.{qn(name)} CASCADE")
        notes.append(
            _("已删除备份中没有的表：%(tables)s") % {"tables": ", ".join(n for _s, n in extra)}
        )
    connections.close_all()
    args, env = _pg_env()
    # Fail instead of waiting forever if another session holds a lock on a table.
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c lock_timeout=30000").strip()
    _run(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            *args,
            "--dbname",
            str(connection.settings_dict["NAME"]),
            str(source),
        ],
        env,
        _("pg_restore 恢复"),
    )
    connections.close_all()
    return len(dumped)


def report(command: Any, message: str, result: Any) -> None:
    """Print a backup or restore result the same way from both commands."""
    values = {
        "engine": result.engine,
        "path": result.path,
        "size": human_size(result.size),
        "tables": result.tables,
    }
    command.stdout.write(command.style.SUCCESS(message % values))
    for note in result.notes:
        command.stdout.write(command.style.WARNING(note))
