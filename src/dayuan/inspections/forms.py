"""Forms of the inspection pages: start, finding, evidence, verdict, assignee, filters,
plan assignments and assets. They only parse input; the services decide what is
allowed. The conduct page's answers are read by ``answers_from`` (one field per item,
named after the item's key)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dayuan.standards.choices import Severity
from dayuan.workorders.forms import PhotosField, VersionForm

from .choices import FindingSource, FindingStatus, InspectionKind, Verdict

OUTCOMES = ("pass", "fail", "na")


def _choices(empty: Any, rows: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    return [("", empty), *rows]


class StartForm(forms.Form):
    """Begin an inspection: which checklist, where, who answers for it."""

    client_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    occurrence = forms.IntegerField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=_("检查类型"), choices=InspectionKind.choices)
    checklist = forms.ChoiceField(label=_("检查表"))
    location = forms.TypedChoiceField(label=_("地点"), coerce=int)
    vendor = forms.TypedChoiceField(
        label=_("责任单位"), coerce=int, required=False, empty_value=None
    )

    def __init__(
        self,
        *args: Any,
        checklists: list[tuple[str, str]] = (),
        locations: list[tuple[int, str]] = (),
        vendors: list[Any] = (),
        kinds: list[tuple[str, Any]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["checklist"].choices = list(checklists)
        self.fields["location"].choices = _choices(_("请选择地点"), list(locations))
        self.fields["vendor"].choices = _choices(_("无"), [(v.pk, v.name) for v in vendors])
        if kinds:
            self.fields["kind"].choices = list(kinds)


def answers_from(data: Any, items: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers and notes posted for ``items`` (only the items present in ``data``).

    ``outcome-<key>`` is pass/fail/na; ``value-<key>`` a measured value (or a score);
    ``note-<key>`` a note. An item whose value was cleared is sent as an empty answer
    so the draft forgets it.
    """
    answers: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for item in items:
        key = item["key"]
        outcome = (data.get(f"outcome-{key}") or "").strip()
        raw = data.get(f"value-{key}")
        if outcome == "na":
            answers[key] = "na"
        elif item.get("type") in ("measure", "score") and raw is not None:
            raw = raw.strip().replace(",", ".")
            if raw:
                try:
                    number = float(raw)
                except ValueError:
                    number = None
                if number is not None:
                    answers[key] = (
                        {"value": number} if item.get("type") == "measure" else {"score": number}
                    )
            elif f"value-{key}" in data:
                answers[key] = None
        elif outcome in OUTCOMES:
            answers[key] = outcome
        if f"note-{key}" in data:
            notes[key] = (data.get(f"note-{key}") or "").strip()[:500]
    return answers, notes


class SubmitForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    summary = forms.CharField(
        label=_("检查意见"), max_length=2000, required=False, widget=forms.Textarea
    )


class ReasonForm(VersionForm):
    reason = forms.CharField(label=_("原因"), max_length=500)


