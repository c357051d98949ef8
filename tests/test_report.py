"""The real report: parsing and chunking invariants."""

from __future__ import annotations

import re

import pytest

from indexer.corpus import load_corpus
from indexer.parsing import parse_report
from indexer.passage_vectors import passages_for
from indexer.text import fold, word_count
from tests.conftest import CORPUS, REPORT

TEXT = REPORT.read_text("utf-8")


@pytest.fixture(scope="module")
def passages():
    return passages_for(load_corpus(CORPUS))


def test_every_url_of_the_report_is_attached(passages):
    urls = set(re.findall(r"https?://\S+", TEXT))
    attached = {u for p in passages for u in p.source_urls}
    assert len(urls) > 60
    assert urls <= attached


def test_urls_only_come_from_their_own_page(passages):
    pages = {p.number: set(p.urls) for p in parse_report(TEXT)}
    for passage in passages:
        assert set(passage.source_urls) == pages[passage.page]


def test_passages_are_readable_size(passages):
    sizes = [word_count(p.text) for p in passages]
    assert max(sizes) <= 350
    assert sum(sizes) / len(sizes) >= 60


def test_no_duplicated_passages_and_unique_ids(passages):
    assert len({fold(p.text) for p in passages}) == len(passages)
    assert len({p.id for p in passages}) == len(passages)


def test_known_headings_found(passages):
    sections = {p.section for p in passages}
    for heading in (
        "ÉLECTION DU NOUVEAU PRÉSIDENT ET DE 11 MEMBRES DU COMITÉ EXÉCUTIF",
        "OPÉRATION FLYCATCHER II : DÉMÊLER LES RÉSEAUX TERRORISTES DE SRI LANKA",
        "ACADÉMIE VIRTUELLE D’INTERPOL",
        "I-SOP : METTRE UN TERME AU PIRATAGE EN LIGNE",
    ):
        assert heading in sections


def test_no_text_lost(passages):
    """Every prose word of the report survives parsing and chunking (URLs and the row of
    social-media handles aside)."""
    from indexer.parsing.urls import is_social_row

    texts = fold(" ".join(p.text for p in passages))
    titles = fold(" ".join(p.section for p in passages))
    for line in TEXT.splitlines():
        line = line.strip()
        prose = not line.startswith("http") and not line.endswith("-")
        if word_count(line) >= 6 and prose and not is_social_row(line):
            assert fold(line) in texts or fold(line) in titles, line


@pytest.mark.parametrize(
    ("phrase", "slug"),
    [
        ("a élu Ahmed Nasser Al Raisi", "elit-un-nouveau-President"),
        ("L’opération Pangea XIV", "fausses-pharmacies"),
        ("lors de l’opération Ikatere", "stocks-de-poissons"),
        ("l’opération SOGA VIII", "SOGA-VIII"),
        ("l’opération Thunder a permis", "especes-sauvages-et-de-bois"),
        # Words alone gave each of these two the other's article: the Moroccan arrest's item
        # speaks of "un autre cybermalfaiteur très actif", Cyclone's headline of "un réseau
        # très actif de cybermalfaiteurs".
        ("de la police marocaine", "police-marocaine-arrete"),
        ("Six malfaiteurs soupçonnés", "reseau-tres-actif-de-cybermalfaiteurs"),
        ("Forum de haut niveau d’INTERPOL sur les rançongiciels", "pandemie-de-rancongiciels"),
    ],
)
def test_best_matching_article_is_listed_first(searcher, phrase, slug):
    """Sources are ordered once the passages are embedded: the built index's passages."""
    passage = next(p for p in searcher.index.passages if phrase in p.text)
    assert slug in passage.source_urls[0]
