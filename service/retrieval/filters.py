"""Restricting a search to part of the corpus, exactly: filters are applied before ranking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.passage import Passage
from indexer.text import fold


@dataclass(frozen=True)
class SearchFilters:
    """Which passages a search may return; ``None`` means no restriction.

    ``section`` matches any part of the section title, ignoring case and accents, so
    "academie virtuelle" finds "ACADÉMIE VIRTUELLE D’INTERPOL".
    """

    lang: str | None = None
    document: str | None = None
    section: str | None = None
    page_min: int | None = None
    page_max: int | None = None

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return all(value is None for value in vars(self).values())

    def mask(self, passages: Sequence[Passage]) -> np.ndarray | None:
        """Boolean array of passages allowed, or None when every passage is."""
        if self.is_empty():
            return None
        section = fold(self.section) if self.section is not None else None
        lang = self.lang.lower() if self.lang is not None else None
        return np.fromiter(
            (
                (lang is None or p.lang == lang)
                and (self.document is None or p.document == self.document)
                and (section is None or section in fold(p.section))
                and (self.page_min is None or p.page >= self.page_min)
                and (self.page_max is None or p.page <= self.page_max)
                for p in passages
            ),
            dtype=bool,
            count=len(passages),
        )
