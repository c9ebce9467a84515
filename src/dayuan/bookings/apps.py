from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingsConfig(AppConfig):
    name = "dayuan.bookings"
    label = "bookings"
    verbose_name = _("预订与预约")

    def ready(self) -> None:
        from . import events  # noqa: F401  (registers the event types)
