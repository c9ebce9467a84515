"""Standards in and out as files: import a ``*.standard.yaml`` into a draft, export one.

Import is one service: it validates the whole file first (nothing is written when any
line is wrong), then creates the standard if it is new and writes the file's clauses
and rules into the standard's draft version — a new draft numbered after the latest
version, or the existing draft with its content replaced. One audit entry covers the
import. ``publish=True`` then publishes the draft through ``services.publish`` in the
same transaction, so an import that cannot be published leaves nothing behind.

Export writes the canonical form (``fileformat.dump``) of the latest published version
(or of the draft when nothing is published yet), so export → import → export gives the
same bytes.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max, Prefetch
from django.utils.translation import gettext as _

from dayuan.audit.log import audited, record
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound
from dayuan.core.scope import org_in_scope
from dayuan.orgs.models import Organization

from . import fileformat
from .choices import StandardStatus, VersionStatus
from .models import Clause, Rule, Standard, StandardVersion
from .rules import parse_params, rule_target


def _target(kind: str, params: dict[str, Any]) -> str:
    return rule_target(parse_params(kind, params))


def _invalid(errors: list[dict[str, Any]], filename: str) -> InvalidInput:
    first = errors[0]
    return InvalidInput(
        _("标准文件有 %(n)s 处错误，未导入（第 %(line)s 行：%(msg)s）。")
        % {"n": len(errors), "line": first["line"], "msg": first["msg"]},
        code="invalid_standard_file",
        errors=errors,
        filename=filename,
    )


def _issuing_org(actor: Any, code: str) -> Organization:
    org = Organization.objects.filter(code=code).first()
    if org is None or not org_in_scope(actor, org):
        raise InvalidInput(
            _("发布机构 %(org)s 不存在或无权访问。") % {"org": code},
            code="unknown_org",
            org=code,
        )
    policy.require(actor, "standards.manage", org)
    return org


@audited("standards.import")
def import_standard(
    *,
    actor: Any,
    text: str,
    filename: str = "",
    org_code: str | None = None,
    publish: bool = False,
) -> StandardVersion:
    """Write a standard file into the standard's draft (creating both if needed)."""
    doc, errors = fileformat.load(text, filename)
    if errors or doc is None:
        raise _invalid(errors, filename)
    doc = fileformat.canonical(doc)
    org = _issuing_org(actor, org_code or doc["issuing_org"])

    std = Standard.objects.select_for_update(of=("self",)).filter(code=doc["code"]).first()
    created = std is None
    if std is None:
        std = Standard.objects.create(
            code=doc["code"],
            title=doc["title"],
            issuing_org=org,
            domain=doc["domain"],
            description=doc.get("description", ""),
        )
    else:
        if std.issuing_org_id != org.pk:
            raise Conflict(
                _("标准 %(code)s 已由其他机构发布，不能在 %(org)s 下导入。")
                % {"code": std.code, "org": org.code},
                code="standard_org_mismatch",
                standard=std.code,
            )
        if std.status == StandardStatus.RETIRED:
            raise Conflict(_("标准已废止。"), code="standard_retired", standard=std.code)
        fields = {
            "title": doc["title"],
            "domain": doc["domain"],
            "description": doc.get("description", ""),
        }
        if any(getattr(std, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(std, k, v)
            std.version += 1
            std.save()
            _invalidate()  # effective rules carry the standard's title

    draft = (
        StandardVersion.objects.select_for_update(of=("self",))
        .filter(standard=std, status=VersionStatus.DRAFT)
        .first()
    )
    replaced = draft is not None
    change_note = doc.get("version", {}).get("change_note", "")
    if draft is None:
        top = StandardVersion.objects.filter(standard=std).aggregate(n=Max("number"))["n"] or 0
        draft = StandardVersion.objects.create(
            standard=std, number=top + 1, status=VersionStatus.DRAFT, change_note=change_note
        )
    else:
        Clause.objects.filter(version=draft).delete()  # rules go with their clauses
        draft.change_note = change_note
        draft.save(update_fields=["change_note", "updated_at"])

    n_rules = _write_content(draft, doc["clauses"])
    record(
        "standards.import",
        actor=actor,
        obj=std,
        changes={
            "filename": filename[:200],
            "code": std.code,
            "version_id": draft.pk,
            "number": draft.number,
            "created_standard": created,
            "replaced_draft": replaced,
            "clauses": len(doc["clauses"]),
            "rules": n_rules,
        },
    )
    if publish:
        draft = _publish(actor, draft)
    return draft


def _write_content(draft: StandardVersion, clauses: list[dict[str, Any]]) -> int:
    new_clauses = Clause.objects.bulk_create(
        Clause(
            version=draft,
            number=c["number"],
            text=c["text"],
            severity=c["severity"],
            binding=c["binding"],
            position=i,
        )
        for i, c in enumerate(clauses)
    )
    if any(c.pk is None for c in new_clauses):  # backends that return no ids
        by_number = dict(Clause.objects.filter(version=draft).values_list("number", "pk"))
        for c in new_clauses:
            c.pk = by_number[c.number]
    rules = [
        Rule(
            clause_id=clause.pk,
            version=draft,
            key=r["key"],
            kind=r["kind"],
            target=_target(r["kind"], r["params"]),
            params=r["params"],
            source_document=r["source"].get("document", ""),
            source_edition=r["source"].get("edition", ""),
            source_clause=r["source"].get("clause", ""),
            verified=r["source"]["verified"],
        )
        for clause, c in zip(new_clauses, clauses, strict=True)
        for r in c.get("rules", [])
    ]
    Rule.objects.bulk_create(rules)  # in file order: export reads them back by id
    return len(rules)


def _publish(actor: Any, version: StandardVersion) -> StandardVersion:
    """Publish through the core service (imported late: it imports this app's models)."""
    from dayuan.standards import services

    return services.publish(actor=actor, version_id=version.pk, change_note=version.change_note)


def _invalidate() -> None:
    from . import effective

    effective.invalidate()
    transaction.on_commit(effective.invalidate)


# --- export --------------------------------------------------------------------------


def _visible(user: Any, std: Standard) -> bool:
    from .queries import sees_standard

    return sees_standard(user, std)


def _may_manage(user: Any, std: Standard) -> bool:
    return policy.can(user, "standards.manage", std.issuing_org)


def export_document(
    *, actor_or_user: Any, code: str, version_number: int | None = None
) -> dict[str, Any]:
    """The document of a version: the given number, else the latest published, else the
    draft. ``actor_or_user=None`` is the system (the CLI); a user must see the standard
    in the library, and only its managers may read a draft."""
    std = Standard.objects.select_related("issuing_org").filter(code=code).first()
    if std is None or (actor_or_user is not None and not _visible(actor_or_user, std)):
        raise NotFound()
    versions = StandardVersion.objects.filter(standard=std)
    if version_number is not None:
        ver = versions.filter(number=version_number).first()
    else:
        ver = (
            versions.filter(status=VersionStatus.PUBLISHED).order_by("-number").first()
            or versions.filter(status=VersionStatus.DRAFT).first()
        )
    if ver is None:
        raise NotFound(_("该标准没有可导出的版本。"), code="no_version")
    if (
        ver.status == VersionStatus.DRAFT
        and actor_or_user is not None
        and not _may_manage(actor_or_user, std)
    ):
        raise NotFound()
    clauses = (
        Clause.objects.filter(version=ver)
        .order_by("position", "pk")
        .prefetch_related(Prefetch("rules", queryset=Rule.objects.order_by("pk")))
    )
    return {
        "code": std.code,
        "title": std.title,
        "domain": std.domain,
        "issuing_org": std.issuing_org.code,
        "description": std.description,
        "version": {"number": ver.number, "change_note": ver.change_note},
        "clauses": [
            {
                "number": c.number,
                "text": c.text,
                "severity": c.severity,
                "binding": c.binding,
                "rules": [
                    {
                        "key": r.key,
                        "kind": r.kind,
                        "params": r.params,
                        "source": {
                            "document": r.source_document,
                            "edition": r.source_edition,
                            "clause": r.source_clause,
                            "verified": r.verified,
                        },
                    }
                    for r in c.rules.all()
                ],
            }
            for c in clauses
        ],
    }


def export_standard(*, actor_or_user: Any, code: str, version_number: int | None = None) -> str:
    """The canonical ``*.standard.yaml`` text of a standard's version (see export_document)."""
    return fileformat.dump(
        export_document(actor_or_user=actor_or_user, code=code, version_number=version_number)
    )
