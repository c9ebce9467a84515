"""Forms of the assessment pages: contracts, schemes (with their indicator, deduction and
grade rows as formsets), deduction events, runs, people's scores, appeals and surveys.
They only parse input; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import (
    Better,
    ContractStatus,
    DeductionKind,
    EventType,
    IndicatorSort,
    PeriodKind,
    QuestionKind,
    RunStatus,
    ScorerRole,
    SubjectKind,
)

DATE = forms.DateInput(attrs={"type": "date"})
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TEXT3 = forms.Textarea(attrs={"rows": 3})


def _choices(empty: Any, rows: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    return [("", empty), *rows]


class ContractForm(forms.Form):
    """A service contract: who, what, when, how much, on which scheme and formula."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    org = forms.TypedChoiceField(label=_("甲方单位"), coerce=int)
    vendor = forms.TypedChoiceField(label=_("服务单位"), coerce=int)
    number = forms.CharField(label=_("合同编号"), max_length=40)
    title = forms.CharField(label=_("合同名称"), max_length=200)
    status = forms.ChoiceField(label=_("状态"), choices=ContractStatus.choices)
    starts_on = forms.DateField(label=_("开始日期"), widget=DATE)
    ends_on = forms.DateField(label=_("结束日期"), widget=DATE)
    monthly_fee = forms.DecimalField(label=_("月服务费（元）"), min_value=0, decimal_places=2)
    area_m2 = forms.DecimalField(label=_("服务面积（㎡）"), min_value=0, required=False)
    headcount = forms.IntegerField(label=_("服务人数"), min_value=0, required=False)
    categories = forms.MultipleChoiceField(
        label=_("服务类别"), required=False, widget=forms.CheckboxSelectMultiple
    )
    locations = forms.TypedMultipleChoiceField(
        label=_("服务范围（位置）"), coerce=int, required=False
    )
    standards = forms.TypedMultipleChoiceField(
        label=_("适用标准"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    scheme = forms.TypedChoiceField(label=_("考核方案"), coerce=int)
    payment_formula = forms.CharField(
        label=_("付款公式"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )

    def __init__(
        self,
        *args: Any,
        orgs: list[Any] = (),
        vendors: list[Any] = (),
        schemes: list[Any] = (),
        categories: list[tuple[str, str]] = (),
        locations: list[tuple[int, str]] = (),
        standards: list[tuple[int, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = [(o.pk, o.name) for o in orgs]
        self.fields["vendor"].choices = _choices(_("请选择"), [(v.pk, v.name) for v in vendors])
        self.fields["scheme"].choices = _choices(_("请选择"), [(s.pk, s.name) for s in schemes])
        self.fields["categories"].choices = list(categories)
        self.fields["locations"].choices = list(locations)
        self.fields["standards"].choices = list(standards)


class FormulaTestForm(forms.Form):
    """Try a payment formula on sample values before saving it."""

    payment_formula = forms.CharField(max_length=2000)
    score = forms.FloatField(label=_("得分"), initial=85, min_value=0, max_value=100)
    fee = forms.FloatField(label=_("服务费"), initial=100000, min_value=0)
    deduction_money = forms.FloatField(label=_("扣款"), initial=0, min_value=0)
    deduction_points = forms.FloatField(label=_("扣分"), initial=0, min_value=0)
    pass_line = forms.FloatField(label=_("合格线"), initial=60, min_value=0, max_value=100)


class SchemeForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    org = forms.TypedChoiceField(label=_("所属单位"), coerce=int)
    code = forms.SlugField(label=_("方案编号"), max_length=60)
    name = forms.CharField(label=_("方案名称"), max_length=100)
    subject_kind = forms.ChoiceField(label=_("考核对象"), choices=SubjectKind.choices)
    pass_line = forms.DecimalField(label=_("合格线"), min_value=0, max_value=100)
    max_deduction = forms.DecimalField(label=_("扣分上限"), min_value=0, required=False)
    description = forms.CharField(label=_("说明"), required=False, widget=TEXT3)

    def __init__(self, *args: Any, orgs: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = [(o.pk, o.name) for o in orgs]


class IndicatorForm(forms.Form):
    key = forms.SlugField(label=_("代码"), max_length=40)
    label = forms.CharField(label=_("指标"), max_length=100)
    sort = forms.ChoiceField(label=_("类型"), choices=IndicatorSort.choices)
    source = forms.ChoiceField(label=_("数据来源"), required=False)
    weight = forms.DecimalField(label=_("权重（分）"), min_value=0, max_value=100)
    target = forms.FloatField(label=_("满分值"), required=False)
    floor = forms.FloatField(label=_("零分值"), required=False)
    better = forms.ChoiceField(label=_("方向"), choices=Better.choices, initial=Better.HIGHER)
    max_score = forms.DecimalField(label=_("评分满分"), min_value=0, required=False)
    scorer_role = forms.ChoiceField(
        label=_("评分人"), choices=_choices(_("无"), list(ScorerRole.choices)), required=False
    )
    guidance = forms.CharField(label=_("评分细则"), required=False, max_length=1000)

    def __init__(self, *args: Any, sources: list[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = _choices(_("无（人工评分）"), list(sources))


class DeductionForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=DeductionKind.choices)
    match = forms.CharField(label=_("匹配（严重程度或事件类型）"), max_length=20)
    points = forms.DecimalField(label=_("扣分"), min_value=0, initial=0)
    money = forms.DecimalField(label=_("扣款（元）"), min_value=0, initial=0)
    rectify_days = forms.IntegerField(label=_("整改期限（天）"), min_value=0, initial=0)


class GradeForm(forms.Form):
    grade = forms.SlugField(label=_("等级代码"), max_length=20)
    label = forms.CharField(label=_("等级名称"), max_length=40)
    min_score = forms.DecimalField(label=_("最低分"), min_value=0, max_value=100)


def _formset(form: type[forms.Form]) -> Any:
    return forms.formset_factory(form, extra=2, can_delete=True)


IndicatorFormSet = _formset(IndicatorForm)
DeductionFormSet = _formset(DeductionForm)
GradeFormSet = _formset(GradeForm)


def rows_of(formset: Any) -> list[dict[str, Any]]:
    """The filled, not deleted rows of a valid formset, as plain dicts."""
    rows = []
    for f in formset.forms:
        data = getattr(f, "cleaned_data", None) or {}
        if not data or data.get("DELETE"):
            continue
        rows.append({k: v for k, v in data.items() if k != "DELETE"})
    return rows


class EventForm(forms.Form):
    """A deduction event (通报批评, 媒体曝光 …) against a vendor or a unit."""

    org = forms.TypedChoiceField(label=_("登记单位"), coerce=int)
    subject_org = forms.TypedChoiceField(label=_("被考核单位"), coerce=int)
    contract = forms.TypedChoiceField(label=_("合同"), coerce=int, required=False, empty_value=None)
    event_type = forms.ChoiceField(label=_("事件类型"), choices=EventType.choices)
    occurred_at = forms.DateTimeField(label=_("发生时间"), widget=DATETIME)
    rectify_days = forms.IntegerField(label=_("整改期限（天）"), min_value=0, required=False)
    description = forms.CharField(label=_("事件说明"), max_length=1000, widget=TEXT3)

    def __init__(
        self,
        *args: Any,
        orgs: list[Any] = (),
        subjects: list[Any] = (),
        contracts: list[Any] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = [(o.pk, o.name) for o in orgs]
        self.fields["subject_org"].choices = _choices(
            _("请选择"), [(o.pk, o.name) for o in subjects]
        )
        self.fields["contract"].choices = _choices(_("不指定"), [(c.pk, str(c)) for c in contracts])


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=500)


class RunFilterForm(forms.Form):
    period = forms.DateField(label=_("期间（含此日）"), required=False, widget=DATE)
    status = forms.ChoiceField(
        label=_("状态"), choices=_choices(_("全部状态"), list(RunStatus.choices)), required=False
    )
    scheme = forms.TypedChoiceField(label=_("方案"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, schemes: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scheme"].choices = _choices(_("全部方案"), [(s.pk, s.name) for s in schemes])

    def filters(self) -> dict[str, Any]:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class CreateRunsForm(forms.Form):
    """Create this period's runs for every active contract (and org scheme) of an org."""

    org = forms.TypedChoiceField(label=_("单位"), coerce=int)
    period_kind = forms.ChoiceField(label=_("周期"), choices=PeriodKind.choices)
    period_start = forms.DateField(label=_("期间开始"), widget=DATE)

    def __init__(self, *args: Any, orgs: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = [(o.pk, o.name) for o in orgs]


class AssignForm(forms.Form):
    user = forms.TypedChoiceField(label=_("评分人"), coerce=int)
    role = forms.ChoiceField(label=_("身份"), choices=ScorerRole.choices)

    def __init__(self, *args: Any, people: list[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = _choices(_("请选择"), list(people))


class ScoreForm(forms.Form):
    score = forms.DecimalField(label=_("评分"), min_value=0, decimal_places=2)
    comment = forms.CharField(label=_("评语"), max_length=1000, required=False, widget=TEXT3)
    evidence = forms.CharField(
        label=_("依据（检查记录、照片编号等）"), max_length=2000, required=False, widget=TEXT3
    )

    def __init__(self, *args: Any, max_score: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_score = max_score
        if max_score is not None:
            self.fields["score"].widget.attrs.update(max=str(max_score), step="0.5")

    def clean_score(self) -> Any:
        score = self.cleaned_data["score"]
        if self.max_score is not None and score > self.max_score:
            raise forms.ValidationError(_("评分不能超过 %(max)s 分。") % {"max": self.max_score})
        return score


class AppealForm(forms.Form):
    items = forms.MultipleChoiceField(label=_("申诉指标"), widget=forms.CheckboxSelectMultiple)
    reason = forms.CharField(label=_("申诉理由"), max_length=2000, widget=TEXT3)

    def __init__(self, *args: Any, items: list[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["items"].choices = list(items)


class DecideForm(forms.Form):
    upheld = forms.TypedChoiceField(
        label=_("处理结论"),
        coerce=lambda v: v == "1",
        choices=[("1", _("申诉成立（重新评定所列指标）")), ("0", _("申诉驳回"))],
        widget=forms.RadioSelect,
    )
    decision = forms.CharField(label=_("处理意见"), max_length=2000, widget=TEXT3)


class RankingForm(forms.Form):
    scheme = forms.TypedChoiceField(label=_("方案"), coerce=int)
    period_kind = forms.ChoiceField(label=_("周期"), choices=PeriodKind.choices)
    period_start = forms.DateField(label=_("期间开始"), widget=DATE)

    def __init__(self, *args: Any, schemes: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scheme"].choices = [(s.pk, s.name) for s in schemes]


class SurveyForm(forms.Form):
    """A questionnaire: one question a line, ``评分:``/``单选:`` prefixes pick the kind."""

    org = forms.TypedChoiceField(label=_("发起单位"), coerce=int)
    title = forms.CharField(label=_("问卷名称"), max_length=200)
    subject_org = forms.TypedChoiceField(
        label=_("评价对象"), coerce=int, required=False, empty_value=None
    )
    service = forms.CharField(label=_("服务项目"), max_length=100, required=False)
    closes_at = forms.DateTimeField(label=_("截止时间"), widget=DATETIME)
    anonymous = forms.BooleanField(label=_("匿名（不记录答卷人）"), required=False, initial=True)
    questions = forms.CharField(
        label=_("题目"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "每行一题。评分题（1–5 分）直接写题目；单选题写“题目｜选项1｜选项2”；文字题以“？”开头。"
        ),
    )
    invitees = forms.TypedMultipleChoiceField(
        label=_("邀请人员"), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    open_now = forms.BooleanField(label=_("立即发布"), required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        orgs: list[Any] = (),
        subjects: list[Any] = (),
        people: list[tuple[int, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = [(o.pk, o.name) for o in orgs]
        self.fields["subject_org"].choices = _choices(
            _("不指定"), [(o.pk, o.name) for o in subjects]
        )
        self.fields["invitees"].choices = list(people)

    def clean_questions(self) -> list[dict[str, Any]]:
        rows = []
        for i, line in enumerate(self.cleaned_data["questions"].splitlines()):
            line = line.strip()
            if not line:
                continue
            if line.startswith(("?", "？")):
                rows.append({"text": line[1:].strip(), "kind": QuestionKind.TEXT, "position": i})
            elif "|" in line or "｜" in line:
                parts = [p.strip() for p in line.replace("｜", "|").split("|") if p.strip()]
                if len(parts) < 3:
                    raise forms.ValidationError(_("单选题至少需要两个选项：%(q)s") % {"q": line})
                rows.append(
                    {
                        "text": parts[0],
                        "kind": QuestionKind.CHOICE,
                        "choices": parts[1:],
                        "position": i,
                    }
                )
            else:
                rows.append({"text": line, "kind": QuestionKind.RATING, "position": i})
        if not rows:
            raise forms.ValidationError(_("请至少填写一道题目。"))
        return rows
