"""Pages: find a free room (search and day view per building), a room's week, the
booking form (meeting services, weekly repeat, per-occurrence conflicts), my bookings,
a booking (check-in, .ics, cancel, end, the service staff's checklists), the approvals
queue, room management with a printable QR code, the QR landing page, appointment
services (slot picker, my appointments, the provider's day) and the statistics.

Thin: reads go through ``queries`` (and ``ical``/``qr``), every write through
``services``, ``meeting`` and ``appointments``; a refusal is shown with its clause.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from dayuan.core import policy
from dayuan.core.errors import Conflict, DomainError, NotFound
from dayuan.core.files import private_file
from dayuan.core.pages import apply_error, refusal
from dayuan.orgs import queries as org_queries

from . import appointments, meeting, queries, services
from .choices import (
    AppointmentStatus,
    BookingStatus,
    Equipment,
    ServiceKind,
)
from .forms import (
    BookingForm,
    DayForm,
    OptionalReasonForm,
    ReasonForm,
    RoomForm,
    SearchForm,
    ServiceForm,
    breaks_text,
    local_dt,
    weekly_rrule,
)

NAV = "bookings"
CHECKLISTS = {
    "meeting.in_meeting": gettext_lazy("会中服务检查（续茶）"),
    "meeting.after": gettext_lazy("会后检查（遗留物品）"),
}
EVENT_LABELS = {
    "book": pgettext_lazy("booking event", "预订"),
    "approve": pgettext_lazy("booking event", "批准"),
    "reject": pgettext_lazy("booking event", "未通过"),
    "cancel": pgettext_lazy("booking event", "取消"),
    "displace": pgettext_lazy("booking event", "被调整"),
    "check_in": pgettext_lazy("booking event", "签到"),
    "checkin": pgettext_lazy("booking event", "签到"),
    "end": pgettext_lazy("booking event", "结束会议"),
    "complete": pgettext_lazy("booking event", "会议结束"),
    "release": pgettext_lazy("booking event", "未签到释放"),
    "services": pgettext_lazy("booking event", "追加会议服务"),
}


# --- common --------------------------------------------------------------------------


def _perms(user: Any) -> dict[str, bool]:
    return {
        "view_all": policy.can(user, "bookings.view_all"),
        "approve": policy.can(user, "bookings.approve"),
        "manage": policy.can(user, "bookings.manage"),
        "serve": policy.can(user, "bookings.serve"),
    }


def _render(
    request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    ctx.setdefault("active_nav", NAV)
    ctx["perms_bk"] = _perms(request.user)
    return render(request, template, ctx, status=status)


def _now() -> datetime:
    return timezone.now()


def _today() -> date:
    return timezone.localdate()


def _day_param(request: HttpRequest, name: str = "date") -> date:
    return parse_date(request.GET.get(name) or "") or _today()


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = local_dt(day, time.min)
    return start, start + timedelta(days=1)


def _or_404(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A query's NotFound is a page's 404."""
    try:
        return fn(*args, **kwargs)
    except NotFound as exc:
        raise Http404 from exc


def _booking(user: Any, pk: int) -> Any:
    return _or_404(queries.booking, user, pk)


def _room(user: Any, pk: int) -> Any:
    return _or_404(queries.room, user, pk)


def _managed_room(user: Any, pk: int) -> Any:
    return _or_404(queries.managed_room, user, pk)


def _buildings(user: Any) -> list[tuple[int, str]]:
    """The buildings of the rooms the user may book (for the pickers)."""
    seen: dict[int, str] = {}
    for room in queries.rooms(user):
        if room.building_id and room.building_id not in seen:
            seen[room.building_id] = room.building.name
    return list(seen.items())


def _units(user: Any) -> list[tuple[int, str]]:
    """The organisations the user may name as 主办单位 (home unit first)."""
    rows = [(o.pk, o.name) for o in queries.orgs(user, "bookings.book")[:500]]
    home = getattr(user, "home_org_id", None)
    rows.sort(key=lambda r: r[0] != home)
    return rows


def _equipment_labels(values: Any) -> list[str]:
    labels = dict(Equipment.choices)
    return [str(labels.get(v, v)) for v in values or []]


