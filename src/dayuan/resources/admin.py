"""Admin for the resource pool. An administrator may correct a resource's descriptive
fields here (name, description, address, contact, approval, visibility, preference,
active). What decides holds and stock (its kind, owner, capacity, quantity and
availability, windows, attributes, cost) and everything people record (closures,
demands, allocations, the 公物仓's ledger, match runs, volunteers, activities, sign-ups,
micro-projects) goes through the services. Those are scoped, audited and checked
against the hard constraints and the ledger, so those pages only look."""

from django.contrib import admin

from dayuan.core.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import (
    Activity,
    Allocation,
    Closure,
    Demand,
    MatchProposal,
    MatchRun,
    MicroProject,
    Resource,
    SignUp,
    Transfer,
    Volunteer,
)

# --- the offer (descriptive fields editable) ------------------------------------------------


class ClosureInline(ReadOnlyInline):
    model = Closure
    fields = ["start_at", "end_at", "reason", "created_by"]


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "org",
        "kind",
        "capacity",
        "available",
        "quantity",
        "visibility",
        "stock_status",
        "requires_approval",
        "is_active",
    ]
    list_filter = ["kind", "visibility", "stock_status", "requires_approval", "is_active"]
    search_fields = ["name", "description", "address", "org__name"]
    list_select_related = ["org"]
    raw_id_fields = ["contact"]
    fields = [
        "org",
        "centre",
        "kind",
        "name",
        "description",
        "location",
        "address",
        "capacity",
        "quantity",
        "available",
        "unit",
        "attributes",
        "windows",
        "visibility",
        "cost_basis",
        "cost",
        "unit_value",
        "requires_approval",
        "preference",
        "contact",
        "contact_phone",
        "stock_status",
        "photo",
        "is_active",
        "version",
        "created_at",
        "updated_at",
    ]
    # what holds, stock and matching depend on changes only through the services
    readonly_fields = [
        "org",
        "centre",
        "kind",
        "location",
        "capacity",
        "quantity",
        "available",
        "unit",
        "attributes",
        "windows",
        "cost_basis",
        "cost",
        "unit_value",
        "stock_status",
        "photo",
        "version",
        "created_at",
        "updated_at",
    ]
    inlines = [ClosureInline]

    def has_add_permission(self, request, obj=None):
        return False  # a resource is created by its owner's managers (services.save_resource)

    def has_delete_permission(self, request, obj=None):
        return False  # allocations and the ledger refer to it: deactivate instead

    def save_model(self, request, obj, form, change):
        if change and form.changed_data:
            obj.version += 1
        super().save_model(request, obj, form, change)


# --- what is recorded (read-only) -----------------------------------------------------------


class AllocationInline(ReadOnlyInline):
    model = Allocation
    fk_name = "demand"
    fields = ["number", "resource", "status", "amount", "requested_at", "decided_by"]


@admin.register(Demand)
class DemandAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "title",
        "org",
        "kind",
        "amount",
        "start_at",
        "priority",
        "status",
        "posted_by",
    ]
    list_filter = ["status", "kind", "priority"]
    search_fields = ["number", "title", "org__name", "posted_by__username"]
    date_hierarchy = "posted_at"
    list_select_related = ["org", "posted_by"]
    exclude = ["client_key"]
    inlines = [AllocationInline]


class TransferInline(ReadOnlyInline):
    model = Transfer
    fk_name = "allocation"
    fields = ["kind", "quantity", "from_org", "to_org", "value", "at", "actor"]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "resource",
        "requester_org",
        "start_at",
        "end_at",
        "amount",
        "status",
        "holds",
        "saved",
    ]
    list_filter = ["status", "holds", "exclusive"]
    search_fields = ["number", "resource__name", "requester__username", "requester_org__name"]
    date_hierarchy = "requested_at"
    list_select_related = ["resource", "requester_org"]
    exclude = ["client_key"]
    inlines = [TransferInline]


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["resource", "kind", "quantity", "from_org", "to_org", "value", "at", "actor"]
    list_filter = ["kind"]
    search_fields = ["resource__name", "from_org__name", "to_org__name", "note"]
    date_hierarchy = "at"
    list_select_related = ["resource", "from_org", "to_org", "actor"]


class ProposalInline(ReadOnlyInline):
    model = MatchProposal
    fields = ["demand", "resource", "score", "unmatched_reason", "allocation"]


@admin.register(MatchRun)
class MatchRunAdmin(ReadOnlyAdmin):
    list_display = [
        "org",
        "window_start",
        "window_end",
        "demands",
        "matched",
        "seconds",
        "run_by",
        "applied_at",
    ]
    list_select_related = ["org", "run_by"]
    date_hierarchy = "created_at"
    inlines = [ProposalInline]


@admin.register(Volunteer)
class VolunteerAdmin(ReadOnlyAdmin):
    list_display = ["name", "org", "user", "hours", "activities", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "phone", "org__name", "user__username"]
    list_select_related = ["org", "user"]


class SignUpInline(ReadOnlyInline):
    model = SignUp
    fields = ["volunteer", "status", "hours", "recorded_by", "recorded_at"]


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["title", "org", "start_at", "slots", "taken", "hours", "status"]
    list_filter = ["status"]
    search_fields = ["title", "org__name"]
    date_hierarchy = "start_at"
    list_select_related = ["org"]
    inlines = [SignUpInline]


@admin.register(MicroProject)
class MicroProjectAdmin(ReadOnlyAdmin):
    list_display = ["number", "title", "org", "budget", "spent", "progress", "status", "leader"]
    list_filter = ["status"]
    search_fields = ["number", "title", "org__name"]
    list_select_related = ["org", "leader"]
