"""`dayuan standards validate|import|export|schema`: standards as files on the command line.

dayuan standards validate FILE_OR_DIR...        FILE:LINE: message per error; exit 1 on any
dayuan standards import FILE --org CODE [--publish] [--as USERNAME]
dayuan standards export CODE [--version N] [-o FILE]
dayuan standards schema [-o FILE]               the JSON Schema (as committed)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dayuan.core.context import origin
from dayuan.core.errors import DomainError
from dayuan.standards import fileformat


def _files(paths: list[str]) -> list[Path]:
    """The files named, with directories expanded to their ``*.standard.yaml``."""
    out: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            out.extend(sorted(path.glob("*.standard.yaml")))
        else:
            out.append(path)
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot read: {exc}") from exc


def _line(filename: Any, error: dict[str, Any]) -> str:
    where = f" [{error['loc']}]" if error.get("loc") else ""
    return f"{filename}:{error['line']}: {error['msg']}{where}"


class Command(BaseCommand):
    help = "Validate, import and export service standards as *.standard.yaml files."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        validate = sub.add_parser("validate", help="Check files; print FILE:LINE: message.")
        validate.add_argument("files", nargs="+", metavar="FILE", help="files or directories")

        imp = sub.add_parser("import", help="Import a file into the standard's draft version.")
        imp.add_argument("file", metavar="FILE")
        imp.add_argument("--org", help="issuing organisation code (default: the file's)")
        imp.add_argument("--publish", action="store_true", help="publish the draft at once")
        imp.add_argument(
            "--as",
            dest="username",
            help="acting user (default: the first active administrator of the root org)",
        )

        exp = sub.add_parser("export", help="Write a standard as YAML.")
        exp.add_argument("code", metavar="CODE")
        exp.add_argument("--version", dest="version_number", type=int, metavar="N")
        exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")

        schema = sub.add_parser("schema", help="Print the JSON Schema of the file format.")
        schema.add_argument("-o", "--output", metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "validate":
            self._validate(options["files"])
        elif action == "import":
            self._import(options)
        elif action == "export":
            self._export(options)
        else:
            self._write(fileformat.render_schema(), options.get("output"))

    def _validate(self, names: list[str]) -> None:
        files = _files(names)
        if not files:
            raise CommandError("no *.standard.yaml files found", returncode=1)
        total = 0
        for path in files:
            doc, errors = fileformat.load(_read(path), str(path))
            total += len(errors)
            for error in errors:
                self.stdout.write(_line(path, error))
            if not errors and doc is not None:
                clauses = doc["clauses"]
                rules = sum(len(c.get("rules") or []) for c in clauses)
                self.stdout.write(
                    f"{path}: OK {doc['code']} — {len(clauses)} clauses, {rules} rules"
                )
        if total:
            raise CommandError(f"{total} error(s) in {len(files)} file(s)", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"{len(files)} file(s) valid."))

    def _actor(self, username: str | None) -> Any:
        from dayuan.accounts.choices import Role
        from dayuan.accounts.models import User

        if username:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"no active user {username!r}")
            return user
        user = (
            User.objects.filter(
                is_active=True, grants__role=Role.ADMIN, grants__org__parent__isnull=True
            )
            .order_by("pk")
            .first()
        )
        if user is None:
            raise CommandError("no active administrator at the root organisation; use --as")
        return user

    def _import(self, options: dict[str, Any]) -> None:
        from dayuan.standards.importer import import_standard

        path = Path(options["file"])
        text = _read(path)
        actor = self._actor(options.get("username"))
        try:
            with origin("cli"):
                version = import_standard(
                    actor=actor,
                    text=text,
                    filename=path.name,
                    org_code=options.get("org"),
                    publish=options["publish"],
                )
        except DomainError as exc:
            for error in (exc.details or {}).get("errors") or []:
                self.stderr.write(_line(path, error))
            raise CommandError(str(exc.message), returncode=1) from exc
        n_clauses = version.clauses.count()
        n_rules = version.rules.count()
        self.stdout.write(
            self.style.SUCCESS(
                f"{version.standard.code} v{version.number} ({version.status}): "
                f"{n_clauses} clauses, {n_rules} rules, as {actor.username}."
            )
        )

    def _export(self, options: dict[str, Any]) -> None:
        from dayuan.standards.importer import export_standard

        try:
            text = export_standard(
                actor_or_user=None, code=options["code"], version_number=options["version_number"]
            )
        except DomainError as exc:
            raise CommandError(f"{options['code']}: {exc.message}", returncode=1) from exc
        self._write(text, options.get("output"))

    def _write(self, text: str, output: str | None) -> None:
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stdout.write(f"wrote {output}")
        else:
            self.stdout.write(text, ending="")
