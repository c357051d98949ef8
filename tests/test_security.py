"""Hostile requests against a real uvicorn server, then access control (SECURITY.md).

A real server, not the test client: body limits, chunked bodies and dropped connections
only show over a socket. The promise under test: every request gets a complete answer
(never a reset connection), never a 5xx, and every refusal is ``{"detail": str}`` JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from indexer.settings import Settings
from service.api.app import create_app
from service.logging_setup import RequestIdFilter, hide_query_strings
from service.searcher import Searcher
from tests.conftest import live_server, mcp_initialize

JSON = {"content-type": "application/json"}
KEY = "s3cret-key-for-tests"


@pytest.fixture(scope="module")
def base_url(settings: Settings, searcher: Searcher) -> Iterator[str]:
    """The app with default (open) settings behind a real server."""
    with live_server(create_app(settings, searcher)) as url:
        yield url


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    """A body sent chunked, with no Content-Length to check up front."""
    for _ in range(total // size):
        yield b"x" * size


def _body(text: str) -> dict[str, Any]:
    return {"content": text.encode("utf-8"), "headers": JSON}


HOSTILE: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/search?q=a%00b", {}, 422),
    ("GET", "/search?q=%01%02%1b[31m", {}, 422),
    ("GET", "/search?q=x&section=a%7Fb", {}, 422),
    ("GET", "/search?q=a%ffb", {}, 400),
    ("GET", "/search?q=a&q=b", {}, 422),
    ("GET", "/search?q=a&k=1&k=2", {}, 422),
    ("GET", "/search?q=x&k=abc", {}, 422),
    # int() would read these as 50, 5 and 5: a number in a URL is digits.
    ("GET", "/search?q=x&k=5_0", {}, 422),
    ("GET", "/search?q=x&k=%2B5", {}, 422),
    ("GET", "/search?q=x&page_min=%205", {}, 422),
    ("GET", "/search?q=x&k=99999999999999999999999999", {}, 422),
    ("GET", "/search?q=" + "x" * 8000, {}, 422),
    ("GET", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", {}, 200),
    ("GET", "/search?q=%27%20OR%201%3D1%20--", {}, 200),
    ("GET", "/search?q=%E2%80%AEevil%F0%9F%98%80", {}, 200),
    ("GET", "/passages/..%2F..%2F..%2Fetc%2Fpasswd", {}, 404),
    ("GET", "/static/..%2F..%2Fpyproject.toml", {}, 404),
    ("POST", "/search", {"content": b"x" * (1024 * 1024), "headers": JSON}, 413),
    ("POST", "/search", {"content": _chunks(256 * 1024), "headers": JSON}, 413),
    ("POST", "/search", {"content": b'{"query": "caf\xe9"}', "headers": JSON}, 400),
    ("POST", "/search", {"content": b"[" * 20000 + b"]" * 20000, "headers": JSON}, 400),
    ("POST", "/search", {"content": b'{"query": "x",', "headers": JSON}, 400),
    ("POST", "/search", _body('{"query": "x", "k": ' + "9" * 5000 + "}"), 400),
    ("POST", "/search", _body('{"query": "a\\u0000b"}'), 422),
    ("POST", "/search", _body('{"query": "\\ud800"}'), 422),
    ("POST", "/search", _body('{"query": 123}'), 422),
    ("POST", "/search", _body('{"query": ["a", "b"]}'), 422),
    ("POST", "/search", _body('{"query": "x", "k": NaN}'), 400),
    ("POST", "/search", _body('{"query": "x", "k": 1e400}'), 400),
    ("POST", "/search", _body('{"query": "x", "mode": {"$ne": null}}'), 422),
    (
        "POST",
        "/search",
        {"content": b'{"query": "x"}', "headers": {"content-type": "text/plain"}},
        415,
    ),
    ("POST", "/search", {"content": b'{"query": "caf\xe9"}'}, 415),
    # The page's own links: a query pasted with a form feed or repeated is the page's to judge.
    ("GET", "/?q=HAECHI%0Cop&q=b", {}, 200),
    ("POST", "/context", _body('{"query": "x", "max_chars": -1}'), 422),
    ("DELETE", "/search", {}, 405),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "expected"),
    HOSTILE,
    ids=[f"{i:02d}-{m}-{p[:40]}" for i, (m, p, _, _) in enumerate(HOSTILE)],
)
def test_hostile_request_gets_a_complete_readable_answer(base_url, method, path, kwargs, expected):
    with httpx.Client(base_url=base_url, timeout=60) as client:
        # A dropped connection raises here (RemoteProtocolError, ReadError): the test fails.
        response = client.request(method, path, **kwargs)
    assert response.status_code == expected, response.text
    if expected >= 400:
        body = response.json()
        assert isinstance(body["detail"], str) and body["detail"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400),
    ],
)
def test_malformed_framing_gets_a_4xx_not_a_reset(base_url, raw, expected):
    """Requests an HTTP client would refuse to send, written on a raw socket."""
    port = int(base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    assert int(status_line.split()[1]) == expected


def test_a_client_hanging_up_mid_body_is_no_server_error(base_url, caplog):
    """Nobody is left to answer: logged and counted as nginx's 499, not as a 500."""
    port = int(base_url.rsplit(":", 1)[1])
    caplog.set_level(logging.INFO, logger="service.access")
    head = b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + b"Content-Length: 100\r\n\r\n" + b'{"query": ')
    deadline = time.monotonic() + 30
    while not (cut := [r for r in caplog.records if r.name == "service.access"]):
        assert time.monotonic() < deadline, "no access line for the cut request"
        time.sleep(0.05)
    assert (cut[0].method, cut[0].path, cut[0].status) == ("POST", "/search", 499)
    exported = httpx.get(f"{base_url}/metrics").text
    assert 'method="POST",route="unmatched",status="499"' in exported