def _violations(exc: DomainError) -> list[dict[str, Any]]:
    return list((exc.details or {}).get("violations") or [])


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """Back to the page the form was on (``next``: a path on this site only)."""
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return redirect(target)


DAY_FROM, DAY_TO = 7, 22  # the hours the timelines show


def _timeline(days: list[Any]) -> list[Any]:
    """Place each busy block on a 07:00–22:00 bar (percent offsets for the template)."""
    span = (DAY_TO - DAY_FROM) * 60
    for rd in days:
        base = local_dt(rd.day, time(DAY_FROM))
        for b in rd.blocks:
            a = max(0.0, (b.start - base).total_seconds() / 60)
            z = min(float(span), (b.end - base).total_seconds() / 60)
            b.left = round(100 * a / span, 2)
            b.width = round(max(0.0, 100 * (z - a) / span), 2)
            b.label = b.title if b.visible and b.title else _("已占用")
    return days


# --- find a room ---------------------------------------------------------------------


def _default_search(now: datetime) -> dict[str, Any]:
    """Tomorrow 09:00–10:00 as a starting point."""
    day = timezone.localtime(now).date() + timedelta(days=1)
    return {"date": day, "start": time(9, 0), "end": time(10, 0)}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """找会议室: the search form and the free rooms it finds."""
    user = request.user
    buildings = _buildings(user)
    searched = "date" in request.GET
    form = SearchForm(
        request.GET if searched else None,
        initial=_default_search(_now()),
        buildings=buildings,
    )
    results: list[Any] | None = None
    if searched and form.is_valid():
        d = form.cleaned_data
        results = list(
            queries.free_rooms(
                user,
                d["start_at"],
                d["end_at"],
                attendees=d.get("attendees") or 0,
                equipment=d.get("equipment") or (),
                building_id=d.get("building"),
            )
        )
        for room in results:
            room.equipment_labels = _equipment_labels(room.equipment)
            room.thumb_url = _photo_url(room, thumb=True)
            room.book_query = (
                f"date={d['date'].isoformat()}&start={d['start']:%H:%M}&end={d['end']:%H:%M}"
                f"&attendees={d.get('attendees') or ''}"
            )
    return _render(
        request,
        "bookings/home.html",
        {"form": form, "results": results, "tab": "find"},
        status=422 if form.errors else 200,
    )


@login_required
def day(request: HttpRequest) -> HttpResponse:
    """A building's day: every room with its busy blocks (titles only when visible)."""
    user = request.user
    buildings = _buildings(user)
    form = DayForm(request.GET or None, buildings=buildings)
    the_day = _day_param(request)
    building_id = None
    if form.is_valid():
        building_id = form.cleaned_data.get("building")
    if building_id is None and buildings:
        building_id = buildings[0][0]
    rows = _timeline(queries.day_view(user, day=the_day, building_id=building_id))
    return _render(
        request,
        "bookings/day.html",
        {
            "form": form,
            "day": the_day,
            "building_id": building_id,
            "buildings": buildings,
            "rows": rows,
            "hours": [
                (f"{h:02d}:00", round(100 * (h - DAY_FROM) / (DAY_TO - DAY_FROM), 2))
                for h in range(DAY_FROM, DAY_TO, 3)
            ],
            "prev": the_day - timedelta(days=1),
            "next": the_day + timedelta(days=1),
            "tab": "day",
        },
    )


