"""Standards as versioned data: documents, clauses, rules, adoptions, judgments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from dayuan.core.models import TimestampedModel, VersionedModel

from .choices import Domain, Outcome, RuleKind, Severity, StandardStatus, VersionStatus


class Standard(VersionedModel):
    """A service standard document issued by an organisation (the city, usually)."""

    code = models.SlugField(_("标准编号"), max_length=60, unique=True)
    title = models.CharField(_("名称"), max_length=200)
    issuing_org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("发布机构"),
        on_delete=models.PROTECT,
        related_name="standards",
    )
    domain = models.CharField(_("领域"), max_length=20, choices=Domain.choices)
    status = models.CharField(
        _("状态"), max_length=12, choices=StandardStatus.choices, default=StandardStatus.DRAFT
    )
    description = models.TextField(_("说明"), blank=True)

    scope_org_field = "issuing_org"

    class Meta:
        verbose_name = _("服务标准")
        verbose_name_plural = _("服务标准")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class StandardVersion(TimestampedModel):
    """One edition of a standard. Published versions are immutable: changes make a new one."""

    standard = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("版本号"))
    status = models.CharField(
        _("状态"), max_length=12, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    change_note = models.TextField(_("修订说明"), blank=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A pilot: while non-empty, the version is effective only in these orgs' subtrees;
    # everyone else keeps the previous general version.
    pilot_orgs = models.ManyToManyField(
        "orgs.Organization", blank=True, related_name="piloted_versions", verbose_name=_("试点单位")
    )
    general_release = models.BooleanField(_("全面实施"), default=False)
    # When the version came into force everywhere (publish without pilots, or the later
    # general release); effective rules at a past instant compare against it.
    released_at = models.DateTimeField(_("全面实施时间"), null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)

    scope_org_field = "standard__issuing_org"

    class Meta:
        verbose_name = _("标准版本")
        verbose_name_plural = _("标准版本")
        ordering = ["standard", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["standard", "number"], name="std_version_unique"),
            models.UniqueConstraint(
                fields=["standard"], condition=models.Q(status="draft"), name="std_one_draft"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.standard.code} v{self.number}"


class Clause(models.Model):
    version = models.ForeignKey(StandardVersion, on_delete=models.CASCADE, related_name="clauses")
    number = models.CharField(_("条款号"), max_length=20)
    text = models.TextField(_("条款内容"))
    severity = models.CharField(_("重要程度"), max_length=10, choices=Severity.choices)
    binding = models.BooleanField(
        _("约束性"), default=False, help_text=_("约束性条款：下级只能从严，不得放宽。")
    )
    position = models.PositiveIntegerField(default=0)

    scope_org_field = "version__standard__issuing_org"

    class Meta:
        verbose_name = _("条款")
        verbose_name_plural = _("条款")
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "number"], name="clause_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.text[:30]}"


class Rule(models.Model):
    """A machine rule of a clause: kind, target and typed parameters (see ``rules.py``)."""

    clause = models.ForeignKey(Clause, on_delete=models.CASCADE, related_name="rules")
    version = models.ForeignKey(StandardVersion, on_delete=models.CASCADE, related_name="rules")
    key = models.CharField(_("规则标识"), max_length=60)  # stable across versions
    kind = models.CharField(_("类型"), max_length=12, choices=RuleKind.choices)
    target = models.CharField(_("对象"), max_length=120, db_index=True)
    params = models.JSONField(_("参数"))
    # Where the number comes from; ``verified`` is False for numbers seen only in
    # secondary copies, to be checked against the official text.
    source_document = models.CharField(_("来源文件"), max_length=200, blank=True)
    source_edition = models.CharField(_("版本/文号"), max_length=100, blank=True)
    source_clause = models.CharField(_("来源条款"), max_length=60, blank=True)
    verified = models.BooleanField(_("已核实"), default=True)

    scope_org_field = "version__standard__issuing_org"

    class Meta:
        verbose_name = _("规则")
        verbose_name_plural = _("规则")
        ordering = ["version", "clause__position", "key"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="rule_unique_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.kind})"


class Adoption(VersionedModel):
    """An organisation applies a standard to its subtree, as is or with overrides.

    ``pinned_version`` pins an edition; None follows the latest published version that is
    effective for the organisation (pilots included). ``overrides`` maps rule keys to
    ``{tunable path: value}``; tightening is always allowed, loosening only for clauses
    that are not binding (checked by the service).
    """

    org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("采用单位"),
        on_delete=models.PROTECT,
        related_name="adoptions",
    )
    standard = models.ForeignKey(Standard, on_delete=models.PROTECT, related_name="adoptions")
    # (``version`` is the optimistic-concurrency counter of VersionedModel.)
    pinned_version = models.ForeignKey(
        StandardVersion,
        verbose_name=_("固定版本"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adoptions",
    )
    overrides = models.JSONField(_("本地化调整"), default=dict, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    is_active = models.BooleanField(_("生效"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("标准采用")
        verbose_name_plural = _("标准采用")
        constraints = [models.UniqueConstraint(fields=["org", "standard"], name="adoption_unique")]


class Judgment(models.Model):
    """One evaluation of a rule against a subject, kept compactly for compliance stats.

    Stores the clause version it was judged under (the rule row belongs to exactly one
    version), so history stays true after the standard changes.
    """

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="+")
    clause = models.ForeignKey(Clause, on_delete=models.PROTECT, related_name="+")
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(
        "orgs.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    vendor = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject_type = models.CharField(max_length=40, blank=True)
    subject_id = models.CharField(max_length=40, blank=True)
    at = models.DateTimeField()
    outcome = models.CharField(max_length=4, choices=Outcome.choices)
    value = models.FloatField(null=True, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("符合性判定")
        verbose_name_plural = _("符合性判定")
        indexes = [
            # per-clause compliance by org subtree and period: covering, so the
            # GROUP BY clause, outcome never touches the table (bench: 2.4 s -> 0.5 s)
            models.Index(fields=["org", "clause", "at", "outcome"], name="judgment_compliance"),
            models.Index(fields=["clause", "outcome"], name="judgment_clause_outcome"),
        ]


class ClauseComment(TimestampedModel):
    """Feedback on a clause from people who work under it; feeds revision proposals."""

    clause = models.ForeignKey(Clause, on_delete=models.CASCADE, related_name="comments")
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("意见"))
    suggestion = models.CharField(_("建议修改为"), max_length=500, blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("条款意见")
        verbose_name_plural = _("条款意见")
        ordering = ["-id"]


class RevisionProposal(TimestampedModel):
    """A proposal for the next version, assembled from statistics and comments."""

    standard = models.ForeignKey(Standard, on_delete=models.CASCADE, related_name="proposals")
    based_on = models.ForeignKey(StandardVersion, on_delete=models.PROTECT, related_name="+")
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    summary = models.JSONField(_("依据"), default=dict)
    text = models.TextField(_("修订建议"), blank=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("修订建议")
        verbose_name_plural = _("修订建议")
        ordering = ["-id"]
