"""Skipping near-duplicates in a ranked list (:func:`service.retrieval.distinct.distinct`)."""

from __future__ import annotations

import numpy as np

from service.retrieval.distinct import distinct, shares_words


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


def test_rows_close_in_meaning_but_not_in_words_are_both_kept():
    """Unrelated passages of one report reach a cosine of 0.958, and two editions' figure
    blocks differ only in their figures: the vectors alone would drop one of them."""
    vectors = np.tile(np.eye(1, 8, dtype=np.float32), (3, 1))  # three identical vectors
    same_as_first = {(2, 0)}  # row 2 is a copy of row 0; row 1 only means the same

    def same_words(i: int, j: int) -> bool:
        return (i, j) in same_as_first

    assert list(distinct(vectors, 0.97, same_words)) == [0, 1]
    # Past the first block too, where copies are found by one product for the block.
    block = np.tile(np.eye(1, 8, dtype=np.float32), (70, 1))
    assert list(distinct(block, 0.97, lambda i, j: i % 2 == j % 2)) == [0, 1]
    assert list(distinct(block, 0.97, lambda _i, _j: False)) == list(range(70))


def test_copies_share_their_words_and_figure_blocks_of_other_years_do_not():
    text = "L'Assemblée générale a élu Ahmed Nasser Al Raisi Président d'INTERPOL en 2021."
    assert shares_words(text, text.upper().replace("É", "E"))
    assert shares_words(text, text.replace("2021", "2022"))  # a later edition's copy
    figures_2021 = "1 016 PERSONNES 260 MISES À DISPOSITION 756 SOUS CONTRAT 114 NATIONALITÉS"
    figures_2022 = "1 051 PERSONNES 271 MISES À DISPOSITION 780 SOUS CONTRAT 117 NATIONALITÉS"
    assert not shares_words(figures_2021, figures_2022)
