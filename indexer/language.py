"""Deterministic language detection with a fallback for text too short to judge."""

from __future__ import annotations

import os
import threading
from collections.abc import Collection
from typing import Any

import numpy as np
from langdetect import DetectorFactory, LangDetectException
from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY

from indexer.text import words

_MIN_LETTER_WORDS = 3
_MIN_PROBABILITY = 0.70


class _NumpyDetector(Detector):  # type: ignore[misc]
    """langdetect's own Detector, with its per-n-gram update done on numpy arrays.

    Why: langdetect multiplies 55 Python floats per sampled n-gram, ~500 samples for a short
    query: ~4 ms of pure Python holding the GIL, as long as the rest of a search apart from
    the encoder. The algorithm, the seeded draws and the convergence test stay langdetect's,
    so the answers do too (tests compare both on every passage and query), in ~2 ms.
    """

    def __init__(self, factory: DetectorFactory, vectors: dict[str, np.ndarray]) -> None:
        super().__init__(factory)
        self._vectors = vectors

    def _init_probability(self) -> np.ndarray:
        return np.asarray(super()._init_probability(), dtype=np.float64)

    def _update_lang_prob(self, prob: np.ndarray, word: str | None, alpha: float) -> bool:
        if word is None:
            return False
        vector = self._vectors.get(word)
        if vector is None:
            probabilities = self.word_lang_prob_map.get(word)
            if probabilities is None:
                return False
            vector = self._vectors[word] = np.asarray(probabilities, dtype=np.float64)
        prob *= alpha / self.BASE_FREQ + vector
        return True

    def _normalize_prob(self, prob: np.ndarray) -> float:
        prob /= prob.sum()
        return float(prob.max())


class _Detectors:
    """langdetect's profiles loaded once, seeded so the same text always gets the same answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._factory: DetectorFactory | None = None
        # n-gram -> probabilities per language, converted on first use (profiles hold ~170k).
        self._vectors: dict[str, np.ndarray] = {}

    def probabilities(self, text: str, languages: Collection[str] = ()) -> list[Any]:
        """langdetect's ranked guesses, among ``languages`` only if any are given."""
        detector = _NumpyDetector(self._loaded(), self._vectors)
        if languages:
            # A prior of zero keeps a language out: every update multiplies its probability.
            detector.set_prior_map(dict.fromkeys(languages, 1.0))
        detector.append(text)
        return list(detector.get_probabilities())

    def _loaded(self) -> DetectorFactory:
        with self._lock:
            if self._factory is None:
                factory = DetectorFactory()
                factory.load_profile(PROFILES_DIRECTORY)
                factory.set_seed(0)
                self._factory = factory
            return self._factory


_DETECTORS = _Detectors()


def supported_languages() -> frozenset[str]:
    """Codes :func:`detect_language` can return besides a fallback: one profile file each."""
    return frozenset(os.listdir(PROFILES_DIRECTORY))


def detect_language(text: str, fallback: str = "und", languages: Collection[str] = ()) -> str:
    """ISO 639-1 code of ``text``, or ``fallback`` when detection is unsure.

    ``languages`` limits the answer to those languages (all of langdetect's 55 when empty).
    On a few words langdetect easily lands on a neighbour of the right language (German
    questions read as Afrikaans, English as Italian, French as Catalan or Danish): when the
    likely languages are known, choosing among them is far more reliable.

    Numbers and labels (stat blocks) or a two-word query carry too little signal, and
    langdetect then guesses wildly; the caller's fallback (the document's language for a
    passage) is a better answer than a guess. Text is lower-cased first: langdetect's
    profiles are of running text, and headings in capitals otherwise read as German.
    """
    if sum(1 for w in words(text) if any(c.isalpha() for c in w)) < _MIN_LETTER_WORDS:
        return fallback
    try:
        candidates = _DETECTORS.probabilities(text.lower(), languages)
    except LangDetectException:
        return fallback
    if not candidates:
        return fallback
    best = candidates[0]
    return str(best.lang) if best.prob >= _MIN_PROBABILITY else fallback
