"""Restricting a search to part of the corpus, exactly: filters are applied before ranking."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from indexer.language import LANGUAGE_CODE
from indexer.passage import Passage
from indexer.text import CONTROL_CHARACTERS, canonical, fold

# Longest document id or section text a filter takes (a section title is shorter).
MAX_FILTER_CHARS = 200


@dataclass(frozen=True)
class SearchFilters:
    """Which passages a search may return; ``None`` means no restriction.

    ``section`` matches any part of the title of a section the passage's text comes from,
    ignoring case and accents, so "academie virtuelle" finds "ACADÉMIE VIRTUELLE D’INTERPOL".
    """

    lang: str | None = None
    document: str | None = None
    section: str | None = None
    page_min: int | None = None
    page_max: int | None = None

    def problem(self) -> str | None:
        """Why these filters cannot be applied, or None. Needs no index, so an interface can
        ask before loading one; the searcher asks again, so that every interface refuses the
        same filters with the same words."""
        for name, value in (("document", self.document), ("section", self.section)):
            if value is None:
                continue
            if not canonical(value).strip():
                # Blank (invisible characters count as nothing, as in a query), a filter would
                # match nothing (document) or everything (section).
                return f"{name}: must not be blank; leave the filter out to search everything"
            if len(value) > MAX_FILTER_CHARS:
                return f"{name}: String should have at most {MAX_FILTER_CHARS} characters"
            if CONTROL_CHARACTERS.search(value):
                return f"the value of {name!r} contains control characters"
        for name, page in (("page_min", self.page_min), ("page_max", self.page_max)):
            if page is not None and page < 1:
                return f"{name}: Input should be greater than or equal to 1"
        if self.lang is not None and not re.fullmatch(LANGUAGE_CODE, self.lang):
            return f"lang: String should match pattern '{LANGUAGE_CODE}'"
        first, last = self.page_min, self.page_max
        if first is not None and last is not None and first > last:
            return f"page_min ({first}) is after page_max ({last})"
        return None

    def document_key(self) -> str | None:
        """The document filter as document ids are compared with it: read like a query,
        case folded (ids that differ only in case cannot both be in a corpus)."""
        return canonical(self.document).casefold() if self.document is not None else None

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return all(value is None for value in vars(self).values())

    def describe(self) -> str:
        """The filters set, as a caller wrote them ("section='zzzz', page_min=500"): an
        empty result must say it is empty under these filters, not that the reports are
        silent on the question."""
        chosen = {name: value for name, value in vars(self).items() if value is not None}
        return ", ".join(f"{name}={value!r}" for name, value in chosen.items())

    def mask(self, passages: Sequence[Passage]) -> np.ndarray | None:
        """Boolean array of passages allowed, or None when every passage is."""
        if self.is_empty():
            return None
        # Read like a query: a soft hyphen or zero-width space pasted with it changes nothing.
        section = fold(canonical(self.section)) if self.section is not None else None
        document = self.document_key()
        lang = self.lang.lower() if self.lang is not None else None
        return np.fromiter(
            (
                (lang is None or p.lang == lang)
                and (document is None or p.document.casefold() == document)
                and (section is None or any(section in _folded(t) for t in p.sections))
                and (self.page_min is None or p.page >= self.page_min)
                and (self.page_max is None or p.page <= self.page_max)
                for p in passages
            ),
            dtype=bool,
            count=len(passages),
        )


# A filtered search folds every passage's titles; there are far fewer titles than passages.
_folded = lru_cache(maxsize=65_536)(fold)
