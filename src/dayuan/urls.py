from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from .api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/", include("dayuan.accounts.urls")),
    path("orgs/", include("dayuan.orgs.urls")),
    path("audit/", include("dayuan.audit.urls")),
    path("notifications/", include("dayuan.notifications.urls")),
    path("calendar/", include("dayuan.workcalendar.urls")),
    path("standards/", include("dayuan.standards.urls")),
    path("workorders/", include("dayuan.workorders.urls")),
    path("inspections/", include("dayuan.inspections.urls")),
    path("supervision/", include("dayuan.supervision.urls")),
    path("assessment/", include("dayuan.assessment.urls")),
    path("bookings/", include("dayuan.bookings.urls")),
    path("canteen/", include("dayuan.canteen.urls")),
    path("resources/", include("dayuan.resources.urls")),
    path("", include("dayuan.core.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
