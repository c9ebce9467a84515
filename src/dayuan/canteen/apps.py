from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CanteenConfig(AppConfig):
    name = "dayuan.canteen"
    label = "canteen"
    verbose_name = _("智慧食堂")

    def ready(self) -> None:
        from . import events, indicators  # noqa: F401  (register event types, indicators)
