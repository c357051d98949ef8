"""Request hardening and access control, applied before routing and before any model work.

Pure ASGI middleware, outermost first:

- CORS (Starlette's ``CORSMiddleware``), only when ``cors_origins`` is configured, so that
  the errors below carry CORS headers too and browser preflights need no key;
- :class:`RateLimiter`, a token bucket per client IP, off unless ``rate_limit_per_minute``;
- :class:`ApiKeyGuard`, only when ``api_key`` is set (not on ``/admin/``, whose routes
  check their own token in the same ``Authorization`` header);
- :class:`InputGuard`, always: body size, UTF-8, JSON depth, control characters, repeated
  query parameters.

The cheap refusals (rate, key) come first so an unauthenticated client never gets its body
buffered. Every refusal is ``{"detail": str}`` JSON, like the app's own errors. Health
probes, the search page and the API docs stay open (:func:`is_open`); every other path,
including routes added later and ``/mcp``, is protected when a key is set.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

from cachetools import LRUCache
from fastapi import FastAPI, status
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.settings import Settings
from indexer.text import CONTROL_CHARACTERS
from service.api.schemas import ErrorResponse
from service.searcher import LONE_SURROGATE

OPEN_PATHS = frozenset(
    {"/", "/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
# The API docs' scripts and styles, served locally (fastapi-offline).
DOCS_ASSETS = "/docs-assets"
OPEN_PREFIXES = ("/static/", f"{DOCS_ASSETS}/")
ADMIN_PREFIX = "/admin/"
MCP_PATH = "/mcp"

# Nesting deeper than any request body of this API needs; far below the parser's recursion.
MAX_JSON_DEPTH = 32
# After a body is refused as too large, read and discard up to this much more before
# answering: closing a socket with unread data makes the kernel send a reset, and the client
# would see a dropped connection instead of the 413.
DRAIN_BYTES = 4 * 1024 * 1024
_QUERY_FIELDS = frozenset({"q", "query"})


class RequestRejected(Exception):
    """A request refused before it reaches the app; becomes a ``{"detail": str}`` answer."""

    def __init__(
        self, status_code: int, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers


def is_open(path: str) -> bool:
    """Paths that never need a key nor count against the rate: probes, the page, the docs."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def needs_api_key(path: str) -> bool:
    """Every path but the open ones and the admin ones, which check a token of their own."""
    return not (is_open(path) or path.startswith(ADMIN_PREFIX))


async def _reject(scope: Scope, receive: Receive, send: Send, error: RequestRejected) -> None:
    response = JSONResponse(
        status_code=error.status_code, content={"detail": error.detail}, headers=error.headers
    )
    await response(scope, receive, send)


def _text_problem(name: str, value: str) -> str | None:
    """Why ``value`` (of query parameter or JSON field ``name``) cannot be searched, if so.

    A query's control characters are left to the search core, which reads form feeds and
    vertical tabs (text pasted from a PDF) as line breaks and refuses the others itself, with
    the same message for the CLI and the MCP tool.
    """
    what = "the query" if name in _QUERY_FIELDS else f"the value of {name!r}"
    if name not in _QUERY_FIELDS and CONTROL_CHARACTERS.search(value):
        return f"{what} contains control characters"
    if LONE_SURROGATE.search(value):
        return f"{what} is not valid Unicode (it contains an unpaired surrogate)"
    return None


def check_query_string(raw: bytes) -> None:
    """Refuse a query string that is not UTF-8, repeats a parameter or has control characters.

    A repeated parameter (``?k=1&k=2``) would otherwise silently use one of the values.
    """
    seen: set[str] = set()
    for pair in raw.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        try:
            name, value = (
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
                for part in (raw_name, raw_value)
            )
        except UnicodeDecodeError:
            raise RequestRejected(
                status.HTTP_400_BAD_REQUEST, "the query string is not valid UTF-8"
            ) from None
        if name in seen:
            raise RequestRejected(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"the query parameter {name!r} is given more than once; give it once",
            )
        seen.add(name)
        problem = _text_problem("query parameter names", name) or _text_problem(name, value)
        if problem:
            raise RequestRejected(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)


