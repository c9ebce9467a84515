"""Scoped reads of standards: the shared library, versions, clauses, adoptions, history.

Library visibility: a user sees a standard if its issuing organisation is in the
user's subtree, or is an ancestor of one of the user's grant organisations (the city's
library is shared down to every county, vendor and assessor under it). Standards that
were never published (status draft) are seen only by those who may manage them at
the issuing organisation. Adoptions are scoped by their adopting organisation.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from dayuan.audit.models import AuditEntry
from dayuan.audit.models import Outcome as AuditOutcome
from dayuan.core import policy
from dayuan.core.errors import NotFound
from dayuan.core.scope import grants_of, path_filter, scope_paths, scoped

from .choices import StandardStatus, VersionStatus
from .effective import ancestor_paths
from .models import Adoption, Clause, Rule, Standard, StandardVersion


def _ancestor_paths_of_grants(user: Any) -> list[str]:
    paths: set[str] = set()
    for grant in grants_of(user):
        paths.update(ancestor_paths(grant.org.path))
    return sorted(paths)


def _manage_paths(user: Any) -> list[str]:
    return scope_paths(user, policy.ACTIONS["standards.manage"])


def library_filter(user: Any, prefix: str = "") -> Q:
    """The condition on ``<prefix>issuing_org`` for standards the user may see."""
    field = f"{prefix}issuing_org"
    ancestors = _ancestor_paths_of_grants(user)
    visible = path_filter(field, scope_paths(user))
    if ancestors:
        visible |= Q(**{f"{field}__path__in": ancestors})
    published = ~Q(**{f"{prefix}status": StandardStatus.DRAFT}) | path_filter(
        field, _manage_paths(user)
    )
    return visible & published


def sees_standard(user: Any, standard: Standard) -> bool:
    """``library(user)`` for one standard, without a query."""
    path = standard.issuing_org.path
    grants = grants_of(user)
    visible = any(path.startswith(g.org.path) or g.org.path.startswith(path) for g in grants)
    if not visible:
        return False
    return standard.status != StandardStatus.DRAFT or can_manage(user, standard)


def can_manage(user: Any, standard: Standard) -> bool:
    return policy.can(user, "standards.manage", standard.issuing_org)


def library(
    user: Any,
    *,
    domain: str | None = None,
    status: str | None = None,
    q: str | None = None,
    issuing_org_id: int | None = None,
) -> QuerySet[Standard]:
    qs = Standard.objects.filter(library_filter(user)).select_related("issuing_org")
    if domain:
        qs = qs.filter(domain=domain)
    if status:
        qs = qs.filter(status=status)
    if issuing_org_id is not None:
        qs = qs.filter(issuing_org_id=issuing_org_id)
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(title__icontains=q))
    return qs.order_by("code")


def standard(user: Any, pk: int) -> Standard:
    obj = library(user).filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


def versions(user: Any, standard_id: int) -> QuerySet[StandardVersion]:
    """A standard's versions, newest first; drafts only for those who may edit them."""
    std = standard(user, standard_id)
    qs = StandardVersion.objects.filter(standard=std).select_related("standard", "published_by")
    if not can_manage(user, std):
        qs = qs.exclude(status=VersionStatus.DRAFT)
    return qs.prefetch_related("pilot_orgs").order_by("-number")


def version(user: Any, pk: int) -> StandardVersion:
    obj = (
        StandardVersion.objects.select_related("standard__issuing_org", "published_by")
        .filter(pk=pk)
        .first()
    )
    if obj is None or not sees_standard(user, obj.standard):
        raise NotFound()
    if obj.status == VersionStatus.DRAFT and not can_manage(user, obj.standard):
        raise NotFound()
    return obj


def clauses(user: Any, version_id: int) -> QuerySet[Clause]:
    """A version's clauses in order, each with its rules prefetched."""
    ver = version(user, version_id)
    return (
        Clause.objects.filter(version=ver)
        .prefetch_related("rules")
        .order_by("position", "number", "id")
    )


def rules(user: Any, version_id: int) -> QuerySet[Rule]:
    ver = version(user, version_id)
    return Rule.objects.filter(version=ver).select_related("clause")


def clause(user: Any, pk: int) -> Clause:
    obj = Clause.objects.select_related("version__standard__issuing_org").filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    version(user, obj.version_id)
    return obj


def rule(user: Any, pk: int) -> Rule:
    obj = Rule.objects.select_related("clause", "version").filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    version(user, obj.version_id)
    return obj


def adoptions(
    user: Any,
    *,
    standard_id: int | None = None,
    org_id: int | None = None,
    active: bool | None = True,
) -> QuerySet[Adoption]:
    qs = scoped(user, Adoption.objects.all()).select_related("org", "standard", "pinned_version")
    if standard_id is not None:
        qs = qs.filter(standard_id=standard_id)
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs.order_by("org__path", "standard__code", "id")


def adoption(user: Any, pk: int) -> Adoption:
    obj = adoptions(user, active=None).filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


def history(user: Any, standard_id: int) -> QuerySet[AuditEntry]:
    """Who changed what: the standard's authoring entries (visible to whoever sees the
    standard) and the entries of its adoptions in the user's scope, newest first."""
    std = standard(user, standard_id)
    adoption_ids = [
        str(pk)
        for pk in scoped(user, Adoption.objects.filter(standard=std)).values_list("pk", flat=True)
    ]
    cond = Q(object_type="standards.standard", object_id=str(std.pk))
    if adoption_ids:
        cond |= Q(object_type="standards.adoption", object_id__in=adoption_ids)
    return AuditEntry.objects.filter(cond, outcome=AuditOutcome.SUCCESS).order_by("-id")
