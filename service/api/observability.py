"""Per-request observability: a request id, Prometheus request metrics, one access log line.

:class:`RequestObserver` is pure ASGI middleware installed outermost, so it also sees the
requests the security middleware refuses. It

- takes the client's ``X-Request-ID`` when it is short and made of safe characters (so a
  proxy's id carries through), or makes one, keeps it in :data:`REQUEST_ID` for every log
  line of the request, and echoes it in the response's ``X-Request-ID`` header;
- counts the request and its latency by route template, method (``other`` beyond the
  usual seven) and status (499, as nginx logs it, for a client that hung up before the
  answer: no server error);
- logs one ``service.access`` line: method, route, path (control characters escaped),
  status, latency and client. The query string holds the searched text, so it is left out
  unless ``log_query_text``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.logging_setup import REQUEST_ID

access_log = logging.getLogger("service.access")

REQUEST_ID_HEADER = "X-Request-ID"
# Long enough for UUIDs and most tracing ids; no spaces, quotes or control characters, so
# the id can go into a log line or a header as it is.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
UNMATCHED = "unmatched"
# nginx's "client closed request": the client went away before any answer was sent.
CLIENT_CLOSED_REQUEST = 499
# Metric labels must stay a bounded set: a client chooses the method it sends.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
# The path arrives percent-decoded: "%0A" is a line break that would start a forged line of a
# text log. Control characters are logged as escapes.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def request_id_from(headers: Headers) -> str:
    """The client's request id if it is safe to log and echo, else a new one."""
    given = headers.get(REQUEST_ID_HEADER, "")
    return given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The route that answered, as its template: a bounded set of metric labels.

    The router records what matched in the scope: FastAPI's route (with its path
    template), or for Starlette's mounts and routes their prefix and endpoint. Anything
    else never reached a route (404s, and requests the security middleware refused).
    """
    route = scope.get("route")
    if route is not None and isinstance(getattr(route, "path", None), str):
        return str(route.path)
    if scope.get("endpoint") is not None:
        if scope.get("root_path"):  # a mount, such as /static
            return f"{scope['root_path']}/{{path}}"
        if not scope.get("path_params"):  # a plain route: its path is its template
            return str(scope["path"])
    return UNMATCHED


class RequestObserver:
    """Request id, request metrics and the access log line (see the module docstring)."""

    def __init__(self, app: ASGIApp, log_query_text: bool = False) -> None:
        self.app = app
        self.log_query_text = log_query_text

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(Headers(scope=scope))
        token = REQUEST_ID.set(request_id)
        status: int | None = None
        client_left = False

        async def receive_noting_disconnect() -> Message:
            nonlocal client_left
            message = await receive()
            client_left = client_left or message["type"] == "http.disconnect"
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive_noting_disconnect, send_with_id)
            if status is None and client_left:  # nobody left to answer (the body was cut)
                status = CLIENT_CLOSED_REQUEST
        finally:
            # Otherwise no answer means the server sends a 500, the app having raised or
            # returned without one.
            self._record(scope, status or 500, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else OTHER_METHOD
        route = route_template(scope)
        labels = (method, route, str(status))
        metrics.REQUESTS.labels(*labels).inc()
        metrics.REQUEST_SECONDS.labels(*labels).observe(seconds)
        path = _printable(scope["path"])
        fields: dict[str, object] = {
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "latency_ms": round(seconds * 1000, 2),
            "client": scope["client"][0] if scope.get("client") else None,
        }
        shown = path
        query_string = scope.get("query_string", b"")
        if self.log_query_text and query_string:
            fields["query_string"] = _printable(query_string.decode("latin-1"))
            shown = f"{path}?{fields['query_string']}"
        access_log.info("%s %s %d %.1f ms", method, shown, status, seconds * 1000, extra=fields)
