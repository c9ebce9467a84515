"""Pages: the location tree of the organisations the user reaches."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dayuan.core.errors import NotFound

from . import queries
from .choices import LocationKind


@login_required
def locations(request: HttpRequest) -> HttpResponse:
    within = request.GET.get("within")
    try:
        qs = queries.locations(
            request.user,
            within=int(within) if within and within.isdigit() else None,
            kind=request.GET.get("kind") or None,
            q=request.GET.get("q") or None,
        )
    except NotFound:
        qs = queries.locations(request.user).none()
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "orgs/locations.html",
        {"page": page, "kinds": LocationKind.choices, "active_nav": "orgs"},
    )
