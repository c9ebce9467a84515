"""Contracts with vendors, assessment schemes, assessment runs that freeze their inputs,
people's scores, deductions, appeals, payment linked to the score, and surveys."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dayuan.core.models import TimestampedModel, VersionedModel

from .choices import (
    AppealStatus,
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
    SurveyStatus,
)


class Scheme(VersionedModel):
    """An assessment scheme (考核方案): weighted indicators, deductions, grade bands and
    a pass line. Defined by a centre; usable in its subtree."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(_("方案编号"), max_length=60)
    name = models.CharField(_("方案名称"), max_length=100)
    subject_kind = models.CharField(
        _("考核对象"), max_length=10, choices=SubjectKind.choices, default=SubjectKind.CONTRACT
    )
    description = models.TextField(_("说明"), blank=True)
    pass_line = models.DecimalField(_("合格线"), max_digits=5, decimal_places=2, default=60)
    # [{"grade": "excellent", "label": "优秀", "min_score": 90}, …] highest first
    grades = models.JSONField(_("等级"), default=list, blank=True)
    # deductions are subtracted from the weighted score, capped at this many points
    max_deduction = models.DecimalField(
        _("扣分上限"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    is_active = models.BooleanField(_("启用"), default=True)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("考核方案")
        verbose_name_plural = _("考核方案")
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["org", "code"], name="scheme_unique_code")]

    def __str__(self) -> str:
        return self.name


class SchemeIndicator(models.Model):
    """One weighted indicator. ``computed``: ``source`` names a registered indicator
    (standards.indicators) or ``kpi`` (every kpi rule of the contract's standards,
    averaged as pass shares); the value maps linearly from ``floor`` (0 %) to ``target``
    (100 % of the weight). ``scored``: people score 0–``max_score``; the mean counts."""

    scheme = models.ForeignKey(Scheme, on_delete=models.CASCADE, related_name="indicators")
    key = models.SlugField(max_length=40)
    label = models.CharField(_("指标"), max_length=100)
    sort = models.CharField(_("类型"), max_length=10, choices=IndicatorSort.choices)
    source = models.CharField(_("数据来源"), max_length=60, blank=True)
    weight = models.DecimalField(_("权重（分）"), max_digits=6, decimal_places=2)
    target = models.FloatField(_("满分值"), null=True, blank=True)
    floor = models.FloatField(_("零分值"), null=True, blank=True)
    better = models.CharField(max_length=6, choices=Better.choices, default=Better.HIGHER)
    max_score = models.DecimalField(
        _("评分满分"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    scorer_role = models.CharField(
        _("评分人"), max_length=10, choices=ScorerRole.choices, blank=True
    )
    guidance = models.TextField(_("评分细则"), blank=True)
    position = models.PositiveIntegerField(default=0)

    scope_org_field = "scheme__org"

    class Meta:
        ordering = ["scheme", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "key"], name="scheme_indicator_unique")
        ]


class DeductionRule(models.Model):
    """Points and/or money off per matching finding (by severity) or recorded event."""

    scheme = models.ForeignKey(Scheme, on_delete=models.CASCADE, related_name="deduction_rules")
    kind = models.CharField(_("类型"), max_length=10, choices=DeductionKind.choices)
    # a severity (key/important/general) for findings; an EventType for events
    match = models.CharField(_("匹配"), max_length=20)
    points = models.DecimalField(_("扣分"), max_digits=6, decimal_places=2, default=0)
    money = models.DecimalField(_("扣款（元）"), max_digits=12, decimal_places=2, default=0)
    rectify_days = models.PositiveSmallIntegerField(_("整改期限（天）"), default=0)

    scope_org_field = "scheme__org"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scheme", "kind", "match"], name="deduction_unique")
        ]


