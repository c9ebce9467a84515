"""Shared base models: timestamps, optimistic versions, tree paths."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

PATH_STEP = 4  # characters per tree level: "0001.0002." style materialised paths


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True


class VersionedModel(TimestampedModel):
    """Optimistic concurrency: writers send the version they read; stale writes get 409."""

    version = models.PositiveIntegerField(_("版本"), default=1)

    class Meta:
        abstract = True


class TreeNode(VersionedModel):
    """A node of a materialised-path tree: a subtree is one ``path LIKE 'p%'`` index scan.

    ``path`` is the parent's path plus this node's zero-padded sibling number and a dot,
    e.g. ``0001.0003.``. The column is unique, so it is indexed; on PostgreSQL Django
    adds a ``varchar_pattern_ops`` twin (``*_like``) so prefix matches are range scans.
    """

    path = models.CharField(_("路径"), max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(_("层级"), default=0, editable=False)

    class Meta:
        abstract = True

    def is_descendant_of(self, other: TreeNode) -> bool:
        return self.path.startswith(other.path)


class IdempotencyRecord(models.Model):
    """A POST seen with an ``Idempotency-Key``: replays within 24 h get the stored reply."""

    scope_exempt = True  # not org data

    identity = models.CharField(max_length=64)  # user id, or hash of the bearer token
    key = models.CharField(max_length=200)
    method_path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)  # null while in progress
    response_body = models.BinaryField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["identity", "key"], name="idempotency_unique")
        ]
