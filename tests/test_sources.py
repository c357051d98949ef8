"""Source URL ranking."""

from indexer.sources import SourceRanker, is_social

URLS = (
    "https://twitter.com/INTERPOL_HQ/status/1",
    "https://www.interpol.int/fr/Actualites/2021/Arrestation-de-286-personnes-traite",
    "https://www.interpol.int/fr/Actualites/2021/L-operation-Weka-a-mobilise-24-pays",
    "https://www.youtube.com/watch?v=abc",
)


DOCUMENT = [
    "L'opération Weka a mobilisé 24 pays d'origine.",
    "Arrestations de personnes lors d'une opération",
    "Une opération de plus, sans rapport.",
]


def rank_source_urls(text, urls, title=""):
    return SourceRanker(DOCUMENT).rank(text, urls, title)


def test_best_slug_match_first_and_social_last():
    ranked = rank_source_urls("L'opération Weka a mobilisé 24 pays d'origine.", URLS)
    assert ranked[0] == URLS[2]
    assert set(ranked) == set(URLS)
    assert all(is_social(u) for u in ranked[-2:])


def test_accents_and_plural_match_slug_words():
    ranked = rank_source_urls("Arrestations de personnes lors d'une opération", URLS)
    assert ranked[0] == URLS[1]


def test_no_match_keeps_report_order_for_articles():
    ranked = rank_source_urls("Rien à voir.", URLS)
    assert ranked == (URLS[1], URLS[2], URLS[0], URLS[3])


def test_section_title_words_count_more():
    urls = (
        "https://www.interpol.int/fr/2021/L-Assemblee-elit-un-nouveau-President",
        "https://www.interpol.int/fr/2021/L-Assemblee-s-acheve-sur-un-mandat",
    )
    text = "L'Assemblée a élu un président pour un mandat de quatre ans."
    ranker = SourceRanker([text, "Le président parle.", "Un nouveau président.", "Autre."])
    assert ranker.rank(text, urls)[0] == urls[1]  # "mandat" is rarer than "président"
    assert ranker.rank(text, urls, "ÉLECTION DU NOUVEAU PRÉSIDENT")[0] == urls[0]
