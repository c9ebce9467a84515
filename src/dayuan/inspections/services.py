"""Every change to assets, plan assignments, inspections and findings.

Inspections are filled in as drafts (saved as the inspector goes, so a lost connection
or a closed tab loses nothing) and submitted once: submit locks the row, returns an
inspection already submitted unchanged (a retry, a double tap, a second worker), grades
it with the checklist snapshotted at start, writes one row and one standards judgment
per item and opens a finding, with its rectification order, for every failed item.
``now`` is for tests and jobs; callers leave it out.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dayuan.accounts.models import User
from dayuan.audit.log import audited, diff, record, snapshot
from dayuan.core import policy
from dayuan.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleVersion,
)
from dayuan.core.numbers import next_number
from dayuan.notifications.services import emit
from dayuan.orgs.models import Location, Organization
from dayuan.standards import effective, engine
from dayuan.standards.choices import Outcome, Severity
from dayuan.standards.models import Clause
from dayuan.standards.rules import Deduction, GradeBand
from dayuan.workorders import photos as photo_files
from dayuan.workorders.models import Team
from dayuan.workorders.tasks import role_holders

from . import events, queries
from .choices import (
    OPEN_RECTIFICATION,
    FindingSource,
    FindingStatus,
    InspectionKind,
    InspectionStatus,
    OccurrenceStatus,
    RectificationStatus,
)
from .models import (
    Asset,
    Finding,
    FindingEvent,
    FindingPhoto,
    Inspection,
    InspectionItem,
    InspectionPhoto,
    PlanAssignment,
    PlanOccurrence,
    Rectification,
)

INSPECTION_FIELDS = ["status", "score", "grade", "passed", "summary", "version"]
FINDING_FIELDS = ["status", "severity", "clause_id", "location_id", "vendor_id", "version"]
MAX_NOTE = 500
MAX_PHOTOS_PER_ITEM = 6


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _pk(obj: Any) -> int | None:
    return getattr(obj, "pk", obj)


def _text(value: str | None, label: str, max_length: int, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(_("请填写%(field)s。") % {"field": label}, code="required")
    if len(value) > max_length:
        raise InvalidInput(
            _("%(field)s不能超过 %(n)s 个字符。") % {"field": label, "n": max_length},
            code="too_long",
        )
    return value


def _under(org: Organization, ancestor: Organization) -> bool:
    return org.path.startswith(ancestor.path)


def _check_version(obj: Any, version: int | None) -> None:
    if version is not None and obj.version != version:
        raise StaleVersion(current_version=obj.version)


def _location(actor: Any, location_id: int | None, *, check_view: bool = True) -> Location:
    location = Location.objects.select_related("org").filter(pk=location_id).first()
    if location is None or (check_view and not policy.can(actor, "locations.view", location.org)):
        raise NotFound(_("地点不存在或无权访问。"))
    if not location.is_active:
        raise InvalidInput(_("该地点已停用。"), code="invalid_location", field="location_id")
    return location


def _vendor(vendor_id: int | None, org: Organization) -> Organization | None:
    """A responsible party within the org's centre (a vendor or a unit of the centre)."""
    if vendor_id is None:
        return None
    vendor = Organization.objects.filter(pk=vendor_id, is_active=True).first()
    centre = org.centre or org
    if vendor is None or not _under(vendor, centre):
        raise InvalidInput(_("责任单位不可用。"), code="invalid_vendor", field="vendor_id")
    return vendor


# --- assets and plan assignments -------------------------------------------------------

ASSET_FIELDS = ["location_id", "asset_type", "name", "code", "is_active", "version"]


