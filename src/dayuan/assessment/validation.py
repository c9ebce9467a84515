"""Checks shared by the writers of the assessment app (``services`` and ``surveys``):
each refusal names the field and a stable code."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.core import policy
from dayuan.core.errors import InvalidInput, NotFound, StaleVersion
from dayuan.orgs.models import Organization

from .models import Contract


def now_of(now: datetime | None) -> datetime:
    return now or timezone.now()


def check_version(obj: Any, version: int | None) -> None:
    if version is not None and obj.version != version:
        raise StaleVersion(current_version=obj.version)


def clean_text(
    value: Any, label: str, max_length: int, field: str, *, required: bool = True
) -> str:
    value = (value if isinstance(value, str) else "" if value is None else str(value)).strip()
    if required and not value:
        raise InvalidInput(_("请填写%(field)s。") % {"field": label}, code="required", field=field)
    if len(value) > max_length:
        raise InvalidInput(
            _("%(field)s不能超过 %(n)s 个字符。") % {"field": label, "n": max_length},
            code="too_long",
            field=field,
        )
    return value


def clean_decimal(
    value: Any,
    label: str,
    field: str,
    *,
    code: str,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    positive: bool = False,
    places: int = 2,
) -> Decimal:
    """A finite decimal within bounds and with at most ``places`` decimals."""
    try:
        if isinstance(value, bool) or value is None or value == "":
            raise InvalidOperation
        number = Decimal(str(value))
        if not number.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidInput(
            _("%(field)s必须是数字。") % {"field": label}, code=code, field=field
        ) from None
    if (
        (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
        or (positive and number <= 0)
        or number.as_tuple().exponent < -places  # type: ignore[operator]
    ):
        raise InvalidInput(
            _("%(field)s超出允许范围。") % {"field": label},
            code=code,
            field=field,
            value=str(value),
        )
    return number


def int_ids(values: Iterable[Any], field: str) -> list[int]:
    try:
        return sorted({int(v) for v in values or ()})
    except (TypeError, ValueError):
        raise InvalidInput(_("编号列表无效。"), code="invalid_ids", field=field) from None


def acting_org(actor: Any, org_id: int | None, action: str) -> Organization:
    """The org the actor writes at: 404 when they cannot see it, 403 without ``action``."""
    org = Organization.objects.filter(pk=org_id, is_active=True).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound()
    policy.require(actor, action, org)
    return org


def under(org: Organization, ancestor: Organization) -> bool:
    return org.path.startswith(ancestor.path)


def org_contract(contract_id: int | None, org: Organization) -> Contract | None:
    """A contract of the org's subtree (None for None)."""
    if contract_id is None:
        return None
    contract = Contract.objects.filter(pk=contract_id, org__path__startswith=org.path).first()
    if contract is None:
        raise InvalidInput(_("合同不可用。"), code="invalid_contract", field="contract_id")
    return contract


def subject_of(
    subject_org_id: int | None, org: Organization, contract: Contract | None
) -> Organization:
    """Whom an event or a survey is about: an org of ``org``'s subtree or a vendor under
    one of its contracts; the contract's vendor when a contract is named."""
    subject = Organization.objects.filter(pk=subject_org_id, is_active=True).first()
    matches = subject is not None and (contract is None or subject.pk == contract.vendor_id)
    if matches and (
        under(subject, org)
        or Contract.objects.filter(org__path__startswith=org.path, vendor=subject).exists()
    ):
        return subject
    raise InvalidInput(
        _("对象须为本单位下属单位或本单位合同的服务单位。"),
        code="invalid_subject",
        field="subject_org_id",
    )
