"""Quoting search hits within a character budget (``service.context``), on hand-made hits
and on every highlight of the report."""

from __future__ import annotations

import dataclasses

import pytest

from indexer.artifact import DocumentEntry
from service.context import (
    ELLIPSIS,
    MAY_NOT_ANSWER,
    build_context,
    context_notice,
    document_titles,
    excerpt,
    passage_header,
)
from service.responses import ContextResponse
from service.retrieval.highlight import Highlight
from service.retrieval.ranking import Mode
from service.searcher import SearchHit, SearchResult
from tests.conftest import a_passage, is_excerpt

# What every context opens with over the hand-made hits (document "doc", no title given).
LEAD = f"From doc: {MAY_NOT_ANSWER}.\n"


def _context(hits, budget, titles=None):
    """:func:`build_context` with room for its first line, which is checked and left out."""
    grounded = build_context(hits, None if budget is None else budget + len(LEAD), titles)
    if not grounded.text.startswith("From "):  # no passage, or no room for the line
        return grounded
    lead, _, blocks = grounded.text.partition("\n")
    assert lead.endswith(f": {MAY_NOT_ANSWER}.")
    return dataclasses.replace(grounded, text=blocks)


def _hit(
    rank: int, text: str, section: str = "SECTION", page: int = 1, matched: str | None = None
) -> SearchHit:
    """A hit on ``text`` whose highlight is ``matched`` (default: the whole text)."""
    passage = a_passage(
        text, f"doc-p{page:03d}-{rank:02d}", page, section, rank, (f"https://example.org/{rank}",)
    )
    matched = matched or text
    start = text.index(matched)
    return SearchHit(rank, 1.0 / rank, passage, Highlight(matched, start, start + len(matched)))


def test_everything_fits_in_rank_order():
    hits = [_hit(1, "Premier passage. Deux phrases."), _hit(2, "Second passage.", page=2)]
    grounded = _context(hits, 1000)
    assert grounded.text == (
        "[1] SECTION (p. 1)\nPremier passage. Deux phrases.\n\n[2] SECTION (p. 2)\nSecond passage."
    )
    assert [(c.n, c.passage.id, c.score) for c in grounded.citations] == [
        (1, "doc-p001-01", 1.0),
        (2, "doc-p002-02", 0.5),
    ]


def test_the_heading_that_opens_a_passage_is_said_once_by_its_header():
    hit = _hit(1, "SECTION\nPremière phrase. Seconde phrase qui répond.", matched="Seconde")
    whole = _context([hit], None)
    assert whole.text == "[1] SECTION (p. 1)\nPremière phrase. Seconde phrase qui répond."
    assert not whole.citations[0].truncated
    cut = _context([hit], len("[1] SECTION (p. 1)\n") + 40)
    assert cut.text == f"[1] SECTION (p. 1)\n{ELLIPSIS} Seconde phrase qui répond."
    assert cut.citations[0].truncated


def test_a_passage_that_does_not_fit_is_cut_around_its_highlight():
    """Its first sentences may be a heading or page furniture; the highlight is why it came."""
    furniture = "PROTECTING VULNERABLE\nCOMMUNITIES\n3\n"
    text = furniture + "Une phrase sans rapport. La phrase qui répond. Suite."
    hit = _hit(1, text, matched="La phrase qui répond.")
    header = passage_header(1, hit.passage) + "\n"
    for quoted in [
        f"{ELLIPSIS} La phrase qui répond. Suite.",  # the highlight, then what follows
        f"{ELLIPSIS} Une phrase sans rapport. La phrase qui répond. Suite.",  # then before
    ]:
        grounded = _context([hit], len(header) + len(quoted))
        assert grounded.text == header + quoted
        assert grounded.citations[0].truncated and grounded.omitted == 0
    whole = _context([hit], 1000)
    assert whole.text == header + text and not whole.citations[0].truncated


def test_a_highlight_longer_than_the_budget_is_quoted_up_to_a_word():
    sentence = " ".join(f"Mot{i}" if i == 0 else f"mot{i}" for i in range(40)) + "."
    text = f"Avant. {sentence} Après."
    hit = _hit(1, text, matched=sentence)
    header = passage_header(1, hit.passage) + "\n"
    grounded = _context([hit], len(header) + 90)
    quoted = grounded.text.removeprefix(header)
    assert quoted.startswith(f"{ELLIPSIS} Mot0 mot1 ") and quoted.endswith(f" {ELLIPSIS}")
    assert len(grounded.text) <= len(header) + 90 and is_excerpt(quoted, text)
    assert len(quoted.split()) - 2 >= 12  # the two "…" are no words