@audited("inspections.save_asset")
def save_asset(
    *,
    actor: Any,
    org_id: int,
    location_id: int,
    asset_type: str,
    name: str,
    code: str = "",
    asset_id: int | None = None,
    version: int | None = None,
    is_active: bool | None = None,
) -> Asset:
    """Register or edit equipment a ``schedule`` rule may name by ``asset_type``
    (``is_active`` None keeps it as it is; a new asset is active)."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound()
    policy.require(actor, "inspections.plan", org)
    location = _location(actor, location_id)
    if not _under(location.org, org):
        raise InvalidInput(_("地点不属于所选单位。"), code="invalid_location", field="location_id")
    asset_type = _text(asset_type, _("设备类型"), 60)
    name = _text(name, _("名称"), 100)
    code = _text(code, _("编号"), 40, required=False)
    if asset_id is None:
        asset = Asset(org=org)
        before: dict[str, Any] = {}
    else:
        asset = Asset.objects.select_for_update().filter(pk=asset_id, org=org).first()
        if asset is None:
            raise NotFound()
        _check_version(asset, version)
        before = snapshot(asset, ASSET_FIELDS)
        asset.version += 1
    asset.location, asset.asset_type, asset.name, asset.code = location, asset_type, name, code
    if is_active is not None:
        asset.is_active = bool(is_active)
    asset.save()
    record(
        "inspections.save_asset",
        actor=actor,
        obj=asset,
        changes=diff(before, snapshot(asset, ASSET_FIELDS)),
    )
    return asset


ASSIGNMENT_FIELDS = [
    "activity",
    "location_id",
    "team_id",
    "inspector_id",
    "vendor_id",
    "checklist_code",
    "kind",
    "is_active",
    "version",
]


@audited("inspections.save_assignment")
def save_assignment(
    *,
    actor: Any,
    org_id: int,
    activity: str,
    location_id: int | None = None,
    team_id: int | None = None,
    inspector_id: int | None = None,
    vendor_id: int | None = None,
    checklist_code: str = "",
    kind: str = "patrol",
    assignment_id: int | None = None,
    version: int | None = None,
    is_active: bool | None = None,
) -> PlanAssignment:
    """Who performs ``activity`` in the org (or below ``location_id``); the plan generator
    picks the most specific assignment for each target (``is_active`` None keeps it as
    it is; a new assignment is active)."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound()
    policy.require(actor, "inspections.plan", org)
    activity = _text(activity, _("计划事项"), 60)
    if kind not in InspectionKind.values:
        raise InvalidInput(_("检查类型无效。"), code="invalid_kind", field="kind")
    location = None
    if location_id is not None:
        location = _location(actor, location_id)
        if not _under(location.org, org):
            raise InvalidInput(
                _("地点不属于所选单位。"), code="invalid_location", field="location_id"
            )
    team = None
    if team_id is not None:
        team = Team.objects.select_related("org").filter(pk=team_id, is_active=True).first()
        if team is None or not (_under(team.org, org) or _under(org, team.org)):
            raise InvalidInput(_("所选班组不可用。"), code="invalid_team", field="team_id")
    inspector = None
    if inspector_id is not None:
        inspector = User.objects.filter(pk=inspector_id, is_active=True).first()
        if inspector is None or not (
            policy.can(inspector, "inspections.conduct", org)
            or policy.can(inspector, "inspections.self_inspect", org)
        ):
            raise InvalidInput(
                _("所选检查人不能在该单位执行检查。"),
                code="invalid_inspector",
                field="inspector_id",
            )
    vendor = _vendor(vendor_id, org)
    if team is not None and vendor is None:
        vendor = team.vendor
    checklist_code = _text(checklist_code, _("检查表"), 60, required=False)
    if checklist_code:
        engine.build_checklist(org, checklist_code)  # NotFound when none is in force
    if assignment_id is None:
        assignment = PlanAssignment(org=org)
        before: dict[str, Any] = {}
    else:
        assignment = (
            PlanAssignment.objects.select_for_update().filter(pk=assignment_id, org=org).first()
        )
        if assignment is None:
            raise NotFound()
        _check_version(assignment, version)
        before = snapshot(assignment, ASSIGNMENT_FIELDS)
        assignment.version += 1
    assignment.activity = activity
    assignment.location = location
    assignment.team = team
    assignment.inspector = inspector
    assignment.vendor = vendor
    assignment.checklist_code = checklist_code
    assignment.kind = kind
    if is_active is not None:
        assignment.is_active = bool(is_active)
    assignment.save()
    record(
        "inspections.save_assignment",
        actor=actor,
        obj=assignment,
        changes=diff(before, snapshot(assignment, ASSIGNMENT_FIELDS)),
    )
    return assignment


def _deactivate(model: Any, pk: int, actor: Any, version: int | None, action: str) -> Any:
    obj = model.objects.select_for_update(of=("self",)).select_related("org").filter(pk=pk).first()
    if obj is None or not policy.can(actor, "orgs.view", obj.org):
        raise NotFound()
    policy.require(actor, "inspections.plan", obj.org)
    _check_version(obj, version)
    if obj.is_active:  # already inactive: nothing to do, nothing to record
        obj.is_active = False
        obj.version += 1
        obj.save(update_fields=["is_active", "version", "updated_at"])
        record(action, actor=actor, obj=obj, changes={"is_active": [True, False]})
    return obj


@audited("inspections.deactivate_asset")
def deactivate_asset(*, actor: Any, asset_id: int, version: int | None = None) -> Asset:
    """Retire equipment: no new occurrences; its history stays (never deleted)."""
    return _deactivate(Asset, asset_id, actor, version, "inspections.deactivate_asset")


