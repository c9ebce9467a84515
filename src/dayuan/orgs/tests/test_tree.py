"""The trees: subtree is one indexed query; paths stay unique under concurrent writers."""

import threading

import pytest
from django.db import connection

from dayuan.core.tree import decode, encode
from dayuan.orgs import queries, services
from dayuan.orgs.models import Location, Organization

pytestmark = pytest.mark.django_db


def test_path_segments_round_trip_and_sort():
    assert [decode(encode(n)) for n in (1, 35, 36, 1295, 99999)] == [1, 35, 36, 1295, 99999]
    assert sorted(encode(n) for n in (10, 2, 36, 1000)) == [encode(n) for n in (2, 10, 36, 1000)]


def test_subtree_is_one_query(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        names = set(queries.subtree(world.county_a).values_list("code", flat=True))
    assert names == {"county-a", "vendor-a"}


def test_subtree_query_uses_the_path_index(world):
    sql, params = Location.objects.filter(path__startswith="0001.").query.sql_with_params()
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(r) for r in cur.fetchall())
            assert "INDEX" in plan.upper(), plan
        else:
            cur.execute("SET enable_seqscan = off")
            cur.execute("EXPLAIN " + sql, params)
            plan = " ".join(r[0] for r in cur.fetchall())
            assert "Index" in plan, plan


def test_location_kinds_follow_the_tree_shape(world, api):
    room = world.rooms["a"]
    resp = api(world.user("a_manager")).post(
        "/api/v1/locations",
        {"org_id": world.county_a.pk, "parent_id": room.pk, "kind": "building", "name": "楼中楼"},
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid_parent"


def test_organisations_follow_the_tree_shape(world, api):
    resp = api(world.user("admin")).post(
        "/api/v1/organizations",
        {"parent_id": world.vendor.pk, "name": "X", "code": "x-under-vendor", "kind": "county"},
    )
    assert resp.status_code == 422
    resp = api(world.user("admin")).post(
        "/api/v1/organizations",
        {
            "parent_id": world.county_a.pk,
            "name": "办公室",
            "code": "a-office",
            "kind": "department",
        },
    )
    assert resp.status_code == 201
    assert resp.json()["path"].startswith(world.county_a.path)
    assert Organization.objects.get(code="a-office").depth == world.county_a.depth + 1


def test_a_county_admin_cannot_add_under_a_sibling(world, api):
    resp = api(world.user("a_admin")).post(
        "/api/v1/organizations",
        {"parent_id": world.county_b.pk, "name": "X", "code": "x-in-b", "kind": "department"},
    )
    assert resp.status_code in (403, 404)
    assert not Organization.objects.filter(code="x-in-b").exists()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_siblings_get_distinct_paths(world):
    parent = Location.objects.filter(org=world.county_a, kind="floor").first()
    manager = world.user("a_manager")
    errors: list[Exception] = []
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        try:
            barrier.wait()
            services.create_location(
                actor=manager,
                org_id=world.county_a.pk,
                parent_id=parent.pk,
                kind="room",
                name=f"并发{i}",
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    paths = list(Location.objects.filter(name__startswith="并发").values_list("path", flat=True))
    assert len(paths) == len(set(paths)) == 8
    assert all(p.startswith(parent.path) for p in paths)


def test_working_hours_are_validated(world, api):
    c = api(world.user("admin"))
    org = c.get(f"/api/v1/organizations/{world.county_a.pk}").json()
    resp = c.patch(
        f"/api/v1/organizations/{org['id']}",
        {"version": org["version"], "working_hours": [["12:00", "08:00"]]},
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid_working_hours"
    resp = c.patch(
        f"/api/v1/organizations/{org['id']}", {"version": org["version"], "working_hours": ["24x7"]}
    )
    assert resp.status_code == 200
    assert resp.json()["working_hours"] == ["24x7"]
