"""What the apps' pages share: how a service's refusal is shown on a page, and the one
path a form POST takes through a service (the canteen's and the resource pool's pages
call these rather than keeping copies)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .errors import DomainError, NotFound, StaleVersion

STALE_MESSAGE = gettext_lazy("已被他人更新，请刷新")


def refusal(exc: DomainError) -> str:
    """A refusal's message ("refresh" for a stale version), citing the clause it rests on
    when ``details.clause`` names one the message does not already."""
    if isinstance(exc, StaleVersion):
        return str(STALE_MESSAGE)
    text = str(exc.message)
    clause = (exc.details or {}).get("clause")
    if clause and str(clause) not in text:
        text += _("（依据第 %(clause)s 条）") % {"clause": clause}
    return text


def apply_error(form: Any, exc: DomainError) -> None:
    """Put a service's refusal next to the field it names (``details.field``)."""
    name = str((exc.details or {}).get("field") or "").removesuffix("_id")
    form.add_error(name if name in form.fields else None, refusal(exc))


def or_404(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A query's NotFound is a page's 404."""
    try:
        return fn(*args, **kwargs)
    except NotFound as exc:
        raise Http404 from exc


def refusal_with_code(exc: DomainError) -> str:
    """A refusal as the pages show it: the message (and clause) with its code."""
    return _("%(message)s（%(code)s）") % {"message": refusal(exc), "code": exc.code}


def fail(request: HttpRequest, exc: DomainError) -> None:
    """A refusal becomes an error message; NotFound a 404 (out of scope or gone)."""
    if isinstance(exc, NotFound) and exc.code == "not_found":
        raise Http404 from exc
    messages.error(request, refusal_with_code(exc), extra_tags=f"code-{exc.code}")


def attempt(request: HttpRequest, done: str, call: Any) -> Any:
    """Run one service call: ``done`` (when given) or the refusal becomes a message; the
    result or None."""
    try:
        result = call()
    except DomainError as exc:
        fail(request, exc)
        return None
    if done:
        messages.success(request, done)
    return result


def back(request: HttpRequest, default: str) -> HttpResponse:
    """Back to the page the form was on (``next``: a path on this site only)."""
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return redirect(target)


def form_error(form: Any, exc: DomainError) -> None:
    """A refusal onto a form (next to its field when it names one), with its code."""
    if isinstance(exc, NotFound) and exc.code == "not_found":
        raise Http404 from exc
    apply_error(form, exc)
    form.refusal_code = exc.code


def submit(request: HttpRequest, form: Any, save: Any) -> tuple[bool, Any, int]:
    """A form page's POST: when the form is valid, ``save()`` writes through the
    service; a refusal goes onto the form. Returns whether it was saved, what was saved
    and the status to render the page with again (422 for an invalid form, the
    refusal's own status)."""
    if request.method != "POST":
        return False, None, 200
    if not form.is_valid():
        return False, None, 422
    try:
        saved = save()
    except DomainError as exc:
        form_error(form, exc)
        return False, None, exc.status
    return True, saved, 200
