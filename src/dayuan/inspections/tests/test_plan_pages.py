"""The managers' plan pages: assignments and assets (choices from what is in force),
deactivation, "generate now" (audited, idempotent), and scope: another county's
records are a 404, a user without ``inspections.plan`` gets 403."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import NotFound, PermissionDenied, StaleVersion
from dayuan.inspections import services
from dayuan.inspections.models import Asset, PlanAssignment, PlanOccurrence

from .factories import build

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(world):
    return build(world)


def client_for(s, name: str) -> Client:
    c = Client()
    c.force_login(s.user(name))
    return c


def test_the_plan_pages_list_and_offer_what_is_in_force(s):
    c = client_for(s, "a_manager")
    home = c.get(reverse("inspections:home"))
    assert reverse("inspections:plans") in home.content.decode()  # the tab
    page = c.get(reverse("inspections:plans"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-testid="assignment-{s.stairs_plan.pk}"' in html
    assert f'data-testid="asset-{s.rod_a.pk}"' in html
    assert f'data-testid="asset-{s.rod_b.pk}"' not in html
    form = c.get(reverse("inspections:assignment_new")).context["form"]
    activities = dict(form.fields["activity"].choices)
    assert {"clean.stairs", "patrol.structure", "patrol.lightning_rod"} <= set(activities)
    assert "patrol.daily" in dict(form.fields["checklist"].choices)
    assert s.team.pk in dict(form.fields["team"].choices)
    inspectors = dict(form.fields["inspector"].choices)
    assert s.user("a_inspector").pk in inspectors and s.user("b_inspector").pk not in inspectors
    assert s.world.vendor.pk in dict(form.fields["vendor"].choices)
    asset_form = c.get(reverse("inspections:asset_new")).context["form"]
    assert dict(asset_form.fields["asset_type"].choices).keys() == {"", "lightning_rod"}


def test_a_user_without_the_plan_action_is_refused(s):
    c = client_for(s, "a_inspector")
    assert "tab-plans" not in c.get(reverse("inspections:home")).content.decode()
    assert c.get(reverse("inspections:plans")).status_code == 403
    assert c.get(reverse("inspections:assignment_new")).status_code == 403
    edit = reverse("inspections:assignment_edit", args=[s.patrol_plan.pk])
    assert c.post(edit, {"activity": "patrol.structure"}).status_code == 403


def test_a_manager_creates_and_edits_an_assignment(s):
    c = client_for(s, "a_manager")
    resp = c.post(
        reverse("inspections:assignment_new"),
        {
            "org": s.world.county_a.pk,
            "activity": "patrol.lightning_rod",
            "location": s.building_a.pk,
            "inspector": s.user("a_inspector").pk,
            "checklist": "patrol.daily",
            "kind": "patrol",
            "is_active": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()
    plan = PlanAssignment.objects.get(activity="patrol.lightning_rod")
    assert (plan.org, plan.location, plan.inspector) == (
        s.world.county_a,
        s.building_a,
        s.user("a_inspector"),
    )
    assert AuditEntry.objects.filter(
        action="inspections.save_assignment", object_id=str(plan.pk)
    ).exists()
    edit = reverse("inspections:assignment_edit", args=[plan.pk])
    assert c.get(edit).context["form"].initial["inspector"] == s.user("a_inspector").pk
    # a stale version is refused next to the form; the current one saves (unchecked: off)
    body = {"version": plan.version + 1, "activity": plan.activity, "kind": "special"}
    stale = c.post(edit, body)
    assert stale.status_code == 422 and "已被他人更新" in stale.content.decode()
    assert c.post(edit, {**body, "version": plan.version}).status_code == 302
    plan.refresh_from_db()
    assert (plan.kind, plan.is_active, plan.inspector, plan.version) == ("special", False, None, 2)


def test_a_refused_save_is_shown_next_to_its_field(s):
    c = client_for(s, "a_manager")
    resp = c.post(
        reverse("inspections:assignment_new"),
        {
            "org": s.world.county_a.pk,
            "activity": "clean.stairs",
            "inspector": s.user("a_staff").pk,  # staff may not inspect: not offered
            "kind": "patrol",
        },
    )
    assert resp.status_code == 422 and "inspector" in resp.context["form"].errors
    assert not PlanAssignment.objects.filter(activity="clean.stairs", inspector__isnull=False)


def test_a_manager_registers_edits_and_retires_an_asset(s):
    c = client_for(s, "a_manager")
    resp = c.post(
        reverse("inspections:asset_new"),
        {
            "org": s.world.county_a.pk,
            "location": s.building_a.pk,
            "asset_type": "lightning_rod",
            "name": "2号楼避雷针",
            "code": "BL-02",
            "is_active": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()
    asset = Asset.objects.get(name="2号楼避雷针")
    assert (asset.org, asset.code, asset.is_active) == (s.world.county_a, "BL-02", True)
    edit = reverse("inspections:asset_edit", args=[asset.pk])
    body = {
        "version": asset.version,
        "location": s.building_a.pk,
        "asset_type": "lightning_rod",
        "name": "2号楼避雷针（东）",
        "code": "BL-02",
        "is_active": "on",
    }
    assert c.post(edit, body).status_code == 302
    asset.refresh_from_db()
    assert asset.name == "2号楼避雷针（东）" and asset.version == 2
    deactivate = reverse("inspections:asset_deactivate", args=[asset.pk])
    assert c.post(deactivate, {"version": asset.version}).status_code == 302
    asset.refresh_from_db()
    assert not asset.is_active and asset.version == 3
    assert AuditEntry.objects.filter(
        action="inspections.deactivate_asset", object_id=str(asset.pk)
    ).exists()
    # reactivated through the form's "active" box
    assert c.post(edit, {**body, "version": asset.version}).status_code == 302
    asset.refresh_from_db()
    assert asset.is_active


def test_deactivating_an_assignment_does_not_recheck_it(s):
    plan = s.patrol_plan
    user = s.user("a_inspector")
    user.is_active = False  # the inspector has left: the assignment no longer validates
    user.save(update_fields=["is_active"])
    c = client_for(s, "a_manager")
    url = reverse("inspections:assignment_deactivate", args=[plan.pk])
    assert c.post(url, {"version": plan.version}).status_code == 302
    plan.refresh_from_db()
    assert not plan.is_active
    # twice: nothing more happens; a stale version is refused
    again = services.deactivate_assignment(actor=s.user("a_manager"), assignment_id=plan.pk)
    assert again.version == plan.version
    with pytest.raises(StaleVersion):
        services.deactivate_assignment(
            actor=s.user("a_manager"), assignment_id=plan.pk, version=plan.version - 1
        )


def test_county_b_cannot_see_or_change_county_as_plans(s):
    c = client_for(s, "b_manager")
    plan, asset = s.patrol_plan, s.rod_a
    page = c.get(reverse("inspections:plans")).content.decode()
    assert f"assignment-{plan.pk}" not in page and f"asset-{asset.pk}" not in page
    assert "甲县" not in page
    a = s.world.county_a.pk
    gets = [
        reverse("inspections:assignment_edit", args=[plan.pk]),
        reverse("inspections:asset_edit", args=[asset.pk]),
        f"{reverse('inspections:plans')}?org={a}",
        f"{reverse('inspections:assignment_new')}?org={a}",
    ]
    for url in gets:
        assert c.get(url).status_code == 404, url
    posts = [
        (reverse("inspections:assignment_edit", args=[plan.pk]), {"activity": "clean.stairs"}),
        (reverse("inspections:assignment_deactivate", args=[plan.pk]), {"version": 1}),
        (reverse("inspections:asset_deactivate", args=[asset.pk]), {"version": 1}),
        (reverse("inspections:plan_generate"), {"org": a}),
    ]
    for url, body in posts:
        assert c.post(url, body).status_code == 404, url
    plan.refresh_from_db()
    asset.refresh_from_db()
    assert plan.is_active and asset.is_active and plan.version == asset.version == 1
    assert not PlanOccurrence.objects.exists()
    manager = s.user("b_manager")
    with pytest.raises(NotFound):
        services.deactivate_asset(actor=manager, asset_id=asset.pk)
    with pytest.raises(NotFound):
        services.generate_now(actor=manager, org_id=a)


def test_generate_now_creates_the_next_two_weeks_once_and_is_audited(s):
    c = client_for(s, "a_manager")
    url = reverse("inspections:plan_generate")
    resp = c.post(url, {"org": s.world.county_a.pk}, follow=True)
    assert resp.status_code == 200
    occs = PlanOccurrence.objects.filter(org=s.world.county_a)
    stairs = occs.filter(activity="clean.stairs")
    assert stairs.count() == 14  # one a day, for today and the next 13 days
    assert not PlanOccurrence.objects.filter(org=s.world.county_b).exists()
    today = timezone.localdate()
    first = timezone.localtime(stairs.order_by("period_start").first().period_start).date()
    assert first == today
    assert timezone.localtime(stairs.order_by("period_start").last().period_start).date() == (
        today + timedelta(days=13)
    )
    assert stairs.first().team == s.team  # the assignment decides who
    entry = AuditEntry.objects.get(action="inspections.generate")
    assert entry.changes["created"] == occs.count() and entry.org_id == s.world.county_a.pk
    assert "新增" in resp.content.decode()
    total = occs.count()
    assert services.generate_now(actor=s.user("a_manager"), org_id=s.world.county_a.pk) == 0
    assert occs.count() == total
    with pytest.raises(PermissionDenied):
        services.generate_now(actor=s.user("a_inspector"), org_id=s.world.county_a.pk)


def test_the_api_update_may_retire_and_restore_an_asset(s, api):
    a = s.rod_a
    body = {
        "org_id": s.world.county_a.pk,
        "location_id": a.location_id,
        "asset_type": a.asset_type,
        "name": a.name,
        "version": a.version,
        "is_active": False,
    }
    manager = api(s.user("a_manager"))
    url = f"/api/v1/inspections/assets/{a.pk}"
    off = manager._call("put", url, body)
    assert off.status_code == 200 and off.json()["is_active"] is False
    kept = {**body, "version": off.json()["version"]}
    kept.pop("is_active")  # left out: unchanged
    same = manager._call("put", url, kept)
    assert same.status_code == 200 and same.json()["is_active"] is False
    other = api(s.user("b_manager"))._call(
        "put", url, {**kept, "is_active": True, "version": same.json()["version"]}
    )
    assert other.status_code == 404
