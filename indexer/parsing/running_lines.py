"""Running headers and footers, and page numbers: the lines a source's own pages repeat at
their edges, which :func:`indexer.parsing.parse_pages` drops.

They are found across pages (a line that opens or closes most of them), not within one, so
they are taken off each page's lines before its text is read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from indexer.text import collapse_whitespace, word_count, written_in_digits

# A running header or footer opens or closes at least this share of a document's pages.
_RUNNING_SHARE = 0.5
_RUNNING_MIN_PAGES = 3
_RUNNING_DEPTH = 3  # rounds of running lines, from the page's edges inwards
_FURNITURE_MAX_WORDS = 12


def _edges(lines: list[str]) -> set[int]:
    """Indices of the first two and last two non-blank lines: where running lines stand."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    return set(content[:2] + content[-2:])


def _shape(line: str) -> str:
    """A line with its numbers blanked, so that "Annual Review | 2" and "… | 3" are one."""
    return re.sub(r"\d+", "#", collapse_whitespace(line))


def running_lines(pages: Sequence[str]) -> set[str]:
    """Shapes of the lines that open or close most pages (see :func:`indexer.parsing.parse_pages`).

    Found from the outside in: once the outer running lines are set aside, the lines under
    them are at the edges. A page can carry several (a header and a footer, then the
    printer's date and URL lines that a browser adds: four lines at the end of each page).
    """
    if len(pages) < _RUNNING_MIN_PAGES:
        return set()
    running: set[str] = set()
    for _ in range(_RUNNING_DEPTH):
        counts: dict[str, int] = {}
        for page in pages:
            lines = without(page, running)
            for shape in {_shape(lines[i]) for i in _edges(lines)}:
                counts[shape] = counts.get(shape, 0) + 1
        found = {shape for shape, n in counts.items() if n >= _RUNNING_SHARE * len(pages)}
        if found <= running:
            break
        running |= found
    return running


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

    From each edge inwards, as long as the lines are running ones (or a short line between
    two of them), up to two lines a round of :func:`running_lines`. A bare number (a page
    number's shape) only counts as the outermost line, unless it is the page's ``number``:
    further in, it is a figure ("216", "2021" closing a stat block).
    """
    lines = page.split("\n")
    content = [i for i, line in enumerate(lines) if line.strip()]

    def is_running(depth: int, edge: list[int]) -> bool:
        line = lines[edge[depth]]
        if number is not None and line.strip() == str(number):
            return True
        shape = _shape(line)
        return shape in running and not (depth and not any(c.isalpha() for c in shape))

    dropped: set[int] = set()
    for side in (content, content[::-1]):
        edge = side[: 2 * _RUNNING_DEPTH]
        for depth, i in enumerate(edge):
            # A short line between running lines is printed with them: a header's chapter
            # name beside its constant part, which the text layer puts between that and
            # the footer ("Annual Report 2023" / "2 Port Safety" / "www.port.org" / "Page 4").
            sandwiched = (
                0 < depth < len(edge) - 1
                and is_running(depth + 1, edge)
                and word_count(lines[i]) <= _FURNITURE_MAX_WORDS
            )
            if not (is_running(depth, edge) or sandwiched):
                break
            dropped.add(i)
    return [line for i, line in enumerate(lines) if i not in dropped]