def test_control_character_message_is_readable(base_url):
    response = httpx.get(f"{base_url}/search", params={"q": "a\x00b"})
    assert response.json()["detail"] == "q: the query contains control characters"
    repeated = httpx.get(f"{base_url}/search?q=a&k=1&k=2").json()["detail"]
    assert "'k'" in repeated and "more than once" in repeated
    too_big = httpx.post(f"{base_url}/search", content=b"x" * 70_000, headers=JSON)
    assert "65536 bytes" in too_big.json()["detail"]
    # Valid JSON, but more digits than Python converts: said so, not "not valid JSON".
    long_number = httpx.post(
        f"{base_url}/search", content=b'{"query": "x", "k": ' + b"9" * 5000 + b"}", headers=JSON
    )
    assert long_number.json()["detail"] == f"the number {'9' * 20}… in the JSON body is too large"


def test_tabs_and_newlines_are_whitespace_not_errors(base_url):
    response = httpx.post(
        f"{base_url}/search", json={"query": "\tQui a été élu\nPrésident ?\r\n", "k": 1}
    )
    assert response.status_code == 200
    assert response.json()["query"] == "Qui a été élu\nPrésident ?"


def test_burst_of_concurrent_valid_requests_all_succeed(base_url):
    queries = [f"opération {word}" for word in ("armes", "drogue", "cybercriminalité", "fraude")]

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
            return await asyncio.gather(
                *(
                    client.post("/search", json={"query": queries[i % 4], "k": 1 + i % 10})
                    if i % 2
                    else client.get("/search", params={"q": queries[i % 4], "k": 1 + i % 10})
                    for i in range(32)
                )
            )

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 32
    assert all(r.json()["results"] for r in responses)
    assert httpx.get(f"{base_url}/readyz").status_code == 200
    assert httpx.get(f"{base_url}/search", params={"q": "INTERPOL"}).status_code == 200


def test_defaults_are_open_without_cors_headers(base_url):
    """No key, no rate limit and no CORS headers unless configured."""
    origin = {"origin": "https://evil.example"}
    response = httpx.get(f"{base_url}/search", params={"q": "INTERPOL", "k": 1}, headers=origin)
    assert response.status_code == 200
    assert not any(h.startswith("access-control-") for h in response.headers)


@pytest.fixture(scope="module")
def locked_url(settings: Settings, searcher: Searcher) -> Iterator[str]:
    """The app with an API key, CORS for one origin and a tight rate limit.

    ``model_copy`` does not validate, so the key is given as the ``SecretStr`` it would be.
    """
    locked = settings.model_copy(
        update={
            "api_key": SecretStr(KEY),
            "cors_origins": ["https://app.example"],
            "rate_limit_per_minute": 60.0,
            "rate_limit_burst": 5,
        }
    )
    with live_server(create_app(locked, searcher)) as url:
        yield url


