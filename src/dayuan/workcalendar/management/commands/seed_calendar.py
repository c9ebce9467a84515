"""``dayuan seed_calendar``: copy years the installed chinese-calendar knows into the table."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dayuan.workcalendar import library, services


class Command(BaseCommand):
    help = "Seed holidays and adjusted working days from the installed chinese-calendar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("years", nargs="*", type=int, help="years (default: all it knows)")
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="replace library rows of years already in the table (manual rows are kept)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        years = options["years"] or library.known_years()
        added = services.seed_from_library(actor=None, years=years, overwrite=options["overwrite"])
        for year, count in sorted(added.items()):
            self.stdout.write(f"{year}: {count} days")
        if not added:
            self.stdout.write("nothing to seed: those years are already in the table")
        known = library.known_years()
        self.stdout.write(f"chinese-calendar knows {known[0]}–{known[-1]}")
