"""Standards: the library, versions and clauses, authoring, publishing, adoption."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page
from dayuan.orgs import queries as org_queries

from . import queries, services
from .choices import Domain, RuleKind, Severity
from .effective import EffectiveRule, effective_rules

router = Router(tags=["standards"])

ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class StandardOut(Schema):
    id: int
    code: str
    title: str
    issuing_org_id: int
    issuing_org_name: str
    domain: str
    status: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_issuing_org_name(obj: Any) -> str:
        return obj.issuing_org.name


class StandardIn(Schema):
    code: str = Field(..., min_length=1, max_length=60)
    title: str = Field(..., min_length=1, max_length=200)
    issuing_org_id: int
    domain: Domain
    description: str = ""


class StandardPatch(Schema):
    version: int
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    domain: Domain | None = None


class VersionOut(Schema):
    id: int
    standard_id: int
    number: int
    status: str
    change_note: str
    published_at: datetime | None
    published_by_id: int | None
    general_release: bool
    released_at: datetime | None
    content_hash: str
    pilot_org_ids: list[int]

    @staticmethod
    def resolve_pilot_org_ids(obj: Any) -> list[int]:
        return sorted(o.pk for o in obj.pilot_orgs.all())


class RuleOut(Schema):
    id: int
    clause_id: int
    key: str
    kind: str
    target: str
    params: dict[str, Any]
    source_document: str
    source_edition: str
    source_clause: str
    verified: bool


class ClauseOut(Schema):
    id: int
    number: str
    text: str
    severity: str
    binding: bool
    position: int
    rules: list[RuleOut]

    @staticmethod
    def resolve_rules(obj: Any) -> list[Any]:
        return sorted(obj.rules.all(), key=lambda r: r.key)


class VersionDetailOut(VersionOut):
    standard_code: str
    clauses: list[ClauseOut]

    @staticmethod
    def resolve_standard_code(obj: Any) -> str:
        return obj.standard.code

    @staticmethod
    def resolve_clauses(obj: Any) -> list[Any]:
        return obj.clause_list


class ClauseIn(Schema):
    number: str = Field(..., min_length=1, max_length=20)
    text: str = Field(..., min_length=1)
    severity: Severity
    binding: bool = False
    position: int | None = Field(None, ge=0)


class RuleIn(Schema):
    key: str = Field(..., min_length=1, max_length=60)
    kind: RuleKind
    params: dict[str, Any]
    source_document: str = Field("", max_length=200)
    source_edition: str = Field("", max_length=100)
    source_clause: str = Field("", max_length=60)
    verified: bool = True


class PublishIn(Schema):
    change_note: str = ""
    pilot_org_ids: list[int] | None = None


class VersionRef(Schema):
    version: int | None = None


class AdoptionOut(Schema):
    id: int
    org_id: int
    org_name: str
    standard_id: int
    standard_code: str
    pinned_version_id: int | None = Field(None, description="固定版本；空 = 跟随最新发布版本")
    pinned_version_number: int | None = None
    overrides: dict[str, dict[str, Any]]
    note: str
    is_active: bool
    version: int

    @staticmethod
    def resolve_pinned_version_number(obj: Any) -> int | None:
        return obj.pinned_version.number if obj.pinned_version_id else None

    @staticmethod
    def resolve_org_name(obj: Any) -> str:
        return obj.org.name

    @staticmethod
    def resolve_standard_code(obj: Any) -> str:
        return obj.standard.code


class AdoptionIn(Schema):
    org_id: int
    standard_id: int
    version_id: int | None = Field(None, description="固定版本；空 = 跟随最新发布版本")
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    note: str = Field("", max_length=300)


class OverridesIn(Schema):
    version: int
    overrides: dict[str, dict[str, Any]]


class WithdrawIn(Schema):
    version: int


class EffectiveRuleOut(Schema):
    rule_id: int
    key: str
    kind: str
    target: str
    params: dict[str, Any]
    overridden: dict[str, Any]
    clause_id: int
    clause_number: str
    clause_text: str
    severity: str
    binding: bool
    standard_id: int
    standard_code: str
    standard_title: str
    version_id: int
    version_number: int
    adopted_by_org_id: int | None
    source_document: str
    source_edition: str
    source_clause: str
    verified: bool


class HistoryOut(Schema):
    id: int
    at: datetime
    actor_name: str
    action: str
    object_type: str
    object_id: str
    changes: dict[str, Any]


def _effective_out(rule: EffectiveRule) -> dict[str, Any]:
    data = {name: getattr(rule, name) for name in EffectiveRuleOut.model_fields}
    data["params"] = rule.params.model_dump(mode="json")
    return data


# --- the library ---------------------------------------------------------------------


@router.get("/standards", response=list[StandardOut])
@paginate(Page)
def list_standards(
    request: HttpRequest,
    domain: str | None = None,
    status: str | None = None,
    q: str | None = None,
    issuing_org_id: int | None = None,
):
    return queries.library(
        request.auth, domain=domain, status=status, q=q, issuing_org_id=issuing_org_id
    )


@router.post("/standards", response={201: StandardOut, **ERRORS})
def create_standard(request: HttpRequest, payload: StandardIn):
    return Status(201, services.create_standard(actor=request.auth, **payload.dict()))


@router.get("/standards/effective", response={200: list[EffectiveRuleOut], 404: ErrorOut})
def get_effective(
    request: HttpRequest,
    org_id: int,
    kind: str | None = None,
    target: str | None = None,
    at: datetime | None = None,
):
    """The rules in force for an organisation (with overrides applied), each citing its clause."""
    org = org_queries.organization(request.auth, org_id)
    return [_effective_out(r) for r in effective_rules(org, kind=kind, target=target, at=at)]


# --- adoptions -----------------------------------------------------------------------


@router.get("/standards/adoptions", response=list[AdoptionOut])
@paginate(Page)
def list_adoptions(
    request: HttpRequest,
    standard_id: int | None = None,
    org_id: int | None = None,
    active: bool | None = True,
):
    return queries.adoptions(request.auth, standard_id=standard_id, org_id=org_id, active=active)


@router.post("/standards/adoptions", response={201: AdoptionOut, **ERRORS})
def adopt(request: HttpRequest, payload: AdoptionIn):
    return Status(201, services.adopt(actor=request.auth, **payload.dict()))


@router.get("/standards/adoptions/{adoption_id}", response={200: AdoptionOut, 404: ErrorOut})
def get_adoption(request: HttpRequest, adoption_id: int):
    return queries.adoption(request.auth, adoption_id)


@router.patch("/standards/adoptions/{adoption_id}", response={200: AdoptionOut, **ERRORS})
def set_overrides(request: HttpRequest, adoption_id: int, payload: OverridesIn):
    queries.adoption(request.auth, adoption_id)
    return services.set_overrides(
        actor=request.auth,
        adoption_id=adoption_id,
        version=payload.version,
        overrides=payload.overrides,
    )


@router.post("/standards/adoptions/{adoption_id}/withdraw", response={200: AdoptionOut, **ERRORS})
def withdraw_adoption(request: HttpRequest, adoption_id: int, payload: WithdrawIn):
    queries.adoption(request.auth, adoption_id)
    return services.withdraw_adoption(
        actor=request.auth, adoption_id=adoption_id, version=payload.version
    )


# --- versions, clauses, rules --------------------------------------------------------


@router.get("/standards/versions/{version_id}", response={200: VersionDetailOut, 404: ErrorOut})
def get_version(request: HttpRequest, version_id: int):
    """A version with its clauses and their rules."""
    ver = queries.version(request.auth, version_id)
    ver.clause_list = list(queries.clauses(request.auth, version_id))
    return ver


@router.post("/standards/versions/{version_id}/clauses", response={200: ClauseOut, **ERRORS})
def upsert_clause(request: HttpRequest, version_id: int, payload: ClauseIn):
    """Create or change a draft's clause, by number."""
    return services.upsert_clause(actor=request.auth, version_id=version_id, **payload.dict())


