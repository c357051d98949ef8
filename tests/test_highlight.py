"""Highlights drawn by :class:`service.retrieval.highlight.Highlighter` directly (the
highlights of real searches are tested with the searcher, tests/test_searcher.py)."""

from __future__ import annotations

import dataclasses

import numpy as np

from service.retrieval.highlight import Highlighter


def test_a_passage_without_sentences_is_highlighted_whole_but_for_its_heading(searcher):
    passage = dataclasses.replace(searcher.index.passages[0], section="TITRE", text="TITRE\n»")
    vector = np.zeros(searcher.index.vectors.d, dtype=np.float32)
    # -1: no sentence of it is indexed
    highlight = Highlighter(searcher.index.sentences).highlight(passage, 0, -1, vector)
    assert (highlight.text, highlight.start, highlight.end) == ("»", 6, 7)


def test_a_highlight_never_borrows_a_sentence_of_the_next_or_previous_passage(searcher):
    """At a passage's first and last sentence, the neighbour is taken inside the passage,
    even when the query is closest to the sentence across the boundary."""
    sentences = searcher.index.sentences
    counts = np.diff(sentences.offsets)
    pid = next(i for i in range(1, len(counts) - 1) if counts[i] >= 2 and counts[i + 1] >= 1)
    passage = searcher.index.passages[pid]
    first, end = int(sentences.offsets[pid]), int(sentences.offsets[pid + 1])
    for row, across, inside in ((end - 1, end, end - 2), (first, first - 1, first + 1)):
        vector = sentences.vectors[across]  # the sentence just across the boundary
        highlight = Highlighter(sentences).highlight(passage, pid, row, vector)
        spans = sentences.spans[[row, inside]]
        assert (highlight.start, highlight.end) == (spans[:, 0].min(), spans[:, 1].max())
        assert highlight.best == tuple(sentences.spans[row])
