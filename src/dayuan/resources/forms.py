"""Forms of the resource-pool pages. They only parse input (local Shanghai times become
aware datetimes, ticked attributes and free tags one list, the weekly window rows the
``windows`` JSON); the services decide what is allowed: capacity, windows, scope,
budgets, the allocation flow."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .choices import (
    STOCK_KINDS,
    Attribute,
    CostBasis,
    Priority,
    ResourceKind,
    Visibility,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
NUMBER = {"inputmode": "decimal"}
INTEGER = {"inputmode": "numeric"}
WINDOW_ROWS = 3  # the weekly window rows a resource form offers
WEEKDAYS = [
    (0, _("周一")),
    (1, _("周二")),
    (2, _("周三")),
    (3, _("周四")),
    (4, _("周五")),
    (5, _("周六")),
    (6, _("周日")),
]
MONEY_MAX = Decimal("99999999")
TAG_SPLIT = re.compile(r"[,，、;；\s]+")


def _local_field(label: Any, required: bool = True, **kwargs: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label, required=required, widget=DATETIME, input_formats=DATETIME_FORMATS, **kwargs
    )


def _choices(field: forms.Field, rows: list[tuple[Any, str]], empty: Any = None) -> None:
    field.choices = ([("", empty)] if empty is not None else []) + list(rows)  # type: ignore[attr-defined]


def _id_choice(label: Any, required: bool = False, **kwargs: Any) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, coerce=int, required=required, empty_value=None, **kwargs
    )


def _money(label: Any, required: bool = False, **kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal("0"),
        max_value=MONEY_MAX,
        decimal_places=2,
        widget=forms.NumberInput(attrs={**NUMBER, "step": "0.01"}),
        **kwargs,
    )


def _attributes(label: Any = None) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label or _("属性"),
        choices=Attribute.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


def _tags_field(label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label or _("其他属性"),
        max_length=300,
        required=False,
        help_text=_("多个用逗号分隔，每个不超过 30 字。"),
    )


def split_tags(text: str) -> list[str]:
    """Free tags typed in one box: split on commas, 、, semicolons and spaces."""
    return [t for t in TAG_SPLIT.split(text or "") if t]


def merge_tags(ticked: Any, typed: str) -> list[str]:
    """The ticked attributes and the typed free tags, sorted and de-duplicated."""
    return sorted(set(ticked or []) | set(split_tags(typed)))


def tags_initial(values: Any) -> tuple[list[str], str]:
    """A stored attribute list split back into the ticked ones and the free text."""
    known = set(Attribute.values)
    values = list(values or [])
    return [v for v in values if v in known], "、".join(v for v in values if v not in known)


class DataForm(forms.Form):
    """A form whose values go to a service as its ``data``: ``FIELDS`` as cleaned,
    ``FLAGS`` as booleans (an unticked box is False) and ``TEXTS``, optional text, as
    "" when left empty (the services keep text, never None)."""

    FIELDS: tuple[str, ...] = ()
    FLAGS: tuple[str, ...] = ()
    TEXTS: tuple[str, ...] = ()

    def data_fields(self) -> dict[str, Any]:
        d = self.cleaned_data
        out = {name: d.get(name) for name in self.FIELDS}
        for name in self.FLAGS:
            out[name] = bool(d.get(name))
        for name in self.TEXTS:
            out[name] = d.get(name) or ""
        return out


class RangeMixin:
    """``start_at`` before ``end_at``, said next to the end."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()  # type: ignore[misc]
        start, end = cleaned.get("start_at"), cleaned.get("end_at")
        if start and end and end <= start:
            self.add_error("end_at", _("结束时间须晚于开始时间。"))  # type: ignore[attr-defined]
        return cleaned


# --- browse ------------------------------------------------------------------------------


class ResourceFilterForm(forms.Form):
    """资源广场's filters (GET): a kind and words in the name, description or address."""

    kind = forms.ChoiceField(label=_("资源类型"), required=False)
    q = forms.CharField(label=_("关键词"), max_length=60, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["kind"], ResourceKind.choices, _("全部类型"))


