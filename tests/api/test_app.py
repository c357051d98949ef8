"""The app as a whole: body and error handling shared by routes, not-ready, HEAD, docs."""

from __future__ import annotations

import gzip
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from indexer.settings import Settings
from service.api.app import create_app
from service.api.mcp_endpoint import checked_mcp_routes
from service.api.middleware.api_key import ApiKeyGuard
from service.api.middleware.documented import DocumentedGuard
from service.api.middleware.rate_limit import RateLimiter
from service.context import DEFAULT_CONTEXT_CHARS
from service.state import ServiceState


def test_null_options_mean_their_defaults_in_a_json_body(client):
    """Models that fill in every optional field send null for the ones they leave alone."""
    body = {"query": "Operation Thunder", "k": None, "mode": None, "lang": None, "page_min": None}
    said = client.post("/search", json=body)
    assert said.status_code == 200, said.text
    assert len(said.json()["results"]) == 5 and said.json()["mode"] == "hybrid"
    context = client.post("/context", json={"query": "Operation Thunder", "max_chars": None})
    assert context.status_code == 200, context.text
    assert len(context.json()["context"]) <= DEFAULT_CONTEXT_CHARS
    refused = client.post("/search", json={"query": None})
    assert refused.status_code == 422 and "query" in refused.json()["detail"]
    # A misspelt option stays unknown, null or not: dropping it would hide the mistake.
    misspelt = client.post("/search", json={"query": "Operation Thunder", "top_k": None})
    assert misspelt.status_code == 422 and "unknown field 'top_k'" in misspelt.json()["detail"]


def test_an_empty_result_says_why_on_every_route(client):
    """An empty list alone reads as "the report is silent on this"; the notice says that
    the filters (or keyword mode's need for a shared word) left nothing."""
    narrowed = {"q": "Operation Thunder", "section": "zzzz", "page_min": 3}
    said = client.get("/search", params=narrowed).json()
    assert said["results"] == []
    assert said["notice"].startswith("No passage matches 'Operation Thunder' with section='zzzz'")
    body = {"query": "Operation Thunder", "section": "zzzz", "page_min": 3}
    context = client.post("/context", json=body).json()
    assert context["citations"] == [] and context["notice"] == said["notice"]
    keyword = client.get("/search", params={"q": "xylophone", "mode": "keyword"}).json()
    assert keyword["results"] == [] and "keyword mode" in keyword["notice"]
    found = client.get("/search", params={"q": "Operation Thunder"}).json()
    assert found["results"] and found["notice"] is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/search", {"query": "x", "k": True}),
        ("/search", {"query": "x", "k": "3"}),
        ("/search", {"query": "x", "page_min": "2"}),
        ("/context", {"query": "x", "max_chars": "900"}),
    ],
)
def test_a_json_body_sends_numbers_as_numbers(client, path, body):
    """A query string's "3" is read as 3; a JSON body's "3" or true is the sender's bug."""
    response = client.post(path, json=body)
    assert response.status_code == 422
    (field,) = set(body) - {"query"}
    assert response.json()["detail"].startswith(f"{field}: Input should be a valid integer")
    assert client.get("/search", params={"q": "x", "k": "3"}).status_code == 200


def test_an_unknown_field_is_named_with_the_fields_the_request_takes(client):
    """As MCP and the query-string check word it; pydantic said "Extra inputs are not
    permitted", which names neither what was wrong nor what would be right."""
    said = client.post("/context", json={"query": "x", "top_k": 3}).json()["detail"]
    assert said == (
        "unknown field 'top_k' in the JSON body of POST /context; it takes 'query', 'k', "
        "'lang', 'document', 'section', 'page_min', 'page_max', 'mode', 'max_chars'"
    )
    said = client.get("/search", params={"q": "x", "top_k": 3}).json()["detail"]
    assert said.startswith("unknown query parameter 'top_k' for GET /search; it takes 'q', 'k'")
    # The other problems of the same request are said too.
    said = client.post("/search", json={"query": "x", "top_k": 3, "k": 500}).json()["detail"]
    assert said.startswith("unknown field 'top_k' in the JSON body of POST /search; it takes")
    assert said.endswith("; k: Input should be less than or equal to 50")
    # More than one: "unknown fields", as a sentence says it.
    said = client.post("/search", json={"query": "x", "filters": {}, "zz": 1}).json()["detail"]
    assert said.startswith("unknown fields 'filters', 'zz' in the JSON body of POST /search; ")
    said = client.get("/search", params={"q": "x", "top_k": 3, "zz": 1}).json()["detail"]
    assert said.startswith("unknown query parameters 'top_k', 'zz' for GET /search; it takes")
    said = client.get("/stats", params={"verbose": 1, "zz": 1}).json()["detail"]
    assert said == "unknown query parameters 'verbose', 'zz' for GET /stats; it takes none"


