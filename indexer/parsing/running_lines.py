"""Running headers and footers, and page numbers: the lines a source's own pages repeat at
their edges, which :func:`indexer.parsing.parse_pages` drops.

They are found across pages (a line that opens or closes most of them), not within one, so
they are taken off each page's lines before its text is read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from indexer.parsing.urls import cited_urls
from indexer.text import collapse_whitespace, word_count, written_in_digits

# A running header or footer opens or closes at least this share of a document's pages.
_RUNNING_SHARE = 0.5
_RUNNING_MIN_PAGES = 3
_RUNNING_DEPTH = 3  # running lines a page's edge holds, two a round, from the outside in
_RUNNING_ROUNDS = 6  # a chapter name between running lines is found a round after them
_CHAPTER_MIN_PAGES = 2
_FURNITURE_MAX_WORDS = 12
_MARKDOWN_MARK = re.compile(r"^#{1,6}\s+")  # a heading's, as a PDF's are marked


def _edges(lines: list[str]) -> set[int]:
    """Indices of the first two and last two non-blank lines: where running lines stand."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    return set(content[:2] + content[-2:])


def _shape(line: str) -> str:
    """A line with its numbers blanked, so that "Annual Review | 2" and "… | 3" are one.

    Not a source URL's: "https://example.org/news/1001" closing one page and ".../1002" the
    next are each page's source, not a footer (the same address on most pages still is).
    """
    line = collapse_whitespace(line)
    return line if cited_urls(line) else re.sub(r"\d+", "#", line)


def _key(line: str) -> str:
    """What a line is counted as among the pages' edges: its shape, or, when it is long, its
    text (whose shape is the shape to drop, as a shape's own shape is itself)."""
    return _shape(line) if word_count(line) <= _FURNITURE_MAX_WORDS else collapse_whitespace(line)


def running_lines(pages: Sequence[str]) -> set[str]:
    """Shapes of the lines that open or close most pages (see :func:`indexer.parsing.parse_pages`).

    Found from the outside in: once the outer running lines are set aside, the lines under
    them are at the edges. A page can carry several (a header and a footer, then the
    printer's date and URL lines that a browser adds: four lines at the end of each page).
    """
    if len(pages) < _RUNNING_MIN_PAGES:
        return set()
    running: set[str] = set()
    for _ in range(_RUNNING_ROUNDS):
        counts: dict[str, int] = {}
        between: dict[str, int] = {}
        for page in pages:
            lines = without(page, running)
            # Alike but for its figures, a running line is short: a sentence that pages
            # open with ("In 2021, 35 ports …") is text (a review's PDF lost its first
            # lines); a long one counts only as printed, word for word (a copyright footer).
            for shape in {_key(lines[i]) for i in _edges(lines)}:
                counts[shape] = counts.get(shape, 0) + 1
            for shape, repeated in _between_running(page, running):
                # Printed again on its page (the header naming the page's own chapter), it
                # counts as seen on two.
                between[shape] = between.get(shape, 0) + (_CHAPTER_MIN_PAGES if repeated else 1)
        found = {_shape(key) for key, n in counts.items() if n >= _RUNNING_SHARE * len(pages)}
        found |= {shape for shape, n in between.items() if n >= _CHAPTER_MIN_PAGES}
        if found <= running:
            break
        running |= found
    return running


def _between_running(page: str, running: set[str]) -> set[tuple[str, bool]]:
    """Shapes of the short lines that stand between running lines at the page's edges, each
    with whether the page prints it again further in.

    A header's chapter name changes every few pages, so it opens too few of them to be a
    running line; the text layer puts it between the header's constant part and the footer
    ("Annual Report 2023" / "2 Port Safety" / "www.port.org" / "Page 4"), and it opened the
    first passage of every page. Seen there on two pages or more, or printed again on its
    page (a one-page chapter's heading), it is page furniture; a page's own one short line
    (a chapter divider's title) is not.
    """
    lines = page.split("\n")
    content = [i for i, line in enumerate(lines) if line.strip()]
    found: set[tuple[str, bool]] = set()
    for side in (content, content[::-1]):
        edge = [_shape(lines[i]) for i in side[: 2 * _RUNNING_DEPTH]]
        depth = 0
        while depth < len(edge) and _running_at(edge[depth], depth, running):
            depth += 1
        if (
            0 < depth < len(edge) - 1
            and _running_at(edge[depth + 1], depth + 1, running)
            and word_count(edge[depth]) <= _FURNITURE_MAX_WORDS
        ):
            again = sum(_shape(_MARKDOWN_MARK.sub("", lines[i])) == edge[depth] for i in content)
            found.add((edge[depth], again > 1))
    return found


def _running_at(shape: str, depth: int, running: set[str]) -> bool:
    """Whether a line of ``shape``, ``depth`` lines in from a page's edge, is a running one
    (as :func:`without` reads it: a bare number only as the outermost line)."""
    return shape in running and (depth == 0 or any(c.isalpha() for c in shape))


def page_number_offset(pages: Sequence[list[str]]) -> int | None:
    """What to add to a page's place to get the number printed on it, when most pages print
    it alone on a line at an edge of what their running lines leave (``pages``, as lines;
    None otherwise).

    Under a running header ("Maritime Report 2023" then "1"), a bare number is not the
    outermost line, where :func:`without` would take any bare number for page furniture;
    that it counts the pages tells it from a figure.
    """
    if len(pages) < _RUNNING_MIN_PAGES:
        return None
    counts: dict[int, int] = {}
    for place, lines in enumerate(pages, start=1):
        numbers = {lines[i].strip() for i in _edges(lines)}
        for offset in {int(n) - place for n in numbers if written_in_digits(n) and len(n) < 5}:
            counts[offset] = counts.get(offset, 0) + 1
    offset, pages_printing_it = max(counts.items(), key=lambda item: item[1], default=(0, 0))
    return offset if pages_printing_it >= _RUNNING_SHARE * len(pages) else None


def without(page: str, running: set[str], number: int | None = None) -> list[str]:
    """The page's lines, without the running lines at its edges.

    From each edge inwards, as long as the lines are running ones, up to two lines a round
    of :func:`running_lines`. A bare number (a page number's shape) only counts as the
    outermost line, unless it is the page's ``number``: further in, it is a figure ("216",
    "2021" closing a stat block).
    """
    lines = page.split("\n")
    content = [i for i, line in enumerate(lines) if line.strip()]
    dropped: set[int] = set()
    for side in (content, content[::-1]):
        for depth, i in enumerate(side[: 2 * _RUNNING_DEPTH]):
            page_number = number is not None and lines[i].strip() == str(number)
            if not page_number and not _running_at(_shape(lines[i]), depth, running):
                break
            dropped.add(i)
    return [line for i, line in enumerate(lines) if i not in dropped]
