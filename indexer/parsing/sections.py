"""A page's headings and paragraphs grouped into titled sections, after the passes that
undo what the extraction did to them across blocks.

- Pull quotes broken one phrase per line and bullets broken across blank lines: a paragraph
  that does not end a sentence is joined to the next one when that starts in lower case, or
  with a number right after a lower-case word ("sur quelque" / "135 000 personnes").
- Paragraphs repeated by the extraction are kept once. Only a paragraph of a sentence's
  length counts as a repeat: a figure with its unit recurs by coincidence ("34 millions
  d'EUR" twice in one chart, for two different budget lines), and dropping it lost a figure.
- When headings follow each other the last, most specific one names the section, and all of
  them (a chapter title, a list in capitals) are its first lines, in reading order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.parsing.blocks import (
    ENDS_SENTENCE,
    Heading,
    Paragraph,
    is_caps,
    is_figure_item,
    next_list_item,
)
from indexer.text import fold, word_count, words

_ENDS_LOWERCASE_WORD = re.compile(r"[a-zà-öø-ÿ]$")
# Words a heading cannot end on (articles, prepositions, conjunctions of the languages
# reports are written in): one that does goes on in the next heading block.
_FUNCTION_WORDS = frozenset(
    "à au aux de des du la le les par pour sur dans avec contre en et ou "  # noqa: SIM905
    "a an the of for in on to with by and or "
    "el los las del al y o por para con "
    "der die das den dem und oder für von mit im zu zum zur".split()
)
_REPEAT_MIN_WORDS = 8  # shorter paragraphs (figures, labels) recur by coincidence
_STAT_WORDS = 12  # a figure and its label ("18 nouvelles formations en ligne … créées")


@dataclass(frozen=True)
class Section:
    """A titled run of paragraphs on one page.

    ``headed``: the title is printed right above the paragraphs; otherwise it is carried
    over (text before a page's first heading, a page that continues the last one) or it
    closes a run of ``headings`` (a chapter title above an article's), which are then the
    first paragraphs, as printed.
    """

    title: str
    paragraphs: tuple[str, ...]
    headed: bool = False
    headings: tuple[str, ...] = ()
    # The titles of the headings it lies under, outermost first (see ``HeadingPath``).
    chapters: tuple[str, ...] = ()

    @property
    def body(self) -> tuple[str, ...]:
        """The paragraphs after the run of headings that opens them, if any."""
        return self.paragraphs[len(self.headings) :]


def merge_continuations(items: list[Heading | Paragraph]) -> list[Heading | Paragraph]:
    """Re-join sentences that the extraction broke across blank lines (pull quotes, bullets),
    and headings broken after a small word ("INFRACTIONS CIBLÉES PAR LES" / "OPÉRATIONS
    HAECHI"): a heading does not end on an article or a preposition."""
    merged: list[Heading | Paragraph] = []
    for item in items:
        previous = merged[-1] if merged else None
        if (
            isinstance(item, Paragraph)
            and isinstance(previous, Paragraph)
            and not previous.caption
            and _continues(previous.text, item.text)
        ):
            merged[-1] = Paragraph(f"{previous.text} {item.text}")
        elif (
            isinstance(item, Heading)
            and isinstance(previous, Heading)
            # Markdown's and a PDF's headings come whole, each on its line ("# Annex A" over
            # "## Methodology"): only capitals are broken over blocks.
            and previous.level is None
            and item.level is None
            and _ends_on_small_word(previous.text)
        ):
            merged[-1] = Heading(f"{previous.text} {item.text}")
        else:
            merged.append(item)
    return merged


# A figure, its digit groups included ("10 000", "68,9", "216").
_FIGURE = re.compile(r"\d(?:[\d .,]*\d)?")


def captions_first(items: list[Heading | Paragraph]) -> list[Heading | Paragraph]:
    """Each infographic caption moved above the figures it captions (printed under them).

    Read in the printed order, "… 216 arrestations / TURQUESA III / 4 000 migrants … 286
    arrestations / LIBERTERRA" puts each operation's name next to the next operation's
    figures: a reader (and a highlight) took Liberterra's 286 arrests for Turquesa III's.
    Only over a group of figures (one figure line or several in a row, then joined into one
    line under it): a caption under a single figure line names a whole stat block
    ("OPÉRATION LIONFISH – AFRIQUE ET MOYEN-ORIENT" under "214 comprimés").
    """
    ordered: list[Heading | Paragraph] = []
    captioned = 0  # the figures above it have their caption already
    for item in items:
        start = len(ordered)  # where the figures right above the item start
        while start > captioned and _is_figure_line(ordered[start - 1]):
            start -= 1
        figures = sum(len(_FIGURE.findall(above.text)) for above in ordered[start:])
        if isinstance(item, Paragraph) and item.caption and figures >= 2:
            # The group it captions, one line under it: its figures read as one line
            # apart from the next group's, in the passage and in its sentences.
            group = Paragraph(" ".join(above.text for above in ordered[start:]))
            ordered[start:] = [item, group]
            captioned = len(ordered)
        else:
            ordered.append(item)
    return ordered


def _is_figure_line(item: Heading | Paragraph) -> bool:
    return isinstance(item, Paragraph) and not item.caption and is_figure_item(item.text)


def _continues(previous: str, following: str) -> bool:
    # A label stays on its line, and a list item opens one ("2. Beschlagnahme").
    if ENDS_SENTENCE.search(previous) or is_caps(previous) or next_list_item(previous, following):
        return False
    first = following[:1]
    # A figure after a figure with its label is the next stat ("41.563 Beschäftigte" /
    # "146,3 Mrd. € Einnahmen"), not the end of a broken sentence ("sur quelque" / "135 000",
    # or "2 400 policiers ont été formés dans" / "35 pays", which ends on a small word).
    return first.islower() or (
        first.isdigit() and bool(_ENDS_LOWERCASE_WORD.search(previous)) and not _is_stat(previous)
    )


def _is_stat(paragraph: str) -> bool:
    """A figure with its short label ("9,8 Mio. Zollanmeldungen im Monat")."""
    return (
        is_figure_item(paragraph)
        and word_count(paragraph) <= _STAT_WORDS
        and not _ends_on_small_word(paragraph)
    )


def _ends_on_small_word(text: str) -> bool:
    """Whether ``text`` ends on an article, a preposition or a conjunction: text that the
    next block goes on with."""
    return text.split()[-1].casefold() in _FUNCTION_WORDS


def drop_repeats(items: list[Heading | Paragraph], seen: set[str]) -> list[Heading | Paragraph]:
    """Drop paragraphs of a sentence's length already seen earlier in the document."""
    kept: list[Heading | Paragraph] = []
    for item in items:
        if isinstance(item, Paragraph) and word_count(item.text) >= _REPEAT_MIN_WORDS:
            key = fold(item.text)
            if key in seen:
                continue
            seen.add(key)
        kept.append(item)
    return kept


def intro_title(headings: list[str], last_heading: str, default_title: str) -> str:
    """Title for text that precedes a page's first heading.

    It is the page's introduction, and the chapter title sits below it in the layout, so it
    takes the page's first heading; a page without headings continues the previous one; and
    text before the document's first heading is front matter, named by the document title.
    """
    if not last_heading:
        return default_title
    return headings[0] if headings else last_heading


class HeadingPath:
    """The headings open at a point of a document, outermost first, by their levels.

    Why: a chapter's title names only the text right under it, so a section filter on it
    missed the articles of the chapter; where the source tells the depth of its headings (a
    Markdown export), each section knows the chapters it lies under. Headings of unknown
    depth (capitals) open nothing: a report in capitals has no chapters.
    """

    def __init__(
        self, title_level: int | None = None, title: str = "", top_level: int | None = None
    ) -> None:
        self._open: list[tuple[int, str]] = []
        # The document title opens no chapter: at its level (see ``of_document``), or where
        # a heading of the top level repeats it (a "## Kokain" chapter of kokain.md, titled
        # by its file name, is a chapter).
        self._title_level = title_level
        self._title = title
        self._top_level = top_level

    @classmethod
    def of_document(cls, headings: list[Heading], title: str) -> HeadingPath:
        """The path at the start of a document of ``headings`` titled ``title``.

        Its top level is the document title's when one heading alone has it and it comes
        first (a PDF's cover title, Markdown's ``# Annual report`` over ``##`` chapters). As
        a chapter it lay over every section: a section filter on "2023" matched the whole
        report, and every result said it was in the annual report. (A report of one chapter
        loses it; a subtitle under the cover title, at a level of its own, stays a chapter.)
        """
        levels = [h.level for h in headings if h.level is not None]
        if not levels:
            return cls(title=title)
        top = min(levels)
        alone_first = levels.count(top) == 1 and levels[0] == top
        return cls(top if alone_first else None, title, top)

    def under(self, heading: Heading) -> tuple[str, ...]:
        """The titles ``heading`` would lie under: the open ones of a smaller level."""
        if heading.level is None:
            return self.titles()
        return tuple(title for level, title in self._open if level < heading.level)

    def enter(self, heading: Heading) -> tuple[str, ...]:
        """Open ``heading`` (closing those of its level or deeper); the titles it lies under."""
        above = self.under(heading)
        if (
            heading.level is not None
            and heading.level != self._title_level
            and not (heading.level == self._top_level and is_document_title(heading, self._title))
        ):
            self._open = [(level, t) for level, t in self._open if level < heading.level]
            self._open.append((heading.level, heading.text))
        return above

    def titles(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._open)


def is_document_title(heading: Heading, title: str) -> bool:
    """Whether ``heading`` repeats the report's title (its metadata's, whatever the
    punctuation): on the cover and again on the back cover, it opens no chapter either."""
    return bool(title) and words(fold(heading.text)) == words(fold(title))


def group_sections(
    items: list[Heading | Paragraph], intro_title: str, path: HeadingPath | None = None
) -> list[Section]:
    """Group a page's items into titled sections; text before any heading gets ``intro_title``.

    ``path`` holds the headings open where the page starts, and is moved on past its own.
    """
    path = path or HeadingPath()
    sections: list[Section] = []
    run: list[str] = []  # the headings in a row over the paragraphs being gathered
    paragraphs: list[str] = []
    # Text before the page's first heading takes its chapters with its title: the page's
    # first heading's (see ``intro_title``), or the open heading's it goes on under.
    first = next((item for item in items if isinstance(item, Heading)), None)
    if first is not None and first.text == intro_title:
        chapters = path.under(first)
    else:
        chapters = tuple(title for title in path.titles() if title != intro_title)
    for item in items:
        if isinstance(item, Heading):
            if paragraphs:
                sections.append(_titled(run, paragraphs, intro_title, chapters))
                run, paragraphs = [], []
            run.append(item.text)
            chapters = path.enter(item)
        else:
            paragraphs.append(item.text)
    if paragraphs or run:  # a heading that closes the page is text on it too
        sections.append(_titled(run, paragraphs, intro_title, chapters))
    return sections


def _titled(
    run: list[str], paragraphs: list[str], intro_title: str, chapters: tuple[str, ...]
) -> Section:
    """The section of ``paragraphs`` under the headings ``run`` (none: text before the page's
    first heading).

    Headings in a row: the last, most specific one names the section (an article's heading
    under a chapter title), and all of them stay as its first lines, in reading order, so
    that the text holds every line printed (a list in capitals, "NOS PRINCIPAUX DONATEURS EN
    2021" and the donors' names, ends with its last name, which titles the section).
    """
    if not run:
        return Section(intro_title, tuple(paragraphs), chapters=chapters)
    if len(run) > 1:
        return Section(run[-1], (*run, *paragraphs), headings=tuple(run), chapters=chapters)
    return Section(run[0], tuple(paragraphs), headed=True, chapters=chapters)
