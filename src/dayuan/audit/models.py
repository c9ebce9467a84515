"""The audit log: append-only, each entry chained to the previous by HMAC-SM3."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Outcome(models.TextChoices):
    SUCCESS = "success", _("成功")
    REFUSED = "refused", _("拒绝")


class AuditEntry(models.Model):
    """One write (or refused write). Never updated or deleted except by retention pruning,
    which records a checkpoint so the chain stays verifiable from the first kept entry."""

    at = models.DateTimeField(_("时间"), db_index=True)
    actor_id = models.BigIntegerField(_("用户ID"), null=True, blank=True, db_index=True)
    actor_name = models.CharField(_("用户"), max_length=150, blank=True)
    action = models.CharField(_("操作"), max_length=80, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=80, blank=True)
    object_id = models.CharField(_("对象ID"), max_length=64, blank=True)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("组织"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    source = models.CharField(_("来源"), max_length=10, blank=True)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    request_id = models.CharField(max_length=32, blank=True)
    changes = models.JSONField(_("变更"), default=dict, blank=True)
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices)
    reason = models.CharField(_("原因"), max_length=300, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            models.Index(fields=["org", "-id"], name="audit_org_recent"),
        ]


class AuditCheckpoint(models.Model):
    """Where the chain starts after retention pruning: the hash before the first kept row.

    ``mac`` (HMAC-SM3 over the other fields) stops a forged checkpoint from hiding
    entries deleted at the head of the chain.
    """

    scope_exempt = True  # not org data

    first_kept_id = models.BigIntegerField()
    prev_hash = models.CharField(max_length=64)
    pruned_count = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    mac = models.CharField(max_length=64, default="")


class AuditHead(models.Model):
    """The chain's anchor: one row naming the last entry, so deleting it is detected.

    Written by ``record`` under the chain lock with every append. ``mac`` covers the
    other fields, so the anchor cannot be moved back to an earlier entry without the
    key. ``reanchored_at`` is set when the row was found missing while entries existed
    (someone deleted it): the chain can no longer prove its tail, and verify says so.
    """

    scope_exempt = True  # not org data

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON)
    last_id = models.BigIntegerField()
    last_hash = models.CharField(max_length=64)
    count = models.BigIntegerField()
    reanchored_at = models.BigIntegerField(null=True, blank=True)
    mac = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single")]