@audited("inspections.deactivate_assignment")
def deactivate_assignment(
    *, actor: Any, assignment_id: int, version: int | None = None
) -> PlanAssignment:
    """Stop an assignment without re-checking it (its inspector may have left): new
    occurrences go to the next most specific assignment."""
    return _deactivate(
        PlanAssignment, assignment_id, actor, version, "inspections.deactivate_assignment"
    )


GENERATE_DAYS = 14


@audited("inspections.generate")
def generate_now(*, actor: Any, org_id: int, now: datetime | None = None) -> int:
    """A manager's "generate now" after changing plans: the occurrences of the next
    ``GENERATE_DAYS`` days (from the start of today) for the org's centre, without
    waiting for the nightly job; idempotent like it. Returns how many were new."""
    from . import plans

    now = _now(now)
    org = Organization.objects.filter(pk=org_id, is_active=True).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound()
    centre = org.centre or org
    policy.require(actor, "inspections.plan", centre)
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=GENERATE_DAYS)
    created = plans.generate_occurrences(org=centre, start=start, end=end)
    record(
        "inspections.generate",
        actor=actor,
        obj=centre,
        changes={"start": start.isoformat(), "end": end.isoformat(), "created": created},
    )
    return created


# --- the checklist snapshot ------------------------------------------------------------


def checklist_json(checklist: engine.Checklist) -> dict[str, Any]:
    """The checklist as JSON, kept on the inspection so grading outlives the standard."""
    return {
        "code": checklist.code,
        "title": checklist.title,
        "rule_key": checklist.rule_key,
        "rule_id": checklist.rule_id,
        "clause_id": checklist.clause_id,
        "cite": checklist.cite,
        "fail_grade": checklist.fail_grade,
        "pass_line": checklist.pass_line,
        "grades": [band.model_dump() for band in checklist.grades],
        "items": [
            {
                "key": it.key,
                "text": it.text,
                "type": it.type,
                "weight": it.weight,
                "unit": it.unit,
                "min": it.min,
                "max": it.max,
                "max_score": it.max_score,
                "deductions": [d.model_dump() for d in it.deductions],
                "severity": it.severity,
                "clause_number": it.clause_number,
                "clause_text": it.clause_text,
                "clause_id": it.clause_id,
            }
            for it in checklist.items
        ],
    }


def checklist_of(inspection: Inspection) -> engine.Checklist:
    """The engine checklist rebuilt from the inspection's snapshot."""
    data = inspection.checklist
    items = tuple(
        engine.ChecklistItem(
            key=it["key"],
            text=it["text"],
            type=it["type"],
            weight=it["weight"],
            unit=it.get("unit", ""),
            min=it.get("min"),
            max=it.get("max"),
            max_score=it.get("max_score"),
            deductions=tuple(Deduction(**d) for d in it.get("deductions", ())),
            severity=it["severity"],
            clause_number=it.get("clause_number", ""),
            clause_text=it.get("clause_text", ""),
            clause_id=it.get("clause_id"),
        )
        for it in data["items"]
    )
    return engine.Checklist(
        code=data["code"],
        title=data["title"],
        items=items,
        grades=tuple(GradeBand(**g) for g in data.get("grades", ())),
        fail_grade=data.get("fail_grade", "fail"),
        pass_line=data.get("pass_line"),
        cite=data.get("cite", {}),
        rule_key=data.get("rule_key", ""),
        rule_id=data.get("rule_id"),
        clause_id=data.get("clause_id"),
    )


# --- answers ---------------------------------------------------------------------------


def _number(raw: Any, key: str, code: str, message: str) -> float:
    if isinstance(raw, bool):
        raise InvalidInput(message, code=code, item=key)
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(message, code=code, item=key) from exc
    if not math.isfinite(value):
        raise InvalidInput(message, code=code, item=key)
    return value


