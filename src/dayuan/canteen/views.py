"""Pages of the canteen: the staff's phone pages (today's and tomorrow's menus by meal
with dish cards, 报餐 eat-in or take-away with a pickup slot, my reservations with the
pickup code in big digits and as a QR code, cancelling within the window, rating after
the meal, meal vouchers with printable codes), the kitchen's desk (counts per meal with
the forecast and its measured error, the hand-over counter, closing a meal), the
food-safety logs and the waste log, the managers' menu editor and dishes, and the
dashboard with its Excel export.

Thin: reads go through ``queries`` (and ``forecast``/``export``/``safety.daily_checks``),
every write through ``services``, ``reservations``, ``safety`` and ``waste``; a refusal
is shown as a message with its code (and the clause when a standard refused it).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from dayuan.bookings import queries as bookings_queries
from dayuan.core import pages
from dayuan.core.errors import DomainError, InvalidInput, NotFound
from dayuan.core.files import private_file
from dayuan.core.periods import Period
from dayuan.orgs import queries as org_queries

from . import export as canteen_export
from . import qr, queries, reservations, safety, services
from . import waste as wastes
from .choices import (
    MEAL_ORDER,
    Allergen,
    ColdUnitKind,
    DishCategory,
    DishTag,
    Meal,
    MenuStatus,
    ReservationKind,
    ReservationStatus,
)
from .forms import (
    CanteenForm,
    CloseMealForm,
    CopyMenusForm,
    DishForm,
    DisinfectionForm,
    HandlerForm,
    HandOverForm,
    HealthCheckForm,
    MealPeriodForm,
    MenuForm,
    PeriodForm,
    PublishForm,
    RatingForm,
    ReasonForm,
    ReceivingForm,
    ReserveForm,
    SampleForm,
    TemperatureForm,
    VoucherForm,
    WasteForm,
)

NAV = "canteen"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOOK_AHEAD_DAYS = 7  # the day pills on the home page: today and the next six days
RATING_DAYS = 7  # a served diner may rate the meal's dishes for a week
RATINGS_SHOWN = 50  # comments on a dish's page
QR_SCALE = 8  # pixels per module of the pickup QR code: about 200 px, easy to scan
PAGE_SIZE = 50  # rows of a log or voucher list on one page
NO_SHOW_PEOPLE = 20  # the dashboard lists the people who missed most meals
CERTIFICATE_WARNING_DAYS = 30  # a health certificate this close to expiry is flagged
MIN_DAY, MAX_DAY = date(2000, 1, 1), date(2099, 12, 31)  # the days a page's ?day= may name


# --- common --------------------------------------------------------------------------


def _now() -> datetime:
    return timezone.now()


def _today() -> date:
    return timezone.localdate()


def _roles(user: Any) -> dict[str, bool]:
    """What the tabs offer: the kitchen (operators and managers), menus and dishes
    (managers), the dashboard (overseers and managers)."""
    managed = bool(queries.managed_org_ids(user))
    oversee = bool(queries.overseen_org_ids(user))
    return {
        "kitchen": managed or oversee or bool(queries.operate_org_ids(user)),
        "manage": managed,
        "dashboard": managed or oversee,
    }


def _render(
    request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200
) -> HttpResponse:
    ctx.setdefault("active_nav", NAV)
    ctx["roles_ct"] = _roles(request.user)
    return render(request, template, ctx, status=status)


_or_404 = pages.or_404
_message = pages.refusal_with_code
_fail = pages.fail
_attempt = pages.attempt
_back = pages.back
_form_error = pages.form_error
_submit = pages.submit


def _attempt_form(request: HttpRequest, form: Any, invalid: str, done: str, call: Any) -> Any:
    """A small POSTed form (no page of its own): ``invalid`` as an error message, else
    ``_attempt``."""
    if not form.is_valid():
        messages.error(request, invalid)
        return None
    return _attempt(request, done, call)


class BadParam(InvalidInput):
    """A page's query parameter that cannot be read: the page answers 400 with the
    code and the message (``refuses_bad_params``), nothing is read or written."""

    status = 400


def refuses_bad_params(view: Any) -> Any:
    """A ``BadParam`` raised while reading the request is a 400 page, not a 500."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadParam as exc:
            return _render(
                request,
                "canteen/bad_request.html",
                {"message": _message(exc), "code": exc.code, "tab": ""},
                status=exc.status,
            )

    return wrapper


def _parse_day(value: str | None) -> date | None:
    """A local day ``YYYY-MM-DD`` within the years the pages show; None when it is not
    one (malformed, impossible like 02-30, or out of range)."""
    try:
        day = parse_date((value or "").strip())
    except ValueError:
        return None
    if day is None or not MIN_DAY <= day <= MAX_DAY:
        return None
    return day


def _day_param(request: HttpRequest, default: date | None = None) -> date:
    raw = request.GET.get("day") or ""
    if not raw:
        return default or _today()
    day = _parse_day(raw)
    if day is None:
        raise BadParam(
            _("日期无效：请使用 YYYY-MM-DD 格式的有效日期。"), code="bad_day", field="day"
        )
    return day


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name) or ""
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    return int(value)


def _labels(values: Any, choices: Any) -> list[str]:
    names = dict(choices)
    return [str(names.get(v, v)) for v in values or []]


def _dress_dish(dish: Any) -> Any:
    """Labels and the photo's page address for a dish card."""
    dish.tag_labels = _labels(dish.tags, DishTag.choices)
    dish.allergen_labels = _labels(dish.allergens, Allergen.choices)
    dish.is_baixian = DishTag.BAIXIAN in (dish.tags or [])
    dish.thumb_url = (
        f"{reverse('canteen:dish_photo', args=[dish.pk])}?thumb=1" if dish.photo else ""
    )
    return dish


def _meal_sort(menus: list[Any]) -> list[Any]:
    return sorted(menus, key=lambda m: (m.day, MEAL_ORDER.get(m.meal, 9), m.serve_start))


# --- the staff's home: menus by day and meal -----------------------------------------


def _pick_canteen(request: HttpRequest, canteens: list[Any]) -> Any:
    """The canteen asked for, else the first of the user's own centre, else the first."""
    wanted = _int_param(request, "canteen")
    if wanted is not None:
        for c in canteens:
            if c.pk == wanted:
                return c
        raise Http404
    home = getattr(request.user, "home_org_id", None)
    return next((c for c in canteens if c.org_id == home), canteens[0] if canteens else None)


