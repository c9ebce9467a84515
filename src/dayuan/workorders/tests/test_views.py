"""The work-order pages for each role: report, follow and rate; the worker's queue; the
desk's list, filters, export, phone reports; scope between sibling counties."""

from __future__ import annotations

import itertools
from datetime import timedelta
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from PIL import Image

from dayuan.accounts.choices import Role
from dayuan.core.testing import make_user
from dayuan.standards import services as std_services
from dayuan.standards.models import Rule
from dayuan.standards.tests.factories_core import build_standard
from dayuan.workorders import services
from dayuan.workorders.choices import Channel, Status
from dayuan.workorders.models import (
    Responsibility,
    ServiceCategory,
    Team,
    TeamMember,
    WorkOrder,
    WorkOrderTimer,
)

SLA = {
    "category": "repair",
    "calendar": "24x7",
    "timers": [
        {"name": "respond", "label": "响应", "minutes": 30},
        {"name": "arrive", "label": "到场", "minutes": 60},
        {"name": "resolve", "label": "修复", "minutes": 240},
    ],
    "pause_reasons": ["等待配件", "报修人不在"],
}
_numbers = itertools.count(1)


# --- builders (shared with test_reports and the end-to-end journey) ------------------


def jpeg(name: str = "tap.jpg", size: tuple[int, int] = (64, 48)) -> SimpleUploadedFile:
    buf = BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buf, "JPEG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")


def install_sla(world):
    """A city standard whose clause F1 sets the repair clocks, adopted city-wide."""
    actor = world.user("city_manager")
    std, _v = build_standard(
        actor,
        world.city,
        "wo-sla",
        clauses=[("F1", "报修响应与处理时限", "key", True, [("f1_repair", "sla", SLA)])],
    )
    std_services.adopt(actor=actor, org_id=world.city.pk, standard_id=std.pk)
    return std


def build_repair(world):
    """The SLA, a city category, county A's vendor team with its worker, responsibility."""
    install_sla(world)
    category = ServiceCategory.objects.create(
        org=world.city, code="repair.plumbing", name="水电维修", sla_category="repair"
    )
    team = Team.objects.create(org=world.county_a, name="甲县物业维修班", vendor=world.vendor)
    TeamMember.objects.create(team=team, user=world.user("vendor_worker"), skills=["水电"])
    Responsibility.objects.create(org=world.county_a, category=category, team=team)
    return category, team


def orm_order(world, category, location, *, status=Status.SUBMITTED, **fields):
    """An order written straight to the table (for lists and figures)."""
    requester = fields.pop("requester", None) or world.user("a_staff")
    return WorkOrder.objects.create(
        org=location.org,
        number=f"T{next(_numbers):09d}",
        category=category,
        location=location,
        description=fields.pop("description", "水龙头漏水"),
        requester=requester,
        created_by=requester,
        status=status,
        submitted_at=fields.pop("submitted_at", timezone.now()),
        **fields,
    )


def orm_timer(order, name="respond", *, minutes=30, met_after=None, breached=False, started=None):
    rule = Rule.objects.get(key="f1_repair")
    started = started or order.submitted_at
    due = started + timedelta(minutes=minutes)
    return WorkOrderTimer.objects.create(
        workorder=order,
        name=name,
        label={"respond": "响应", "arrive": "到场", "resolve": "修复"}.get(name, name),
        minutes=minutes,
        calendar="24x7",
        anchor="created",
        started_at=started,
        due_at=due,
        met_at=started + timedelta(minutes=met_after) if met_after is not None else None,
        breached=breached,
        rule=rule,
        clause=rule.clause,
    )


@pytest.fixture
def repair(world):
    return build_repair(world)


def submit(world, category, who="a_staff", key="a", **kw):
    return services.submit_request(
        actor=world.user(who),
        category_id=category.pk,
        location_id=world.rooms[key].pk,
        description=kw.pop("description", "三楼卫生间水龙头漏水"),
        **kw,
    )


def dispatched(world, category, team):
    order = submit(world, category)
    return services.dispatch(
        actor=world.user("a_dispatcher"),
        order_id=order.pk,
        version=order.version,
        team_id=team.pk,
        assignee_id=world.user("vendor_worker").pk,
    )


def as_user(client, user):
    client.force_login(user)
    return client


# --- home and navigation -------------------------------------------------------------