def _clean_answer(item: engine.ChecklistItem, raw: Any) -> dict[str, Any]:
    """One answer in its stored shape, refused when it does not fit the item's type."""
    outcome = raw.get("outcome") if isinstance(raw, Mapping) else raw
    if outcome == Outcome.NA:
        return {"outcome": Outcome.NA}
    if item.type == "measure":
        value = raw.get("value") if isinstance(raw, Mapping) else raw
        return {"value": _number(value, item.key, "measure_missing", _("请填写测量值（数字）。"))}
    if item.type == "score":
        if not isinstance(raw, Mapping):
            raw = {"score": raw}
        deductions = raw.get("deductions") or []
        if deductions:
            if not isinstance(deductions, list):
                raise InvalidInput(_("扣分项无效。"), code="bad_answer", item=item.key)
            labels = {d.label for d in item.deductions}
            for d in deductions:
                ok = d in labels or (
                    isinstance(d, int) and not isinstance(d, bool) and 0 <= d < len(item.deductions)
                )
                if not ok:
                    raise InvalidInput(
                        _("未知的扣分项：%(d)s") % {"d": d}, code="bad_answer", item=item.key
                    )
            return {"deductions": list(deductions)}
        if raw.get("score") is None:
            raise InvalidInput(_("请填写得分。"), code="score_missing", item=item.key)
        score = _number(raw.get("score"), item.key, "score_missing", _("请填写得分（数字）。"))
        if score < 0 or score > (item.max_score or 0):
            raise InvalidInput(
                _("得分须在 0 到 %(max)s 之间。") % {"max": engine._num(item.max_score or 0)},
                code="bad_answer",
                item=item.key,
            )
        return {"score": score}
    if outcome not in (Outcome.PASS, Outcome.FAIL):
        raise InvalidInput(_("请选择符合、不符合或不适用。"), code="bad_answer", item=item.key)
    return {"outcome": outcome}


def _merge(
    inspection: Inspection,
    checklist: engine.Checklist,
    answers: Mapping[str, Any] | None,
    notes: Mapping[str, Any] | None,
    summary: str | None,
) -> None:
    """Merge a draft's new answers and notes; a ``None`` answer or empty note clears it."""
    keys = {it.key for it in checklist.items}
    for given in (answers or {}, notes or {}):
        unknown = sorted(set(given) - keys)
        if unknown:
            raise InvalidInput(
                _("检查表中没有这些检查项。"), code="checklist_unknown_items", items=unknown
            )
    stored = dict(inspection.answers)
    for key, raw in (answers or {}).items():
        if raw is None:
            stored.pop(key, None)
        else:
            stored[key] = _clean_answer(checklist.item(key), raw)
    kept_notes = dict(inspection.notes)
    for key, note in (notes or {}).items():
        note = _text(str(note or ""), _("备注"), MAX_NOTE, required=False)
        if note:
            kept_notes[key] = note
        else:
            kept_notes.pop(key, None)
    inspection.answers, inspection.notes = stored, kept_notes
    if summary is not None:
        inspection.summary = _text(summary, _("检查意见"), 2000, required=False)


def draft_grade(inspection: Inspection) -> engine.Grade:
    """The live grade of a draft (unanswered items count as not applicable)."""
    return engine.grade_checklist(checklist_of(inspection), inspection.answers, partial=True)


def item_outcomes(inspection: Inspection) -> dict[str, str]:
    """pass/fail/na of every answered item (measured values judged against their limits
    as they are entered); unanswered items are left out. The partial score is
    ``draft_grade(inspection).score_percent``."""
    outcomes = draft_grade(inspection).outcomes
    return {k: str(v) for k, v in outcomes.items() if k in inspection.answers}


# --- inspections -----------------------------------------------------------------------


def _may_inspect(actor: Any, kind: str, org: Organization, vendor: Organization | None) -> bool:
    if kind != InspectionKind.SELF:
        return policy.can(actor, "inspections.conduct", org)
    if policy.can(actor, "inspections.self_inspect", org):
        return True
    return vendor is not None and policy.can(actor, "inspections.self_inspect", vendor)


def _vendor_named(vendor: Organization, location: Location, occurrence: Any) -> bool:
    """A vendor's people self-inspect only where a plan names their vendor."""
    if occurrence is not None:
        return occurrence.vendor_id == vendor.pk
    for a in PlanAssignment.objects.filter(vendor=vendor, is_active=True).select_related(
        "org", "location"
    ):
        if _under(location.org, a.org) and (
            a.location is None or location.path.startswith(a.location.path)
        ):
            return True
    return False


def _lock_inspection(actor: Any, inspection_id: int) -> Inspection:
    """Lock; 404 when the actor may not see it, 403 unless they are its inspector."""
    inspection = (
        Inspection.objects.select_for_update(of=("self",))
        .select_related("org", "location", "vendor")
        .filter(pk=inspection_id)
        .first()
    )
    if inspection is None or not queries.inspections(actor).filter(pk=inspection.pk).exists():
        raise NotFound()
    if inspection.inspector_id != getattr(actor, "pk", None):
        raise PermissionDenied(_("只有检查人本人可以填写该检查。"), action="inspections.conduct")
    return inspection


def _require_draft(inspection: Inspection) -> None:
    if inspection.status != InspectionStatus.DRAFT:
        raise Conflict(
            _("检查当前状态为“%(status)s”，不能修改。")
            % {"status": InspectionStatus(inspection.status).label},
            code="illegal_transition",
            status=inspection.status,
        )


