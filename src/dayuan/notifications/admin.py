"""Admin: robots are configuration; events, notifications and the outbox are for
inspection (a dead message can be put back to pending from here)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Event, Notification, OutboxMessage, OutboxStatus, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "org", "kind", "is_active", "updated_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "url"]
    raw_id_fields = ["org"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "title", "org", "created_at"]
    list_filter = ["type"]
    search_fields = ["title", "dedupe_key", "object_id"]
    raw_id_fields = ["org", "actor"]
    readonly_fields = [f.name for f in Event._meta.fields]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "recipient", "title", "created_at", "read_at"]
    search_fields = ["title", "recipient__username"]
    raw_id_fields = ["recipient", "event"]
    readonly_fields = [f.name for f in Notification._meta.fields]


@admin.action(description=_("重新投递（重置为待发送）"))
def requeue(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    queryset.filter(status__in=[OutboxStatus.DEAD, OutboxStatus.FAILED]).update(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), claim_token=""
    )


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "status", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["channel", "status"]
    raw_id_fields = ["event", "recipient", "endpoint"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = [requeue]
