"""GET /documents/{id}: a document's outline (service.documents.outline)."""

from __future__ import annotations

import dataclasses

from indexer.artifact import DocumentEntry
from service.documents import document_markdown, outline
from service.retrieval.filters import SearchFilters
from tests.conftest import a_passage


def test_an_outline_is_the_runs_of_passages_under_one_title_in_reading_order():
    passages = [
        a_passage("A", "p1", page=1, section="ONE"),
        a_passage("B", "p2", page=2, section="ONE"),
        dataclasses.replace(
            a_passage("C", "p3", page=2, section="TWO"), sections=("TWO", "SIDEBAR", "TWO")
        ),
        a_passage("D", "p4", page=3, section="ONE"),  # the title again, later: a run of its own
    ]
    sections = outline(passages)
    assert [(s.title, s.page_first, s.page_last, s.passage_ids) for s in sections] == [
        ("ONE", 1, 2, ("p1", "p2")),
        ("TWO", 2, 2, ("p3",)),
        ("ONE", 3, 3, ("p4",)),
    ]
    assert sections[1].also == ("SIDEBAR",)
    assert outline([]) == []
    # One title under two chapters ("Overview" in each): two runs, each with its chapter,
    # which a chapter title printed over the first passage is not listed "also" beside.
    overviews = [
        dataclasses.replace(
            a_passage(text, pid, page=page, section="Overview"),
            sections=(chapter, "Overview"),
            chapters=(chapter,),
        )
        for text, pid, page, chapter in [
            ("A", "q1", 1, "Borders"),
            ("B", "q2", 1, "Borders"),
            ("C", "q3", 2, "Customs"),
        ]
    ]
    assert [(s.passage_ids, s.chapters, s.also) for s in outline(overviews)] == [
        (("q1", "q2"), ("Borders",), ()),
        (("q3",), ("Customs",), ()),
    ]
    # As Markdown, each under its chapter: two "Overview" on one page are two headings.
    entry = DocumentEntry("doc", "doc.md", "0" * 64, "Report", 2023, "en", None, None, 3)
    on_one_page = [dataclasses.replace(p, page=1) for p in overviews]
    headings = [
        line for line in document_markdown(entry, on_one_page).splitlines() if line[:3] == "## "
    ]
    assert headings == ["## Borders › Overview (p. 1)", "## Customs › Overview (p. 1)"]


def test_the_outline_covers_every_passage_and_its_titles_work_as_section_filters(client, searcher):
    (report,) = searcher.index.manifest.documents
    response = client.get(f"/documents/{report.id}")
    assert response.status_code == 200
    body = response.json()
    expected = (report.id, report.title, len(searcher.index.passages))
    assert (body["id"], body["title"], body["passages"]) == expected
    assert body["pages"] == max(p.page for p in searcher.index.passages)
    listed = [i for s in body["sections"] for i in s["passage_ids"]]
    in_order = sorted(searcher.index.passages, key=lambda p: p.position)
    assert listed == [p.id for p in in_order]  # every passage once, in reading order
    finance = next(s for s in body["sections"] if s["title"].startswith("FINANCES"))
    filters = SearchFilters(section=finance["title"])
    found = searcher.search("revenus", k=10, filters=filters).hits
    assert {h.passage.id for h in found} >= set(finance["passage_ids"])


def test_an_unknown_document_is_a_readable_404(client):
    response = client.get("/documents/no-such-report")
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "no document has the id 'no-such-report'; GET /stats lists them"
    )


def test_a_document_id_is_read_in_any_case_as_the_document_filter_reads_it(client, searcher):
    (report,) = searcher.index.manifest.documents
    response = client.get(f"/documents/{report.id.upper()}")
    assert response.status_code == 200 and response.json()["id"] == report.id
    # Read like a query, as the filter reads it: an invisible character copied along is nothing.
    pasted = client.get(f"/documents/{report.id}%E2%80%8B")
    assert pasted.status_code == 200 and pasted.json()["id"] == report.id