@audited("inspections.start")
def start_inspection(
    *,
    actor: Any,
    kind: str,
    checklist_code: str,
    location_id: int,
    vendor_id: int | None = None,
    occurrence_id: int | None = None,
    client_key: str,
    now: datetime | None = None,
) -> Inspection:
    """Open a draft with the checklist in force now; the same ``client_key`` again (the
    form reopened, a retry) gives the same inspection back."""
    now = _now(now)
    client_key = _text(client_key, "client_key", 64)
    existing = Inspection.objects.filter(client_key=client_key).first()
    if existing is not None:
        if existing.inspector_id != getattr(actor, "pk", None):
            raise Conflict(_("检查标识已被使用。"), code="client_key_taken")
        return existing
    if kind not in InspectionKind.values:
        raise InvalidInput(_("检查类型无效。"), code="invalid_kind", field="kind")
    # A vendor's worker does not see the county's locations; who may inspect where is
    # decided below, and a location outside every reach is a 404.
    location = _location(actor, location_id, check_view=False)
    org = location.org
    occurrence = None
    if occurrence_id is not None:
        occurrence = (
            queries.occurrences(actor)
            .select_related("asset", "assignment")
            .filter(pk=occurrence_id)
            .first()
        )
        if occurrence is None:
            raise NotFound(_("检查计划不存在或无权访问。"))
        if occurrence.status != OccurrenceStatus.PENDING:
            raise Conflict(_("该检查计划已完成或已关闭。"), code="occurrence_closed")
        target = occurrence.location_id or (occurrence.asset and occurrence.asset.location_id)
        if target != location.pk:
            raise InvalidInput(
                _("地点与检查计划不一致。"), code="invalid_location", field="location_id"
            )
        if vendor_id is None:
            vendor_id = occurrence.vendor_id
        if not checklist_code and occurrence.assignment is not None:
            checklist_code = occurrence.assignment.checklist_code
    vendor = _vendor(vendor_id, org)
    via_vendor = (
        kind == InspectionKind.SELF
        and vendor is not None
        and not policy.can(actor, "inspections.self_inspect", org)
        and policy.can(actor, "inspections.self_inspect", vendor)
    )
    if not policy.can(actor, "locations.view", org) and not via_vendor:
        raise NotFound(_("地点不存在或无权访问。"))
    if not _may_inspect(actor, kind, org, vendor):
        raise PermissionDenied(action="inspections.conduct")
    if via_vendor and not _vendor_named(vendor, location, occurrence):
        raise PermissionDenied(
            _("该地点的计划未指定您的单位执行自查。"), action="inspections.self_inspect"
        )
    checklist_code = _text(checklist_code, _("检查表"), 60)
    checklist = engine.build_checklist(org, checklist_code, at=now)
    inspection = None
    for _attempt in range(5):
        try:
            with transaction.atomic():  # a savepoint: a number taken meanwhile is retried
                inspection = Inspection.objects.create(
                    org=org,
                    number=next_number(Inspection, "XJ", now),
                    kind=kind,
                    checklist_code=checklist.code,
                    checklist_title=checklist.title,
                    checklist=checklist_json(checklist),
                    rule_id=checklist.rule_id,
                    location=location,
                    vendor=vendor,
                    occurrence=occurrence,
                    inspector=actor,
                    client_key=client_key,
                    started_at=now,
                )
            break
        except IntegrityError:
            existing = Inspection.objects.filter(client_key=client_key).first()
            if existing is not None:  # the same form, twice at once
                if existing.inspector_id != actor.pk:
                    raise Conflict(_("检查标识已被使用。"), code="client_key_taken") from None
                return existing
    if inspection is None:
        raise Conflict(_("检查编号分配冲突，请重试。"), code="number_conflict")
    record(
        "inspections.start",
        actor=actor,
        obj=inspection,
        changes=diff({}, snapshot(inspection, ["number", "kind", "checklist_code", "location_id"])),
    )
    return inspection


@audited("inspections.save_draft")
def save_draft(
    *,
    actor: Any,
    inspection_id: int,
    version: int | None = None,
    answers: Mapping[str, Any] | None = None,
    notes: Mapping[str, Any] | None = None,
    summary: str | None = None,
    now: datetime | None = None,
) -> Inspection:
    """Merge what was entered since the last save (drafts are not audited: they change
    every few seconds and only the submitted result counts)."""
    inspection = _lock_inspection(actor, inspection_id)
    _require_draft(inspection)
    _check_version(inspection, version)
    _merge(inspection, checklist_of(inspection), answers, notes, summary)
    inspection.version += 1
    inspection.save(update_fields=["answers", "notes", "summary", "version", "updated_at"])
    return inspection


