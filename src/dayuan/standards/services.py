"""Every write to standards: authoring drafts, publishing versions, adopting, tightening.

Drafts are editable; a published version never changes again (a change is a new
draft, copied from the latest published version). Publishing to pilot organisations
first keeps the previous general version in force everywhere else until the pilot is
released generally. Adoptions may override a rule's tunable numbers; an override that
loosens a binding clause against the value inherited from above is refused, citing the
clause. Every change that alters effective rules invalidates their cache.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import Conflict, InvalidInput, NotFound, RuleRefused, StaleVersion
from dayuan.core.scope import org_in_scope
from dayuan.orgs.models import Organization

from . import effective
from .choices import Domain, Severity, StandardStatus, VersionStatus
from .models import Adoption, Clause, Rule, Standard, StandardVersion
from .queries import sees_standard
from .rules import RuleParamsError, parse_params, rule_target

STANDARD_FIELDS = ["code", "title", "issuing_org_id", "domain", "status", "description"]
CLAUSE_FIELDS = ["number", "text", "severity", "binding", "position"]
RULE_FIELDS = [
    "key",
    "kind",
    "target",
    "params",
    "source_document",
    "source_edition",
    "source_clause",
    "verified",
    "clause_id",
]
ADOPTION_FIELDS = ["org_id", "standard_id", "pinned_version_id", "overrides", "note", "is_active"]
RULE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,59}$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")


# --- helpers -----------------------------------------------------------------------


def _invalidate() -> None:
    """Now (so this process and this transaction see the change) and again on commit
    (so no other process keeps a set it computed before the commit)."""
    effective.invalidate()
    transaction.on_commit(effective.invalidate)


def _lock_standard(actor: Any, standard_id: int) -> Standard:
    std = (
        Standard.objects.select_for_update(of=("self",))
        .select_related("issuing_org")
        .filter(pk=standard_id)
        .first()
    )
    if std is None or not sees_standard(actor, std):
        raise NotFound()
    policy.require(actor, "standards.manage", std.issuing_org)
    return std


def _lock_version(actor: Any, version_id: int) -> StandardVersion:
    ver = (
        StandardVersion.objects.select_for_update(of=("self",))
        .select_related("standard__issuing_org")
        .filter(pk=version_id)
        .first()
    )
    if ver is None or not sees_standard(actor, ver.standard):
        raise NotFound()
    policy.require(actor, "standards.manage", ver.standard.issuing_org)
    return ver


def _require_draft(ver: StandardVersion) -> None:
    if ver.status != VersionStatus.DRAFT:
        raise Conflict(
            _("版本 v%(number)s 已发布，不能修改；请新建草稿。") % {"number": ver.number},
            code="version_published",
            version_id=ver.pk,
            number=ver.number,
        )


def _require_not_retired(std: Standard) -> None:
    if std.status == StandardStatus.RETIRED:
        raise Conflict(_("标准已废止。"), code="standard_retired", standard=std.code)


def _normalise(value: Any) -> Any:
    """JSON in one form whatever the database returned (integral floats as integers)."""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return value
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def version_content(ver: StandardVersion) -> list[dict[str, Any]]:
    """A version's clauses and rules as plain data, in a fixed order (what the hash covers)."""
    clauses = (
        Clause.objects.filter(version=ver).prefetch_related("rules").order_by("position", "number")
    )
    return [
        {
            "number": c.number,
            "text": c.text,
            "severity": c.severity,
            "binding": c.binding,
            "position": c.position,
            "rules": [
                {
                    "key": r.key,
                    "kind": r.kind,
                    "target": r.target,
                    "params": _normalise(r.params),
                    "source_document": r.source_document,
                    "source_edition": r.source_edition,
                    "source_clause": r.source_clause,
                    "verified": r.verified,
                }
                for r in sorted(c.rules.all(), key=lambda r: r.key)
            ],
        }
        for c in clauses
    ]


def content_hash(content: list[dict[str, Any]]) -> str:
    """SHA-256 of the canonical JSON of a version's content."""
    text = json.dumps(
        content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder
    )
    return hashlib.sha256(text.encode()).hexdigest()


# --- authoring ---------------------------------------------------------------------


