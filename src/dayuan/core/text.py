"""Cleaning free text a service is given: stripped, required or not, no longer than
the field allows; the refusal names the field."""

from typing import Any

from django.utils.translation import gettext as _

from .errors import InvalidInput


def clean_text(
    value: str | None, field: str, label: Any, max_length: int, *, required: bool = True
) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(_("请填写%(field)s。") % {"field": label}, code="required", field=field)
    if len(value) > max_length:
        raise InvalidInput(
            _("%(field)s不能超过 %(n)s 个字符。") % {"field": label, "n": max_length},
            code="too_long",
            field=field,
        )
    return value
