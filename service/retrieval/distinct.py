"""No near-duplicates in one result list.

The extracted text repeats some paragraphs, and a corpus of yearly editions repeats whole
passages: a second copy in a result list takes the place of a different passage and tells
the reader nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# Ranked passages checked for near-duplicates at a time, and more than float32 rounding of
# a cosine.
_DUPLICATE_BLOCK = 64
_ROUNDING = 1e-5


def distinct(vectors: np.ndarray, duplicate_cosine: float) -> Iterator[int]:
    """Rows of ``vectors`` (ranked passages' vectors, best first), skipping any whose cosine
    to a row already yielded is at least ``duplicate_cosine``; lazily, so a caller that
    needs k rows compares no further."""
    taken = np.empty((0, vectors.shape[1]), dtype=vectors.dtype)
    # Copies are compared a block at a time against the rows taken before the block, so
    # that a run of a passage's copies (a corpus of many editions) costs array work, not a
    # step each; only copies of one taken within the block are met one by one.
    for start in range(0, len(vectors), _DUPLICATE_BLOCK):
        block = slice(start, start + _DUPLICATE_BLOCK)
        fresh = np.ones(len(vectors[block]), dtype=bool)
        if len(taken):
            # Skipped here only when certainly a copy: a product of the whole block can round
            # the last bit otherwise than the one-by-one check below, which decides a cosine
            # at the threshold as it always did.
            nearest = (vectors[block] @ taken.T).max(axis=1)
            fresh = nearest < duplicate_cosine + _ROUNDING
        for i in start + np.flatnonzero(fresh):
            own = vectors[i]
            if len(taken) and float((taken @ own).max()) >= duplicate_cosine:
                continue
            taken = np.vstack([taken, own])
            yield int(i)