@audited("inspections.add_photo")
def add_photo(
    *, actor: Any, inspection_id: int, item_key: str, upload: Any, now: datetime | None = None
) -> InspectionPhoto:
    """A photo of one item (or of the whole inspection when ``item_key`` is empty)."""
    inspection = _lock_inspection(actor, inspection_id)
    _require_draft(inspection)
    item_key = (item_key or "").strip()
    if item_key and item_key not in {it["key"] for it in inspection.checklist["items"]}:
        raise InvalidInput(
            _("检查表中没有这些检查项。"), code="checklist_unknown_items", items=[item_key]
        )
    if inspection.photos.filter(item_key=item_key).count() >= MAX_PHOTOS_PER_ITEM:
        raise InvalidInput(
            _("每个检查项最多上传 %(n)s 张照片。") % {"n": MAX_PHOTOS_PER_ITEM},
            code="invalid_photo",
            max_photos=MAX_PHOTOS_PER_ITEM,
        )
    image = photo_files.clean(upload)
    photo = InspectionPhoto(
        inspection=inspection,
        item_key=item_key,
        width=image.width,
        height=image.height,
        uploaded_by=actor,
    )
    _save_image(photo, image)
    record(
        "inspections.add_photo",
        actor=actor,
        obj=inspection,
        changes={"photo": [None, photo.pk], "item_key": [None, item_key]},
    )
    return photo


def _save_image(photo: Any, image: photo_files.CleanImage) -> None:
    stem = uuid.uuid4().hex
    photo.image.save(f"{stem}.{image.ext}", ContentFile(image.data), save=False)
    photo.thumbnail.save(f"{stem}.{image.ext}", ContentFile(image.thumb), save=False)
    photo.save()


def _store_judgments(
    inspection: Inspection, checklist: engine.Checklist, grade: engine.Grade, now: datetime
) -> int:
    judged = [
        engine.RuleJudgment(
            SimpleNamespace(
                rule_id=checklist.rule_id, clause_id=it.clause_id or checklist.clause_id
            ),
            grade.outcomes[it.key],
        )
        for it in checklist.items
    ]
    rows = engine.judgment_rows(
        judged,
        org=inspection.org_id,
        at=now,
        location=inspection.location_id,
        vendor=inspection.vendor_id,
        subject=("inspection", inspection.pk),
    )
    for row, it in zip(rows, checklist.items, strict=True):
        if it.type == "measure":
            row.value = inspection.answers[it.key].get("value")
    return engine.store_judgments(rows)


@audited("inspections.submit")
def submit_inspection(
    *,
    actor: Any,
    inspection_id: int,
    version: int | None = None,
    answers: Mapping[str, Any] | None = None,
    notes: Mapping[str, Any] | None = None,
    summary: str | None = None,
    now: datetime | None = None,
) -> Inspection:
    """Grade and file the inspection; submitted already → returned as it is."""
    now = _now(now)
    inspection = _lock_inspection(actor, inspection_id)
    if inspection.status == InspectionStatus.SUBMITTED:
        return inspection  # a retry or a second tap: one inspection, nothing new
    _require_draft(inspection)
    _check_version(inspection, version)
    checklist = checklist_of(inspection)
    _merge(inspection, checklist, answers, notes, summary)
    grade = engine.grade_checklist(checklist, inspection.answers)
    before = snapshot(inspection, INSPECTION_FIELDS)
    inspection.status = InspectionStatus.SUBMITTED
    inspection.submitted_at = now
    inspection.score = grade.score_percent
    inspection.grade = grade.grade
    inspection.grade_label = grade.label
    inspection.passed = grade.passed
    inspection.failed_by_severity = grade.failed_by_severity
    inspection.version += 1
    inspection.save()
    items = []
    for it in checklist.items:
        answer = inspection.answers[it.key]
        items.append(
            InspectionItem(
                inspection=inspection,
                org_id=inspection.org_id,
                key=it.key,
                text=it.text[:300],
                clause_id=it.clause_id or checklist.clause_id,
                severity=it.severity,
                outcome=grade.outcomes[it.key],
                value=answer.get("value"),
                score=answer.get("score"),
                note=inspection.notes.get(it.key, ""),
                at=now,
                location_id=inspection.location_id,
                vendor_id=inspection.vendor_id,
            )
        )
    InspectionItem.objects.bulk_create(items)
    _store_judgments(inspection, checklist, grade, now)
    findings = []
    for key in grade.failed_items:
        it = checklist.item(key)
        note = inspection.notes.get(key, "")
        findings.append(
            open_finding(
                org=inspection.org,
                clause=it.clause_id or checklist.clause_id,
                rule=checklist.rule_id,
                severity=it.severity,
                location=inspection.location,
                vendor=inspection.vendor,
                source=FindingSource.INSPECTION,
                description=f"{it.text}：{note}" if note else it.text,
                actor=actor,
                now=now,
                inspection=inspection,
                item_key=key,
                occurrence=inspection.occurrence,
            )
        )
    if inspection.occurrence_id:
        PlanOccurrence.objects.filter(
            pk=inspection.occurrence_id, status=OccurrenceStatus.PENDING
        ).update(status=OccurrenceStatus.DONE, done_at=now)
    record(
        "inspections.submit",
        actor=actor,
        obj=inspection,
        changes=diff(before, snapshot(inspection, INSPECTION_FIELDS)),
    )
    return inspection


