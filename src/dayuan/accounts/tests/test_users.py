"""Users and grants: who may create them, where, and with which passwords."""

import pytest

from dayuan.accounts.models import Grant, User

pytestmark = pytest.mark.django_db


def _new_user(org_id, **over):
    data = {
        "username": "new_clerk",
        "password": "Correct-Horse-42!",
        "display_name": "新职工",
        "home_org_id": org_id,
    }
    return {**data, **over}


def test_a_county_admin_creates_a_user_and_grants_a_role(world, api):
    c = api(world.user("a_admin"))
    resp = c.post("/api/v1/users", _new_user(world.county_a.pk))
    assert resp.status_code == 201, resp.content
    user_id = resp.json()["id"]
    resp = c.post(
        "/api/v1/grants", {"user_id": user_id, "org_id": world.county_a.pk, "role": "inspector"}
    )
    assert resp.status_code == 201
    assert Grant.objects.filter(user_id=user_id, role="inspector").exists()
    assert User.objects.get(pk=user_id).password.startswith(("argon2", "md5"))


def test_short_passwords_are_refused_with_reasons(world, api):
    resp = api(world.user("a_admin")).post(
        "/api/v1/users", _new_user(world.county_a.pk, password="Short-1")
    )
    assert resp.status_code == 422
    assert resp.json()["code"] == "weak_password"
    assert resp.json()["details"]["reasons"]
    assert not User.objects.filter(username="new_clerk").exists()


def test_a_county_admin_cannot_create_users_in_a_sibling_county(world, api):
    resp = api(world.user("a_admin")).post("/api/v1/users", _new_user(world.county_b.pk))
    assert resp.status_code == 404
    assert not User.objects.filter(username="new_clerk").exists()


def test_a_county_admin_cannot_grant_to_a_user_of_a_sibling_county(world, api):
    b_staff = world.user("b_staff")
    resp = api(world.user("a_admin")).post(
        "/api/v1/grants", {"user_id": b_staff.pk, "org_id": world.county_a.pk, "role": "manager"}
    )
    assert resp.status_code == 404
    assert not Grant.objects.filter(user=b_staff, org=world.county_a).exists()


def test_a_manager_cannot_create_users(world, api):
    resp = api(world.user("a_manager")).post("/api/v1/users", _new_user(world.county_a.pk))
    assert resp.status_code == 403
    assert resp.json()["code"] == "permission_denied"


def test_user_list_is_scoped(world, api):
    resp = api(world.user("b_manager")).get("/api/v1/users?page_size=200")
    names = {u["username"] for u in resp.json()["items"]}
    assert "b_staff" in names
    assert not any(n.startswith("a_") for n in names)
    resp = api(world.user("b_staff")).get("/api/v1/users")
    assert resp.json()["items"] == []


def test_revoking_a_grant_removes_access(world, api):
    admin = api(world.user("a_admin"))
    grant = Grant.objects.get(user=world.user("a_inspector"), role="inspector")
    assert admin.delete(f"/api/v1/grants/{grant.pk}").status_code == 204
    assert not Grant.objects.filter(pk=grant.pk).exists()
    resp = api(world.user("b_admin")).delete(
        f"/api/v1/grants/{Grant.objects.get(user=world.user('a_staff')).pk}"
    )
    assert resp.status_code == 404