@login_required
def room_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A room and its week (Monday to Sunday)."""
    user = request.user
    room = _room(user, pk)
    the_day = _day_param(request, "week")
    week_start = the_day - timedelta(days=the_day.weekday())
    week = _timeline(_or_404(queries.week_view, user, room_id=room.pk, week_start=week_start))
    return _render(
        request,
        "bookings/room.html",
        {
            "room": room,
            "photo_url": _photo_url(room),
            "equipment": _equipment_labels(room.equipment),
            "week": week,
            "week_start": week_start,
            "prev": week_start - timedelta(days=7),
            "next": week_start + timedelta(days=7),
            "tab": "find",
        },
    )


# --- book ----------------------------------------------------------------------------


def _book_initial(request: HttpRequest, user: Any) -> dict[str, Any]:
    q = request.GET
    initial: dict[str, Any] = {
        "client_key": uuid.uuid4().hex,
        "organizer_unit": getattr(user, "home_org_id", None),
        "contact_name": getattr(user, "display_name", "") or user.get_username(),
        "contact_phone": getattr(user, "phone", "") or "",
        "meeting_type": "office",
        "priority": "normal",
        "weeks": 4,
    }
    defaults = _default_search(_now())
    initial["date"] = parse_date(q.get("date") or "") or defaults["date"]
    initial["start"] = q.get("start") or "09:00"
    initial["end"] = q.get("end") or "10:00"
    if (q.get("attendees") or "").isdigit():
        initial["attendees"] = int(q["attendees"])
    return initial


@login_required
def book(request: HttpRequest, pk: int) -> HttpResponse:
    """Book a room (once, or every week × N); a refusal names its clause, a clash lists
    the taken times (and lets a manager displace a lower-priority booking)."""
    user = request.user
    room = _room(user, pk)
    form = BookingForm(
        request.POST or None,
        initial=_book_initial(request, user),
        room=room,
        units=_units(user),
    )
    conflict: dict[str, Any] | None = None
    violations: list[dict[str, Any]] = []
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                if d.get("repeat"):
                    fields = form.booking_fields()
                    series, _made = services.book_series(
                        actor=user,
                        room_id=room.pk,
                        rrule=weekly_rrule(d["weeks"]),
                        first_start=d["start_at"],
                        duration_minutes=int((d["end_at"] - d["start_at"]).total_seconds() // 60),
                        **fields,
                    )
                    return redirect("bookings:series", pk=series.pk)
                booking = services.book_room(
                    actor=user,
                    room_id=room.pk,
                    start_at=d["start_at"],
                    end_at=d["end_at"],
                    displace=bool(d.get("displace")),
                    displace_reason=d.get("displace_reason") or "",
                    client_key=d["client_key"],
                    **form.booking_fields(),
                )
            except DomainError as exc:
                apply_error(form, exc)
                violations = _violations(exc)
                if isinstance(exc, Conflict) and exc.code in ("room_taken", "lower_priority"):
                    conflict = dict(exc.details or {})
                    conflict["conflicts"] = _local_spans(conflict.get("conflicts"))
                    conflict["manager"] = policy.can(user, "bookings.manage", room.org)
                status = exc.status
            else:
                if booking.status == BookingStatus.PENDING:
                    messages.info(request, _("预订已提交，等待审批。"))
                else:
                    messages.success(request, _("预订成功。"))
                return redirect("bookings:detail", pk=booking.pk)
        else:
            status = 422
    return _render(
        request,
        "bookings/book.html",
        {
            "room": room,
            "form": form,
            "service_rows": form.service_rows(),
            "conflict": conflict,
            "violations": violations,
            "can_displace": policy.can(user, "bookings.manage", room.org),
            "tab": "find",
        },
        status=status,
    )


def _iso_local(value: Any) -> datetime | None:
    try:
        return timezone.localtime(datetime.fromisoformat(str(value)))
    except (TypeError, ValueError):
        return None


def _local_spans(rows: Any) -> list[dict[str, Any]]:
    """``[{"start": iso, "end": iso, …}]`` with local datetimes for the template."""
    out = []
    for row in rows or []:
        row = dict(row)
        row["start"], row["end"] = _iso_local(row.get("start")), _iso_local(row.get("end"))
        out.append(row)
    return out


@login_required
def series(request: HttpRequest, pk: int) -> HttpResponse:
    """A weekly booking: the occurrences booked and the ones refused, each with why."""
    user = request.user
    found = _or_404(queries.series, user, pk)
    booked = list(queries.series_bookings(user, found.pk))
    conflicts = _local_spans(found.conflicts)
    return _render(
        request,
        "bookings/series.html",
        {"series": found, "booked": booked, "conflicts": conflicts, "tab": "mine"},
    )


# --- my bookings and one booking -----------------------------------------------------


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """我的预订: upcoming (and in progress) first, then the past."""
    user = request.user
    now = _now()
    qs = queries.bookings(user).filter(booker=user).select_related("room", "room__building")
    upcoming = list(qs.filter(end_at__gt=now).order_by("start_at")[:100])
    past = list(qs.filter(end_at__lte=now).order_by("-start_at")[:50])
    return _render(
        request,
        "bookings/mine.html",
        {
            "upcoming": upcoming,
            "past": past,
            "feed_url": _feed_url(request, user),
            "tab": "mine",
        },
    )


def _feed_url(request: HttpRequest, user: Any) -> str:
    """The person's private calendar feed (subscribed from a phone's calendar app)."""
    from . import ical

    return request.build_absolute_uri(reverse("bookings:feed", args=[ical.feed_for(user).token]))


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One booking: status, services and their work orders, check-in, calendar, actions."""
    user = request.user
    booking = _booking(user, pk)
    now = _now()
    room = booking.room
    mine_ = booking.booker_id == user.pk
    serve = policy.can(user, "bookings.serve", booking.org)
    actions = set(queries.booking_actions(user, booking, now))
    ordered = queries.booking_services(booking)
    for svc in ordered:
        svc.timers = list(svc.workorder.timers.all()) if svc.workorder else []
    events = queries.booking_events(booking)
    for ev in events:
        ev.label = EVENT_LABELS.get(ev.action, ev.action)
    checks = {c.checklist: c for c in queries.booking_checks(booking)}
    return _render(
        request,
        "bookings/detail.html",
        {
            "booking": booking,
            "room": room,
            "equipment": _equipment_labels(booking.equipment),
            "services": ordered,
            "events": events,
            "is_booker": mine_,
            "can_checkin": "check_in" in actions,
            "can_cancel": "cancel" in actions,
            "can_end": "end" in actions,
            "can_approve": "approve" in actions,
            "can_add_services": "services" in actions,
            "orderable": [k for k in ServiceKind if k != ServiceKind.CLEANING],
            "checklists": [
                {"code": code, "label": label, "check": checks.get(code)}
                for code, label in CHECKLISTS.items()
            ]
            if serve
            else [],
            "feed_url": _feed_url(request, user) if mine_ else "",
            "tab": "mine" if mine_ else "approvals",
        },
    )


