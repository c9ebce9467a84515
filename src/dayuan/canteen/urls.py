from django.urls import path

from . import views

app_name = "canteen"
urlpatterns = [
    # diners (phone first)
    path("", views.home, name="home"),
    path("menus/<int:pk>/", views.menu_detail, name="menu"),
    path("reservations/", views.my_reservations, name="mine"),
    path("reservations/<int:pk>/", views.reservation_detail, name="reservation"),
    path("reservations/<int:pk>/cancel/", views.reservation_cancel, name="cancel"),
    path("items/<int:pk>/rate/", views.rate, name="rate"),
    path("dishes/<int:pk>/", views.dish_detail, name="dish"),
    path("dishes/<int:pk>/photo/", views.dish_photo, name="dish_photo"),
    path("vouchers/", views.vouchers, name="vouchers"),
    path("vouchers/<int:pk>/", views.voucher_detail, name="voucher"),
    path("vouchers/<int:pk>/void/", views.voucher_void, name="voucher_void"),
    # the kitchen (desktop)
    path("kitchen/", views.kitchen_home, name="kitchen_home"),
    path("kitchen/<int:cid>/", views.kitchen, name="kitchen"),
    path("kitchen/<int:cid>/hand-over/", views.hand_over, name="hand_over"),
    path("menus/<int:pk>/close/", views.close_meal, name="close_meal"),
    path("kitchen/<int:cid>/safety/", views.safety_home, name="safety"),
    path("kitchen/<int:cid>/samples/", views.samples, name="samples"),
    path("samples/<int:pk>/remove/", views.sample_remove, name="sample_remove"),
    path("kitchen/<int:cid>/temperatures/", views.temperatures, name="temperatures"),
    path("kitchen/<int:cid>/disinfections/", views.disinfections, name="disinfections"),
    path("kitchen/<int:cid>/receiving/", views.receiving, name="receiving"),
    path("kitchen/<int:cid>/handlers/", views.handlers, name="handlers"),
    path("kitchen/<int:cid>/handlers/new/", views.handler_edit, name="handler_new"),
    path("handlers/<int:pk>/", views.handler_edit, name="handler_edit"),
    path("handlers/<int:pk>/check/", views.health_check, name="health_check"),
    path("kitchen/<int:cid>/waste/", views.waste, name="waste"),
    path("kitchen/<int:cid>/waste/evaluate/", views.waste_evaluate, name="waste_evaluate"),
    # managers
    path("manage/", views.manage_home, name="manage_home"),
    path("manage/new/", views.canteen_edit, name="canteen_new"),
    path("manage/<int:cid>/settings/", views.canteen_edit, name="canteen_edit"),
    path("manage/<int:cid>/periods/<str:meal>/", views.period_save, name="period_save"),
    path("manage/<int:cid>/check-plans/", views.check_plans, name="check_plans"),
    path("manage/<int:cid>/menus/", views.menu_week, name="menu_week"),
    path("manage/<int:cid>/menus/edit/", views.menu_edit, name="menu_edit"),
    path("manage/<int:cid>/menus/copy/", views.menu_copy, name="menu_copy"),
    path("menus/<int:pk>/publish/", views.menu_publish, name="menu_publish"),
    path("menus/<int:pk>/cancel/", views.menu_cancel, name="menu_cancel"),
    path("manage/<int:cid>/dishes/", views.dishes, name="dishes"),
    path("manage/<int:cid>/dishes/new/", views.dish_edit, name="dish_new"),
    path("dishes/<int:pk>/edit/", views.dish_edit, name="dish_edit"),
    # overseers
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/export.xlsx", views.export, name="export"),
]
