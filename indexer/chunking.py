"""Cut parsed pages into passages of readable size, on sentence boundaries."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import NamedTuple

from indexer.language import detect_language
from indexer.parsing import Page, Section
from indexer.passage import Passage, heading_length
from indexer.text import even_runs, fold, split_sentences, word_count, words


@dataclass(frozen=True)
class ChunkingPolicy:
    """Passage sizes in words.

    ``target`` is what a passage aims for: long enough to hold one news item with its
    context, short enough to read at a glance and to stay sharp as one embedding.
    ``maximum`` is never exceeded; sections shorter than ``minimum`` join their neighbour;
    a stat block stands alone unless it is a ``scrap`` (a stray label or page number).
    """

    target: int = 160
    maximum: int = 300
    minimum: int = 50
    scrap: int = 12


@dataclass(frozen=True)
class _Unit:
    """A sentence (or stat line); ``starts_paragraph`` keeps the paragraph breaks on output,
    ``section`` is the title of the section it comes from."""

    text: str
    words: int
    starts_paragraph: bool
    section: str


class Chunk(NamedTuple):
    """One passage's text, the title it goes under, every section its text comes from (in
    reading order: a short section joined to its neighbour is one of them), and the
    chapters its titled section lies under."""

    title: str
    text: str
    sections: tuple[str, ...]
    chapters: tuple[str, ...] = ()


class SectionChunker:
    """Turns a document's pages into passages."""

    def __init__(self, policy: ChunkingPolicy | None = None) -> None:
        self.policy = policy or ChunkingPolicy()

    def chunk_document(self, document: str, pages: list[Page], language: str) -> list[Passage]:
        """Passages of one document in reading order, with ids like ``report-p003-4f9a1c``.

        An id is the page (three digits) and the start of its text's SHA-256, so that it
        names that text in every build: a citation kept by a client either finds the same
        passage after a rebuild or gets a 404. Numbered by position on the page, an id
        named another passage as soon as an earlier one on its page was split or joined.
        """
        # Language is read from the body: the heading is the title too.
        chunks = [
            (page, chunk, chunk.text[heading_length(chunk.title, chunk.text) :])
            for page in pages
            for chunk in self.chunk_page(page)
        ]
        passages: list[Passage] = []
        taken: set[str] = set()
        for page, chunk, body in chunks:
            passages.append(
                Passage(
                    id=_passage_id(document, page.number, chunk.text, taken),
                    document=document,
                    page=page.number,
                    section=chunk.title,
                    text=chunk.text,
                    lang=detect_language(body, fallback=language),
                    position=len(passages),
                    source_urls=page.urls,  # ordered once embedded (indexer.sources)
                    sections=chunk.sections,
                    chapters=chunk.chapters,
                )
            )
        return passages

    def chunk_page(self, page: Page) -> list[Chunk]:
        """The passages of one page."""
        chunks: list[Chunk] = []
        for group in self._group_small_sections(page.sections):
            title = _group_title(group)
            # The title's own heading opens the text when its section comes first; any other
            # printed heading is a line where the report prints it (the title printed again
            # above a namesake article, once at the top is enough).
            opens = group[0].headed and group[0].title == title
            units = [
                u
                for section in group
                for u in _units(
                    section, heading=section.headed and not (opens and section.title == title)
                )
            ]
            parts = self._pack(units)
            if not parts:  # a page that holds a heading and nothing else
                continue
            texts = [_render(part) for part in parts]
            if opens:
                # The heading printed above the text opens it (Passage.body_start); sizes
                # are the body's, so a heading never moves where passages are cut.
                texts[0] = f"{title}\n{texts[0]}"
            for text, part in zip(texts, parts, strict=True):
                sections = tuple(dict.fromkeys(u.section for u in part if u.section))
                # A part of a long group may hold only the short section joined to it.
                named = title if title in sections or not sections else sections[0]
                chapters = next((s.chapters for s in group if s.title == named), ())
                chunks.append(Chunk(named, text, sections, chapters))
        return chunks

    def _group_small_sections(self, sections: tuple[Section, ...]) -> list[list[Section]]:
        """Join sections too short to stand alone with the next one of the same kind.

        Stat blocks (numbers and labels) and prose are kept apart: an infographic merged
        into the next, unrelated article is found by neither. Only scraps too small to
        mean anything alone (a stray label) cross that line. A short article printed under
        the name of an infographic elsewhere on its page joins that infographic instead (see
        ``_namesakes``).
        """
        groups = self._group_in_order(sections)
        group_of = {id(s): group for group in groups for s in group}
        position = {id(s): i for i, s in enumerate(sections)}
        for index, target in self._namesakes(sections).items():
            section, group = sections[index], group_of[id(sections[target])]
            if group is group_of[id(section)] or (
                _group_words(group) + _section_words(section) > self.policy.maximum
            ):
                continue
            group_of[id(section)].remove(section)
            group.append(section)
            group.sort(key=lambda s: position[id(s)])
            group_of[id(section)] = group
        return [group for group in groups if group]

    def _namesakes(self, sections: tuple[Section, ...]) -> dict[int, int]:
        """Short articles whose heading names another section on the page, and that section.

        Reports set an operation's figures in an infographic and its story in a short article
        under the same heading ("OPÉRATION LIONFISH" above 720 kg of cannabis, then "OPÉRATION
        LIONFISH" above "menée dans 41 pays"), often apart on the page. Joined by reading
        order, the article went to an unrelated neighbour and the figures stayed without the
        sentence that says what they count.

        Only prose moves (an infographic stays where it is printed), and a section that moves
        is no other's destination, so nothing is moved twice. The destination is a stat block
        or a headed section whose title equals the heading or continues it (a subtitle), the
        nearest one. Headed, because prose before a page's first heading only borrows that
        heading; a stat block there carries it too, and is kept as a destination: figures
        printed above an article under the article's own heading are its figures (Lionfish's).
        """
        titles = [fold(section.title) for section in sections]
        destinations = [i for i, s in enumerate(sections) if s.headed or _is_stat_block(s)]
        found: dict[int, int] = {}
        for index, section in enumerate(sections):
            if (
                not section.headed
                or _is_stat_block(section)
                or _section_words(section) >= self.policy.minimum
                or len(words(section.title)) < 2
            ):
                continue
            name = titles[index]
            candidates = [
                other
                for other in destinations
                if other != index
                and (titles[other] == name or titles[other].startswith(f"{name} "))
            ]
            if candidates:
                found[index] = min(candidates, key=lambda other: abs(other - index))
        # A destination that would itself move stays: chains and swaps resolve to no move.
        return {index: target for index, target in found.items() if target not in found}

    def _group_in_order(self, sections: tuple[Section, ...]) -> list[list[Section]]:
        """Runs of neighbours, each closed once it reaches ``minimum`` words."""
        groups: list[list[Section]] = []
        current: list[Section] = []
        for section in sections:
            if (
                current
                and _is_stat_block(section) != _is_stat_block(current[-1])
                and _group_words(current) >= self.policy.scrap
            ):
                groups.append(current)
                current = []
            current.append(section)
            if _group_words(current) >= self.policy.minimum:
                groups.append(current)
                current = []
        if current:
            previous = groups[-1] if groups else None
            fits = (
                previous and _group_words(previous) + _group_words(current) <= self.policy.maximum
            )
            same_kind = previous and _is_stat_block(previous[-1]) == _is_stat_block(current[0])
            if previous and fits and (same_kind or _group_words(current) < self.policy.scrap):
                previous.extend(current)
            else:
                groups.append(current)
        return groups

    def _pack(self, units: list[_Unit]) -> list[list[_Unit]]:
        """Split units into balanced parts near ``target`` words, none above ``maximum``."""
        units = [piece for unit in units for piece in self._split_long(unit)]
        total = sum(u.words for u in units)
        share = total / max(1, math.ceil(total / self.policy.target))
        parts: list[list[_Unit]] = []
        current: list[_Unit] = []
        size = 0
        for unit in units:
            if current and (size + unit.words > self.policy.maximum or size >= share):
                parts.append(current)
                current, size = [], 0
            current.append(unit)
            size += unit.words
        if current:
            parts.append(current)
        return parts

    def _split_long(self, unit: _Unit) -> list[_Unit]:
        """Cut a run-on "sentence" (lists without punctuation) into near-equal runs of
        words, none above ``target``: counted as ``unit.words`` counts them, so that a list
        without spaces ("pays0,pays1,…") is cut too."""
        if unit.words <= self.policy.maximum:
            return [unit]
        runs = even_runs(unit.text, (0, len(unit.text)), self.policy.target)
        return [
            _Unit(
                unit.text[start:end],
                word_count(unit.text[start:end]),
                unit.starts_paragraph and n == 0,
                unit.section,
            )
            for n, (start, end) in enumerate(runs)
        ]


