from django.urls import path

from . import views

app_name = "workorders"
urlpatterns = [
    path("", views.home, name="home"),
    path("", views.home, name="list"),  # the desk's list; others are redirected
    path("export.xlsx", views.export, name="export"),
    path("new/", views.new, name="new"),
    path("desk/new/", views.desk_new, name="desk_new"),
    path("locations/", views.location_children, name="locations"),
    path("mine/", views.mine, name="mine"),
    path("queue/", views.queue, name="queue"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<slug:action>/", views.act, name="act"),
]
