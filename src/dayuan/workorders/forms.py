"""Forms of the work-order pages: report, desk report, list filters, worker and
requester actions. They only parse input; the services decide what is allowed."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .choices import Status, Urgency

RATING_TAGS = [
    ("响应及时", _("响应及时")),
    ("服务热情", _("服务热情")),
    ("质量好", _("质量好")),
    ("不满意", _("不满意")),
]
MATERIAL_ROWS = 3


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several images from one ``<input type=file multiple>``; size and count checked."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.update({"accept": "image/*", "capture": "environment"})

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = [f for f in (data if isinstance(data, (list, tuple)) else [data]) if f]
        limit = getattr(settings, "WORKORDER_PHOTOS_MAX", 6)
        if len(files) > limit:
            raise forms.ValidationError(_("最多上传 %(n)d 张照片。") % {"n": limit})
        max_bytes = getattr(settings, "WORKORDER_PHOTO_MAX_BYTES", 8 * 1024 * 1024)
        for f in files:
            if f.size > max_bytes:
                raise forms.ValidationError(
                    _("照片 %(name)s 超过 %(mb)d MB。")
                    % {"name": f.name, "mb": max_bytes // (1024 * 1024)}
                )
        return files


class ReportForm(forms.Form):
    """What a member of staff fills in on the phone: what, where, how urgent, photos."""

    category = forms.TypedChoiceField(label=_("报修类别"), coerce=int, widget=forms.RadioSelect)
    location = forms.IntegerField(label=_("地点"), widget=forms.HiddenInput)
    description = forms.CharField(
        label=_("问题描述"),
        max_length=1000,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": _("例如：三楼东侧卫生间水龙头漏水")}
        ),
    )
    urgency = forms.ChoiceField(
        label=_("紧急程度"),
        choices=Urgency.choices,
        initial=Urgency.NORMAL,
        widget=forms.RadioSelect,
    )
    contact_phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    photos = PhotosField(label=_("现场照片"))

    def __init__(self, *args: Any, categories: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.categories = list(categories)
        self.fields["category"].choices = [(c.pk, c.name) for c in self.categories]
        if self.is_bound:
            # The location picker posts one ``location`` per level; the deepest wins.
            picked = [v for v in self.data.getlist("location") if v]
            if picked:
                data = self.data.copy()
                data.setlist("location", [picked[-1]])
                self.data = data


class DeskReportForm(ReportForm):
    """The service desk takes a phone call and reports on the caller's behalf (代报)."""

    requester = forms.TypedChoiceField(label=_("报修人"), coerce=int)

    def __init__(self, *args: Any, requesters: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["requester"].choices = [("", _("请选择报修人"))] + [
            (u.pk, f"{u} · {u.home_org.name if u.home_org else ''}") for u in requesters
        ]


class FilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), max_length=100, required=False)
    status = forms.ChoiceField(
        label=_("状态"),
        choices=[("", _("全部状态")), ("open", _("未完成")), *Status.choices],
        required=False,
    )
    category = forms.TypedChoiceField(label=_("类别"), coerce=int, required=False, empty_value=None)
    location = forms.TypedChoiceField(label=_("楼栋"), coerce=int, required=False, empty_value=None)
    vendor = forms.TypedChoiceField(
        label=_("外包单位"), coerce=int, required=False, empty_value=None
    )
    org = forms.TypedChoiceField(label=_("单位"), coerce=int, required=False, empty_value=None)
    overdue = forms.BooleanField(label=_("仅超时"), required=False)

    def __init__(
        self,
        *args: Any,
        categories: list[Any] = (),
        buildings: list[Any] = (),
        vendors: list[Any] = (),
        orgs: list[Any] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("全部类别"))] + [
            (c.pk, c.name) for c in categories
        ]
        self.fields["location"].choices = [("", _("全部楼栋"))] + [
            (b.pk, b.name) for b in buildings
        ]
        self.fields["vendor"].choices = [("", _("全部外包单位"))] + [
            (v.pk, v.name) for v in vendors
        ]
        self.fields["org"].choices = [("", _("全部单位"))] + [(o.pk, o.name) for o in orgs]

    def filters(self) -> dict[str, Any]:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", False)}


class VersionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)


class ReasonForm(VersionForm):
    reason = forms.CharField(label=_("原因"), max_length=200)


class PauseForm(VersionForm):
    reason = forms.ChoiceField(label=_("暂停原因"))

    def __init__(self, *args: Any, reasons: list[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [(r, r) for r in reasons]


class DispatchForm(VersionForm):
    team = forms.TypedChoiceField(label=_("班组"), coerce=int, required=False, empty_value=None)
    assignee = forms.TypedChoiceField(
        label=_("处理人"), coerce=int, required=False, empty_value=None
    )

    def __init__(
        self, *args: Any, teams: list[Any] = (), workers: list[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", _("选择班组"))] + [(t.pk, t.name) for t in teams]
        self.fields["assignee"].choices = [("", _("不指定"))] + [(u.pk, str(u)) for u in workers]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("team") and not data.get("assignee"):
            raise forms.ValidationError(_("请选择班组或处理人，或使用自动派单。"))
        return data


class ResolveForm(VersionForm):
    resolution = forms.CharField(
        label=_("处理说明"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    cost = forms.DecimalField(
        label=_("费用(元)"), min_value=0, max_digits=10, decimal_places=2, required=False
    )
    photos = PhotosField(label=_("完工照片"))

    def materials(self) -> list[dict[str, Any]]:
        """The filled material rows (name, qty, unit, price); blank rows are skipped."""
        rows = []
        names = self.data.getlist("material_name")
        qtys = self.data.getlist("material_qty")
        units = self.data.getlist("material_unit")
        prices = self.data.getlist("material_price")
        for i, name in enumerate(names):
            name = (name or "").strip()
            if not name:
                continue
            row: dict[str, Any] = {"name": name[:60]}
            row["unit"] = (units[i] if i < len(units) else "").strip()[:10]
            for key, values in (("qty", qtys), ("price", prices)):
                raw = (values[i] if i < len(values) else "").strip()
                try:
                    row[key] = float(Decimal(raw)) if raw else 0
                except InvalidOperation:
                    self.add_error(None, _("耗材“%(name)s”的数量或单价无效。") % {"name": name})
                    row[key] = 0
            rows.append(row)
        return rows


class RateForm(VersionForm):
    rating = forms.TypedChoiceField(
        label=_("评分"),
        coerce=int,
        choices=[(i, str(i)) for i in range(5, 0, -1)],
        widget=forms.RadioSelect,
    )
    tags = forms.MultipleChoiceField(
        label=_("评价标签"),
        choices=RATING_TAGS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    comment = forms.CharField(
        label=_("评价内容"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
