"""The HTTP API with the real model and index: results, sources and every error case."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from indexer.settings import Settings
from indexer.text import fold
from service.api.app import create_app
from service.context import DEFAULT_CONTEXT_CHARS
from service.state import ServiceState

RESULT_FIELDS = {
    "rank",
    "score",
    "passage_id",
    "document",
    "page",
    "section",
    "sections",
    "text",
    "lang",
    "source_urls",
    "highlight",
}


def test_get_search_returns_sourced_passages(client):
    response = client.get("/search", params={"q": "Qui a été élu Président d'INTERPOL ?", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "Qui a été élu Président d'INTERPOL ?"
    assert body["query_lang"] == "fr"
    assert body["took_ms"] > 0
    results = body["results"]
    assert [r["rank"] for r in results] == [1, 2, 3]
    assert set(results[0]) == RESULT_FIELDS
    assert "Al Raisi" in results[0]["text"]
    assert "elit-un-nouveau-President" in results[0]["source_urls"][0]
    assert results[0]["score"] >= results[1]["score"] >= results[2]["score"]
    highlight = results[0]["highlight"]
    assert results[0]["text"][highlight["start"] : highlight["end"]] == highlight["text"]
    assert "Al Raisi" in highlight["text"]
    assert body["mode"] == "hybrid"


def test_post_search_matches_get_and_works_cross_lingually(client):
    query = "Who was elected President of INTERPOL?"
    posted = client.post("/search", json={"query": query, "k": 5}).json()
    got = client.get("/search", params={"q": query, "k": 5}).json()
    assert [r["passage_id"] for r in posted["results"]] == [r["passage_id"] for r in got["results"]]
    assert posted["query_lang"] == "en"
    assert any("Al Raisi" in r["text"] for r in posted["results"][:3])


def test_lang_filter_keeps_only_that_language(client):
    body = client.get("/search", params={"q": "opération", "k": 5, "lang": "fr"}).json()
    assert len(body["results"]) == 5
    assert {r["lang"] for r in body["results"]} == {"fr"}
    upper = client.get("/search", params={"q": "opération", "k": 5, "lang": "FR"}).json()
    assert [r["passage_id"] for r in upper["results"]] == [r["passage_id"] for r in body["results"]]
    # A language no passage is in: an assistant passing the user's language must not take
    # an empty list for "the report does not say".
    for path, request in [
        ("/search", {"query": "Who was elected President?", "lang": "en"}),
        ("/context", {"query": "Who was elected President?", "lang": "en"}),
    ]:
        refused = client.post(path, json=request)
        assert refused.status_code == 422, refused.text
        assert "no passage is in language 'en'" in refused.json()["detail"]
        assert "in fr" in refused.json()["detail"]


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


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_filters_return_k_results_when_k_passages_match(client, searcher, mode):
    """FAISS has no filters: the search must still fill k from the allowed passages."""
    params = {"q": "INTERPOL", "k": 4, "page_min": 17, "page_max": 18, "mode": mode}
    results = client.get("/search", params=params).json()["results"]
    assert len(results) == 4
    assert all(17 <= r["page"] <= 18 for r in results)
    section = searcher.index.passages[-1].section
    results = client.get(
        "/search", params={"q": "Who was elected President?", "section": section.lower(), "k": 2}
    ).json()["results"]
    assert results and all(section in r["sections"] for r in results)
    # A short section joined to its neighbour is found by its own heading, and named there.
    joined = next(p for p in searcher.index.passages if len(p.sections) > 1)
    minor = next(t for t in joined.sections if t != joined.section)
    found = client.get("/search", params={"q": "INTERPOL", "section": minor, "k": 50}).json()
    assert joined.id in [r["passage_id"] for r in found["results"]]
    assert all(any(fold(minor) in fold(t) for t in r["sections"]) for r in found["results"])
    assert client.get("/search", params={"q": "x", "document": "nope"}).status_code == 422
    # Read like a query: a zero-width space pasted with the id changes nothing.
    pasted = {"q": "x", "document": "interpol-2021-fr\u200b", "k": 1}
    assert client.get("/search", params=pasted).status_code == 200


def test_modes_differ_and_are_reported(client):
    query = "HAECHI"
    by_mode = {
        m: client.get("/search", params={"q": query, "k": 3, "mode": m}).json()
        for m in ("dense", "keyword", "hybrid")
    }
    assert {m: body["mode"] for m, body in by_mode.items()} == {m: m for m in by_mode}
    assert all("HAECHI" in r["section"] + r["text"] for r in by_mode["keyword"]["results"])
    assert by_mode["hybrid"]["query_lang"] == "fr"  # too short to detect; words are French
    # In any case, as lang and document are read.
    shouted = client.post("/search", json={"query": query, "k": 3, "mode": "KEYWORD"}).json()
    assert shouted == by_mode["keyword"] | {"took_ms": shouted["took_ms"]}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "empty"),
        ({"q": "x", "k": 0}, "k"),
        ({"q": "x", "k": 51}, "k"),
        ({"q": "x", "k": "abc"}, "k"),
        ({"q": "x", "k": 2.5}, "k"),
        ({"q": "x" * 1001}, "q"),
        ({"q": "x", "lang": "french!"}, "lang"),
        ({"q": "x", "mode": "magic"}, "mode"),
        ({"q": "x", "page_min": 0}, "page_min"),
        # The CLI's words: "unable to parse string as an integer" puzzled a user, as -1 is one.
        ({"q": "x", "page_min": -1}, "page_min: Input should be a whole number written in digits"),
        ({"q": "x", "k": "+5"}, "k: Input should be a whole number written in digits"),
        ({"q": "x", "page_min": 5, "page_max": 2}, "page_min"),
        ({"q": "x", "unknown": "1"}, "unknown query parameter 'unknown' for GET /search; it "),
        ({}, "q"),
        ({"q": "x", "lang": ""}, "lang: must not be blank; leave the filter out"),
        ({"q": "x", "document": ""}, "document: must not be blank"),
        ({"q": "x", "section": "  "}, "section: must not be blank"),
        ({"q": "x", "document": "nope"}, "no document 'nope' in the index; it has interpol-"),
    ],
)
def test_bad_get_requests_get_readable_4xx(client, params, fragment):
    response = client.get("/search", params=params)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"query": ""},
        {"query": " \n\t "},
        {"query": "x", "k": 0},
        {"query": "x", "k": 100},
        {"query": "x", "k": "many"},
        {"query": "x" * 1001},
        {"k": 5},
        {"query": "x", "unexpected": 1},
        ["not", "an", "object"],
    ],
)
def test_bad_post_bodies_get_readable_422(client, body):
    response = client.post("/search", json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]


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


def test_parameters_a_route_does_not_read_are_refused(client, searcher):
    posted = client.post("/search?k=2", json={"query": "HAECHI"})
    assert posted.status_code == 422
    assert "'k'" in posted.json()["detail"] and "JSON body" in posted.json()["detail"]
    passage_id = searcher.index.passages[0].id
    misspelt = client.get(f"/passages/{passage_id}", params={"neighbors": 1})
    assert misspelt.status_code == 422 and "'neighbours'" in misspelt.json()["detail"]
    assert client.get(f"/passages/{passage_id}", params={"neighbours": 1}).status_code == 200
    assert client.get("/stats", params={"verbose": 1}).status_code == 422


def test_language_codes_with_a_region_are_accepted(client):
    """The code passes the request's checks; the index just has no passage in it."""
    response = client.get("/search", params={"q": "HAECHI", "lang": "zh-cn"})
    assert response.status_code == 422
    assert "no passage is in language 'zh-cn'" in response.json()["detail"]


def test_probes_and_the_page_answer_head(client):
    for path in ("/healthz", "/readyz", "/"):
        assert client.head(path).status_code == 200, path


def test_health_ready_and_stats(client, searcher):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    stats = client.get("/stats").json()
    assert stats["passages"] == len(searcher.index.passages) > 50
    assert stats["documents"][0]["id"] == "interpol-2021-fr"
    # The report's own address, from its metadata file: where a citation points a reader.
    assert stats["documents"][0]["source_url"] == "https://www.interpol.int/fr"
    assert stats["model"]["dimension"] == 384
    assert stats["model"]["name"] == "intfloat/multilingual-e5-small"
    assert (searcher.encoder.path / "config.json").exists()
    assert stats["model"]["path"] == str(searcher.encoder.path)
    assert stats["query_languages"] == ["ar", "de", "en", "es", "fr"]


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


def test_missing_query_field_is_named(client):
    response = client.post("/search", json={"k": 3})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("query: ")
