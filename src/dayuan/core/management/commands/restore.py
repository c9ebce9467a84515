"""`dayuan restore PATH`: replace the database's contents with a backup, atomically."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from dayuan.core import backup
from dayuan.core.context import origin


class Command(BaseCommand):
    help = (
        "Restore the database from a backup made by `dayuan backup`. Refuses a file that "
        "is not a backup of this application, and a database that holds data unless --force."
    )

    # A backup must work even while some unrelated system check complains.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="backup file made by `dayuan backup`")
        parser.add_argument(
            "--force", action="store_true", help="overwrite a database that already holds data"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with origin("cli"):
            try:
                result = backup.restore(options["path"], force=options["force"])
            except backup.BackupError as exc:
                raise CommandError(str(exc)) from exc
        backup.report(
            self, _("已从 %(path)s 恢复 %(engine)s 数据库（%(size)s，%(tables)d 张表）"), result
        )
