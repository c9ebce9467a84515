"""Admin for looking at work orders and their catalogue; changes go through the
services (audited, scoped), so the admin is read-only."""

from django.contrib import admin

from dayuan.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import (
    Responsibility,
    ServiceCategory,
    Team,
    TeamMember,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderTimer,
)


@admin.register(ServiceCategory)
class ServiceCategoryAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "org", "tier", "sla_category", "skill", "is_active"]
    list_filter = ["tier", "is_active"]
    search_fields = ["code", "name"]


class TeamMemberInline(ReadOnlyInline):
    model = TeamMember
    fields = ["user", "skills", "on_duty"]


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin):
    list_display = ["name", "org", "vendor", "is_active"]
    inlines = [TeamMemberInline]


@admin.register(Responsibility)
class ResponsibilityAdmin(ReadOnlyAdmin):
    list_display = ["org", "category", "location", "team"]


class TimerInline(ReadOnlyInline):
    model = WorkOrderTimer
    fields = ["name", "label", "minutes", "calendar", "started_at", "due_at", "met_at", "breached"]


class EventInline(ReadOnlyInline):
    model = WorkOrderEvent
    fields = ["at", "actor", "action", "from_status", "to_status", "note"]


@admin.register(WorkOrder)
class WorkOrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "org", "category", "status", "urgency", "overdue", "submitted_at"]
    list_filter = ["status", "urgency", "overdue", "channel"]
    search_fields = ["number", "description"]
    date_hierarchy = "submitted_at"
    inlines = [TimerInline, EventInline]
