from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssessmentConfig(AppConfig):
    name = "dayuan.assessment"
    label = "assessment"
    verbose_name = _("合同与考核")

    def ready(self) -> None:
        # registers the event types; registers and binds survey_satisfaction
        from . import events, indicators  # noqa: F401
