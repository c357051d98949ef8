"""Prompt-ready context for chat assistants: ranked passages, numbered, within a budget.

A language model answers best from a short block of evidence it can cite. This module turns
search hits into such a block: a line naming the reports quoted and saying that these are the
closest passages, which may not answer the question (no score tells the two apart,
EVALUATION.md), then ``[n] SECTION (p. N)`` and the passage text, in rank order, so the model
can write "… [1]" and the caller can map ``[1]`` back to the passage and its source URLs.

The block never exceeds the character budget. A passage that does not fit whole is cut to its
highlight (the sentence that matched the query and the closer of its neighbours) and whole
sentences around it, marked with "…" where text was left out: its first sentences are often
headings and page furniture ("PROTECTING VULNERABLE COMMUNITIES 3"). A highlight longer than
the space left gives way to the sentence that matched, and that to its words up to the space
left, if enough of them fit to say something. The block stops at the
first passage of which too little fits, so ``[n]`` follow the ranking without gaps, and the
hits left out are counted. No web dependency: the HTTP route, the MCP server and tests call
it directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indexer.artifact import DocumentEntry
from indexer.messages import counted
from indexer.passage import Passage
from indexer.text import sentence_spans
from service.searcher import SearchHit, SearchResult

# Budgets a caller may ask for: below the minimum hardly a passage fits; above the maximum
# the block is no longer a short piece of evidence.
MIN_CONTEXT_CHARS = 200
MAX_CONTEXT_CHARS = 20_000
# Unless a caller asks otherwise: about three whole passages, or more of them cut to what matched.
DEFAULT_CONTEXT_CHARS = 4000
SEPARATOR = "\n\n"
ELLIPSIS = "…"
# A highlight longer than the space left is quoted up to a word, if at least this many fit.
# Fewer is a stub ("… l'opération Trigger VI a …", "… la saisie record de 16 …"): no claim a
# model can cite, yet it takes a citation number, and a number at its cut end reads as a
# figure. Twelve words is about the shortest sentence of the reports that states a fact
# (sentences under ten words are labels and headings, which highlights join to a neighbour).
MIN_QUOTED_WORDS = 12
# What the context's first line tells the model about the passages (MCP's text says it
# instead when the smallest budgets leave that line out).
MAY_NOT_ANSWER = "the closest passages, which may not answer the question"


@dataclass(frozen=True)
class Citation:
    """What ``[n]`` in the context refers to; ``truncated`` when only part of it is quoted."""

    n: int
    passage: Passage
    score: float
    truncated: bool = False


@dataclass(frozen=True)
class GroundedContext:
    """The context block, in the same order the passages it quotes, and how many hits did
    not fit (``omitted``)."""

    text: str
    citations: tuple[Citation, ...]
    omitted: int = 0


def document_titles(documents: Sequence[DocumentEntry]) -> dict[str, str]:
    """Each document's name in a context (by id): its title, and its year when the title
    does not say it, so that a model can say which report, and which year's, it quotes."""
    return {
        d.id: d.title if d.year is None or str(d.year) in d.title else f"{d.title} ({d.year})"
        for d in documents
    }


def passage_header(n: int, passage: Passage, document_title: str | None = None) -> str:
    """The line that introduces passage ``[n]``: its number, section (under its chapters,
    which the ``section`` filter matches too) and page, after its document's title when one
    is given (an index of several reports)."""
    titles = [*passage.chapters, passage.section] if passage.section else []
    section = f" {' › '.join(titles)}" if titles else ""
    document = f" {document_title} —" if document_title else ""
    return f"[{n}]{document}{section} (p. {passage.page})"


def excerpt(
    text: str, start: int, end: int, budget: int, best: tuple[int, int] | None = None
) -> str:
    """``text[start:end]`` (the highlight) and the whole sentences of ``text`` around it, at
    most ``budget`` characters.

    The sentences after the highlight and before it are added in turn as long as they fit;
    "…" marks text left out at either end. When the highlight itself does not fit, the
    excerpt is drawn around ``best``, the sentence in it that matched (its neighbour, which
    can come first, must not take the room); when that does not fit either, its leading
    words that do. The highlight is made of the index's sentence pieces (a long
    sentence is cut into pieces of ~40 words), so it can sit inside a sentence too long to
    quote whole: it is quoted from its own start, not from its sentence's.
    """
    if len(text) <= budget:
        return text
    # Units to add around the highlight: runs between sentence boundaries, so that the rest of
    # a sentence the highlight cuts through comes first.
    spans = sentence_spans(text)
    starts = sorted({a for a, _ in spans if a < start})
    ends = sorted({b for _, b in spans if b > end})
    # (zip stops at the shorter list: no unit before a highlight at the start, none after
    # one at the end.)
    before = list(zip(starts, [*starts[1:], start], strict=False))
    after = list(zip([end, *ends[:-1]], ends, strict=False))
    units = [*before, (start, end), *after]
    first = last = len(before)

    def rendered(i: int, j: int) -> str:
        return _quoted(text, units[i][0], units[j][1])

    if len(rendered(first, last)) > budget:
        if best is not None and best != (start, end):
            return excerpt(text, *best, budget)
        return _words_that_fit(text, start, budget)
    grown = True
    while grown:
        grown = False
        if last + 1 < len(units) and len(rendered(first, last + 1)) <= budget:
            last, grown = last + 1, True
        if first > 0 and len(rendered(first - 1, last)) <= budget:
            first, grown = first - 1, True
    return rendered(first, last)


