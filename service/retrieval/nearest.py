"""Nearest passages to a query vector in the FAISS index, among those a filter allows."""

from __future__ import annotations

import faiss
import numpy as np

from indexer import ann
from indexer.artifact import LoadedIndex


def nearest(
    index: LoadedIndex, vector: np.ndarray, allowed: np.ndarray | None, wanted: int
) -> np.ndarray:
    """The ids of the ``wanted`` passages of ``index`` nearest ``vector`` among the allowed
    ones (``allowed``: a mask of passages; None, all).

    A filter is passed to FAISS as an id selector, a bitmap of the allowed passages (one bit
    each: made 16 times faster than a set of their ids, 0.9 ms against 14 at 200,000
    passages). An exact index finds them all. An inverted file only looks in the regions
    near the query, so a narrow filter can leave it short of results; it then looks in every
    region, within the filter, which is exact and cheap (1 ms for 6,000 of 200,000 passages;
    scoring them from their stored vectors took 130 ms), and keeps "k results whenever k
    passages match" true for both index types (:func:`indexer.ann.choose`).
    """
    vectors = index.vectors
    fetch = min(wanted, vectors.ntotal)
    if allowed is None:
        _, ids = vectors.search(vector[None, :], fetch)
        return ids[0][ids[0] >= 0]
    bits = np.packbits(allowed, bitorder="little")  # kept alive here for the search
    selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
    spec = index.manifest.ann_spec()
    _, ids = vectors.search(vector[None, :], fetch, params=ann.search_params(spec, selector))
    found = ids[0][ids[0] >= 0]
    every = ann.lists(vectors)
    if every is None or len(found) >= min(fetch, int(np.count_nonzero(allowed))):
        return found
    params = ann.search_params(spec, selector, every)
    _, ids = vectors.search(vector[None, :], fetch, params=params)
    return ids[0][ids[0] >= 0]
