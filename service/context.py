"""Prompt-ready context for chat assistants: ranked passages, numbered, within a budget.

A language model answers best from a short block of evidence it can cite. This module turns
search hits into such a block: ``[n] SECTION (p. N)`` then the passage text, in rank order,
so the model can write "… [1]" and the caller can map ``[1]`` back to the passage and its
source URLs. The block never exceeds the character budget: a passage that does not fit
whole is cut after its last sentence that fits (never inside a sentence, so never inside a
word), and a passage whose header and first sentence do not fit is left out, while later,
shorter ones may still get in. No web dependency: the HTTP route and tests call it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from indexer.passage import Passage
from indexer.text import sentence_spans
from service.searcher import SearchHit

SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Citation:
    """What ``[n]`` in the context refers to."""

    n: int
    passage: Passage
    score: float


@dataclass(frozen=True)
class GroundedContext:
    """The context block and, in the same order, the passages it quotes."""

    text: str
    citations: tuple[Citation, ...]


def passage_header(n: int, passage: Passage) -> str:
    """The line that introduces passage ``[n]``: its number, section and page."""
    section = f" {passage.section}" if passage.section else ""
    return f"[{n}]{section} (p. {passage.page})"


def fit_sentences(text: str, budget: int) -> str:
    """The longest run of ``text``'s leading whole sentences at most ``budget`` characters.

    Empty when even the first sentence is too long. Sentence ends are punctuation or line
    ends, so the cut never falls inside a word.
    """
    fitted = ""
    for _, end in sentence_spans(text):
        if end > budget:
            break
        fitted = text[:end]
    return fitted


def build_context(hits: Sequence[SearchHit], max_chars: int) -> GroundedContext:
    """Number ``hits`` in rank order into a block of at most ``max_chars`` characters."""
    blocks: list[str] = []
    citations: list[Citation] = []
    used = 0
    for hit in hits:
        n = len(citations) + 1
        header = passage_header(n, hit.passage) + "\n"
        overhead = len(header) + (len(SEPARATOR) if blocks else 0)
        body = fit_sentences(hit.passage.text, max_chars - used - overhead)
        if not body:
            continue
        blocks.append(header + body)
        citations.append(Citation(n, hit.passage, hit.score))
        used += overhead + len(body)
    return GroundedContext(SEPARATOR.join(blocks), tuple(citations))
