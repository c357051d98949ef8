"""Skipping near-duplicates in a ranked list (:func:`service.retrieval.distinct.distinct`)."""

from __future__ import annotations

import numpy as np

from service.retrieval.distinct import distinct


def test_a_cosine_just_under_the_duplicate_threshold_is_kept_past_the_first_block():
    """Copies are skipped a block at a time, by one product for the block: its float32
    rounding must not drop a passage that the one-by-one check keeps (cosine 0.95 in float32
    is 0.9499999881, under a threshold of 0.95)."""
    dimension = 70
    vectors = np.zeros((65, dimension), np.float32)
    vectors[np.arange(64), np.arange(64)] = 1  # 64 unrelated passages fill the first block
    cosine = np.float32(0.95)
    vectors[64, 0], vectors[64, 64] = cosine, np.sqrt(1 - np.float64(cosine) ** 2)
    assert list(distinct(vectors, duplicate_cosine=0.95)) == list(range(65))
    vectors[64] = vectors[0]  # a copy past the first block is still skipped
    assert list(distinct(vectors, duplicate_cosine=0.95)) == list(range(64))