def _menu_items(menu: Any) -> list[Any]:
    items = list(menu.items.all())
    for item in items:
        _dress_dish(item.dish)
    return items


@login_required
@refuses_bad_params
def home(request: HttpRequest) -> HttpResponse:
    """食堂: the chosen canteen's menus of a day (today by default; 明日 one tap away),
    meal by meal, with the dish cards and the user's reservation for each meal."""
    user = request.user
    canteens = [c for c in queries.visible_canteens(user) if c.is_active]
    canteen = _pick_canteen(request, canteens)
    today = _today()
    day = _day_param(request, today)
    menus: list[Any] = []
    if canteen is not None:
        menus = [
            m
            for m in queries.menus(user, canteen.pk, day, day)
            if m.status in (MenuStatus.PUBLISHED, MenuStatus.CLOSED)
        ]
    now = _now()
    for m in menus:
        m.dishes = _menu_items(m)
        m.open = m.status == MenuStatus.PUBLISHED and now < m.reserve_until
    return _render(
        request,
        "canteen/home.html",
        {
            "canteens": canteens,
            "canteen": canteen,
            "day": day,
            "today": today,
            "tomorrow": today + timedelta(days=1),
            "days": [today + timedelta(days=i) for i in range(BOOK_AHEAD_DAYS)],
            "menus": _meal_sort(menus),
            "tab": "home",
        },
    )


def _pickup_slots(menu: Any, now: datetime) -> list[datetime]:
    """The take-away pickup times: the serving hours on the canteen's slot grid, from
    now on."""
    step = timedelta(minutes=max(int(menu.canteen.takeaway_slot_minutes or 15), 5))
    out, at = [], menu.serve_start
    while at < menu.serve_end:
        if at > now:
            out.append(at)
        at += step
    return out


def _reserve_form(request: HttpRequest, menu: Any, items: list[Any]) -> ReserveForm:
    orderable = [i for i in items if i.takeaway or i.portions is not None]
    return ReserveForm(
        request.POST if request.method == "POST" else None,
        initial={"client_key": uuid.uuid4().hex, "kind": ReservationKind.EAT_IN},
        items=orderable,
        slots=_pickup_slots(menu, _now()),
    )


@login_required
def menu_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One meal: its dishes and the 报餐 form (eat-in, or a take-away package with a
    pickup slot; portions of the limited dishes)."""
    user = request.user
    menu = _or_404(queries.menu, user, pk)
    items = _menu_items(menu)
    form = _reserve_form(request, menu, items)
    ok, found, status = _submit(
        request,
        form,
        lambda: reservations.reserve(
            actor=user,
            menu_id=menu.pk,
            kind=form.cleaned_data["kind"],
            items=form.lines(),
            pickup_at=form.pickup(),
            client_key=form.cleaned_data["client_key"],
        ),
    )
    if ok:
        messages.success(request, _("报餐成功，请凭取餐码就餐。"))
        return redirect("canteen:reservation", pk=found.pk)
    mine = menu.my_reservation
    now = _now()
    is_open = menu.status == MenuStatus.PUBLISHED and now < menu.reserve_until
    # the dishes the form lists are not listed twice
    listed = {i.pk for i in form.items} if is_open and mine is None else set()
    return _render(
        request,
        "canteen/menu.html",
        {
            "menu": menu,
            "other_items": [i for i in items if not i.takeaway and i.pk not in listed],
            "listed": bool(listed),
            "packages": [i for i in items if i.takeaway],
            "form": form,
            "qty_rows": [
                {"item": i, "field": form[f"qty_{i.pk}"]} for i in form.items if not i.takeaway
            ],
            "pkg_rows": [
                {"item": i, "field": form[f"qty_{i.pk}"]} for i in form.items if i.takeaway
            ],
            "mine": mine,
            "open": is_open,
            "tab": "home",
        },
        status=status,
    )


# --- my reservations -----------------------------------------------------------------


@login_required
def my_reservations(request: HttpRequest) -> HttpResponse:
    """我的报餐: the coming meals (with the pickup code), then the past ones."""
    user = request.user
    upcoming = list(queries.my_reservations(user, upcoming=True)[:100])
    past = list(queries.my_reservations(user, upcoming=False)[:100])
    ids = {r.pk for r in upcoming}
    past = [r for r in past if r.pk not in ids][:50]
    now = _now()
    for r in upcoming:
        r.can_cancel = r.status == ReservationStatus.RESERVED and now < r.menu.cancel_until
    return _render(
        request,
        "canteen/mine.html",
        {"upcoming": upcoming, "past": past, "tab": "mine"},
    )


def _rating_rows(user: Any, r: Any, now: datetime) -> list[dict[str, Any]]:
    """The dishes a served diner may rate now, with their rating if given."""
    menu = r.menu
    if r.status != ReservationStatus.SERVED or r.person_id != user.pk:
        return []
    if not (menu.serve_start <= now < menu.serve_start + timedelta(days=RATING_DAYS)):
        return []
    given = {
        g.menu_item_id: g
        for g in queries.ratings(
            user, mine=True, canteen_id=menu.canteen_id, start=menu.day, end=menu.day
        )
    }
    if r.kind == ReservationKind.TAKEAWAY:
        items = [line.menu_item for line in r.lines.all()]
    else:
        items = [i for i in menu.items.all() if not i.takeaway]
    return [{"item": i, "rating": given.get(i.pk)} for i in items]


@login_required
def reservation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One reservation: the pickup code in big digits and as a QR code for the
    counter's scanner, what was ordered, cancel (within the window), rate (after)."""
    user = request.user
    r = _or_404(queries.reservation, user, pk)
    now = _now()
    menu = r.menu
    holding = r.status == ReservationStatus.RESERVED
    return _render(
        request,
        "canteen/reservation.html",
        {
            "r": r,
            "menu": menu,
            "lines": list(r.lines.all()),
            "qr_svg": qr.pickup_svg(r, scale=QR_SCALE) if holding else "",
            "can_cancel": holding and now < menu.cancel_until,
            "ratings": _rating_rows(user, r, now),
            "stars": range(1, 6),
            "tab": "mine",
        },
    )


@login_required
@require_POST
def reservation_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    r = _or_404(queries.reservation, user, pk)
    _attempt(
        request,
        _("已取消报餐。"),
        lambda: reservations.cancel_reservation(actor=user, reservation_id=r.pk),
    )
    return _back(request, reverse("canteen:reservation", args=[r.pk]))


