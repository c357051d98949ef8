"""GET and POST /search with the real model and index: results, filters, modes, bad requests."""

from __future__ import annotations

import pytest

from indexer.text import fold

RESULT_FIELDS = {
    "rank",
    "score",
    "passage_id",
    "document",
    "page",
    "section",
    "sections",
    "chapters",
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
    # Which index version answered, as /readyz names it (a reload changes it).
    served = client.get("/readyz").json()["index_version"]
    context = client.post("/context", json={"query": query}).json()
    assert posted["index_version"] == got["index_version"] == context["index_version"] == served


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
        # Named as a field the schema refuses is named, for programs.
        assert refused.json()["detail"].startswith("lang: ")
        assert [e["loc"] for e in refused.json()["errors"]] == [["body", "lang"]]
        assert refused.json()["errors"][0]["input"] == "en"  # the value sent, as pydantic's
    refused = client.get("/search", params={"q": "x", "document": "nope"}).json()
    assert [e["loc"] for e in refused["errors"]] == [["query", "document"]]
    assert refused["errors"][0]["input"] == "nope"
    assert refused["errors"][0]["msg"].startswith("no document 'nope' in the index")


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
        ({"q": ""}, "q: the query is empty: type a question or keywords"),
        ({"q": "   "}, "q: the query is empty: type a question or keywords"),
        ({"q": "x", "k": 0}, "k"),
        ({"q": "x", "k": 51}, "k"),
        ({"q": "x", "k": "abc"}, "k"),
        ({"q": "x", "k": 2.5}, "k"),
        ({"q": "x" * 1001}, "q"),
        ({"q": "x", "lang": "french!"}, "lang"),
        ({"q": "x", "mode": "magic"}, "mode"),
        ({"q": "x", "page_min": 0}, "page_min"),
        # The bounds, in a JSON body's words: "unable to parse string as an integer", then
        # "a whole number written in digits", puzzled users, as -1 is one.
        ({"q": "x", "page_min": -1}, "page_min: Input should be greater than or equal to 1"),
        ({"q": "x", "k": -1}, "k: Input should be greater than or equal to 1"),
        ({"q": "x", "k": "+5"}, "k: Input should be a whole number written in digits"),
        ({"q": "x", "k": "many"}, "k: Input should be a whole number written in digits"),
        ({"q": "x", "k": "-"}, "k: Input should be a whole number written in digits"),
        ({"q": "x", "page_min": 5, "page_max": 2}, "page_min"),
        ({"q": "x", "unknown": "1"}, "unknown query parameter 'unknown' for GET /search; it "),
        ({}, "q"),
        ({"q": "x", "lang": ""}, "lang: must not be blank; leave the filter out"),
        ({"q": "x", "document": ""}, "document: must not be blank"),
        ({"q": "x", "section": "  "}, "section: must not be blank"),
        # An accent without its letter folds to nothing, which every title contains.
        ({"q": "x", "section": "\u0301"}, "section: must not be blank"),
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


def test_missing_query_field_is_named(client):
    response = client.post("/search", json={"k": 3})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("query: ")


def test_language_codes_with_a_region_are_accepted(client):
    """The code passes the request's checks; the index just has no passage in it."""
    response = client.get("/search", params={"q": "HAECHI", "lang": "zh-cn"})
    assert response.status_code == 422
    assert "no passage is in language 'zh-cn'" in response.json()["detail"]
