"""The catalogue: categories, teams, members, responsibilities; services and HTTP."""

from __future__ import annotations

import pytest

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import InvalidInput, NotFound, PermissionDenied, StaleVersion
from dayuan.workorders import catalogue
from dayuan.workorders.models import Responsibility, ServiceCategory, TeamMember

from .test_dispatch import places

BASE = "/api/v1/workorders"


def _cat(actor, org, code, name, **kw):
    kw.setdefault("sla_category", code.split(".")[0])
    return catalogue.create_category(actor=actor, org_id=org.pk, code=code, name=name, **kw)


@pytest.fixture
def cats(world):
    """City: repair (+ repair.plumbing), clean. County A redefines repair for itself."""
    city = world.user("city_manager")
    repair = _cat(city, world.city, "repair", "维修", skill="维修")
    plumbing = _cat(city, world.city, "repair.plumbing", "水电", parent_id=repair.pk)
    clean = _cat(city, world.city, "clean", "保洁", tier="featured")
    a_repair = _cat(world.user("a_manager"), world.county_a, "repair", "甲县维修")
    return {"repair": repair, "plumbing": plumbing, "clean": clean, "a_repair": a_repair}


# --- categories -------------------------------------------------------------------------


def test_it_creates_categories_with_unique_codes_per_org(world, cats):
    a_manager, b_manager = world.user("a_manager"), world.user("b_manager")
    with pytest.raises(InvalidInput) as exc:
        _cat(a_manager, world.county_a, "repair", "重复")
    assert exc.value.code == "duplicate_code"
    # The same code is free in a sibling county.
    b_repair = _cat(b_manager, world.county_b, "repair", "乙县维修")
    assert b_repair.org == world.county_b
    with pytest.raises(InvalidInput) as exc:
        _cat(a_manager, world.county_a, "Bad Code", "坏")
    assert exc.value.code == "invalid_code"
    with pytest.raises(InvalidInput) as exc:
        _cat(a_manager, world.county_a, "x", "x", tier="gold")
    assert exc.value.code == "invalid_tier"
    # A parent must come from the org's catalogue: county B's category is not.
    with pytest.raises(InvalidInput) as exc:
        _cat(a_manager, world.county_a, "repair.door", "门窗", parent_id=b_repair.pk)
    assert exc.value.code == "invalid_parent"
    door = _cat(a_manager, world.county_a, "repair.door", "门窗", parent_id=cats["repair"].pk)
    assert door.parent == cats["repair"]
    entry = AuditEntry.objects.filter(action="workorders.category.create").order_by("id").last()
    assert entry.object_id == str(door.pk) and entry.org_id == world.county_a.pk
    assert entry.outcome == "success" and entry.changes["code"] == [None, "repair.door"]


def test_it_refuses_catalogue_writes_out_of_scope(world, cats):
    b_manager, a_staff = world.user("b_manager"), world.user("a_staff")
    with pytest.raises(NotFound):
        _cat(b_manager, world.county_a, "b.sneak", "越权")
    with pytest.raises(PermissionDenied):
        _cat(a_staff, world.county_a, "staff.try", "职工")
    a_repair = cats["a_repair"]
    with pytest.raises(NotFound):
        catalogue.update_category(
            actor=b_manager, category_id=a_repair.pk, version=a_repair.version, name="改"
        )
    # A county cannot edit the city's categories either (it may redefine them).
    with pytest.raises(NotFound):
        catalogue.update_category(
            actor=world.user("a_manager"), category_id=cats["repair"].pk, version=1, name="改"
        )
    with pytest.raises(NotFound):
        catalogue.deactivate_category(actor=b_manager, category_id=a_repair.pk)
    a_repair.refresh_from_db()
    assert a_repair.name == "甲县维修" and a_repair.is_active
    refused = AuditEntry.objects.filter(action="workorders.category.update", outcome="refused")
    assert refused.count() == 2