@login_required
@require_POST
def rate(request: HttpRequest, pk: int) -> HttpResponse:
    """Stars and a comment on a dish of a meal the user was served."""
    user = request.user
    found = _or_404(queries.menu_item, user, pk)
    form = RatingForm(request.POST)
    _attempt_form(
        request,
        form,
        _("请选择 1–5 星。"),
        _("感谢您的评价。"),
        lambda: services.rate_dish(
            actor=user,
            menu_item_id=found.pk,
            stars=form.cleaned_data["stars"],
            comment=form.cleaned_data.get("comment") or "",
        ),
    )
    return _back(request, reverse("canteen:mine"))


@login_required
def dish_photo(request: HttpRequest, pk: int) -> FileResponse:
    """A dish's photo (``?thumb=1``: its thumbnail) for whoever sees its canteen."""
    dish = _or_404(queries.dish_with_photo, request.user, pk)
    field = dish.photo_thumb if request.GET.get("thumb") and dish.photo_thumb else dish.photo
    return _or_404(private_file, field)


@login_required
def dish_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A dish: its card, average stars and the latest comments (names only for the
    canteen's managers and overseers)."""
    user = request.user
    dish = _dress_dish(_or_404(queries.dish, user, pk))
    ratings = list(queries.ratings(user, dish_id=dish.pk)[:RATINGS_SHOWN])
    return _render(
        request,
        "canteen/dish.html",
        {
            "dish": dish,
            "ratings": ratings,
            "named": queries.may_see_rater(user, dish.canteen),
            "stars": range(1, 6),
            "tab": "home",
        },
    )


# --- vouchers ------------------------------------------------------------------------


def _voucher_menus(user: Any) -> list[tuple[int, str]]:
    """The published meals still open for reservations in the canteens the user sees."""
    now = _now()
    today = _today()
    rows = []
    for canteen in queries.visible_canteens(user):
        if not canteen.is_active:
            continue
        for m in queries.menus(user, canteen.pk, today, today + timedelta(days=BOOK_AHEAD_DAYS)):
            if m.status == MenuStatus.PUBLISHED and now < m.reserve_until:
                label = f"{canteen.name} · {m.day:%m-%d} {m.get_meal_display()}"
                rows.append((m.day, MEAL_ORDER.get(m.meal, 9), m.pk, label))
    rows.sort()
    return [(pk, label) for _d, _o, pk, label in rows]


def _voucher_bookings(user: Any) -> list[tuple[int, str]]:
    """The user's coming meetings (a batch for a meeting is capped at its attendees)."""
    now = _now()
    rows = (
        bookings_queries.bookings(user)
        .filter(booker=user, end_at__gt=now, start_at__lt=now + timedelta(days=BOOK_AHEAD_DAYS))
        .exclude(status__in=("cancelled", "rejected", "released", "displaced"))
        .order_by("start_at")[:50]
    )
    return [
        (b.pk, f"{timezone.localtime(b.start_at):%m-%d %H:%M} {b.title}（{b.attendees}）")
        for b in rows
    ]


def _voucher_units(user: Any) -> list[tuple[int, str]]:
    """The units the user may charge vouchers to (home unit first)."""
    rows = [(o.pk, o.name) for o in bookings_queries.orgs(user, "canteen.voucher")[:500]]
    home = getattr(user, "home_org_id", None)
    rows.sort(key=lambda r: r[0] != home)
    return rows


@login_required
def vouchers(request: HttpRequest) -> HttpResponse:
    """餐券: issue a batch for visitors or a meeting; the batches issued (by me, or all
    of a canteen's for its kitchen and overseers)."""
    user = request.user
    menus = _voucher_menus(user)
    initial: dict[str, Any] = {"client_key": uuid.uuid4().hex}
    if (wanted := _int_param(request, "menu")) is not None:
        initial["menu"] = wanted
    form = VoucherForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        menus=menus,
        units=_voucher_units(user),
        bookings=_voucher_bookings(user),
    )

    def issue() -> Any:
        d = form.cleaned_data
        return reservations.issue_vouchers(
            actor=user,
            menu_id=d["menu"],
            count=d["count"],
            purpose=d["purpose"],
            guest=d["guest"],
            unit_id=d.get("unit"),
            booking_id=d.get("booking"),
            client_key=d["client_key"],
        )

    ok, batch, status = _submit(request, form, issue)
    if ok:
        messages.success(request, _("餐券已发放，可打印券码交给来宾。"))
        return redirect("canteen:voucher", pk=batch.pk)
    batches = Paginator(queries.voucher_batches(user), PAGE_SIZE).get_page(request.GET.get("page"))
    return _render(
        request,
        "canteen/vouchers.html",
        {
            "form": form,
            "batches": batches,
            "page": batches,
            "has_menus": bool(menus),
            "tab": "vouchers",
        },
        status=status,
    )


@login_required
def voucher_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A batch's codes, printable (one card per voucher, with its QR code)."""
    user = request.user
    batch = _or_404(queries.voucher_batch, user, pk)
    codes = list(batch.vouchers.all())
    for v in codes:
        v.svg = qr.voucher_svg(v)
    return _render(
        request,
        "canteen/voucher.html",
        {
            "batch": batch,
            "codes": codes,
            "can_void": _now() < batch.menu.cancel_until
            and any(v.status == "issued" for v in codes),
            "tab": "vouchers",
        },
    )


