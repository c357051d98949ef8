"""What a PDF's layout says that its extracted text does not: which lines are headings, and
where paragraphs end.

**Headings.** The parser finds headings in plain text by their capitals
(:mod:`indexer.parsing.blocks`). Most reports in English, and many others, set theirs in
ordinary case ("Port security", "2.1 Directory layout"), which plain text cannot tell from a
short paragraph: every passage of such a PDF had the document title for its section, and
the section filter had nothing to offer. A PDF still says how large each line is printed. A
line in ordinary case printed clearly larger than the body text (the size most of the
document's characters have) is written as a Markdown heading ("# Port security"), which the
parser takes whatever its case. Lines in capitals are left to the parser's own rules (stat
labels, captions). Consecutive such lines of one size are one heading wrapped over lines.
Printed large but not a heading:

- a run that ends a sentence, opens with a quotation mark, or runs over 16 words (a pull
  quote, a lead paragraph);
- a figure: with a currency or percent sign, or opening with a number not followed by a
  capitalised word, and printed over a label smaller than the body text ("US$312.4m" over
  "operating revenue"; a heading over a small byline or table stays one, "2.1 Port
  security" and "Port security in 2023" included); or without a word of three letters; or
  opening with a number and a small letter ("4.2 million containers");
- a table of contents entry, with its dot leaders ("Introduction . . . . 1").

A heading ends where a paragraph opens (below), so a running header printed at a heading's
size does not run into the heading under it. Its level is the rank of its size among the
document's heading sizes, the largest first ("#" a chapter, "##" an article under it), so
that a chapter's articles know they lie under it; sizes within 5 % of each other are one
level.

**Paragraphs.** pypdf's text has no blank lines, so a page was one block of text: a list
item without a full stop ran into the paragraph after it ("… began in April The cruise
season …"), one sentence for the highlights and the chunker. A line that starts lower on the
page than the body text's line spacing takes it (1.3 times the spacing most body lines
have), or higher up than the line before (a new column or box), opens a paragraph: a blank
line goes before it. A PDF that marks paragraphs by indentation only reads as before.

Limits: pypdf reports the text of a form XObject (a reusable graphic) in the form's own
coordinates, so its sizes and places can be wrong; and given a visitor it also reads forms
that hold no text, which makes designed reports (a chart per page) several times slower to
read, still little beside embedding them. A page the visitor pass fails on is read as
pypdf reads it without one, unmarked.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pypdf import PageObject

from indexer.parsing.blocks import is_caps
from indexer.text import UNSPACED, word_count

_LARGER = 1.15  # LaTeX's smaller headings are 1.2 times its body text, reports' more
_SMALLER = 0.95  # a line under this share of the body size is a label or a note
_SAME_LEVEL = 0.95  # heading sizes within 5 % of a level's largest are that level
_MAX_LEVEL = 6
_MAX_WORDS = 16
# A finished statement: not "?" (a heading can ask one) nor ":" (a heading can announce).
_ENDS_SENTENCE = re.compile(r"[.…!。！][\"'»”’)]*$")
_DOT_LEADER = re.compile(r"(?:\.\s?){4,}\s*\S*$")
# A number opening the line, and what follows it: a capital for a numbered heading.
_OPENING_FIGURE = re.compile(r"^\d[\d\s.,]*\s+(\S)")
_FIGURE_SIGN = re.compile(r"[$€£¥%]")
_UNSPACED_TEXT = re.compile(f"[{UNSPACED}]")
_MAX_UNSPACED_CHARACTERS = 30  # a Chinese or Japanese heading's length, counted in characters
_OPENING_QUOTE = tuple("\"'“‘«„‹")
_THREE_LETTERS = re.compile(r"[^\W\d_]{3,}")
_PARAGRAPH_GAP = 1.3  # times the body text's line spacing


@dataclass(frozen=True)
class _Line:
    text: str
    size: float  # the printed size most of its characters have; 0 for a blank line
    top: float | None = None  # where it starts up the page (points), if pypdf says


def marked_pages(pages: Iterable[PageObject]) -> tuple[str, ...]:
    """Each page's text as pypdf extracts it, headings in ordinary case marked ``# `` and a
    blank line before each paragraph."""
    lines = [_sized_lines(page) for page in pages]
    body = _body_size(line for page in lines for line in page)
    spacing = _body_spacing(lines, body)
    marked = [_marked(page, body, _openings(page, spacing, body)) for page in lines]
    levels = _levels(item.size for page in marked for item in page if isinstance(item, _Heading))
    return tuple(
        "\n".join(
            f"{'#' * levels[item.size]} {item.text}" if isinstance(item, _Heading) else item
            for item in page
        )
        for page in marked
    )


@dataclass(frozen=True)
class _Heading:
    text: str
    size: float


def _levels(sizes: Iterable[float]) -> dict[float, int]:
    """Each heading size's level: 1 for the largest, the next smaller size more than
    :data:`_SAME_LEVEL` below the last level's largest opening the next (six at most, as
    Markdown has)."""
    levels: dict[float, int] = {}
    level, top = 0, math.inf
    for size in sorted(set(sizes), reverse=True):
        if size < top * _SAME_LEVEL:
            level, top = min(level + 1, _MAX_LEVEL), size
        levels[size] = level
    return levels


def _sized_lines(page: PageObject) -> list[_Line]:
    """The page's lines as pypdf extracts them, with their printed size and place."""
    runs: list[tuple[str, float, float]] = []

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], _: Any, size: float) -> None:
        # The printed size: the font size times the vertical scale of the text matrix within
        # the page's (a PDF may set every font at 1 and scale it with the matrix).
        scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
        top = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        runs.append((text, round(size * scale, 1), top))

    try:
        text = page.extract_text(visitor_text=visit)
    except Exception:  # pypdf raises many types: the page is read as without a visitor
        text, runs = page.extract_text(), []
    if "".join(run for run, _, _ in runs) != text:  # sizes cannot be placed: lines unmarked
        return [_Line(line, 0.0) for line in text.split("\n")]
    lines: list[_Line] = []
    pieces: list[str] = []
    sizes: Counter[float] = Counter()
    top: float | None = None
    for run, size, run_top in runs:
        for n, piece in enumerate(run.split("\n")):
            if n:
                lines.append(_Line("".join(pieces), _most(sizes), top))
                pieces, sizes, top = [], Counter(), None
            pieces.append(piece)
            sizes[size] += len(piece.replace(" ", ""))
            if top is None and piece.strip() and n == 0:  # a later line's place is unknown
                top = run_top
    lines.append(_Line("".join(pieces), _most(sizes), top))
    return lines


