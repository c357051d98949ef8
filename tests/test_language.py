"""Language detection is deterministic and falls back when unsure."""

import json
from pathlib import Path

import numpy as np

from indexer.language import detect_language, is_language_code, language_of

DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev.jsonl"
EXTRA = Path(__file__).resolve().parent / "data" / "queries_extra.jsonl"


def test_detects_common_query_languages():
    assert detect_language("Qui a été élu président de l'organisation cette année ?") == "fr"
    assert detect_language("Who was elected president of the organisation this year?") == "en"
    assert detect_language("¿Cuántos países miembros tiene la organización este año?") == "es"
    assert detect_language("Wie hoch waren die Ausgaben für die Terrorismusbekämpfung?") == "de"


def test_same_answer_every_time():
    text = "Operación contra el comercio ilegal de armas de fuego"
    assert len({detect_language(text) for _ in range(20)}) == 1


def test_too_little_text_gives_fallback():
    assert detect_language("2 622", fallback="fr") == "fr"
    assert detect_language("HAECHI", fallback="fr") == "fr"


def test_capitalised_french_labels_are_french():
    text = "SUCCÈS AVÉRÉ DEPUIS 2004, COMPARAISON DE PROFILS ADN FAMILIAUX, COMPARAISON DIRECTE"
    assert detect_language(text, fallback="und") == "fr"


def test_answers_match_stock_langdetect_on_passages_and_queries(searcher):
    """The numpy update must not change langdetect's answers, only their cost."""
    from langdetect import DetectorFactory, detect_langs

    from indexer.language import _DETECTORS

    DetectorFactory.seed = 0
    texts = [passage.text for passage in searcher.index.passages]
    texts += [json.loads(line)["query"] for line in DEV.read_text("utf-8").splitlines() if line]
    texts += [json.loads(line)["query"] for line in EXTRA.read_text("utf-8").splitlines() if line]
    for text in texts:
        stock = [(c.lang, c.prob) for c in detect_langs(text.lower())]
        ours = [(c.lang, c.prob) for c in _DETECTORS.probabilities(text.lower())]
        assert [lang for lang, _ in ours] == [lang for lang, _ in stock], text
        assert np.allclose([p for _, p in ours], [p for _, p in stock], atol=1e-6), text


def test_answers_among_some_languages_match_stock_langdetect_with_a_prior(searcher):
    """Keeping only the likely languages' columns must answer like langdetect over all 55
    profiles told, by a prior of zero, to leave the others out."""
    from langdetect import DetectorFactory
    from langdetect.detector_factory import PROFILES_DIRECTORY

    from indexer.language import _DETECTORS

    likely = ("fr", "en", "es", "de", "ar")
    stock_factory = DetectorFactory()
    stock_factory.load_profile(PROFILES_DIRECTORY)
    stock_factory.set_seed(0)
    texts = [passage.text for passage in searcher.index.passages]
    texts += [json.loads(line)["query"] for line in DEV.read_text("utf-8").splitlines() if line]
    texts += [json.loads(line)["query"] for line in EXTRA.read_text("utf-8").splitlines() if line]
    for text in texts:
        detector = stock_factory.create()
        detector.set_prior_map(dict.fromkeys(likely, 1.0))
        detector.append(text.lower())
        stock = [(c.lang, c.prob) for c in detector.get_probabilities()]
        ours = [(c.lang, c.prob) for c in _DETECTORS.probabilities(text.lower(), likely)]
        assert [lang for lang, _ in ours] == [lang for lang, _ in stock], text
        assert np.allclose([p for _, p in ours], [p for _, p in stock], atol=1e-9), text


def test_languages_without_a_profile_give_the_fallback():
    assert detect_language("Qui a été élu président de l'organisation ?", "und", ["xx"]) == "und"


def test_detection_limited_to_likely_languages():
    likely = ("fr", "en", "es", "de")
    question = "Wer koordinierte die Operation Thunder gemeinsam mit INTERPOL?"
    assert detect_language(question, "und", likely) == "de"
    assert detect_language("secure cloud and regional data centres", "und", likely) == "en"
    # Nothing outside the list, however strong the evidence: the caller chose the languages.
    assert detect_language("Chi ha vinto le elezioni del presidente?", "und", likely) in {
        *likely,
        "und",
    }


def test_only_words_in_capitals_are_lower_cased(searcher):
    likely = ("fr", "en", "es", "de", "ar")
    # Lower-cased whole, this French question read as Spanish; its acronym alone is not
    # what misleads langdetect, its other words' case helps it.
    question = "Combien de pays membres compte INTERPOL ?"
    assert detect_language(question.lower(), "und", likely) == "es"
    assert detect_language(question, "und", likely) != "es"
    assert searcher.query_language(question) == "fr"
    # A heading in capitals is still read as the words it spells, not as German.
    assert detect_language("ÉLECTION DU NOUVEAU PRÉSIDENT ET DU COMITÉ", "und", likely) == "fr"


def test_a_region_of_three_digits_is_a_language_code():
    """BCP 47's "es-419" (Latin American Spanish, as browsers send it) was refused."""
    assert is_language_code("es-419") and language_of("es-419") == "es"
    assert not is_language_code("es-4190") and not is_language_code("es-41")