@audited("inspections.cancel")
def cancel_inspection(
    *, actor: Any, inspection_id: int, version: int, reason: str, now: datetime | None = None
) -> Inspection:
    """Void a draft (started by mistake, wrong place); a submitted one stands."""
    inspection = _lock_inspection(actor, inspection_id)
    _require_draft(inspection)
    _check_version(inspection, version)
    reason = _text(reason, _("原因"), 500)
    before = snapshot(inspection, INSPECTION_FIELDS)
    inspection.status = InspectionStatus.CANCELLED
    inspection.summary = reason
    inspection.version += 1
    inspection.save()
    record(
        "inspections.cancel",
        actor=actor,
        obj=inspection,
        changes=diff(before, snapshot(inspection, INSPECTION_FIELDS)),
        reason=reason,
    )
    return inspection


# --- findings --------------------------------------------------------------------------


def finding_event(
    finding: Finding, actor: Any, action: str, at: datetime, note: str = "", **data: Any
) -> FindingEvent:
    return FindingEvent.objects.create(
        finding=finding,
        at=at,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        note=str(note)[:500],
        data=data,
    )


def open_finding(
    *,
    org: Organization,
    clause: Any,
    rule: Any,
    severity: str,
    location: Location | None,
    vendor: Organization | None,
    source: str,
    description: str,
    actor: Any,
    now: datetime,
    inspection: Inspection | None = None,
    item_key: str = "",
    occurrence: PlanOccurrence | None = None,
    workorder: Any = None,
) -> Finding:
    """A finding and its rectification order, in the caller's transaction. The
    responsible party hears of it once, by the order's notice (``order_for``)."""
    from . import rectification

    finding = None
    for _attempt in range(5):
        try:
            with transaction.atomic():
                finding = Finding.objects.create(
                    org=org,
                    number=next_number(Finding, "WT", now),
                    source=source,
                    clause_id=_pk(clause),
                    rule_id=_pk(rule),
                    severity=severity,
                    location=location,
                    vendor=vendor,
                    inspection=inspection,
                    item_key=item_key if inspection is not None else "",
                    occurrence=occurrence if source == FindingSource.MISSED else None,
                    workorder=workorder,
                    description=description[:1000],
                    raised_by=actor if getattr(actor, "pk", None) else None,
                    raised_at=now,
                )
            break
        except IntegrityError:
            continue
    if finding is None:
        raise Conflict(_("问题编号分配冲突，请重试。"), code="number_conflict")
    finding_event(finding, actor, "raised", now, source=source, severity=severity)
    record(
        "inspections.raise",
        actor=actor,
        obj=finding,
        changes=diff({}, snapshot(finding, ["number", "source", *FINDING_FIELDS])),
    )
    rectification.order_for(finding, actor=actor, now=now)
    if severity == Severity.KEY:
        _tell_managers(finding, actor)
    return finding


def _tell_managers(finding: Finding, actor: Any) -> None:
    """A key-severity finding is news for the managers nearest its org (the responsible
    party hears of every finding by its rectification order)."""
    actor = actor if getattr(actor, "pk", None) else None
    managers = [u for u in role_holders(finding.org, {"manager"}) if u != actor]
    if not managers:
        return
    emit(
        events.FINDING_RAISED,
        org=finding.org,
        actor=actor,
        recipients=managers,
        title=_("关键问题：%(number)s") % {"number": finding.number},
        body=finding.description[:200],
        link=f"/inspections/findings/{finding.pk}/",
        object=finding,
        dedupe_key=f"finding:{finding.pk}:raised",
        payload={
            "number": finding.number,
            "severity": finding.severity,
            "source": finding.source,
            "clause_id": finding.clause_id,
        },
    )


