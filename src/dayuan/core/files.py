"""Serving stored files (photos) to whoever a view or API call has let through: never
a public media URL, never sniffed into something else."""

import mimetypes
from typing import Any

from django.http import FileResponse

from .errors import NotFound


def private_file(field: Any) -> FileResponse:
    """The file behind ``field`` (a FileField's value), cached privately; NotFound when
    the storage has lost it."""
    try:
        handle = field.storage.open(field.name, "rb")
    except (FileNotFoundError, ValueError) as exc:
        raise NotFound() from exc
    content_type = mimetypes.guess_type(field.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
