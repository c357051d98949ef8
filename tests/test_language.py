"""Language detection is deterministic and falls back when unsure."""

from indexer.language import detect_language


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
