"""Room photos: uploaded on the room form (re-encoded, EXIF/GPS stripped, a thumbnail
made), replaced or removed with their old files deleted, and served only to users who
may see the room (the page view and the API), never as a public media URL."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from dayuan.audit.models import AuditEntry
from dayuan.core.errors import InvalidInput, PermissionDenied
from dayuan.workorders.tests.core_factories import gps_jpeg, image_bytes, upload

from .. import services
from ..models import Room
from .factories import build

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return build(world)


def browser(s, name: str) -> Client:
    c = Client()
    c.force_login(s.user(name))
    return c


def room_form(room: Room, **extra):
    data = {
        "version": room.version,
        "org": room.org_id,
        "location": room.location_id,
        "name": room.name,
        "resource_class": room.resource_class,
        "capacity": room.capacity,
        "equipment": list(room.equipment),
        "opens_at": "08:00",
        "closes_at": "18:00",
        "open_days": room.open_days,
        "checkin_required": "on",
        "checkin_grace_minutes": room.checkin_grace_minutes,
        "is_active": "on",
    }
    data.update(extra)
    return data


def set_photo(s, room=None, data=None, name="room.jpg", **kw) -> Room:
    room = room or s.room_a
    return services.save_room(
        actor=s.user("a_manager"), room_id=room.pk, photo=upload(data or gps_jpeg(), name), **kw
    )


def stored(field) -> Image.Image:
    with field.storage.open(field.name, "rb") as fh:
        img = Image.open(io.BytesIO(fh.read()))
        img.load()
    return img


# --- the service ------------------------------------------------------------------------


def test_upload_is_re_encoded_without_gps_and_gets_a_thumbnail(s):
    big = gps_jpeg(size=(800, 600))
    assert Image.open(io.BytesIO(big)).getexif().get_ifd(0x8825)  # GPS in the upload
    room = set_photo(s, data=big)
    room.refresh_from_db()
    assert room.photo.name.startswith("bookings/rooms/") and room.photo.name.endswith(".jpg")
    photo, thumb = stored(room.photo), stored(room.photo_thumb)
    assert len(photo.getexif()) == 0 and not photo.getexif().get_ifd(0x8825)
    assert photo.size == (800, 600) and max(thumb.size) <= 320
    entry = AuditEntry.objects.filter(action="bookings.save_room", object_id=str(room.pk)).last()
    assert entry.changes["photo"] == [None, room.photo.name]


def test_a_replaced_or_removed_photo_deletes_its_files_after_commit(
    s, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = set_photo(s)
    old = [first.photo.name, first.photo_thumb.name]
    assert all(default_storage.exists(n) for n in old)
    with django_capture_on_commit_callbacks(execute=True):
        second = set_photo(s, data=image_bytes("PNG"), name="b.png")
    assert second.photo.name.endswith(".png") and second.photo.name not in old
    assert not any(default_storage.exists(n) for n in old)
    kept = [second.photo.name, second.photo_thumb.name]
    with django_capture_on_commit_callbacks(execute=True):
        services.save_room(actor=s.user("a_manager"), room_id=s.room_a.pk, remove_photo=True)
    s.room_a.refresh_from_db()
    assert not s.room_a.photo and not s.room_a.photo_thumb
    assert not any(default_storage.exists(n) for n in kept)


def test_not_an_image_is_refused_and_the_old_photo_stays(s):
    room = set_photo(s)
    before = room.photo.name
    with pytest.raises(InvalidInput) as exc:
        set_photo(s, data=b"%PDF-1.4 not a picture", name="plan.pdf")
    assert exc.value.code == "invalid_photo"
    room.refresh_from_db()
    assert room.photo.name == before and default_storage.exists(before)


def test_staff_cannot_set_a_photo(s):
    with pytest.raises(PermissionDenied):
        services.save_room(actor=s.user("a_staff"), room_id=s.room_a.pk, photo=upload(gps_jpeg()))
    s.room_a.refresh_from_db()
    assert not s.room_a.photo


# --- the pages and the API --------------------------------------------------------------


def test_manager_uploads_on_the_room_form_and_the_pages_show_it(s):
    m = browser(s, "a_manager")
    page = m.get(f"/bookings/manage/rooms/{s.room_a.pk}/").content.decode()
    assert 'enctype="multipart/form-data"' in page and 'data-testid="room-photo"' in page
    resp = m.post(
        f"/bookings/manage/rooms/{s.room_a.pk}/",
        room_form(s.room_a, photo=upload(gps_jpeg(size=(640, 480)), "门口.jpg")),
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    s.room_a.refresh_from_db()
    assert s.room_a.photo and s.room_a.photo_thumb
    url = f"/bookings/rooms/{s.room_a.pk}/photo/"
    staff = browser(s, "a_staff")
    detail = staff.get(f"/bookings/rooms/{s.room_a.pk}/").content.decode()
    assert f'src="{url}"' in detail and "/media/" not in detail
    found = staff.get(
        "/bookings/", {"date": "2026-12-08", "start": "10:00", "end": "11:00"}
    ).content.decode()
    assert f'data-testid="room-thumb-{s.room_a.pk}"' in found and f"{url}?thumb=1" in found
    assert f'data-testid="room-thumb-{s.small_a.pk}"' not in found  # no photo: no image
    full = staff.get(url)
    assert full.status_code == 200 and full["Content-Type"] == "image/jpeg"
    assert full["Cache-Control"].startswith("private")
    assert Image.open(io.BytesIO(b"".join(full.streaming_content))).size == (640, 480)
    thumb = staff.get(url, {"thumb": "1"})
    assert max(Image.open(io.BytesIO(b"".join(thumb.streaming_content))).size) <= 320
    form = m.get(f"/bookings/manage/rooms/{s.room_a.pk}/").content.decode()
    assert 'data-testid="room-photo-current"' in form


def test_remove_on_the_form_and_a_bad_file_is_shown_in_chinese(s):
    set_photo(s)
    s.room_a.refresh_from_db()
    m = browser(s, "a_manager")
    resp = m.post(
        f"/bookings/manage/rooms/{s.room_a.pk}/",
        room_form(s.room_a, photo=upload(b"GIF89a....", "a.gif", "image/gif")),
    )
    assert resp.status_code == 422
    assert "不是有效的图片" in resp.content.decode()
    resp = m.post(f"/bookings/manage/rooms/{s.room_a.pk}/", room_form(s.room_a, remove_photo="on"))
    assert resp.status_code == 302
    s.room_a.refresh_from_db()
    assert not s.room_a.photo
    assert m.get(f"/bookings/rooms/{s.room_a.pk}/photo/").status_code == 404


def test_only_who_may_see_the_room_gets_its_photo(s, api):
    set_photo(s)
    url = f"/bookings/rooms/{s.room_a.pk}/photo/"
    for name in ("b_staff", "b_manager"):
        assert browser(s, name).get(url).status_code == 404
        assert api(s.user(name)).get(f"/api/v1/rooms/{s.room_a.pk}/photo").status_code == 404
    assert Client().get(url).status_code == 302  # to the sign-in page
    a = api(s.user("a_staff"))
    resp = a.get(f"/api/v1/rooms/{s.room_a.pk}/photo")
    assert resp.status_code == 200 and resp["Content-Type"] == "image/jpeg"
    assert a.get(f"/api/v1/rooms/{s.room_a.pk}").json()["photo_url"].endswith("/photo")
    # an inactive room: its managers still see the photo on the form; staff do not
    services.save_room(actor=s.user("a_manager"), room_id=s.room_a.pk, is_active=False)
    assert browser(s, "a_staff").get(url).status_code == 404
    assert browser(s, "a_manager").get(url).status_code == 200


def test_a_shared_rooms_photo_is_seen_by_every_county(s):
    services.save_room(
        actor=s.world.user("city_manager"), room_id=s.shared.pk, photo=upload(gps_jpeg())
    )
    assert browser(s, "b_staff").get(f"/bookings/rooms/{s.shared.pk}/photo/").status_code == 200
