"""Photos of work orders: checked to be real images, then re-encoded.

Re-encoding from pixels drops every metadata block (EXIF with GPS position, camera
serials, XMP, text chunks) after ``exif_transpose`` has applied the orientation, so
nothing a phone records about where a picture was taken is kept. Only JPEG, PNG and
WebP are taken; the header is read before the pixels, so a decompression bomb is
refused without being decoded. Every file is checked before any is stored.
"""

from __future__ import annotations

import contextlib
import io
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from dayuan.core.errors import InvalidInput

from .models import WorkOrder, WorkOrderPhoto

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MAX_PIXELS = 40_000_000  # 40 MP: more than any phone camera; beyond is a bomb
MAX_SIDE = 12_000
THUMB_SIZE = (320, 320)


def max_bytes() -> int:
    return int(getattr(settings, "WORKORDER_PHOTO_MAX_BYTES", 8 * 1024 * 1024))


def max_photos() -> int:
    return int(getattr(settings, "WORKORDER_PHOTOS_MAX", 6))


@dataclass
class CleanImage:
    data: bytes
    thumb: bytes
    ext: str
    width: int
    height: int


def _refuse(message: str, name: str = "", **details: Any) -> InvalidInput:
    return InvalidInput(message, code="invalid_photo", file=name[:100], **details)


def _encode(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        img.save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "WEBP":
        img.save(out, "WEBP", quality=85)
    else:
        if img.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            img = img.convert("RGBA")
        img.save(out, "PNG", optimize=True)
    return out.getvalue()


def clean(upload: Any) -> CleanImage:
    """The upload as a clean image, or ``InvalidInput(code="invalid_photo")``."""
    name = str(getattr(upload, "name", "") or "")
    size = getattr(upload, "size", None)
    limit = max_bytes()
    if size is not None and size > limit:
        raise _refuse(
            _("照片“%(name)s”超过 %(mb)s MB 的大小上限。")
            % {"name": name, "mb": round(limit / 1024 / 1024, 1)},
            name,
            max_bytes=limit,
        )
    upload.seek(0)
    raw = upload.read(limit + 1)
    if len(raw) > limit:
        raise _refuse(
            _("照片“%(name)s”超过 %(mb)s MB 的大小上限。")
            % {"name": name, "mb": round(limit / 1024 / 1024, 1)},
            name,
            max_bytes=limit,
        )
    not_image = _("文件“%(name)s”不是有效的图片，请上传 JPEG、PNG 或 WebP 格式的照片。") % {
        "name": name
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(raw))
            fmt = img.format
            if fmt not in FORMATS:
                raise _refuse(not_image, name)
            width, height = img.size
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise _refuse(
                    _("照片“%(name)s”的像素尺寸过大（%(w)s×%(h)s）。")
                    % {"name": name, "w": width, "h": height},
                    name,
                )
            img.load()
            if getattr(img, "n_frames", 1) > 1:  # animated WebP/PNG: keep the first frame
                img.seek(0)
            img = ImageOps.exif_transpose(img)
            img.info = {}
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse(_("照片“%(name)s”的像素尺寸过大。") % {"name": name}, name) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _refuse(not_image, name) from exc
    data = _encode(img, fmt)
    thumb_img = img.copy()
    thumb_img.thumbnail(THUMB_SIZE)
    thumb = _encode(thumb_img, fmt)
    return CleanImage(data, thumb, FORMATS[fmt], img.width, img.height)


def check_count(order: WorkOrder | None, incoming: int) -> None:
    already = order.photos.count() if order is not None and order.pk else 0
    limit = max_photos()
    if already + incoming > limit:
        raise InvalidInput(
            _("每张工单最多上传 %(n)s 张照片。") % {"n": limit},
            code="invalid_photo",
            max_photos=limit,
        )


def prepare(uploads: Sequence[Any], order: WorkOrder | None = None) -> list[CleanImage]:
    """Check every upload (count, size, format, pixels) before anything is stored."""
    uploads = [u for u in uploads or () if u is not None]
    check_count(order, len(uploads))
    return [clean(u) for u in uploads]


def store(
    order: WorkOrder, images: Sequence[CleanImage], *, kind: str, actor: Any
) -> list[WorkOrderPhoto]:
    """Save prepared images as the order's photos (original size and a thumbnail)."""
    saved = []
    for image in images:
        stem = uuid.uuid4().hex
        photo = WorkOrderPhoto(
            workorder=order,
            kind=kind,
            width=image.width,
            height=image.height,
            uploaded_by=actor,
        )
        photo.image.save(f"{stem}.{image.ext}", ContentFile(image.data), save=False)
        photo.thumbnail.save(f"{stem}.{image.ext}", ContentFile(image.thumb), save=False)
        photo.save()
        saved.append(photo)
    return saved


def replace_photo(obj: Any, upload: Any = None, *, remove: bool = False) -> list[str | None] | None:
    """Give ``obj`` (a model with ``photo`` and ``photo_thumb``: a room, a dish) the
    cleaned ``upload``, or no photo with ``remove``, before the caller saves it.

    Returns ``[old, new]`` file names when the photo changed (for the audit entry), else
    None. The old files are deleted only once the transaction commits, so a rolled-back
    change keeps the old photo.
    """
    image = clean(upload) if upload is not None else None
    old = obj.photo.name or None
    if image is not None or remove:
        files = [(f.storage, f.name) for f in (obj.photo, obj.photo_thumb) if f and f.name]
        obj.photo, obj.photo_thumb = "", ""

        def delete() -> None:
            for storage, name in files:
                with contextlib.suppress(OSError):  # already gone: nothing to tidy
                    storage.delete(name)

        if files:
            transaction.on_commit(delete)
    if image is not None:
        stem = uuid.uuid4().hex
        obj.photo.save(f"{stem}.{image.ext}", ContentFile(image.data), save=False)
        obj.photo_thumb.save(f"{stem}.{image.ext}", ContentFile(image.thumb), save=False)
    new = obj.photo.name or None
    return [old, new] if new != old else None