def test_it_sends_each_role_to_its_page(client, world, repair):
    as_user(client, world.user("a_staff"))
    assert client.get("/workorders/")["Location"] == reverse("workorders:new")
    as_user(client, world.user("vendor_worker"))
    assert client.get("/workorders/")["Location"] == reverse("workorders:queue")
    as_user(client, world.user("a_dispatcher"))
    resp = client.get("/workorders/")
    assert resp.status_code == 200
    assert b'data-testid="order-table"' in resp.content
    assert b'data-nav="workorders"' in resp.content


# --- reporting -----------------------------------------------------------------------


def test_it_reports_a_repair_with_a_photo_and_shows_its_clocks(client, world, repair):
    category, _team = repair
    staff = world.user("a_staff")
    as_user(client, staff)
    page = client.get(reverse("workorders:new"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "水电维修" in body
    assert 'capture="environment"' in body and 'accept="image/*"' in body
    assert "甲县大院" in body and "乙县大院" not in body

    room = world.rooms["a"]
    floor, building, compound = room.parent, room.parent.parent, room.parent.parent.parent
    resp = client.post(
        reverse("workorders:new"),
        {
            "category": category.pk,
            # the picker posts one value per level; the deepest picked wins
            "location": [compound.pk, building.pk, floor.pk, room.pk],
            "description": "三楼卫生间水龙头漏水",
            "urgency": "normal",
            "contact_phone": "13800000000",
            "photos": [jpeg()],
        },
    )
    order = WorkOrder.objects.get(requester=staff)
    assert resp.status_code == 302 and resp["Location"] == reverse(
        "workorders:detail", args=[order.pk]
    )
    assert order.location == room and order.channel == Channel.WEB
    assert order.photos.count() == 1
    assert set(order.timers.values_list("name", flat=True)) >= {"respond", "resolve"}

    detail = client.get(resp["Location"]).content.decode()
    assert order.number in detail
    assert 'data-testid="timer-respond"' in detail
    assert "剩余" in detail
    assert 'data-testid="photos"' in detail
    assert 'data-testid="cancel-form"' in detail
    thumb = reverse(
        "api:workorder_photo_thumb",
        kwargs={"order_id": order.pk, "photo_id": order.photos.get().pk},
    )
    assert f'src="{thumb}"' in detail
    assert client.get(thumb).status_code == 200
    as_user(client, world.user("b_staff"))
    assert client.get(thumb).status_code == 404


def test_it_shows_errors_next_to_the_fields(client, world, repair):
    category, _team = repair
    as_user(client, world.user("a_staff"))
    resp = client.post(
        reverse("workorders:new"),
        {"category": category.pk, "location": "", "description": "", "urgency": "normal"},
    )
    assert resp.status_code == 422
    body = resp.content.decode()
    assert 'data-testid="errors-description"' in body
    assert 'data-testid="errors-location"' in body
    assert not WorkOrder.objects.exists()


def test_it_refuses_a_location_of_the_other_county_next_to_the_field(client, world, repair):
    category, _team = repair
    as_user(client, world.user("a_staff"))
    resp = client.post(
        reverse("workorders:new"),
        {
            "category": category.pk,
            "location": world.rooms["b"].pk,
            "description": "漏水",
            "urgency": "normal",
        },
    )
    assert resp.status_code == 422
    assert not WorkOrder.objects.exists()


def test_a_form_sent_back_keeps_the_picked_location(client, world, repair):
    category, _team = repair
    room = world.rooms["a"]
    as_user(client, world.user("a_staff"))
    resp = client.post(
        reverse("workorders:new"),
        {"category": category.pk, "location": [room.parent.pk, ""], "description": ""},
    )
    body = resp.content.decode()
    assert resp.status_code == 422
    # compound, building and floor selected; the floor's rooms offered below
    assert body.count("selected>") >= 3
    assert f'<option value="{room.parent.pk}" selected>' in body
    assert 'data-testid="loc-level-3"' in body and "101室" in body


def test_it_picks_locations_level_by_level_within_scope(client, world):
    room = world.rooms["a"]
    building = room.parent.parent
    as_user(client, world.user("a_staff"))
    resp = client.get(reverse("workorders:locations"), {"location": building.pk})
    body = resp.content.decode()
    assert resp.status_code == 200
    assert "1层" in body and "2层" in body and 'name="location"' in body
    # county B's building is not county A staff's to pick from
    b_building = world.rooms["b"].parent.parent
    as_user(client, world.user("a_staff"))
    assert (
        client.get(reverse("workorders:locations"), {"location": b_building.pk}).status_code == 404
    )


def test_the_desk_reports_on_behalf_of_a_caller(client, world, repair):
    category, _team = repair
    as_user(client, world.user("a_dispatcher"))
    page = client.get(reverse("workorders:desk_new")).content.decode()
    assert "a_staff" in page and "b_staff" not in page
    resp = client.post(
        reverse("workorders:desk_new"),
        {
            "requester": world.user("a_staff").pk,
            "category": category.pk,
            "location": world.rooms["a"].pk,
            "description": "电话报修：空调不制冷",
            "urgency": "urgent",
            "contact_phone": "0571-1234567",
        },
    )
    assert resp.status_code == 302
    order = WorkOrder.objects.get()
    assert order.requester == world.user("a_staff")
    assert order.created_by == world.user("a_dispatcher")
    assert order.channel == Channel.DESK and order.urgency == "urgent"
    as_user(client, world.user("a_staff"))
    assert client.get(reverse("workorders:desk_new")).status_code == 403


# --- the requester's pages, scope ----------------------------------------------------


def test_staff_see_only_their_own_requests(client, world, repair):
    category, _team = repair
    mine = submit(world, category, "a_staff")
    world.users["a_staff2"] = make_user("a_staff2", world.county_a, Role.STAFF)
    theirs = submit(world, category, "a_staff2")
    b_order = submit(world, category, "b_staff", key="b")
    as_user(client, world.user("a_staff"))
    body = client.get(reverse("workorders:mine")).content.decode()
    assert mine.number in body
    assert theirs.number not in body and b_order.number not in body
    assert client.get(reverse("workorders:detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("workorders:list")).status_code == 302  # no list for staff


def test_county_b_cannot_open_county_a_orders(client, world, repair):
    category, _team = repair
    order = submit(world, category)
    for name in ("b_manager", "b_dispatcher", "b_staff", "b_admin"):
        as_user(client, world.user(name))
        assert client.get(reverse("workorders:detail", args=[order.pk])).status_code == 404
        resp = client.post(
            reverse("workorders:act", args=[order.pk, "cancel"]),
            {"version": order.version, "reason": "x"},
        )
        assert resp.status_code == 404
    order.refresh_from_db()
    assert order.status == Status.SUBMITTED
    as_user(client, world.user("b_dispatcher"))
    assert order.number not in client.get(reverse("workorders:list")).content.decode()
    for name in ("a_dispatcher", "city_manager"):
        as_user(client, world.user(name))
        assert client.get(reverse("workorders:detail", args=[order.pk])).status_code == 200


def test_the_requester_cancels_and_the_stale_form_is_refused(client, world, repair):
    category, _team = repair
    order = submit(world, category)
    as_user(client, world.user("a_staff"))
    url = reverse("workorders:act", args=[order.pk, "cancel"])
    resp = client.post(url, {"version": order.version + 5, "reason": "不需要了"})
    assert resp.status_code == 409
    assert "已被他人更新，请刷新" in resp.content.decode()
    resp = client.post(url, {"version": order.version, "reason": "不需要了"})
    assert resp.status_code == 302
    order.refresh_from_db()
    assert order.status == Status.CANCELLED


# --- the desk dispatches, the worker works, the requester rates ----------------------


def test_the_desk_dispatches_from_the_order_page(client, world, repair):
    category, team = repair
    order = submit(world, category)
    as_user(client, world.user("a_dispatcher"))
    detail = client.get(reverse("workorders:detail", args=[order.pk])).content.decode()
    assert 'data-testid="dispatch-form"' in detail and "甲县物业维修班" in detail
    resp = client.post(
        reverse("workorders:act", args=[order.pk, "auto_dispatch"]), {"version": order.version}
    )
    assert resp.status_code == 302
    order.refresh_from_db()
    assert order.status == Status.DISPATCHED and order.team == team


def test_the_worker_accepts_arrives_pauses_resumes_resolves_and_staff_rate(client, world, repair):
    category, team = repair
    order = dispatched(world, category, team)
    worker = world.user("vendor_worker")
    as_user(client, worker)
    queue = client.get(reverse("workorders:queue")).content.decode()
    assert f'data-testid="card-{order.number}"' in queue
    assert 'data-testid="accept"' in queue

    htmx = {"HTTP_HX_REQUEST": "true"}

    def step(action, **data):
        order.refresh_from_db()
        payload = {"version": order.version, "from": "queue", **data}
        return client.post(reverse("workorders:act", args=[order.pk, action]), payload, **htmx)

    resp = step("accept")
    assert resp.status_code == 200
    assert "已接单" in resp.content.decode()
    # a second device still holding the old version gets the clear message
    stale = client.post(
        reverse("workorders:act", args=[order.pk, "arrive"]),
        {"version": order.version, "from": "queue"},
        **htmx,
    )
    assert "已被他人更新，请刷新" in stale.content.decode()
    assert step("arrive").status_code == 200
    # a reason the rule does not allow is refused; an allowed one pauses the clocks
    resp = step("pause", reason="想休息")
    order.refresh_from_db()
    assert order.status == Status.ON_SITE
    resp = step("pause", reason="等待配件")
    order.refresh_from_db()
    assert order.status == Status.PAUSED and order.pause_reason == "等待配件"
    assert "恢复计时" in resp.content.decode()
    step("resume")
    order.refresh_from_db()
    assert order.status == Status.ON_SITE
    resp = step(
        "resolve",
        resolution="更换阀芯",
        material_name=["阀芯", ""],
        material_qty=["1", ""],
        material_unit=["个", ""],
        material_price=["25", ""],
        cost="25",
        photos=[jpeg("done.jpg")],
    )
    assert resp.status_code == 200
    order.refresh_from_db()
    assert order.status == Status.RESOLVED
    assert order.materials[0]["name"] == "阀芯" and float(order.cost) == 25
    assert order.photos.filter(kind="completion").count() == 1

    as_user(client, world.user("a_staff"))
    detail = client.get(reverse("workorders:detail", args=[order.pk])).content.decode()
    assert 'data-testid="rate-form"' in detail
    resp = client.post(
        reverse("workorders:act", args=[order.pk, "rate"]),
        {
            "version": order.version,
            "rating": "5",
            "tags": ["响应及时", "质量好"],
            "comment": "很快",
        },
    )
    assert resp.status_code == 302
    order.refresh_from_db()
    assert order.status == Status.CONFIRMED and order.rating == 5
    assert order.rating_tags == ["响应及时", "质量好"]
    detail = client.get(reverse("workorders:detail", args=[order.pk])).content.decode()
    assert 'data-testid="rating"' in detail and "很快" in detail
    assert 'data-testid="reopen-form"' in detail


def test_the_queue_holds_only_my_work(client, world, repair):
    category, team = repair
    order = dispatched(world, category, team)
    other = submit(world, category)  # not dispatched
    as_user(client, world.user("vendor_worker"))
    body = client.get(reverse("workorders:queue")).content.decode()
    assert order.number in body and other.number not in body
    assert client.get(reverse("workorders:detail", args=[other.pk])).status_code == 404
    as_user(client, world.user("a_staff"))
    assert order.number not in client.get(reverse("workorders:queue")).content.decode()


# --- the desk's list, filters, export ------------------------------------------------


@pytest.fixture
def listed(world, repair):
    category, team = repair
    other_cat = ServiceCategory.objects.create(
        org=world.city, code="clean", name="保洁", sla_category="clean"
    )
    now = timezone.now()
    a_room, b_room = world.rooms["a"], world.rooms["b"]
    rows = {
        "open": orm_order(world, category, a_room, description="门锁坏了"),
        "late": orm_order(world, category, a_room, status=Status.DISPATCHED, overdue=True),
        "clean": orm_order(world, other_cat, a_room, status=Status.CLOSED),
        "vendor": orm_order(
            world, category, a_room, status=Status.ACCEPTED, team=team, vendor=world.vendor
        ),
        "b": orm_order(world, category, b_room, requester=world.user("b_staff")),
    }
    # an open clock past due makes an order overdue even before any job flagged it
    orm_timer(rows["vendor"], started=now - timedelta(hours=2))
    return rows


def test_the_list_filters_by_status_category_overdue_vendor_org_and_search(client, world, listed):
    as_user(client, world.user("a_dispatcher"))
    url = reverse("workorders:list")

    def shown(**params):
        body = client.get(url, params).content.decode()
        return {k for k, o in listed.items() if f'data-testid="row-{o.number}"' in body}

    assert shown() == {"open", "late", "clean", "vendor"}
    assert shown(status="open") == {"open", "late", "vendor"}
    assert shown(status="closed") == {"clean"}
    assert shown(category=listed["clean"].category_id) == {"clean"}
    assert shown(overdue="on") == {"late", "vendor"}
    assert shown(vendor=world.vendor.pk) == {"vendor"}
    assert shown(q="门锁") == {"open"}
    assert shown(q=listed["late"].number) == {"late"}
    building = world.rooms["a"].parent.parent
    assert shown(location=building.pk) == {"open", "late", "clean", "vendor"}
    as_user(client, world.user("city_manager"))
    assert shown(org=world.county_b.pk) == {"b"}
    assert shown() == set(listed)


def test_the_list_paginates_by_fifty(client, world, repair):
    category, _team = repair
    for _ in range(55):
        orm_order(world, category, world.rooms["a"])
    as_user(client, world.user("a_dispatcher"))
    body = client.get(reverse("workorders:list")).content.decode()
    assert body.count('data-testid="row-') == 50
    body = client.get(reverse("workorders:list"), {"page": 2}).content.decode()
    assert body.count('data-testid="row-') == 5


def test_the_export_holds_the_filtered_rows_in_scope(client, world, listed):
    as_user(client, world.user("a_dispatcher"))
    resp = client.get(reverse("workorders:export"), {"status": "open"})
    assert resp.status_code == 200
    wb = load_workbook(BytesIO(resp.content))
    ws = wb.active
    numbers = {row[0] for row in ws.iter_rows(min_row=2, values_only=True)}
    assert numbers == {listed[k].number for k in ("open", "late", "vendor")}
    as_user(client, world.user("a_staff"))
    assert client.get(reverse("workorders:export")).status_code == 403


def test_list_and_dashboard_cost_the_same_queries_for_500_orders(
    client, world, repair, django_assert_max_num_queries
):
    category, team = repair
    for key in ("a", "b"):  # one order each, so the baseline pages hold rows too
        orm_timer(orm_order(world, category, world.rooms[key], rating=4), met_after=10)
    as_user(client, world.user("city_manager"))
    client.get(reverse("workorders:list"))  # warm caches (sessions, content types)
    client.get(reverse("workorders:dashboard"))
    with django_assert_max_num_queries(30) as few:
        client.get(reverse("workorders:list"))
    with django_assert_max_num_queries(30) as few_dash:
        client.get(reverse("workorders:dashboard"))
    base, base_dash = len(few.captured_queries), len(few_dash.captured_queries)
    rooms = [world.rooms["a"], world.rooms["b"]]
    orders = [
        WorkOrder(
            org=rooms[i % 2].org,
            number=f"B{i:09d}",
            category=category,
            location=rooms[i % 2],
            description="批量",
            requester=world.user("a_staff"),
            created_by=world.user("a_staff"),
            status=[Status.SUBMITTED, Status.DISPATCHED, Status.CLOSED][i % 3],
            team=team if i % 3 else None,
            vendor=world.vendor if i % 3 else None,
            rating=(i % 5) + 1 if i % 3 == 2 else None,
            submitted_at=timezone.now() - timedelta(hours=i),
        )
        for i in range(500)
    ]
    WorkOrder.objects.bulk_create(orders)
    with django_assert_max_num_queries(base):
        resp = client.get(reverse("workorders:list"))
    assert resp.content.decode().count('data-testid="row-') == 50
    with django_assert_max_num_queries(base_dash):
        resp = client.get(reverse("workorders:dashboard"))
    assert resp.status_code == 200


def test_the_dashboard_is_for_overseers_and_shows_figures(client, world, listed):
    listed["clean"].rating = 5
    listed["clean"].save(update_fields=["rating"])
    as_user(client, world.user("a_manager"))
    resp = client.get(reverse("workorders:dashboard"))
    body = resp.content.decode()
    assert resp.status_code == 200
    assert 'id="wo-dashboard-data"' in body
    assert 'data-testid="total">4<' in body  # county B's order is not county A's
    assert 'data-testid="mean-rating">5.0<' in body or 'data-testid="mean-rating">5<' in body
    as_user(client, world.user("a_staff"))
    assert client.get(reverse("workorders:dashboard")).status_code == 403
    as_user(client, world.user("vendor_worker"))
    assert client.get(reverse("workorders:dashboard")).status_code == 403