def _strings(document: object) -> Iterator[tuple[str, str, int]]:
    """Every string of a parsed JSON document as (top-level field, text, depth), iteratively.

    Iterative so that depth is checked without recursion; keys are yielded too.
    """
    stack: list[tuple[str, object, int]] = [("", document, 1)]
    while stack:
        field, value, depth = stack.pop()
        if isinstance(value, str):
            yield field, value, depth
        elif isinstance(value, dict):
            for key, item in value.items():
                child = field or str(key)
                yield child, str(key), depth
                stack.append((child, item, depth + 1))
        elif isinstance(value, list):
            stack.extend((field, item, depth + 1) for item in value)
        if isinstance(value, dict | list) and depth > MAX_JSON_DEPTH:
            raise RequestRejected(
                status.HTTP_400_BAD_REQUEST,
                f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep",
            )


def _non_json_constant(name: str) -> float:
    """``NaN`` and ``Infinity`` are Python's extension, not JSON; nothing can echo them back."""
    raise RequestRejected(
        status.HTTP_400_BAD_REQUEST, f"the request body is not valid JSON ({name} is not JSON)"
    )


def _finite_float(literal: str) -> float:
    """A number too large for a float (``1e400``) would become infinity; refuse it."""
    value = float(literal)
    if not math.isfinite(value):
        raise RequestRejected(
            status.HTTP_400_BAD_REQUEST, f"the number {literal[:20]} in the JSON body is too large"
        )
    return value


