from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupervisionConfig(AppConfig):
    name = "dayuan.supervision"
    label = "supervision"
    verbose_name = _("督查督办")

    def ready(self) -> None:
        from . import events  # noqa: F401  (registers the event types)