def _effective_clause(org: Organization, clause_id: int, at: datetime) -> Clause:
    """A clause of a standard in force for the org (the list findings are picked from)."""
    clause = Clause.objects.filter(pk=clause_id).first()
    versions = {r.version_id for r in effective.effective_rules(org, at=at)}
    if clause is None or clause.version_id not in versions:
        raise InvalidInput(
            _("该条款不在本单位执行的标准中。"), code="invalid_clause", field="clause_id"
        )
    return clause


@audited("inspections.raise")
def raise_finding(
    *,
    actor: Any,
    org_id: int,
    clause_id: int,
    description: str,
    severity: str | None = None,
    location_id: int | None = None,
    vendor_id: int | None = None,
    source: str = "other",
    workorder_id: int | None = None,
    photos: Sequence[Any] = (),
    now: datetime | None = None,
) -> Finding:
    """A finding raised ad hoc (from a work order, a complaint, a walk-round)."""
    from dayuan.workorders import queries as wo_queries

    now = _now(now)
    org = Organization.objects.filter(pk=org_id).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound()
    policy.require(actor, "inspections.raise", org)
    if source not in FindingSource.values or source == FindingSource.MISSED:
        raise InvalidInput(_("问题来源无效。"), code="invalid_source", field="source")
    clause = _effective_clause(org, clause_id, now)
    severity = severity or clause.severity
    if severity not in Severity.values:
        raise InvalidInput(_("严重程度无效。"), code="invalid_severity", field="severity")
    description = _text(description, _("问题描述"), 1000)
    location = None
    if location_id is not None:
        location = _location(actor, location_id)
        if not _under(location.org, org):
            raise InvalidInput(
                _("地点不属于所选单位。"), code="invalid_location", field="location_id"
            )
    vendor = _vendor(vendor_id, org)
    workorder = None
    if workorder_id is not None:
        workorder = wo_queries.visible(actor).select_related("org").filter(pk=workorder_id).first()
        if workorder is None or not _under(workorder.org, org):
            raise NotFound(_("工单不存在或无权访问。"))
        source = FindingSource.WORKORDER
        location = location or workorder.location
        vendor = vendor or workorder.vendor
    images = [photo_files.clean(u) for u in photos or () if u is not None]
    if len(images) > photo_files.max_photos():
        raise InvalidInput(
            _("最多上传 %(n)s 张照片。") % {"n": photo_files.max_photos()},
            code="invalid_photo",
        )
    finding = open_finding(
        org=org,
        clause=clause,
        rule=None,
        severity=severity,
        location=location,
        vendor=vendor,
        source=source,
        description=description,
        actor=actor,
        now=now,
        workorder=workorder,
    )
    for image in images:
        _save_image(
            FindingPhoto(
                finding=finding, width=image.width, height=image.height, uploaded_by=actor
            ),
            image,
        )
    return finding


@audited("inspections.cancel_finding")
def cancel_finding(
    *, actor: Any, finding_id: int, version: int, reason: str, now: datetime | None = None
) -> Finding:
    """Withdraw a finding raised in error; its open rectification order goes with it,
    and so does a 督办 the order had raised."""
    from . import rectification

    now = _now(now)
    finding = (
        Finding.objects.select_for_update(of=("self",))
        .select_related("org")
        .filter(pk=finding_id)
        .first()
    )
    if finding is None or not queries.findings(actor).filter(pk=finding.pk).exists():
        raise NotFound()
    policy.require(actor, "inspections.raise", finding.org)
    _check_version(finding, version)
    if finding.status != FindingStatus.OPEN:
        raise Conflict(
            _("问题当前状态为“%(status)s”，不能撤销。")
            % {"status": FindingStatus(finding.status).label},
            code="illegal_transition",
            status=finding.status,
        )
    reason = _text(reason, _("原因"), 500)
    before = snapshot(finding, FINDING_FIELDS)
    finding.status = FindingStatus.CANCELLED
    finding.version += 1
    finding.save()
    Rectification.objects.filter(Q(finding=finding) & Q(status__in=OPEN_RECTIFICATION)).update(
        status=RectificationStatus.CANCELLED, version=F("version") + 1
    )
    finding_event(finding, actor, "cancelled", now, reason)
    rect = Rectification.objects.filter(finding=finding).first()
    if rect is not None:
        rect.finding = finding
        rectification.end_supervision(rect, now, cancelled=True)
    record(
        "inspections.cancel_finding",
        actor=actor,
        obj=finding,
        changes=diff(before, snapshot(finding, FINDING_FIELDS)),
        reason=reason,
    )
    return finding