class Contract(VersionedModel):
    """A service contract with a vendor: scope, period, fee, standards, scheme, formula."""

    org = models.ForeignKey(
        "orgs.Organization", verbose_name=_("甲方单位"), on_delete=models.PROTECT, related_name="+"
    )
    vendor = models.ForeignKey(
        "orgs.Organization", verbose_name=_("服务单位"), on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField(_("合同编号"), max_length=40, unique=True)
    title = models.CharField(_("合同名称"), max_length=200)
    status = models.CharField(
        _("状态"), max_length=10, choices=ContractStatus.choices, default=ContractStatus.DRAFT
    )
    # service scope: categories (ServiceCategory.code prefixes) and location subtrees
    categories = models.JSONField(_("服务类别"), default=list, blank=True)
    locations = models.ManyToManyField("orgs.Location", blank=True, related_name="+")
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    monthly_fee = models.DecimalField(_("月服务费（元）"), max_digits=12, decimal_places=2)
    area_m2 = models.DecimalField(
        _("服务面积（㎡）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    headcount = models.PositiveIntegerField(_("服务人数"), null=True, blank=True)
    standards = models.ManyToManyField("standards.Standard", blank=True, related_name="+")
    scheme = models.ForeignKey(
        Scheme, verbose_name=_("考核方案"), on_delete=models.PROTECT, related_name="contracts"
    )
    # A CEL expression over score, passed, fee, deduction_money, deduction_points …
    payment_formula = models.TextField(_("付款公式"), max_length=2000)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("服务合同")
        verbose_name_plural = _("服务合同")
        ordering = ["-starts_on", "number"]
        indexes = [models.Index(fields=["vendor", "status"], name="contract_vendor")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="contract_period_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class DeductionEvent(TimestampedModel):
    """A recorded event that costs points or money (通报批评, 媒体曝光 …)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    subject_org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("被考核单位"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    event_type = models.CharField(_("事件类型"), max_length=12, choices=EventType.choices)
    occurred_at = models.DateTimeField(_("发生时间"))
    description = models.TextField(_("事件说明"), max_length=1000)
    rectify_deadline = models.DateTimeField(_("整改期限"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    cancelled = models.BooleanField(default=False)

    scope_org_field = "org"

    class Meta:
        verbose_name = _("扣分事件")
        verbose_name_plural = _("扣分事件")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["subject_org", "occurred_at"], name="dedevent_subject")]


class Run(VersionedModel):
    """One assessment of one subject (a contract's vendor, or an org) for one period.

    ``inputs`` freezes everything the score depends on (indicator values, people's
    scores, deductions, fee, scheme) when computed; recomputing from ``inputs`` gives
    the same result bit for bit (``inputs_hash``). An appeal reopens named items only.
    """

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="runs")
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    subject_org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("被考核单位"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    period_kind = models.CharField(_("周期"), max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField(_("开始"))
    period_end = models.DateField(_("结束"))  # inclusive
    status = models.CharField(
        _("状态"), max_length=10, choices=RunStatus.choices, default=RunStatus.DRAFT
    )
    score = models.DecimalField(_("得分"), max_digits=6, decimal_places=2, null=True)
    grade = models.CharField(_("等级"), max_length=20, blank=True)
    grade_label = models.CharField(max_length=40, blank=True)
    passed = models.BooleanField(_("合格"), null=True)
    deduction_points = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    deduction_money = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    fee = models.DecimalField(_("应付基数（元）"), max_digits=12, decimal_places=2, default=0)
    payable = models.DecimalField(
        _("应付金额（元）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    payable_working = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    inputs_hash = models.CharField(max_length=64, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    finalised_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "org"

    class Meta:
        verbose_name = _("考核")
        verbose_name_plural = _("考核")
        ordering = ["-period_start", "subject_org", "id"]
        indexes = [
            models.Index(fields=["org", "period_start", "status"], name="run_org_period"),
            models.Index(fields=["subject_org", "-period_start"], name="run_subject"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "subject_org", "period_kind", "period_start"],
                name="run_unique_period",
            )
        ]


class RunItem(models.Model):
    """One indicator of a run: its raw value, the points earned and how."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="items")
    indicator = models.ForeignKey(SchemeIndicator, on_delete=models.PROTECT, related_name="+")
    key = models.SlugField(max_length=40)
    sort = models.CharField(max_length=10, choices=IndicatorSort.choices)
    value = models.FloatField(null=True, blank=True)  # the measured or mean scored value
    points = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    weight = models.DecimalField(max_digits=6, decimal_places=2)
    detail = models.JSONField(default=dict, blank=True)  # numerator/denominator, scorers …
    reopened = models.BooleanField(default=False)  # by an appeal

    scope_org_field = "run__org"

    class Meta:
        ordering = ["run", "indicator__position", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="run_item_unique")]


class RunAssessor(models.Model):
    """A person (a manager, or a third-party assessor) assigned to score a run's items."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="assessors")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=10, choices=ScorerRole.choices)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField()

    scope_org_field = "run__org"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "user"], name="run_assessor_unique")]
        indexes = [models.Index(fields=["user"], name="run_assessor_user")]


class ItemScore(TimestampedModel):
    """One person's score of one scored item, with evidence and a comment."""

    item = models.ForeignKey(RunItem, on_delete=models.CASCADE, related_name="scores")
    scorer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    score = models.DecimalField(_("评分"), max_digits=6, decimal_places=2)
    comment = models.TextField(_("评语"), max_length=1000, blank=True)
    evidence = models.TextField(_("依据"), max_length=2000, blank=True)
    superseded = models.BooleanField(default=False)  # replaced after an appeal

    scope_org_field = "item__run__org"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "scorer"],
                condition=Q(superseded=False),
                name="item_score_unique",
            )
        ]


class Appeal(TimestampedModel):
    """The assessed party contests named items of a published run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="appeals")
    item_keys = models.JSONField(_("申诉指标"))
    reason = models.TextField(_("申诉理由"), max_length=2000)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=AppealStatus.choices, default=AppealStatus.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision = models.TextField(_("处理意见"), max_length=2000, blank=True)

    scope_org_field = "run__org"

    class Meta:
        ordering = ["-created_at"]


class RunEvent(models.Model):
    """A run's history: computed, submitted for review, published, appealed, final."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=20)
    note = models.TextField(blank=True, max_length=2000)
    data = models.JSONField(default=dict, blank=True)

    scope_org_field = "run__org"

    class Meta:
        ordering = ["at", "id"]


class Survey(VersionedModel):
    """A satisfaction questionnaire (考评) about a vendor or a service, sent to chosen staff."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("问卷名称"), max_length=200)
    subject_org = models.ForeignKey(
        "orgs.Organization",
        verbose_name=_("评价对象"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.PROTECT, related_name="surveys"
    )
    service = models.CharField(_("服务项目"), max_length=100, blank=True)
    anonymous = models.BooleanField(_("匿名"), default=True)
    status = models.CharField(
        max_length=8, choices=SurveyStatus.choices, default=SurveyStatus.DRAFT
    )
    opens_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    closes_at = models.DateTimeField(_("截止时间"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    scope_org_field = "org"

    class Meta:
        verbose_name = _("满意度调查")
        verbose_name_plural = _("满意度调查")
        ordering = ["-closes_at", "-id"]


class SurveyQuestion(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    text = models.CharField(_("题目"), max_length=300)
    kind = models.CharField(max_length=8, choices=QuestionKind.choices)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    scope_org_field = "survey__org"

    class Meta:
        ordering = ["survey", "position", "id"]


class SurveyInvite(models.Model):
    """Who was asked. For an anonymous survey the invite records only *that* the person
    answered, never which response is theirs."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invites")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    responded = models.BooleanField(default=False)

    scope_org_field = "survey__org"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "user"], name="survey_invite_unique")
        ]


class SurveyResponse(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    respondent = models.ForeignKey(  # null when the survey is anonymous
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_on = models.DateField()  # a date only: a timestamp could identify
    answers = models.JSONField()  # question id -> value
    rating_mean = models.FloatField(null=True, blank=True)  # of the rating questions, 1–5

    scope_org_field = "survey__org"
