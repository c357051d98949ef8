"""No near-duplicates in one result list.

The extracted text repeats some paragraphs, and a corpus of yearly editions repeats whole
passages: a second copy in a result list takes the place of a different passage and tells
the reader nothing new.

A copy is close in meaning *and* in words. The vectors alone are not enough: unrelated
passages of this one report reach a cosine of 0.958 (an article and the figures beside it),
near the threshold of 0.97, and two editions' key-figure blocks that differ only in their
figures would pass it; dropped as copies, they would silently leave a result list.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator

import numpy as np

from indexer.text import fold

# Ranked passages checked for near-duplicates at a time, and more than float32 rounding of
# a cosine.
_DUPLICATE_BLOCK = 64
_ROUNDING = 1e-5
# Share of their distinct words (figures included) two copies have in common, at least:
# copies by extraction or by a later edition share nearly all of theirs; passages that only
# mean alike far fewer, and a block of figures with other figures (a label beside each)
# about half.
_SHARED_WORDS = 0.7
_WORDS = re.compile(r"\w+")


def distinct(
    vectors: np.ndarray,
    duplicate_cosine: float,
    same_words: Callable[[int, int], bool] = lambda _i, _j: True,
) -> Iterator[int]:
    """Rows of ``vectors`` (ranked passages' vectors, best first), skipping any whose cosine
    to a row already yielded is at least ``duplicate_cosine`` and whose words are that row's
    (``same_words(row, earlier_row)``, see :func:`shares_words`); lazily, so a caller that
    needs k rows compares no further."""
    taken = np.empty((0, vectors.shape[1]), dtype=vectors.dtype)
    rows: list[int] = []
    # Copies are compared a block at a time against the rows taken before the block, so
    # that a run of a passage's copies (a corpus of many editions) costs array work, not a
    # step each; only copies of one taken within the block, and rows close in meaning to a
    # taken one but not in words, are met one by one.
    for start in range(0, len(vectors), _DUPLICATE_BLOCK):
        block = slice(start, start + _DUPLICATE_BLOCK)
        fresh = np.ones(len(vectors[block]), dtype=bool)
        if len(taken):
            # Skipped here only when certainly a copy: a product of the whole block can round
            # the last bit otherwise than the one-by-one check below, which decides a cosine
            # at the threshold as it always did.
            products = vectors[block] @ taken.T
            nearest = products.argmax(axis=1)
            fresh = np.array(
                [
                    products[n, m] < duplicate_cosine + _ROUNDING
                    or not same_words(start + n, rows[m])
                    for n, m in enumerate(nearest)
                ],
                dtype=bool,
            )
        for i in start + np.flatnonzero(fresh):
            # In float64, as a Python float compares: a float32 threshold would round 0.95 down
            # to the float32 cosine 0.9499999881 and call it a copy.
            close = np.flatnonzero((taken @ vectors[i]).astype(np.float64) >= duplicate_cosine)
            if any(same_words(int(i), rows[m]) for m in close):
                continue
            taken = np.vstack([taken, vectors[i]])
            rows.append(int(i))
            yield int(i)


def shares_words(first: str, second: str) -> bool:
    """Whether two texts have most of their distinct words in common (case, accents and
    apostrophes aside): the words' side of a copy (see the module docstring)."""
    a, b = _distinct_words(first), _distinct_words(second)
    return len(a & b) >= _SHARED_WORDS * len(a | b)


@functools.lru_cache(maxsize=4096)
def _distinct_words(text: str) -> frozenset[str]:
    """Cached: a passage is compared with many (its editions in a corpus of yearly reports),
    and folding its text each time made a search of 10 editions 100 times slower (285 ms)."""
    return frozenset(_WORDS.findall(fold(text)))