@audited("standards.standard.create")
def create_standard(
    *,
    actor: Any,
    code: str,
    title: str,
    issuing_org_id: int,
    domain: str,
    description: str = "",
) -> Standard:
    """A new standard with an empty draft v1."""
    org = Organization.objects.filter(pk=issuing_org_id).first()
    if org is None or not org_in_scope(actor, org):
        raise NotFound()
    policy.require(actor, "standards.manage", org)
    if not CODE.match(code or ""):
        raise InvalidInput(_("标准编号只能包含字母、数字、- 和 _。"), code="invalid_code")
    if not (title or "").strip():
        raise InvalidInput(_("请填写标准名称。"), code="invalid_title", field="title")
    if domain not in Domain.values:
        raise InvalidInput(_("领域无效。"), code="invalid_domain", domain=domain)
    if Standard.objects.filter(code=code).exists():
        raise InvalidInput(_("标准编号已存在。"), code="duplicate_code", field="code")
    try:
        with transaction.atomic():
            std = Standard.objects.create(
                code=code,
                title=title.strip(),
                issuing_org=org,
                domain=domain,
                description=description,
            )
    except IntegrityError as exc:  # a concurrent create took the code
        raise InvalidInput(_("标准编号已存在。"), code="duplicate_code", field="code") from exc
    ver = StandardVersion.objects.create(standard=std, number=1, status=VersionStatus.DRAFT)
    record(
        "standards.standard.create",
        actor=actor,
        obj=std,
        changes={**diff({}, snapshot(std, STANDARD_FIELDS)), "draft_version_id": ver.pk},
    )
    return std


@audited("standards.standard.update")
def update_standard(
    *,
    actor: Any,
    standard_id: int,
    version: int,
    title: str | None = None,
    description: str | None = None,
    domain: str | None = None,
) -> Standard:
    std = _lock_standard(actor, standard_id)
    if std.version != version:
        raise StaleVersion(current_version=std.version)
    if domain is not None and domain not in Domain.values:
        raise InvalidInput(_("领域无效。"), code="invalid_domain", domain=domain)
    if title is not None and not title.strip():
        raise InvalidInput(_("请填写标准名称。"), code="invalid_title", field="title")
    before = snapshot(std, STANDARD_FIELDS)
    if title is not None:
        std.title = title.strip()
    if description is not None:
        std.description = description
    if domain is not None:
        std.domain = domain
    std.version += 1
    std.save()
    record(
        "standards.standard.update",
        actor=actor,
        obj=std,
        changes=diff(before, snapshot(std, STANDARD_FIELDS)),
    )
    _invalidate()
    return std


@audited("standards.version.create")
def new_draft(*, actor: Any, standard_id: int) -> StandardVersion:
    """A new draft, a copy of the latest published version's clauses and rules."""
    std = _lock_standard(actor, standard_id)
    _require_not_retired(std)
    draft = StandardVersion.objects.filter(standard=std, status=VersionStatus.DRAFT).first()
    if draft is not None:
        raise Conflict(
            _("该标准已有草稿 v%(number)s。") % {"number": draft.number},
            code="draft_exists",
            draft_id=draft.pk,
            number=draft.number,
        )
    source = (
        StandardVersion.objects.filter(standard=std)
        .exclude(status=VersionStatus.DRAFT)
        .order_by("-number")
        .first()
    )
    top = StandardVersion.objects.filter(standard=std).aggregate(n=Max("number"))["n"] or 0
    ver = StandardVersion.objects.create(standard=std, number=top + 1, status=VersionStatus.DRAFT)
    if source is not None:
        for clause in Clause.objects.filter(version=source).prefetch_related("rules"):
            copy = Clause.objects.create(
                version=ver,
                number=clause.number,
                text=clause.text,
                severity=clause.severity,
                binding=clause.binding,
                position=clause.position,
            )
            Rule.objects.bulk_create(
                Rule(
                    clause=copy,
                    version=ver,
                    key=r.key,
                    kind=r.kind,
                    target=r.target,
                    params=r.params,
                    source_document=r.source_document,
                    source_edition=r.source_edition,
                    source_clause=r.source_clause,
                    verified=r.verified,
                )
                for r in clause.rules.all()
            )
    record(
        "standards.version.create",
        actor=actor,
        obj=std,
        changes={
            "version_id": ver.pk,
            "number": ver.number,
            "copied_from": source.number if source else None,
        },
    )
    return ver