def test_a_stub_of_a_few_words_is_left_out_as_not_fitting():
    """ "… l'opération Trigger VI a …" or "… la saisie record de 16 …": a few words cut from
    a sentence state nothing, take a citation number, and a number at the cut reads as a
    figure. Fewer than 12 words are left out, counted as omitted."""
    sentence = "À la suite de la saisie record de 16 tonnes de cocaïne, " + "mot " * 30 + "fin."
    first = _hit(1, "Le premier passage répond entièrement à la question posée ici.")
    second = _hit(2, f"Avant. {sentence} Après.", page=2, matched=sentence)
    header = passage_header(2, second.passage) + "\n"
    room = len(first.passage.text) + len("[1] SECTION (p. 1)\n") + 2 + len(header)
    stub = _context(
        [first, second], room + len(f"{ELLIPSIS} À la suite de la saisie record de 16 {ELLIPSIS}")
    )
    assert [c.n for c in stub.citations] == [1] and stub.omitted == 1
    assert "record de 16" not in stub.text
    twelve = f"{ELLIPSIS} À la suite de la saisie record de 16 tonnes de cocaïne, mot {ELLIPSIS}"
    quoted = _context([first, second], room + len(twelve))
    assert quoted.text.endswith(twelve) and quoted.omitted == 0


def test_a_highlight_inside_a_long_sentence_is_quoted_from_its_own_start():
    """The index cuts a long sentence (a list of 195 countries) into ~40-word pieces: the
    highlight is one of them, not the whole sentence."""
    countries = " - ".join(f"Pays{i}" for i in range(120)) + "."
    text = f"Les membres. {countries}"
    start = text.index("Pays100")
    hit = _hit(1, text, matched=text[start:])
    header = passage_header(1, hit.passage) + "\n"
    quoted = _context([hit], len(header) + 200).text.removeprefix(header)
    assert quoted.startswith(f"{ELLIPSIS} Pays100 - Pays101")
    assert "Pays119." in quoted and "Pays0 " not in quoted
    assert is_excerpt(quoted, text)


@pytest.mark.parametrize("budget", [60, 150, 400, 900])
def test_every_highlight_of_the_report_is_quoted_within_the_budget(searcher, budget):
    """Each sentence piece of the index as a highlight: the quote never exceeds the budget,
    holds the highlight when it fits (or its first words), and is cut between words."""
    sentences = searcher.index.sentences
    for number, passage in enumerate(searcher.index.passages):
        for start, end in sentences.of(number)[1].tolist():
            quoted = excerpt(passage.text, start, end, budget)
            assert len(quoted) <= budget
            assert not quoted or is_excerpt(quoted, passage.text), (passage.id, quoted)
            highlight = passage.text[start:end]
            if len(highlight) + 4 <= budget:
                assert highlight in quoted, (passage.id, highlight, quoted)
            elif quoted:
                assert highlight.startswith(quoted.strip(ELLIPSIS + " ")), (passage.id, quoted)


def test_the_block_stops_at_the_first_passage_of_which_too_little_fits():
    """[n] follow the ranking: a lower passage does not take the place of a better one."""
    long_sentence = "Mot " * 60 + "fin."
    hits = [_hit(1, "Court."), _hit(2, long_sentence), _hit(3, "Aussi court.", page=3)]
    grounded = _context(hits, 60)
    assert [c.passage.id for c in grounded.citations] == ["doc-p001-01"]
    assert grounded.omitted == 2
    assert len(grounded.text) <= 60


def test_a_context_that_quotes_nothing_says_why():
    """A long report title in every header can leave no room for the best passage: the
    context was empty, with 'notice' null as if the reports were silent."""
    hits = [_hit(1, "Le Président a été élu pour un mandat de quatre ans à Istanbul.")]
    titled = {"doc": "Rapport " * 30, "autre": "Autre rapport"}
    result = SearchResult("Qui a été élu ?", "fr", Mode.HYBRID, 1.0, hits)
    grounded = build_context(hits, 200, titled)
    assert not grounded.citations and grounded.omitted == 1
    assert context_notice(result, grounded, 200) == (
        "Found 1 passage for 'Qui a été élu ?', but not enough of the best one fits in "
        "max_chars=200: ask again with a larger max_chars."
    )
    # What POST /context and the MCP tool's structured content carry.
    assert ContextResponse.from_context(grounded, result, 200).notice.startswith("Found 1 ")
    quoted = build_context(hits, 1000, titled)
    assert quoted.citations and context_notice(result, quoted, 1000) is None
    nothing = SearchResult("Qui a été élu ?", "fr", Mode.KEYWORD, 1.0, [])
    assert context_notice(nothing, build_context([], 200), 200) == nothing.notice


