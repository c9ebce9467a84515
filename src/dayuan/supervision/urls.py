from django.urls import path

from . import views

app_name = "supervision"
urlpatterns = [
    path("", views.board, name="home"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/new/", views.new, name="new"),
    path("tasks/<int:pk>/", views.detail, name="detail"),
    path("tasks/<int:pk>/<slug:action>/", views.act, name="act"),
]
