"""Checks on what a request carries: body size and encoding, UTF-8, JSON shape and the query
string.

A JSON body is parsed here under the strictest rules any route needs (no repeated field, no
``NaN``, no number too large to convert), so that the app's own parse cannot fail and every
refusal names what is wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

from fastapi import status
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexer.strict_json import RepeatedKeyError, unique_keys
from indexer.text import CONTROL_CHARACTERS
from service.api.middleware.documented import DocumentedGuard
from service.api.middleware.paths import is_open
from service.api.middleware.rejection import RequestRejected, reject
from service.retrieval.query import LONE_SURROGATE

# Nesting deeper than any request body of this API needs; far below the parser's recursion.
MAX_JSON_DEPTH = 32
# After a body is refused as too large, read and discard up to this much more before
# answering: closing a socket with unread data makes the kernel send a reset, and the client
# would see a dropped connection instead of the 413.
DRAIN_BYTES = 4 * 1024 * 1024
_QUERY_FIELDS = frozenset({"q", "query"})
# JSON's whitespace. A body of it alone, which some clients send for none ("\n"), is read
# as none: it holds no JSON document, and refusing it as "not valid JSON" refused a request
# that sent nothing wrong.
_JSON_WHITESPACE = b" \t\r\n"


def _text_problem(name: str, value: str) -> str | None:
    """Why ``value`` (of query parameter or JSON field ``name``) cannot be searched, if so.

    A query's control characters are left to the search core, which reads form feeds and
    vertical tabs (text pasted from a PDF) as line breaks and refuses the others itself, with
    the same message for the CLI and the MCP tool.
    """
    query = name in _QUERY_FIELDS
    return _problem(value, "the query" if query else f"the value of {name!r}", not query)


def _name_problem(name: str, what: str) -> str | None:
    """Why a parameter's or a field's own ``name`` (``what`` it is) cannot be read, if so:
    said to be in a name, where a value's words ("the value of 'a\\x01'") misled."""
    return _problem(name, what, True)


def _problem(text: str, what: str, controls: bool) -> str | None:
    if controls and CONTROL_CHARACTERS.search(text):
        return f"{what} contains control characters"
    if LONE_SURROGATE.search(text):
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
        problem = _name_problem(name, "a query parameter's name") or _text_problem(name, value)
        if problem:
            raise RequestRejected(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)


def _strings(document: object) -> Iterator[tuple[str, str, int, bool]]:
    """Every string of a parsed JSON document as (top-level field, text, depth, whether it
    is a key), iteratively.

    Iterative so that depth is checked without recursion; keys are yielded too.
    """
    stack: list[tuple[str, object, int]] = [("", document, 1)]
    while stack:
        field, value, depth = stack.pop()
        if isinstance(value, str):
            yield field, value, depth, False
        elif isinstance(value, dict):
            for key, item in value.items():
                child = field or str(key)
                yield child, str(key), depth, True
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
            object_pairs_hook=unique_keys,
        )
    except RepeatedKeyError as exc:
        raise RequestRejected(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except RecursionError:
        raise RequestRejected(
            status.HTTP_400_BAD_REQUEST,
            f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep",
        ) from None
    except ValueError:  # syntax
        raise RequestRejected(
            status.HTTP_400_BAD_REQUEST, "the request body is not valid JSON"
        ) from None
    for field, value, _, is_key in _strings(document):
        problem = (
            _name_problem(value, "a JSON field's name") if is_key else _text_problem(field, value)
        )
        if problem:
            raise RequestRejected(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)


def check_content_encoding(headers: Headers) -> None:
    """Refuse a body sent compressed (``Content-Encoding: gzip``) with a 415 that says so:
    nothing here decompresses, and the UTF-8 check's "not valid UTF-8" blamed the text."""
    encodings = [e.strip().lower() for e in headers.get("content-encoding", "").split(",")]
    sent = [e for e in encodings if e not in ("", "identity")]
    if sent:
        raise RequestRejected(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"Content-Encoding {', '.join(sent)} is not supported: send the body "
            "uncompressed (plain JSON), without Content-Encoding",
            headers={"Accept-Encoding": "identity"},
        )


def _is_json(headers: Headers) -> bool:
    """The content types FastAPI parses as JSON (``application/json``, ``…+json``)."""
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class InputGuard(DocumentedGuard):
    """Body size limit (declared and streamed), no compression, UTF-8, JSON shape and query
    string checks.

    The body is read here, at most ``max_body_bytes`` of it, and replayed to the app: the
    limit holds for chunked bodies with no ``Content-Length`` too. The JSON checks skip
    ``own_json_paths``, whose endpoints answer a malformed body in their own protocol (a
    JSON-RPC error, which an MCP client shows to the model where an HTTP refusal would look
    like a transport failure).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, own_json_paths: frozenset[str]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.own_json_paths = own_json_paths

    @staticmethod
    def refusals(path: str, takes_body: bool) -> dict[int, str]:
        """What :meth:`__call__` can answer ``path`` with: on every path but the open ones
        (documented as taking no body), a 400 and a 413 for the body's size and its
        query string's checks, and where a body is taken the body's checks too."""
        if is_open(path):
            return {}
        bad = ["The query string is not UTF-8, or the Content-Length header is no number."]
        unprocessable = ["A query parameter is given twice or holds control characters."]
        refusals = {
            status.HTTP_413_CONTENT_TOO_LARGE: "The request body is over the size limit.",
        }
        if takes_body:
            bad.append(
                "The JSON body is not UTF-8 or not JSON (NaN, a number too large, nested too deep)."
            )
            unprocessable.append(
                "A JSON field is given twice, or a string holds control characters."
            )
            refusals[status.HTTP_415_UNSUPPORTED_MEDIA_TYPE] = (
                "The body is not sent as Content-Type: application/json, or is compressed."
            )
        refusals[status.HTTP_400_BAD_REQUEST] = " ".join(bad)
        refusals[status.HTTP_422_UNPROCESSABLE_CONTENT] = " ".join(unprocessable)
        return refusals

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
            if not body.strip(_JSON_WHITESPACE):
                body = b""
            if body:
                check_content_encoding(headers)
            if body and _is_json(headers) and path not in self.own_json_paths:
                check_json_body(body)
        except RequestRejected as error:
            await reject(scope, receive, send, error)
            return
        await self.app(scope, replayed(body, receive), send)

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


def replayed(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the already-read body, then the real channel."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
