"""The assessment demo: a short history (DAYUAN_DEMO_ASSESSMENT_MONTHS=2 in the test
settings) loaded through ``dayuan demo``, with runs in every state a person needs to
look at, the ranking of every vendor, honest recomputes, anonymous surveys that stay
anonymous, and each county's records kept to itself."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command

from dayuan.accounts.models import User
from dayuan.assessment import demo as ademo
from dayuan.assessment import queries
from dayuan.assessment.choices import AppealStatus, EventType, RunStatus
from dayuan.assessment.models import (
    Appeal,
    Contract,
    DeductionEvent,
    ItemScore,
    Run,
    RunAssessor,
    Scheme,
    Survey,
    SurveyInvite,
)
from dayuan.audit.models import AuditEntry
from dayuan.orgs.models import Organization

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def loaded(module_db):
    from io import StringIO

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAYUAN_DEMO_ASSESSMENT_MONTHS", "2")
        call_command("demo", stdout=StringIO())


def _user(name: str) -> User:
    return User.objects.get(username=name)


def test_the_demo_has_every_state_honest_numbers_and_separate_counties(loaded):
    """One load (seconds), checked part by part."""
    _contracts_and_schemes()
    _runs_in_every_state()
    _appeals()
    _recompute_matches()
    _ranking_has_every_vendor()
    _surveys_stay_anonymous()
    _counties_are_separate()
    _assessor_sees_only_assigned_runs()


def _contracts_and_schemes():
    vendor = Scheme.objects.get(code=ademo.VENDOR_SCHEME)
    sources = set(vendor.indicators.values_list("source", flat=True))
    assert {
        "inspection_pass_rate",
        "rectification_on_time_rate",
        "on_time_rate",
        "satisfaction_rate",
        "survey_satisfaction",
    } <= sources
    assert set(vendor.indicators.filter(sort="scored").values_list("scorer_role", flat=True)) == {
        "assessor",
        "manager",
    }
    assert sum(i.weight for i in vendor.indicators.all()) == 100
    assert {r.match for r in vendor.deduction_rules.all()} >= {"key", "important", "media"}
    assert Scheme.objects.filter(code=ademo.COUNTY_SCHEME, subject_kind="org").exists()
    contracts = Contract.objects.filter(status="active")
    assert contracts.count() == len(ademo.VENDORS)
    for c in contracts:
        assert Decimal("80000") <= c.monthly_fee <= Decimal("300000")
        assert c.area_m2 and c.payment_formula
    events = Counter(DeductionEvent.objects.values_list("event_type", flat=True))
    assert events[EventType.CRITICISM] == 1 and events[EventType.MEDIA] == 1


def _runs_in_every_state():
    statuses = Counter(Run.objects.values_list("status", flat=True))
    for status in (RunStatus.FINAL, RunStatus.PUBLISHED, RunStatus.APPEALED, RunStatus.REVIEW):
        assert statuses[status] >= 1, status
    assert not statuses[RunStatus.DRAFT]
    monthly = Run.objects.filter(period_kind="month")
    assert monthly.count() == 2 * len(ademo.VENDORS)
    assert Run.objects.filter(period_kind="quarter").count() >= 3
    for run in Run.objects.all():
        assert run.score is not None and run.inputs_hash and run.events.exists()
    for run in monthly:  # contracts: money; county centres: none
        assert run.payable is not None and 0 < run.payable <= run.fee == run.contract.monthly_fee
    assert not Run.objects.filter(period_kind="quarter", payable__isnull=False).exists()
    # People scored with evidence; the third-party assessor scored every vendor run.
    assessor = _user("assessor")
    site = ItemScore.objects.filter(scorer=assessor, item__key="site")
    assert site.values("item__run").distinct().count() == monthly.count()
    assert all(s.evidence for s in site)


def _appeals():
    statuses = Counter(Appeal.objects.values_list("status", flat=True))
    assert statuses == {AppealStatus.UPHELD: 1, AppealStatus.DISMISSED: 1, AppealStatus.OPEN: 1}
    upheld = Appeal.objects.get(status=AppealStatus.UPHELD)
    assert upheld.run.status == RunStatus.FINAL
    item = upheld.run.items.get(key="site")
    assert item.scores.filter(superseded=True).exists()
    assert item.scores.filter(superseded=False).count() == 1
    dismissed = Appeal.objects.get(status=AppealStatus.DISMISSED)
    assert dismissed.run.status == RunStatus.FINAL and dismissed.decision
    assert Appeal.objects.get(status=AppealStatus.OPEN).run.status == RunStatus.APPEALED


def _recompute_matches():
    from dayuan.assessment import runs

    for run in Run.objects.all():
        ev = runs.recompute(run)
        assert ev.score == run.score, run.pk
        assert ev.payable == run.payable, run.pk


def _ranking_has_every_vendor():
    city_manager = _user("city_manager")
    scheme = Scheme.objects.get(code=ademo.VENDOR_SCHEME)
    last = Run.objects.filter(period_kind="month").order_by("-period_start")[0].period_start
    rows = queries.ranking(city_manager, scheme.pk, "month", last)
    vendors = set(Contract.objects.values_list("vendor_id", flat=True))
    assert {r["subject_org_id"] for r in rows} == vendors
    assert next(r["rank"] for r in rows if r["rank"] is not None) == 1
    county = Scheme.objects.get(code=ademo.COUNTY_SCHEME)
    quarter = Run.objects.filter(scheme=county).order_by("-period_start")[0].period_start
    rows = queries.ranking(city_manager, county.pk, "quarter", quarter)
    assert {r["subject_name"] for r in rows} == {
        "东城区机关服务中心",
        "西湖县机关服务中心",
        "南山县机关服务中心",
    }


def _surveys_stay_anonymous():
    anonymous = Survey.objects.get(anonymous=True)
    named = Survey.objects.get(anonymous=False)
    for survey in (anonymous, named):
        answered = SurveyInvite.objects.filter(survey=survey, responded=True).count()
        assert answered == survey.responses.count() >= 1
        assert SurveyInvite.objects.filter(survey=survey).count() > answered  # a rate < 100 %
    assert not anonymous.responses.filter(respondent__isnull=False).exists()
    assert not named.responses.filter(respondent__isnull=True).exists()
    # No audit entry names an anonymous response.
    response_ids = {str(pk) for pk in anonymous.responses.values_list("pk", flat=True)}
    for entry in AuditEntry.objects.filter(object_type__icontains="response"):
        assert entry.object_id not in response_ids
    respond = AuditEntry.objects.filter(action="assessment.respond", object_id=str(anonymous.pk))
    assert respond.count() == anonymous.responses.count()
    for entry in respond:
        assert not any(str(v) in response_ids for v in (entry.changes or {}).values())


def _counties_are_separate():
    dongcheng = Organization.objects.get(code="dongcheng")
    xihu_manager = _user("xihu_manager")
    runs = queries.runs(xihu_manager)
    assert runs.exists()
    assert not runs.filter(org__path__startswith=dongcheng.path).exists()
    assert not runs.filter(subject_org=dongcheng).exists()
    assert not queries.contracts(xihu_manager).filter(org=dongcheng).exists()
    assert not queries.events(xihu_manager).exclude(org__code="xihu").exists()
    # A vendor sees its own published runs only.
    worker = _user("dongcheng_worker")
    own = queries.runs(worker)
    vendor = Organization.objects.get(code="dongcheng-property")
    assert own.exists()
    assert set(own.values_list("subject_org_id", flat=True)) == {vendor.pk}
    assert not own.exclude(
        status__in=(RunStatus.PUBLISHED, RunStatus.APPEALED, RunStatus.FINAL)
    ).exists()


def _assessor_sees_only_assigned_runs():
    assessor = _user("assessor")
    visible = set(queries.runs(assessor).values_list("pk", flat=True))
    assigned = set(RunAssessor.objects.filter(user=assessor).values_list("run_id", flat=True))
    assert visible == assigned
    assert not Run.objects.filter(pk__in=visible, period_kind="quarter").exists()
