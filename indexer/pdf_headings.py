"""A PDF's page texts with the headings that are not in capitals marked by their type size.

The parser finds headings in plain text by their capitals (:mod:`indexer.parsing.blocks`).
Most reports in English, and many others, set theirs in ordinary case ("Port security",
"2.1 Directory layout"), which plain text cannot tell from a short paragraph: every passage of
such a PDF had the document title for its section, and the section filter had nothing to
offer. A PDF still says how large each line is printed. A line in ordinary case printed
clearly larger than the body text (the size most of the document's characters have) is
written as a Markdown heading ("# Port security"), which the parser takes whatever its case.
Lines in capitals are left to the parser's own rules (stat labels, captions). Consecutive
such lines of one size are one heading wrapped over lines. Printed large but not a heading:

- a run that ends a sentence, opens with a quotation mark, or runs over 16 words (a pull
  quote, a lead paragraph);
- a figure: printed over a label smaller than the body text ("US$312.4m" over "operating
  revenue"), or without a word of three letters, or opening with a number and a small letter
  ("4.2 million containers"; "2.1 Port security" is a numbered heading);
- a table of contents entry, with its dot leaders ("Introduction . . . . 1").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pypdf import PageObject

from indexer.parsing.blocks import is_caps

_LARGER = 1.15  # LaTeX's smallest heading is 1.2 times its body text, reports' more
_SMALLER = 0.95  # a line under this share of the body size is a label or a note
_MAX_WORDS = 16
_ENDS_SENTENCE = re.compile(r"[.…][\"'»”’)]*$")
_DOT_LEADER = re.compile(r"(?:\.\s?){4,}\s*\S*$")
_OPENING_FIGURE = re.compile(r"^\d[\d\s.,]*\s+(\S)")
_OPENING_QUOTE = tuple("\"'“‘«„‹")
_WORD = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class _Line:
    text: str
    size: float  # the printed size most of its characters have; 0 for a blank line


def marked_pages(pages: Iterable[PageObject]) -> tuple[str, ...]:
    """Each page's text as pypdf extracts it, headings in ordinary case marked ``# ``."""
    lines = [_sized_lines(page) for page in pages]
    body = _body_size(line for page in lines for line in page)
    return tuple("\n".join(_marked(page, body)) for page in lines)


def _sized_lines(page: PageObject) -> list[_Line]:
    runs: list[tuple[str, float]] = []

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], _: Any, size: float) -> None:
        # The printed size: the font size times the vertical scale of the text matrix within
        # the page's (a PDF may set every font at 1 and scale it with the matrix).
        scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
        runs.append((text, round(size * scale, 1)))

    text = page.extract_text(visitor_text=visit)
    if "".join(run for run, _ in runs) != text:  # sizes cannot be placed: lines unmarked
        return [_Line(line, 0.0) for line in text.split("\n")]
    lines: list[_Line] = []
    pieces: list[str] = []
    sizes: Counter[float] = Counter()
    for run, size in runs:
        for n, piece in enumerate(run.split("\n")):
            if n:
                lines.append(_Line("".join(pieces), _most(sizes)))
                pieces, sizes = [], Counter()
            pieces.append(piece)
            sizes[size] += len(piece.replace(" ", ""))
    lines.append(_Line("".join(pieces), _most(sizes)))
    return lines


def _most(sizes: Counter[float]) -> float:
    size, count = sizes.most_common(1)[0] if sizes else (0.0, 0)
    return size if count else 0.0


def _body_size(lines: Iterable[_Line]) -> float:
    sizes: Counter[float] = Counter()
    for line in lines:
        sizes[line.size] += len(line.text.replace(" ", ""))
    del sizes[0.0]
    return _most(sizes)


def _marked(lines: list[_Line], body: float) -> list[str]:
    out: list[str] = []
    n = 0
    while n < len(lines):
        end = n
        while end < len(lines) and _printed_large(lines[end], body, lines[n].size):
            end += 1
        heading = " ".join(line.text.strip() for line in lines[n:end])
        under = next((line for line in lines[end:] if line.text.strip()), None)
        labelled = under is not None and under.size < body * _SMALLER
        if end > n and not labelled and _is_heading(heading):
            out.append(f"# {heading}")
        else:
            end = max(end, n + 1)
            out.extend(line.text for line in lines[n:end])
        n = end
    return out


def _printed_large(line: _Line, body: float, size: float) -> bool:
    return (
        body > 0
        and line.size == size
        and line.size >= body * _LARGER
        and bool(line.text.strip())
        and not is_caps(line.text)
    )


def _is_heading(text: str) -> bool:
    figure = _OPENING_FIGURE.match(text)
    return (
        0 < len(text.split()) <= _MAX_WORDS
        and bool(_WORD.search(text))
        and not text.startswith(_OPENING_QUOTE)
        and not _ENDS_SENTENCE.search(text)
        and not _DOT_LEADER.search(text)
        and (figure is None or figure[1][:1].isupper())
    )
