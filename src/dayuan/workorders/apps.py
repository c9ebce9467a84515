from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkordersConfig(AppConfig):
    name = "dayuan.workorders"
    label = "workorders"
    verbose_name = _("报修与工单")

    def ready(self) -> None:
        from . import events, indicators  # noqa: F401  (register event types, indicators)
