"""Admin for the holiday table (configuration data)."""

from django.contrib import admin

from .models import CalendarYear, SpecialDay


@admin.register(SpecialDay)
class SpecialDayAdmin(admin.ModelAdmin):
    list_display = ["date", "kind", "name", "source", "updated_at"]
    list_filter = ["year", "kind", "source"]
    search_fields = ["name"]
    date_hierarchy = "date"
    ordering = ["-date"]


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ["year", "complete", "note", "updated_at"]
    list_filter = ["complete"]
    ordering = ["-year"]
