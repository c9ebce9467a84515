"""Org scope: the one mechanism that turns (user, model) into what the user may see.

A role is granted at an organisation node and reaches its subtree. Every scoped model
names the lookup to its organisation in ``scope_org_field``; ``scoped(user, qs)`` keeps
the rows whose organisation path starts with one of the user's grant paths, which is
one indexed range scan per grant. Pages, API lists, exports and notification targeting
all go through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from dayuan.accounts.models import Grant
    from dayuan.orgs.models import Organization

M = TypeVar("M", bound=models.Model)

_CACHE_ATTR = "_dayuan_grants"


def grants_of(user: Any) -> list[Grant]:
    """The user's grants with their organisations, loaded once per user object."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = list(user.grants.select_related("org").filter(org__is_active=True))
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_grants(user: Any) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def _minimal_paths(paths: Iterable[str]) -> list[str]:
    """Drop paths already covered by an ancestor path, so filters stay short."""
    result: list[str] = []
    for path in sorted(set(paths)):
        if not any(path.startswith(kept) for kept in result):
            result.append(path)
    return result


def scope_paths(user: Any, roles: Iterable[str] | None = None) -> list[str]:
    """Organisation paths the user reaches, optionally through the given roles only."""
    wanted = set(roles) if roles is not None else None
    return _minimal_paths(g.org.path for g in grants_of(user) if wanted is None or g.role in wanted)


def path_filter(field: str, paths: list[str]) -> Q:
    """``field__path__startswith`` for each path, OR-ed; matches nothing for no paths."""
    if not paths:
        return Q(pk__in=[])
    lookup = f"{field}__path__startswith" if field else "path__startswith"
    q = Q()
    for path in paths:
        q |= Q(**{lookup: path})
    return q


def scoped_org_ids(user: Any, roles: Iterable[str] | None = None) -> list[int]:
    """Ids of the organisations in the subtrees the user reaches, optionally through the
    given roles only (organisations are few: one small query)."""
    from dayuan.orgs.models import Organization

    paths = scope_paths(user, roles)
    if not paths:
        return []
    return list(Organization.objects.filter(path_filter("", paths)).values_list("pk", flat=True))


def scoped(
    user: Any, qs: models.QuerySet[M], roles: Iterable[str] | None = None
) -> models.QuerySet[M]:
    """The rows of ``qs`` the user may see.

    The model's ``scope_org_field`` names its organisation (``""`` for the
    Organization model itself). A model without one is a programming error, so a new
    model cannot silently escape scoping.
    """
    field = getattr(qs.model, "scope_org_field", None)
    if field is None:
        raise TypeError(f"{qs.model.__name__} declares no scope_org_field")
    return qs.filter(path_filter(field, scope_paths(user, roles)))


def org_in_scope(user: Any, org: Organization | None, roles: Iterable[str] | None = None) -> bool:
    if org is None:
        return False
    return any(org.path.startswith(p) for p in scope_paths(user, roles))


def visible_orgs(user: Any) -> models.QuerySet[Organization]:
    from dayuan.orgs.models import Organization

    return scoped(user, Organization.objects.all())


def is_scoped_model(model: type[models.Model]) -> bool:
    return getattr(model, "scope_org_field", None) is not None
