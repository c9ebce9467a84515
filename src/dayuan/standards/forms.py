"""Forms of the standards pages: filters, comments, the draft editor, adoption."""

from __future__ import annotations

from typing import Any

import yaml
from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import Domain, RuleKind, Severity, StandardStatus


def parse_structured(text: str) -> Any:
    """YAML or JSON text (JSON is YAML) to data; a ValidationError names the line."""
    text = (text or "").strip()
    if not text:
        return {}
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _("第 %(line)d 行：") % {"line": mark.line + 1} if mark else ""
        raise forms.ValidationError(
            _("%(where)s无法解析为 YAML/JSON（%(problem)s）")
            % {"where": where, "problem": getattr(exc, "problem", "") or exc}
        ) from exc


def dump_structured(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False) if data else ""


class LibraryFilterForm(forms.Form):
    q = forms.CharField(label=_("关键字"), max_length=100, required=False)
    domain = forms.ChoiceField(
        label=_("领域"), choices=[("", _("全部领域")), *Domain.choices], required=False
    )
    status = forms.ChoiceField(
        label=_("状态"), choices=[("", _("全部状态")), *StandardStatus.choices], required=False
    )

    def filters(self) -> dict[str, Any]:
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v}


class CommentForm(forms.Form):
    clause = forms.TypedChoiceField(label=_("条款"), coerce=int)
    text = forms.CharField(
        label=_("意见"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    suggestion = forms.CharField(label=_("建议修改为"), max_length=500, required=False)

    def __init__(self, *args: Any, clauses: list[Any] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["clause"].choices = [(c.pk, f"{c.number} {c.text[:30]}") for c in clauses]


class ClauseForm(forms.Form):
    number = forms.CharField(label=_("条款号"), max_length=20)
    text = forms.CharField(label=_("条款内容"), widget=forms.Textarea(attrs={"rows": 3}))
    severity = forms.ChoiceField(label=_("重要程度"), choices=Severity.choices)
    binding = forms.BooleanField(label=_("约束性（下级只能从严）"), required=False)
    position = forms.IntegerField(label=_("排序"), min_value=0, required=False)


class RuleForm(forms.Form):
    key = forms.CharField(label=_("规则标识"), max_length=60)
    kind = forms.ChoiceField(label=_("类型"), choices=RuleKind.choices)
    params = forms.CharField(
        label=_("参数（YAML 或 JSON）"),
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
    )
    source_document = forms.CharField(label=_("来源文件"), max_length=200, required=False)
    source_edition = forms.CharField(label=_("版本/文号"), max_length=100, required=False)
    source_clause = forms.CharField(label=_("来源条款"), max_length=60, required=False)
    verified = forms.BooleanField(label=_("已核实"), required=False, initial=True)

    def clean_params(self) -> Any:
        data = parse_structured(self.cleaned_data.get("params", ""))
        if not isinstance(data, dict):
            raise forms.ValidationError(_("参数须为键值结构（映射）。"))
        return data


class PublishForm(forms.Form):
    change_note = forms.CharField(
        label=_("修订说明"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    pilot_orgs = forms.TypedMultipleChoiceField(
        label=_("试点单位（不选则全面发布）"), coerce=int, required=False
    )

    def __init__(self, *args: Any, orgs: list[Any] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["pilot_orgs"].choices = [(o.pk, o.name) for o in orgs]


class AdoptForm(forms.Form):
    org = forms.TypedChoiceField(label=_("采用单位"), coerce=int)
    version = forms.TypedChoiceField(label=_("版本"), coerce=int, required=False, empty_value=None)
    overrides = forms.CharField(
        label=_("本地化调整（YAML 或 JSON：规则标识 → {参数路径: 值}）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"}),
    )
    note = forms.CharField(label=_("说明"), max_length=300, required=False)

    def __init__(
        self,
        *args: Any,
        orgs: list[Any] = (),  # type: ignore[assignment]
        versions: list[Any] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = [(o.pk, o.name) for o in orgs]
        self.fields["version"].choices = [("", _("跟随最新发布版本"))] + [
            (v.pk, _("第 %(n)d 版") % {"n": v.number}) for v in versions
        ]

    def clean_overrides(self) -> dict[str, Any]:
        data = parse_structured(self.cleaned_data.get("overrides", ""))
        if data in (None, ""):
            return {}
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise forms.ValidationError(_("格式应为 规则标识 → {参数路径: 值}。"))
        return data


class ComplianceFilterForm(forms.Form):
    standard = forms.TypedChoiceField(label=_("标准"), coerce=int, required=False, empty_value=None)
    org = forms.TypedChoiceField(label=_("单位"), coerce=int, required=False, empty_value=None)
    since = forms.DateField(
        label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self,
        *args: Any,
        standards: list[Any] = (),  # type: ignore[assignment]
        orgs: list[Any] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["standard"].choices = [("", _("全部标准"))] + [
            (s.pk, f"{s.code} {s.title}") for s in standards
        ]
        self.fields["org"].choices = [("", _("全部单位"))] + [(o.pk, o.name) for o in orgs]

    def filters(self) -> dict[str, Any]:
        """Valid filters as keyword arguments of the compliance functions."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        out: dict[str, Any] = {}
        if data.get("standard"):
            out["standard_id"] = data["standard"]
        if data.get("org"):
            out["org_id"] = data["org"]
        if data.get("since"):
            out["since"] = data["since"]
        if data.get("until"):
            out["until"] = data["until"]
        return out
