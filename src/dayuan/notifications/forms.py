"""Page forms; they only shape input, the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dayuan.core import policy
from dayuan.core.scope import scoped
from dayuan.orgs.models import Organization

from . import events
from .models import WebhookKind


def orgs_for(user: Any, action: str) -> list[tuple[int, str]]:
    qs = scoped(user, Organization.objects.filter(is_active=True), roles=policy.roles_for(action))
    return [(o.pk, f"{'　' * o.depth}{o.name}") for o in qs.order_by("path")]


class EndpointForm(forms.Form):
    org_id = forms.TypedChoiceField(label=_("所属组织"), coerce=int)
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=WebhookKind.choices)
    url = forms.URLField(label=_("地址"), max_length=500, assume_scheme="https")
    secret = forms.CharField(
        label=_("签名密钥"),
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("钉钉“加签”或通用接收端的 HMAC 密钥，可留空。"),
    )
    event_types = forms.MultipleChoiceField(
        label=_("事件类型"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("不选则接收全部事件。"),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org_id"].choices = orgs_for(user, "webhooks.manage")
        self.fields["event_types"].choices = [
            (name, f"{label}（{name}）") for name, label in sorted(events.EVENT_TYPES.items())
        ]


class BroadcastForm(forms.Form):
    org_id = forms.TypedChoiceField(label=_("发送范围"), coerce=int)
    title = forms.CharField(label=_("标题"), max_length=200)
    body = forms.CharField(
        label=_("内容"), max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org_id"].choices = orgs_for(user, "notifications.broadcast")
