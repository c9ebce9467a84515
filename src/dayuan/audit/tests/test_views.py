"""The audit page and its Excel export: filters, scope, permissions, query counts."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from dayuan.audit.models import AuditEntry

from .helpers import seed_three_subtrees, write_entries

pytestmark = pytest.mark.django_db


def _ids(resp) -> set[int]:
    body = resp.content.decode()
    return {e.pk for e in AuditEntry.objects.all() if f'data-entry="{e.pk}"' in body}


def _xlsx_ids(resp) -> list[int]:
    sheet = load_workbook(BytesIO(resp.content)).active
    return [row[0] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0]]


def test_the_page_is_for_managers_only(world, client):
    client.force_login(world.user("a_staff"))
    resp = client.get(reverse("audit:list"))
    assert resp.status_code == 403
    assert "无权访问" in resp.content.decode()
    assert client.get(reverse("audit:export")).status_code == 403
    client.logout()
    assert client.get(reverse("audit:list")).status_code == 302  # to the login page


def test_a_county_b_manager_cannot_see_county_a_entries(world, client):
    _a, b, _none = seed_three_subtrees(world)
    client.force_login(world.user("b_manager"))
    resp = client.get(reverse("audit:list"))
    assert resp.status_code == 200
    assert _ids(resp) == {b[0].pk}
    # Not even when asking for them by id or keyword.
    resp = client.get(reverse("audit:list"), {"object_type": "test.thing", "actor": "a_manager"})
    assert _ids(resp) == set()
    resp = client.get(reverse("audit:export"))
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    assert _xlsx_ids(resp) == [b[0].pk]


def test_a_county_a_manager_sees_the_county_a_entries(world, client):
    a, _b, _none = seed_three_subtrees(world)
    client.force_login(world.user("a_manager"))
    assert _ids(client.get(reverse("audit:list"))) == {e.pk for e in a}


def test_entries_without_an_organisation_are_for_root_administrators_only(world, client):
    a, b, none = seed_three_subtrees(world)
    everything = {e.pk for e in a + b + none}
    client.force_login(world.user("admin"))
    assert _ids(client.get(reverse("audit:list"))) == everything
    client.force_login(world.user("city_manager"))
    assert _ids(client.get(reverse("audit:list"))) == everything - {none[0].pk}
    client.force_login(world.user("a_admin"))
    assert _ids(client.get(reverse("audit:list"))) == {e.pk for e in a}


def test_the_page_filters_rows(world, client):
    a, b, none = seed_three_subtrees(world)
    client.force_login(world.user("admin"))
    url = reverse("audit:list")
    assert _ids(client.get(url, {"action": "orgs."})) == {e.pk for e in a + b}
    assert _ids(client.get(url, {"action": "orgs.x.create"})) == {b[0].pk}
    assert _ids(client.get(url, {"actor": "a_manager"})) == {e.pk for e in a}
    assert _ids(client.get(url, {"actor": str(world.user("b_manager").pk)})) == {b[0].pk}
    assert _ids(client.get(url, {"outcome": "refused"})) == {b[0].pk}
    assert _ids(client.get(url, {"object_type": "test.thing", "object_id": "1"})) == {a[1].pk}
    assert _ids(client.get(url, {"q": "bad_cred"})) == {none[0].pk}
    today = timezone.localdate()
    assert len(_ids(client.get(url, {"since": today, "until": today}))) == 4
    assert _ids(client.get(url, {"until": today - timedelta(days=1)})) == set()
    assert _ids(client.get(url, {"since": today + timedelta(days=1)})) == set()
    # An invalid filter is ignored, not a crash.
    resp = client.get(url, {"since": "not-a-date", "outcome": "maybe"})
    assert resp.status_code == 200 and len(_ids(resp)) == 4


def test_the_page_answers_htmx_with_the_results_only(world, client):
    seed_three_subtrees(world)
    client.force_login(world.user("admin"))
    resp = client.get(reverse("audit:list"), {"outcome": "refused"}, HTTP_HX_REQUEST="true")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert body.lstrip().startswith('<div id="audit-results">')
    assert "<html" not in body


def test_the_page_paginates_by_50_newest_first(world, client):
    entries = write_entries(120, actor=world.user("a_manager"), org=world.county_a)
    client.force_login(world.user("a_manager"))
    first = client.get(reverse("audit:list"))
    assert _ids(first) == {e.pk for e in entries[-50:]}
    third = client.get(reverse("audit:list"), {"page": 3})
    assert _ids(third) == {e.pk for e in entries[:20]}
    body = first.content.decode()
    assert body.index(f'data-entry="{entries[-1].pk}"') < body.index(
        f'data-entry="{entries[-2].pk}"'
    )


def test_the_export_has_chinese_headers_and_the_filtered_rows_and_is_itself_audited(world, client):
    a, _b, _none = seed_three_subtrees(world)
    client.force_login(world.user("city_manager"))
    resp = client.get(reverse("audit:export"), {"action": "orgs.x.update"})
    assert resp.status_code == 200
    assert "attachment" in resp["Content-Disposition"]
    sheet = load_workbook(BytesIO(resp.content)).active
    header = next(sheet.iter_rows(max_row=1, values_only=True))
    assert header[:4] == ("序号", "时间", "用户", "操作")
    assert _xlsx_ids(resp) == [a[1].pk, a[0].pk]
    note = AuditEntry.objects.get(action="audit.export")
    assert note.actor_id == world.user("city_manager").pk
    assert note.changes == {"filters": {"action": "orgs.x.update"}, "rows": 2}


def test_the_export_is_capped(world, client, monkeypatch):
    from dayuan.audit import queries

    monkeypatch.setattr(queries, "EXPORT_CAP", 3)
    write_entries(5, actor=world.user("a_manager"), org=world.county_a)
    client.force_login(world.user("a_manager"))
    resp = client.get(reverse("audit:export"))
    rows = list(load_workbook(BytesIO(resp.content)).active.iter_rows(values_only=True))
    assert len(rows) == 1 + 3 + 1  # header, 3 rows, the note
    assert "3" in rows[-1][0]


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_page_runs_a_constant_number_of_queries(world, client, django_assert_max_num_queries):
    client.force_login(world.user("admin"))
    url = reverse("audit:list")
    write_entries(5, actor=world.user("a_manager"), org=world.county_a)
    client.get(url)  # warm up: first-request session writes
    few = _count_queries(client, url)
    write_entries(250, actor=world.user("a_manager"), org=world.county_a)
    write_entries(245, actor=world.user("b_manager"), org=world.county_b)
    # Session, user, grants, count, page, plus what the shell adds: a fixed budget.
    with django_assert_max_num_queries(15):
        client.get(url)
    assert _count_queries(client, url) == few
    assert _count_queries(client, url + "?page=5&outcome=success") == few
