from django.urls import path

from . import plan_views, views

app_name = "inspections"
urlpatterns = [
    path("", views.home, name="home"),
    path("start/", views.start, name="start"),
    path("list/", views.inspection_list, name="list"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/conduct/", views.conduct, name="conduct"),
    path("<int:pk>/draft/", views.draft, name="draft"),
    path("<int:pk>/photo/", views.add_photo, name="add_photo"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("photos/<int:pk>/", views.photo, name="photo"),
    path("findings/", views.finding_list, name="findings"),
    path("findings/new/", views.finding_new, name="finding_new"),
    path("findings/<int:pk>/", views.finding_detail, name="finding"),
    path("findings/<int:pk>/cancel/", views.finding_cancel, name="finding_cancel"),
    path("rectifications/", views.rectification_list, name="rectifications"),
    path("rectifications/<int:pk>/evidence/", views.evidence, name="evidence"),
    path("rectifications/<int:pk>/verify/", views.verify, name="verify"),
    path("rectifications/<int:pk>/assign/", views.assign, name="assign"),
    path("rectification-photos/<int:pk>/", views.rect_photo, name="rect_photo"),
    path("finding-photos/<int:pk>/", views.finding_photo, name="finding_photo"),
    path("clauses/<int:pk>/", views.clause_trace, name="clause"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("plans/", plan_views.plans, name="plans"),
    path("plans/generate/", plan_views.generate, name="plan_generate"),
    path("plans/assignments/new/", plan_views.assignment_edit, name="assignment_new"),
    path("plans/assignments/<int:pk>/", plan_views.assignment_edit, name="assignment_edit"),
    path(
        "plans/assignments/<int:pk>/deactivate/",
        plan_views.assignment_deactivate,
        name="assignment_deactivate",
    ),
    path("plans/assets/new/", plan_views.asset_edit, name="asset_new"),
    path("plans/assets/<int:pk>/", plan_views.asset_edit, name="asset_edit"),
    path("plans/assets/<int:pk>/deactivate/", plan_views.asset_deactivate, name="asset_deactivate"),
    path("dashboard/export.xlsx", views.export, name="export"),
]
