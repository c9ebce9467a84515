"""The finding page's extras: the photos of an ad hoc finding (page and API, scoped),
naming the person responsible, the notice of a key finding to the managers, and the
link from a standard's clauses to their trace."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from dayuan.inspections import services
from dayuan.inspections.models import Finding, FindingEvent, FindingPhoto, Rectification
from dayuan.notifications.models import Event, Notification
from dayuan.standards.models import Clause

from .factories import at, build, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(world):
    return build(world)


def client_for(s, name: str) -> Client:
    c = Client()
    c.force_login(s.user(name))
    return c


def raise_(s, actor: str = "a_inspector", *, severity: str = "important", **kw) -> Finding:
    return services.raise_finding(
        actor=s.user(actor),
        org_id=s.world.county_a.pk,
        clause_id=Clause.objects.get(version__standard=s.standard, number="X5").pk,
        description="消防通道堆放杂物",
        severity=severity,
        location_id=s.stairs_a.pk,
        vendor_id=s.world.vendor.pk,
        source="walkround",
        now=at(2026, 3, 2, 9),
        **kw,
    )


# --- photos ------------------------------------------------------------------------------


def test_the_photos_of_an_ad_hoc_finding_are_shown_to_whoever_sees_it(s):
    finding = raise_(s, photos=[upload()])
    photo = FindingPhoto.objects.get(finding=finding)
    url = reverse("inspections:finding_photo", args=[photo.pk])
    page = client_for(s, "a_manager").get(reverse("inspections:finding", args=[finding.pk]))
    assert 'data-testid="finding-photos"' in page.content.decode() and url in page.content.decode()
    for name in ("a_manager", "vendor_worker"):  # the centre, and the responsible party
        c = client_for(s, name)
        full = c.get(url)
        assert full.status_code == 200 and full["Content-Type"] == "image/jpeg"
        assert c.get(f"{url}?thumb=1").status_code == 200
    assert client_for(s, "b_manager").get(url).status_code == 404
    assert client_for(s, "b_manager").get(f"{url}?thumb=1").status_code == 404


def test_the_api_lists_and_serves_the_photos_of_a_finding(s, api):
    finding = raise_(s, photos=[upload(), upload()])
    detail = api(s.user("a_manager")).get(f"/api/v1/findings/{finding.pk}").json()
    assert len(detail["photos"]) == 2
    url = detail["photos"][0]["url"]
    assert url == f"/api/v1/findings/{finding.pk}/photos/{detail['photos'][0]['id']}"
    own = api(s.user("a_manager")).get(url)
    assert own.status_code == 200 and own["Content-Type"] == "image/jpeg"
    assert api(s.user("vendor_worker")).get(f"{url}?thumb=1").status_code == 200
    other = api(s.user("b_manager")).get(url)
    assert other.status_code == 404
    # a photo of another finding is not served under this one
    second = raise_(s, photos=[upload()])
    foreign = FindingPhoto.objects.get(finding=second).pk
    base = f"/api/v1/findings/{finding.pk}/photos/{foreign}"
    assert api(s.user("a_manager")).get(base).status_code == 404


# --- naming the person responsible ------------------------------------------------------


def test_the_party_names_the_person_who_does_the_fix(s):
    finding = raise_(s)
    rect = Rectification.objects.get(finding=finding)
    page = client_for(s, "vendor_worker").get(reverse("inspections:finding", args=[finding.pk]))
    form = page.context["assign_form"]
    people = dict(form.fields["assignee"].choices)
    assert s.user("vendor_worker").pk in people and s.user("a_staff").pk not in people
    url = reverse("inspections:assign", args=[rect.pk])
    c = client_for(s, "vendor_worker")
    bad = c.post(url, {"version": rect.version, "assignee": s.user("b_manager").pk})
    assert bad.status_code == 422
    done = c.post(url, {"version": rect.version, "assignee": s.user("vendor_worker").pk})
    assert done.status_code == 302 and done["Location"].endswith(f"/findings/{finding.pk}/")
    rect.refresh_from_db()
    assert rect.assignee == s.user("vendor_worker")
    assert FindingEvent.objects.filter(finding=finding, action="assigned").exists()
    stale = c.post(url, {"version": rect.version - 1, "assignee": s.user("vendor_worker").pk})
    assert stale.status_code == 409 and "已被他人更新" in stale.content.decode()


def test_who_may_not_name_the_person_does_not_get_the_form(s):
    finding = raise_(s)
    rect = Rectification.objects.get(finding=finding)
    page = client_for(s, "a_admin").get(reverse("inspections:finding", args=[finding.pk]))
    assert page.status_code == 200 and page.context["assign_form"] is None
    assert 'data-testid="assign-form"' not in page.content.decode()
    url = reverse("inspections:assign", args=[rect.pk])
    body = {"version": rect.version, "assignee": s.user("vendor_worker").pk}
    assert client_for(s, "a_admin").post(url, body).status_code == 403
    assert client_for(s, "b_manager").post(url, body).status_code == 404
    rect.refresh_from_db()
    assert rect.assignee is None


# --- the notice of a key finding --------------------------------------------------------


def told(event_type: str = "inspections.finding_raised") -> set[str]:
    return set(
        Notification.objects.filter(event__type=event_type).values_list(
            "recipient__username", flat=True
        )
    )


def test_a_key_finding_is_news_for_the_managers_of_its_org(s):
    finding = raise_(s, severity="key")
    assert told() == {"a_manager"}  # not county B's, not the city's (farther up)
    event = Event.objects.get(type="inspections.finding_raised")
    assert event.org == s.world.county_a and event.payload["number"] == finding.number
    assert event.link == f"/inspections/findings/{finding.pk}/"


def test_other_findings_and_the_managers_own_are_not_announced(s):
    raise_(s, severity="important")
    raise_(s, severity="general")
    assert told() == set()
    raise_(s, "a_manager", severity="key")  # nobody is told what they did themselves
    assert told() == set()


# --- from a clause to its trace ---------------------------------------------------------


def test_the_standard_links_each_clause_to_its_trace_for_who_may_see_inspections(s):
    x5 = Clause.objects.get(version__standard=s.standard, number="X5")
    url = reverse("standards:detail", args=[s.standard.pk])
    trace = reverse("inspections:clause", args=[x5.pk])
    page = client_for(s, "a_inspector").get(url).content.decode()
    assert trace in page and 'data-testid="trace-X5"' in page
    assert trace not in client_for(s, "a_staff").get(url).content.decode()
