"""Assembles every app's router under /api/v1 (see core.api for the shared parts)."""

from django.http import HttpRequest
from ninja import Schema

from dayuan.accounts.api import router as accounts_router
from dayuan.assessment.api import router as assessment_router
from dayuan.audit.api import router as audit_router
from dayuan.bookings.api import router as bookings_router
from dayuan.canteen.api import router as canteen_router
from dayuan.core.api import api
from dayuan.inspections.api import router as inspections_router
from dayuan.notifications.api import router as notifications_router
from dayuan.orgs.api import router as orgs_router
from dayuan.resources.api import router as resources_router
from dayuan.standards.api import router as standards_router
from dayuan.standards.api_files import router as standards_files_router
from dayuan.supervision.api import router as supervision_router
from dayuan.workcalendar.api import router as calendar_router
from dayuan.workorders.api import router as workorders_router
from dayuan.workorders.api_catalogue import router as workorders_catalogue_router


class HealthOut(Schema):
    status: str
    version: str


@api.get("/health", auth=None, response=HealthOut, tags=["core"])
def health(request: HttpRequest) -> dict:
    from django.db import connection

    from dayuan import __version__

    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return {"status": "ok", "version": __version__}


api.add_router("", accounts_router)
api.add_router("", orgs_router)
api.add_router("", audit_router)
api.add_router("", notifications_router)
api.add_router("", calendar_router)
api.add_router("", standards_files_router)
api.add_router("", standards_router)
api.add_router("", workorders_catalogue_router)
api.add_router("", workorders_router)
api.add_router("", inspections_router)
api.add_router("", supervision_router)
api.add_router("", bookings_router)
api.add_router("", assessment_router)
api.add_router("/canteen", canteen_router)
api.add_router("/resources", resources_router)