def _body_spacing(pages: list[list[_Line]], body: float) -> float:
    """The distance most pairs of consecutive body-text lines are apart (0: none known)."""
    gaps: Counter[float] = Counter()
    for lines in pages:
        printed = [line for line in lines if line.text.strip() and line.top is not None]
        for above, below in itertools.pairwise(printed):
            if above.size == below.size == body and above.top is not None and below.top is not None:
                gap = round(above.top - below.top, 1)
                if 0 < gap < 3 * body:
                    gaps[gap] += 1
    return _most(gaps)


def _openings(lines: list[_Line], spacing: float, body: float) -> set[int]:
    """The lines that open a paragraph: further below the line before than lines of their
    size are spaced (the body's spacing, scaled), or above it."""
    opening: set[int] = set()
    above: _Line | None = None
    for n, line in enumerate(lines):
        if not line.text.strip() or line.top is None:
            continue
        if spacing and body and above is not None and above.top is not None:
            gap = above.top - line.top
            scale = max(above.size, line.size, body) / body
            if gap > _PARAGRAPH_GAP * spacing * scale or gap < 0:
                opening.add(n)
        above = line
    return opening


def _most(sizes: Counter[float]) -> float:
    """The value counted most (0 when none is)."""
    size, count = sizes.most_common(1)[0] if sizes else (0.0, 0)
    return size if count else 0.0


def _body_size(lines: Iterable[_Line]) -> float:
    """The size most of the document's characters are printed at: its body text's."""
    sizes: Counter[float] = Counter()
    for line in lines:
        sizes[line.size] += len(line.text.replace(" ", ""))
    del sizes[0.0]
    return _most(sizes)


def _marked(lines: list[_Line], body: float, openings: set[int]) -> list[str | _Heading]:
    """The page's lines, each run of large lines that is a heading as one heading, and a
    blank line before each paragraph ``openings`` names."""
    out: list[str | _Heading] = []
    n = 0
    while n < len(lines):
        if n in openings and out and (isinstance(out[-1], _Heading) or out[-1].strip()):
            out.append("")
        end = n
        while (
            end < len(lines)
            and (end == n or end not in openings)
            and _printed_large(lines[end], body, lines[n].size)
        ):
            end += 1
        heading = " ".join(line.text.strip() for line in lines[n:end])
        if end > n and _is_heading(heading) and not _labelled(heading, lines, end, body):
            out.append(_Heading(heading, lines[n].size))
        else:
            end = max(end, n + 1)
            out.extend(line.text for line in lines[n:end])
        n = end
    return out


def _labelled(text: str, lines: list[_Line], end: int, body: float) -> bool:
    """Whether ``text``, the large lines up to ``end``, is a figure over its label: it holds a
    currency or percent sign or opens with a number (not a numbered heading's), and the next
    line is printed smaller than the body text."""
    opening = _OPENING_FIGURE.match(text)
    if not _FIGURE_SIGN.search(text) and not (opening and not opening[1][:1].isupper()):
        return False
    under = next((line for line in itertools.islice(lines, end, None) if line.text.strip()), None)
    return under is not None and under.size < body * _SMALLER


def _printed_large(line: _Line, body: float, size: float) -> bool:
    """Whether ``line`` may be part of a heading printed at ``size``: larger than the body
    text, at that size, not blank, and not in capitals (the parser's own rules read those)."""
    return (
        body > 0
        and line.size == size
        and line.size >= body * _LARGER
        and bool(line.text.strip())
        and not is_caps(line.text)
    )


def _words_allowed(text: str) -> int:
    """How long a heading may be: in words, or in characters for Chinese and Japanese, where
    each counts as a word (``indexer.text.word_count``) and a heading runs longer."""
    return _MAX_UNSPACED_CHARACTERS if _UNSPACED_TEXT.search(text) else _MAX_WORDS


def _is_heading(text: str) -> bool:
    """Whether large text reads as a heading rather than a quote, a figure or a contents
    entry (see the module docstring)."""
    figure = _OPENING_FIGURE.match(text)
    return (
        0 < word_count(text) <= _words_allowed(text)
        and bool(_THREE_LETTERS.search(text))
        and not text.startswith(_OPENING_QUOTE)
        and not _ENDS_SENTENCE.search(text)
        and not _DOT_LEADER.search(text)
        and (figure is None or figure[1][:1].isupper())
    )
