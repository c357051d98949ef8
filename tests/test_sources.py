"""Source URL order: words shared with the slug and the headline's meaning.

Vectors here are hand-made unit vectors standing for embeddings, so each test says exactly
what the model would have seen; the real report's order is tested on the built index
(tests/test_report.py).
"""

from urllib.parse import quote

import numpy as np

from indexer.passage import Passage
from indexer.sources import article_urls, headline, is_social, order_sources
from tests.conftest import a_passage

WEKA = "https://www.interpol.int/fr/Actualites/2021/L-operation-Weka-a-mobilise-24-pays"
ARRESTS = "https://www.interpol.int/fr/Actualites/2021/Arrestation-de-286-personnes-traite"
TWEET = "https://twitter.com/INTERPOL_HQ/status/1463417455980818435"
VIDEO = "https://www.youtube.com/watch?v=abc"
PAGE = (TWEET, ARRESTS, WEKA, VIDEO)


def passage(text: str, page: int = 1, section: str = "", urls: tuple[str, ...] = PAGE) -> Passage:
    return a_passage(text, f"doc-p{page:03d}-{text[:8]}", page, section, urls=urls)


def ordered(passages: list[Passage], vectors=None, headlines=None) -> list[tuple[str, ...]]:
    """URL orders by words alone unless vectors are given."""
    vectors = np.zeros((len(passages), 2), np.float32) if vectors is None else vectors
    return [p.source_urls for p in order_sources(passages, vectors, headlines or {})]


def test_best_slug_match_first_and_social_last():
    (urls,) = ordered([passage("L'opération Weka a mobilisé 24 pays d'origine.")])
    assert urls[0] == WEKA and set(urls) == set(PAGE)
    assert all(is_social(u) for u in urls[-2:])


def test_accents_and_plural_match_slug_words():
    (urls,) = ordered([passage("Arrestations de personnes lors d'une opération")])
    assert urls[0] == ARRESTS


def test_no_evidence_keeps_the_reports_order_for_articles():
    assert ordered([passage("Rien à voir.")]) == [(ARRESTS, WEKA, TWEET, VIDEO)]


def test_one_article_still_puts_social_links_last():
    assert ordered([passage("Rien.", urls=(VIDEO, WEKA))]) == [(WEKA, VIDEO)]


def test_section_title_words_count_more():
    urls = (
        "https://www.interpol.int/fr/2021/L-Assemblee-elit-un-nouveau-President",
        "https://www.interpol.int/fr/2021/L-Assemblee-s-acheve-sur-un-mandat",
    )
    text = "L'Assemblée a élu un président pour un mandat de quatre ans."
    others = [passage(t, page=2) for t in ("Le président parle.", "Un nouveau président.")]
    plain = ordered([passage(text, urls=urls), *others])[0]
    titled = ordered([passage(text, section="ÉLECTION DU NOUVEAU PRÉSIDENT", urls=urls), *others])
    assert plain[0] == urls[1]  # "mandat" is rarer than "président"
    assert titled[0][0] == urls[0]


def _with_meaning(item: Passage, cosines: tuple[float, float]) -> list[tuple[str, ...]]:
    """``item``'s URL order when its cosines to its two headlines are ``cosines``, in a
    document whose other page spreads its passages' cosines by 0.1 (the usual spread)."""
    first, second = item.source_urls
    others = [f"https://www.interpol.int/fr/2021/Autre-{n}" for n in ("un", "deux")]
    items = [item, passage("Autre.", page=2, urls=tuple(others))]
    headlines = dict(zip([first, second, *others], np.eye(4), strict=True))
    vectors = np.array([[*cosines, 0.0, 0.0], [0.0, 0.0, 0.5, 0.4]], np.float32)
    return ordered(items, vectors, headlines)[:1]


def test_the_headlines_meaning_decides_where_words_mislead():
    """The item shares "très actif" and "cybermalfaiteur" with the other article's headline."""
    network = (
        "https://www.interpol.int/fr/2021/Demantelement-d-un-reseau-tres-actif-de-cybermalfaiteurs"
    )
    morocco = "https://www.interpol.int/fr/2021/La-police-marocaine-arrete-un-suspect"
    item = passage("Un cybermalfaiteur très actif arrêté au Maroc.", urls=(network, morocco))
    assert ordered([item]) == [(network, morocco)]  # words alone
    assert _with_meaning(item, (0.70, 0.85)) == [(morocco, network)]


def test_a_tiny_gap_in_meaning_does_not_outweigh_the_words():
    """With two URLs, standardising over the passage's own URLs made any gap one standard
    deviation: a cosine 0.001 apart beat an operation's name spelled out in the slug."""
    pangea = "https://www.interpol.int/fr/2021/Pangea-XIV-fausses-pharmacies"
    other = "https://www.interpol.int/fr/2021/Une-autre-operation"
    item = passage("L'opération Pangea XIV a visé les fausses pharmacies.", urls=(pangea, other))
    assert _with_meaning(item, (0.800, 0.801)) == [(pangea, other)]


def test_slug_words_match_in_any_script():
    """Words were runs of ASCII letters and digits: an item in Russian or Arabic shared no
    word with any slug, and its article kept the report's place instead of coming first."""
    news = "https://www.interpol.int/ar/%D8%A7%D9%84%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1"
    for text, other, article in (
        (
            "Операция полиции в Марокко: арестованы 12 человек.",
            "https://www.interpol.int/ru/Новости/Конференция-в-Лионе",
            "https://www.interpol.int/ru/Новости/Операция-полиции-в-Марокко",
        ),
        (
            "عملية الشرطة في المغرب أدت إلى توقيف 12 شخصا.",
            f"{news}/{quote('مؤتمر-في-ليون')}",
            f"{news}/{quote('عملية-الشرطة-في-المغرب')}",
        ),
    ):
        assert ordered([passage(text, urls=(other, article))]) == [(article, other)]


def test_headlines_are_the_slugs_words():
    assert headline(WEKA) == "L operation Weka a mobilise 24 pays"
    assert headline("https://www.interpol.int/fr/Qui%20nous/R%C3%A9seau_Alliance/") == (
        "Réseau Alliance"
    )
    assert headline("https://www.interpol.int/fr") == ""  # a language code, not a headline
    assert headline(TWEET) == ""  # an id
    assert article_urls([passage("x")]) == sorted([ARRESTS, WEKA])


def test_a_url_that_cannot_be_read_is_no_article_and_does_not_stop_the_ordering():
    """``urlsplit`` raises ValueError on a host's unbalanced bracket: a build crashed here."""
    bad = ("https://[2001:db8::1/Operation-Weka", "https://www.interpol.int]/fr/Weka-24-pays")
    assert not any(is_social(url) for url in bad)
    assert [headline(url) for url in bad] == ["", ""]
    item = passage("L'opération Weka a mobilisé 24 pays.", urls=(*bad, WEKA, TWEET))
    assert article_urls([item]) == [WEKA]
    assert ordered([item]) == [(WEKA, *bad, TWEET)]