def _passage_id(document: str, page: int, text: str, taken: set[str]) -> str:
    """A new id for ``text`` (see ``chunk_document``); the same text twice on a page gets a
    numbered second id."""
    base = f"{document}-p{page:03d}-{hashlib.sha256(text.encode()).hexdigest()[:_ID_DIGITS]}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _group_title(group: list[Section]) -> str:
    """The title of a group's longest section, or a title in the group that continues it.

    "OPÉRATION 30 DAYS AT SEA 3.0 LUTTER CONTRE LA CRIMINALITÉ LIÉE À LA POLLUTION" says more
    than "OPÉRATION 30 DAYS AT SEA 3.0" above the article joined to its figures.
    """
    title = max(group, key=_section_words).title
    name = fold(title)
    return next((s.title for s in group if fold(s.title).startswith(f"{name} ")), title)


def _section_words(section: Section) -> int:
    return sum(word_count(p) for p in section.paragraphs)


def _group_words(sections: list[Section]) -> int:
    return sum(map(_section_words, sections))


_ID_DIGITS = 6  # hex digits of the text's hash: a chance collision within a page is negligible
_FRAGMENT_WORDS = 10
# Also the ends of Arabic, Urdu and Chinese sentences: a Chinese sentence, written without
# spaces, is a "word" or two, so without its 。 every paragraph read as a stat label.
_SENTENCE_ENDS = (".", "!", "?", "؟", "۔", "。", "！", "？")
_STAT_SHARE = 0.6


