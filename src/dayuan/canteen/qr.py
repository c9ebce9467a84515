"""The pickup QR code a diner shows at the counter: ``DYC:<menu_id>:<code>`` as an SVG
(``segno``, made here; no external service). The menu id in the payload lets the
counter find the meal even when two meals' counters are open; the code alone (typed)
works too. Voucher codes (8 digits) are printed the same way."""

from __future__ import annotations

import re
from typing import Any

from dayuan.bookings.qr import qr_svg

PREFIX = "DYC"
_PAYLOAD = re.compile(rf"^{PREFIX}:(\d{{1,18}}):(\d{{6}}|\d{{8}})$")
_CODE = re.compile(r"^(\d{6}|\d{8})$")


def payload(menu_id: int, code: str) -> str:
    return f"{PREFIX}:{menu_id}:{code}"


def pickup_payload(reservation: Any) -> str:
    """What the reservation's QR code holds."""
    return payload(reservation.menu_id, reservation.pickup_code)


def voucher_payload(voucher: Any) -> str:
    return payload(voucher.menu_id, voucher.code)


def parse_code(raw: str) -> tuple[int | None, str] | None:
    """``(menu_id or None, code)`` from what the counter scanned or typed: a QR payload,
    a 6-digit pickup code or an 8-digit voucher code (spaces ignored); None otherwise."""
    text = re.sub(r"\s+", "", str(raw or "")).upper()
    if m := _PAYLOAD.match(text):
        return int(m.group(1)), m.group(2)
    if _CODE.match(text):
        return None, text
    return None


def pickup_svg(reservation: Any, *, scale: int = 6) -> str:
    """The reservation's pickup QR code as a standalone SVG document."""
    return qr_svg(pickup_payload(reservation), scale=scale)


def voucher_svg(voucher: Any, *, scale: int = 4) -> str:
    return qr_svg(voucher_payload(voucher), scale=scale)
