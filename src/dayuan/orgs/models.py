"""Organisation tree and location tree: the shape that every scope follows."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from dayuan.core.models import TreeNode

from .choices import LocationKind, OrgKind


class Organization(TreeNode):
    name = models.CharField(_("名称"), max_length=100)
    short_name = models.CharField(_("简称"), max_length=40, blank=True)
    code = models.SlugField(_("编码"), max_length=40, unique=True)
    kind = models.CharField(_("类型"), max_length=20, choices=OrgKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    is_active = models.BooleanField(_("启用"), default=True)
    contact_phone = models.CharField(_("联系电话"), max_length=30, blank=True)
    # Working hours for the working calendar, e.g. [["08:30","12:00"],["13:30","17:30"]];
    # empty means the default office hours; ["24x7"] means around the clock.
    working_hours = models.JSONField(_("工作时间"), default=list, blank=True)

    scope_org_field = ""

    class Meta:
        verbose_name = _("组织")
        verbose_name_plural = _("组织")
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(parent__isnull=False) | models.Q(kind="city"),
                name="org_root_is_city",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def centre(self) -> Organization | None:
        """The nearest city or county centre at or above this node."""
        node: Organization | None = self
        while node is not None and node.kind not in OrgKind.centres():
            node = node.parent
        return node


class Location(TreeNode):
    org = models.ForeignKey(
        Organization,
        verbose_name=_("所属组织"),
        on_delete=models.PROTECT,
        related_name="locations",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级场所"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    kind = models.CharField(_("类型"), max_length=20, choices=LocationKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    code = models.CharField(_("编号"), max_length=40, blank=True)
    area_m2 = models.DecimalField(
        _("面积(m²)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    tags = models.JSONField(_("标签"), default=list, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("场所")
        verbose_name_plural = _("场所")
        ordering = ["path"]
        indexes = [models.Index(fields=["org", "kind"], name="location_org_kind")]

    def __str__(self) -> str:
        return self.name