def test_every_unknown_parameter_refusal_lists_its_errors(client):
    """Routes without a model of their parameters (/passages, /documents, /stats) answered
    with the sentence alone, where /search listed ``errors`` as the README promises."""
    for path in ("/passages/whatever", "/documents/whatever", "/stats"):
        body = client.get(path, params={"zz": "1"}).json()
        assert body["errors"] == [
            {
                "loc": ["query", "zz"],
                "msg": "Extra inputs are not permitted",
                "type": "extra_forbidden",
                "input": "1",
            }
        ], path
        assert body["detail"].startswith(f"unknown query parameter 'zz' for GET {path}")


def test_control_characters_in_a_name_are_said_to_be_in_a_name(client):
    """A parameter's or a field's name was called "the value of 'query parameter names'"
    and "the value of 'a\x01'"."""
    said = client.get("/search?q=budget&a%01=1").json()["detail"]
    assert said == "a query parameter's name contains control characters"
    said = client.post("/search", json={"query": "budget", "a\x01": 1}).json()["detail"]
    assert said == "a JSON field's name contains control characters"
    said = client.post("/search", json={"query": "budget", "section": "a\x01"}).json()["detail"]
    assert said == "the value of 'section' contains control characters"


def test_the_schema_states_its_bounds_in_json_schema_words(client):
    """Bounds declared after a validator came out as pydantic's "ge"/"le", which no JSON
    Schema client reads (``neighbours`` of /passages): every bound must be
    minimum/maximum, and a filter is said not to be blank."""
    schema = client.get("/openapi.json").json()

    def keys(node):
        if isinstance(node, dict):
            yield from node
            for value in node.values():
                yield from keys(value)
        elif isinstance(node, list):
            for value in node:
                yield from keys(value)

    assert not {"ge", "le", "gt", "lt"} & set(keys(schema["paths"]))
    (neighbours,) = schema["paths"]["/passages/{passage_id}"]["get"]["parameters"][1:]
    assert (neighbours["schema"]["minimum"], neighbours["schema"]["maximum"]) == (0, 5)
    document = schema["components"]["schemas"]["SearchRequest"]["properties"]["document"]
    assert document["pattern"] == r"\S"


