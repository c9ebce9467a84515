"""Photos: real images only, metadata (GPS) stripped, orientation kept, limits enforced,
served only to those who see the order."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from dayuan.workorders.models import WorkOrder, WorkOrderPhoto

from .core_factories import build, gps_jpeg, image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return build(world)


def send(api, s, photos, user="a_staff"):
    client = api(s.user(user))
    data = {
        "category_id": s.category.pk,
        "location_id": s.room.pk,
        "description": "墙面渗水",
        "photos": photos,
    }
    return client.client.post("/api/v1/workorders", data=data, **client.headers)


def test_it_strips_exif_gps_and_honours_orientation(api, s):
    original = gps_jpeg(size=(80, 40), orientation=6)  # "rotate 90° clockwise to view"
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # GPS is there
    r = send(api, s, [upload(original, "IMG_0001.jpg")])
    assert r.status_code == 201, r.content
    photo = WorkOrderPhoto.objects.get()
    with photo.image.open("rb") as fh:
        data = fh.read()
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG"
    assert stored.size == (40, 80)  # turned upright
    exif = stored.getexif()
    assert len(exif) == 0 and not exif.get_ifd(0x8825)
    assert b"Exif" not in data[:2048] and b"PhoneMaker" not in data
    assert (photo.width, photo.height) == (40, 80)
    assert photo.uploaded_by == s.user("a_staff") and photo.kind == "report"


def test_it_makes_a_320px_thumbnail(api, s):
    r = send(api, s, [upload(image_bytes("PNG", (1000, 500)), "big.png", "image/png")])
    assert r.status_code == 201, r.content
    photo = WorkOrderPhoto.objects.get()
    with photo.thumbnail.open("rb") as fh:
        thumb = Image.open(io.BytesIO(fh.read()))
    assert thumb.size == (320, 160) and thumb.format == "PNG"
    assert photo.image.name.endswith(".png")


def test_it_takes_webp(api, s):
    r = send(api, s, [upload(image_bytes("WEBP"), "p.webp", "image/webp")])
    assert r.status_code == 201, r.content


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"%PDF-1.4 definitely not a picture", "scan.jpg"),
        (image_bytes("GIF"), "anim.gif"),
        (image_bytes("JPEG")[:200], "truncated.jpg"),
    ],
    ids=["not-an-image", "gif", "truncated"],
)
def test_it_refuses_what_is_not_a_jpeg_png_or_webp(api, s, data, name):
    r = send(api, s, [upload(image_bytes(), "ok.jpg"), upload(data, name)])
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_photo"
    assert name in body["message"] and "JPEG、PNG 或 WebP" in body["message"]
    assert WorkOrder.objects.count() == 0 and WorkOrderPhoto.objects.count() == 0


def test_it_refuses_an_oversized_file(api, s, settings):
    settings.WORKORDER_PHOTO_MAX_BYTES = 2000
    noisy = Image.frombytes("RGB", (100, 100), os.urandom(30000))
    out = io.BytesIO()
    noisy.save(out, "JPEG", quality=95)
    assert len(out.getvalue()) > 2000
    r = send(api, s, [upload(out.getvalue(), "huge.jpg")])
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_photo" and "大小上限" in r.json()["message"]
    assert WorkOrder.objects.count() == 0


def test_it_refuses_too_many_photos(api, s, settings):
    settings.WORKORDER_PHOTOS_MAX = 2
    r = send(api, s, [upload(image_bytes(), f"{i}.jpg") for i in range(3)])
    assert r.status_code == 422 and "最多上传 2 张" in r.json()["message"]


def test_it_refuses_a_decompression_bomb_without_decoding_it(api, s):
    bomb = io.BytesIO()
    Image.new("1", (8000, 6000)).save(bomb, "PNG")  # tiny file, 48 megapixels
    assert len(bomb.getvalue()) < 100_000
    r = send(api, s, [upload(bomb.getvalue(), "bomb.png", "image/png")])
    assert r.status_code == 422 and r.json()["code"] == "invalid_photo"
    assert "像素尺寸过大" in r.json()["message"]


def test_it_serves_photos_only_to_those_who_see_the_order(api, s):
    r = send(api, s, [upload(gps_jpeg(), "a.jpg")])
    order = r.json()
    url = order["photos"][0]["url"]
    ok = api(s.user("a_dispatcher")).get(url)
    assert ok.status_code == 200 and ok["Content-Type"] == "image/jpeg"
    assert b"".join(ok.streaming_content)[:2] == b"\xff\xd8"
    for outsider in ("b_dispatcher", "b_manager", "vendor_worker"):
        denied = api(s.user(outsider)).get(url)
        assert denied.status_code == 404, outsider
    assert api().get(url).status_code == 401
    other = WorkOrderPhoto.objects.get().pk + 1000
    assert (
        api(s.user("a_staff")).get(f"/api/v1/workorders/{order['id']}/photos/{other}").status_code
        == 404
    )
