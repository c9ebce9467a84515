"""The inspection pages: my inspections, start and conduct (a draft saved per change and
judged on entry), submit, findings and the rectification loop, the clause trace, the
dashboard; scope between sibling counties."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dayuan.inspections import rectification, services
from dayuan.inspections.choices import FindingStatus, InspectionStatus, RectificationStatus
from dayuan.inspections.models import Finding, Inspection, PlanOccurrence, Rectification

from .factories import ALL_PASS, build, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(world):
    return build(world)


def client_for(s, name: str) -> Client:
    c = Client()
    c.force_login(s.user(name))
    return c


def start(s, user: str = "a_inspector", location=None) -> Inspection:
    return services.start_inspection(
        actor=s.user(user),
        kind="patrol",
        checklist_code="patrol.daily",
        location_id=(location or s.building_a).pk,
        vendor_id=s.world.vendor.pk if location is None else None,
        client_key=uuid.uuid4().hex,
    )


def failed_finding(s) -> Finding:
    insp = start(s)
    services.submit_inspection(
        actor=s.user("a_inspector"),
        inspection_id=insp.pk,
        answers={**ALL_PASS, "fire_exit": "fail"},
    )
    return Finding.objects.get(inspection=insp)


def test_every_page_renders_for_the_county_inspector(s):
    finding = failed_finding(s)
    c = client_for(s, "a_inspector")
    urls = [
        reverse("inspections:home"),
        reverse("inspections:start"),
        reverse("inspections:list"),
        reverse("inspections:findings"),
        reverse("inspections:finding_new"),
        reverse("inspections:rectifications"),
        reverse("inspections:dashboard"),
        reverse("inspections:detail", args=[finding.inspection_id]),
        reverse("inspections:finding", args=[finding.pk]),
        reverse("inspections:clause", args=[finding.clause_id]),
    ]
    for url in urls:
        resp = c.get(url)
        assert resp.status_code == 200, url
        assert "乙县" not in resp.content.decode(), url
    export = c.get(reverse("inspections:export"))
    assert export.status_code == 200
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")


def test_home_lists_my_occurrences_with_a_start_button(s):
    now = timezone.now()
    occ = PlanOccurrence.objects.create(
        org=s.world.county_a,
        rule=_rule(s),
        clause=_rule(s).clause,
        activity="patrol.structure",
        target_key=f"loc:{s.building_a.pk}",
        location=s.building_a,
        period_start=now - timezone.timedelta(hours=1),
        period_end=now + timezone.timedelta(hours=2),
        due_at=now + timezone.timedelta(hours=3),
        assignment=s.patrol_plan,
        inspector=s.user("a_inspector"),
        vendor=s.world.vendor,
    )
    resp = client_for(s, "a_inspector").get(reverse("inspections:home"))
    assert f'data-testid="start-{occ.pk}"' in resp.content.decode()
    # Starting from it twice with the same key is one inspection, bound to the occurrence.
    data = {
        "client_key": "k-occ",
        "occurrence": occ.pk,
        "kind": "patrol",
        "checklist": "patrol.daily",
        "location": s.building_a.pk,
        "vendor": s.world.vendor.pk,
    }
    c = client_for(s, "a_inspector")
    first = c.post(reverse("inspections:start"), data)
    second = c.post(reverse("inspections:start"), data)
    insp = Inspection.objects.get(client_key="k-occ")
    assert first["Location"] == second["Location"] == reverse("inspections:conduct", args=[insp.pk])
    assert insp.occurrence_id == occ.pk
    # county B's inspector does not see it
    other = client_for(s, "b_inspector").get(reverse("inspections:home"))
    assert f'data-testid="start-{occ.pk}"' not in other.content.decode()


def _rule(s):
    from dayuan.standards.models import Rule

    return Rule.objects.get(key="x2_structure", version__standard=s.standard)


def test_draft_save_via_htmx_returns_the_judged_outcome(s):
    insp = start(s)
    c = client_for(s, "a_inspector")
    url = reverse("inspections:draft", args=[insp.pk])
    htmx = {"HTTP_HX_REQUEST": "true"}
    resp = c.post(url, {"key": "server_temp", "value-server_temp": "31.5"}, **htmx)
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "判定：不符合" in body and 'hx-swap-oob="true"' in body
    insp.refresh_from_db()
    assert insp.answers["server_temp"] == {"value": 31.5}
    resp = c.post(url, {"key": "server_temp", "value-server_temp": "22"}, **htmx)
    assert "判定：符合" in resp.content.decode()
    resp = c.post(
        url, {"key": "fire_exit", "outcome-fire_exit": "fail", "note-fire_exit": "堆放纸箱"}, **htmx
    )
    assert "判定：不符合" in resp.content.decode()
    insp.refresh_from_db()
    assert insp.notes["fire_exit"] == "堆放纸箱"
    # the conduct page shows what was saved (a closed tab reopened)
    page = c.get(reverse("inspections:conduct", args=[insp.pk])).content.decode()
    assert 'value="22"' in page and "堆放纸箱" in page
    assert "≤ 27℃" in page
    # another user cannot write into it
    other = client_for(s, "a_manager").post(url, {"key": "floor_clean"}, **htmx)
    assert other.status_code == 404


def test_photo_upload_and_submit_raise_the_finding(s):
    insp = start(s)
    c = client_for(s, "a_inspector")
    resp = c.post(
        reverse("inspections:add_photo", args=[insp.pk]),
        {"item_key": "fire_exit", "photo": upload()},
        HTTP_HX_REQUEST="true",
    )
    assert resp.status_code == 200 and "<img" in resp.content.decode()
    photo = insp.photos.get()
    assert c.get(reverse("inspections:photo", args=[photo.pk]) + "?thumb=1").status_code == 200
    assert (
        client_for(s, "b_manager").get(reverse("inspections:photo", args=[photo.pk])).status_code
        == 404
    )
    data = {
        "version": insp.version,
        "summary": "消防通道堵塞",
        "outcome-floor_clean": "pass",
        "outcome-stairs_clear": "pass",
        "value-server_temp": "24",
        "outcome-fire_exit": "fail",
        "note-fire_exit": "堆放纸箱",
    }
    url = reverse("inspections:submit", args=[insp.pk])
    first = c.post(url, data)
    second = c.post(url, data)  # a double tap: one inspection, one finding
    assert first.status_code == second.status_code == 302
    insp.refresh_from_db()
    assert insp.status == InspectionStatus.SUBMITTED and insp.passed is False
    finding = Finding.objects.get(inspection=insp)
    assert finding.item_key == "fire_exit"
    page = c.get(reverse("inspections:detail", args=[insp.pk])).content.decode()
    assert finding.number in page and 'data-testid="grade"' in page


def test_submitting_an_incomplete_inspection_is_refused_next_to_the_form(s):
    insp = start(s)
    resp = client_for(s, "a_inspector").post(
        reverse("inspections:submit", args=[insp.pk]), {"outcome-floor_clean": "pass"}
    )
    assert resp.status_code == 422
    assert "还有检查项未填写" in resp.content.decode()


def test_the_rectification_loop_through_the_pages(s):
    finding = failed_finding(s)
    rect = Rectification.objects.get(finding=finding)
    vendor = client_for(s, "vendor_worker")
    page = vendor.get(reverse("inspections:finding", args=[finding.pk])).content.decode()
    assert 'data-testid="evidence-form"' in page and 'data-testid="verify-form"' not in page
    resp = vendor.post(
        reverse("inspections:evidence", args=[rect.pk]),
        {"version": rect.version, "evidence": "已清理纸箱", "photos": [upload()]},
    )
    assert resp.status_code == 302
    rect.refresh_from_db()
    assert rect.status == RectificationStatus.SUBMITTED

    inspector = client_for(s, "a_inspector")
    page = inspector.get(reverse("inspections:finding", args=[finding.pk])).content.decode()
    assert 'data-testid="verify-form"' in page and 'data-testid="evidence-form"' not in page
    # a rejection needs a reason
    bad = inspector.post(
        reverse("inspections:verify", args=[rect.pk]),
        {"version": rect.version, "verdict": "reject"},
    )
    assert bad.status_code == 422 and "退回时请写明原因" in bad.content.decode()
    inspector.post(
        reverse("inspections:verify", args=[rect.pk]),
        {"version": rect.version, "verdict": "reject", "reason": "通道仍有杂物"},
    )
    rect.refresh_from_db()
    assert rect.status == RectificationStatus.RETURNED
    vendor.post(
        reverse("inspections:evidence", args=[rect.pk]),
        {"version": rect.version, "evidence": "全部清空"},
    )
    rect.refresh_from_db()
    stale = rect.version - 1
    resp = inspector.post(
        reverse("inspections:verify", args=[rect.pk]), {"version": stale, "verdict": "accept"}
    )
    assert resp.status_code == 409 and "已被他人更新" in resp.content.decode()
    inspector.post(
        reverse("inspections:verify", args=[rect.pk]),
        {"version": rect.version, "verdict": "accept"},
    )
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CLOSED
    page = client_for(s, "a_manager").get(reverse("inspections:finding", args=[finding.pk]))
    body = page.content.decode()
    assert 'data-testid="round-1"' in body and 'data-testid="round-2"' in body
    assert "通道仍有杂物" in body and "验收通过" in body


def test_county_b_gets_404_on_county_a_records(s):
    finding = failed_finding(s)
    rect = Rectification.objects.get(finding=finding)
    draft = start(s)
    b = client_for(s, "b_manager")
    for url in (
        reverse("inspections:detail", args=[finding.inspection_id]),
        reverse("inspections:conduct", args=[draft.pk]),
        reverse("inspections:finding", args=[finding.pk]),
    ):
        assert b.get(url).status_code == 404, url
    assert (
        b.post(reverse("inspections:verify", args=[rect.pk]), {"version": 1, "verdict": "accept"})
    ).status_code == 404
    trace = b.get(reverse("inspections:clause", args=[finding.clause_id]))
    assert trace.status_code == 200 and finding.number not in trace.content.decode()
    assert finding.number not in b.get(reverse("inspections:findings")).content.decode()


def test_ad_hoc_finding_from_the_clause_picker(s):
    c = client_for(s, "a_manager")
    page = c.get(reverse("inspections:finding_new")).content.decode()
    assert "X5" in page
    from dayuan.standards.models import Clause

    clause = Clause.objects.get(version__standard=s.standard, number="X5")
    resp = c.post(
        reverse("inspections:finding_new"),
        {
            "org": s.world.county_a.pk,
            "clause": clause.pk,
            "source": "walkround",
            "location": s.building_a.pk,
            "vendor": s.world.vendor.pk,
            "description": "机房门未上锁",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    finding = Finding.objects.get(description="机房门未上锁")
    assert finding.source == "walkround" and Rectification.objects.filter(finding=finding).exists()
    # staff may not raise
    assert client_for(s, "a_staff").get(reverse("inspections:finding_new")).status_code == 403


def test_the_vendor_sees_its_loop_but_not_the_dashboard(s):
    finding = failed_finding(s)
    c = client_for(s, "vendor_worker")
    todo = c.get(reverse("inspections:rectifications")).content.decode()
    assert finding.number in todo
    assert c.get(reverse("inspections:dashboard")).status_code == 403
    assert c.get(reverse("inspections:start")).status_code == 200  # self-inspection


def test_accept_closes_via_services_too(s):
    """The page's state follows the services whichever way the loop was driven."""
    finding = failed_finding(s)
    rect = Rectification.objects.get(finding=finding)
    rect = rectification.submit_evidence(
        actor=s.user("vendor_worker"), rectification_id=rect.pk, version=rect.version, evidence="ok"
    )
    rectification.verify(
        actor=s.user("a_inspector"),
        rectification_id=rect.pk,
        version=rect.version,
        verdict="accept",
    )
    page = client_for(s, "a_inspector").get(reverse("inspections:finding", args=[finding.pk]))
    assert 'data-testid="verify-form"' not in page.content.decode()
    assert "已闭环" in page.content.decode()
