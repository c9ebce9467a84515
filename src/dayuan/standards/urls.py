from django.urls import path

from . import views

app_name = "standards"
urlpatterns = [
    path("", views.library, name="library"),
    path("compliance/", views.compliance_page, name="compliance"),
    path("compliance/export.xlsx", views.compliance_export, name="compliance_export"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/comment/", views.comment, name="comment"),
    path("<int:pk>/propose/", views.propose, name="propose"),
    path("<int:pk>/draft/", views.new_draft, name="new_draft"),
    path("<int:pk>/adopt/", views.adopt, name="adopt"),
    path("proposals/<int:pk>/", views.proposal, name="proposal"),
    path("versions/<int:version_id>/clauses/new/", views.clause_edit, name="clause_new"),
    path(
        "versions/<int:version_id>/clauses/<int:clause_id>/",
        views.clause_edit,
        name="clause_edit",
    ),
    path("versions/<int:version_id>/publish/", views.publish, name="publish"),
    path("clauses/<int:clause_id>/delete/", views.clause_delete, name="clause_delete"),
    path("clauses/<int:clause_id>/rules/new/", views.rule_edit, name="rule_new"),
    path("clauses/<int:clause_id>/rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
]
