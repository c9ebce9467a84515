"""``dayuan audit verify`` checks the hash chain; ``dayuan audit prune`` applies retention."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from dayuan.audit import services
from dayuan.audit.log import verify_chain
from dayuan.core.context import origin

REASONS = {
    "chain_start": gettext_noop("链首与检查点不符（之前的记录被删除或插入）"),
    "link_broken": gettext_noop("与上一条记录的链接断开（上一条记录被删除或修改）"),
    "entry_altered": gettext_noop("记录内容被修改"),
    "anchor_missing": gettext_noop("链尾锚点缺失"),
    "anchor_altered": gettext_noop("链尾锚点被修改"),
    "anchor_lost": gettext_noop("链尾锚点曾被删除，此前的链尾无法证明完整"),
    "tail_missing": gettext_noop("链尾记录被删除"),
    "count_mismatch": gettext_noop("记录条数与锚点不符"),
    "checkpoint_forged": gettext_noop("清理检查点无效"),
}


class Command(BaseCommand):
    help = "Audit log: verify the HMAC-SM3 chain, or prune entries past retention."
    requires_system_checks = []  # run from cron: its output is about the chain only

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        sub.add_parser("verify", help="check every entry; exit 1 naming the first bad one")
        sub.add_parser("prune", help="delete entries older than AUDIT_RETENTION_DAYS (≥ 184)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "prune":
            with origin("cli"):
                deleted = services.prune()
            self.stdout.write(
                _("已清理 %(count)d 条超过保留期（%(days)d 天）的审计记录。")
                % {"count": deleted, "days": services.retention_days()}
            )
            return
        status = verify_chain()
        if status.intact:
            self.stdout.write(
                _("审计链完整：已校验 %(count)d 条记录。") % {"count": status.checked}
            )
            return
        raise CommandError(
            _("审计链校验失败：第一条异常记录 #%(id)s（%(reason)s）。")
            % {"id": status.bad_id, "reason": _(REASONS.get(status.reason, status.reason))},
            returncode=1,
        )