def _whole_number(literal: str) -> int:
    """An integer of more digits than Python converts (4,300) is valid JSON, just too large."""
    try:
        return int(literal)
    except ValueError:
        raise RequestRejected(
            status.HTTP_400_BAD_REQUEST, f"the number {literal[:20]}… in the JSON body is too large"
        ) from None


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """An object whose keys are all different; ``{"k": 1, "k": 2}`` would silently keep 2."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise RequestRejected(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"the JSON field {key!r} is given more than once; give it once",
            )
        seen.add(key)
    return dict(pairs)


def check_json_body(body: bytes) -> None:
    """Refuse a JSON body that is not UTF-8 or JSON, repeats a field, is nested too deep, or
    has control characters in any string. Parsing here means the app's own parse cannot fail.
    A leading byte-order mark is allowed, as JSON parsers may and the app's own does."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RequestRejected(
            status.HTTP_400_BAD_REQUEST, "the request body is not valid UTF-8"
        ) from None
    try:
        document = json.loads(
            text,
            parse_constant=_non_json_constant,
            parse_float=_finite_float,
            parse_int=_whole_number,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise RequestRejected(
            status.HTTP_400_BAD_REQUEST,
            f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep",
        ) from None
    except ValueError:  # syntax
        raise RequestRejected(
            status.HTTP_400_BAD_REQUEST, "the request body is not valid JSON"
        ) from None
    for field, value, _ in _strings(document):
        problem = _text_problem(field, value)
        if problem:
            raise RequestRejected(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)


def _is_json(headers: Headers) -> bool:
    """The content types FastAPI parses as JSON (``application/json``, ``…+json``)."""
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class InputGuard:
    """Body size limit (declared and streamed), UTF-8, JSON shape and query string checks.

    The body is read here, at most ``max_body_bytes`` of it, and replayed to the app: the
    limit holds for chunked bodies with no ``Content-Length`` too.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = scope["path"]
        try:
            # The open paths read no parameters; the search page's own query string (a
            # shared link) is checked when the page sends it to /search.
            if not is_open(path):
                check_query_string(scope.get("query_string", b""))
            body = await self._read_body(headers, receive)
            if body is None:  # the client went away
                return
            # The MCP endpoint answers a malformed message with a JSON-RPC error, which its
            # client shows to the model; an HTTP refusal would look like a transport failure.
            if body and _is_json(headers) and path != MCP_PATH:
                check_json_body(body)
        except RequestRejected as error:
            await _reject(scope, receive, send, error)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | None:
        declared = headers.get("content-length")
        if declared is not None and not declared.strip().isdigit():
            raise RequestRejected(status.HTTP_400_BAD_REQUEST, "invalid Content-Length header")
        limit = self.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        more = True
        while more and size <= limit and (declared is None or int(declared) <= limit):
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
        if size > limit or (declared is not None and int(declared) > limit):
            if more:
                await _drain(receive, DRAIN_BYTES)
            raise RequestRejected(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"the request body is larger than the limit of {limit} bytes",
            )
        return b"".join(chunks)


async def _drain(receive: Receive, budget: int) -> None:
    """Read and discard what the client is still sending, up to ``budget`` bytes."""
    while budget > 0:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the already-read body, then the real channel."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class ApiKeyGuard:
    """Protected paths need the key as ``X-API-Key`` or ``Authorization: Bearer``."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self._key = api_key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not needs_api_key(scope["path"]) or self._authorised(scope):
            await self.app(scope, receive, send)
            return
        error = RequestRejected(
            status.HTTP_401_UNAUTHORIZED,
            "an API key is required: send it as X-API-Key or Authorization: Bearer",
            headers={"WWW-Authenticate": 'Bearer realm="report-search"'},
        )
        await _reject(scope, receive, send, error)

    def _authorised(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        given = headers.get("x-api-key")
        if given is None:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else None
        # Constant-time comparison: the time taken says nothing about how much matched.
        return given is not None and hmac.compare_digest(given.encode("utf-8"), self._key)


class RateLimiter:
    """A token bucket per client IP on protected paths: ``burst`` at once, then
    ``per_minute``. Refusals are 429 with ``Retry-After`` (whole seconds).

    Buckets live in an LRU of ``max_clients``, so a flood of addresses cannot grow memory;
    a client pushed out starts again with a full bucket. Behind a reverse proxy the client
    IP is the proxy's unless uvicorn is told to trust its ``X-Forwarded-For``
    (``--forwarded-allow-ips``).
    """

    def __init__(
        self, app: ASGIApp, per_minute: float, burst: int, max_clients: int = 65536
    ) -> None:
        self.app = app
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = float(burst)
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(maxsize=max_clients)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.take(_client_key(client[0]) if client else "unknown", time.monotonic())
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        error = RequestRejected(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many requests from this client; retry in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
        await _reject(scope, receive, send, error)

    def take(self, client: str, now: float) -> float:
        """Spend one token of ``client``'s bucket: 0 if there was one, else seconds to wait.

        Runs on the event loop without awaiting, so no lock is needed.
        """
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add the middleware the settings ask for (see the module docstring for the order)."""
    app.add_middleware(InputGuard, max_body_bytes=settings.max_body_bytes)
    if settings.api_key is not None:
        app.add_middleware(ApiKeyGuard, api_key=settings.api_key.get_secret_value())
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(
            RateLimiter,
            per_minute=settings.rate_limit_per_minute,
            burst=settings.rate_limit_burst,
        )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # Mcp-Protocol-Version: what a browser MCP client sends (/mcp is stateless, so no
            # session id header and no DELETE of a session).
            allow_methods=["GET", "POST"],
            allow_headers=[
                "Content-Type",
                "Authorization",
                "X-API-Key",
                "X-Request-ID",
                "Mcp-Protocol-Version",
            ],
            expose_headers=["Retry-After", "X-Request-ID"],
            max_age=600,
        )


def guarded_responses(settings: Settings) -> dict[int | str, dict[str, Any]]:
    """The refusals above, for the OpenAPI description of the protected routes."""
    described = {status.HTTP_413_CONTENT_TOO_LARGE: "The request body is over the size limit."}
    if settings.api_key is not None:
        described[status.HTTP_401_UNAUTHORIZED] = "The API key is missing or wrong."
    if settings.rate_limit_per_minute > 0:
        described[status.HTTP_429_TOO_MANY_REQUESTS] = "Too many requests; see Retry-After."
    return {code: {"model": ErrorResponse, "description": text} for code, text in described.items()}


def _client_key(address: str) -> str:
    """Whose bucket a request draws from: an IPv4 address, or an IPv6 client's /64.

    An IPv6 client is usually given a whole /64 and can send each request from a new address
    in it: per address, every request would find a full bucket.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an address (a test client, a Unix socket)
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # an IPv4 client seen through a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
