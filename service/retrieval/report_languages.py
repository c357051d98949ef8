"""The languages an index's reports are written in, as ranking needs them.

An index of reports in one language ranks as it always did. Among reports in several, a
multilingual model finds a question closer to any passage in its own language, so ranking
centres scores on each report language's mean passage and draws dense candidates from each
language apart (:mod:`service.retrieval.ranking` says why and what it measured); and keyword
evidence weighs alike in every language (``Searcher._score``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import faiss
import numpy as np

from indexer.artifact import DocumentEntry
from indexer.language import UNDETERMINED
from indexer.passage import Passage

# Passage vectors read from the index at a time for the means: a copy of every vector at
# once would double a large index's memory.
_MEAN_BLOCK = 65_536


class ReportLanguages:
    """Each passage's report language, and each language's mean passage vector."""

    def __init__(
        self, documents: Sequence[DocumentEntry], passages: Sequence[Passage], vectors: faiss.Index
    ) -> None:
        of_report = _languages_of_reports(documents)
        # A passage's language is its report's, not its own detected one: a stat block
        # detected as Italian in a French report is stemmed and centred as French.
        self.of_passages = [of_report.get(p.document, "fr") for p in passages]
        codes = np.unique(np.array(self.of_passages, dtype=str), return_inverse=True)[1]
        self._codes = codes.astype(np.int16)  # compared per filtered request
        self.one = _one_value(self._codes)
        self._means = None if self.one else _language_means(vectors, codes)

    def one_among(self, allowed: np.ndarray | None) -> bool:
        """Whether the allowed passages' reports share one language: filters that leave
        reports of one language rank as an index of them would."""
        return self.one or (allowed is not None and _one_value(self._codes[allowed]))

    def mean_cosines(self, vectors: np.ndarray, allowed: np.ndarray | None) -> np.ndarray | None:
        """The cosine of each query vector (a column each) to each report language's mean
        passage (a row by language code), or None when the allowed passages are in one
        language: nothing to centre."""
        if self._means is None or self.one_among(allowed):
            return None
        return self._means @ vectors.T

    def codes_of(self, passages: np.ndarray) -> np.ndarray:
        """The language code of each of ``passages`` (ids), to index :meth:`mean_cosines`."""
        return self._codes[passages]

    def masks(self, allowed: np.ndarray | None) -> Iterator[np.ndarray]:
        """The allowed passages of each report language among them, one mask a language."""
        codes = self._codes
        for code in np.unique(codes if allowed is None else codes[allowed]):
            yield codes == code if allowed is None else allowed & (codes == code)


def _languages_of_reports(documents: Sequence[DocumentEntry]) -> dict[str, str]:
    """Each report's language, a report of undetermined language taking the one most of the
    others are in (French, the analyser's own, when none is known): it neither makes the
    index one of several languages nor goes unstemmed."""
    known = Counter(d.language for d in documents if d.language != UNDETERMINED)
    default = known.most_common(1)[0][0] if known else "fr"
    return {d.id: default if d.language == UNDETERMINED else d.language for d in documents}


def _language_means(vectors: faiss.Index, codes: np.ndarray) -> np.ndarray:
    """The mean passage vector of each report language (a row per code), with one passage's
    worth of every language's mean in it, read from the index in blocks.

    Why the one passage's worth: a language of one passage has that passage for its mean,
    and centred on it, its only passage lost three quarters of its own cosine (a review's
    one-passage Spanish report fell from first to third for the question it answers).
    """
    sums = np.zeros((int(codes.max()) + 1, vectors.d), dtype=np.float64)
    for start in range(0, len(codes), _MEAN_BLOCK):
        block = vectors.reconstruct_n(start, min(_MEAN_BLOCK, len(codes) - start))
        in_block = codes[start : start + len(block)]
        for code in np.unique(in_block):
            sums[code] += block[in_block == code].sum(axis=0)
    counts = np.bincount(codes)[:, None]
    overall = sums.sum(axis=0) / len(codes)
    return ((sums + overall) / (counts + 1)).astype(np.float32)


def _one_value(values: np.ndarray) -> bool:
    """Whether ``values`` holds one value at most (its least and greatest are equal)."""
    return len(values) == 0 or bool(values.min() == values.max())
