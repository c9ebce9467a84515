"""Events, in-app notifications, the delivery outbox and webhook endpoints.

An ``Event`` is one business fact (deduplicated by ``dedupe_key``). It fans out, in the
same transaction as the business write, into ``Notification`` rows (the in-app centre)
and ``OutboxMessage`` rows (e-mail and webhook deliveries, sent later by the task
queue). The unique constraints are the guarantee that one event reaches one recipient
or one endpoint at most once per channel.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dayuan.core.models import VersionedModel

from . import events


class Channel(models.TextChoices):
    EMAIL = "email", _("电子邮件")
    WEBHOOK = "webhook", _("群机器人")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("失败待重试")
    DEAD = "dead", _("已放弃")


class WebhookKind(models.TextChoices):
    WECOM = "wecom", _("企业微信群机器人")
    DINGTALK = "dingtalk", _("钉钉群机器人")
    GENERIC = "generic", _("通用 JSON")


class Event(models.Model):
    type = models.CharField(_("事件类型"), max_length=80, db_index=True)
    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("所属组织"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("触发人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    object_type = models.CharField(_("对象类型"), max_length=100, blank=True)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(_("链接"), max_length=500, blank=True)
    payload = models.JSONField(_("数据"), default=dict, blank=True)
    dedupe_key = models.CharField(_("去重键"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("发生时间"), auto_now_add=True, db_index=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("事件")
        verbose_name_plural = _("事件")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.type_label} · {self.title}"

    @property
    def type_label(self) -> str:
        return events.label(self.type)


class Notification(models.Model):
    """One in-app message for one user; written at emit time, so it is never late."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收人"),
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,  # the inbox index starts with recipient
    )
    event = models.ForeignKey(
        Event, verbose_name=_("事件"), on_delete=models.CASCADE, related_name="notifications"
    )
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(_("链接"), max_length=500, blank=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    # Scope is checked when the row is written (emit drops recipients out of scope);
    # the inbox reads by recipient.
    scope_org_field = "event__org"

    class Meta:
        verbose_name = _("站内通知")
        verbose_name_plural = _("站内通知")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "recipient"], name="notification_once_per_recipient"
            )
        ]
        # The inbox and the unread count: one range scan per user.
        indexes = [models.Index(fields=["recipient", "read_at", "-id"], name="notification_inbox")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class WebhookEndpoint(VersionedModel):
    """A group robot (WeCom/DingTalk) or a generic receiver of an organisation.

    It receives the events of its organisation's subtree (a county's robot gets the
    county's events; the city's robot gets everything), narrowed by ``event_types``.
    """

    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("所属组织"),
        on_delete=models.PROTECT,
        related_name="webhook_endpoints",
    )
    name = models.CharField(_("名称"), max_length=100)
    url = models.URLField(_("地址"), max_length=500)
    kind = models.CharField(
        _("类型"), max_length=20, choices=WebhookKind.choices, default=WebhookKind.WECOM
    )
    secret = models.CharField(_("签名密钥"), max_length=200, blank=True)
    # Empty: every event type; entries are exact types or "app.*" prefixes.
    event_types = models.JSONField(_("事件类型"), default=list, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("群机器人")
        verbose_name_plural = _("群机器人")
        ordering = ["org__path", "name", "id"]

    def __str__(self) -> str:
        return self.name


class OutboxMessage(models.Model):
    """One delivery to do: written with the event, sent by ``delivery.deliver_due``."""

    event = models.ForeignKey(
        Event, verbose_name=_("事件"), on_delete=models.CASCADE, related_name="outbox"
    )
    channel = models.CharField(_("渠道"), max_length=20, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收人"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("群机器人"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="outbox",
    )
    payload = models.JSONField(_("内容"), default=dict)
    status = models.CharField(
        _("状态"), max_length=20, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"))
    claimed_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    scope_org_field = "event__org"

    class Meta:
        verbose_name = _("待发消息")
        verbose_name_plural = _("待发消息")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel", "recipient"],
                condition=Q(recipient__isnull=False),
                name="outbox_once_per_recipient",
            ),
            models.UniqueConstraint(
                fields=["event", "channel", "endpoint"],
                condition=Q(endpoint__isnull=False),
                name="outbox_once_per_endpoint",
            ),
            models.CheckConstraint(
                condition=(
                    Q(channel="email", recipient__isnull=False, endpoint__isnull=True)
                    | Q(channel="webhook", endpoint__isnull=False, recipient__isnull=True)
                ),
                name="outbox_target_matches_channel",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.pk}"
