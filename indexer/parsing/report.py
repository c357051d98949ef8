"""Pages of titled sections from a report's text: the text cut into pages and blocks of
lines, then each page through the other modules of :mod:`indexer.parsing`.

A line that starts with a space begins a new text object in the PDF: a block boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from indexer.parsing.blocks import ENDS_SENTENCE, Heading, classify
from indexer.parsing.running_lines import page_number_offset, running_lines, without
from indexer.parsing.sections import (
    HeadingPath,
    Section,
    captions_first,
    drop_repeats,
    group_sections,
    intro_title,
    merge_continuations,
)
from indexer.parsing.urls import (
    SCHEMELESS_URL,
    cited_urls,
    is_social_row,
    is_url,
    split_url,
    unwrap_urls,
    without_sources_labels,
)
from indexer.text import collapse_whitespace, fold

_WORD_CHARS = re.compile(r"\w+")
_PAGES_AN_ARTICLE_SPANS = 3  # at most, for a page to take a later page's sources


@dataclass(frozen=True)
class Page:
    """The sections of one page and the source URLs that close it, in document order."""

    number: int
    sections: tuple[Section, ...]
    urls: tuple[str, ...]


def parse_report(text: str, default_title: str = "") -> list[Page]:
    """Split report text into pages of titled sections, each page with its source URLs.

    ``default_title`` names text that comes before any heading in the document.
    """
    return _parse(_split_pages(_raw_blocks(text)), text, default_title)


def parse_pages(pages: Sequence[str], default_title: str = "") -> list[Page]:
    """Parse a report whose pages its source already gives (a PDF's own page breaks).

    Page ``n`` of the result is ``pages[n - 1]``, empty pages included, so page numbers are
    the source's. Within a page, URL lines are its source URLs wherever they stand, and
    headings and paragraphs are found as in :func:`parse_report`. A line that opens or
    closes most pages, page numbers aside (a running header or footer: "Annual Review 2023 |
    12"), is page furniture and dropped: glued to each page's first paragraph, it became
    part of every passage and of its highlights. A page without source URLs whose last
    section goes on over the next page cites what that page cites (:func:`_continued_sources`).
    """
    running = running_lines(pages)
    lines = [without(page, running) for page in pages]
    offset = page_number_offset(lines)
    if offset is not None:  # walked again, the page number taken with the running lines
        lines = [without(page, running, place + offset) for place, page in enumerate(pages, 1)]
    kept = ["\n".join(page_lines) for page_lines in lines]
    return _continued_sources(_parse(map(_page_parts, kept), "\n".join(kept), default_title))


def _continued_sources(pages: list[Page]) -> list[Page]:
    """Each page without URLs whose text the next page goes on with given the next page's
    URLs, over at most :data:`_PAGES_AN_ARTICLE_SPANS` pages. The text goes on when the next
    page opens under no heading of its own and the page's last sentence is unfinished or
    the next page's first word is in lower case (a page that opens with its own
    introduction, a standfirst, goes on with nothing).

    An article that runs over two pages lists its sources once, where it ends: its first
    page cited nothing, and a chat assistant got its passages without a source to quote. A
    text export's pages are the stretches of text that URL blocks close, so this is what
    they do already. Bounded, so that a report without headings whose last page lists its
    references does not cite them on every page.
    """
    cited = list(pages)
    lent = [0] * len(pages)  # pages over which each page's URLs come from a later one
    for n in range(len(cited) - 2, -1, -1):
        page, following = cited[n], cited[n + 1]
        opening = following.sections[0] if following.sections else None
        if (
            not page.urls
            and page.sections
            and page.sections[-1].paragraphs
            and opening is not None
            and opening.paragraphs
            and not opening.headed
            and not opening.headings
            and (
                not ENDS_SENTENCE.search(page.sections[-1].paragraphs[-1])
                or opening.paragraphs[0][:1].islower()
            )
            and lent[n + 1] + 1 < _PAGES_AN_ARTICLE_SPANS
        ):
            cited[n] = Page(page.number, page.sections, following.urls)
            lent[n] = lent[n + 1] + 1
    return cited


def _parse(
    parts: Iterable[tuple[list[list[str]], list[str]]], text: str, default_title: str
) -> list[Page]:
    """Pages from each page's (text blocks, URLs); ``text`` is the whole document."""
    vocabulary = {w.casefold() for w in _WORD_CHARS.findall(fold(text))}
    seen: set[str] = set()  # paragraphs of earlier pages, for drop_repeats
    read = [
        (
            drop_repeats(captions_first(merge_continuations(classify(blocks, vocabulary))), seen),
            urls,
        )
        for blocks, urls in parts
    ]
    # Read whole first: whether the top heading level is the document title's (it opens no
    # chapter) depends on every heading of the document.
    every_heading = [item for items, _ in read for item in items if isinstance(item, Heading)]
    path = HeadingPath.of_document(every_heading, default_title)
    pages: list[Page] = []
    last_heading = ""
    for number, (items, urls) in enumerate(read, start=1):
        headings = [item.text for item in items if isinstance(item, Heading)]
        sections = group_sections(items, intro_title(headings, last_heading, default_title), path)
        last_heading = headings[-1] if headings else last_heading
        # An unreadable URL still closes its page, as its author meant, but cites nothing.
        readable = tuple(url for url in urls if split_url(url) is not None)
        pages.append(Page(number=number, sections=tuple(sections), urls=readable))
    return pages


def _raw_blocks(text: str) -> list[list[str]]:
    """Blocks of non-blank lines; a leading space or a switch to/from URLs starts a new one."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for raw in unwrap_urls(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        line = collapse_whitespace(raw)
        if is_social_row(line):
            continue
        if not line:
            if current:
                blocks.append(current)
            current = []
            continue
        if current and is_url(current[-1]) and SCHEMELESS_URL.match(line):
            line = f"https://{line}"
        urls = cited_urls(line)
        starts_object = raw[:1].isspace()
        switches_kind = bool(current) and bool(urls) != is_url(current[-1])
        if current and (starts_object or switches_kind):
            blocks.append(current)
            current = []
        current.extend(urls or [line])
    if current:
        blocks.append(current)
    return without_sources_labels(blocks)


def _split_pages(blocks: list[list[str]]) -> Iterable[tuple[list[list[str]], list[str]]]:
    """Group blocks into pages, each closed by the URL block(s) that follow its text."""
    content: list[list[str]] = []
    urls: list[str] = []
    for block in blocks:
        if is_url(block[0]):
            urls.extend(u for u in block if u not in urls)
            continue
        if urls:
            yield content, urls
            content, urls = [], []
        content.append(block)
    if content or urls:
        yield content, urls


def _page_parts(page: str) -> tuple[list[list[str]], list[str]]:
    """One given page's text blocks and its URLs (each once, in order)."""
    blocks = _raw_blocks(page)
    urls = [line for block in blocks if is_url(block[0]) for line in block]
    return [b for b in blocks if not is_url(b[0])], list(dict.fromkeys(urls))
