"""Session idle (30 min) and absolute (12 h) timeouts."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

_STARTED = "dayuan_session_started"
_SEEN = "dayuan_session_seen"


class SessionTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.get(_STARTED, now)
            seen = request.session.get(_SEEN, now)
            idle = settings.SESSION_IDLE_TIMEOUT.total_seconds()
            absolute = settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds()
            if now - seen > idle or now - started > absolute:
                logout(request)
            else:
                request.session[_STARTED] = started
                # Write at most once a minute so each request does not rewrite the session.
                if now - seen > 60 or _SEEN not in request.session:
                    request.session[_SEEN] = now
        return self.get_response(request)