def test_it_updates_with_versions_and_refuses_cycles(world, cats):
    city = world.user("city_manager")
    repair, plumbing = cats["repair"], cats["plumbing"]
    with pytest.raises(StaleVersion):
        catalogue.update_category(actor=city, category_id=repair.pk, version=99, name="x")
    with pytest.raises(InvalidInput) as exc:
        catalogue.update_category(
            actor=city, category_id=repair.pk, version=repair.version, parent_id=plumbing.pk
        )
    assert exc.value.code == "invalid_parent"
    with pytest.raises(InvalidInput) as exc:
        catalogue.update_category(
            actor=city, category_id=plumbing.pk, version=plumbing.version, code="clean"
        )
    assert exc.value.code == "duplicate_code"
    updated = catalogue.update_category(
        actor=city, category_id=plumbing.pk, version=plumbing.version, name="水电维修", skill="水电"
    )
    assert (updated.name, updated.skill, updated.version) == ("水电维修", "水电", 2)
    catalogue.deactivate_category(actor=city, category_id=cats["clean"].pk)
    assert not ServiceCategory.objects.get(pk=cats["clean"].pk).is_active


def test_it_gives_a_county_the_citys_categories_with_its_own_winning(
    world, cats, django_assert_max_num_queries
):
    a_staff = world.user("a_staff")
    catalogue.catalogue_for(a_staff, world.county_a)  # loads the user's grants once
    with django_assert_max_num_queries(1):
        got = catalogue.catalogue_for(a_staff, world.county_a)
    by_code = {c.code: c for c in got}
    assert set(by_code) == {"repair", "repair.plumbing", "clean"}
    assert by_code["repair"] == cats["a_repair"]  # the nearest org's definition wins
    assert by_code["clean"].org == world.city
    # The city's plumbing sits under the county's own repair in the county's tree.
    assert by_code["repair.plumbing"].catalogue_parent_id == cats["a_repair"].pk
    # County B gets the city's, never county A's.
    b_codes = {c.code: c for c in catalogue.catalogue_for(world.user("b_staff"), world.county_b)}
    assert b_codes["repair"] == cats["repair"]
    with pytest.raises(NotFound):
        catalogue.catalogue_for(world.user("b_staff"), world.county_a)
    # Inactive categories drop out unless asked for.
    catalogue.deactivate_category(actor=world.user("city_manager"), category_id=cats["clean"].pk)
    assert "clean" not in {c.code for c in catalogue.catalogue_for(a_staff, world.county_a)}
    assert "clean" in {
        c.code for c in catalogue.catalogue_for(a_staff, world.county_a, include_inactive=True)
    }


def test_it_serves_the_catalogue_tree_by_tier_over_http(world, cats, api):
    res = api(world.user("a_staff")).get(f"{BASE}/categories?org_id={world.county_a.pk}")
    assert res.status_code == 200, res.content
    body = res.json()
    tiers = {t["tier"]: t for t in body["tiers"]}
    assert [t["tier"] for t in body["tiers"]] == ["basic", "featured", "external"]
    (repair,) = tiers["basic"]["categories"]
    assert repair["name"] == "甲县维修" and repair["inherited"] is False
    assert [c["code"] for c in repair["children"]] == ["repair.plumbing"]
    assert repair["children"][0]["inherited"] is True
    assert [c["code"] for c in tiers["featured"]["categories"]] == ["clean"]
    assert tiers["featured"]["label"] == "特色公共服务"
    # Default: the caller's home unit.
    assert (
        api(world.user("a_staff")).get(f"{BASE}/categories").json()["org_id"] == world.county_a.pk
    )
    # County B cannot read county A's catalogue.
    res = api(world.user("b_staff")).get(f"{BASE}/categories?org_id={world.county_a.pk}")
    assert res.status_code == 404
    assert res.json()["code"] == "not_found"
    b = api(world.user("b_staff")).get(f"{BASE}/categories?org_id={world.county_b.pk}").json()
    names = [c["name"] for t in b["tiers"] for c in t["categories"]]
    assert "甲县维修" not in names and "维修" in names
    # A single category: the city's is readable by a county, county A's not by county B.
    assert (
        api(world.user("a_staff")).get(f"{BASE}/categories/{cats['repair'].pk}").status_code == 200
    )
    assert (
        api(world.user("b_staff")).get(f"{BASE}/categories/{cats['a_repair'].pk}").status_code
        == 404
    )