@login_required
@require_POST
def voucher_void(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    batch = _or_404(queries.voucher_batch, user, pk)
    _attempt(
        request,
        _("未使用的餐券已作废。"),
        lambda: reservations.void_vouchers(actor=user, batch_id=batch.pk),
    )
    return redirect("canteen:voucher", pk=batch.pk)


# --- the kitchen ---------------------------------------------------------------------


def _kitchen_canteen(user: Any, cid: int, *, read_only: bool = False) -> Any:
    """A canteen whose kitchen the user works (operator or manager; overseers read): a
    canteen out of sight is a 404, one in sight but not the user's kitchen a 403."""
    canteen = _or_404(queries.canteen, user, cid)
    if queries.may_operate(user, canteen) or queries.may_manage(user, canteen):
        return canteen
    if read_only and queries.may_oversee(user, canteen):
        return canteen
    raise DjangoPermissionDenied


def _kitchen_ctx(canteen: Any, user: Any, section: str) -> dict[str, Any]:
    return {
        "canteen": canteen,
        "section": section,
        "can_operate": queries.may_operate(user, canteen) or queries.may_manage(user, canteen),
        "tab": "kitchen",
    }


@login_required
def kitchen_home(request: HttpRequest) -> HttpResponse:
    """The kitchens the user works in (straight to it when only one)."""
    user = request.user
    rows = list(queries.staff_canteens(user))
    if len(rows) == 1:
        return redirect("canteen:kitchen", cid=rows[0].pk)
    if not rows:
        raise DjangoPermissionDenied
    return _render(request, "canteen/kitchens.html", {"canteens": rows, "tab": "kitchen"})


def _counts(user: Any, canteen: Any, day: date) -> list[Any]:
    rows = list(queries.kitchen_counts(user, canteen.pk, day))
    return sorted(rows, key=lambda r: MEAL_ORDER.get(getattr(r, "meal", ""), 9))


@login_required
@refuses_bad_params
def kitchen(request: HttpRequest, cid: int) -> HttpResponse:
    """后厨: today's and tomorrow's counts per meal (eat-in, take-away by pickup slot,
    vouchers, portions per dish) with the forecast of diners and its measured error;
    the hand-over counter and closing a meal."""
    user = request.user
    canteen = _kitchen_canteen(user, cid, read_only=True)
    today = _day_param(request)
    tomorrow = today + timedelta(days=1)
    days = [
        {"day": today, "label": _("今日") if today == _today() else f"{today:%m-%d}"},
        {
            "day": tomorrow,
            "label": _("明日") if tomorrow == _today() + timedelta(days=1) else f"{tomorrow:%m-%d}",
        },
    ]
    now = _now()
    for d in days:
        d["meals"] = _counts(user, canteen, d["day"])
        for mc in d["meals"]:
            menu = getattr(mc, "menu", None)
            # a meal with no menu and no history has nothing to forecast
            mc.show_forecast = mc.forecast is not None and (
                menu is not None or mc.forecast.method != "no_history"
            )
            mc.can_close = (
                menu is not None
                and menu.status in (MenuStatus.PUBLISHED, MenuStatus.CLOSED)
                and now >= menu.serve_start
            )
    ctx = _kitchen_ctx(canteen, user, "counts")
    ctx.update(
        {
            "days": days,
            "day": today,
            "prev": today - timedelta(days=1),
            "next": today + timedelta(days=1),
            "handover_form": HandOverForm(),
            "close_form": CloseMealForm(),
            "result": None,
        }
    )
    return _render(request, "canteen/kitchen.html", ctx)


@login_required
@require_POST
def hand_over(request: HttpRequest, cid: int) -> HttpResponse:
    """The counter: a typed or scanned code (pickup, voucher or the QR payload) is
    handed over once; HTMX swaps in what to hand out, or the refusal."""
    user = request.user
    canteen = _kitchen_canteen(user, cid)
    form = HandOverForm(request.POST)
    result: Any = None
    error = ""
    code = ""
    if form.is_valid():
        try:
            result = reservations.hand_over(
                actor=user, canteen_id=canteen.pk, code=form.cleaned_data["code"]
            )
        except DomainError as exc:
            if isinstance(exc, NotFound) and exc.code == "not_found":
                raise Http404 from exc
            error, code = _message(exc), exc.code
    else:
        error, code = _("请输入取餐码或券码。"), "invalid"
    if request.headers.get("HX-Request") == "true":
        return _render(
            request,
            "canteen/_handover_result.html",
            {"result": result, "error": error, "code": code, "canteen": canteen},
            status=200,
        )
    if error:
        messages.error(request, error, extra_tags=f"code-{code}")
    else:
        messages.success(request, _handover_text(result))
    return redirect("canteen:kitchen", cid=canteen.pk)


def _handover_text(result: Any) -> str:
    """The counter's answer as a message (without HTMX)."""
    lines = pgettext("list separator", "、").join(
        f"{line.dish} × {line.quantity}" for line in result.lines
    )
    if result.kind == "voucher":
        return _("餐券有效，请放行。")
    return _("已取餐：%(lines)s") % {"lines": lines or _("堂食，现场自选")}


@login_required
@require_POST
def close_meal(request: HttpRequest, pk: int) -> HttpResponse:
    """结束餐次: still-reserved become no-shows; walk-ins complete the diners."""
    user = request.user
    menu = _or_404(queries.menu, user, pk)
    canteen = _kitchen_canteen(user, menu.canteen_id)
    form = CloseMealForm(request.POST)
    _attempt_form(
        request,
        form,
        _("未报餐就餐人数须为非负整数。"),
        _("餐次已结束，未取餐的报餐记为未就餐。"),
        lambda: reservations.close_meal(
            actor=user, menu_id=menu.pk, walk_ins=form.cleaned_data["walk_ins"]
        ),
    )
    return _back(
        request, f"{reverse('canteen:kitchen', args=[canteen.pk])}?day={menu.day.isoformat()}"
    )


# --- food safety ---------------------------------------------------------------------


@login_required
def safety_home(request: HttpRequest, cid: int) -> HttpResponse:
    """食品安全: today's opening and closing checks (through inspections) and what is due:
    samples to remove, certificates expiring, the logs' latest non-conformances."""
    user = request.user
    canteen = _kitchen_canteen(user, cid, read_only=True)
    today = _today()
    checks = list(safety.daily_checks(canteen, today))
    due = [s for s in queries.samples(user, canteen_id=canteen.pk, pending=True)[:50]]
    expiring = [
        h
        for h in queries.food_handlers(user, canteen_id=canteen.pk, active=True)
        if (h.expires_on - today).days <= CERTIFICATE_WARNING_DAYS
    ]
    ctx = _kitchen_ctx(canteen, user, "safety")
    ctx.update(
        {
            "checks": checks,
            "today": today,
            "now": _now(),
            "due_samples": [s for s in due if s.keep_until <= _now()],
            "expiring": expiring,
        }
    )
    return _render(request, "canteen/safety.html", ctx)


def _log_page(
    request: HttpRequest,
    cid: int,
    *,
    section: str,
    template: str,
    form_cls: Any,
    form_kwargs: Any = None,
    save: Any,
    done: str,
    rows: Any,
    initial: dict[str, Any] | None = None,
    extra: Any = None,
) -> HttpResponse:
    """A food-safety or waste log: the form (operators and managers) above the latest
    entries. ``save(user, canteen, cleaned)`` writes through the service."""
    user = request.user
    canteen = _kitchen_canteen(user, cid, read_only=request.method != "POST")
    ctx = _kitchen_ctx(canteen, user, section)
    kwargs = form_kwargs(user, canteen) if form_kwargs else {}
    form = form_cls(
        request.POST if request.method == "POST" else None, initial=initial or {}, **kwargs
    )
    ok, saved, status = _submit(request, form, lambda: save(user, canteen, form))
    if ok:
        if getattr(saved, "passed", True) is False:
            messages.warning(request, _("已记录，但不符合标准要求，已生成整改问题。"))
        else:
            messages.success(request, done)
        return redirect(request.path)
    page = Paginator(rows(user, canteen), PAGE_SIZE).get_page(request.GET.get("page"))
    ctx.update({"form": form, "rows": page, "page": page})
    if extra is not None:
        ctx.update(extra(user, canteen))
    return _render(request, template, ctx, status=status)


def _today_items(user: Any, canteen: Any) -> list[tuple[int, str]]:
    """Today's (and yesterday's late) dishes, for the sample form."""
    today = _today()
    rows = []
    for m in _meal_sort(list(queries.menus(user, canteen.pk, today - timedelta(days=1), today))):
        if m.status in (MenuStatus.PUBLISHED, MenuStatus.CLOSED):
            for item in m.items.all():
                label = f"{m.day:%m-%d} {m.get_meal_display()} · {item.dish.name}"
                rows.append((item.pk, label))
    return rows


def _units(user: Any, canteen: Any, kind: str | None = None) -> list[tuple[int, str]]:
    return [
        (u.pk, f"{u.name}（{u.get_kind_display()}）")
        for u in queries.cold_units(user, canteen.pk, kind=kind)
        if u.is_active
    ]


@login_required
def samples(request: HttpRequest, cid: int) -> HttpResponse:
    """留样: weigh each dish of each meal into the sample fridge; remove after."""
    return _log_page(
        request,
        cid,
        section="samples",
        template="canteen/samples.html",
        form_cls=SampleForm,
        form_kwargs=lambda user, canteen: {
            "items": _today_items(user, canteen),
            "fridges": _units(user, canteen, ColdUnitKind.SAMPLE),
        },
        initial={"sealed": True},
        save=lambda user, canteen, form: safety.record_sample(
            actor=user,
            menu_item_id=form.cleaned_data["menu_item"],
            weight_g=form.cleaned_data["weight_g"],
            fridge_id=form.cleaned_data["fridge"],
            sampled_at=form.cleaned_data.get("sampled_at"),
            sealed=bool(form.cleaned_data.get("sealed")),
            keep_hours=form.cleaned_data.get("keep_hours"),
        ),
        done=_("留样已登记。"),
        rows=lambda user, canteen: queries.samples(user, canteen_id=canteen.pk),
    )


@login_required
@require_POST
def sample_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    sample = _or_404(queries.safety_log, user, "samples", pk)
    canteen = _kitchen_canteen(user, sample.canteen_id)
    _attempt(
        request,
        _("留样已清理。"),
        lambda: safety.remove_sample(actor=user, sample_id=sample.pk),
    )
    return redirect("canteen:samples", cid=canteen.pk)


@login_required
def temperatures(request: HttpRequest, cid: int) -> HttpResponse:
    """冷藏冷冻温度: each fridge and freezer, and the sample fridge."""
    return _log_page(
        request,
        cid,
        section="temperatures",
        template="canteen/temperatures.html",
        form_cls=TemperatureForm,
        form_kwargs=lambda user, canteen: {"units": _units(user, canteen)},
        save=lambda user, canteen, form: safety.record_temperature(
            actor=user,
            unit_id=form.cleaned_data["unit"],
            temp_c=form.cleaned_data["temp_c"],
            recorded_at=form.cleaned_data.get("recorded_at"),
        ),
        done=_("温度已记录。"),
        rows=lambda user, canteen: queries.safety_logs(user, "temperatures", canteen_id=canteen.pk),
    )


@login_required
def disinfections(request: HttpRequest, cid: int) -> HttpResponse:
    """餐用具消毒: what must be recorded depends on the method."""
    return _log_page(
        request,
        cid,
        section="disinfections",
        template="canteen/disinfections.html",
        form_cls=DisinfectionForm,
        save=lambda user, canteen, form: safety.record_disinfection(
            actor=user, canteen_id=canteen.pk, **form.service_fields()
        ),
        done=_("消毒已记录。"),
        rows=lambda user, canteen: queries.safety_logs(
            user, "disinfections", canteen_id=canteen.pk
        ),
    )


@login_required
def receiving(request: HttpRequest, cid: int) -> HttpResponse:
    """进货查验: supplier, certificate, batch, shelf life."""
    return _log_page(
        request,
        cid,
        section="receiving",
        template="canteen/receiving.html",
        form_cls=ReceivingForm,
        initial={"unit": "kg", "accepted": True},
        save=lambda user, canteen, form: safety.record_receiving(
            actor=user,
            canteen_id=canteen.pk,
            data=form.data_fields(),
            recorded_at=form.cleaned_data.get("recorded_at"),
        ),
        done=_("进货查验已记录。"),
        rows=lambda user, canteen: queries.safety_logs(user, "receiving", canteen_id=canteen.pk),
    )


@login_required
def handlers(request: HttpRequest, cid: int) -> HttpResponse:
    """从业人员: health certificates (expiring soon highlighted) and today's 晨检."""
    user = request.user
    canteen = _kitchen_canteen(user, cid, read_only=True)
    today = _today()
    rows = list(queries.food_handlers(user, canteen_id=canteen.pk))
    checks = {
        c.handler_id: c
        for c in queries.safety_logs(
            user, "health_checks", canteen_id=canteen.pk, start=today, end=today
        )
    }
    for h in rows:
        h.days_left = (h.expires_on - today).days
        h.today_check = checks.get(h.pk)
    ctx = _kitchen_ctx(canteen, user, "handlers")
    ctx.update({"rows": rows, "today": today, "check_form": HealthCheckForm()})
    return _render(request, "canteen/handlers.html", ctx)


@login_required
def handler_edit(
    request: HttpRequest, cid: int | None = None, pk: int | None = None
) -> HttpResponse:
    user = request.user
    handler = _or_404(queries.food_handler, user, pk) if pk is not None else None
    canteen = _kitchen_canteen(user, handler.canteen_id if handler else cid)
    initial: dict[str, Any] = {}
    if handler is not None:
        initial = {name: getattr(handler, name) for name in HandlerForm.FIELDS}
        initial["version"] = handler.version
    form = HandlerForm(request.POST if request.method == "POST" else None, initial=initial)
    ok, _saved, status = _submit(
        request,
        form,
        lambda: safety.save_handler(
            actor=user,
            canteen_id=None if handler else canteen.pk,
            handler_id=handler.pk if handler else None,
            data=form.data_fields(),
            version=form.cleaned_data.get("version") if handler else None,
        ),
    )
    if ok:
        messages.success(request, _("从业人员已保存。"))
        return redirect("canteen:handlers", cid=canteen.pk)
    ctx = _kitchen_ctx(canteen, user, "handlers")
    ctx.update({"form": form, "handler": handler})
    return _render(request, "canteen/handler_form.html", ctx, status=status)


@login_required
@require_POST
def health_check(request: HttpRequest, pk: int) -> HttpResponse:
    """晨检 of one handler today."""
    user = request.user
    handler = _or_404(queries.food_handler, user, pk)
    canteen = _kitchen_canteen(user, handler.canteen_id)
    form = HealthCheckForm(request.POST)
    _attempt_form(
        request,
        form,
        _("请选择身体状况。"),
        _("晨检已记录。"),
        lambda: safety.record_health_check(
            actor=user,
            handler_id=handler.pk,
            healthy=form.cleaned_data["healthy"],
            symptoms=form.cleaned_data.get("symptoms") or "",
        ),
    )
    return redirect("canteen:handlers", cid=canteen.pk)


@login_required
def waste(request: HttpRequest, cid: int) -> HttpResponse:
    """称重: kitchen waste, tray returns, unsold food; the daily evaluation per diner."""
    return _log_page(
        request,
        cid,
        section="waste",
        template="canteen/waste.html",
        form_cls=WasteForm,
        initial={"day": _today()},
        save=lambda user, canteen, form: wastes.record_waste(
            actor=user,
            canteen_id=canteen.pk,
            day=form.cleaned_data["day"],
            kind=form.cleaned_data["kind"],
            weight_kg=form.cleaned_data["weight_kg"],
            meal=form.cleaned_data.get("meal") or "",
        ),
        done=_("称重已记录。"),
        rows=lambda user, canteen: queries.waste_logs(user, canteen_id=canteen.pk),
        extra=lambda user, canteen: {
            "days": list(queries.waste_days(user, canteen_id=canteen.pk)[:31])
        },
    )


@login_required
@require_POST
def waste_evaluate(request: HttpRequest, cid: int) -> HttpResponse:
    """每日浪费评估 of a day: the weighings per diner, judged by the standard."""
    user = request.user
    canteen = _kitchen_canteen(user, cid)
    raw = request.POST.get("day") or ""
    day = _parse_day(raw) if raw else _today()
    if day is None:  # never another day than the one asked for
        _fail(
            request, InvalidInput(_("日期无效：请使用 YYYY-MM-DD 格式的有效日期。"), code="bad_day")
        )
        return redirect("canteen:waste", cid=canteen.pk)
    _attempt(
        request,
        _("当日浪费评估已更新。"),
        lambda: wastes.evaluate_waste_day(actor=user, canteen_id=canteen.pk, day=day),
    )
    return redirect("canteen:waste", cid=canteen.pk)


# --- managers: menus and dishes ------------------------------------------------------


def _managed_canteen(user: Any, cid: int) -> Any:
    canteen = _or_404(queries.canteen, user, cid)
    if not queries.may_manage(user, canteen):
        raise DjangoPermissionDenied
    return canteen


@login_required
def manage_home(request: HttpRequest) -> HttpResponse:
    """The canteens the user manages (straight to the week's menus when only one)."""
    user = request.user
    rows = [c for c in queries.staff_canteens(user) if queries.may_manage(user, c)]
    if not rows:
        if queries.managed_org_ids(user):
            return redirect("canteen:canteen_new")  # a centre without a canteen yet
        raise DjangoPermissionDenied
    if len(rows) == 1:
        return redirect("canteen:menu_week", cid=rows[0].pk)
    return _render(
        request, "canteen/kitchens.html", {"canteens": rows, "target": "manage", "tab": "menus"}
    )


def _location_choices(user: Any) -> list[tuple[int, str]]:
    locations = org_queries.locations(user).filter(is_active=True).order_by("path")[:1000]
    return [(loc.pk, f"{loc.name} · {loc.org.short_name or loc.org.name}") for loc in locations]


def _operator_choices(user: Any) -> list[tuple[int, str]]:
    """Catering companies the user reaches (the service refuses any other)."""
    return [
        (o.pk, o.name)
        for o in bookings_queries.orgs(user, "orgs.view").filter(kind__in=services.OPERATOR_KINDS)[
            :200
        ]
    ]


def _period_forms(canteen: Any, data: Any = None, meal: str | None = None) -> list[Any]:
    periods = {p.meal: p for p in canteen.meal_periods.all()}
    out = []
    for value, label in Meal.choices:
        period = periods.get(value)
        initial = {name: getattr(period, name) for name in MealPeriodForm.FIELDS} if period else {}
        form = MealPeriodForm(data if meal == value else None, initial=initial, prefix=value)
        form.meal, form.label = value, label
        out.append(form)
    return out


@login_required
def canteen_edit(request: HttpRequest, cid: int | None = None) -> HttpResponse:
    """A canteen's settings (or a new canteen) and its meal periods; the kitchen's
    daily opening and closing checks assigned through the inspection plans."""
    user = request.user
    canteen = _managed_canteen(user, cid) if cid is not None else None
    if canteen is None and not queries.managed_org_ids(user):
        raise DjangoPermissionDenied
    initial: dict[str, Any] = {}
    if canteen is not None:
        initial = {name: getattr(canteen, name) for name in CanteenForm.FIELDS}
        initial.update(
            version=canteen.version,
            org=canteen.org_id,
            location=canteen.location_id,
            kitchen=canteen.kitchen_id,
            operator=canteen.operator_id,
            is_active=canteen.is_active,
        )
    form = CanteenForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        orgs=[(o.pk, o.name) for o in bookings_queries.orgs(user, "canteen.manage")[:200]],
        locations=_location_choices(user),
        operators=_operator_choices(user),
        editing=canteen is not None,
    )

    def save() -> Any:
        d = form.cleaned_data
        return services.save_canteen(
            actor=user,
            canteen_id=canteen.pk if canteen else None,
            org_id=None if canteen else d["org"],
            location_id=d["location"],
            data=form.data_fields(),
            version=d.get("version") if canteen else None,
        )

    ok, saved, status = _submit(request, form, save)
    if ok:
        messages.success(request, _("食堂设置已保存。"))
        return redirect("canteen:canteen_edit", cid=saved.pk)
    return _render(
        request,
        "canteen/canteen_form.html",
        {
            "canteen": canteen,
            "form": form,
            "periods": _period_forms(canteen) if canteen is not None else [],
            "tab": "settings",
        },
        status=status,
    )


