"""Forms of the supervision pages. They only parse input; the services decide."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dayuan.workorders.forms import VersionForm

from .choices import Light, TaskSource, TaskStatus


def _choices(empty: Any, rows: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    return [("", empty), *rows]


class TaskForm(forms.Form):
    """A manager issues a task (a leader's instruction, a complaint)."""

    org = forms.TypedChoiceField(label=_("承办单位"), coerce=int)
    assignee = forms.TypedChoiceField(
        label=_("承办人"), coerce=int, required=False, empty_value=None
    )
    title = forms.CharField(label=_("督办事项"), max_length=200)
    instruction = forms.CharField(
        label=_("督办要求"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    source = forms.ChoiceField(
        label=_("来源"),
        choices=[
            (v, label)
            for v, label in TaskSource.choices
            if v in (TaskSource.INSTRUCTION, TaskSource.COMPLAINT, TaskSource.OTHER)
        ],
        initial=TaskSource.INSTRUCTION,
    )
    deadline = forms.DateTimeField(
        label=_("办结时限"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    report_every_days = forms.IntegerField(
        label=_("进展报告周期（天，0 为不要求）"), min_value=0, max_value=90, initial=0
    )

    def __init__(
        self, *args: Any, orgs: list[Any] = (), assignees: list[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = [(o.pk, o.name) for o in orgs]
        self.fields["assignee"].choices = _choices(
            _("不指定（由承办单位签收）"),
            [(u.pk, f"{u} · {u.home_org.name if u.home_org else ''}") for u in assignees],
        )

    def clean_deadline(self) -> datetime:
        value = self.cleaned_data["deadline"]
        return value if timezone.is_aware(value) else timezone.make_aware(value)


class ReportForm(forms.Form):
    text = forms.CharField(
        label=_("进展情况"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    progress = forms.IntegerField(
        label=_("完成进度（%）"), min_value=0, max_value=100, required=False
    )


class ResultForm(VersionForm):
    result = forms.CharField(
        label=_("办理结果"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReviewForm(VersionForm):
    approve = forms.TypedChoiceField(
        label=_("审核结论"),
        coerce=lambda v: v == "1",
        choices=[("1", _("同意办结")), ("0", _("退回重办"))],
    )
    note = forms.CharField(label=_("审核意见"), max_length=500, required=False)


class RemindForm(forms.Form):
    note = forms.CharField(label=_("催办说明"), max_length=500, required=False)


class ReassignForm(VersionForm):
    assignee = forms.TypedChoiceField(label=_("承办人"), coerce=int)

    def __init__(self, *args: Any, assignees: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [(u.pk, str(u)) for u in assignees]


class CancelForm(VersionForm):
    reason = forms.CharField(label=_("撤销原因"), max_length=500)


class TaskFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("状态"),
        choices=_choices(_("全部状态"), [("open", _("未办结")), *TaskStatus.choices]),
        required=False,
    )
    light = forms.ChoiceField(
        label=_("灯色"), choices=_choices(_("全部灯色"), list(Light.choices)), required=False
    )
    source = forms.ChoiceField(
        label=_("来源"), choices=_choices(_("全部来源"), list(TaskSource.choices)), required=False
    )
    org = forms.TypedChoiceField(label=_("承办单位"), coerce=int, required=False, empty_value=None)
    mine = forms.BooleanField(label=_("仅我承办"), required=False)

    def __init__(self, *args: Any, orgs: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = _choices(_("全部单位"), [(o.pk, o.name) for o in orgs])

    def filters(self) -> dict[str, Any]:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", False)}
