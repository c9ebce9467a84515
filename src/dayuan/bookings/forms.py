"""Forms of the booking pages: the free-room search, the booking form (with meeting
services and a weekly repeat), reasons, rooms and the day pickers. They only parse input;
the services decide what is allowed (lead times, windows, capacity, conflicts)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .choices import Equipment, MeetingType, OpenDays, Priority, ResourceClass, ServiceKind
from .models import ROOM_SETTINGS

# The services a booker may order with a meeting (cleaning is ordered after it ends).
ORDERABLE = [k for k in ServiceKind if k != ServiceKind.CLEANING]
MAX_WEEKS = 52

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time", "step": 900}, format="%H:%M")


def local_dt(day: date, at: time) -> datetime:
    """The aware datetime of a local (Asia/Shanghai) day and time."""
    return timezone.make_aware(datetime.combine(day, at), timezone.get_current_timezone())


class _RangeMixin:
    """``date`` + ``start``/``end`` times → aware ``start_at``/``end_at``."""

    def _range(self, cleaned: dict[str, Any]) -> None:
        day, start, end = cleaned.get("date"), cleaned.get("start"), cleaned.get("end")
        if day and start and end:
            if end <= start:
                self.add_error("end", _("结束时间须晚于开始时间。"))  # type: ignore[attr-defined]
                return
            cleaned["start_at"] = local_dt(day, start)
            cleaned["end_at"] = local_dt(day, end)


class SearchForm(_RangeMixin, forms.Form):
    """找会议室: when, how many, with what, where."""

    date = forms.DateField(label=_("日期"), widget=DATE)
    start = forms.TimeField(label=pgettext_lazy("booking", "开始"), widget=TIME)
    end = forms.TimeField(label=pgettext_lazy("booking", "结束"), widget=TIME)
    attendees = forms.IntegerField(label=_("参会人数"), min_value=1, required=False)
    equipment = forms.MultipleChoiceField(
        label=_("所需设备"),
        choices=Equipment.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    building = forms.TypedChoiceField(label=_("楼栋"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, buildings: list[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["building"].choices = [("", _("全部楼栋")), *buildings]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._range(cleaned)
        return cleaned


class DayForm(forms.Form):
    """A day (and a building) for the day views and the slot picker."""

    date = forms.DateField(label=_("日期"), required=False, widget=DATE)
    building = forms.TypedChoiceField(label=_("楼栋"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, buildings: list[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["building"].choices = [("", _("全部楼栋")), *buildings]


class BookingForm(_RangeMixin, forms.Form):
    """Book one room: every field a standard may require, meeting services, a weekly
    repeat, and (for managers) displacing a lower-priority booking."""

    client_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    date = forms.DateField(label=_("日期"), widget=DATE)
    start = forms.TimeField(label=pgettext_lazy("booking", "开始时间"), widget=TIME)
    end = forms.TimeField(label=_("结束时间"), widget=TIME)
    title = forms.CharField(label=_("会议名称"), max_length=200)
    attendees = forms.IntegerField(label=_("参会人数"), min_value=1)
    organizer_unit = forms.TypedChoiceField(label=_("主办单位"), coerce=int)
    meeting_type = forms.ChoiceField(
        label=_("会议类型"), choices=MeetingType.choices, initial=MeetingType.OFFICE
    )
    leaders_attending = forms.BooleanField(label=_("有领导出席"), required=False)
    equipment = forms.MultipleChoiceField(
        label=_("所需设备"), required=False, widget=forms.CheckboxSelectMultiple
    )
    contact_name = forms.CharField(label=_("联系人"), max_length=50, required=False)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    note = forms.CharField(
        label=_("备注"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    priority = forms.ChoiceField(label=_("优先级"), choices=Priority.choices, initial="normal")
    emergency = forms.BooleanField(label=_("紧急会议（先用后登记）"), required=False)
    repeat = forms.BooleanField(label=_("每周重复"), required=False)
    weeks = forms.IntegerField(
        label=_("重复周数"), min_value=2, max_value=MAX_WEEKS, required=False, initial=4
    )
    displace = forms.BooleanField(label=_("调整已有的较低优先级预订"), required=False)
    displace_reason = forms.CharField(label=_("调整原因"), max_length=500, required=False)

    def __init__(
        self,
        *args: Any,
        room: Any = None,
        units: list[tuple[int, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organizer_unit"].choices = list(units)
        labels = dict(Equipment.choices)
        have = list(getattr(room, "equipment", None) or [])
        self.fields["equipment"].choices = [(e, labels.get(e, e)) for e in have]
        for kind in ORDERABLE:
            self.fields[f"svc_{kind.value}"] = forms.BooleanField(label=kind.label, required=False)
            self.fields[f"svc_note_{kind.value}"] = forms.CharField(
                label=_("要求"), max_length=300, required=False
            )

    def service_rows(self) -> list[dict[str, Any]]:
        """(checkbox, note) bound fields per orderable service, for the template."""
        return [
            {
                "kind": kind.value,
                "label": kind.label,
                "field": self[f"svc_{kind.value}"],
                "note": self[f"svc_note_{kind.value}"],
            }
            for kind in ORDERABLE
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._range(cleaned)
        if cleaned.get("repeat") and not cleaned.get("weeks"):
            self.add_error("weeks", _("请填写重复周数。"))
        cleaned["services"] = [
            {"kind": kind.value, "note": cleaned.get(f"svc_note_{kind.value}") or ""}
            for kind in ORDERABLE
            if cleaned.get(f"svc_{kind.value}")
        ]
        return cleaned

    def booking_fields(self) -> dict[str, Any]:
        """The keyword arguments ``services.book_room`` takes from this form."""
        d = self.cleaned_data
        return {
            "title": d["title"],
            "attendees": d["attendees"],
            "organizer_unit_id": d["organizer_unit"],
            "meeting_type": d["meeting_type"],
            "leaders_attending": bool(d.get("leaders_attending")),
            "equipment": list(d.get("equipment") or []),
            "contact_name": d.get("contact_name") or "",
            "contact_phone": d.get("contact_phone") or "",
            "note": d.get("note") or "",
            "priority": d["priority"],
            "emergency": bool(d.get("emergency")),
            "services": d["services"],
        }


def weekly_rrule(weeks: int) -> str:
    """每周 × N → an RFC 5545 rule."""
    return f"FREQ=WEEKLY;COUNT={int(weeks)}"


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=500)


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=500, required=False)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


class RoomForm(forms.Form):
    """A room as a manager sets it up."""

    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    org = forms.TypedChoiceField(label=_("所属单位"), coerce=int)
    location = forms.TypedChoiceField(label=_("位置"), coerce=int)
    name = forms.CharField(label=_("名称"), max_length=100)
    resource_class = forms.ChoiceField(label=_("类别"), choices=ResourceClass.choices)
    capacity = forms.IntegerField(label=_("容纳人数"), min_value=1)
    equipment = forms.MultipleChoiceField(
        label=_("设备"),
        choices=Equipment.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(label=_("说明"), max_length=500, required=False)
    opens_at = forms.TimeField(label=_("开放时间"), widget=TIME, initial="08:00")
    closes_at = forms.TimeField(label=_("关闭时间"), widget=TIME, initial="18:00")
    open_days = forms.ChoiceField(label=_("开放日"), choices=OpenDays.choices)
    shared = forms.BooleanField(label=_("共享给其他单位"), required=False)
    requires_approval = forms.BooleanField(label=_("需要审批"), required=False)
    checkin_required = forms.BooleanField(label=_("需要签到"), required=False, initial=True)
    checkin_grace_minutes = forms.IntegerField(
        label=_("签到宽限（分钟）"), min_value=0, max_value=240, initial=15
    )
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)
    photo = forms.FileField(
        label=_("照片"),
        required=False,
        help_text=_("JPEG、PNG 或 WebP；上传后自动去除拍摄位置等信息。"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    remove_photo = forms.BooleanField(label=_("删除现有照片"), required=False)

    FIELDS = ("org", "location", *ROOM_SETTINGS)

    def __init__(
        self,
        *args: Any,
        orgs: list[tuple[int, str]] = (),
        locations: list[tuple[int, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = list(orgs)
        self.fields["location"].choices = [("", _("请选择位置")), *locations]

    def room_fields(self) -> dict[str, Any]:
        d = self.cleaned_data
        out = {name: d.get(name) for name in self.FIELDS}
        out["org_id"] = out.pop("org")
        out["location_id"] = out.pop("location")
        out["equipment"] = sorted(out["equipment"] or [])
        out["photo"] = d.get("photo") or None
        out["remove_photo"] = bool(d.get("remove_photo"))
        return out


def _split(text: str) -> list[str]:
    """Items of a list typed one per line or separated by commas (either width) or 、."""
    for sep in ("，", ",", "、", "；", ";"):
        text = text.replace(sep, "\n")
    return [part.strip() for part in text.splitlines() if part.strip()]


class ServiceForm(forms.Form):
    """An appointment service (barber, car wash, clinic …) as a manager sets it up."""

    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    org = forms.TypedChoiceField(label=_("所属单位"), coerce=int)
    location = forms.TypedChoiceField(label=_("地点"), coerce=int)
    code = forms.CharField(
        label=pgettext_lazy("booking", "代码"),
        max_length=40,
        help_text=_("字母、数字、下划线或连字符，如 barber。"),
    )
    name = forms.CharField(label=_("名称"), max_length=100)
    description = forms.CharField(label=_("说明"), max_length=500, required=False)
    slot_minutes = forms.IntegerField(
        label=_("时段长度（分钟）"), min_value=5, max_value=480, initial=30
    )
    seats_per_slot = forms.IntegerField(
        label=_("每时段名额"), min_value=1, max_value=100, initial=1
    )
    opens_at = forms.TimeField(
        label=pgettext_lazy("booking", "开始时间"), widget=TIME, initial="08:30"
    )
    closes_at = forms.TimeField(label=_("结束时间"), widget=TIME, initial="17:30")
    breaks = forms.CharField(
        label=_("休息时段"),
        required=False,
        max_length=300,
        help_text=_("如 12:00-13:30，多个用逗号分隔。"),
    )
    open_days = forms.ChoiceField(label=_("开放日"), choices=OpenDays.choices)
    book_ahead_days = forms.IntegerField(
        label=_("可提前预约天数"), min_value=0, max_value=90, initial=7
    )
    min_lead_minutes = forms.IntegerField(
        label=_("最少提前（分钟）"), min_value=0, max_value=7 * 1440, initial=30
    )
    cancel_before_minutes = forms.IntegerField(
        label=_("最晚取消（开始前分钟）"), min_value=0, max_value=7 * 1440, initial=60
    )
    per_person_open_limit = forms.IntegerField(
        label=_("每人未完成预约上限"), min_value=1, max_value=20, initial=1
    )
    providers = forms.CharField(
        label=_("服务人员"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("每行一人；每个时段的第 n 个名额由第 n 位服务人员接待。"),
    )
    shared = forms.BooleanField(label=_("向其他单位开放"), required=False)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    FIELDS = (
        "code",
        "name",
        "description",
        "slot_minutes",
        "seats_per_slot",
        "opens_at",
        "closes_at",
        "open_days",
        "book_ahead_days",
        "min_lead_minutes",
        "cancel_before_minutes",
        "per_person_open_limit",
        "shared",
        "is_active",
    )

    def __init__(
        self,
        *args: Any,
        orgs: list[tuple[int, str]] = (),
        locations: list[tuple[int, str]] = (),
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = list(orgs)
        self.fields["org"].disabled = editing  # a service stays with its organisation
        self.fields["location"].choices = [("", _("请选择地点")), *locations]

    def clean_breaks(self) -> list[dict[str, str]]:
        out = []
        for part in _split(self.cleaned_data.get("breaks") or ""):
            start, sep, end = part.replace("–", "-").replace("~", "-").partition("-")
            try:
                a, b = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
            except ValueError:
                a = b = None
            if not sep or a is None or b is None:
                raise forms.ValidationError(
                    _("休息时段“%(part)s”格式无效，应为 12:00-13:30。") % {"part": part}
                )
            out.append({"start": f"{a:%H:%M}", "end": f"{b:%H:%M}"})
        return out

    def clean_providers(self) -> list[str]:
        return _split(self.cleaned_data.get("providers") or "")

    def service_fields(self) -> dict[str, Any]:
        """The keyword arguments ``appointments.save_service`` takes from this form."""
        d = self.cleaned_data
        out = {name: d.get(name) for name in self.FIELDS}
        out["description"] = out["description"] or ""
        out["shared"], out["is_active"] = bool(out["shared"]), bool(out["is_active"])
        out["org_id"] = d["org"]
        out["location_id"] = d["location"]
        out["breaks"] = d.get("breaks") or []
        out["providers"] = d.get("providers") or []
        return out


def breaks_text(breaks: Any) -> str:
    """A service's breaks as the form shows them: ``12:00-13:30, …``."""
    return ", ".join(f"{b['start']}-{b['end']}" for b in breaks or [])
