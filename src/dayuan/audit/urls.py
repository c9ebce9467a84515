from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("", views.entries, name="list"),
    path("export.xlsx", views.export, name="export"),
]