def test_malformed_json_is_a_400(client):
    response = client.post(
        "/search", content=b'{"query": "x",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_bodies_that_are_not_json_objects_say_what_to_send(client):
    # curl -d sends a form content type; the body here is not even UTF-8.
    form = client.post("/search", content=b'{"query":"caf\xe9"}')
    assert form.status_code == 415
    assert "Content-Type: application/json" in form.json()["detail"]
    json_type = {"content-type": "application/json"}
    empty = client.post("/context", content=b"", headers=json_type)
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    twice = client.post("/search", content=b'{"query": "HAECHI", "query": "x"}', headers=json_type)
    assert twice.status_code == 422 and "'query' is given more than once" in twice.json()["detail"]
    # A byte-order mark is allowed before JSON (RFC 8259 lets parsers ignore it).
    bom = client.post("/search", content=b'\xef\xbb\xbf{"query": "HAECHI"}', headers=json_type)
    assert bom.status_code == 200


def test_a_compressed_body_is_refused_as_compressed_not_as_bad_text(client):
    """Nothing decompresses a body: a gzip one was answered "not valid UTF-8" (400)."""
    body = gzip.compress(b'{"query": "HAECHI"}')
    for encoding in ("gzip", "BR", "identity, gzip"):
        headers = {"content-type": "application/json", "content-encoding": encoding}
        refused = client.post("/search", content=body, headers=headers)
        assert refused.status_code == 415, encoding
        assert refused.json()["detail"].startswith("Content-Encoding ")
        assert "send the body uncompressed (plain JSON)" in refused.json()["detail"]
    plain = {"content-type": "application/json", "content-encoding": "identity"}
    assert client.post("/search", json={"query": "HAECHI"}, headers=plain).status_code == 200


def test_parameters_a_route_does_not_read_are_refused(client, searcher):
    posted = client.post("/search?k=2", json={"query": "HAECHI"})
    assert posted.status_code == 422
    assert "'k'" in posted.json()["detail"] and "JSON body" in posted.json()["detail"]
    passage_id = searcher.index.passages[0].id
    misspelt = client.get(f"/passages/{passage_id}", params={"neighbors": 1})
    assert misspelt.status_code == 422 and "'neighbours'" in misspelt.json()["detail"]
    assert client.get(f"/passages/{passage_id}", params={"neighbours": 1}).status_code == 200
    assert client.get("/stats", params={"verbose": 1}).status_code == 422


def test_every_get_answers_head_with_its_status_and_headers_and_no_body(client, searcher):
    """Probes answered HEAD, but /stats, /docs, /passages/{id} and the rest said 405: link
    checkers, monitors and caches probe with HEAD (RFC 9110: a server must answer it)."""
    passage_id = searcher.index.passages[0].id
    for path in (
        "/healthz",
        "/readyz",
        "/",
        "/stats",
        "/docs",
        "/openapi.json",
        "/documents",
        f"/passages/{passage_id}",
        "/passages/nowhere",
        "/search?q=budget",
        "/search",
    ):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        if not path.startswith("/search"):  # a search's length varies with its took_ms
            assert head.headers.get("content-length") == got.headers.get("content-length"), path


def test_a_method_a_path_does_not_take_is_told_every_one_it_does(client):
    """The router answered with the first matching route's methods: ``Allow: GET`` for
    ``PUT /search``, which POST serves too."""
    for method in ("PUT", "OPTIONS", "DELETE"):
        refused = client.request(method, "/search")
        allow = refused.headers["allow"]
        assert refused.status_code == 405 and allow == "GET, HEAD, POST", method
    said = client.put("/search").json()["detail"]
    assert said == "/search takes GET, HEAD, POST, not PUT"
    assert client.post("/healthz").headers["allow"] == "GET, HEAD"
    assert client.delete("/passages/x").headers["allow"] == "GET, HEAD"


def test_the_api_docs_can_send_the_api_key_and_list_the_refusals(tmp_path):
    """The docs declared only the admin token: their Authorize button could not send the
    API key, and /stats (beside the open probes) listed no 401."""
    settings = Settings(
        index_dir=tmp_path, api_key="k" * 32, rate_limit_per_minute=60, admin_token="a" * 32
    )
    schema = create_app(settings).openapi()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The API key (REPORT_API_KEY), as the X-API-Key header.",
    }
    assert schemes["APIKeyBearer"]["scheme"] == "bearer"
    either = [{"APIKeyHeader": []}, {"APIKeyBearer": []}]
    for path, method in (("/stats", "get"), ("/search", "post"), ("/metrics", "get")):
        operation = schema["paths"][path][method]
        assert operation["security"] == either, path
        assert {"401", "429"} <= set(operation["responses"]), path
    assert "415" in schema["paths"]["/search"]["post"]["responses"]
    assert "415" not in schema["paths"]["/search"]["get"]["responses"]
    healthz = schema["paths"]["/healthz"]["get"]
    assert "security" not in healthz and set(healthz["responses"]) == {"200"}
    # The admin route takes its own token, not the key.
    assert schema["paths"]["/admin/reload"]["post"]["security"] == [{"AdminToken": []}]
    open_schema = create_app(Settings(index_dir=tmp_path)).openapi()
    assert "APIKeyHeader" not in open_schema["components"]["securitySchemes"]
    assert "401" not in open_schema["paths"]["/stats"]["get"]["responses"]


def test_openapi_docs_served_without_anything_from_elsewhere(client):
    assert "/search" in client.get("/openapi.json").json()["paths"]
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            assert client.get(asset).status_code == 200, asset


def test_a_503_says_when_to_retry_only_while_loading(tmp_path):
    settings = Settings(index_dir=tmp_path / "missing", corpus_dir=tmp_path)
    app = create_app(settings)
    with TestClient(app) as test_client:
        app.state.service.wait(timeout=120)
        failed = test_client.get("/readyz")  # no index: retrying will not help
        assert failed.status_code == 503 and "retry-after" not in failed.headers
        app.state.service = ServiceState(lambda searcher: None)  # a load still running
        loading = test_client.get("/search", params={"q": "x"})
        assert loading.status_code == 503 and loading.headers["retry-after"] == "5"