def test_it_writes_categories_over_http(world, cats, api):
    a = api(world.user("a_manager"))
    res = a.post(
        f"{BASE}/categories",
        {"org_id": world.county_a.pk, "code": "move", "name": "搬运", "sla_category": "move"},
    )
    assert res.status_code == 201, res.content
    made = res.json()
    assert made["tier"] == "basic" and made["org_id"] == world.county_a.pk
    res = a.patch(f"{BASE}/categories/{made['id']}", {"version": 1, "tier": "external"})
    assert res.status_code == 200 and res.json()["tier"] == "external"
    res = a.patch(f"{BASE}/categories/{made['id']}", {"version": 1, "name": "旧"})
    assert res.status_code == 409 and res.json()["code"] == "stale_version"
    res = a.post(
        f"{BASE}/categories",
        {"org_id": world.county_a.pk, "code": "move", "name": "重", "sla_category": "move"},
    )
    assert res.status_code == 422 and res.json()["code"] == "duplicate_code"
    b = api(world.user("b_manager"))
    res = b.patch(f"{BASE}/categories/{made['id']}", {"version": 2, "name": "乙改"})
    assert res.status_code == 404
    res = b.post(
        f"{BASE}/categories",
        {"org_id": world.county_a.pk, "code": "evil", "name": "越权", "sla_category": "evil"},
    )
    assert res.status_code == 404
    res = api(world.user("a_staff")).post(
        f"{BASE}/categories",
        {"org_id": world.county_a.pk, "code": "staff", "name": "职工", "sla_category": "x"},
    )
    assert res.status_code == 403
    assert ServiceCategory.objects.get(pk=made["id"]).name == "搬运"


# --- teams and members ------------------------------------------------------------------


def test_it_checks_a_teams_vendor(world):
    a_manager = world.user("a_manager")
    team = catalogue.create_team(
        actor=a_manager, org_id=world.county_a.pk, name="物业维修班", vendor_id=world.vendor.pk
    )
    assert team.vendor == world.vendor
    for org, vendor in ((world.county_b, world.vendor), (world.county_a, world.county_b)):
        manager = world.user("b_manager" if org == world.county_b else "a_manager")
        with pytest.raises(InvalidInput) as exc:
            catalogue.create_team(actor=manager, org_id=org.pk, name="x", vendor_id=vendor.pk)
        assert exc.value.code == "invalid_vendor"
    with pytest.raises(NotFound):
        catalogue.create_team(actor=world.user("b_manager"), org_id=world.county_a.pk, name="x")
    team = catalogue.update_team(actor=a_manager, team_id=team.pk, version=1, vendor_id=None)
    assert team.vendor is None and team.version == 2


