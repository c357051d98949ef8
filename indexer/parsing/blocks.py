"""A page's blocks of lines turned into headings and paragraphs: which capitals are headings
and which are labels, figures or captions, and lines joined back into paragraphs.

- Markdown headings ("## Programme de contrôle") are headings whatever their case, at their
  level (``#`` 1, ``##`` 2…).
- A list item ("- ", "* ", "• ", or a number once a list has begun) or a table row
  ("| Grenze | 35.000 |") opens a line of its own, and markup that prints nothing (a rule,
  a table's header separator) is dropped: the lines of a block are otherwise joined as the
  wrapped lines of one paragraph.
- Headings are lines in capitals, often wrapped over two or three lines: a run of capitalised
  lines of two words or more, at the start of a block or right after a finished sentence, is one
  heading. Single capitalised words (CANNABIS, NOTICE, PERSONNES) are infographic labels and
  stay in the text next to their numbers, and so do short figures in capitals ("195 PAYS
  MEMBRES"). Headings repeated in English are kept as headings.
- Words hyphenated across lines are joined without the hyphen when the joined word occurs
  elsewhere in the document, and kept as compounds otherwise ("primo-intervenants").
- Infographics print a figure group's caption under its figures ("… 216 arrestations" then
  "TURQUESA III" and its region): capitals that open a block right after a figure line are
  that caption, not a heading that would give the next group's figures its name, and it is
  moved above a group of figures it captions, on a line of its own
  (:func:`indexer.parsing.sections.captions_first`).
  Both figure rules give way to running text: capitals that a finished sentence follows open
  an article ("2 OPERATIONS", or a heading after a key-figures
  block), as a review of other layouts showed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.text import collapse_whitespace, fold, word_count

ENDS_SENTENCE = re.compile(r"[.!?…:;»”\"]$")
_HYPHENATED_END = re.compile(r"(\w+)-$")
_LEADING_WORD = re.compile(r"^\w+")
# A line of a heading that ends in a word of three letters or fewer ("DE", "SES", "OF"),
# which the next line continues.
_ENDS_SHORT_WORD = re.compile(r"(?:^|\W)\w{1,3}$")
_CAPS_SHARE = 0.85
# A figure with its label on one line ("216 arrestations", "4 000 migrants"), not a bare number
# (a page number or a value whose label is on the next line) nor a year ("2021 EN CHIFFRES").
_FIGURE_ITEM = re.compile(r"^(?!(?:19|20)\d\d\b)\d[\d\s.,]*\s+[^\W\d]")
_STAT_LABEL_WORDS = 4
_PROSE_MIN_WORDS = 4
# "## Title" in a Markdown export: a heading whatever its case ("#ID-ART", a hashtag, is not).
_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.*?\S)(?:\s+#+)?$")
# A list item or a table row opens a line of its own: bullets ("• ", "- ", "* ") and rows
# ("| Grenze | 35.000 |") always, numbered items ("2. ", "3) ") only in a list, as a wrapped
# line can start with a date ("1. Januar").
_BULLET = re.compile(r"^(?:[-*•▪◦‣]\s|\|)")
_NUMBERED = re.compile(r"^(\d{1,2})[.)]\s+\S")
# Markup that prints nothing: a Markdown rule ("---") or a table's header separator
# ("|---|--:|", "| :-: |").
_RULE = re.compile(r"^(?:[-*_]\s*){3,}$")
_SEPARATOR = re.compile(r"^\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?$")


@dataclass(frozen=True)
class Heading:
    """A heading, its wrapped lines joined; ``level`` is its depth when the source says it
    (1 for Markdown's ``#``, 2 for ``##``…), None for a line in capitals, whose depth the
    text does not tell."""

    text: str
    level: int | None = None


@dataclass(frozen=True)
class Paragraph:
    """A paragraph, its wrapped lines joined."""

    text: str
    # An infographic's caption under its figures ("TURQUESA III" / "Amérique du Sud"): the
    # next group's figures must not run on from it, or they read as its own.
    caption: bool = False


def is_caps(line: str) -> bool:
    """Written in capitals: two letters or more, nearly all of them upper case."""
    letters = [c for c in line if c.isalpha()]
    if len(letters) < 2:
        return False
    return sum(c.isupper() for c in letters) >= _CAPS_SHARE * len(letters)


def classify(blocks: list[list[str]], vocabulary: set[str]) -> list[Heading | Paragraph]:
    """Turn blocks into headings and paragraphs (lines joined, hyphenation repaired)."""
    items: list[Heading | Paragraph] = []
    for n, block in enumerate(blocks):
        after_figure = n > 0 and is_figure_item(blocks[n - 1][-1])
        following = blocks[n + 1] if n + 1 < len(blocks) else []
        pending: list[str] = []
        i = 0
        while i < len(block):
            # A table's separator is its second row ("| - |" further down is a row of dashes).
            separator = i > 0 and block[i - 1][:1] == "|" and (i < 2 or block[i - 2][:1] != "|")
            if _RULE.match(block[i]) or (separator and _SEPARATOR.match(block[i])):
                i += 1
                continue
            marked = _MARKDOWN_HEADING.match(block[i])
            if marked:
                if pending:
                    items.append(Paragraph(_join_lines(pending, vocabulary)))
                    pending = []
                items.append(Heading(marked.group(2), len(marked.group(1))))
                i += 1
                continue
            end = _heading_run_end(block, i)
            # Capitals that running text follows open an article, whatever precedes them.
            # Otherwise a block's capitals right after a figure caption it (infographics
            # print their label under their numbers), and a short figure is a stat.
            before_prose = end > i and _is_prose(block[end:] or following)
            # Inside a block (a PDF's text has no blank lines), after a finished sentence, or
            # after a label ("channel depth") when a sentence starts under them: not capitals
            # that a sentence runs through ("coordinated by / INTERPOL AND EUROPOL / with…").
            opens = (
                (before_prose or not after_figure)
                if i == 0
                else bool(ENDS_SENTENCE.search(block[i - 1]))
                or (
                    before_prose
                    and end < len(block)
                    and not block[end][:1].islower()
                    and word_count(block[end]) >= _PROSE_MIN_WORDS
                    and not _ENDS_SHORT_WORD.search(block[i - 1])
                )
            )
            if (
                end > i
                and opens
                and word_count(" ".join(block[i:end])) >= 2
                and (before_prose or not _is_stat_label(block[i]))
            ):
                if pending:
                    items.append(Paragraph(_join_lines(pending, vocabulary)))
                    pending = []
                items.append(Heading(_join_lines(block[i:end], vocabulary)))
                i = end
                continue
            if pending and _opens_item(block[i], pending):
                items.append(Paragraph(_join_lines(pending, vocabulary)))
                pending = []
            pending.append(block[i])
            i += 1
        if pending:
            caption = after_figure and pending[0] == block[0] and is_caps(block[0])
            items.append(Paragraph(_join_lines(pending, vocabulary), caption))
    return items


def _heading_run_end(block: list[str], start: int) -> int:
    """Where the run of lines in capitals that starts at ``block[start]`` ends (``start``
    itself when that line is not in capitals).

    A heading's lines run on until a short figure in capitals: "KEY FIGURES" over
    "4.2 MILLION" is a heading over a stat, not a heading that took the figure; but
    "INTERPOL CÉLÈBRE SES" goes on with "100 ANS".
    """
    end = start
    while (
        end < len(block)
        and is_caps(block[end])
        and not (
            end > start
            and _is_stat_label(block[end])
            and not _ENDS_SHORT_WORD.search(block[end - 1])
        )
    ):
        end += 1
    return end


def next_list_item(previous: str, line: str) -> bool:
    """Whether ``line`` is a list item of its own after ``previous``: one a bullet opens
    ("- Bekleidung"), or a number after a numbered item ("2. Beschlagnahme" after "1. …");
    not a date that a sentence broken over a blank line goes on with ("… seit dem" /
    "1. Januar 2023")."""
    return bool(_BULLET.match(line) or (_NUMBERED.match(line) and _NUMBERED.match(previous)))


def _opens_item(line: str, pending: list[str]) -> bool:
    """Whether ``line`` opens a list item or a table row rather than continuing ``pending``.

    Why: the lines of a block are joined as one paragraph, wrapped lines of a sentence; a
    list's items came out as one line ("- Bekleidung - Unterhaltungselektronik - …").
    """
    if _BULLET.match(line):
        return True
    numbered = _NUMBERED.match(line)
    if numbered is None:
        return False
    # In a list, the next number ("1." then "2."); a date that a wrapped line starts with
    # ("… ab dem" / "1. Januar") is not one.
    item = _NUMBERED.match(pending[0])
    return bool(ENDS_SENTENCE.search(pending[-1])) or (
        item is not None and int(numbered[1]) == int(item[1]) + 1
    )


def _is_prose(lines: list[str]) -> bool:
    """Running text: a finished sentence of a few words, neither a figure nor capitals."""
    return (
        bool(lines)
        and not is_figure_item(lines[0])
        and not is_caps(lines[0])
        and bool(ENDS_SENTENCE.search(lines[-1]))
        and word_count(" ".join(lines)) >= _PROSE_MIN_WORDS
    )


def is_figure_item(line: str) -> bool:
    """A figure with its label on one line ("216 arrestations"), not a finished sentence."""
    return bool(_FIGURE_ITEM.match(line)) and not ENDS_SENTENCE.search(line)


def _is_stat_label(line: str) -> bool:
    """A short figure in capitals ("195 PAYS MEMBRES", "1 016 PERSONNES"): a stat, unless
    running text follows it (then a numbered heading: "2 OPERATIONS")."""
    return is_figure_item(line) and word_count(line) <= _STAT_LABEL_WORDS


def _join_lines(lines: list[str], vocabulary: set[str]) -> str:
    """Join wrapped lines; a line-final hyphen is dropped only if the joined word is known."""
    text = lines[0]
    for line in lines[1:]:
        hyphenated = _HYPHENATED_END.search(text)
        following = _LEADING_WORD.match(line)
        if hyphenated and following:
            joined = fold(hyphenated.group(1) + following.group())
            text = text[:-1] + line if joined in vocabulary else text + line
        else:
            text = f"{text} {line}"
    return collapse_whitespace(text)
