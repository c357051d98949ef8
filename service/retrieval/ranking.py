"""How dense and keyword evidence are combined into one ranking.

Measured on the development queries and our own extra queries (EVALUATION.md):

- A passage's best *sentence* matters as well as the passage as a whole: short factual
  questions match one sentence of a long passage far better than its average.
- *Hubness* correction (CSLS): part of each passage's mean similarity to its nearest
  queries (stand-ins embedded at build time, ``indexer.passage_vectors.hubness``) is
  subtracted, so passages close to every query (the foreword) stop winning vague ones.
- *Keywords* help most when the query is in the passage's language: BM25 then rewards
  exact names and figures. Across languages most shared words are accidents, but names,
  figures and cognates ("HAECHI", "30 Days at Sea 3.0", "Lionfish") are not, so there the
  keyword weight is small rather than zero: 0.005 against 0.025. First measured over 138
  queries: 0 -> 0.01 (against 0.05) raised MRR@10 from 0.898 to 0.909 and R@5 from 0.964 to
  0.986. Both halved once the query without the reports' common words (below) made dense
  evidence better: on the four query sets weights are chosen on, MRR@10 0.950 -> 0.967,
  0.899 -> 0.934, 0.940 -> 0.946, 0.939 -> 0.947, and hybrid at least as good as dense in
  every language there; the three held-out sets 0.927 pooled either way. A plain
  equal-weight fusion was measured worse than dense alone. In an index of reports in several
  languages the query's own language gets no more weight than the others (the searcher's
  ``same_language``): it favoured the report written in it over the one that answers.
- *The query without the reports' common words* (the publisher's name: see
  :mod:`service.retrieval.common_words`) is a second query vector, whose cosines count half
  as much as the query's own (0.25 to 1 scored alike).
- *Language centring*: a multilingual model finds a query closer to any passage in its own
  language, so among reports in several languages a German question drifted to a German
  report's passages. Each passage's score loses half of the query's mean cosine to the
  passages of its report's language (the language's share of that similarity, the other
  half being the reports' shared subject), dense and sentence parts alike. With one report
  language it is the same for every passage and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Mode(StrEnum):
    """Which evidence ranks passages."""

    DENSE = "dense"
    KEYWORD = "keyword"
    HYBRID = "hybrid"

    @classmethod
    def _missing_(cls, value: object) -> Mode | None:
        """Any case, as language codes and document ids are read: "KEYWORD" was refused."""
        return cls.__members__.get(value.upper()) if isinstance(value, str) else None


@dataclass(frozen=True)
class RankingWeights:
    """Weights in units of cosine similarity (see the module docstring for why)."""

    sentence: float = 0.5
    hubness: float = 0.5
    keyword_same_language: float = 0.025
    keyword_other_language: float = 0.005
    language_centring: float = 0.5
    without_common_words: float = 0.5
    candidates: int = 100
    duplicate_cosine: float = 0.97


def blended(weights: RankingWeights, cosines: np.ndarray) -> np.ndarray:
    """Cosines to the query's vectors (a column each: the query, then, if it has one, the
    query without the reports' common words) as one cosine per row."""
    if cosines.shape[1] == 1:
        return cosines[:, 0]
    share = np.array([1.0, weights.without_common_words]) / (1 + weights.without_common_words)
    return np.asarray(cosines @ share, dtype=np.float32)


def fused_scores(
    weights: RankingWeights,
    dense: np.ndarray,
    best_sentence: np.ndarray,
    hubness: np.ndarray,
    same_language: np.ndarray,
    keyword: np.ndarray | None = None,
    language_mean: np.ndarray | None = None,
) -> np.ndarray:
    """Dense (``keyword`` None) or hybrid scores of candidate passages; higher is better.

    One entry per candidate in each array: ``dense`` is the passage cosine, ``best_sentence``
    its best sentence's (not finite for a passage without sentences, which is then its own
    best sentence), ``keyword`` the BM25 scores divided by the query's best, and
    ``same_language`` says which passages get the same-language keyword weight: those in
    the query's language when the passages that may answer are in one report language
    (none when they are in several), and ``language_mean`` the query's mean cosine to the
    passages of each candidate's report language (None: one language, nothing to centre).
    """
    best_sentence = np.where(np.isfinite(best_sentence), best_sentence, dense)
    score = dense + weights.sentence * best_sentence - weights.hubness * hubness
    if language_mean is not None:
        score = score - weights.language_centring * (1 + weights.sentence) * language_mean
    if keyword is not None:
        keyword_weight = np.where(
            same_language, weights.keyword_same_language, weights.keyword_other_language
        )
        score = score + keyword_weight * keyword
    return np.asarray(score, dtype=np.float32)