@login_required
@require_POST
def period_save(request: HttpRequest, cid: int, meal: str) -> HttpResponse:
    """A meal period's hours, deadlines and eat-in price."""
    user = request.user
    canteen = _managed_canteen(user, cid)
    if meal not in Meal.values:
        raise Http404
    form = MealPeriodForm(request.POST, prefix=meal)
    _attempt_form(
        request,
        form,
        _("餐次设置有误，请检查时间和分钟数。"),
        _("餐次设置已保存。"),
        lambda: services.save_meal_period(
            actor=user, canteen_id=canteen.pk, meal=meal, **form.cleaned_data
        ),
    )
    return redirect("canteen:canteen_edit", cid=canteen.pk)


@login_required
@require_POST
def check_plans(request: HttpRequest, cid: int) -> HttpResponse:
    """Plan the kitchen's daily opening and closing checks (self-inspections)."""
    user = request.user
    canteen = _managed_canteen(user, cid)
    _attempt(
        request,
        _("已安排后厨每日开工、收工检查。"),
        lambda: safety.ensure_check_plans(actor=user, canteen_id=canteen.pk),
    )
    return redirect("canteen:canteen_edit", cid=canteen.pk)


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


@login_required
@refuses_bad_params
def menu_week(request: HttpRequest, cid: int) -> HttpResponse:
    """菜单: a week of meals (draft, published, closed, cancelled) to edit, publish,
    cancel, and copy a day to another."""
    user = request.user
    canteen = _managed_canteen(user, cid)
    start = _week_start(_day_param(request))
    days = [start + timedelta(days=i) for i in range(7)]
    by_key = {(m.day, m.meal): m for m in queries.menus(user, canteen.pk, days[0], days[-1])}
    grid = [
        {
            "day": d,
            "meals": [
                {"meal": meal, "label": label, "menu": by_key.get((d, meal))}
                for meal, label in Meal.choices
            ],
        }
        for d in days
    ]
    return _render(
        request,
        "canteen/menu_week.html",
        {
            "canteen": canteen,
            "grid": grid,
            "start": start,
            "prev": start - timedelta(days=7),
            "next": start + timedelta(days=7),
            "today": _today(),
            "copy_form": CopyMenusForm(
                initial={"from_day": start, "to_day": start + timedelta(days=7)}
            ),
            "tab": "menus",
        },
    )


