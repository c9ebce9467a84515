"""Pages: the notification centre, group robots, announcements. Thin: services decide."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dayuan.core import policy
from dayuan.core.errors import DomainError, NotFound

from . import queries, services
from .forms import BroadcastForm, EndpointForm

PAGE_SIZE = 30


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    unread = request.GET.get("unread") == "1"
    page = Paginator(queries.inbox(request.user, unread=unread), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "notifications/inbox.html",
        {
            "page": page,
            "unread_only": unread,
            "can_broadcast": policy.can(request.user, "notifications.broadcast"),
            "can_manage_webhooks": policy.can(request.user, "webhooks.manage"),
            "active_nav": "notifications",
        },
    )


@login_required
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        row = queries.notification(request.user, pk)
    except NotFound as exc:
        raise Http404 from exc
    services.mark_read(actor=request.user, notification_ids=[row.pk])
    if request.headers.get("HX-Request"):
        row = queries.notification(request.user, pk)
        return render(request, "notifications/_row.html", {"n": row})
    return redirect("notifications:inbox")


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(actor=request.user)
    messages.success(request, _("已将 %(count)d 条消息标为已读。") % {"count": count})
    return redirect("notifications:inbox")


@login_required
@require_GET
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification's link and mark it read on the way."""
    try:
        row = queries.notification(request.user, pk)
    except NotFound as exc:
        raise Http404 from exc
    if row.read_at is None:
        services.mark_read(actor=request.user, notification_ids=[row.pk])
    if row.link and url_has_allowed_host_and_scheme(
        row.link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(row.link)
    return redirect("notifications:inbox")


def _require_manager(request: HttpRequest) -> None:
    if not policy.can(request.user, "webhooks.manage"):
        raise PermissionDenied


@login_required
@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = EndpointForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            ep = services.create_endpoint(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            field = (exc.details or {}).get("field")
            form.add_error(field if field in form.fields else None, str(exc.message))
        else:
            messages.success(request, _("已添加群机器人“%(name)s”。") % {"name": ep.name})
            return redirect("notifications:webhooks")
    return render(
        request,
        "notifications/webhooks.html",
        {
            "endpoints": queries.endpoints(request.user).order_by("org__path", "name", "id"),
            "form": form,
            "active_nav": "notifications",
        },
        status=422 if form.errors else 200,
    )


@login_required
@require_POST
def webhook_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    try:
        ep = queries.endpoint(request.user, pk)
        ep = services.update_endpoint(
            actor=request.user, endpoint_id=ep.pk, is_active=not ep.is_active
        )
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        msg = _("已启用“%(name)s”。") if ep.is_active else _("已停用“%(name)s”。")
        messages.success(request, msg % {"name": ep.name})
    return redirect("notifications:webhooks")


@login_required
@require_POST
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manager(request)
    try:
        ep = queries.endpoint(request.user, pk)
        services.delete_endpoint(actor=request.user, endpoint_id=ep.pk)
    except NotFound as exc:
        raise Http404 from exc
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("已删除“%(name)s”。") % {"name": ep.name})
    return redirect("notifications:webhooks")


@login_required
@require_http_methods(["GET", "POST"])
def broadcast(request: HttpRequest) -> HttpResponse:
    if not policy.can(request.user, "notifications.broadcast"):
        raise PermissionDenied
    form = BroadcastForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            event = services.broadcast(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, str(exc.message))
        else:
            messages.success(
                request,
                _("公告已发送给 %(count)d 人。") % {"count": event.notifications.count()},
            )
            return redirect("notifications:inbox")
    return render(
        request,
        "notifications/broadcast.html",
        {"form": form, "active_nav": "notifications"},
        status=422 if form.errors else 200,
    )
