"""What the apps' pages share: how a service's refusal is shown on a page."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .errors import DomainError, StaleVersion

STALE_MESSAGE = gettext_lazy("已被他人更新，请刷新")


def refusal(exc: DomainError) -> str:
    """A refusal's message ("refresh" for a stale version), citing the clause it rests on
    when ``details.clause`` names one the message does not already."""
    if isinstance(exc, StaleVersion):
        return str(STALE_MESSAGE)
    text = str(exc.message)
    clause = (exc.details or {}).get("clause")
    if clause and str(clause) not in text:
        text += _("（依据第 %(clause)s 条）") % {"clause": clause}
    return text


def apply_error(form: Any, exc: DomainError) -> None:
    """Put a service's refusal next to the field it names (``details.field``)."""
    name = str((exc.details or {}).get("field") or "").removesuffix("_id")
    form.add_error(name if name in form.fields else None, refusal(exc))