@login_required
@refuses_bad_params
def menu_edit(request: HttpRequest, cid: int) -> HttpResponse:
    """A meal's menu (``?day=&meal=``): the dishes, their portions, per-person limits
    and prices; save as draft, then publish."""
    user = request.user
    canteen = _managed_canteen(user, cid)
    day = _day_param(request)
    meal = request.GET.get("meal") or Meal.LUNCH
    if meal not in Meal.values:
        raise Http404
    existing = next((m for m in queries.menus(user, canteen.pk, day, day) if m.meal == meal), None)
    dishes = [_dress_dish(d) for d in queries.dishes(user, canteen.pk) if d.is_active]
    initial: dict[str, Any] = {}
    if existing is not None:
        initial = {
            "version": existing.version,
            "capacity": existing.capacity,
            "note": existing.note,
        }
        for item in existing.items.all():
            initial[f"on_{item.dish_id}"] = True
            initial[f"portions_{item.dish_id}"] = item.portions
            initial[f"max_{item.dish_id}"] = item.per_person_max
            initial[f"price_{item.dish_id}"] = item.price
            item.dish.sold = item.sold
    form = MenuForm(
        request.POST if request.method == "POST" else None, initial=initial, dishes=dishes
    )

    def save() -> Any:
        d = form.cleaned_data
        return services.save_menu(
            actor=user,
            canteen_id=canteen.pk,
            day=day,
            meal=meal,
            items=form.items(),
            capacity=d.get("capacity"),
            note=d.get("note") or "",
            version=d.get("version") if existing else None,
        )

    ok, saved, status = _submit(request, form, save)
    if ok:
        messages.success(request, _("菜单已保存。"))
        return redirect(_menu_back(saved))
    sold = {i.dish_id: i.sold for i in existing.items.all()} if existing else {}
    return _render(
        request,
        "canteen/menu_edit.html",
        {
            "canteen": canteen,
            "menu": existing,
            "day": day,
            "meal": meal,
            "meal_label": dict(Meal.choices)[meal],
            "form": form,
            "rows": [{**row, "sold": sold.get(row["dish"].pk, 0)} for row in form.rows()],
            "publish_form": PublishForm(
                initial={"version": existing.version if existing else None}
            ),
            "cancel_form": ReasonForm(),
            "tab": "menus",
        },
        status=status,
    )