def _attempt(request: HttpRequest, done: str, call: Any) -> None:
    """Run one service call: ``done`` or the refusal becomes a message, NotFound a 404."""
    try:
        call()
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise Http404 from exc
        messages.error(request, refusal(exc))
    else:
        messages.success(request, done)


def _act(request: HttpRequest, pk: int, done: str, call: Any) -> HttpResponse:
    """Run one service call on a visible booking; the refusal becomes a message."""
    booking = _booking(request.user, pk)
    _attempt(request, done, lambda: call(booking))
    return _back(request, reverse("bookings:detail", args=[booking.pk]))


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    form = OptionalReasonForm(request.POST)
    form.is_valid()
    reason = form.cleaned_data.get("reason") or ""
    return _act(
        request,
        pk,
        _("预订已取消。"),
        lambda b: services.cancel(
            actor=request.user, booking_id=b.pk, version=b.version, reason=reason
        ),
    )


@login_required
@require_POST
def end(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        _("会议已结束，已安排会后保洁。"),
        lambda b: services.end_meeting(actor=request.user, booking_id=b.pk),
    )


@login_required
@require_POST
def check_in(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        _("签到成功。"),
        lambda b: services.check_in(actor=request.user, booking_id=b.pk),
    )


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    form = OptionalReasonForm(request.POST)
    form.is_valid()
    note = form.cleaned_data.get("reason") or ""
    return _act(
        request,
        pk,
        _("已批准。"),
        lambda b: services.approve(
            actor=request.user, booking_id=b.pk, version=b.version, note=note
        ),
    )


@login_required
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        _booking(request.user, pk)
        messages.error(request, _("请写明不通过的原因。"))
        return _back(request, reverse("bookings:detail", args=[pk]))
    reason = form.cleaned_data["reason"]
    return _act(
        request,
        pk,
        _("已退回。"),
        lambda b: services.reject(
            actor=request.user, booking_id=b.pk, version=b.version, reason=reason
        ),
    )


@login_required
@require_POST
def add_services(request: HttpRequest, pk: int) -> HttpResponse:
    kinds = [k for k in request.POST.getlist("kind") if k in ServiceKind.values]
    items = [{"kind": k, "note": (request.POST.get(f"note_{k}") or "")[:300]} for k in kinds]
    if not items:
        messages.error(request, _("请选择要追加的服务。"))
        return redirect("bookings:detail", pk=pk)
    return _act(
        request,
        pk,
        _("会议服务已下单。"),
        lambda b: meeting.add_services(actor=request.user, booking_id=b.pk, items=items),
    )


