"""The booking pages: they render for the right users, county B gets 404 on county A's
bookings and rooms, forms post through the services, and refusals show the Chinese
message citing the clause. The clock is set to Monday 2026-12-07 09:00 Shanghai (a
working day, inside the standard's request windows)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dayuan.core.testing import World
from dayuan.notifications.models import Notification

from .. import appointments, events, services
from ..models import Appointment, Booking, BookingSeries, MeetingService, Room
from .factories import MONDAY, at, build

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY.date() + timedelta(days=1)


class Clock:
    def __init__(self) -> None:
        self.at = MONDAY

    def __call__(self):
        return self.at


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timezone, "now", c)
    return c


@pytest.fixture
def s(world: World, clock):
    return build(world)


def browser(s, name: str) -> Client:
    c = Client()
    c.force_login(s.user(name))
    return c


def form_data(**kw):
    data = {
        "client_key": "k-" + str(kw.pop("key", "1")),
        "date": TUESDAY.isoformat(),
        "start": "10:00",
        "end": "11:00",
        "title": "周例会",
        "attendees": "10",
        "organizer_unit": "",
        "meeting_type": "office",
        "contact_name": "张三",
        "contact_phone": "13800000000",
        "priority": "normal",
        "weeks": "4",
    }
    data.update({k: str(v) for k, v in kw.items()})
    return data


def post_booking(c, s, room=None, **kw):
    data = form_data(**kw)
    if not data["organizer_unit"]:
        data["organizer_unit"] = str(s.world.county_a.pk)
    return c.post(f"/bookings/rooms/{(room or s.room_a).pk}/book/", data)


def direct(s, user="a_staff", room=None, start=None, minutes=60, **kw):
    start = start or at(2026, 12, 8, 14)
    return services.book_room(
        actor=s.user(user),
        room_id=(room or s.room_a).pk,
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        title=kw.pop("title", "专题会"),
        attendees=kw.pop("attendees", 8),
        contact_name="李四",
        contact_phone="13900000000",
        now=MONDAY,
        **kw,
    )


# --- finding a room ----------------------------------------------------------------------


def test_nav_and_search_show_only_rooms_the_user_may_book(s):
    c = browser(s, "a_staff")
    page = c.get("/bookings/").content.decode()
    assert 'data-nav="bookings"' in page and "找会议室" in page
    resp = c.get(
        "/bookings/",
        {"date": TUESDAY.isoformat(), "start": "10:00", "end": "11:00", "attendees": "10"},
    )
    body = resp.content.decode()
    assert resp.status_code == 200
    assert f'data-testid="room-{s.room_a.pk}"' in body
    assert f'data-testid="room-{s.shared.pk}"' in body  # shared with every org
    assert f'data-testid="room-{s.small_a.pk}"' not in body  # 8 seats < 10
    assert f'data-testid="room-{s.room_b.pk}"' not in body  # county B's


def test_search_filters_equipment_and_rejects_a_bad_range(s):
    c = browser(s, "a_staff")
    q = {"date": TUESDAY.isoformat(), "start": "10:00", "end": "11:00", "equipment": "video"}
    body = c.get("/bookings/", q).content.decode()
    assert f'data-testid="room-{s.shared.pk}"' in body
    assert f'data-testid="room-{s.room_a.pk}"' not in body
    resp = c.get("/bookings/", {**q, "end": "09:00"})
    assert resp.status_code == 422
    assert "结束时间须晚于开始时间" in resp.content.decode()


def test_day_view_shows_titles_only_to_those_who_may_see_them(s):
    direct(s, user="a_manager", title="党组会", start=at(2026, 12, 8, 9))
    staff = browser(s, "a_staff").get(
        "/bookings/day/", {"date": TUESDAY.isoformat(), "building": s.building_a.pk}
    )
    body = staff.content.decode()
    assert f'data-testid="dayroom-{s.room_a.pk}"' in body
    assert "已占用" in body and "党组会" not in body
    manager = browser(s, "a_manager").get(
        "/bookings/day/", {"date": TUESDAY.isoformat(), "building": s.building_a.pk}
    )
    assert "党组会" in manager.content.decode()


def test_room_week_view_and_county_b_gets_404(s):
    direct(s, title="周会", start=at(2026, 12, 9, 14))
    resp = browser(s, "a_staff").get(f"/bookings/rooms/{s.room_a.pk}/", {"week": "2026-12-09"})
    body = resp.content.decode()
    assert resp.status_code == 200
    assert 'data-testid="weekday-2026-12-09"' in body and "周会" in body
    b = browser(s, "b_staff")
    assert b.get(f"/bookings/rooms/{s.room_a.pk}/").status_code == 404
    assert b.get(f"/bookings/rooms/{s.room_a.pk}/book/").status_code == 404


# --- booking -----------------------------------------------------------------------------


def test_booking_with_tea_service_goes_through_the_service(s):
    c = browser(s, "a_staff")
    resp = post_booking(c, s, svc_tea="on", svc_note_tea="绿茶", equipment="projector")
    assert resp.status_code == 302, resp.content.decode()[:2000]
    booking = Booking.objects.get()
    assert resp["Location"] == f"/bookings/{booking.pk}/"
    assert booking.status == "confirmed" and booking.equipment == ["projector"]
    assert booking.start_at == at(2026, 12, 8, 10)
    tea = MeetingService.objects.get(booking=booking)
    assert tea.kind == "tea" and tea.note == "绿茶" and tea.workorder is not None
    detail = c.get(resp["Location"]).content.decode()
    assert booking.number in detail and "已确认" in detail
    assert tea.workorder.number in detail  # the service's work order
    assert "茶水备齐" in detail  # its clock, due before the start
    assert 'data-testid="checkin"' not in detail  # the window opens 15 min before
    mine = c.get("/bookings/mine/").content.decode()
    assert f'data-testid="booking-{booking.number}"' in mine
    assert "/bookings/feed/" in mine  # the personal calendar feed
    # a double tap (same client key) gives the same booking back
    post_booking(c, s, svc_tea="on")
    assert Booking.objects.count() == 1


def test_refusal_cites_the_clause_and_writes_nothing(s):
    c = browser(s, "a_staff")
    resp = post_booking(c, s, contact_phone="")
    body = resp.content.decode()
    assert resp.status_code == 422
    assert "第 M4 条" in body and 'data-testid="violations"' in body
    resp = post_booking(c, s, key=2, date=MONDAY.date().isoformat(), start="10:00", end="10:30")
    assert resp.status_code == 422
    assert "第 M1 条" in resp.content.decode()  # only an hour ahead
    assert not Booking.objects.exists()


def test_a_taken_time_shows_the_conflict_without_the_other_booking(s):
    direct(s, user="a_manager", title="保密会议", start=at(2026, 12, 8, 10))
    resp = post_booking(browser(s, "a_staff"), s)
    body = resp.content.decode()
    assert resp.status_code == 409
    assert 'data-testid="conflict"' in body and "10:00" in body
    assert "保密会议" not in body
    assert Booking.objects.count() == 1


def test_manager_displaces_a_normal_booking_through_the_form(s):
    old = direct(s, title="科室例会", start=at(2026, 12, 8, 10))
    m = browser(s, "a_manager")
    form = m.get(f"/bookings/rooms/{s.room_a.pk}/book/").content.decode()
    assert 'data-testid="displace"' in form and 'data-testid="displace-reason"' in form
    # first try: the time is taken; the page says a higher priority may displace it
    resp = post_booking(m, s, key="m1", title="市领导调研座谈", priority="important")
    body = resp.content.decode()
    assert resp.status_code == 409 and 'data-testid="conflict"' in body
    assert "重要优先、紧急优先" in body
    # without a reason: refused next to the reason box, nothing changed
    resp = post_booking(m, s, key="m1", title="市领导调研座谈", priority="important", displace="on")
    assert resp.status_code == 422 and "请填写调整原因" in resp.content.decode()
    old.refresh_from_db()
    assert old.status == "confirmed" and Booking.objects.count() == 1
    resp = post_booking(
        m,
        s,
        key="m1",
        title="市领导调研座谈",
        priority="important",
        displace="on",
        displace_reason="市领导临时调研",
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    new = Booking.objects.get(title="市领导调研座谈")
    assert resp["Location"] == f"/bookings/{new.pk}/"
    assert new.status == "confirmed" and new.priority == "important"
    old.refresh_from_db()
    assert old.status == "displaced" and not old.active
    assert old.displaced_by == new and old.displace_reason == "市领导临时调研"
    note = Notification.objects.get(recipient=s.user("a_staff"), event__type=events.DISPLACED)
    assert "市领导临时调研" in note.body and old.number in note.body
    assert "甲县小会议室" in note.body and "市级共享会议室" in note.body  # alternatives
    assert s.room_a.name not in note.body.split("可选空闲会议室")[1]  # taken now
    # the displaced booker sees it on the booking's page
    page = browser(s, "a_staff").get(f"/bookings/{old.pk}/").content.decode()
    assert "已被调整" in page and "市领导临时调研" in page


def test_a_refused_emergency_is_shown_next_to_its_box(s):
    resp = post_booking(browser(s, "a_staff"), s, emergency="on")
    assert resp.status_code == 422
    assert 'data-testid="errors-emergency"' in resp.content.decode()
    assert "该类会议室不受理紧急会议先用后登记" in resp.content.decode()
    assert not Booking.objects.exists()


def test_staff_without_manage_cannot_displace(s):
    old = direct(s, user="a_manager", title="科室例会", start=at(2026, 12, 8, 10))
    c = browser(s, "a_dispatcher")
    form = c.get(f"/bookings/rooms/{s.room_a.pk}/book/").content.decode()
    assert 'data-testid="displace"' not in form  # no box for them
    resp = post_booking(
        c, s, title="加塞", priority="urgent", displace="on", displace_reason="很急"
    )  # posted anyway
    body = resp.content.decode()
    assert resp.status_code == 403
    assert "只有会议室管理人员可以调整已有预订" in body
    old.refresh_from_db()
    assert old.status == "confirmed" and old.active and old.displaced_by is None
    assert Booking.objects.count() == 1
    assert not Notification.objects.filter(event__type=events.DISPLACED).exists()


def test_weekly_repeat_books_the_free_weeks_and_lists_the_conflicts(s):
    direct(s, user="a_manager", start=at(2026, 12, 15, 10))  # the second week is taken
    c = browser(s, "a_staff")
    resp = post_booking(c, s, repeat="on", weeks=3)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    series = BookingSeries.objects.get()
    assert resp["Location"] == f"/bookings/series/{series.pk}/"
    assert series.rrule == "FREQ=WEEKLY;COUNT=3"
    body = c.get(resp["Location"]).content.decode()
    assert body.count('data-testid="series-conflict"') == 1
    assert "2026-12-15" in body
    assert Booking.objects.filter(series=series).count() == 2
    # someone else's series is not found
    assert browser(s, "a_manager").get(resp["Location"]).status_code == 404


def test_county_b_gets_404_on_county_a_bookings_and_actions(s):
    booking = direct(s)
    for name in ("b_staff", "b_manager"):
        c = browser(s, name)
        assert c.get(f"/bookings/{booking.pk}/").status_code == 404
        assert c.get(f"/bookings/{booking.pk}/booking.ics").status_code == 404
        assert c.post(f"/bookings/{booking.pk}/cancel/").status_code == 404
    assert booking.number not in browser(s, "b_manager").get("/bookings/overview/", {
        "date": "2026-12-08"}).content.decode()  # fmt: skip
    overview = browser(s, "a_manager").get("/bookings/overview/", {"date": "2026-12-08"})
    assert booking.number in overview.content.decode()
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_ics_download_and_cancel(s):
    booking = direct(s)
    c = browser(s, "a_staff")
    ics = c.get(f"/bookings/{booking.pk}/booking.ics")
    assert ics.status_code == 200 and ics["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in ics.content
    resp = c.post(f"/bookings/{booking.pk}/cancel/", {"reason": "改期"})
    assert resp.status_code == 302
    booking.refresh_from_db()
    assert booking.status == "cancelled" and booking.cancel_reason == "改期"
    assert "预订已取消" in c.get(resp["Location"]).content.decode()


def test_qr_landing_checks_the_booker_in_during_the_window(s, clock):
    booking = direct(s, start=at(2026, 12, 8, 14))
    token = s.room_a.checkin_token
    clock.at = at(2026, 12, 8, 13)  # an hour early
    c = browser(s, "a_staff")
    resp = c.post(f"/bookings/checkin/{token}/")
    assert resp.status_code == 422
    booking.refresh_from_db()
    assert booking.status == "confirmed"
    clock.at = at(2026, 12, 8, 13, 55)
    page = c.get(f"/bookings/checkin/{token}/").content.decode()
    assert "专题会" in page and 'data-testid="checkin-submit"' in page
    resp = c.post(f"/bookings/checkin/{token}/")
    assert resp.status_code == 302 and resp["Location"] == f"/bookings/{booking.pk}/"
    booking.refresh_from_db()
    assert booking.status == "checked_in"
    assert browser(s, "b_staff").get(f"/bookings/checkin/{token}/").status_code == 404
    assert c.get("/bookings/checkin/no-such-token/").status_code == 404


def test_approvals_queue_approve_and_reject_with_reason(s):
    Room.objects.filter(pk=s.small_a.pk).update(requires_approval=True)
    one = direct(s, room=s.small_a, start=at(2026, 12, 8, 9))
    two = direct(s, room=s.small_a, start=at(2026, 12, 8, 14))
    assert one.status == two.status == "pending"
    assert browser(s, "a_staff").get("/bookings/approvals/").status_code == 403
    assert one.number not in browser(s, "b_manager").get("/bookings/approvals/").content.decode()
    m = browser(s, "a_manager")
    body = m.get("/bookings/approvals/").content.decode()
    assert f'data-testid="pending-{one.number}"' in body
    m.post(f"/bookings/{one.pk}/approve/", {"next": "/bookings/approvals/"})
    resp = m.post(f"/bookings/{two.pk}/reject/", {"reason": ""})
    assert "请写明不通过的原因" in m.get(resp["Location"]).content.decode()
    m.post(f"/bookings/{two.pk}/reject/", {"reason": "与重要会议冲突"})
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.status == "confirmed" and two.status == "rejected"
    assert two.decision_note == "与重要会议冲突"


def test_service_staff_start_the_after_meeting_checklist(s, clock):
    booking = direct(s, start=at(2026, 12, 8, 9))
    clock.at = at(2026, 12, 8, 10, 5)
    m = browser(s, "a_manager")
    detail = m.get(f"/bookings/{booking.pk}/").content.decode()
    assert 'data-testid="check-meeting.after"' in detail
    resp = m.post(f"/bookings/{booking.pk}/checks/meeting.after/")
    assert resp.status_code == 302 and "/inspections/" in resp["Location"]


# --- rooms -------------------------------------------------------------------------------


def test_room_management_list_form_and_printable_qr(s):
    assert browser(s, "a_staff").get("/bookings/manage/rooms/").status_code == 403
    m = browser(s, "a_manager")
    body = m.get("/bookings/manage/rooms/").content.decode()
    assert f'data-testid="room-row-{s.room_a.pk}"' in body
    assert f'data-testid="room-row-{s.room_b.pk}"' not in body
    qr = m.get(f"/bookings/manage/rooms/{s.room_a.pk}/qr/").content.decode()
    assert "<svg" in qr and f"/bookings/checkin/{s.room_a.checkin_token}/" in qr
    assert (
        browser(s, "b_manager").get(f"/bookings/manage/rooms/{s.room_a.pk}/qr/").status_code == 404
    )
    form = m.get(f"/bookings/manage/rooms/{s.room_a.pk}/")
    assert form.status_code == 200
    data = {
        "version": s.room_a.version,
        "org": s.world.county_a.pk,
        "location": s.room_a.location_id,
        "name": "甲县第一会议室（改）",
        "resource_class": "meeting_room",
        "capacity": 24,
        "equipment": ["projector", "screen"],
        "opens_at": "08:00",
        "closes_at": "18:00",
        "open_days": "workdays",
        "checkin_required": "on",
        "checkin_grace_minutes": 15,
        "is_active": "on",
    }
    resp = m.post(f"/bookings/manage/rooms/{s.room_a.pk}/", data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    s.room_a.refresh_from_db()
    assert s.room_a.capacity == 24 and s.room_a.name.endswith("（改）")
    old = s.room_a.checkin_token
    m.post(f"/bookings/manage/rooms/{s.room_a.pk}/rotate/")
    s.room_a.refresh_from_db()
    assert s.room_a.checkin_token != old


# --- appointments ------------------------------------------------------------------------


def test_barber_slot_booked_listed_cancelled_and_served(s, clock):
    appointments.generate_slots(s.barber, start=MONDAY.date(), days=7)
    c = browser(s, "a_staff")
    assert f'data-testid="service-{s.barber.code}"' in c.get("/bookings/services/").content.decode()
    page = c.get(f"/bookings/services/{s.barber.pk}/", {"date": TUESDAY.isoformat()})
    body = page.content.decode()
    assert 'data-testid="slot-1000"' in body and "余 3" in body
    slot = s.barber.slots.get(start_at=at(2026, 12, 8, 10))
    resp = c.post(f"/bookings/slots/{slot.pk}/book/", {"client_key": "a1"})
    assert resp.status_code == 302
    appt = Appointment.objects.get()
    mine = c.get("/bookings/appointments/").content.decode()
    assert f'data-testid="appt-{appt.number}"' in mine
    # a second open appointment is refused by the per-person limit, shown as a message
    other = s.barber.slots.get(start_at=at(2026, 12, 8, 11))
    resp = c.post(f"/bookings/slots/{other.pk}/book/", {"client_key": "a2"}, follow=True)
    assert Appointment.objects.count() == 1
    assert "每人最多同时保留 1 个未完成的预约" in resp.content.decode()
    c.post(f"/bookings/appointments/{appt.pk}/cancel/")
    appt.refresh_from_db()
    assert appt.status == "cancelled"
    # book again; the manager's day list marks it served
    c.post(f"/bookings/slots/{slot.pk}/book/", {"client_key": "a3"})
    again = Appointment.objects.get(status="booked")
    assert browser(s, "b_staff").get(f"/bookings/services/{s.barber.pk}/").status_code == 404
    m = browser(s, "a_manager")
    day = m.get(f"/bookings/services/{s.barber.pk}/day/", {"date": TUESDAY.isoformat()})
    assert f'data-testid="served-{again.number}"' in day.content.decode()
    resp = m.post(f"/bookings/appointments/{again.pk}/served/", follow=True)
    assert "预约时段尚未开始" in resp.content.decode()  # the refusal, in Chinese
    clock.at = at(2026, 12, 8, 10, 5)
    m = browser(s, "a_manager")
    m.post(f"/bookings/appointments/{again.pk}/served/")
    again.refresh_from_db()
    assert again.status == "done"


# --- statistics --------------------------------------------------------------------------


def test_stats_page_for_managers_only(s):
    direct(s)
    assert browser(s, "a_staff").get("/bookings/stats/").status_code == 403
    resp = browser(s, "a_manager").get("/bookings/stats/", {"since": "2026-12-01"})
    body = resp.content.decode()
    assert resp.status_code == 200
    assert 'id="bk-stats-data"' in body and "bk-peak-chart" in body
    assert f'data-testid="building-{s.building_a.pk}"' in body
    assert "乙县" not in body
