"""System checks with stable ids, so `manage.py check` catches configuration mistakes."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_scoped_models(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Every model of a Dayuan app declares its org scope (or opts out explicitly)."""
    errors = []
    for model in apps.get_models():
        if not model.__module__.startswith("dayuan."):
            continue
        if getattr(model, "scope_org_field", None) is None and not getattr(
            model, "scope_exempt", False
        ):
            errors.append(
                Error(
                    f"{model._meta.label} declares neither scope_org_field nor scope_exempt",
                    id="dayuan.E001",
                )
            )
    return errors


@register(deploy=True)
def check_audit_retention(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if settings.AUDIT_RETENTION_DAYS < 184:
        return [Warning("audit retention below 184 days", id="dayuan.W001")]
    return []
