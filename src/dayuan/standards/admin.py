"""Admin for looking at standards; changes go through the services (audited), so the
admin is read-only."""

from django.contrib import admin

from dayuan.core.admin import ReadOnlyAdmin

from .models import Adoption, Clause, Rule, Standard, StandardVersion


@admin.register(Standard)
class StandardAdmin(ReadOnlyAdmin):
    list_display = ["code", "title", "issuing_org", "domain", "status", "updated_at"]
    list_filter = ["domain", "status"]
    search_fields = ["code", "title"]


@admin.register(StandardVersion)
class StandardVersionAdmin(ReadOnlyAdmin):
    list_display = ["standard", "number", "status", "general_release", "published_at"]
    list_filter = ["status", "general_release"]
    search_fields = ["standard__code"]


@admin.register(Clause)
class ClauseAdmin(ReadOnlyAdmin):
    list_display = ["version", "number", "severity", "binding", "position"]
    list_filter = ["severity", "binding"]
    search_fields = ["number", "text", "version__standard__code"]


@admin.register(Rule)
class RuleAdmin(ReadOnlyAdmin):
    list_display = ["key", "kind", "target", "version", "verified"]
    list_filter = ["kind", "verified"]
    search_fields = ["key", "target", "version__standard__code"]


@admin.register(Adoption)
class AdoptionAdmin(ReadOnlyAdmin):
    list_display = ["org", "standard", "pinned_version", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["standard__code", "org__name"]
