"""POST /context: the budgeted, cited block (service.context itself: tests/test_context.py)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.searcher import Searcher
from tests.conftest import QUESTION, is_excerpt


@pytest.mark.parametrize("max_chars", [200, 500, 1200, 4000, 20000])
def test_context_respects_the_budget_and_cites_whole_sentences(client, max_chars):
    response = client.post("/context", json={"query": QUESTION, "max_chars": max_chars, "k": 8})
    assert response.status_code == 200, response.text
    body = response.json()
    context, citations = body["context"], body["citations"]
    assert len(context) <= max_chars
    assert body["query_lang"] == "en"
    assert citations, "the best passage's highlight fits every allowed budget"
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
    assert re.findall(r"^\[(\d+)\] ", context, flags=re.MULTILINE) == [
        str(c["n"]) for c in citations
    ]
    headers = [f"[{c['n']}] {c['section']} (p. {c['page']})\n" for c in citations]
    for i, (citation, header) in enumerate(zip(citations, headers, strict=True)):
        assert citation["section"] and citation["page"] >= 1 and citation["passage_id"]
        urls = citation["source_urls"]
        assert urls and all(url.startswith("https://") for url in urls)
        start = context.index(header) + len(header)
        end = context.index("\n\n" + headers[i + 1]) if i + 1 < len(headers) else len(context)
        passage = client.get(f"/passages/{citation['passage_id']}").json()
        quoted = context[start:end]
        # The header names the section; a heading opening the passage is not quoted again.
        text = passage["text"].removeprefix(passage["section"] + "\n")
        assert is_excerpt(quoted, text), quoted
        assert citation["truncated"] == (quoted != text)
        assert citation["document"] == passage["document"]
    assert len(citations) + body["omitted"] == 8
    assert "Al Raisi" in context.split("\n\n[2]")[0]


def test_context_headers_name_the_report_in_an_index_of_several(settings, searcher):
    index = searcher.index
    (report,) = index.manifest.documents
    other = dataclasses.replace(report, id="europol-2022-en", title="Europol report 2022")
    manifest = dataclasses.replace(index.manifest, documents=(report, other))
    two = Searcher(dataclasses.replace(index, manifest=manifest), searcher.encoder)
    with TestClient(create_app(settings, two)) as client:
        body = client.post("/context", json={"query": QUESTION, "k": 2}).json()
        tool = client.get("/tools/openai").json()["function"]
        only = {"query": QUESTION, "document": report.id}
        assert client.post("/context", json=only).json()["citations"]
    assert body["context"].startswith(f"From {report.title}")
    assert f"\n[1] {report.title} — " in body["context"]
    assert body["citations"][0]["document"] == report.id
    assert tool["parameters"]["properties"]["document"]["enum"] == [report.id, other.id]
    assert f"'{other.title}' (id {other.id}" in tool["description"]
    # The tool tells the model how the passages it gets are headed.
    assert "'[n] REPORT — SECTION (p. N)'" in tool["description"]


def test_context_takes_search_filters(client):
    body = client.post(
        "/context", json={"query": "opération", "section": "no such section", "max_chars": 1000}
    ).json()
    assert (body["context"], body["citations"]) == ("", [])
    pages = client.post(
        "/context", json={"query": "INTERPOL", "page_min": 17, "page_max": 18, "mode": "keyword"}
    ).json()["citations"]
    assert pages and all(17 <= c["page"] <= 18 for c in pages)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"query": QUESTION, "max_chars": 199}, "max_chars"),
        ({"query": QUESTION, "max_chars": 20001}, "max_chars"),
        ({"query": QUESTION, "max_chars": "lots"}, "max_chars"),
        ({"query": "  "}, "empty"),
        ({"query": QUESTION, "k": 0}, "k"),
        ({"query": QUESTION, "extra": 1}, "extra"),
    ],
)
def test_bad_context_requests_get_readable_422(client, body, fragment):
    response = client.post("/context", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_context_without_a_query_is_a_422(client):
    response = client.post("/context", json={"max_chars": 1000})
    assert response.status_code == 422
    # No "input" for a missing field: pydantic's is the whole body.
    assert response.json()["errors"] == [
        {"loc": ["body", "query"], "msg": "Field required", "type": "missing"}
    ]
    listed = client.post("/context", json={"query": "x", "section": ["y" * 5000]}).json()
    assert listed["errors"][0]["input"] == ('["' + "y" * 78)[:80] + "…"  # JSON text, cut
    # A long value comes back cut, as in messages; not the whole 2,000 characters.
    long = client.post("/context", json={"query": "x" * 2000}).json()["errors"]
    assert long[0]["type"] == "string_too_long" and long[0]["input"] == "x" * 80 + "…"
