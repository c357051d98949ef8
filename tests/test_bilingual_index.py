"""Two reports in two languages in one index: the French report beside a German one (a
fictional customs report in Markdown, tests/data/reports), built as an operator would."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from indexer import ann
from indexer.build import build_index
from indexer.settings import Settings
from service.cli import app as search_app
from service.evaluation import load_queries, matching_form
from service.evaluation.metrics import first_relevant
from service.retrieval.filters import SearchFilters
from service.retrieval.ranking import Mode, RankingWeights
from service.searcher import Searcher

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def bilingual_dir(settings: Settings, index_dir: Path, tmp_path_factory) -> Path:
    """The real index copied, its embedding cache with it, so that the build embeds the
    German report's texts only."""
    root = tmp_path_factory.mktemp("bilingual")
    corpus = root / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    for name in ("zoll-2023-de.md", "zoll-2023-de.json"):
        shutil.copy(DATA / "reports" / name, corpus / name)
    index = root / "index"
    shutil.copytree(index_dir, index, symlinks=True)
    build_index(settings, corpus, index)
    return index


@pytest.fixture(scope="module")
def bilingual(settings: Settings, bilingual_dir: Path) -> Searcher:
    return Searcher.open(settings, bilingual_dir)


def _mrr(searcher: Searcher, queries: list) -> float:
    ranks = [
        first_relevant([h.passage for h in searcher.search(q.query, k=10).hits], q.answers)
        for q in queries
    ]
    return float(np.mean([0 if r is None else 1 / (r + 1) for r in ranks]))


def test_questions_are_not_drawn_to_the_report_written_in_their_language(bilingual, searcher):
    """A multilingual model finds a query closer to any passage in its own language: beside
    a German report, German questions about the French report found German passages first
    (MRR@10 0.89 alone, 0.65 beside it). Scores centred on each report language's mean
    passage give back much of it, and the German report's own questions keep their answers."""
    sets = ["queries_extra", "queries_blind", "queries_final", "queries_fresh"]
    german = [q for name in sets for q in load_queries(DATA / f"{name}.jsonl") if q.lang == "de"]
    uncentred = Searcher(
        bilingual.index,
        bilingual.encoder,
        RankingWeights(language_centring=0.0),
        bilingual.query_languages,
    )
    alone, centred, plain = (_mrr(s, german) for s in (searcher, bilingual, uncentred))
    assert centred >= plain + 0.05, (alone, centred, plain)
    zoll = load_queries(DATA / "queries_zoll.jsonl")
    assert _mrr(bilingual, zoll) >= _mrr(uncentred, zoll) >= 0.8


def test_filtered_to_one_report_a_search_ranks_as_in_an_index_of_it_alone(bilingual, searcher):
    """Centring shifts every passage of a language alike: among one report's passages it
    changes nothing, so a document filter gives the one-report ranking back (dense: keyword
    scores depend on the words of every report indexed)."""
    query = "Wie viele Mitglieder hat das Exekutivkomitee?"
    alone = searcher.search(query, k=10, mode=Mode.DENSE).hits
    only = SearchFilters(document="interpol-2021-fr")
    filtered = bilingual.search(query, k=10, filters=only, mode=Mode.DENSE).hits
    assert [(h.passage.id, h.score) for h in filtered] == [(h.passage.id, h.score) for h in alone]


def test_a_small_report_language_is_searched_exactly_in_an_ivf_index(bilingual):
    """An IVF index looks in the regions nearest the query only: a report of few passages
    that none of them holds got no candidate at all, whatever centring would have made of
    it."""
    index = bilingual.index
    spec = ann.AnnSpec("IVF8,Flat", nprobe=1)
    ivf = ann.build(index.vectors.reconstruct_n(0, index.vectors.ntotal), spec)
    ann.prepare(ivf, spec)
    manifest = dataclasses.replace(index.manifest, faiss_index=spec.factory, faiss_nprobe=1)
    searcher = Searcher(
        dataclasses.replace(index, manifest=manifest, vectors=ivf), bilingual.encoder
    )
    german = [i for i, p in enumerate(index.passages) if p.document == "zoll-2023-de"]
    for query in ("Qui a été élu Président d'INTERPOL ?", "Kokain im Hamburger Hafen"):
        vectors = bilingual.encoder.encode_queries([query])  # the query's text alone
        pool = searcher._dense_candidates(vectors, None, 100)
        assert set(german) <= set(pool.tolist()), query


def test_each_report_language_gets_its_own_candidates(bilingual):
    """Candidates are the nearest passages in each report language: a language whose
    passages all sit below the other's by raw cosine still has its front-runners scored."""
    query = "Kokain im Hamburger Hafen"
    vectors = bilingual.encoder.encode_queries([query])  # the query's text alone
    pool = bilingual._dense_candidates(vectors, None, 5)
    documents = {bilingual.index.passages[i].document for i in pool}
    assert documents == {"interpol-2021-fr", "zoll-2023-de"} and len(pool) == 10


def test_every_answer_and_url_of_the_german_reports_questions_is_in_it():
    text = (DATA / "reports" / "zoll-2023-de.md").read_text("utf-8")
    queries = load_queries(DATA / "queries_zoll.jsonl")
    assert {q.lang for q in queries} == {"fr", "en", "es", "de"}
    for query in queries:
        assert any(matching_form(a) in matching_form(text) for a in query.answers), query.id
        assert query.url is None or query.url in text, query.id


def test_a_chapter_filter_finds_the_articles_under_it(bilingual):
    """A Markdown report says how its headings nest: "# Kapitel 2" is over "## Rauschgift",
    itself over "### Kokain aus Südamerika"; filtering on the chapter found only the text
    right under its heading."""
    only = SearchFilters(document="zoll-2023-de", section="kapitel 2")
    hits = bilingual.search("Zigaretten", k=10, filters=only).hits
    # (The chapter's own two sentences are joined to the passage under it.)
    assert {h.passage.section for h in hits} == {
        "Kokain aus Südamerika",
        "Zigarettenschmuggel",
        "Waffen und Sprengstoff",
    }
    cocaine = next(h.passage for h in hits if h.passage.section == "Kokain aus Südamerika")
    assert cocaine.chapters == ("Kapitel 2: Bekämpfung der Schmuggelkriminalität", "Rauschgift")
    # The French report's headings, in capitals, tell no depth: it has no chapters.
    assert all(not p.chapters for p in bilingual.index.passages if p.document != "zoll-2023-de")


def test_the_outline_nests_sections_under_their_chapters(bilingual_dir):
    result = CliRunner().invoke(
        search_app, ["outline", "zoll-2023-de", "--index", str(bilingual_dir)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    chapter = lines.index("        Kapitel 2: Bekämpfung der Schmuggelkriminalität")
    assert lines[chapter + 1] == "          Rauschgift"
    assert lines[chapter + 2] == "  p. 4      Kokain aus Südamerika  (1 passage)"
    assert lines[chapter + 3] == "              also: Synthetische Drogen"
    assert lines[chapter + 4] == "  p. 5    Zigarettenschmuggel  (1 passage)"
    described = CliRunner().invoke(
        search_app, ["outline", "zoll-2023-de", "--json", "--index", str(bilingual_dir)]
    )
    sections = {s["title"]: s for s in json.loads(described.output)["sections"]}
    assert sections["Zigarettenschmuggel"]["chapters"] == [
        "Kapitel 2: Bekämpfung der Schmuggelkriminalität"
    ]
    assert "Rauschgift" not in sections["Kokain aus Südamerika"]["also"]