def test_it_admits_only_members_who_belong(world):
    a_manager = world.user("a_manager")
    own = catalogue.create_team(actor=a_manager, org_id=world.county_a.pk, name="自有班组")
    vendor_team = catalogue.create_team(
        actor=a_manager, org_id=world.county_a.pk, name="外包班组", vendor_id=world.vendor.pk
    )
    # A county A user, or a city user whose grants reach county A.
    m = catalogue.add_member(
        actor=a_manager, team_id=own.pk, user_id=world.user("a_dispatcher").pk, skills=["水电", " "]
    )
    assert m.skills == ["水电"] and m.on_duty
    catalogue.add_member(actor=a_manager, team_id=own.pk, user_id=world.user("city_manager").pk)
    # The vendor's worker: only in a team of that vendor.
    worker = world.user("vendor_worker")
    with pytest.raises(InvalidInput) as exc:
        catalogue.add_member(actor=a_manager, team_id=own.pk, user_id=worker.pk)
    assert exc.value.code == "invalid_member"
    catalogue.add_member(actor=a_manager, team_id=vendor_team.pk, user_id=worker.pk)
    # County B's people never.
    with pytest.raises(InvalidInput):
        catalogue.add_member(actor=a_manager, team_id=own.pk, user_id=world.user("b_staff").pk)
    with pytest.raises(InvalidInput) as exc:
        catalogue.add_member(actor=a_manager, team_id=own.pk, user_id=world.user("a_dispatcher").pk)
    assert exc.value.code == "duplicate_member"
    # County B's manager cannot touch county A's team.
    with pytest.raises(NotFound):
        catalogue.add_member(
            actor=world.user("b_manager"), team_id=own.pk, user_id=world.user("b_staff").pk
        )
    with pytest.raises(NotFound):
        catalogue.set_on_duty(actor=world.user("b_manager"), member_id=m.pk, on_duty=False)
    m = catalogue.set_on_duty(actor=a_manager, member_id=m.pk, on_duty=False)
    assert not TeamMember.objects.get(pk=m.pk).on_duty
    catalogue.remove_member(actor=a_manager, member_id=m.pk)
    assert not TeamMember.objects.filter(pk=m.pk).exists()


def test_it_manages_teams_and_members_over_http(world, api):
    a = api(world.user("a_manager"))
    res = a.post(
        f"{BASE}/teams",
        {"org_id": world.county_a.pk, "name": "外包班", "vendor_id": world.vendor.pk},
    )
    assert res.status_code == 201, res.content
    team = res.json()
    res = a.post(
        f"{BASE}/teams/{team['id']}/members",
        {"user_id": world.user("vendor_worker").pk, "skills": ["空调"]},
    )
    assert res.status_code == 201, res.content
    member = res.json()
    assert member["username"] == "vendor_worker" and member["skills"] == ["空调"]
    res = a.patch(f"{BASE}/teams/{team['id']}/members/{member['id']}", {"on_duty": False})
    assert res.status_code == 200 and res.json()["on_duty"] is False
    assert [m["on_duty"] for m in a.get(f"{BASE}/teams/{team['id']}/members").json()] == [False]
    res = a.patch(f"{BASE}/teams/{team['id']}", {"version": 1, "name": "外包维修班"})
    assert res.status_code == 200 and res.json()["name"] == "外包维修班"
    assert [t["name"] for t in a.get(f"{BASE}/teams").json()["items"]] == ["外包维修班"]
    # County B sees and changes nothing of it.
    b = api(world.user("b_manager"))
    assert b.get(f"{BASE}/teams").json()["items"] == []
    assert b.get(f"{BASE}/teams/{team['id']}").status_code == 404
    assert b.get(f"{BASE}/teams/{team['id']}/members").status_code == 404
    assert b.patch(f"{BASE}/teams/{team['id']}", {"version": 2, "name": "x"}).status_code == 404
    assert (
        b.patch(f"{BASE}/teams/{team['id']}/members/{member['id']}", {"on_duty": True}).status_code
        == 404
    )
    assert b.delete(f"{BASE}/teams/{team['id']}/members/{member['id']}").status_code == 404
    assert b.delete(f"{BASE}/teams/{team['id']}").status_code == 404
    # Members of another team through this team's URL are not found.
    other = a.post(f"{BASE}/teams", {"org_id": world.county_a.pk, "name": "另一班"}).json()
    assert a.delete(f"{BASE}/teams/{other['id']}/members/{member['id']}").status_code == 404
    assert a.delete(f"{BASE}/teams/{team['id']}/members/{member['id']}").status_code == 204
    assert a.delete(f"{BASE}/teams/{team['id']}").status_code == 204
    assert a.get(f"{BASE}/teams/{team['id']}").json()["is_active"] is False


# --- responsibilities -------------------------------------------------------------------


