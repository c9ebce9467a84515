"""The managers' pages for appointment services: list, create and edit a service with
its providers (through ``appointments.save_service``), and close or reopen a slot from
the day list (``appointments.close_slot``). Staff get 403; county B's managers get 404
on county A's services and slots. The clock is Monday 2026-12-07 09:00 Shanghai."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dayuan.audit.models import AuditEntry

from .. import appointments
from ..models import Appointment, AppointmentService, Provider, Slot
from .factories import MONDAY, at, build

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY.date() + timedelta(days=1)


@pytest.fixture
def s(world, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: MONDAY)
    return build(world)


def browser(s, name: str) -> Client:
    c = Client()
    c.force_login(s.user(name))
    return c


def service_data(s, **kw):
    data = {
        "org": s.world.county_a.pk,
        "location": s.room_a.location_id,
        "code": "car_wash",
        "name": "甲县洗车点",
        "description": "机关大院东门",
        "slot_minutes": "60",
        "seats_per_slot": "2",
        "opens_at": "09:00",
        "closes_at": "17:00",
        "breaks": "12:00-13:00",
        "open_days": "workdays",
        "book_ahead_days": "3",
        "min_lead_minutes": "30",
        "cancel_before_minutes": "60",
        "per_person_open_limit": "1",
        "providers": "赵师傅\n钱师傅",
        "is_active": "on",
    }
    data.update({k: str(v) for k, v in kw.items()})
    return data


def test_staff_get_403_and_county_b_managers_404(s):
    staff = browser(s, "a_staff")
    for url in (
        "/bookings/manage/services/",
        "/bookings/manage/services/new/",
        f"/bookings/manage/services/{s.barber.pk}/",
    ):
        assert staff.get(url).status_code == 403
    assert staff.post("/bookings/manage/services/new/", service_data(s)).status_code == 403
    assert "tab-manage-services" not in staff.get("/bookings/services/").content.decode()
    version = s.barber.version
    b = browser(s, "b_manager")
    assert (
        f'data-testid="service-row-{s.barber.pk}"'
        not in b.get("/bookings/manage/services/").content.decode()
    )
    url = f"/bookings/manage/services/{s.barber.pk}/"
    assert b.get(url).status_code == 404
    data = service_data(s, code="barber", name="改名", org=s.world.county_b.pk)
    assert b.post(url, data).status_code == 404
    s.barber.refresh_from_db()
    assert s.barber.name == "甲县理发室" and s.barber.version == version
    assert not AppointmentService.objects.filter(code="car_wash").exists()


def test_manager_creates_a_service_with_providers_and_its_slots(s):
    m = browser(s, "a_manager")
    listing = m.get("/bookings/manage/services/").content.decode()
    assert f'data-testid="service-row-{s.barber.pk}"' in listing
    assert 'data-testid="tab-manage-services"' in listing
    resp = m.post("/bookings/manage/services/new/", service_data(s))
    assert resp.status_code == 302, resp.content.decode()[:3000]
    svc = AppointmentService.objects.get(code="car_wash")
    assert svc.org == s.world.county_a and svc.seats_per_slot == 2
    assert svc.breaks == [{"start": "12:00", "end": "13:00"}]
    assert list(svc.providers.values_list("name", flat=True)) == ["赵师傅", "钱师傅"]
    tuesday = Slot.objects.filter(
        service=svc, start_at__gte=at(2026, 12, 8, 0), start_at__lt=at(2026, 12, 9, 0)
    )
    assert [timezone.localtime(x.start_at).hour for x in tuesday] == [9, 10, 11, 13, 14, 15, 16]
    assert AuditEntry.objects.filter(action="bookings.save_service", object_id=str(svc.pk)).exists()
    assert "甲县洗车点" in m.get(resp["Location"]).content.decode()


def test_manager_edits_the_barber_and_its_providers(s):
    m = browser(s, "a_manager")
    url = f"/bookings/manage/services/{s.barber.pk}/"
    page = m.get(url).content.decode()
    assert "张师傅\n李师傅\n王师傅" in page and "12:00-13:30" in page
    data = service_data(
        s,
        version=s.barber.version,
        code="barber",
        name="甲县理发室",
        slot_minutes=30,
        seats_per_slot=2,
        breaks="12:00-13:30",
        providers="张师傅，王师傅",
        org=s.world.county_b.pk,  # ignored: a service stays with its organisation
    )
    resp = m.post(url, data)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    s.barber.refresh_from_db()
    assert s.barber.seats_per_slot == 2 and s.barber.org == s.world.county_a
    active = Provider.objects.filter(service=s.barber, is_active=True).order_by("sort")
    assert [p.name for p in active] == ["张师傅", "王师傅"]
    assert Provider.objects.get(service=s.barber, name="李师傅").is_active is False
    # the version posted is stale now: refused, nothing saved
    resp = m.post(url, {**data, "name": "又改"})
    assert resp.status_code == 422 and "已被他人更新" in resp.content.decode()
    s.barber.refresh_from_db()
    assert s.barber.name == "甲县理发室"


def test_refusals_show_next_to_their_fields_in_chinese(s):
    m = browser(s, "a_manager")
    resp = m.post("/bookings/manage/services/new/", service_data(s, breaks="中午"))
    assert resp.status_code == 422
    assert "休息时段“中午”格式无效" in resp.content.decode()
    resp = m.post("/bookings/manage/services/new/", service_data(s, code="barber"))
    assert resp.status_code == 422
    assert "该单位已有相同代码的服务" in resp.content.decode()
    resp = m.post(
        "/bookings/manage/services/new/", service_data(s, opens_at="09:00", closes_at="09:30")
    )
    assert resp.status_code == 422 and "营业时间须长于一个时段" in resp.content.decode()
    assert not AppointmentService.objects.filter(code="car_wash").exists()


def test_manager_closes_and_reopens_a_slot_from_the_day_list(s):
    appointments.generate_slots(s.barber, start=MONDAY.date(), days=3)
    slot = s.barber.slots.get(start_at=at(2026, 12, 8, 10))
    m = browser(s, "a_manager")
    day_url = f"/bookings/services/{s.barber.pk}/day/?date={TUESDAY.isoformat()}"
    page = m.get(day_url).content.decode()
    assert 'data-testid="day-slots"' in page and 'data-testid="close-slot-1000"' in page
    resp = m.post(f"/bookings/manage/slots/{slot.pk}/close/", {"closed": "1", "next": day_url})
    assert resp.status_code == 302 and resp["Location"] == day_url
    slot.refresh_from_db()
    assert slot.is_open is False
    page = m.get(day_url).content.decode()
    assert 'data-testid="open-slot-1000"' in page and "该时段已暂停预约" in page
    # staff see it paused and cannot book it
    staff = browser(s, "a_staff")
    picker = staff.get(f"/bookings/services/{s.barber.pk}/", {"date": TUESDAY.isoformat()})
    assert 'data-testid="book-slot-1000"' not in picker.content.decode()
    staff.post(f"/bookings/slots/{slot.pk}/book/", {"client_key": "x1"})
    assert not Appointment.objects.exists()
    resp = m.post(f"/bookings/manage/slots/{slot.pk}/close/", {"closed": "0"})
    assert resp.status_code == 302
    slot.refresh_from_db()
    assert slot.is_open is True
    assert AuditEntry.objects.filter(action="bookings.close_slot").count() == 2


def test_slot_close_is_refused_to_staff_and_other_counties(s):
    appointments.generate_slots(s.barber, start=MONDAY.date(), days=3)
    slot = s.barber.slots.get(start_at=at(2026, 12, 8, 10))
    assert browser(s, "a_staff").post(f"/bookings/manage/slots/{slot.pk}/close/").status_code == 403
    b = browser(s, "b_manager")
    assert b.post(f"/bookings/manage/slots/{slot.pk}/close/").status_code == 404
    assert b.get(f"/bookings/services/{s.barber.pk}/day/").status_code == 404
    # an outside "next" is not followed
    m = browser(s, "a_manager")
    resp = m.post(
        f"/bookings/manage/slots/{slot.pk}/close/", {"next": "https://evil.example/phish"}
    )
    assert resp["Location"] == "/bookings/manage/services/"
    slot.refresh_from_db()
    assert slot.is_open is False
    # a service worker marks appointments but does not see the slot controls
    page = browser(s, "a_dispatcher").get(
        f"/bookings/services/{s.barber.pk}/day/", {"date": TUESDAY.isoformat()}
    )
    assert page.status_code == 200 and 'data-testid="day-slots"' not in page.content.decode()
