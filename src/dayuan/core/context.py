"""Where a write came from: the request's IP and id, or the CLI or a job.

Set by middleware for web requests; services read it when writing the audit entry, and
CLI commands and jobs set their own source. The acting user is always passed to
services explicitly, never read from here.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Origin:
    source: str = "system"  # web, api, cli, job, system
    ip: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


_origin: contextvars.ContextVar[Origin] = contextvars.ContextVar("dayuan_origin", default=Origin())  # noqa: B039 (frozen)


def current_origin() -> Origin:
    return _origin.get()


@contextlib.contextmanager
def origin(source: str, ip: str | None = None) -> Iterator[Origin]:
    value = Origin(source=source, ip=ip)
    token = _origin.set(value)
    try:
        yield value
    finally:
        _origin.reset(token)