def test_it_sets_responsibilities_inside_the_org(world, cats):
    a_manager = world.user("a_manager")
    _room, _floor, building, _compound = places(world)
    b_room, *_ = places(world, "b")
    t1 = catalogue.create_team(actor=a_manager, org_id=world.county_a.pk, name="一班")
    t2 = catalogue.create_team(actor=a_manager, org_id=world.county_a.pk, name="二班")
    b_team = catalogue.create_team(
        actor=world.user("b_manager"), org_id=world.county_b.pk, name="乙班"
    )
    repair = cats["repair"]  # the city's category serves county A
    r = catalogue.set_responsibility(
        actor=a_manager,
        org_id=world.county_a.pk,
        category_id=repair.pk,
        team_id=t1.pk,
        location_id=building.pk,
    )
    # Setting it again moves it; one row per (org, category, location), null included.
    again = catalogue.set_responsibility(
        actor=a_manager,
        org_id=world.county_a.pk,
        category_id=repair.pk,
        team_id=t2.pk,
        location_id=building.pk,
    )
    assert again.pk == r.pk and again.team == t2
    for _ in range(2):
        catalogue.set_responsibility(
            actor=a_manager, org_id=world.county_a.pk, category_id=repair.pk, team_id=t1.pk
        )
    assert Responsibility.objects.filter(org=world.county_a, location__isnull=True).count() == 1
    bad = [
        ({"location_id": b_room.pk}, "invalid_location"),  # county B's room
        ({"team_id": b_team.pk}, "invalid_team"),  # county B's team
        ({"category_id": cats["a_repair"].pk, "org_id": world.county_b.pk}, None),
    ]
    for override, code in bad:
        kwargs = {
            "org_id": world.county_a.pk,
            "category_id": repair.pk,
            "team_id": t1.pk,
            **override,
        }
        with pytest.raises((InvalidInput, NotFound)) as exc:
            catalogue.set_responsibility(actor=a_manager, **kwargs)
        if code:
            assert exc.value.code == code
    with pytest.raises(InvalidInput) as exc:  # county B may not use county A's category
        catalogue.set_responsibility(
            actor=world.user("b_manager"),
            org_id=world.county_b.pk,
            category_id=cats["a_repair"].pk,
            team_id=b_team.pk,
        )
    assert exc.value.code == "invalid_category"
    with pytest.raises(NotFound):
        catalogue.remove_responsibility(actor=world.user("b_manager"), responsibility_id=r.pk)
    catalogue.remove_responsibility(actor=a_manager, responsibility_id=r.pk)
    assert not Responsibility.objects.filter(pk=r.pk).exists()


def test_it_manages_responsibilities_over_http(world, cats, api):
    a = api(world.user("a_manager"))
    _room, _floor, building, _compound = places(world)
    team = a.post(f"{BASE}/teams", {"org_id": world.county_a.pk, "name": "一班"}).json()
    res = a.post(
        f"{BASE}/responsibilities",
        {
            "org_id": world.county_a.pk,
            "category_id": cats["plumbing"].pk,
            "team_id": team["id"],
            "location_id": building.pk,
        },
    )
    assert res.status_code == 201, res.content
    made = res.json()
    assert made["location_name"] == building.name and made["team_name"] == "一班"
    assert [r["id"] for r in a.get(f"{BASE}/responsibilities").json()["items"]] == [made["id"]]
    b = api(world.user("b_manager"))
    assert b.get(f"{BASE}/responsibilities").json()["items"] == []
    assert b.delete(f"{BASE}/responsibilities/{made['id']}").status_code == 404
    res = b.post(
        f"{BASE}/responsibilities",
        {"org_id": world.county_a.pk, "category_id": cats["repair"].pk, "team_id": team["id"]},
    )
    assert res.status_code == 404
    assert a.delete(f"{BASE}/responsibilities/{made['id']}").status_code == 204
    assert a.get(f"{BASE}/responsibilities").json()["count"] == 0
