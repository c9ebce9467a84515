"""Supervision (督办) API: tasks (list, create, detail with events), every move of a
task (accept, report, submit, review, remind, reassign, cancel) and the board.

Reads go through ``queries`` (an invisible task is a 404); moves through the services,
with the ``version`` the client read where the service takes one (409
``stale_version``). ``Idempotency-Key`` on POSTs is handled by the middleware.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from dayuan.core.api import ErrorOut, Page

from . import queries, services
from .choices import TaskSource
from .models import SupervisionTask

router = Router(tags=["supervision"])

ERRORS = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _name(user: Any) -> str | None:
    return (user.display_name or user.username) if user is not None else None


# --- schemas ---------------------------------------------------------------------------


class TaskOut(Schema):
    id: int
    number: str
    org_id: int
    org_name: str
    issuer_org_id: int
    issuer_org_name: str
    title: str
    instruction: str
    source: str
    source_label: str
    status: str
    status_label: str
    light: str = Field(description="red 已超期 / yellow 临期或进展未报 / green 正常 / done 已办结")
    assignee_id: int | None
    assignee_name: str | None
    created_by_id: int | None
    issued_at: datetime
    deadline: datetime
    report_every_days: int
    last_report_at: datetime | None
    rectification_id: int | None
    workorder_id: int | None
    overdue_reminders: int
    escalation_level: int
    escalated_to_id: int | None
    submitted_at: datetime | None
    result: str
    review_note: str
    closed_at: datetime | None
    closed_on_time: bool | None
    version: int

    @staticmethod
    def resolve_org_name(obj: SupervisionTask) -> str:
        return obj.org.name

    @staticmethod
    def resolve_issuer_org_name(obj: SupervisionTask) -> str:
        return obj.issuer_org.name

    @staticmethod
    def resolve_source_label(obj: SupervisionTask) -> str:
        return str(obj.get_source_display())

    @staticmethod
    def resolve_status_label(obj: SupervisionTask) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_assignee_name(obj: SupervisionTask) -> str | None:
        return _name(obj.assignee) if obj.assignee_id else None


class EventOut(Schema):
    at: datetime
    actor_id: int | None
    actor_name: str | None
    action: str
    note: str
    progress: int | None
    data: dict[str, Any]

    @staticmethod
    def resolve_actor_name(obj: Any) -> str | None:
        return _name(obj.actor) if obj.actor_id else None


class TaskDetailOut(TaskOut):
    events: list[EventOut]
    actions: list[str] = Field(description="可由当前用户执行的操作")

    @staticmethod
    def resolve_events(obj: Any) -> list[Any]:
        return obj.events_list

    @staticmethod
    def resolve_actions(obj: Any) -> list[str]:
        return obj.actions_list


class TaskIn(Schema):
    org_id: int = Field(description="承办单位")
    title: str = Field(..., min_length=1, max_length=200)
    instruction: str = Field(..., min_length=1, max_length=2000)
    deadline: datetime
    source: TaskSource = TaskSource.INSTRUCTION
    assignee_id: int | None = None
    report_every_days: int = Field(0, ge=0, le=90)


class OptionalVersionIn(Schema):
    version: int | None = None


class ReportIn(Schema):
    text: str = Field(..., min_length=1, max_length=2000)
    progress: int | None = Field(None, ge=0, le=100)


class ResultIn(Schema):
    version: int
    result: str = Field(..., min_length=1, max_length=2000)


class ReviewIn(Schema):
    version: int
    approve: bool
    note: str = Field("", max_length=500)


class NoteIn(Schema):
    note: str = Field("", max_length=500)


class ReassignIn(Schema):
    version: int
    assignee_id: int


class ReasonIn(Schema):
    version: int
    reason: str = Field(..., min_length=1, max_length=500)


class BoardRowOut(Schema):
    id: int | None
    name: str
    red: int
    yellow: int
    green: int
    done: int
    total: int


class BoardOut(Schema):
    by: str
    rows: list[BoardRowOut]
    totals: dict[str, int]


# --- helpers ---------------------------------------------------------------------------


def _detail(user: Any, task_id: int) -> SupervisionTask:
    task = queries.task(user, task_id)
    task.events_list = list(queries.events(task))
    task.actions_list = services.actions_for(user, task)
    return task


def _run(request: HttpRequest, task_id: int, fn: Any, **kwargs: Any) -> SupervisionTask:
    queries.task(request.auth, task_id)  # 404 before anything else
    fn(actor=request.auth, task_id=task_id, **kwargs)
    return _detail(request.auth, task_id)


# --- endpoints -------------------------------------------------------------------------


@router.get("/supervision/tasks", response=list[TaskOut])
@paginate(Page)
def list_tasks(
    request: HttpRequest,
    status: str | None = None,
    source: str | None = None,
    org_id: int | None = None,
    assignee_id: int | None = None,
    light: str | None = None,
    overdue: bool | None = None,
    mine: bool = False,
):
    """Visible tasks, the nearest deadline first; ``light`` and ``status`` may list
    several, comma-separated."""
    return queries.task_list(
        request.auth,
        status=status,
        source=source,
        org_id=org_id,
        assignee_id=assignee_id,
        light=light,
        overdue=overdue,
        mine=mine,
    )


@router.post("/supervision/tasks", response={201: TaskDetailOut, **ERRORS})
def create_task(request: HttpRequest, payload: TaskIn):
    task = services.create_task(
        actor=request.auth, **(payload.dict() | {"source": payload.source.value})
    )
    return Status(201, _detail(request.auth, task.pk))


@router.get("/supervision/board", response=BoardOut)
def board(request: HttpRequest, by: Literal["org", "person"] = "org"):
    """Red / yellow / green (and done) counts per assignee org or per assignee."""
    rows = queries.board(request.auth, by=by, now=timezone.now())
    keys = ("red", "yellow", "green", "done", "total")
    return {"by": by, "rows": rows, "totals": {k: sum(r[k] for r in rows) for k in keys}}


@router.get("/supervision/tasks/{task_id}", response={200: TaskDetailOut, 404: ErrorOut})
def get_task(request: HttpRequest, task_id: int):
    """The task with its events (reports, reminders, escalations, review)."""
    return _detail(request.auth, task_id)


@router.post("/supervision/tasks/{task_id}/accept", response={200: TaskDetailOut, **ERRORS})
def accept(request: HttpRequest, task_id: int, payload: OptionalVersionIn):
    return _run(request, task_id, services.accept_task, version=payload.version)


@router.post("/supervision/tasks/{task_id}/report", response={200: TaskDetailOut, **ERRORS})
def report(request: HttpRequest, task_id: int, payload: ReportIn):
    """A progress report (resets the report clock)."""
    return _run(request, task_id, services.report_progress, **payload.dict())


@router.post("/supervision/tasks/{task_id}/submit", response={200: TaskDetailOut, **ERRORS})
def submit(request: HttpRequest, task_id: int, payload: ResultIn):
    return _run(request, task_id, services.submit_result, **payload.dict())


@router.post("/supervision/tasks/{task_id}/review", response={200: TaskDetailOut, **ERRORS})
def review(request: HttpRequest, task_id: int, payload: ReviewIn):
    """Approve (closed) or return to the assignee with a note."""
    return _run(request, task_id, services.review, **payload.dict())


@router.post("/supervision/tasks/{task_id}/remind", response={200: TaskDetailOut, **ERRORS})
def remind(request: HttpRequest, task_id: int, payload: NoteIn):
    """催办: a reminder to the assignee side."""
    return _run(request, task_id, services.remind, **payload.dict())


@router.post("/supervision/tasks/{task_id}/reassign", response={200: TaskDetailOut, **ERRORS})
def reassign(request: HttpRequest, task_id: int, payload: ReassignIn):
    return _run(request, task_id, services.reassign, **payload.dict())


@router.post("/supervision/tasks/{task_id}/cancel", response={200: TaskDetailOut, **ERRORS})
def cancel(request: HttpRequest, task_id: int, payload: ReasonIn):
    return _run(request, task_id, services.cancel_task, **payload.dict())