class EvidenceForm(VersionForm):
    evidence = forms.CharField(
        label=_("整改说明"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    photos = PhotosField(label=_("整改照片"))


class VerifyForm(VersionForm):
    verdict = forms.ChoiceField(label=_("验收结论"), choices=Verdict.choices)
    reason = forms.CharField(label=_("验收意见"), max_length=500, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("verdict") == Verdict.REJECT and not data.get("reason"):
            self.add_error("reason", _("退回时请写明原因。"))
        return data


class FindingForm(forms.Form):
    """An ad hoc finding (a manager's walk-round, a complaint), picked from the clause list."""

    org = forms.TypedChoiceField(label=_("所属单位"), coerce=int)
    clause = forms.TypedChoiceField(label=_("条款"), coerce=int)
    source = forms.ChoiceField(
        label=_("来源"),
        choices=[
            (v, label)
            for v, label in FindingSource.choices
            if v not in (FindingSource.INSPECTION, FindingSource.MISSED)
        ],
        initial=FindingSource.WALKROUND,
    )
    severity = forms.ChoiceField(
        label=_("严重程度"),
        choices=_choices(_("按条款"), list(Severity.choices)),
        required=False,
    )
    location = forms.TypedChoiceField(label=_("地点"), coerce=int, required=False, empty_value=None)
    vendor = forms.TypedChoiceField(
        label=_("责任单位"), coerce=int, required=False, empty_value=None
    )
    description = forms.CharField(
        label=_("问题描述"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )
    photos = PhotosField(label=_("现场照片"))

    def __init__(
        self,
        *args: Any,
        orgs: list[Any] = (),
        clauses: list[tuple[Any, Any]] = (),
        locations: list[tuple[int, str]] = (),
        vendors: list[Any] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = [(o.pk, o.name) for o in orgs]
        self.fields["clause"].choices = _choices(_("请选择条款"), list(clauses))
        self.fields["location"].choices = _choices(_("不指定"), list(locations))
        self.fields["vendor"].choices = _choices(_("不指定"), [(v.pk, v.name) for v in vendors])


class FindingFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), max_length=100, required=False)
    status = forms.ChoiceField(
        label=_("状态"),
        choices=_choices(_("全部状态"), list(FindingStatus.choices)),
        required=False,
    )
    source = forms.ChoiceField(
        label=_("来源"),
        choices=_choices(_("全部来源"), list(FindingSource.choices)),
        required=False,
    )
    severity = forms.ChoiceField(
        label=_("严重程度"), choices=_choices(_("全部程度"), list(Severity.choices)), required=False
    )
    org = forms.TypedChoiceField(label=_("单位"), coerce=int, required=False, empty_value=None)
    vendor = forms.TypedChoiceField(
        label=_("责任单位"), coerce=int, required=False, empty_value=None
    )
    overdue = forms.BooleanField(label=_("仅超期"), required=False)

    def __init__(
        self, *args: Any, orgs: list[Any] = (), vendors: list[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = _choices(_("全部单位"), [(o.pk, o.name) for o in orgs])
        self.fields["vendor"].choices = _choices(
            _("全部责任单位"), [(v.pk, v.name) for v in vendors]
        )

    def filters(self) -> dict[str, Any]:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", False)}


class AssignmentForm(forms.Form):
    """Who performs a scheduled activity (the choices come from the org's effective
    schedule and checklist rules, its locations, teams, inspectors and vendors)."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    activity = forms.ChoiceField(label=_("计划事项"))
    location = forms.TypedChoiceField(
        label=_("范围（位置）"), coerce=int, required=False, empty_value=None
    )
    team = forms.TypedChoiceField(label=_("执行班组"), coerce=int, required=False, empty_value=None)
    inspector = forms.TypedChoiceField(
        label=_("执行人"), coerce=int, required=False, empty_value=None
    )
    vendor = forms.TypedChoiceField(
        label=_("责任单位"), coerce=int, required=False, empty_value=None
    )
    checklist = forms.ChoiceField(label=_("检查表"), required=False)
    kind = forms.ChoiceField(
        label=_("检查类型"), choices=InspectionKind.choices, initial=InspectionKind.PATROL
    )
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        activities: list[tuple[str, str]] = (),
        locations: list[tuple[int, str]] = (),
        teams: list[tuple[int, str]] = (),
        inspectors: list[tuple[int, str]] = (),
        vendors: list[tuple[int, str]] = (),
        checklists: list[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["activity"].choices = _choices(_("请选择计划事项"), list(activities))
        self.fields["location"].choices = _choices(_("全单位"), list(locations))
        self.fields["team"].choices = _choices(_("不指定"), list(teams))
        self.fields["inspector"].choices = _choices(_("不指定"), list(inspectors))
        self.fields["vendor"].choices = _choices(_("不指定"), list(vendors))
        self.fields["checklist"].choices = _choices(_("不指定"), list(checklists))


class AssetForm(forms.Form):
    """Equipment a schedule rule names by its type."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    location = forms.TypedChoiceField(label=_("位置"), coerce=int)
    asset_type = forms.ChoiceField(label=_("设备类型"))
    name = forms.CharField(label=_("名称"), max_length=100)
    code = forms.CharField(label=_("编号"), max_length=40, required=False)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        locations: list[tuple[int, str]] = (),
        asset_types: list[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].choices = _choices(_("请选择位置"), list(locations))
        self.fields["asset_type"].choices = _choices(_("请选择设备类型"), list(asset_types))


class AssignForm(VersionForm):
    """Name the person of the responsible party who does the fix."""

    assignee = forms.TypedChoiceField(label=_("整改责任人"), coerce=int)

    def __init__(self, *args: Any, people: list[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = _choices(_("请选择"), list(people))
