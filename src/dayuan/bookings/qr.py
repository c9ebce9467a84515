"""The check-in QR code at a room's door: an SVG (``segno``, made here; no external
service) of the room's check-in URL. The URL carries the room's ``checkin_token``; a
manager rotates the token when a photo of the code leaks."""

from __future__ import annotations

import io
from typing import Any

import segno
from django.urls import NoReverseMatch, reverse

CHECKIN_URL_NAME = "bookings:checkin"  # the page that checks the signed-in user in


def checkin_path(room: Any) -> str:
    """The check-in page's path for ``room`` (the pages' URL when routed, else the API's
    convention ``/bookings/checkin/<token>/``)."""
    try:
        return reverse(CHECKIN_URL_NAME, args=[room.checkin_token])
    except NoReverseMatch:
        return f"/bookings/checkin/{room.checkin_token}/"


def checkin_url(room: Any, request: Any = None) -> str:
    path = checkin_path(room)
    return request.build_absolute_uri(path) if request is not None else path


def qr_svg(url: str, *, scale: int = 6, border: int = 2) -> str:
    """The QR code of ``url`` as a standalone SVG document (error correction M)."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        out, kind="svg", scale=scale, border=border, xmldecl=False, svgns=True
    )
    return out.getvalue().decode("utf-8")