def test_not_ready_until_loaded_and_says_why(tmp_path):
    settings = Settings(index_dir=tmp_path / "missing", corpus_dir=tmp_path)
    app = create_app(settings)
    with TestClient(app) as test_client:
        app.state.service.wait(timeout=120)
        assert test_client.get("/healthz").status_code == 200
        ready = test_client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["detail"].startswith("service not ready: ")
        assert "report-index build" in ready.json()["detail"]
        search = test_client.get("/search", params={"q": "x"})
        assert search.status_code == 503
        # A request that can never succeed is told so now, not asked to retry first.
        for response in (
            test_client.get("/search", params={"q": "x", "k": 0}),
            test_client.post("/search", json={"k": 3}),
            test_client.post("/context", json={"query": "x", "max_chars": 1}),
            test_client.get("/passages/some-id", params={"neighbours": 99}),
        ):
            assert response.status_code == 422, response.request.url
        assert test_client.post("/context", json={"query": "x"}).status_code == 503
        assert test_client.get("/passages/some-id").status_code == 503
        assert test_client.get("/stats").status_code == 503
        # The tool definition names the reports: none that names nothing while loading.
        for tools in ("/tools/openai", "/tools/anthropic"):
            assert test_client.get(tools).status_code == 503, tools


def test_a_guard_says_what_it_refuses_and_where_it_asks_for_credentials():
    """A guard's refusals were a method that raised at runtime, and a path was documented as
    needing credentials whenever the guard listed a refusal on it."""

    class Unsaid(DocumentedGuard):
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.app(scope, receive, send)

    with pytest.raises(TypeError, match="refusals"):
        Unsaid(FastAPI())  # type: ignore[abstract]
    assert ApiKeyGuard.protects("/search") and not ApiKeyGuard.protects("/admin/reload")
    assert not RateLimiter.protects("/search") and RateLimiter.refusals("/search", False)


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "url", "body", "documented_at", "expected"),
    [
        ("GET", "/stats?x=%ff", None, "/stats", 400),
        ("GET", "/tools/openai?a=1&a=1", None, "/tools/openai", 422),
        ("GET", "/passages/p1?neighbours=1&neighbours=1", None, "/passages/{passage_id}", 422),
        ("GET", "/documents/d1?x=%ff", None, "/documents/{document_id}", 400),
        ("GET", "/metrics?x=%01", None, "/metrics", 422),
        ("POST", "/search", b'{"query": "a", "query": "b"}', "/search", 422),
        ("POST", "/admin/reload", b'{"jsonrpc":', "/admin/reload", 400),
    ],
)
def test_every_refusal_of_the_input_guard_is_in_the_api_docs(
    client, method, url, body, documented_at, expected
):
    """The guard's 400s and 422s were answered on paths whose docs listed only its 413."""
    answer = client.request(method, url, content=body, headers=JSON if body else {})
    assert answer.status_code == expected, answer.text
    responses = client.get("/openapi.json").json()["paths"][documented_at][method.lower()]
    assert str(expected) in responses["responses"]


def test_the_mcp_paths_whose_bodies_the_endpoint_judges_are_the_ones_it_wraps():
    """InputGuard skipped its JSON checks on /mcp whatever the SDK's routes were, and a route
    that was no plain Route was left unchecked without a word."""
    endpoint = PlainTextResponse("sdk")
    checked = checked_mcp_routes([Route("/rpc", endpoint)], None)
    assert checked.paths == {"/rpc"}
    assert isinstance(checked.routes[0], Route) and checked.routes[0].path == "/rpc"
    with pytest.raises(ValueError, match="no MCP endpoint"):
        checked_mcp_routes([Mount("/mcp", app=endpoint)], None)


def test_large_answers_are_compressed_for_clients_that_accept_it(client):
    """A result of 50 passages was ~90 KB of JSON sent as is; small answers stay plain."""
    plain = client.get("/search?q=budget&k=50", headers={"accept-encoding": "identity"})
    packed = client.get("/search?q=budget&k=50", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(plain.content) / 3
    drop = ("took_ms",)
    assert {k: v for k, v in packed.json().items() if k not in drop} == {
        k: v for k, v in plain.json().items() if k not in drop
    }
    small = client.get("/healthz", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers


def test_the_trailing_slash_redirect_names_no_host(client):
    """The router built its absolute Location from the Host header the client chose:
    ``Host: evil.example`` was sent to http://evil.example/search, which a cache in front
    could hand to others. A path reaches the same page from wherever the client came."""
    moved = client.get(
        "/search/", params={"q": "budget"}, headers={"host": "evil.example"}, follow_redirects=False
    )
    assert moved.status_code == 307 and moved.headers["location"] == "/search?q=budget"
    followed = client.get("/search/", params={"q": "budget", "k": 1})
    assert followed.status_code == 200 and len(followed.json()["results"]) == 1