def _words_that_fit(text: str, start: int, budget: int) -> str:
    """The leading words of ``text[start:]`` within ``budget``, "…" on both sides; empty
    when fewer than :data:`MIN_QUOTED_WORDS` fit (a few words out of context mislead)."""
    room = budget - (len(ELLIPSIS + " ") if start > 0 else 0) - len(" " + ELLIPSIS)
    cut = text.rfind(" ", start, start + room + 1) if room > 0 else -1
    quoted = text[start:cut].rstrip() if cut > start else ""
    if len(quoted.split()) < MIN_QUOTED_WORDS:
        return ""
    return _quoted(text, start, start + len(quoted))


def _in_body(start: int, end: int, skip: int) -> tuple[int, int]:
    """A span of a passage's text as a span of its body (the text after ``skip``)."""
    start = max(start - skip, 0)
    return start, max(end - skip, start)


def _quoted(text: str, start: int, end: int) -> str:
    """``text[start:end]`` with "…" where text before or after it is left out."""
    head = ELLIPSIS + " " if start > 0 else ""
    tail = " " + ELLIPSIS if end < len(text.rstrip()) else ""
    return head + text[start:end] + tail


def build_context(
    hits: Sequence[SearchHit],
    max_chars: int | None,
    document_titles: Mapping[str, str] | None = None,
) -> GroundedContext:
    """Number ``hits`` in rank order into a block of at most ``max_chars`` characters
    (``None``: every passage whole, as MCP gives them when no budget is asked).

    ``document_titles`` (document id to name, :func:`document_titles`) name the reports in the
    block's first line; with several, each header names its report too: a model quoting
    passages of several reports must be able to say which one it quotes.
    """
    names = dict(document_titles or {})
    several = len(names) > 1
    lead = _lead([hit.passage.document for hit in hits], names)
    headed = [_Quotable(hit, names.get(hit.passage.document) if several else None) for hit in hits]
    if max_chars is None:
        quoted = [q.text for q in headed]
    else:
        quoted = _fitted(headed, max_chars - len(lead + "\n"))
        if not quoted and (quoted := _fitted(headed, max_chars)):
            # At the smallest budgets the best passage goes before the line about it.
            return _numbered(headed, quoted, "", len(hits))
    # Named after the fitting, from the passages quoted: never longer than the line budgeted.
    lead = _lead([q.hit.passage.document for q in headed[: len(quoted)]], names)
    return _numbered(headed, quoted, lead, len(hits))


def _numbered(
    headed: Sequence[_Quotable], quoted: Sequence[str], lead: str, hits: int
) -> GroundedContext:
    """The block of the ``quoted`` texts of the first ``headed`` hits, after ``lead``."""
    blocks = [
        passage_header(n, q.hit.passage, q.title) + "\n" + text
        for n, (q, text) in enumerate(zip(headed, quoted, strict=False), start=1)
    ]
    citations = tuple(
        Citation(n, q.hit.passage, q.hit.score, truncated=text != q.text)
        for n, (q, text) in enumerate(zip(headed, quoted, strict=False), start=1)
    )
    if not blocks:
        return GroundedContext("", (), hits)
    text = SEPARATOR.join(blocks)
    return GroundedContext(f"{lead}\n{text}" if lead else text, citations, hits - len(blocks))


def _lead(documents: Sequence[str], names: Mapping[str, str]) -> str:
    """The context's first line: the reports its passages come from, and what they are."""
    quoted = ", ".join(names.get(d, d) for d in dict.fromkeys(documents))
    return f"From {quoted}: {MAY_NOT_ANSWER}."


@dataclass(frozen=True)
class _Quotable:
    """A hit's body, its highlight as a span of the body, and the title its header names."""

    hit: SearchHit
    title: str | None

    @property
    def text(self) -> str:
        # The header names the section: the text's own opening heading is not repeated.
        return self.hit.passage.body

    def spans(self) -> tuple[int, int, tuple[int, int] | None]:
        """The highlight's start and end, and its best sentence, in the body."""
        skip, highlight = self.hit.passage.body_start, self.hit.highlight
        start, end = _in_body(highlight.start, highlight.end, skip)
        return start, end, highlight.best and _in_body(*highlight.best, skip)

    def cut(self, budget: int) -> str:
        """The body within ``budget``, around the highlight (:func:`excerpt`)."""
        start, end, best = self.spans()
        return excerpt(self.text, start, end, budget, best)


def _fitted(quotables: Sequence[_Quotable], budget: int) -> list[str]:
    """What of each passage is quoted within ``budget`` characters, headers included, in
    rank order, stopping at the first of which too little fits."""
    quoted: list[str] = []
    left = budget
    for q in quotables:
        header = passage_header(len(quoted) + 1, q.hit.passage, q.title) + "\n"
        room = left - len(header) - (len(SEPARATOR) if quoted else 0)
        text = q.cut(room)
        if not text:
            break
        quoted.append(text)
        left = room - len(text)
    return quoted


def context_notice(
    result: SearchResult, grounded: GroundedContext, max_chars: int | None
) -> str | None:
    """Why the context of ``result`` quotes nothing (None when it quotes something): no
    passage matched (the search's own notice), or not even the best one fits ``max_chars``.
    An empty context without a word reads as the reports being silent on the question."""
    if result.notice is not None or grounded.citations:
        return result.notice
    return (
        f"Found {counted(len(result.hits), 'passage')} for {result.query!r}, but not enough of "
        f"the best one fits in max_chars={max_chars}: ask again with a larger max_chars."
    )
