"""`dayuan demo [--if-empty]`: load the demo organisations, compounds and logins."""

from __future__ import annotations

import time
import unicodedata
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from dayuan.accounts.choices import Role
from dayuan.core.demo import DEMO_LOGINS, DEMO_PASSWORD, demo_loaded, load_demo


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


class Command(BaseCommand):
    help = "Load demo data: a city centre, three county centres, compounds and one login per role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (but print the logins) when organisations already exist.",
        )
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000/",
            help="The address printed for signing in.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        # The emptiness check and the load share one transaction (SQLite takes its write
        # lock at BEGIN), so two `make run` starting together cannot both load.
        with transaction.atomic():
            counts = None if demo_loaded() else load_demo()
        if counts is None:
            if not options["if_empty"]:
                raise CommandError(
                    "The database already holds organisations; demo data loads only into an "
                    "empty database (use --if-empty to skip quietly)."
                )
            self.stdout.write("Organisations exist already; demo data not loaded.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo data loaded in {time.monotonic() - started:.1f} s: "
                    f"{counts['organizations']} organisations, {counts['locations']} locations, "
                    f"{counts['users']} users."
                )
            )
        self._print_logins(options["url"])

    def _print_logins(self, url: str) -> None:
        rows = [("username", "role", "organisation")]
        rows += [(u, f"{role} {Role(role).label}", org) for u, role, org in DEMO_LOGINS]
        rows += _kitchen_logins()
        rows += _pool_logins()
        widths = [max(_width(str(r[i])) for r in rows) for i in range(3)]
        self.stdout.write("")
        for n, row in enumerate(rows):
            line = "  ".join(_pad(str(c), w) for c, w in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())
            if n == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
        self.stdout.write("")
        self.stdout.write(f"Password for every demo account: {DEMO_PASSWORD}")
        self.stdout.write(f"Sign in at {url}")


def _kitchen_logins() -> list[tuple[str, str, str]]:
    """The canteen kitchens' first logins (``<centre>_cook``), as the canteen demo made
    them: the counter, the food-safety and waste logs are theirs."""
    from dayuan.accounts.models import Grant

    grants = (
        Grant.objects.filter(user__username__regex=r"^[a-z]+_cook$", role=Role.WORKER)
        .select_related("user", "org")
        .order_by("user__date_joined", "user__username")
    )
    return [(g.user.username, f"{g.role} {Role(g.role).label}", g.org.name) for g in grants]


def _pool_logins() -> list[tuple[str, str, str]]:
    """The resource pool's own logins (the enterprises' and the volunteer teams'
    managers, the volunteer station's worker, the 公物仓's manager), as its demo made
    them."""
    from dayuan.resources.demo import pool_logins

    return [(u, f"{role} {Role(role).label}", org) for u, role, org in pool_logins()]