# --- resources (owners) ------------------------------------------------------------------


class ResourceForm(DataForm):
    """A resource's card: what it is, where, how much, when it may be used (weekly
    windows, rows ``w<i>_days/start/end/offpeak``), who may use it, what it costs."""

    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    org = _id_choice(_("所属单位"), required=True)
    kind = forms.ChoiceField(label=_("资源类型"), choices=ResourceKind.choices)
    name = forms.CharField(label=_("名称"), max_length=120)
    description = forms.CharField(
        label=_("说明"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    location = _id_choice(_("位置"))
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    capacity = forms.IntegerField(
        label=_("容量（人）"),
        min_value=0,
        max_value=100000,
        required=False,
        help_text=_("场地、设施、车辆：可容纳人数；人力、志愿服务队：队伍人数。"),
        widget=forms.NumberInput(attrs=INTEGER),
    )
    quantity = forms.IntegerField(
        label=_("数量"),
        min_value=0,
        max_value=100000000,
        required=False,
        help_text=_("物资、资金：入库数量或金额，创建后由调配自动扣减。"),
        widget=forms.NumberInput(attrs=INTEGER),
    )
    unit = forms.CharField(label=_("计量单位"), max_length=10, required=False)
    attributes = _attributes()
    extra_attributes = _tags_field()
    visibility = forms.ChoiceField(
        label=_("开放范围"), choices=Visibility.choices, initial=Visibility.CENTRE
    )
    cost_basis = forms.ChoiceField(
        label=_("收费方式"), choices=CostBasis.choices, initial=CostBasis.FREE
    )
    cost = _money(_("单价（元）"))
    unit_value = _money(
        _("单位价值（元）"), help_text=_("新购一件的价格：调剂使用即节约的采购金额。")
    )
    requires_approval = forms.BooleanField(label=_("需要审批"), required=False, initial=True)
    preference = forms.IntegerField(
        label=_("推荐权重（0–100）"),
        min_value=0,
        max_value=100,
        initial=50,
        widget=forms.NumberInput(attrs=INTEGER),
    )
    contact = _id_choice(_("联系人"))
    contact_phone = forms.CharField(label=_("联系电话"), max_length=30, required=False)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)
    photo = forms.FileField(
        label=_("照片"),
        required=False,
        help_text=_("JPEG、PNG 或 WebP；上传后自动去除拍摄位置等信息。"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    FIELDS = (
        "name",
        "location",
        "capacity",
        "unit",
        "visibility",
        "cost_basis",
        "preference",
        "contact",
    )
    FLAGS = ("requires_approval", "is_active")
    TEXTS = ("description", "address", "contact_phone")

    def __init__(
        self,
        *args: Any,
        orgs: list[tuple[int, str]] = (),  # type: ignore[assignment]
        locations: list[tuple[int, str]] = (),  # type: ignore[assignment]
        contacts: list[tuple[int, str]] = (),  # type: ignore[assignment]
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        _choices(self.fields["org"], orgs)
        _choices(self.fields["location"], locations, _("不指定"))
        _choices(self.fields["contact"], contacts, _("不指定"))
        for i in range(WINDOW_ROWS):
            self.fields[f"w{i}_days"] = forms.TypedMultipleChoiceField(
                label=_("开放日"),
                coerce=int,
                choices=WEEKDAYS,
                required=False,
                widget=forms.CheckboxSelectMultiple,
            )
            self.fields[f"w{i}_start"] = forms.TimeField(
                label=pgettext_lazy("window", "开始"), required=False, widget=TIME
            )
            self.fields[f"w{i}_end"] = forms.TimeField(
                label=pgettext_lazy("window", "结束"), required=False, widget=TIME
            )
            self.fields[f"w{i}_offpeak"] = forms.BooleanField(label=_("错峰共享"), required=False)
        if editing:
            # the owner and the kind are fixed once created; the stock moves by allocations
            for name in ("org", "kind", "quantity"):
                self.fields[name].required = False
                self.fields[name].disabled = True

    @classmethod
    def initial_for(cls, resource: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(resource, name)
            for name in (*cls.FIELDS, *cls.FLAGS, *cls.TEXTS, "cost", "unit_value", "quantity")
            if name not in ("location", "contact")
        }
        ticked, typed = tags_initial(resource.attributes)
        initial.update(
            org=resource.org_id,
            kind=resource.kind,
            location=resource.location_id,
            contact=resource.contact_id,
            attributes=ticked,
            extra_attributes=typed,
            version=resource.version,
        )
        for i, w in enumerate((resource.windows or [])[:WINDOW_ROWS]):
            initial[f"w{i}_days"] = list(w.get("days") or [])
            initial[f"w{i}_start"] = w.get("start")
            initial[f"w{i}_end"] = w.get("end")
            initial[f"w{i}_offpeak"] = bool(w.get("offpeak"))
        return initial

    def window_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "index": i,
                "days": self[f"w{i}_days"],
                "start": self[f"w{i}_start"],
                "end": self[f"w{i}_end"],
                "offpeak": self[f"w{i}_offpeak"],
            }
            for i in range(WINDOW_ROWS)
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for i in range(WINDOW_ROWS):
            days = cleaned.get(f"w{i}_days") or []
            start, end = cleaned.get(f"w{i}_start"), cleaned.get(f"w{i}_end")
            if not days and start is None and end is None:
                continue
            if not days or start is None or end is None:
                self.add_error(f"w{i}_days", _("开放时段须同时选择开放日和起止时间。"))
        return cleaned

    def windows(self) -> list[dict[str, Any]]:
        d = self.cleaned_data
        out = []
        for i in range(WINDOW_ROWS):
            days = d.get(f"w{i}_days") or []
            start, end = d.get(f"w{i}_start"), d.get(f"w{i}_end")
            if days and start is not None and end is not None:
                out.append(
                    {
                        "days": sorted(set(days)),
                        "start": start.strftime("%H:%M"),
                        "end": end.strftime("%H:%M"),
                        "offpeak": bool(d.get(f"w{i}_offpeak")),
                    }
                )
        return out

    def service_data(self) -> dict[str, Any]:
        """The ``data`` of ``services.save_resource`` (create-only keys on a new one)."""
        d = self.cleaned_data
        data = self.data_fields()
        data["location_id"] = data.pop("location")
        data["contact_id"] = data.pop("contact")
        data["capacity"] = d.get("capacity") or 0
        data["cost"] = d.get("cost") or Decimal("0")
        data["unit_value"] = d.get("unit_value") or Decimal("0")
        data["attributes"] = merge_tags(d.get("attributes"), d.get("extra_attributes") or "")
        data["windows"] = self.windows()
        data["unit"] = d.get("unit") or ""
        if not self.editing:
            data["org_id"] = d.get("org")
            data["kind"] = d.get("kind")
            if d.get("kind") in STOCK_KINDS:
                data["quantity"] = d.get("quantity") or 0
        return data


class ClosureForm(RangeMixin, forms.Form):
    start_at = _local_field(pgettext_lazy("resource", "开始时间"))
    end_at = _local_field(_("结束时间"))
    reason = forms.CharField(label=_("原因"), max_length=200, required=False)


# --- demands -----------------------------------------------------------------------------


class DemandForm(RangeMixin, forms.Form):
    """发布需求: what is needed, how much, when, where, within what budget; an approver
    when the unit signs it off first."""

    client_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    org = _id_choice(_("需求单位"))
    title = forms.CharField(label=_("需求名称"), max_length=200)
    kind = forms.ChoiceField(
        label=_("资源类型"),
        choices=ResourceKind.choices,
        initial=ResourceKind.VENUE,
        widget=forms.RadioSelect,
    )
    amount = forms.IntegerField(
        label=_("数量/人数"),
        min_value=1,
        max_value=100000000,
        initial=30,
        help_text=_("场地、设施、车辆、人力：人数；物资：件数；资金：元。"),
        widget=forms.NumberInput(attrs=INTEGER),
    )
    attributes = _attributes(_("所需属性"))
    extra_attributes = _tags_field()
    start_at = _local_field(
        pgettext_lazy("resource", "开始时间"), help_text=_("物资、资金：最晚需要的时间。")
    )
    end_at = _local_field(_("结束时间"))
    location = _id_choice(_("使用地点"))
    budget = _money(_("预算上限（元）"), help_text=_("不填表示不限。"))
    priority = forms.ChoiceField(
        label=_("优先级"),
        choices=Priority.choices,
        initial=Priority.NORMAL,
        widget=forms.RadioSelect,
    )
    approver = _id_choice(_("审批人"), help_text=_("选择后需经本单位审批人同意才开始匹配。"))
    preferred_owner = _id_choice(_("优先提供单位"))
    project = _id_choice(_("所属微实事项目"))
    description = forms.CharField(
        label=_("需求说明"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(
        self,
        *args: Any,
        orgs: list[tuple[int, str]] = (),  # type: ignore[assignment]
        locations: list[tuple[int, str]] = (),  # type: ignore[assignment]
        approvers: list[tuple[int, str]] = (),  # type: ignore[assignment]
        owners: list[tuple[int, str]] = (),  # type: ignore[assignment]
        projects: list[tuple[int, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["org"], orgs)
        _choices(self.fields["location"], locations, _("不指定"))
        _choices(self.fields["approver"], approvers, _("无需审批，直接匹配"))
        _choices(self.fields["preferred_owner"], owners, _("不指定"))
        _choices(self.fields["project"], projects, _("不关联"))

    def service_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "org_id": d.get("org"),
            "title": d["title"],
            "description": d.get("description") or "",
            "kind": d["kind"],
            "amount": d["amount"],
            "attributes": merge_tags(d.get("attributes"), d.get("extra_attributes") or ""),
            "start_at": d["start_at"],
            "end_at": d["end_at"],
            "location_id": d.get("location"),
            "budget": d.get("budget"),
            "priority": d.get("priority") or Priority.NORMAL,
            "approver_id": d.get("approver"),
            "preferred_owner_id": d.get("preferred_owner"),
            "project_id": d.get("project"),
        }


class RequestForm(RangeMixin, forms.Form):
    """A direct request for a resource (without a demand): when, how much, what for."""

    client_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    start_at = _local_field(pgettext_lazy("resource", "开始时间"))
    end_at = _local_field(_("结束时间"))
    amount = forms.IntegerField(
        label=_("数量/人数"),
        min_value=1,
        max_value=100000000,
        widget=forms.NumberInput(attrs=INTEGER),
    )
    project = _id_choice(_("所属微实事项目"))
    note = forms.CharField(
        label=_("用途说明"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self,
        *args: Any,
        projects: list[tuple[int, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["project"], projects, _("不关联"))


class DecideForm(forms.Form):
    """Approve or reject (the button pressed), with a note (a reason when rejecting)."""

    decision = forms.ChoiceField(choices=[("approve", "approve"), ("reject", "reject")])
    note = forms.CharField(max_length=500, required=False)
    version = forms.IntegerField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not (cleaned.get("note") or "").strip():
            self.add_error("note", _("驳回请写明原因。"))
        return cleaned

    @property
    def approve(self) -> bool:
        return self.cleaned_data.get("decision") == "approve"


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=500, required=False)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("说明"), max_length=500, required=False)


# --- the warehouse -----------------------------------------------------------------------


class ReceiveForm(forms.Form):
    """入库: an item a unit gives into the 公物仓, its quantity and what one is worth."""

    warehouse = _id_choice(_("公物仓单位"), required=True)
    from_org = _id_choice(_("移交单位"), required=True)
    name = forms.CharField(label=_("物品名称"), max_length=120)
    quantity = forms.IntegerField(
        label=_("数量"), min_value=1, max_value=1000000, widget=forms.NumberInput(attrs=INTEGER)
    )
    unit_value = _money(_("单位价值（元）"), required=True)
    attributes = _attributes()
    extra_attributes = _tags_field()
    location = _id_choice(_("存放位置"))
    visibility = forms.ChoiceField(
        label=_("开放范围"), choices=Visibility.choices, initial=Visibility.CITY
    )
    description = forms.CharField(
        label=_("说明"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(
        self,
        *args: Any,
        warehouses: list[tuple[int, str]] = (),  # type: ignore[assignment]
        orgs: list[tuple[int, str]] = (),  # type: ignore[assignment]
        locations: list[tuple[int, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["warehouse"], warehouses)
        _choices(self.fields["from_org"], orgs, _("请选择"))
        _choices(self.fields["location"], locations, _("不指定"))

    def tags(self) -> list[str]:
        d = self.cleaned_data
        return merge_tags(d.get("attributes"), d.get("extra_attributes") or "")


class QuantityForm(forms.Form):
    """归还入库 or 报废处置: how many, and why."""

    quantity = forms.IntegerField(
        label=_("数量"), min_value=1, max_value=1000000, widget=forms.NumberInput(attrs=INTEGER)
    )
    reason = forms.CharField(label=_("说明"), max_length=500, required=False)


# --- volunteers --------------------------------------------------------------------------


def _skills() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=_("技能"),
        choices=Attribute.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class EnrolForm(forms.Form):
    """加入志愿服务队: the team, the skills one brings, a phone number."""

    org = _id_choice(_("志愿服务队"), required=True)
    skills = _skills()
    phone = forms.CharField(label=_("联系电话"), max_length=30, required=False)

    def __init__(self, *args: Any, teams: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        _choices(self.fields["org"], teams, _("请选择"))


class VolunteerForm(forms.Form):
    """A keeper registers a volunteer of their team."""

    org = _id_choice(_("所属队伍/单位"), required=True)
    name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(label=_("联系电话"), max_length=30, required=False)
    skills = _skills()

    def __init__(self, *args: Any, teams: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        _choices(self.fields["org"], teams)


class ActivityForm(RangeMixin, forms.Form):
    org = _id_choice(_("组织单位"), required=True)
    title = forms.CharField(label=_("活动名称"), max_length=200)
    description = forms.CharField(
        label=_("活动内容"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    start_at = _local_field(pgettext_lazy("resource", "开始时间"))
    end_at = _local_field(_("结束时间"))
    slots = forms.IntegerField(
        label=_("招募人数"), min_value=1, max_value=10000, widget=forms.NumberInput(attrs=INTEGER)
    )
    skills = _skills()
    hours = forms.DecimalField(
        label=_("服务时长（小时）"),
        required=False,
        min_value=Decimal("0.5"),
        max_value=Decimal("24"),
        decimal_places=1,
        help_text=_("不填按活动时长计。"),
        widget=forms.NumberInput(attrs={**NUMBER, "step": "0.5"}),
    )
    location = _id_choice(_("地点"))
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    project = _id_choice(_("所属微实事项目"))

    def __init__(
        self,
        *args: Any,
        orgs: list[tuple[int, str]] = (),  # type: ignore[assignment]
        locations: list[tuple[int, str]] = (),  # type: ignore[assignment]
        projects: list[tuple[int, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["org"], orgs)
        _choices(self.fields["location"], locations, _("不指定"))
        _choices(self.fields["project"], projects, _("不关联"))

    def service_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        data = {
            "org_id": d["org"],
            "title": d["title"],
            "description": d.get("description") or "",
            "start_at": d["start_at"],
            "end_at": d["end_at"],
            "slots": d["slots"],
            "skills": sorted(set(d.get("skills") or [])),
            "location_id": d.get("location"),
            "address": d.get("address") or "",
            "project_id": d.get("project"),
        }
        if d.get("hours") is not None:
            data["hours"] = d["hours"]
        return data


class AttendanceForm(forms.Form):
    """考勤: who came (ticked) among the signed-up; the hours to credit each."""

    hours = forms.DecimalField(
        label=_("计入时长（小时）"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("24"),
        decimal_places=1,
        widget=forms.NumberInput(attrs={**NUMBER, "step": "0.5"}),
    )

    def __init__(self, *args: Any, signups: list[Any] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.signups = list(signups)
        for s in self.signups:
            self.fields[f"attended_{s.pk}"] = forms.BooleanField(
                label=str(s.volunteer), required=False, initial=s.status != "absent"
            )

    def split(self) -> tuple[list[int], list[int]]:
        """(attended, absent) volunteer ids, as ``volunteers.record_attendance`` takes them."""
        d = self.cleaned_data
        came = [s.volunteer_id for s in self.signups if d.get(f"attended_{s.pk}")]
        missed = [s.volunteer_id for s in self.signups if not d.get(f"attended_{s.pk}")]
        return came, missed


# --- micro-projects ----------------------------------------------------------------------


class ProjectForm(forms.Form):
    org = _id_choice(_("承办单位"), required=True)
    title = forms.CharField(label=_("项目名称"), max_length=200)
    description = forms.CharField(
        label=_("项目内容"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    budget = _money(_("预算（元）"), required=True)
    location = _id_choice(_("实施地点"))
    starts_on = forms.DateField(label=_("开始日期"), required=False, widget=DATE)
    ends_on = forms.DateField(label=_("结束日期"), required=False, widget=DATE)

    def __init__(
        self,
        *args: Any,
        orgs: list[tuple[int, str]] = (),  # type: ignore[assignment]
        locations: list[tuple[int, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.fields["org"], orgs)
        _choices(self.fields["location"], locations, _("不指定"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        a, z = cleaned.get("starts_on"), cleaned.get("ends_on")
        if a and z and z < a:
            self.add_error("ends_on", _("结束日期不能早于开始日期。"))
        return cleaned

    def service_data(self, leader_id: int | None) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "org_id": d["org"],
            "title": d["title"],
            "description": d.get("description") or "",
            "budget": d["budget"],
            "location_id": d.get("location"),
            "leader_id": leader_id,
            "starts_on": d.get("starts_on"),
            "ends_on": d.get("ends_on"),
        }


class ProgressForm(forms.Form):
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    progress = forms.IntegerField(
        label=_("进度（%）"), min_value=0, max_value=100, widget=forms.NumberInput(attrs=INTEGER)
    )
    spent = _money(_("已支出（元）"))
    beneficiaries = forms.IntegerField(
        label=_("受益人数"),
        min_value=0,
        max_value=10000000,
        required=False,
        widget=forms.NumberInput(attrs=INTEGER),
    )
    note = forms.CharField(label=_("进展说明"), max_length=500, required=False)


class CompleteForm(forms.Form):
    outcome = forms.CharField(
        label=_("成效"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    beneficiaries = forms.IntegerField(
        label=_("受益人数"),
        min_value=0,
        max_value=10000000,
        widget=forms.NumberInput(attrs=INTEGER),
    )
    spent = _money(_("实际支出（元）"), required=True)


# --- overseers ---------------------------------------------------------------------------


class MatchRunForm(forms.Form):
    """批量匹配: the centre whose open demands to assign, and the days their windows
    start in."""

    org = _id_choice(_("匹配范围"), required=True)
    since = forms.DateField(label=_("开始日期"), widget=DATE)
    until = forms.DateField(label=_("结束日期"), widget=DATE)
    candidates = forms.IntegerField(
        label=_("每个需求的候选数"),
        min_value=1,
        max_value=50,
        initial=10,
        widget=forms.NumberInput(attrs=INTEGER),
    )

    def __init__(self, *args: Any, orgs: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        _choices(self.fields["org"], orgs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        a, z = cleaned.get("since"), cleaned.get("until")
        if a and z and z < a:
            self.add_error("until", _("结束日期不能早于开始日期。"))
        elif a and z and (z - a).days > 62:
            self.add_error("until", _("一次最多匹配 62 天内的需求。"))
        return cleaned


class StatsForm(forms.Form):
    """统计's period and unit (empty: everything the user oversees)."""

    since = forms.DateField(label=_("开始日期"), required=False, widget=DATE)
    until = forms.DateField(label=_("结束日期"), required=False, widget=DATE)
    org = _id_choice(_("单位"))

    def __init__(self, *args: Any, orgs: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        _choices(self.fields["org"], orgs, _("全部单位"))
