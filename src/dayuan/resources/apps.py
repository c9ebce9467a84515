from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResourcesConfig(AppConfig):
    name = "dayuan.resources"
    label = "resources"
    verbose_name = _("资源整合与需求匹配")

    def ready(self) -> None:
        from . import events  # noqa: F401  (register event types)