def test_api_key_is_required_on_api_routes(settings, searcher):
    locked = settings.model_copy(update={"api_key": SecretStr(KEY)})
    with live_server(create_app(locked, searcher)) as url, httpx.Client(base_url=url) as client:
        for headers in ({}, {"x-api-key": "wrong"}, {"authorization": f"Basic {KEY}"}):
            refused = client.get("/search", params={"q": "INTERPOL"}, headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "API key" in refused.json()["detail"]
        for headers in ({"x-api-key": KEY}, {"authorization": f"Bearer {KEY}"}):
            assert client.get("/search", params={"q": "INTERPOL"}, headers=headers).is_success
        assert client.post("/context", json={"query": "x"}).status_code == 401
        assert client.get("/stats").status_code == 401
        assert client.post("/mcp", json={}).status_code == 401
        for open_path in ("/healthz", "/readyz", "/openapi.json", "/"):
            assert client.get(open_path).status_code == 200, open_path
        schema = client.get("/openapi.json").json()
        assert "401" in schema["paths"]["/search"]["get"]["responses"]


def test_either_header_holding_the_key_lets_a_request_through(settings, searcher):
    """An empty header is no key given, and a right key is not refused for another header
    beside it; a wrong key is told wrong, not asked for as if none had been sent."""
    locked = settings.model_copy(update={"api_key": SecretStr(KEY)})
    bearer = f"Bearer {KEY}"
    with TestClient(create_app(locked, searcher)) as client:
        for headers in (
            {"x-api-key": "", "authorization": bearer},
            {"x-api-key": "wrong", "authorization": bearer},
            {"x-api-key": KEY, "authorization": "Bearer wrong"},
        ):
            assert client.get("/stats", headers=headers).status_code == 200, headers
        for headers in ({"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}):
            wrong = client.get("/stats", headers=headers)
            assert wrong.status_code == 401
            assert wrong.json()["detail"].startswith("the API key is wrong"), headers
        for headers in ({}, {"x-api-key": ""}, {"x-api-key": " ", "authorization": "Bearer "}):
            missing = client.get("/stats", headers=headers)
            assert missing.status_code == 401
            assert missing.json()["detail"].startswith("an API key is required"), headers


def test_the_api_key_and_the_admin_token_read_a_bearer_header_alike(settings, searcher):
    """One reading of ``Authorization`` for both: the scheme in any case, then the token.
    An unknown query parameter (422) shows a request that got past the check (not 401)."""
    both = settings.model_copy(update={"api_key": SecretStr(KEY), "admin_token": SecretStr(KEY)})
    headers = {
        f"Bearer {KEY}": 422,
        f"bearer  {KEY}": 422,
        f"BEARER {KEY}": 422,
        "Bearer": 401,
        "Bearer ": 401,
        f"Bearer {KEY}x": 401,
        f"Basic {KEY}": 401,
        KEY: 401,
    }
    with TestClient(create_app(both, searcher)) as client:
        for authorization, expected in headers.items():
            sent = {"authorization": authorization}
            api = client.get("/stats", params={"zz": 1}, headers=sent)
            admin = client.post("/admin/reload", params={"zz": 1}, headers=sent)
            assert (api.status_code, admin.status_code) == (expected, expected), authorization


def _preflight(url: str, method: str, headers: str) -> httpx.Response:
    """The OPTIONS request a browser page at https://app.example sends first."""
    return httpx.options(
        url,
        headers={
            "origin": "https://app.example",
            "access-control-request-method": method,
            "access-control-request-headers": headers,
        },
    )


def test_cors_allows_only_the_configured_origins(locked_url):
    allowed = {"origin": "https://app.example", "x-api-key": KEY}
    response = httpx.get(f"{locked_url}/healthz", headers=allowed)
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.get(f"{locked_url}/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = _preflight(f"{locked_url}/search", "POST", "content-type, x-api-key")
    assert preflight.status_code == 200  # preflights carry no key and need none
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()


def test_allowed_browser_origins_can_use_mcp(settings, searcher):
    opened = settings.model_copy(update={"cors_origins": ["https://app.example"]})
    initialize = mcp_initialize("page")
    accept = {"accept": "application/json, text/event-stream"}
    with live_server(create_app(opened, searcher)) as url:
        preflight = _preflight(f"{url}/mcp", "POST", "content-type, mcp-protocol-version")
        assert preflight.status_code == 200, preflight.text
        allowed = httpx.post(
            f"{url}/mcp", json=initialize, headers={"origin": "https://app.example", **accept}
        )
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = httpx.post(
            f"{url}/mcp", json=initialize, headers={"origin": "https://evil.example", **accept}
        )
        assert other.status_code == 403


def test_rate_limit_answers_429_with_retry_after(locked_url):
    with httpx.Client(base_url=locked_url, headers={"x-api-key": KEY}) as client:
        codes = [client.get("/stats").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5
        assert 429 in codes[5:]
        # The bucket refills one token a second: on a slow machine a request can get one.
        limited = next(r for r in (client.get("/stats") for _ in range(20)) if r.status_code == 429)
        assert int(limited.headers["retry-after"]) >= 1
        assert "too many requests" in limited.json()["detail"]
        assert client.get("/healthz").status_code == 200  # probes are never limited


def test_unexpected_errors_are_json_500s_with_the_request_id(settings, searcher, caplog):
    """Answered like any other error, X-Request-ID and CORS headers included, and logged with
    the traceback and the request id (Starlette's own handler had neither: it runs outside
    every middleware)."""
    app = create_app(
        settings.model_copy(update={"cors_origins": ["https://app.example"]}), searcher
    )

    def boom() -> None:
        raise RuntimeError("bug")

    app.add_api_route("/boom", boom)
    caplog.handler.addFilter(RequestIdFilter())
    headers = {"X-Request-ID": "bug-1", "Origin": "https://app.example"}
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers=headers)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the server log has the details"}
    assert response.headers["x-request-id"] == "bug-1"
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    (logged,) = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert logged.exc_info is not None and logged.exc_info[0] is RuntimeError
    assert logged.request_id == "bug-1"


def test_access_log_hides_the_query_text():
    logger = logging.getLogger("test-access")
    hide_query_strings(logger)
    hide_query_strings(logger)
    assert len(logger.filters) == 1
    args = ("127.0.0.1:5000", "GET", "/search?q=secret+words", "1.1", 200)
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 0, '%s - "%s %s" %s %d', args, None
    )
    assert all(f.filter(record) for f in logger.filters)
    assert "secret" not in record.getMessage()
    assert "/search?…" in record.getMessage()


def test_settings_read_security_from_the_environment(monkeypatch):
    monkeypatch.setenv("REPORT_API_KEY", "k")
    monkeypatch.setenv("REPORT_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("REPORT_RATE_LIMIT_PER_MINUTE", "120")
    loaded = Settings()
    assert loaded.api_key is not None and loaded.api_key.get_secret_value() == "k"
    assert loaded.cors_origins == ["https://a.example", "https://b.example"]
    assert loaded.rate_limit_per_minute == 120
    assert "k" not in json.dumps(loaded.model_dump(mode="json")["api_key"])
    monkeypatch.setenv("REPORT_API_KEY", "")
    assert Settings().api_key is None


def test_rate_limit_counts_an_ipv6_client_by_its_64_block():
    """An IPv6 client usually holds a whole /64: a new address per request must not give it a
    new bucket each time. IPv4 clients (dual-stack sockets included) stay one per address."""
    from service.api.middleware.rate_limit import RateLimiter

    async def ok(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limiter = RateLimiter(ok, per_minute=1, burst=1)

    def status_for(address: str) -> int:
        statuses: list[int] = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/search",
            "headers": [],
            "query_string": b"",
            "client": (address, 5000),
        }
        asyncio.run(limiter(scope, receive, send))
        return statuses[0]

    assert status_for("2001:db8:1:2::a") == 200
    assert status_for("2001:db8:1:2:ffff::b") == 429  # same /64, another address
    assert status_for("2001:db8:1:3::a") == 200  # the next /64
    assert status_for("192.0.2.1") == 200
    assert status_for("::ffff:192.0.2.2") == 200  # IPv4 through a dual-stack socket
    assert status_for("192.0.2.2") == 429


def test_any_origin_allowed_opens_mcp_to_any_page(settings):
    from service.api.app import _mcp_transport_security

    anyone = _mcp_transport_security(settings.model_copy(update={"cors_origins": ["*"]}))
    assert anyone is not None and not anyone.enable_dns_rebinding_protection
    listed = _mcp_transport_security(settings.model_copy(update={"cors_origins": ["https://a.b"]}))
    assert listed is not None and "https://a.b" in listed.allowed_origins


def test_mcp_refuses_other_sites_before_it_reads_their_body(base_url):
    """Bound to localhost, a page elsewhere (DNS rebinding) got the parse error of a body
    cut short, where a whole one got the SDK's 403: the body was read before Host and Origin."""
    sent = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    whole = json.dumps(mcp_initialize("page")).encode()
    for body in (b'{"jsonrpc":"2.0","id":7,', whole):
        page = httpx.post(
            f"{base_url}/mcp", content=body, headers={"origin": "http://evil.example", **sent}
        )
        assert page.status_code == 403, page.text
        rebound = httpx.post(
            f"{base_url}/mcp", content=body, headers={"host": "evil.example", **sent}
        )
        assert rebound.status_code == 421, rebound.text
    # From an allowed origin the body is read, and a cut one is answered as before.
    local = {"origin": "http://localhost:8000", **sent}
    assert httpx.post(f"{base_url}/mcp", content=b'{"jsonrpc":', headers=local).status_code == 400