def test_budget_is_exact_for_every_size():
    hits = [
        _hit(
            i,
            " ".join(f"Phrase {i}.{j} ici." for j in range(8)),
            page=i,
            matched=f"Phrase {i}.4 ici.",
        )
        for i in (1, 2, 3)
    ]
    for budget in range(0, 400, 7):
        grounded = build_context(hits, budget)
        assert len(grounded.text) <= budget
        assert len(grounded.citations) + grounded.omitted == 3
        for citation in grounded.citations:
            assert f"[{citation.n}] SECTION (p. {citation.passage.page})\n" in grounded.text
            if citation.truncated:
                assert f"Phrase {citation.passage.page}.4 ici." in grounded.text


def test_lines_are_sentence_boundaries_and_no_hits_give_an_empty_block():
    text = "TITRE SANS POINT\nUne phrase. Une autre"
    # The rest of the line the highlight begins comes before the next line.
    assert excerpt(text, 0, 5, len("TITRE SANS POINT") + 3) == f"TITRE SANS POINT {ELLIPSIS}"
    assert excerpt(text, 0, 5, len(text)) == text
    assert excerpt(text, 0, 5, 3) == ""
    empty = _context([], 4000)
    assert empty.text == "" and empty.citations == () and empty.omitted == 0


def test_header_without_section():
    assert passage_header(3, _hit(1, "x", section="").passage) == "[3] (p. 1)"


def test_a_header_names_the_chapters_a_section_lies_under():
    """What the section filter matches, as search results show it: an assistant reads no
    other field."""
    passage = dataclasses.replace(_hit(1, "x", section="Kokain").passage, chapters=("K2", "Drogen"))
    assert passage_header(1, passage) == "[1] K2 › Drogen › Kokain (p. 1)"


def test_headers_name_the_report_when_there_are_several():
    hits = [_hit(1, "Premier passage."), _hit(2, "Second passage.", page=2)]
    grounded = _context(hits, 1000, {"doc": "Rapport annuel 2021", "autre": "Rapport 2022"})
    assert grounded.text.startswith("[1] Rapport annuel 2021 — SECTION (p. 1)\nPremier passage.")
    assert "[2] Rapport annuel 2021 — SECTION (p. 2)\n" in grounded.text


def test_a_cut_two_sentence_highlight_keeps_the_sentence_that_matched():
    """When the highlight (the best sentence and its neighbour before it) does not fit, the
    excerpt is drawn around the best sentence: the neighbour must not take the room."""
    neighbour = "Nous avons publié une alerte mondiale sur les faux vaccins en début d'année. "
    matched = "Les opérations ont conduit à l'arrestation de 80 suspects."
    text = "Introduction du passage. " + neighbour + matched + " Une phrase qui suit."
    hit = _hit(1, text, matched=neighbour + matched)
    best_start = text.index(matched)
    hit = dataclasses.replace(
        hit,
        highlight=dataclasses.replace(hit.highlight, best=(best_start, best_start + len(matched))),
    )
    budget = len(passage_header(1, hit.passage)) + 1 + len(matched) + 10
    quoted = _context([hit], budget).text.split("\n", 1)[1]
    assert "80 suspects" in quoted and is_excerpt(quoted, text)
    assert excerpt(text, hit.highlight.start, hit.highlight.end, len(matched) + 30).startswith(
        ELLIPSIS + " Nous avons"
    )  # without the best sentence's span: the neighbour's words, and the figure is lost


def test_the_context_names_its_reports_and_says_they_may_not_answer():
    """/context never warned that the passages may not answer the question, while MCP's text
    did; and with one report the context did not say which report (nor which year) it
    quotes."""
    entry = DocumentEntry(
        id="doc",
        file="doc.txt",
        sha256="0" * 64,
        title="Rapport annuel",
        year=2021,
        language="fr",
        publisher=None,
        source_url=None,
        passages=1,
    )
    titles = document_titles([entry])
    assert titles == {"doc": "Rapport annuel (2021)"}
    dated = dataclasses.replace(entry, title="Rapport annuel 2021")
    assert document_titles([dated]) == {"doc": "Rapport annuel 2021"}  # the year said once
    grounded = build_context([_hit(1, "Premier passage.")], 1000, titles)
    assert grounded.text == (
        "From Rapport annuel (2021): the closest passages, which may not answer the question.\n"
        "[1] SECTION (p. 1)\nPremier passage."
    )
    assert MAY_NOT_ANSWER in grounded.text.splitlines()[0]
