"""Deterministic language detection with a fallback for text too short to judge."""

from __future__ import annotations

import threading

from langdetect import DetectorFactory, LangDetectException, detect_langs

from indexer.text import words

# langdetect samples at random; a fixed seed makes the same text always get the same answer.
DetectorFactory.seed = 0
_LOCK = threading.Lock()
_MIN_LETTER_WORDS = 3
_MIN_PROBABILITY = 0.70


def detect_language(text: str, fallback: str = "und") -> str:
    """ISO 639-1 code of ``text``, or ``fallback`` when detection is unsure.

    Numbers and labels (stat blocks) or a two-word query carry too little signal, and
    langdetect then guesses wildly; the caller's fallback (the document's language for a
    passage) is a better answer than a guess. Text is lower-cased first: langdetect's
    profiles are of running text, and headings in capitals otherwise read as German.
    """
    if sum(1 for w in words(text) if any(c.isalpha() for c in w)) < _MIN_LETTER_WORDS:
        return fallback
    try:
        with _LOCK:  # the shared seeded factory is not thread-safe
            candidates = detect_langs(text.lower())
    except LangDetectException:
        return fallback
    best = candidates[0]
    return best.lang if best.prob >= _MIN_PROBABILITY else fallback
