"""Prompt-ready context for chat assistants: ranked passages, numbered, within a budget.

A language model answers best from a short block of evidence it can cite. This module turns
search hits into such a block: ``[n] SECTION (p. N)`` then the passage text, in rank order,
so the model can write "… [1]" and the caller can map ``[1]`` back to the passage and its
source URLs. The block never exceeds the character budget. A passage that does not fit whole
is cut to its highlight (the sentence that matched the query and the closer of its neighbours)
and whole sentences around it, marked with "…" where text was left out: cutting it to its
first sentences kept headings and page furniture ("PROTECTING VULNERABLE COMMUNITIES 3") and
dropped the sentence that matched. A highlight longer than the space left gives way to the
sentence that matched, and that to its words up to the space left. The block stops at the first
passage of which too little fits, so ``[n]`` follow the ranking without gaps, and the hits
left out are counted. No web dependency: the HTTP route, the MCP server and tests
call it directly.
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
MIN_QUOTED_WORDS = 8


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


def document_titles(documents: Sequence[DocumentEntry]) -> dict[str, str] | None:
    """Titles for :func:`build_context` headers: only when the index holds several reports,
    where "p. 3" alone does not say which report's page 3 is quoted."""
    return {d.id: d.title for d in documents} if len(documents) > 1 else None


def passage_header(n: int, passage: Passage, document_title: str | None = None) -> str:
    """The line that introduces passage ``[n]``: its number, section and page, after its
    document's title when one is given (an index of several reports)."""
    section = f" {passage.section}" if passage.section else ""
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

    With ``document_titles`` (document id to title), each header names its report: a model
    quoting passages of several reports must be able to say which one it quotes.
    """
    blocks: list[str] = []
    citations: list[Citation] = []
    used = 0
    for hit in hits:
        n = len(citations) + 1
        title = document_titles.get(hit.passage.document) if document_titles else None
        header = passage_header(n, hit.passage, title) + "\n"
        overhead = len(header) + (len(SEPARATOR) if blocks else 0)
        # The header names the section: the text's own opening heading is not repeated.
        text, skip = hit.passage.body, hit.passage.body_start
        start, end = _in_body(hit.highlight.start, hit.highlight.end, skip)
        best = hit.highlight.best and _in_body(*hit.highlight.best, skip)
        room = None if max_chars is None else max_chars - used - overhead
        quoted = text if room is None else excerpt(text, start, end, room, best)
        if not quoted:
            break
        blocks.append(header + quoted)
        citations.append(Citation(n, hit.passage, hit.score, truncated=quoted != text))
        used += overhead + len(quoted)
    return GroundedContext(SEPARATOR.join(blocks), tuple(citations), len(hits) - len(citations))


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