@audited("standards.clause.upsert")
def upsert_clause(
    *,
    actor: Any,
    version_id: int,
    number: str,
    text: str,
    severity: str,
    binding: bool,
    position: int | None = None,
) -> Clause:
    """Create or change the clause ``number`` of a draft."""
    ver = _lock_version(actor, version_id)
    _require_draft(ver)
    number = (number or "").strip()
    if not number or len(number) > 20:
        raise InvalidInput(_("条款号须为 1–20 个字符。"), code="invalid_clause", field="number")
    if not (text or "").strip():
        raise InvalidInput(_("请填写条款内容。"), code="invalid_clause", field="text")
    if severity not in Severity.values:
        raise InvalidInput(_("重要程度无效。"), code="invalid_clause", field="severity")
    if position is not None and position < 0:
        raise InvalidInput(_("位置不能为负数。"), code="invalid_clause", field="position")
    clause = Clause.objects.filter(version=ver, number=number).first()
    before = snapshot(clause, CLAUSE_FIELDS) if clause else {}
    if clause is None:
        if position is None:
            top = Clause.objects.filter(version=ver).aggregate(p=Max("position"))["p"]
            position = 0 if top is None else top + 1
        clause = Clause(version=ver, number=number, position=position)
    elif position is not None:
        clause.position = position
    clause.text = text.strip()
    clause.severity = severity
    clause.binding = bool(binding)
    clause.save()
    record(
        "standards.clause.upsert",
        actor=actor,
        obj=ver.standard,
        changes={
            **diff(before, snapshot(clause, CLAUSE_FIELDS)),
            "version_id": ver.pk,
            "clause_id": clause.pk,
        },
    )
    return clause


def _lock_clause(actor: Any, clause_id: int) -> tuple[Clause, StandardVersion]:
    clause = Clause.objects.filter(pk=clause_id).first()
    if clause is None:
        raise NotFound()
    ver = _lock_version(actor, clause.version_id)
    return clause, ver


@audited("standards.clause.delete")
def delete_clause(*, actor: Any, clause_id: int) -> None:
    clause, ver = _lock_clause(actor, clause_id)
    _require_draft(ver)
    before = snapshot(clause, CLAUSE_FIELDS)
    rule_keys = list(clause.rules.values_list("key", flat=True))
    clause.delete()
    record(
        "standards.clause.delete",
        actor=actor,
        obj=ver.standard,
        changes={**diff(before, {}), "version_id": ver.pk, "rules": rule_keys},
    )


@audited("standards.rule.upsert")
def upsert_rule(
    *,
    actor: Any,
    clause_id: int,
    key: str,
    kind: str,
    params: dict[str, Any],
    source_document: str = "",
    source_edition: str = "",
    source_clause: str = "",
    verified: bool = True,
) -> Rule:
    """Create or change the rule ``key`` of a draft (keys are unique per version)."""
    clause, ver = _lock_clause(actor, clause_id)
    _require_draft(ver)
    if not RULE_KEY.match(key or ""):
        raise InvalidInput(
            _("规则标识只能包含字母、数字和 _ . : -，最长 60 个字符。"),
            code="invalid_rule",
            errors=[{"loc": "key", "msg": _("规则标识无效")}],
        )
    try:
        parsed = parse_params(kind, params)
    except RuleParamsError as exc:
        raise InvalidInput(
            _("规则参数无效：%(errors)s") % {"errors": str(exc)},
            code="invalid_rule",
            errors=exc.errors,
        ) from exc
    rule = Rule.objects.filter(version=ver, key=key).first()
    before = snapshot(rule, RULE_FIELDS) if rule else {}
    if rule is None:
        rule = Rule(version=ver, key=key)
    rule.clause = clause
    rule.kind = kind
    rule.target = rule_target(parsed)
    rule.params = params
    rule.source_document = source_document
    rule.source_edition = source_edition
    rule.source_clause = source_clause
    rule.verified = verified
    rule.save()
    record(
        "standards.rule.upsert",
        actor=actor,
        obj=ver.standard,
        changes={
            **diff(before, snapshot(rule, RULE_FIELDS)),
            "version_id": ver.pk,
            "rule_id": rule.pk,
        },
    )
    return rule