@router.post("/standards/versions/{version_id}/publish", response={200: VersionOut, **ERRORS})
def publish(request: HttpRequest, version_id: int, payload: PublishIn):
    """Publish a draft: generally, or to pilot organisations first."""
    return services.publish(actor=request.auth, version_id=version_id, **payload.dict())


@router.post("/standards/versions/{version_id}/release", response={200: VersionOut, **ERRORS})
def release(request: HttpRequest, version_id: int):
    """End a pilot: the version comes into force everywhere."""
    return services.release_generally(actor=request.auth, version_id=version_id)


@router.delete("/standards/clauses/{clause_id}", response={204: None, **ERRORS})
def delete_clause(request: HttpRequest, clause_id: int):
    services.delete_clause(actor=request.auth, clause_id=clause_id)
    return Status(204, None)


@router.post("/standards/clauses/{clause_id}/rules", response={200: RuleOut, **ERRORS})
def upsert_rule(request: HttpRequest, clause_id: int, payload: RuleIn):
    """Create or change a draft's rule, by key; parameters are validated for the kind."""
    return services.upsert_rule(actor=request.auth, clause_id=clause_id, **payload.dict())


@router.delete("/standards/rules/{rule_id}", response={204: None, **ERRORS})
def delete_rule(request: HttpRequest, rule_id: int):
    services.delete_rule(actor=request.auth, rule_id=rule_id)
    return Status(204, None)


# --- one standard --------------------------------------------------------------------


@router.get("/standards/{standard_id}", response={200: StandardOut, 404: ErrorOut})
def get_standard(request: HttpRequest, standard_id: int):
    return queries.standard(request.auth, standard_id)


@router.patch("/standards/{standard_id}", response={200: StandardOut, **ERRORS})
def update_standard(request: HttpRequest, standard_id: int, payload: StandardPatch):
    queries.standard(request.auth, standard_id)
    return services.update_standard(
        actor=request.auth,
        standard_id=standard_id,
        **payload.dict(exclude_unset=True),
    )


@router.get("/standards/{standard_id}/versions", response={200: list[VersionOut], 404: ErrorOut})
def list_versions(request: HttpRequest, standard_id: int):
    return list(queries.versions(request.auth, standard_id))


@router.post("/standards/{standard_id}/drafts", response={201: VersionOut, **ERRORS})
def new_draft(request: HttpRequest, standard_id: int):
    """A new draft copied from the latest published version."""
    return Status(201, services.new_draft(actor=request.auth, standard_id=standard_id))


@router.post("/standards/{standard_id}/retire", response={200: StandardOut, **ERRORS})
def retire(request: HttpRequest, standard_id: int, payload: VersionRef):
    return services.retire(actor=request.auth, standard_id=standard_id, version=payload.version)


@router.get("/standards/{standard_id}/history", response=list[HistoryOut])
@paginate(Page)
def history(request: HttpRequest, standard_id: int):
    """Who changed what in the standard and in the adoptions the user may see."""
    return queries.history(request.auth, standard_id)
