from django.urls import path

from . import views

app_name = "resources"
urlpatterns = [
    # staff (phone first): the square, a resource, a direct request
    path("", views.home, name="home"),
    path("r/<int:pk>/", views.resource_detail, name="resource"),
    path("r/<int:pk>/photo/", views.resource_photo, name="photo"),
    path("r/<int:pk>/request/", views.request_resource, name="request"),
    # demands and their matches
    path("demands/", views.demands, name="demands"),
    path("demands/new/", views.demand_new, name="demand_new"),
    path("demands/<int:pk>/", views.demand_detail, name="demand"),
    path("demands/<int:pk>/request/", views.demand_request, name="demand_request"),
    path("demands/<int:pk>/decide/", views.demand_decide, name="demand_decide"),
    path("demands/<int:pk>/cancel/", views.demand_cancel, name="demand_cancel"),
    # allocations
    path("allocations/", views.allocations, name="allocations"),
    path("allocations/<int:pk>/", views.allocation_detail, name="allocation"),
    path("allocations/<int:pk>/decide/", views.allocation_decide, name="allocation_decide"),
    path("allocations/<int:pk>/start/", views.allocation_start, name="allocation_start"),
    path("allocations/<int:pk>/finish/", views.allocation_finish, name="allocation_finish"),
    path("allocations/<int:pk>/cancel/", views.allocation_cancel, name="allocation_cancel"),
    path("allocations/<int:pk>/return/", views.allocation_return, name="allocation_return"),
    # owners
    path("approvals/", views.approvals, name="approvals"),
    path("manage/", views.my_resources, name="manage"),
    path("manage/new/", views.resource_edit, name="resource_new"),
    path("r/<int:pk>/edit/", views.resource_edit, name="resource_edit"),
    path("r/<int:pk>/closures/", views.closures, name="closures"),
    path("r/<int:pk>/closures/<int:cid>/remove/", views.closure_remove, name="closure_remove"),
    # the 公物仓
    path("warehouse/", views.warehouse_home, name="warehouse"),
    path("warehouse/<int:pk>/store/", views.warehouse_store, name="warehouse_store"),
    path("warehouse/<int:pk>/dispose/", views.warehouse_dispose, name="warehouse_dispose"),
    # volunteers
    path("activities/", views.activities, name="activities"),
    path("activities/new/", views.activity_new, name="activity_new"),
    path("activities/<int:pk>/", views.activity_detail, name="activity"),
    path("activities/<int:pk>/sign-up/", views.activity_sign_up, name="sign_up"),
    path("activities/<int:pk>/attendance/", views.activity_attendance, name="attendance"),
    path("activities/<int:pk>/cancel/", views.activity_cancel, name="activity_cancel"),
    path("sign-ups/<int:pk>/cancel/", views.signup_cancel, name="signup_cancel"),
    path("volunteers/", views.volunteer_list, name="volunteers"),
    path("volunteers/enrol/", views.enrol, name="enrol"),
    # micro-projects
    path("projects/", views.project_list, name="projects"),
    path("projects/new/", views.project_new, name="project_new"),
    path("projects/<int:pk>/", views.project_detail, name="project"),
    path("projects/<int:pk>/decide/", views.project_decide, name="project_decide"),
    path("projects/<int:pk>/progress/", views.project_progress, name="project_progress"),
    path("projects/<int:pk>/complete/", views.project_complete, name="project_complete"),
    # overseers
    path("match/", views.match_home, name="match"),
    path("match/<int:pk>/", views.run_detail, name="run"),
    path("match/<int:pk>/apply/", views.run_apply, name="run_apply"),
    path("stats/", views.stats_dashboard, name="stats"),
    path("stats/export.xlsx", views.stats_export, name="export"),
]