@audited("standards.rule.delete")
def delete_rule(*, actor: Any, rule_id: int) -> None:
    rule = Rule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    ver = _lock_version(actor, rule.version_id)
    _require_draft(ver)
    before = snapshot(rule, RULE_FIELDS)
    rule.delete()
    record(
        "standards.rule.delete",
        actor=actor,
        obj=ver.standard,
        changes={**diff(before, {}), "version_id": ver.pk},
    )


# --- publishing --------------------------------------------------------------------


def _supersede_older(ver: StandardVersion) -> list[int]:
    older = StandardVersion.objects.filter(
        standard_id=ver.standard_id, status=VersionStatus.PUBLISHED, number__lt=ver.number
    )
    numbers = list(older.values_list("number", flat=True))
    older.update(status=VersionStatus.SUPERSEDED)
    return numbers


@audited("standards.version.publish")
def publish(
    *,
    actor: Any,
    version_id: int,
    change_note: str = "",
    pilot_org_ids: list[int] | None = None,
) -> StandardVersion:
    """Publish a draft: generally, or first to pilot organisations (and their subtrees)."""
    ver = _lock_version(actor, version_id)
    _require_draft(ver)
    std = ver.standard
    _require_not_retired(std)
    if not Clause.objects.filter(version=ver).exists():
        raise InvalidInput(_("草稿没有任何条款，不能发布。"), code="empty_version")
    pilots: list[Organization] = []
    if pilot_org_ids:
        wanted = set(pilot_org_ids)
        pilots = list(
            Organization.objects.filter(pk__in=wanted, path__startswith=std.issuing_org.path)
        )
        if len(pilots) != len(wanted):
            raise InvalidInput(
                _("试点单位须在发布机构之下。"),
                code="invalid_pilot_org",
                missing=sorted(wanted - {o.pk for o in pilots}),
            )
    now = timezone.now()
    ver.status = VersionStatus.PUBLISHED
    ver.published_at = now
    ver.published_by = actor if getattr(actor, "pk", None) else None
    ver.change_note = change_note
    ver.general_release = not pilots
    ver.released_at = now if not pilots else None
    ver.content_hash = content_hash(version_content(ver))
    ver.save()
    if pilots:
        ver.pilot_orgs.set(pilots)
    superseded = [] if pilots else _supersede_older(ver)
    if std.status == StandardStatus.DRAFT:
        std.status = StandardStatus.PUBLISHED
        std.version += 1
        std.save(update_fields=["status", "version", "updated_at"])
    record(
        "standards.version.publish",
        actor=actor,
        obj=std,
        changes={
            "version_id": ver.pk,
            "number": ver.number,
            "content_hash": ver.content_hash,
            "pilot_org_ids": sorted(o.pk for o in pilots),
            "general_release": ver.general_release,
            "superseded": superseded,
            "change_note": change_note,
        },
    )
    _invalidate()
    return ver


@audited("standards.version.release")
def release_generally(*, actor: Any, version_id: int) -> StandardVersion:
    """End a pilot: the version comes into force everywhere and supersedes older ones."""
    ver = _lock_version(actor, version_id)
    _require_not_retired(ver.standard)
    if ver.status != VersionStatus.PUBLISHED or ver.general_release:
        raise Conflict(
            _("只有处于试点中的已发布版本才能全面实施。"),
            code="not_in_pilot",
            status=ver.status,
            general_release=ver.general_release,
        )
    ver.general_release = True
    ver.released_at = timezone.now()
    ver.save(update_fields=["general_release", "released_at", "updated_at"])
    superseded = _supersede_older(ver)
    record(
        "standards.version.release",
        actor=actor,
        obj=ver.standard,
        changes={"version_id": ver.pk, "number": ver.number, "superseded": superseded},
    )
    _invalidate()
    return ver


