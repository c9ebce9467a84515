"""The filter form of the audit page (also read by the export)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Outcome


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("操作"), max_length=80, required=False)
    actor = forms.CharField(label=_("用户"), max_length=150, required=False)
    object_type = forms.CharField(label=_("对象类型"), max_length=80, required=False)
    object_id = forms.CharField(label=_("对象ID"), max_length=64, required=False)
    outcome = forms.ChoiceField(
        label=_("结果"), choices=[("", _("全部结果")), *Outcome.choices], required=False
    )
    since = forms.DateField(
        label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(label=_("关键字"), max_length=100, required=False)

    def filters(self) -> dict[str, Any]:
        """The valid filters as keyword arguments of ``queries.entries``; invalid ones drop."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data[name] for name in self.fields if data.get(name)}