def _menu_back(menu: Any) -> str:
    return (
        f"{reverse('canteen:menu_edit', args=[menu.canteen_id])}"
        f"?day={menu.day.isoformat()}&meal={menu.meal}"
    )


@login_required
@require_POST
def menu_publish(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    menu = _or_404(queries.menu, user, pk)
    _managed_canteen(user, menu.canteen_id)
    form = PublishForm(request.POST)
    _attempt_form(
        request,
        form,
        _("截止时间格式无效。"),
        _("菜单已发布，职工可以报餐了。"),
        lambda: services.publish_menu(
            actor=user,
            menu_id=menu.pk,
            reserve_until=form.cleaned_data.get("reserve_until"),
            cancel_until=form.cleaned_data.get("cancel_until"),
            version=form.cleaned_data.get("version"),
        ),
    )
    return redirect(_menu_back(menu))


@login_required
@require_POST
def menu_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a meal: its reservations are cancelled and the people told."""
    user = request.user
    menu = _or_404(queries.menu, user, pk)
    _managed_canteen(user, menu.canteen_id)
    form = ReasonForm(request.POST)
    _attempt_form(
        request,
        form,
        _("请写明取消原因。"),
        _("餐次已取消，已通知报餐人员。"),
        lambda: services.cancel_menu(
            actor=user, menu_id=menu.pk, reason=form.cleaned_data["reason"]
        ),
    )
    return redirect(_menu_back(menu))


@login_required
@require_POST
def menu_copy(request: HttpRequest, cid: int) -> HttpResponse:
    """Copy a day's menus to another day as drafts (the weekly routine)."""
    user = request.user
    canteen = _managed_canteen(user, cid)
    form = CopyMenusForm(request.POST)
    target = reverse("canteen:menu_week", args=[canteen.pk])
    if not form.is_valid():
        messages.error(request, _("请填写日期。"))
        return redirect(target)
    d = form.cleaned_data
    made = _attempt(
        request,
        _("已复制为草稿，请检查后发布。"),
        lambda: services.copy_menus(
            actor=user, canteen_id=canteen.pk, from_day=d["from_day"], to_day=d["to_day"]
        ),
    )
    day = d["to_day"] if made is not None else d["from_day"]
    return redirect(f"{target}?day={day.isoformat()}")


@login_required
def dishes(request: HttpRequest, cid: int) -> HttpResponse:
    """菜品: a canteen's dishes (inactive ones too) with their photos and ratings."""
    user = request.user
    canteen = _managed_canteen(user, cid)
    rows = [_dress_dish(d) for d in queries.dishes(user, canteen.pk)]
    return _render(
        request,
        "canteen/dishes.html",
        {"canteen": canteen, "dishes": rows, "tab": "dishes"},
    )


@login_required
def dish_edit(request: HttpRequest, cid: int | None = None, pk: int | None = None) -> HttpResponse:
    user = request.user
    dish = _or_404(queries.dish, user, pk) if pk is not None else None
    canteen = _managed_canteen(user, dish.canteen_id if dish else cid)
    initial: dict[str, Any] = {"category": DishCategory.MEAT, "is_active": True}
    if dish is not None:
        initial = {name: getattr(dish, name) for name in DishForm.FIELDS}
        initial["version"] = dish.version
    form = DishForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        initial=initial,
    )
    ok, _saved, status = _submit(
        request,
        form,
        lambda: services.save_dish(
            actor=user,
            canteen_id=None if dish else canteen.pk,
            dish_id=dish.pk if dish else None,
            data=form.data_fields(),
            photo=form.cleaned_data.get("photo") or None,
            remove_photo=bool(form.cleaned_data.get("remove_photo")),
            version=form.cleaned_data.get("version") if dish else None,
        ),
    )
    if ok:
        messages.success(request, _("菜品已保存。"))
        return redirect("canteen:dishes", cid=canteen.pk)
    return _render(
        request,
        "canteen/dish_form.html",
        {
            "canteen": canteen,
            "dish": _dress_dish(dish) if dish else None,
            "form": form,
            "tab": "dishes",
        },
        status=status,
    )


