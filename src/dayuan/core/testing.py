"""Builders for tests and the demo: a small org tree with one user per role.

``build_world()`` makes a city centre with two sibling counties (A and B), each with a
compound, a building, floors and rooms, plus a vendor under county A and an assessor
under the city; one user per role per centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from dayuan.accounts.choices import Role
from dayuan.accounts.models import Grant, User
from dayuan.core.tree import next_child_path
from dayuan.orgs.choices import LocationKind, OrgKind
from dayuan.orgs.models import Location, Organization

TEST_PASSWORD = "Dayuan-demo-2026"  # noqa: S105 (the documented demo password)


def make_org(name: str, code: str, kind: str, parent: Organization | None = None) -> Organization:
    path = next_child_path(Organization, parent.path if parent else "")
    return Organization.objects.create(
        name=name, code=code, kind=kind, parent=parent, path=path, depth=path.count(".") - 1
    )


def make_location(
    org: Organization, name: str, kind: str, parent: Location | None = None, **extra: Any
) -> Location:
    path = next_child_path(Location, parent.path if parent else "")
    return Location.objects.create(
        org=org, name=name, kind=kind, parent=parent, path=path, depth=path.count(".") - 1, **extra
    )


def make_user(
    username: str,
    org: Organization,
    *roles: str,
    display_name: str = "",
    password: str = TEST_PASSWORD,
) -> User:
    user = User(
        username=username,
        display_name=display_name or username,
        home_org=org,
        email=f"{username}@example.gov.cn",
    )
    user.set_password(password)
    user.save()
    for role in roles:
        Grant.objects.create(user=user, org=org, role=role)
    return user


@dataclass
class World:
    city: Organization
    county_a: Organization
    county_b: Organization
    vendor: Organization
    assessor_org: Organization
    users: dict[str, User] = field(default_factory=dict)
    rooms: dict[str, Location] = field(default_factory=dict)

    def user(self, name: str) -> User:
        return self.users[name]


def build_compound(
    org: Organization, label: str, floors: int = 2, rooms_per_floor: int = 3
) -> list[Location]:
    compound = make_location(org, f"{label}大院", LocationKind.COMPOUND, tags=["大院"])
    building = make_location(org, f"{label}1号楼", LocationKind.BUILDING, compound, tags=["办公楼"])
    rooms = []
    for f in range(1, floors + 1):
        floor = make_location(org, f"{f}层", LocationKind.FLOOR, building, tags=["楼层"])
        for r in range(1, rooms_per_floor + 1):
            rooms.append(
                make_location(
                    org, f"{f}{r:02d}室", LocationKind.ROOM, floor, area_m2=30, tags=["办公室"]
                )
            )
    return rooms


@transaction.atomic
def build_world() -> World:
    city = make_org("市机关服务中心", "city", OrgKind.CITY)
    county_a = make_org("甲县机关服务中心", "county-a", OrgKind.COUNTY, city)
    county_b = make_org("乙县机关服务中心", "county-b", OrgKind.COUNTY, city)
    vendor = make_org("甲县物业服务公司", "vendor-a", OrgKind.VENDOR, county_a)
    assessor_org = make_org("第三方评估公司", "assessor", OrgKind.ASSESSOR, city)
    world = World(city, county_a, county_b, vendor, assessor_org)
    world.users["admin"] = make_user("admin", city, Role.ADMIN, display_name="系统管理员")
    world.users["city_manager"] = make_user("city_manager", city, Role.MANAGER)
    for key, org in (("a", county_a), ("b", county_b)):
        for role in (Role.STAFF, Role.MANAGER, Role.DISPATCHER, Role.INSPECTOR, Role.ADMIN):
            name = f"{key}_{role}"
            world.users[name] = make_user(name, org, role)
        world.rooms[key] = build_compound(org, "甲县" if key == "a" else "乙县")[0]
    world.users["vendor_worker"] = make_user("vendor_worker", vendor, Role.WORKER)
    world.users["assessor"] = make_user("assessor", assessor_org, Role.ASSESSOR)
    return world