def _is_stat_block(section: Section) -> bool:
    """Mostly short lines that end no sentence: numbers and their labels, not prose. The
    headings printed above a section are not its lines: two over a short article made it
    read as labels."""
    total = sum(word_count(p) for p in section.body)
    fragments = sum(
        word_count(p)
        for p in section.body
        if word_count(p) <= _FRAGMENT_WORDS and not p.rstrip().endswith(_SENTENCE_ENDS)
    )
    return total > 0 and fragments >= _STAT_SHARE * total


def _units(section: Section, heading: bool) -> list[_Unit]:
    """Sentences of a section, after its printed ``heading`` as a line of its own if asked.

    Each unit names the section it belongs to; a heading of a run that opens the section
    (a chapter title) names itself, so that the section filter finds it too.
    """
    printed = [_Unit(section.title, len(words(section.title)), True, section.title)]
    return (printed if heading else []) + [
        _Unit(
            sentence,
            len(words(sentence)),
            i == 0,
            paragraph if n < len(section.headings) else section.title,
        )
        for n, paragraph in enumerate(section.paragraphs)
        for i, sentence in enumerate(split_sentences(paragraph))
    ]


def _render(units: list[_Unit]) -> str:
    text = ""
    for unit in units:
        separator = "\n" if unit.starts_paragraph else " "
        text = f"{text}{separator}{unit.text}" if text else unit.text
    return text
