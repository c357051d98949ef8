"""Restricting a search to part of the corpus, exactly: filters are applied before ranking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.language import NOT_A_LANGUAGE_CODE, is_language_code
from indexer.passage import Passage
from indexer.text import CONTROL_CHARACTERS, canonical, fold
from service.retrieval.query import InvalidQueryError

# Longest document id or section text a filter takes (a section title is shorter).
MAX_FILTER_CHARS = 200
# Blank (invisible characters count as nothing, as in a query), a filter would match nothing
# (lang, document) or everything (section): said in these words by every interface.
BLANK_FILTER = "must not be blank; leave the filter out to search everything"


def id_key(text: str) -> str:
    """An id (a document's, a passage's) as typed or pasted, in the form ids are compared
    in: read like a query, case folded. Ids are ASCII and cannot differ only in case (the
    corpus refuses such twins), so "INTERPOL-2021-FR" and one pasted with a zero-width space
    find the same document, and a model retyping an id in capitals the same passage."""
    return canonical(text).casefold()


def is_blank(value: str) -> bool:
    """Whether a filter's text is nothing but spaces, invisible characters and accents
    without a letter: as a section filter reads it (folded), such a value matched every
    title."""
    return not fold(canonical(value)).strip()


def trimmed(value: str | None) -> str | None:
    """A filter's text without the spaces around it, as pasted or typed: " fr " was refused
    as no language code and " interpol-2021-fr " as no document, while a section filter
    matched as if they were not there."""
    return value.strip() if isinstance(value, str) else value


@dataclass(frozen=True)
class SearchFilters:
    """Which passages a search may return; ``None`` means no restriction.

    ``section`` matches any part of the title of a section the passage's text comes from,
    or of a chapter its section lies under, ignoring case and accents, so "academie
    virtuelle" finds "ACADÉMIE VIRTUELLE D’INTERPOL". Texts are read without the spaces
    around them (:func:`trimmed`).
    """

    lang: str | None = None
    document: str | None = None
    section: str | None = None
    page_min: int | None = None
    page_max: int | None = None

    def __post_init__(self) -> None:
        for name in ("lang", "document", "section"):
            object.__setattr__(self, name, trimmed(getattr(self, name)))

    def problem(self) -> InvalidQueryError | None:
        """Why these filters cannot be applied, or None. Needs no index, so an interface can
        ask before loading one; the searcher asks again, so that every interface refuses the
        same filters with the same words."""
        for name, value in (
            ("lang", self.lang),
            ("document", self.document),
            ("section", self.section),
        ):
            if value is None:
                continue
            if is_blank(value):
                return InvalidQueryError(BLANK_FILTER, name)
            if len(value) > MAX_FILTER_CHARS:
                return InvalidQueryError(
                    f"String should have at most {MAX_FILTER_CHARS} characters", name
                )
            if CONTROL_CHARACTERS.search(value):
                # Worded as the HTTP input guard words it, which refuses it first there.
                return InvalidQueryError(f"the value of {name!r} contains control characters")
        for name, page in (("page_min", self.page_min), ("page_max", self.page_max)):
            if page is not None and page < 1:
                return InvalidQueryError("Input should be greater than or equal to 1", name)
        if self.lang is not None and not is_language_code(self.lang):
            return InvalidQueryError(NOT_A_LANGUAGE_CODE, "lang")
        first, last = self.page_min, self.page_max
        if first is not None and last is not None and first > last:
            return InvalidQueryError(f"{first} is after page_max ({last})", "page_min")
        return None

    def document_key(self) -> str | None:
        """The document filter as document ids are compared with it: read like a query,
        case folded (ids that differ only in case cannot both be in a corpus)."""
        return id_key(self.document) if self.document is not None else None

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return all(value is None for value in vars(self).values())

    def describe(self) -> str:
        """The filters set, as a caller wrote them ("section='zzzz', page_min=500"): an
        empty result must say it is empty under these filters, not that the reports are
        silent on the question."""
        chosen = {name: value for name, value in vars(self).items() if value is not None}
        return ", ".join(f"{name}={value!r}" for name, value in chosen.items())

    def mask(self, columns: PassageColumns) -> np.ndarray | None:
        """Boolean array of passages allowed, or None when every passage is."""
        if self.is_empty():
            return None
        allowed = np.ones(len(columns.page), dtype=bool)
        if self.lang is not None:
            allowed &= columns.lang == self.lang.lower()
        if self.document is not None:
            allowed &= columns.document == self.document_key()
        if self.page_min is not None:
            allowed &= columns.page >= self.page_min
        if self.page_max is not None:
            allowed &= columns.page <= self.page_max
        if self.section is not None:
            # Read like a query: a soft hyphen or zero-width space pasted with it changes
            # nothing. Each distinct list of titles is asked once, not each passage.
            section = fold(canonical(self.section))
            matching = np.array([any(section in t for t in ts) for ts in columns.titles], bool)
            allowed &= matching[columns.titles_of]
        return allowed


@dataclass(frozen=True)
class PassageColumns:
    """What filters compare, field by field, read once per index: a filtered search is then
    a few array comparisons rather than a loop over every passage (8.7 ms at 80,000
    passages, more than the ranking)."""

    lang: np.ndarray
    document: np.ndarray  # case folded, as the filter compares them
    page: np.ndarray
    titles: tuple[tuple[str, ...], ...]  # distinct folded lists of sections and chapters
    titles_of: np.ndarray  # each passage's position in ``titles``

    @classmethod
    def of(cls, passages: Sequence[Passage]) -> PassageColumns:
        """The columns of ``passages``, in their order (a passage's index is its row)."""
        distinct: dict[tuple[str, ...], int] = {}
        titles_of = [distinct.setdefault(p.sections + p.chapters, len(distinct)) for p in passages]
        return cls(
            lang=np.array([p.lang for p in passages], dtype=str),
            document=np.array([p.document.casefold() for p in passages], dtype=str),
            page=np.array([p.page for p in passages], dtype=np.int64),
            titles=tuple(tuple(fold(t) for t in ts) for ts in distinct),
            titles_of=np.array(titles_of, dtype=np.int64),
        )
