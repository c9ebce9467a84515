"""Standards as files over the API: validate, import, export ``*.standard.yaml``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import Field

from dayuan.core.api import ErrorOut

from . import fileformat, importer

router = Router(tags=["standards"])

MAX_TEXT = 1_000_000  # characters; the whole seed library is under 60 000


class FileIn(Schema):
    text: str = Field(..., max_length=MAX_TEXT, description="*.standard.yaml 文件内容")
    filename: str = Field("", max_length=200)


class FileError(Schema):
    line: int
    loc: str
    msg: str


class ValidateOut(Schema):
    valid: bool
    errors: list[FileError]
    code: str | None = None
    clauses: int = 0
    rules: int = 0


class ImportIn(FileIn):
    org: str | None = Field(None, max_length=40, description="发布机构编码（默认取文件中的）")
    publish: bool = False


class ImportOut(Schema):
    standard_id: int
    code: str
    version_id: int
    number: int
    status: str
    clauses: int
    rules: int


@router.post("/standards/files/validate", response=ValidateOut)
def validate_file(request: HttpRequest, payload: FileIn):
    """Check a file without writing anything; errors carry their line numbers."""
    doc, errors = fileformat.load(payload.text, payload.filename)
    out = ValidateOut(valid=not errors, errors=errors)
    if not errors and doc is not None:
        out.code = doc["code"]
        out.clauses = len(doc["clauses"])
        out.rules = sum(len(c.get("rules") or []) for c in doc["clauses"])
    return out


@router.post(
    "/standards/files/import",
    response={201: ImportOut, **{s: ErrorOut for s in (403, 404, 409, 422)}},
)
def import_file(request: HttpRequest, payload: ImportIn):
    """Write the file into the standard's draft (created if needed); optionally publish."""
    ver = importer.import_standard(
        actor=request.auth,
        text=payload.text,
        filename=payload.filename,
        org_code=payload.org,
        publish=payload.publish,
    )
    return Status(
        201,
        ImportOut(
            standard_id=ver.standard_id,
            code=ver.standard.code,
            version_id=ver.pk,
            number=ver.number,
            status=ver.status,
            clauses=ver.clauses.count(),
            rules=ver.rules.count(),
        ),
    )


@router.get(
    "/standards/{code}/export",
    response={200: None, 404: ErrorOut},
    openapi_extra={
        "responses": {
            200: {
                "description": "*.standard.yaml",
                "content": {"text/yaml": {"schema": {"type": "string"}}},
            }
        }
    },
)
def export_file(request: HttpRequest, code: str, version: int | None = None):
    """The canonical YAML of the latest published version (or ``?version=N``)."""
    text = importer.export_standard(actor_or_user=request.auth, code=code, version_number=version)
    response = HttpResponse(text, content_type="text/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{code}.standard.yaml"'
    return response
