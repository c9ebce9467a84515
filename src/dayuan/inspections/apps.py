from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "dayuan.inspections"
    label = "inspections"
    verbose_name = _("检查与整改")

    def ready(self) -> None:
        from . import events, indicators  # noqa: F401  (register event types, indicators)
