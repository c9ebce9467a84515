"""The demo loader: shape of the world, one login per role per centre, idempotency."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dayuan.accounts.choices import Role
from dayuan.accounts.models import Grant, User
from dayuan.audit.models import AuditEntry
from dayuan.core.demo import DEMO_LOGINS, DEMO_PASSWORD
from dayuan.orgs import queries as org_queries
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Location, Organization

pytestmark = pytest.mark.django_db

CENTRE_ROLES = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.INSPECTOR, Role.STAFF, Role.WORKER}


def _demo(*args: str) -> str:
    out = StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def loaded(module_db) -> str:
    """One load for the module (seconds); returns what ``dayuan demo --if-empty`` printed."""
    return _demo("--if-empty")


def _counts() -> tuple[int, int, int, int, int]:
    return (
        Organization.objects.count(),
        Location.objects.count(),
        User.objects.count(),
        Grant.objects.count(),
        AuditEntry.objects.filter(action="system.demo.load").count(),
    )


def test_it_builds_four_centres_with_compounds_buildings_floors_and_rooms(loaded):
    centres = Organization.objects.filter(kind__in=OrgKind.centres())
    assert centres.count() == 4
    assert centres.filter(kind=OrgKind.CITY, code="city", name="市机关服务中心").exists()
    assert set(centres.filter(kind=OrgKind.COUNTY).values_list("code", flat=True)) == {
        "dongcheng",
        "xihu",
        "nanshan",
    }
    city = centres.get(code="city")
    for centre in centres:
        assert centre.children.filter(kind=OrgKind.DEPARTMENT).count() >= 2
        # Each centre's property vendor (the assessment demo adds the city's specialists).
        assert centre.children.filter(kind=OrgKind.VENDOR, code=f"{centre.code}-property")
        locs = Location.objects.filter(org=centre)
        assert locs.filter(kind=LocationKind.COMPOUND).count() == 1
        buildings = locs.filter(kind=LocationKind.BUILDING)
        assert buildings.count() >= 3
        for building in buildings:
            floors = building.children.filter(kind=LocationKind.FLOOR).count()
            assert 3 <= floors <= 8
        rooms = locs.filter(kind=LocationKind.ROOM)
        assert rooms.filter(area_m2__gt=0).count() == rooms.count() > 20
        tags = {t for r in rooms.values_list("tags", flat=True) for t in r}
        assert {"办公室", "会议室", "卫生间", "楼梯间", "配电室", "厨房", "仓库"} <= tags
    for kind in (OrgKind.ENTERPRISE, OrgKind.SOCIAL, OrgKind.ASSESSOR):
        assert Organization.objects.filter(kind=kind, parent=city).count() == 1


def test_it_writes_rows_as_the_services_would(loaded):
    for model in (Organization, Location):
        for node in model.objects.select_related("parent"):
            assert node.depth == node.path.count(".") - 1
            if node.parent is None:
                assert node.depth == 0
            else:
                assert node.path.startswith(node.parent.path)
                assert node.depth == node.parent.depth + 1
    for loc in Location.objects.select_related("parent"):
        assert loc.tags == sorted(set(loc.tags))
        if loc.parent is not None:
            assert loc.parent.org_id == loc.org_id
    entry = AuditEntry.objects.get(action="system.demo.load")
    assert entry.source == "cli"
    # The orgs and users are bulk-built; the standards library, the inspection history,
    # the assessment history and the bookings go through their audited services, so every
    # other entry is one of theirs, from the CLI.
    others = AuditEntry.objects.exclude(pk=entry.pk)
    assert others.exists()
    assert set(others.values_list("source", flat=True)) == {"cli"}
    prefixes = ("standards.", "workorders.", "inspections.", "supervision.", "assessment.")
    prefixes += ("bookings.", "canteen.", "resources.")
    assert all(a.startswith(prefixes) for a in others.values_list("action", flat=True))


def test_it_creates_one_login_per_role_per_centre(loaded):
    assert len(DEMO_LOGINS) == 25
    # The work-order history adds extra workers and requesters beside the 25 logins.
    assert User.objects.filter(username__in=[u for u, _r, _o in DEMO_LOGINS]).count() == 25
    for centre in Organization.objects.filter(kind__in=OrgKind.centres()):
        # Grants inside the centre's own subtree, not counting child centres.
        roles = set()
        for g in Grant.objects.select_related("org").filter(org__path__startswith=centre.path):
            if g.org.centre == centre:
                roles.add(g.role)
        expected = CENTRE_ROLES | ({Role.ASSESSOR} if centre.kind == OrgKind.CITY else set())
        assert roles == expected, centre.code
    assessor = User.objects.get(username="assessor")
    assert [(g.role, g.org.kind) for g in assessor.grants.select_related("org")] == [
        (Role.ASSESSOR, OrgKind.ASSESSOR)
    ]
    for username, role, org_name in DEMO_LOGINS:
        user = User.objects.get(username=username)
        assert user.check_password(DEMO_PASSWORD)
        assert user.home_org.name == org_name
        assert user.grants.filter(role=role, org=user.home_org).exists()
        assert user.display_name and user.display_name != username
        assert user.phone.startswith("138") and len(user.phone) == 11


def test_it_keeps_county_logins_inside_their_county(loaded):
    xihu = User.objects.get(username="xihu_manager")
    visible = {loc.org.code for loc in org_queries.locations(xihu)}
    assert visible == {"xihu"}
    city = User.objects.get(username="city_manager")
    assert {loc.org.code for loc in org_queries.locations(city)} == {
        "city",
        "dongcheng",
        "xihu",
        "nanshan",
    }


def test_it_lets_admin_sign_in_through_the_api(loaded, client):
    resp = client.post(
        "/api/v1/auth/token",
        {"username": "admin", "password": DEMO_PASSWORD},
        content_type="application/json",
    )
    assert resp.status_code == 200, resp.content
    token = resp.json()["token"]
    me = client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 200
    assert me.json()["username"] == "admin"
    bad = client.post(
        "/api/v1/auth/token",
        {"username": "admin", "password": "wrong-password"},
        content_type="application/json",
    )
    assert bad.status_code == 401


def test_it_is_idempotent_with_if_empty_and_refuses_a_second_load_without(loaded):
    out = loaded
    assert "Dayuan-demo-2026" in out
    assert "admin" in out
    before = _counts()
    assert before[4] == 1
    again = _demo("--if-empty")
    assert "not loaded" in again
    assert "Dayuan-demo-2026" in again
    assert _counts() == before
    with pytest.raises(CommandError):
        _demo()
    assert _counts() == before


def test_it_prints_every_login_with_its_role_and_organisation(loaded):
    out = loaded
    for username, _role, org_name in DEMO_LOGINS:
        line = next(line for line in out.splitlines() if line.startswith(username + " "))
        assert org_name in line
    assert "http://127.0.0.1:8000/" in out