@login_required
@require_POST
def start_check(request: HttpRequest, pk: int, checklist: str) -> HttpResponse:
    """Service staff begin the in-meeting or after-meeting checklist on the room."""
    if checklist not in CHECKLISTS:
        raise Http404
    booking = _booking(request.user, pk)
    try:
        inspection = meeting.start_check(
            actor=request.user, booking_id=booking.pk, checklist=checklist
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise Http404 from exc
        messages.error(request, refusal(exc))
        return redirect("bookings:detail", pk=booking.pk)
    return redirect("inspections:conduct", pk=inspection.pk)


@login_required
def booking_ics(request: HttpRequest, pk: int) -> HttpResponse:
    """The booking as an iCalendar file (add it to a phone's calendar)."""
    from . import ical

    booking = _booking(request.user, pk)
    response = HttpResponse(ical.booking_ics(booking), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{booking.number}.ics"'
    return response


def feed(request: HttpRequest, token: str) -> HttpResponse:
    """A person's private calendar feed (the token is the credential: calendar apps do
    not sign in)."""
    from . import ical

    user = ical.user_for_feed(token)
    if user is None:
        raise Http404
    response = HttpResponse(
        ical.feed_ics(user, _now()), content_type="text/calendar; charset=utf-8"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response


# --- QR check-in ---------------------------------------------------------------------


@login_required
def checkin_landing(request: HttpRequest, token: str) -> HttpResponse:
    """The page the room's QR code opens: the user's booking there now, and 签到."""
    user = request.user
    room = queries.rooms(user).select_related("building").filter(checkin_token=token).first()
    if room is None:
        raise Http404
    now = _now()
    error = ""
    if request.method == "POST":
        try:
            booking = services.check_in(actor=user, room_token=token)
        except DomainError as exc:
            error = refusal(exc)
        else:
            messages.success(request, _("签到成功。"))
            return redirect("bookings:detail", pk=booking.pk)
    day_start, day_end = _day_bounds(timezone.localtime(now).date())
    todays = list(
        queries.bookings(user)
        .filter(
            booker=user,
            room=room,
            start_at__lt=day_end,
            end_at__gt=day_start,
            status__in=[BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN, BookingStatus.PENDING],
        )
        .order_by("start_at")
    )
    return _render(
        request,
        "bookings/checkin.html",
        {"room": room, "todays": todays, "error": error, "now": now, "tab": "mine"},
        status=422 if error else 200,
    )


# --- approvals -----------------------------------------------------------------------


@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not policy.can(user, "bookings.approve"):
        raise DjangoPermissionDenied
    pending = list(
        queries.approvals(user)
        .select_related("room", "booker", "organizer_unit")
        .order_by("start_at")
    )
    return _render(request, "bookings/approvals.html", {"pending": pending, "tab": "approvals"})


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Every booking the user may see on a day (managers, the service desk)."""
    user = request.user
    if not policy.can(user, "bookings.view_all"):
        raise DjangoPermissionDenied
    the_day = _day_param(request)
    start, stop = _day_bounds(the_day)
    rows = list(
        queries.bookings(user)
        .filter(start_at__lt=stop, end_at__gt=start)
        .select_related("room", "booker", "organizer_unit")
        .order_by("start_at", "room__name")[:300]
    )
    return _render(
        request,
        "bookings/overview.html",
        {
            "rows": rows,
            "day": the_day,
            "prev": the_day - timedelta(days=1),
            "next": the_day + timedelta(days=1),
            "tab": "overview",
        },
    )


# --- rooms ---------------------------------------------------------------------------


def _require_manage(user: Any) -> None:
    if not policy.can(user, "bookings.manage"):
        raise DjangoPermissionDenied


@login_required
def rooms(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_manage(user)
    rows = list(queries.managed_rooms(user).select_related("org", "building", "location"))
    for r in rows:
        r.equipment_labels = _equipment_labels(r.equipment)
    return _render(request, "bookings/rooms.html", {"rooms": rows, "tab": "rooms"})


def _org_choices(user: Any) -> list[tuple[int, str]]:
    return [(o.pk, o.name) for o in queries.orgs(user, "bookings.manage")]


def _location_choices(user: Any) -> list[tuple[int, str]]:
    locations = org_queries.locations(user).filter(is_active=True).order_by("path")[:1000]
    return [(loc.pk, f"{loc.name} · {loc.org.short_name or loc.org.name}") for loc in locations]


def _room_form(request: HttpRequest, room: Any = None) -> RoomForm:
    user = request.user
    initial: dict[str, Any] = {}
    if room is not None:
        initial = {name: getattr(room, name) for name in RoomForm.FIELDS if hasattr(room, name)}
        initial.update(org=room.org_id, location=room.location_id, version=room.version)
    return RoomForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        orgs=_org_choices(user),
        locations=_location_choices(user),
    )


def _save(form: Any, existing: Any, save: Any, **kwargs: Any) -> Any:
    """Save a manager's form (a new object when ``existing`` is None) with the version
    it was shown at; the refusal goes onto the form and None comes back. An object gone
    meanwhile is a 404."""
    try:
        return save(version=form.cleaned_data.get("version") if existing else None, **kwargs)
    except DomainError as exc:
        if isinstance(exc, NotFound) and existing is not None:
            raise Http404 from exc
        apply_error(form, exc)
        return None


@login_required
def room_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = request.user
    _require_manage(user)
    room = _managed_room(user, pk) if pk is not None else None
    form = _room_form(request, room)
    if request.method == "POST" and form.is_valid():
        saved = _save(
            form,
            room,
            services.save_room,
            actor=user,
            room_id=room.pk if room else None,
            **form.room_fields(),
        )
        if saved is not None:
            messages.success(request, _("会议室已保存。"))
            return redirect("bookings:room_qr", pk=saved.pk)
    return _render(
        request,
        "bookings/room_form.html",
        {
            "form": form,
            "room": room,
            "photo_url": _photo_url(room, thumb=True) if room is not None else "",
            "tab": "rooms",
        },
        status=422 if form.errors else 200,
    )


def _photo_url(room: Any, *, thumb: bool = False) -> str:
    """The page address of a room's photo (checked per request), or ``""``."""
    if room is None or not room.photo:
        return ""
    url = reverse("bookings:room_photo", args=[room.pk])
    return f"{url}?thumb=1" if thumb else url


@login_required
def room_photo(request: HttpRequest, pk: int) -> FileResponse:
    """A room's photo (``?thumb=1``: its thumbnail) for whoever may see the room or
    manages it; never a public media URL."""
    room = _or_404(queries.room_with_photo, request.user, pk)
    field = room.photo_thumb if request.GET.get("thumb") and room.photo_thumb else room.photo
    return _or_404(private_file, field)


@login_required
def room_qr(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable page with the room's check-in QR code for its door."""
    from . import qr

    user = request.user
    _require_manage(user)
    room = _managed_room(user, pk)
    url = qr.checkin_url(room, request)
    return _render(
        request,
        "bookings/room_qr.html",
        {"room": room, "url": url, "svg": qr.qr_svg(url), "tab": "rooms"},
    )


@login_required
@require_POST
def room_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require_manage(user)
    room = _managed_room(user, pk)
    try:
        services.rotate_checkin_token(actor=user, room_id=room.pk)
    except DomainError as exc:
        messages.error(request, refusal(exc))
    else:
        messages.success(request, _("二维码已更换，请重新打印张贴。"))
    return redirect("bookings:room_qr", pk=room.pk)


# --- appointments --------------------------------------------------------------------


def _service(user: Any, pk: int) -> Any:
    return _or_404(queries.service, user, pk)


@login_required
def service_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    rows = list(queries.services(user))
    return _render(request, "bookings/services.html", {"services": rows, "tab": "services"})


@login_required
def service_slots(request: HttpRequest, pk: int) -> HttpResponse:
    """Pick a slot of a day: seats left per slot."""
    user = request.user
    service = _service(user, pk)
    the_day = _day_param(request)
    slots = _or_404(queries.slots, user, service.pk, the_day)
    now = _now()
    lead = timedelta(minutes=service.min_lead_minutes or 0)
    for s in slots:
        s.bookable = s.free > 0 and s.start_at - now >= lead
        s.client_key = uuid.uuid4().hex
    days = [_today() + timedelta(days=i) for i in range(service.book_ahead_days + 1)]
    return _render(
        request,
        "bookings/slots.html",
        {
            "service": service,
            "day": the_day,
            "days": days,
            "slots": slots,
            "can_serve": policy.can(user, "bookings.serve", service.org),
            "tab": "services",
        },
    )


@login_required
@require_POST
def book_slot(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    key = (request.POST.get("client_key") or "")[:64] or None
    try:
        appt = appointments.book_slot(
            actor=user, slot_id=pk, note=(request.POST.get("note") or "")[:200], client_key=key
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise Http404 from exc
        messages.error(request, refusal(exc))
        return _back(request, reverse("bookings:services"))
    messages.success(request, _("预约成功。"))
    return redirect(f"{reverse('bookings:appointments')}#appt-{appt.pk}")


@login_required
def my_appointments(request: HttpRequest) -> HttpResponse:
    user = request.user
    now = _now()
    rows = list(queries.my_appointments(user).select_related("service__location")[:200])
    upcoming = [a for a in rows if a.slot.end_at > now and a.status == AppointmentStatus.BOOKED]
    upcoming.sort(key=lambda a: a.slot.start_at)
    past = [a for a in rows if a not in upcoming]
    return _render(
        request,
        "bookings/appointments.html",
        {"upcoming": upcoming, "past": past[:50], "tab": "appointments"},
    )


def _appt_act(request: HttpRequest, pk: int, done: str, fn_name: str) -> HttpResponse:
    fn = getattr(appointments, fn_name)
    _attempt(request, done, lambda: fn(actor=request.user, appointment_id=pk))
    return _back(request, reverse("bookings:appointments"))


@login_required
@require_POST
def appointment_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _appt_act(request, pk, _("预约已取消。"), "cancel_appointment")


@login_required
@require_POST
def appointment_served(request: HttpRequest, pk: int) -> HttpResponse:
    return _appt_act(request, pk, _("已记为已服务。"), "mark_served")


@login_required
@require_POST
def appointment_no_show(request: HttpRequest, pk: int) -> HttpResponse:
    return _appt_act(request, pk, _("已记为爽约。"), "mark_no_show")


@login_required
def service_day(request: HttpRequest, pk: int) -> HttpResponse:
    """The provider's or manager's day: who comes when, 已服务 / 爽约."""
    user = request.user
    service = _service(user, pk)
    if not (
        policy.can(user, "bookings.serve", service.org)
        or policy.can(user, "bookings.view_all", service.org)
    ):
        raise Http404
    the_day = _day_param(request)
    rows = list(
        queries.appointments(user, service_id=service.pk, day=the_day).order_by(
            "slot__start_at", "id"
        )
    )
    can_manage = policy.can(user, "bookings.manage", service.org)
    return _render(
        request,
        "bookings/service_day.html",
        {
            "service": service,
            "day": the_day,
            "rows": rows,
            "slots": _or_404(queries.slots, user, service.pk, the_day) if can_manage else [],
            "prev": the_day - timedelta(days=1),
            "next": the_day + timedelta(days=1),
            "can_mark": policy.can(user, "bookings.serve", service.org),
            "can_manage": can_manage,
            "tab": "services",
        },
    )


# --- appointment services (managers) ---------------------------------------------------


def _managed_service(user: Any, pk: int) -> Any:
    return _or_404(queries.managed_service, user, pk)


@login_required
def manage_services(request: HttpRequest) -> HttpResponse:
    """The appointment services of the organisations the manager runs (inactive too)."""
    user = request.user
    _require_manage(user)
    rows = list(queries.managed_services(user))
    return _render(
        request, "bookings/manage_services.html", {"services": rows, "tab": "manage_services"}
    )


def _service_form(request: HttpRequest, service: Any = None) -> ServiceForm:
    user = request.user
    initial: dict[str, Any] = {}
    if service is not None:
        initial = {name: getattr(service, name) for name in ServiceForm.FIELDS}
        initial.update(
            org=service.org_id,
            location=service.location_id,
            version=service.version,
            breaks=breaks_text(service.breaks),
            providers="\n".join(queries.service_providers(service)),
        )
    return ServiceForm(
        request.POST or None,
        initial=initial,
        orgs=_org_choices(user),
        locations=_location_choices(user),
        editing=service is not None,
    )


@login_required
def service_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Add or edit an appointment service with its providers (slots follow the hours)."""
    user = request.user
    _require_manage(user)
    service = _managed_service(user, pk) if pk is not None else None
    form = _service_form(request, service)
    if request.method == "POST" and form.is_valid():
        saved = _save(
            form,
            service,
            appointments.save_service,
            actor=user,
            service_id=service.pk if service else None,
            **form.service_fields(),
        )
        if saved is not None:
            messages.success(request, _("预约服务已保存。"))
            return redirect(f"{reverse('bookings:manage_services')}#service-{saved.pk}")
    return _render(
        request,
        "bookings/service_form.html",
        {"form": form, "service": service, "tab": "manage_services"},
        status=422 if form.errors else 200,
    )


@login_required
@require_POST
def slot_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a slot to new appointments (``closed=0``: open it again); the seats
    already booked stay booked."""
    user = request.user
    _require_manage(user)
    closed = request.POST.get("closed", "1") != "0"
    done = _("该时段已暂停预约。") if closed else _("该时段已恢复预约。")
    _attempt(request, done, lambda: appointments.close_slot(actor=user, slot_id=pk, closed=closed))
    return _back(request, reverse("bookings:manage_services"))


# --- statistics ----------------------------------------------------------------------


@login_required
def stats(request: HttpRequest) -> HttpResponse:
    """Utilisation, no-show rate and peak hours by building and organisation."""
    user = request.user
    if not policy.can(user, "bookings.view_all"):
        raise DjangoPermissionDenied
    until = parse_date(request.GET.get("until") or "") or _today()
    since = parse_date(request.GET.get("since") or "") or until - timedelta(days=29)
    if since > until:
        since, until = until, since
    org_id = request.GET.get("org") or ""
    org_id = int(org_id) if org_id.isdigit() else None
    building_id = request.GET.get("building") or ""
    building_id = int(building_id) if building_id.isdigit() else None
    data = queries.stats(user, start=since, end=until, org_id=org_id, building_id=building_id)
    orgs = queries.orgs(user, "bookings.view_all")[:200]
    return _render(
        request,
        "bookings/stats.html",
        {
            "data": data,
            "chart": _chart(data),
            "since": since.isoformat(),
            "until": until.isoformat(),
            "org_id": org_id,
            "building_id": building_id,
            "orgs": list(orgs),
            "buildings": _buildings(user),
            "tab": "stats",
        },
    )


def _rate(value: Any) -> float | None:
    return None if value is None else round(float(value) * 100, 1)


def _chart(data: dict[str, Any]) -> dict[str, Any]:
    """The stats as the charts' series (read by bookings/stats.js)."""
    by_building = list(data.get("by_building") or [])
    by_org = list(data.get("by_org") or [])
    counts = {int(r["hour"]): int(r.get("bookings") or 0) for r in data.get("peak_hours") or []}
    # the working day's hours, widened to any hour that had a booking
    used = [h for h, n in counts.items() if n]
    hours = list(range(min([7, *used]), max([21, *used]) + 1))
    peak_values = [counts.get(h, 0) for h in hours]
    appts = list(data.get("appointments") or [])
    return {
        "labels": {
            "utilisation": _("利用率"),
            "no_show": _("爽约率"),
            "bookings": _("预订数"),
            "served": _("已服务"),
            "no_shows": _("爽约"),
            "booked": _("已预约"),
        },
        "building": {
            "names": [r.get("name", "") for r in by_building],
            "utilisation": [_rate(r.get("utilisation")) for r in by_building],
            "no_show": [_rate(r.get("no_show_rate")) for r in by_building],
        },
        "org": {
            "names": [r.get("name", "") for r in by_org],
            "utilisation": [_rate(r.get("utilisation")) for r in by_org],
            "no_show": [_rate(r.get("no_show_rate")) for r in by_org],
        },
        "peak": {"hours": [f"{h:02d}" for h in hours], "counts": peak_values},
        "services": {
            "names": [r.get("name", "") for r in appts],
            "served": [int(r.get("served") or 0) for r in appts],
            "no_show": [int(r.get("no_show", 0) or 0) for r in appts],
            "booked": [int(r.get("booked", 0) or 0) for r in appts],
        },
    }
