"""Admin for looking at rooms, appointment services and bookings; changes go through the
services (scoped, audited, with the overlap and seat rules), so the admin is read-only."""

from django.contrib import admin

from dayuan.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import (
    Appointment,
    AppointmentService,
    Booking,
    BookingEvent,
    MeetingService,
    Provider,
    Room,
)


@admin.register(Room)
class RoomAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "org",
        "building",
        "resource_class",
        "capacity",
        "shared",
        "requires_approval",
        "is_active",
    ]
    list_filter = ["resource_class", "shared", "requires_approval", "is_active"]
    search_fields = ["name", "location__name"]
    list_select_related = ["org", "building"]
    exclude = ["checkin_token"]  # the door's QR secret


class ProviderInline(ReadOnlyInline):
    model = Provider
    fields = ["name", "user", "sort", "is_active"]


@admin.register(AppointmentService)
class AppointmentServiceAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "code",
        "org",
        "slot_minutes",
        "seats_per_slot",
        "opens_at",
        "closes_at",
        "shared",
        "is_active",
    ]
    list_filter = ["code", "shared", "is_active"]
    search_fields = ["name", "code"]
    list_select_related = ["org"]
    inlines = [ProviderInline]


class BookingEventInline(ReadOnlyInline):
    model = BookingEvent
    fields = ["at", "actor", "action", "from_status", "to_status", "details"]


class MeetingServiceInline(ReadOnlyInline):
    model = MeetingService
    fields = ["kind", "note", "workorder"]


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "room",
        "title",
        "start_at",
        "end_at",
        "status",
        "booker",
        "organizer_unit",
        "priority",
    ]
    list_filter = ["status", "priority", "meeting_type", "emergency"]
    search_fields = ["number", "title", "room__name"]
    date_hierarchy = "start_at"
    list_select_related = ["room", "booker", "organizer_unit"]
    exclude = ["ics_token"]  # the booker's private calendar link
    inlines = [MeetingServiceInline, BookingEventInline]


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyAdmin):
    list_display = ["number", "service", "slot__start_at", "person", "provider", "status"]
    list_filter = ["status", "service__code"]
    search_fields = ["number", "person__username", "person__display_name"]
    list_select_related = ["service", "slot", "person", "provider"]
