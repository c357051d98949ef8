"""Source URL ranking."""

from indexer.sources import is_social, rank_source_urls

URLS = (
    "https://twitter.com/INTERPOL_HQ/status/1",
    "https://www.interpol.int/fr/Actualites/2021/Arrestation-de-286-personnes-traite",
    "https://www.interpol.int/fr/Actualites/2021/L-operation-Weka-a-mobilise-24-pays",
    "https://www.youtube.com/watch?v=abc",
)


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
