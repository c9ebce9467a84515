"""A real local HTTP receiver for webhook tests, and helpers to make robots."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dayuan.notifications.models import WebhookEndpoint


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def delivery(self) -> str:
        return self.headers.get("X-Dayuan-Delivery", "")


@dataclass
class FakeReceiver:
    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200
    reply: bytes = b'{"errcode": 0, "errmsg": "ok"}'
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path.split("?")[0] == path]


@pytest.fixture
def receiver() -> Iterator[FakeReceiver]:
    state = FakeReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if state.delay:
                time.sleep(state.delay)
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), raw))
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.reply)))
            self.end_headers()
            self.wfile.write(state.reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def robot(receiver):
    """``robot(org, path, kind=..., **extra)`` makes an active endpoint at the receiver."""

    def make(org, path: str, kind: str = "generic", **extra: Any) -> WebhookEndpoint:
        return WebhookEndpoint.objects.create(
            org=org, name=f"robot {path}", url=receiver.url + path, kind=kind, **extra
        )

    return make
