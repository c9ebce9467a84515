"""`dayuan backup PATH`: a consistent copy of the live database, safe while it runs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from dayuan.core import backup
from dayuan.core.context import origin


class Command(BaseCommand):
    help = (
        "Back up the database to PATH (SQLite: online backup API; PostgreSQL: pg_dump "
        "--format=custom). PATH may be a directory: the file is then named "
        "dayuan-YYYYmmdd-HHMMSS.sqlite3 or .dump."
    )

    # A backup must work even while some unrelated system check complains.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="backup file, or an existing directory")
        parser.add_argument("--force", action="store_true", help="overwrite an existing file")

    def handle(self, *args: Any, **options: Any) -> None:
        with origin("cli"):
            try:
                result = backup.backup(options["path"], overwrite=options["force"])
            except backup.BackupError as exc:
                raise CommandError(str(exc)) from exc
        backup.report(
            self, _("已备份 %(engine)s 数据库到 %(path)s（%(size)s，%(tables)d 张表）"), result
        )