# --- the dashboard -------------------------------------------------------------------


def _require_dashboard(user: Any) -> None:
    if not (queries.overseen_org_ids(user) or queries.managed_org_ids(user)):
        raise DjangoPermissionDenied


def _period(request: HttpRequest) -> tuple[Period, int | None, list[tuple[int, str]]]:
    user = request.user
    period = Period.from_query(request.GET)
    canteens = [(c.pk, c.name) for c in queries.staff_canteens(user)]
    cid = _int_param(request, "canteen")
    if cid is not None and cid not in {pk for pk, _n in canteens}:
        raise Http404
    return period, cid, canteens


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """食堂看板: reservations vs diners, no-shows, ratings, waste per diner and the
    food-safety compliance by clause; the best and worst dishes of the week."""
    user = request.user
    period, cid, canteens = _period(request)  # another county's canteen: 404 first
    _require_dashboard(user)
    data = _or_404(queries.dashboard, user, period.since, period.until, canteen_id=cid)
    week = _week_start(period.until)
    return _render(
        request,
        "canteen/dashboard.html",
        {
            "data": data,
            "chart": _chart(data),
            "ranking": queries.best_worst_dishes(user, week, limit=5),
            "no_shows": _or_404(queries.no_shows, user, period.since, period.until, canteen_id=cid)[
                "by_person"
            ][:NO_SHOW_PEOPLE],
            "week": week,
            "form": PeriodForm(
                initial={"since": period.since, "until": period.until, "canteen": cid},
                canteens=canteens,
            ),
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "canteen_id": cid,
            "tab": "dashboard",
        },
    )


def _chart(data: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's series for canteen/dashboard.js (JSON in the page: CSP)."""
    days = list(data.get("days") or [])
    clauses = list((data.get("compliance") or {}).get("clauses") or [])
    per_canteen = list(data.get("by_canteen") or [])

    def col(rows: list[dict[str, Any]], key: str) -> list[Any]:
        return [_num(r.get(key)) for r in rows]

    return {
        "labels": {
            "reserved": pgettext("column", "报餐"),
            "diners": _("实际就餐"),
            "no_shows": _("未就餐"),
            "waste": _("人均浪费（g）"),
            "rating": _("平均评分"),
            "compliance": _("符合率"),
        },
        "days": [f"{r['day']:%m-%d}" for r in days],
        "reserved": col(days, "reserved"),
        "diners": col(days, "diners"),
        "no_shows": col(days, "no_shows"),
        "waste": col(days, "waste_g_per_diner"),
        "rating": col(days, "rating_avg"),
        "clauses": [str(r.get("clause_number") or "") for r in clauses],
        "clause_texts": [str(r.get("clause_text") or "")[:40] for r in clauses],
        "compliance": [_pct(r.get("rate")) for r in clauses],
        "canteens": [str(r.get("label") or r.get("name") or "") for r in per_canteen],
        "canteen_reserved": col(per_canteen, "reserved"),
        "canteen_diners": col(per_canteen, "diners"),
        "canteen_waste": col(per_canteen, "waste_g_per_diner"),
    }


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else round(number, 2)


def _pct(value: Any) -> float | None:
    number = _num(value)
    return None if number is None else round(float(number) * 100, 1)


@login_required
def export(request: HttpRequest) -> HttpResponse:
    """The dashboard's period as an Excel workbook."""
    user = request.user
    period, cid, _canteens = _period(request)
    _require_dashboard(user)
    body = _or_404(
        canteen_export.dashboard_xlsx, user, start=period.since, end=period.until, canteen_id=cid
    )
    resp = HttpResponse(body, content_type=XLSX)
    stamp = timezone.localdate().strftime("%Y%m%d")
    resp["Content-Disposition"] = f'attachment; filename="canteen-{stamp}.xlsx"'
    return resp
