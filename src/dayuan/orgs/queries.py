"""Scoped reads of organisations and locations."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from dayuan.core.errors import NotFound
from dayuan.core.scope import scoped

from .models import Location, Organization


def organizations(user: Any) -> QuerySet[Organization]:
    return scoped(user, Organization.objects.all()).select_related("parent")


def organization(user: Any, pk: int) -> Organization:
    org = organizations(user).filter(pk=pk).first()
    if org is None:
        raise NotFound()
    return org


def subtree(org: Organization) -> QuerySet[Organization]:
    """The organisation and everything below it: one index range scan on ``path``."""
    return Organization.objects.filter(path__startswith=org.path)


def locations(
    user: Any,
    *,
    org_id: int | None = None,
    within: int | None = None,
    kind: str | None = None,
    tag: str | None = None,
    q: str | None = None,
) -> QuerySet[Location]:
    qs = scoped(user, Location.objects.all()).select_related("org")
    if org_id is not None:
        qs = qs.filter(org_id=org_id)
    if within is not None:
        root = qs.filter(pk=within).values_list("path", flat=True).first()
        if root is None:
            raise NotFound()
        qs = qs.filter(path__startswith=root)
    if kind:
        qs = qs.filter(kind=kind)
    if tag:
        qs = (
            qs.filter(tags__contains=[tag])
            if _json_contains_supported()
            else qs.filter(tags__icontains=f'"{tag}"')
        )
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.order_by("path")


def location(user: Any, pk: int) -> Location:
    loc = scoped(user, Location.objects.all()).select_related("org", "parent").filter(pk=pk).first()
    if loc is None:
        raise NotFound()
    return loc


def _json_contains_supported() -> bool:
    from django.db import connection

    return connection.features.supports_json_field_contains