@audited("standards.standard.retire")
def retire(*, actor: Any, standard_id: int, version: int | None = None) -> Standard:
    """Withdraw a standard: its rules stop being effective everywhere."""
    std = _lock_standard(actor, standard_id)
    if version is not None and std.version != version:
        raise StaleVersion(current_version=std.version)
    _require_not_retired(std)
    before = snapshot(std, STANDARD_FIELDS)
    std.status = StandardStatus.RETIRED
    std.version += 1
    std.save()
    record(
        "standards.standard.retire",
        actor=actor,
        obj=std,
        changes=diff(before, snapshot(std, STANDARD_FIELDS)),
    )
    _invalidate()
    return std


# --- adoption and tightening -------------------------------------------------------

UNITS = {
    "sla": {"minutes": "分钟", "at_percent": "%"},
    "schedule": {"period_days": "天", "grace_hours": "小时"},
    "checklist": {"pass_line": "分", "min_score": "分"},
    "booking": {"lead_time_minutes": "分钟", "max_duration_minutes": "分钟"},
}


def _unit(kind: str, parsed: Any, path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    if kind == "record" and path.startswith("vars."):
        var = parsed.vars.get(path.split(".")[1])
        return var.unit if var else ""
    if kind == "kpi":
        return parsed.unit
    if kind == "checklist":
        if ".max_failed." in path:
            return "项"
        if path.startswith("items."):
            for item in parsed.items:
                if item.key == path.split(".")[1]:
                    return item.unit
    return UNITS.get(kind, {}).get(last, "")


def _fmt(value: Any, unit: str) -> str:
    number = float(value)
    text = str(int(number)) if number.is_integer() else f"{number:g}"
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def _label(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 24 else text[:23] + "…"


def _clean_shape(overrides: Any) -> dict[str, dict[str, Any]]:
    if overrides is None:
        return {}
    if not isinstance(overrides, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) and all(isinstance(p, str) for p in v)
        for k, v in overrides.items()
    ):
        raise InvalidInput(
            _("本地化调整须为 {规则标识: {参数路径: 值}}。"), code="invalid_overrides"
        )
    return {k: dict(v) for k, v in overrides.items() if v}


def _check_value(rule_key: str, path: str, value: Any) -> None:
    if path.endswith("frequency.period_days"):
        ok = isinstance(value, dict)
        expected = _('频次对象，如 {"every": 1, "unit": "week"}')
    else:
        ok = isinstance(value, int | float) and (
            isinstance(value, bool) or math.isfinite(float(value))
        )
        expected = _("数值")
    if not ok:
        raise InvalidInput(
            _("规则 %(rule)s 的参数 %(path)s 须为%(expected)s。")
            % {"rule": rule_key, "path": path, "expected": expected},
            code="invalid_override",
            rule=rule_key,
            path=path,
        )


def check_overrides(
    org: Organization,
    standard: Standard,
    pinned_version_id: int | None,
    overrides: Any,
) -> dict[str, dict[str, Any]]:
    """Validate an adoption's overrides for ``org``; returns them cleaned.

    Each value is compared with the value inherited from the adoptions above (their
    overrides on top of the version's numbers): as strict or stricter is always fine;
    looser only where the clause is not binding.
    """
    overrides = _clean_shape(overrides)
    if not overrides:
        return {}
    prefixes = effective.ancestor_paths(org.path)
    rows = effective.versions_in_force([standard.pk], prefixes, None)
    row = effective.pick_version(rows.get(standard.pk, {}), pinned_version_id)
    if row is None:
        raise InvalidInput(
            _("该单位当前没有生效的标准版本，无法设置本地化调整。"), code="no_version_in_force"
        )
    ancestors = sorted(
        Adoption.objects.filter(
            standard=standard, is_active=True, org__path__in=prefixes[:-1]
        ).select_related("org"),
        key=lambda a: len(a.org.path),
    )
    rules = {r.key: r for r in Rule.objects.filter(version_id=row["id"]).select_related("clause")}
    for rule_key, changes in overrides.items():
        rule = rules.get(rule_key)
        if rule is None:
            raise InvalidInput(
                _("标准 %(standard)s v%(version)s 中没有规则 %(rule)s。")
                % {"standard": standard.code, "version": row["number"], "rule": rule_key},
                code="unknown_rule",
                rule=rule_key,
            )
        check_rule_overrides(
            rule,
            rule.clause,
            [(a.pk, a.overrides.get(rule_key) or {}) for a in ancestors],
            changes,
            standard_code=standard.code,
            version_number=row["number"],
        )
    return overrides


def check_rule_overrides(
    rule: Rule,
    clause: Clause,
    ancestor_layers: list[tuple[int, dict[str, Any]]],
    changes: dict[str, Any],
    *,
    standard_code: str,
    version_number: int,
) -> None:
    """Check one rule's requested ``{path: value}`` against what the ancestors' layers
    leave in force (no database access: the property tests drive this directly)."""
    rule_key = rule.key
    inherited = effective.layer(rule.kind, rule.params, clause.binding, ancestor_layers)
    tunables = inherited.parsed.tunables()  # type: ignore[union-attr]
    combined = inherited.data
    for path, value in changes.items():
        if path not in tunables:
            raise InvalidInput(
                _("规则 %(rule)s 没有可调整的参数 %(path)s（可调整：%(allowed)s）。")
                % {"rule": rule_key, "path": path, "allowed": "、".join(sorted(tunables))},
                code="unknown_tunable",
                rule=rule_key,
                path=path,
                tunables=sorted(tunables),
            )
        _check_value(rule_key, path, value)
        try:
            parsed = parse_params(rule.kind, effective.apply_override(inherited.data, path, value))
            combined = effective.apply_override(combined, path, value)
        except (RuleParamsError, effective.OverridePathError) as exc:
            errors = getattr(exc, "errors", [{"loc": path, "msg": str(exc)}])
            raise InvalidInput(
                _("规则 %(rule)s 的参数 %(path)s 取值无效。") % {"rule": rule_key, "path": path},
                code="invalid_override",
                rule=rule_key,
                path=path,
                errors=errors,
            ) from exc
        old, stricter = tunables[path]
        after = parsed.tunables().get(path)  # type: ignore[union-attr]
        if after is None:
            raise InvalidInput(
                _("规则 %(rule)s 的参数 %(path)s 取值无效。") % {"rule": rule_key, "path": path},
                code="invalid_override",
                rule=rule_key,
                path=path,
            )
        new = after[0]
        if clause.binding and effective.is_looser(old, new, stricter):
            unit = _unit(rule.kind, inherited.parsed, path)
            raise RuleRefused(
                _(
                    "条款 %(clause)s（%(label)s）为约束性条款，只能从严："
                    "%(source)s %(op)s %(inherited)s，申请值 %(requested)s"
                )
                % {
                    "clause": clause.number,
                    "label": _label(clause.text),
                    "source": _("上级要求") if path in inherited.set_by else _("标准要求"),
                    "op": "≤" if stricter == "lower" else "≥",
                    "inherited": _fmt(old, unit),
                    "requested": _fmt(new, unit),
                },
                code="override_loosens_binding",
                rule=rule_key,
                path=path,
                clause=clause.number,
                clause_text=clause.text,
                standard=standard_code,
                version=version_number,
                inherited=old,
                requested=new,
                stricter=stricter,
            )
    try:
        parse_params(rule.kind, combined)
    except RuleParamsError as exc:
        raise InvalidInput(
            _("规则 %(rule)s 调整后的参数互相矛盾。") % {"rule": rule_key},
            code="invalid_override",
            rule=rule_key,
            errors=exc.errors,
        ) from exc


def available_to(org: Organization, standard: Standard) -> bool:
    """Library visibility for an organisation: issued at or above it, or within it."""
    issuer = standard.issuing_org.path
    return org.path.startswith(issuer) or issuer.startswith(org.path)


def _org_for_adoption(actor: Any, org_id: int) -> Organization:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None or not org_in_scope(actor, org):
        raise NotFound()
    policy.require(actor, "standards.manage", org)
    return org


def _lock_adoption(actor: Any, adoption_id: int) -> Adoption:
    adoption = (
        Adoption.objects.select_for_update(of=("self",))
        .select_related("org", "standard__issuing_org")
        .filter(pk=adoption_id)
        .first()
    )
    if adoption is None or not org_in_scope(actor, adoption.org):
        raise NotFound()
    policy.require(actor, "standards.manage", adoption.org)
    return adoption


@audited("standards.adoption.create")
def adopt(
    *,
    actor: Any,
    org_id: int,
    standard_id: int,
    version_id: int | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    note: str = "",
) -> Adoption:
    """Apply a standard to ``org``'s subtree, as is or tightened; ``version_id`` pins an
    edition (None follows the latest version in force)."""
    org = _org_for_adoption(actor, org_id)
    std = Standard.objects.select_related("issuing_org").filter(pk=standard_id).first()
    if std is None or not sees_standard(actor, std):
        raise NotFound()
    if not available_to(org, std):
        raise InvalidInput(
            _("标准 %(standard)s 不在该单位可用的标准库中。") % {"standard": std.code},
            code="standard_not_available",
            standard=std.code,
        )
    _require_not_retired(std)
    if std.status != StandardStatus.PUBLISHED:
        raise Conflict(_("标准尚未发布，不能采用。"), code="standard_not_published")
    if version_id is not None:
        prefixes = effective.ancestor_paths(org.path)
        rows = effective.versions_in_force([std.pk], prefixes, None).get(std.pk, {})
        row = rows.get(version_id)
        if row is None:
            raise InvalidInput(
                _("所选版本不属于该标准或尚未发布。"), code="invalid_version", field="version_id"
            )
        if not row["in_force"]:
            raise InvalidInput(
                _("所选版本仍在试点，该单位不在试点范围内。"),
                code="version_not_in_force",
                field="version_id",
            )
    existing = (
        Adoption.objects.select_for_update(of=("self",)).filter(org=org, standard=std).first()
    )
    if existing is not None and existing.is_active:
        raise Conflict(_("该单位已采用此标准。"), code="already_adopted", adoption_id=existing.pk)
    clean = check_overrides(org, std, version_id, overrides)
    before = snapshot(existing, ADOPTION_FIELDS) if existing else {}
    adoption = existing or Adoption(org=org, standard=std)
    adoption.pinned_version_id = version_id
    adoption.overrides = clean
    adoption.note = note
    adoption.is_active = True
    if existing is not None:
        adoption.version += 1
    try:
        with transaction.atomic():
            adoption.save()
    except IntegrityError as exc:  # a concurrent adoption of the same standard
        raise Conflict(_("该单位已采用此标准。"), code="already_adopted") from exc
    record(
        "standards.adoption.create",
        actor=actor,
        obj=adoption,
        changes=diff(before, snapshot(adoption, ADOPTION_FIELDS)),
    )
    _invalidate()
    return adoption


@audited("standards.adoption.update")
def set_overrides(
    *, actor: Any, adoption_id: int, version: int, overrides: dict[str, dict[str, Any]]
) -> Adoption:
    """Replace an adoption's overrides (the whole map), checked like ``adopt``."""
    adoption = _lock_adoption(actor, adoption_id)
    if adoption.version != version:
        raise StaleVersion(current_version=adoption.version)
    _require_not_retired(adoption.standard)
    if not adoption.is_active:
        raise Conflict(_("该采用已撤销。"), code="adoption_withdrawn")
    clean = check_overrides(adoption.org, adoption.standard, adoption.pinned_version_id, overrides)
    before = snapshot(adoption, ADOPTION_FIELDS)
    adoption.overrides = clean
    adoption.version += 1
    adoption.save()
    record(
        "standards.adoption.update",
        actor=actor,
        obj=adoption,
        changes=diff(before, snapshot(adoption, ADOPTION_FIELDS)),
    )
    _invalidate()
    return adoption


@audited("standards.adoption.withdraw")
def withdraw_adoption(*, actor: Any, adoption_id: int, version: int) -> Adoption:
    """Stop applying the standard at this org (what is adopted above still applies)."""
    adoption = _lock_adoption(actor, adoption_id)
    if adoption.version != version:
        raise StaleVersion(current_version=adoption.version)
    if not adoption.is_active:
        raise Conflict(_("该采用已撤销。"), code="adoption_withdrawn")
    before = snapshot(adoption, ADOPTION_FIELDS)
    adoption.is_active = False
    adoption.version += 1
    adoption.save()
    record(
        "standards.adoption.withdraw",
        actor=actor,
        obj=adoption,
        changes=diff(before, snapshot(adoption, ADOPTION_FIELDS)),
    )
    _invalidate()
    return adoption
