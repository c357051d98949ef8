"""The search core without the web: ranking evidence, highlights, duplicates, languages."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable

import numpy as np
import pytest

from indexer import ann
from indexer.language import supported_languages
from indexer.parsing import parse_report
from indexer.passage import Passage
from indexer.text import canonical, clean_text, fold, sentence_spans, strip_accents, word_count
from service.retrieval.filters import PassageColumns, SearchFilters
from service.retrieval.keyword import KeywordIndex, terms_of, words_of
from service.retrieval.query import InvalidQueryError, model_text, validate_query
from service.retrieval.ranking import Mode, RankingWeights, fused_scores
from service.searcher import Searcher
from tests.conftest import REPORT


def analyse(text: str) -> list[str]:
    """The keyword terms of ``text`` in the French report's analysis."""
    return terms_of(words_of(text), "fr")


def test_analyser_folds_accents_elisions_and_grouped_numbers():
    assert analyse("l’opération") == analyse("operation")
    assert analyse("d'INTERPOL") == ["interpol"]
    assert analyse("135 000 personnes") == analyse("135000 personne")
    assert analyse("135,000") == analyse("135\u202f000")
    assert analyse("68,9 %") == analyse("68.9%") == ["68_9"]
    assert analyse("7,9 millions") != analyse("7 9 millions")
    assert analyse("les de the der el") == []
    # Typed without accents, a word must give the same term: the stemmer cuts accented and
    # plain spellings differently when accents go only after it.
    for accented in ("criminalité", "données", "sécurité", "capacités", "activités"):
        assert analyse(accented) == analyse(strip_accents(accented)), accented
    # One figure per line in a stat block: not one long number across the lines.
    assert analyse("585\n1 003\n892") == ["585", "1003", "892"]


def test_an_ordinal_is_its_number_in_every_query_language():
    report = analyse("la 19ème base de données, le 1er pays, la 2e édition")
    for typed in ("19th", "19.", "19e", "19eme", "19ÈME", "19ième"):
        assert analyse(typed) == ["19"], typed
        assert analyse(typed)[0] in report
    assert {"1", "2"} <= set(report) and analyse("2nde") == ["2"]
    # Only a whole token: a name ending in digits and letters keeps them, and an article or
    # annex number ("5a") is not an ordinal.
    assert "19" not in analyse("covid19e ab19th")
    assert "5" not in analyse("article 5a")


def test_analyser_reads_pasted_and_decomposed_text_as_typed():
    # macOS and some PDFs write accents as combining marks; PDFs carry soft hyphens and
    # zero-width spaces inside words.
    assert analyse(unicodedata.normalize("NFD", "Élection du président")) == analyse(
        "Élection du président"
    )
    assert analyse("HAE\u00adCHI pê\u200bche") == analyse("HAECHI pêche")


def test_joiners_spell_words_in_the_text_and_match_whether_typed_or_not():
    """Zero-width non-joiners and joiners are spelling (Persian, Indic scripts) and emoji:
    dropped with the other invisible characters, they changed every passage that had them."""
    persian, emoji = "می\u200cخواهم", "\U0001f469\u200d\U0001f52c"
    assert clean_text(f"{persian} {emoji}\u200b") == f"{persian} {emoji}"
    assert validate_query(persian) == persian
    assert analyse(persian) == analyse("میخواهم") == ["میخواهم"]
    assert fold(persian) == fold("میخواهم")


def test_query_is_read_in_canonical_form():
    assert validate_query(unicodedata.normalize("NFD", " pêche ")) == "pêche"
    assert validate_query("HAECHI\x0cfraude\u200b") == "HAECHI\nfraude"
    # A soft hyphen between a letter and its accent no longer keeps them from composing.
    assert validate_query("e\u00ad\u0301lu") == "élu"
    for text in ("e\u00ad\u0301lu", "\ufb01\u0301n", "fin\u0301"):
        read = canonical(text)
        assert unicodedata.is_normalized("NFC", read) and canonical(read) == read
    for blank in ("\u200b\u200b", "\ufeff", " \u00ad "):
        with pytest.raises(InvalidQueryError, match="empty"):
            validate_query(blank)
    with pytest.raises(InvalidQueryError, match="control characters"):
        validate_query("HAE\x00CHI")


@pytest.mark.parametrize(
    ("query", "said"),
    [
        # Stripping would remove these at the ends (str.strip counts them as spaces).
        ("\x85HAECHI", "control characters"),
        ("HAECHI\x1f", "control characters"),
        # Not text at all: a lone surrogate (a broken UTF-16 pair) reaches no tokenizer.
        ("caf\udce9", "not valid Unicode"),
        ("\ud800", "not valid Unicode"),
        # Nothing to search for: arbitrary passages would come back.
        ("\ue000", "no letters or digits"),
        ("?!", "no letters or digits"),
        # The limit counts what was sent, spaces included, as the API's schema does.
        (" " * 5 + "a" * 1000, "at most 1000 characters"),
    ],
)
def test_queries_that_are_no_text_to_search_are_refused(query, said):
    with pytest.raises(InvalidQueryError, match=said):
        validate_query(query)


def test_a_question_typed_in_capitals_finds_what_it_finds_in_ordinary_case(searcher):
    question = "Wer wurde zum Präsidenten von INTERPOL gewählt?"
    ordinary = searcher.search(question, k=1, mode=Mode.DENSE).hits[0].passage.id
    shouted = searcher.search(question.upper(), k=1, mode=Mode.DENSE)
    assert shouted.hits[0].passage.id == ordinary
    assert shouted.query == question.upper()  # echoed as typed
    # Acronyms are not shouting: alone, or in a sentence, they stay as typed.
    for typed in ("HAECHI", "I-SOP 2021", "Qu'est-ce que I-SOP ?", "ما هي عملية HAECHI INTERPOL"):
        assert model_text(typed) == typed


def _keyword_index(*texts: str) -> KeywordIndex:
    return KeywordIndex([words_of(text) for text in texts])


def test_keyword_index_scores_exact_names():
    index = _keyword_index("L’opération HAECHI-II", "La pêche illégale", "Rien à voir")
    scores = index.scores("haechi")
    assert scores[0] > 0 and scores[1] == scores[2] == 0
    assert not index.scores("the of").any()


def test_a_figure_is_never_taken_for_a_nearly_equal_one():
    index = _keyword_index("Il a obtenu 68,9 % des voix", "216 arrestations")
    assert index.query_terms("168,9 % 2160") == ["168_9", "2160"]
    assert not index.scores("168,9").any()


def test_unknown_query_words_match_their_corpus_cognates():
    index = _keyword_index("Le Vatican est membre", "Un commerce illégal", "Il a révélé le réseau")
    assert index.query_terms("Vatikan ilegal") == ["vatican", "illegal"]
    scores = index.scores("Vatikan")
    assert scores[0] > 0 and scores[1] == scores[2] == 0
    # Not every near-miss: "level" is only 80 % like "revel" (révélé), below the bar.
    assert not index.scores("level").any()


def test_a_name_spelled_the_german_way_finds_the_french_list(searcher):
    hit = searcher.search("Vatikan INTERPOL Mitglied?", k=1, mode=Mode.KEYWORD).hits[0]
    assert "Vatican (État de la Cité du)" in hit.passage.text


def test_every_hit_highlights_a_sentence_of_its_text(searcher):
    result = searcher.search("Combien de suspects ont été arrêtés pour faux vaccins ?", k=5)
    for hit in result.hits:
        h = hit.highlight
        assert hit.passage.text[h.start : h.end] == h.text
        assert 0 < len(h.text) <= len(hit.passage.text)
    assert "80 suspects" in result.hits[0].highlight.text


def test_a_long_list_highlights_the_part_that_matches(searcher):
    """The 195 member countries are one unpunctuated "sentence"; the highlight is made of
    pieces of it (two of at most 40 words), not the whole list."""
    hit = searcher.search("Vatican (État de la Cité du)", k=1, mode=Mode.KEYWORD).hits[0]
    assert "Vatican" in hit.highlight.text
    assert len(hit.highlight.text.split()) <= 80 < len(hit.passage.text.split())


def test_no_near_duplicates_in_one_result_list(searcher):
    vectors = searcher.index.vectors.reconstruct_n(0, searcher.index.vectors.ntotal)
    result = searcher.search("INTERPOL", k=50)
    ids = [searcher.index.passages.index(h.passage) for h in result.hits]
    sims = vectors[ids] @ vectors[ids].T
    np.fill_diagonal(sims, 0)
    assert sims.max() < searcher.weights.duplicate_cosine
    assert len({fold(h.passage.text) for h in result.hits}) == len(result.hits)


def _copied(
    searcher: Searcher,
    copies: int | list[int],
    weights: RankingWeights | None = None,
    ann_spec: ann.AnnSpec | None = None,
) -> Searcher:
    """``searcher``'s index with every passage ``copies`` times (new ids, same text and
    vectors): a corpus of yearly editions that repeat whole passages; or, given a list of
    passage positions, the index followed by copies of those. Exact search unless
    ``ann_spec`` says otherwise."""
    index = searcher.index
    n = len(index.passages)
    rows = list(range(n)) * copies if isinstance(copies, int) else [*range(n), *copies]
    vectors = index.vectors.reconstruct_n(0, index.vectors.ntotal)[rows]
    spec = ann_spec or ann.AnnSpec("Flat")
    searched = ann.build(vectors, spec)
    ann.prepare(searched, spec)
    offsets = index.sentences.offsets
    own = [np.arange(offsets[r], offsets[r + 1]) for r in rows]
    sentences = dataclasses.replace(
        index.sentences,
        vectors=index.sentences.vectors[np.concatenate(own)],
        spans=index.sentences.spans[np.concatenate(own)],
        offsets=np.concatenate([[0], np.cumsum([len(o) for o in own])]),
    )
    passages = tuple(
        dataclasses.replace(
            index.passages[r],
            id=f"{index.passages[r].id}-copy{i}" if i >= n else index.passages[r].id,
        )
        for i, r in enumerate(rows)
    )
    manifest = dataclasses.replace(
        index.manifest, faiss_index=spec.factory, faiss_nprobe=spec.nprobe
    )
    return Searcher(
        dataclasses.replace(
            index,
            manifest=manifest,
            passages=passages,
            vectors=searched,
            sentences=sentences,
            hubness=index.hubness[rows],
        ),
        searcher.encoder,
        weights,
    )


def test_duplicate_passages_are_collapsed(searcher):
    """A passage repeated (by the extraction, or by another edition) appears once."""
    text = searcher.index.passages[0].text
    hits = _copied(searcher, 2).search(text[:200], k=5).hits
    assert sum(h.passage.text == text for h in hits) == 1


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("spec", [None, ann.AnnSpec("IVF16,Flat", nprobe=1)], ids=["exact", "ivf"])
def test_k_results_come_back_when_copies_crowd_the_candidates(searcher, mode, spec):
    """Candidates are a pool of the best few; when every passage has five copies, most of
    the pool is copies, and skipping them used to leave fewer than k results. An IVF index
    probing one list of 16 (some 26 vectors: five copies each of about five passages) finds
    no more however wide the pool: the passages are then scored exactly."""
    crowded = _copied(searcher, 5, RankingWeights(candidates=10), spec)
    for query in ("opération contre la traite des êtres humains", "cybercriminalité"):
        alone = searcher.search(query, k=8, mode=mode).hits
        hits = crowded.search(query, k=8, mode=mode).hits
        assert len(hits) == len(alone) > 2  # 8, or as many passages as match the keywords
        assert len({h.passage.text for h in hits}) == len(hits)


@pytest.mark.parametrize("mode", list(Mode))
def test_copies_of_every_passage_change_nothing_in_the_ranking(searcher, mode):
    """Three editions repeating every passage rank as one: the pool of candidates is sized
    in distinct passages (it held a third as many, and passages that belonged in the top k
    were never scored), and of a passage's copies every mode returns the same, the first.
    The pool is as large as the report, so that one edition's ranking is exact, and so must
    be the ranking among copies."""
    weights = RankingWeights(candidates=len(searcher.index.passages))
    single = Searcher(searcher.index, searcher.encoder, weights)
    editions = _copied(searcher, 3, weights)
    for query in (
        "Qui a été élu président ?",
        "How many member countries does INTERPOL have?",
        "vacunas falsas contra el COVID-19",
        "Kinderschutz im Internet",
    ):
        alone = [h.passage.id for h in single.search(query, k=5, mode=mode).hits]
        assert [h.passage.id for h in editions.search(query, k=5, mode=mode).hits] == alone
        # Copies of the best passages only, many of them (a boilerplate page every edition
        # repeats): the pool must still hold as many distinct passages. (Not in keyword
        # mode, whose word statistics the copies change.)
        if mode is Mode.KEYWORD:
            continue
        best = [searcher.index.passages.index(h.passage) for h in single.search(query, k=2).hits]
        repeated = _copied(searcher, best * 11, weights)
        assert [h.passage.id for h in repeated.search(query, k=5, mode=mode).hits] == alone


def test_a_locale_filters_by_its_language(searcher):
    """Browsers and chat clients send "en-GB" where passages say "en"."""
    mixed = _relabelled(searcher, lambda i, p: dataclasses.replace(p, lang="en") if i % 2 else p)
    for locale, language in (("en-GB", "en"), ("FR-fr", "fr")):
        result = mixed.search("opération", k=6, filters=SearchFilters(lang=locale))
        assert result.filters.lang == language
        assert len(result.hits) == 6 and {h.passage.lang for h in result.hits} == {language}
    with pytest.raises(InvalidQueryError, match="lang: no passage is in language 'de-DE'"):
        mixed.search("opération", k=3, filters=SearchFilters(lang="de-DE"))


def test_an_empty_keyword_search_under_filters_that_match_blames_the_words(searcher):
    """The filters are not why nothing came back when passages pass them: loosening them,
    as the notice said, would not help; another mode would."""
    filters = SearchFilters(section="cyber")
    result = searcher.search("xyzzy", k=5, filters=filters, mode=Mode.KEYWORD)
    assert result.hits == [] and result.notice is not None
    assert result.notice.startswith("No passage with section='cyber' shares a word with 'xyzzy'")
    assert searcher.search("xyzzy", k=5, filters=filters, mode=Mode.HYBRID).hits
    elsewhere = SearchFilters(section="zzzz")
    nothing = searcher.search("xyzzy", k=5, filters=elsewhere, mode=Mode.KEYWORD)
    assert nothing.notice is not None and "loosen or leave out a filter" in nothing.notice


@pytest.mark.parametrize(
    ("query", "lang"),
    [
        ("Qui a été élu président ?", "fr"),
        ("Who was elected president of the organisation?", "en"),
        ("¿Cuántos países miembros tiene la organización?", "es"),
        ("Wie viele Mitgliedsländer hat die Organisation im Jahr 2021 gehabt?", "de"),
        ("I-SOP", "fr"),
        ("zxqv wqpl", "und"),
        # Short questions langdetect alone reads as Afrikaans, Italian and Catalan.
        ("Wer koordinierte die Operation Thunder gemeinsam mit INTERPOL?", "de"),
        ("secure cloud and regional data centres", "en"),
        ("Liberterra : nombre de pays participants", "fr"),
        # Three words langdetect is sure are Spanish; the corpus knows each of them.
        ("trafic de drogue", "fr"),
        ("forces de police", "fr"),
        ("tráfico de drogas", "es"),
        ("Where is Lyon?", "en"),
        # Every term is the report's, but "the" is not a word of it: not taken as French.
        ("the I-SOP initiative", "en"),
        # Too short for langdetect (undetermined, or Spanish): each language's common words.
        ("human trafficking", "en"),
        ("Menschenhandel", "de"),
        ("passeport volé", "fr"),
        ("pesca ilegal", "es"),
        ("combien de vaccins", "fr"),
        ("caviar and coral seizures", "en"),
        ("Was ist I-SOP?", "de"),
        # Words the report quotes ("Anti-Money Laundering"), yet common English.
        ("money laundering", "en"),
        ("policía", "es"),
    ],
)
def test_query_language(searcher, query, lang):
    assert searcher.query_language(query) == lang


def test_word_frequencies_answer_in_langdetect_codes_and_only_for_languages_they_list():
    from service.retrieval.query_language import QueryLanguage

    passages = [["trafic", "de", "drogue"]]
    nordic = QueryLanguage(passages, ["fr"], {"fr", "en", "no", "da"})
    assert nordic.of("menneskehandel i Norge") == "no"  # wordfreq's list is "nb"
    # With every language allowed, some have no list (Afrikaans, Welsh…): the vote would
    # pick a neighbour of theirs, so langdetect alone decides, in its own codes.
    anything = QueryLanguage(passages, ["fr"], ())
    assert anything.of("nelegalna trgovina drogom") in supported_languages() | {"und"}
    assert QueryLanguage(passages, ["fr"], {"fr", "en", "af"}).of("human trafficking") == "und"


ENGLISH = (
    "Counterfeit medicines sold online put patients at risk; police forces seized thousands "
    "of packages and closed the websites that sold them."
)


def _relabelled(searcher: Searcher, change: Callable[[int, Passage], Passage]) -> Searcher:
    """The searcher over the report's passages as ``change`` rewrites them (by position)."""
    index = searcher.index
    passages = tuple(change(i, p) for i, p in enumerate(index.passages))
    return Searcher(
        dataclasses.replace(index, passages=passages),
        searcher.encoder,
        query_languages=searcher.query_languages,
    )


def test_short_queries_take_the_language_of_the_passages_that_use_their_words(searcher):
    """In an index of French and English reports, a short query of words only the French
    passages use is French, one of words only the English passages use is English, and one
    whose words both use goes to detection."""

    def english(i: int, p: Passage) -> Passage:
        return dataclasses.replace(p, lang="en", text=ENGLISH) if i % 10 == 0 else p

    mixed = _relabelled(searcher, english)
    assert mixed.query_language("trafic de drogue") == "fr"  # langdetect: Spanish
    assert mixed.query_language("counterfeit medicines") == "en"
    assert mixed.query_language("police online") == "en"  # "online" is no French word here
    assert mixed.query_language("Qui a été élu président ?") == "fr"

    def bilingual(i: int, p: Passage) -> Passage:
        return (
            dataclasses.replace(p, lang="en", text=f"{ENGLISH} trafic de drogue")
            if i % 10 == 0
            else p
        )

    both = _relabelled(searcher, bilingual)
    # Both languages' passages use them: detection, by common words (langdetect: Spanish).
    assert both.query_language("trafic de drogue") == "fr"


def test_in_reports_of_several_languages_keywords_weigh_alike_in_all(searcher):
    """The query's own language gives keyword evidence five times the weight: in an index of
    one language that rewards exact names and figures, but beside a report in another
    language it favoured the report written in the query's language (an English question
    about the French report lost its answer to an English report's passages)."""

    def english(i: int, p: Passage) -> Passage:
        if i % 10:
            return p
        return dataclasses.replace(p, lang="en", text=ENGLISH, document="en")

    quoting = _relabelled(searcher, english)  # passages of a report all taken as French
    documents = quoting.index.manifest.documents
    second = dataclasses.replace(documents[0], id="en", language="en")
    manifest = dataclasses.replace(quoting.index.manifest, documents=(*documents, second))
    bilingual_index = dataclasses.replace(quoting.index, manifest=manifest)
    several = Searcher(  # the same passages, of a French and an English report
        bilingual_index,
        searcher.encoder,
        # Scores are centred on each report language too (below, and
        # tests/test_bilingual_index.py): here only the keyword weights differ.
        RankingWeights(language_centring=0.0),
        query_languages=searcher.query_languages,
    )
    query = "counterfeit medicines sold online"
    one = {h.passage.id: h.score for h in quoting.search(query, k=20).hits}
    two = {h.passage.id: h.score for h in several.search(query, k=20).hits}
    english_ids = {p.id for p in quoting.index.passages if p.lang == "en"}
    top = next(pid for pid in one if pid in english_ids)  # the first English hit
    # A best keyword match (the English passages' text is the query's), in the query's
    # language: the same-language weight in one, the other-language weight in two.
    weights = quoting.weights
    gap = weights.keyword_same_language - weights.keyword_other_language
    assert gap > 0 and one[top] - two[top] == pytest.approx(gap, abs=1e-4)
    french = [pid for pid in one.keys() & two.keys() if pid not in english_ids]
    assert french and all(one[pid] == pytest.approx(two[pid], abs=1e-6) for pid in french)
    # Filtered to reports of one language, it ranks as an index of them would.
    only = several.search(query, k=5, filters=SearchFilters(document="en")).hits
    assert only[0].passage.id == top
    assert only[0].score == pytest.approx(one[top], abs=1e-6)

    # Centred: each passage loses 0.5 x (1 + 0.5) of the query's mean cosine to its report
    # language's passages (with one passage's worth of the overall mean cosine in it).
    centred = Searcher(bilingual_index, searcher.encoder, query_languages=searcher.query_languages)
    three = {h.passage.id: h.score for h in centred.search(query, k=20).hits}
    vector = searcher.encoder.encode_queries([query])[0]
    cosines = searcher.index.vectors.reconstruct_n(0, len(searcher.index.passages)) @ vector
    is_english = np.array([p.document == "en" for p in quoting.index.passages])
    both_ranked = three.keys() & two.keys()
    assert both_ranked & english_ids and both_ranked - english_ids
    for pid in both_ranked:
        own = cosines[is_english == (pid in english_ids)]
        mean = (own.sum() + cosines.mean()) / (len(own) + 1)
        assert three[pid] == pytest.approx(two[pid] - 0.75 * float(mean), abs=1e-5)


def test_keywords_are_stemmed_in_each_reports_language():
    """The French stemmer cut English words its own way: "injuries" -> injur, "injury" ->
    injury, so in an English report the passage found hung on the form typed."""
    assert terms_of(["injuries"], "en") == terms_of(["injury"], "en") == ["injuri"]
    assert terms_of(["injuries"], "fr") != terms_of(["injury"], "fr")
    assert terms_of(["blessures"], "fr") == terms_of(["blessure"], "fr")
    assert terms_of(["警方逮捕"], "zh-cn") == ["警方逮捕"]  # no Snowball stemmer: kept whole
    english = words_of("One minor injury was reported at the container terminal.")
    french = words_of("Les blessures des dockers ont baissé au terminal.")
    index = KeywordIndex([english, french], ["en", "fr"])
    # Each term of a word counts once, whatever the stemmers make of it: both forms alike.
    assert index.query_terms("injuries") == ["injuri"]  # injuri, and injur read as injuri
    assert index.query_terms("containers") == ["contain"]
    assert np.array_equal(index.scores("injuries"), index.scores("injury"))
    for typed in ("injury", "injuries", "containers", "blessure"):
        assert index.scores(typed).argmax() == (1 if typed == "blessure" else 0), typed


def test_a_report_of_undetermined_language_takes_the_others_language(searcher):
    """A report whose language is undetermined neither makes the index one of several
    languages (keywords would lose their same-language weight) nor goes unstemmed."""

    def moved(i: int, p: Passage) -> Passage:
        return dataclasses.replace(p, document="unknown-report") if i % 10 == 0 else p

    relabelled = _relabelled(searcher, moved)
    documents = relabelled.index.manifest.documents
    unknown = dataclasses.replace(documents[0], id="unknown-report", language="und")
    manifest = dataclasses.replace(relabelled.index.manifest, documents=(*documents, unknown))
    with_unknown = Searcher(
        dataclasses.replace(relabelled.index, manifest=manifest),
        searcher.encoder,
        query_languages=searcher.query_languages,
    )
    query = "Qui a été élu Président d'INTERPOL ?"
    expected = [(h.passage.id, h.score) for h in searcher.search(query, k=50).hits]
    found = [(h.passage.id, h.score) for h in with_unknown.search(query, k=50).hits]
    assert found == expected
    moved_ids = {p.id for p in with_unknown.index.passages if p.document == "unknown-report"}
    assert moved_ids & {pid for pid, _ in found}


def test_a_passage_is_stemmed_in_its_reports_language_not_its_own(searcher):
    """A stat block that language detection takes for Italian is stemmed as the French
    questions about its report are."""

    def italian(i: int, p: Passage) -> Passage:
        return dataclasses.replace(p, lang="it")

    relabelled = _relabelled(searcher, italian)
    query = "Combien de fausses pharmacies en ligne ont été fermées ?"
    keyword = [h.passage.id for h in searcher.search(query, k=5, mode=Mode.KEYWORD).hits]
    assert keyword
    assert [h.passage.id for h in relabelled.search(query, k=5, mode=Mode.KEYWORD).hits] == keyword


def test_an_undetermined_passage_lends_its_words_to_every_language(searcher):
    def undetermined(i: int, p: Passage) -> Passage:
        return dataclasses.replace(p, lang="und") if i == 0 else p

    assert _relabelled(searcher, undetermined).query_language("forces de police") == "fr"


def test_keyword_mode_needs_a_shared_term(searcher):
    result = searcher.search("zxqvw", k=5, mode=Mode.KEYWORD)
    assert result.hits == []


def test_hybrid_beats_dense_on_exact_french_figures(searcher):
    """Keywords add what the dense model misses: exact French terms in a stat block of bare
    labels ("1 016 PERSONNES / … / EFFECTIF"), far from any question in embedding space.
    (Asked "Combien de personnes travaillent pour INTERPOL ?", dense finds it first too since
    the query is also read without "INTERPOL".)"""
    query = "effectif du personnel d'INTERPOL"
    ranks = {}
    for mode in (Mode.DENSE, Mode.HYBRID):
        texts = [h.passage.text for h in searcher.search(query, k=50, mode=mode).hits]
        ranks[mode] = next(i for i, t in enumerate(texts) if "1 016" in t)
    assert ranks[Mode.HYBRID] < ranks[Mode.DENSE] and ranks[Mode.HYBRID] < 5


def test_section_filter_ignores_case_and_accents(searcher):
    hits = searcher.search(
        "formation", k=3, filters=SearchFilters(section="academie virtuelle")
    ).hits
    assert hits and all("ACADÉMIE VIRTUELLE" in h.passage.section for h in hits)
    # Ligatures fold in capitals too: the report's headings are in capitals ("ŒUVRE D’ART").
    # Pasted with a soft hyphen or a zero-width space, it is read as typed without them.
    for typed in ("oeuvre d'art", "œuvre d’art", "ŒUVRE D’ART", "œu\u00advre d\u200b’art"):
        hits = searcher.search("application", k=3, filters=SearchFilters(section=typed)).hits
        assert hits and all("ŒUVRE D’ART" in h.passage.section for h in hits), typed


def test_every_section_of_the_report_can_be_found_by_its_heading(searcher):
    # A section too short to stand alone joins a neighbour and goes under its title, and a
    # chapter title heads a run over an article's own: each is among the sections of a
    # passage all the same, and the filter finds it (the Hamburg cocaine sidebar, say).
    pages = parse_report(REPORT.read_text("utf-8"))
    headings = {t for page in pages for s in page.sections for t in (s.title, *s.headings) if t}
    passages = searcher.index.passages
    columns = PassageColumns.of(passages)
    for heading in headings:
        assert any(heading in p.sections for p in passages), heading
        allowed = SearchFilters(section=heading).mask(columns)
        assert allowed is not None and allowed.any(), heading
    assert all(p.section in p.sections for p in passages if p.sections)
    assert any(len(p.sections) > 1 for p in passages)


def test_narrow_filter_on_approximate_index_still_fills_k(searcher, monkeypatch):
    """If the ANN index finds too few allowed passages, it looks in all its lists."""
    ivf = _copied(searcher, 1, ann_spec=ann.AnnSpec("IVF16,Flat", nprobe=1))
    real_search = ivf.index.vectors.search

    def starving_search(x, k, params=None):
        scores, ids = real_search(x, k, params=params)
        if params is not None and params.nprobe == 1:  # lists that hold no allowed passage
            ids[:, 1:] = -1
        return scores, ids

    monkeypatch.setattr(ivf.index.vectors, "search", starving_search)
    # Dense only: hybrid would also fill k from the keyword candidates, fallback or not.
    pages = SearchFilters(page_min=17, page_max=18)
    hits = ivf.search("INTERPOL", k=4, filters=pages, mode=Mode.DENSE).hits
    assert len(hits) == 4 and all(17 <= h.passage.page <= 18 for h in hits)


def test_warm_up_loads_what_the_first_request_would(searcher, monkeypatch):
    from indexer import language

    monkeypatch.setattr(language._DETECTORS, "_factories", {})
    searcher.warm_up()
    assert set(language._DETECTORS._factories) == {searcher.detection_languages}


def test_ranking_with_the_query_read_beforehand_is_the_same_search(searcher):
    request = searcher.prepare("cybercriminalité en Afrique", 5, None, Mode.HYBRID)
    vectors = searcher.encoder.encode_queries(list(request.texts))
    text = searcher.read(request)
    assert text.language == "fr" and text.keyword.max() > 0
    ranked = searcher.rank(request, vectors, text)
    assert [h.passage.id for h in ranked.hits] == [
        h.passage.id for h in searcher.search(request.query).hits
    ]


def test_the_reports_own_language_is_always_a_query_language(searcher):
    narrow = Searcher(searcher.index, searcher.encoder, query_languages=["en", "de"])
    assert narrow.query_languages == {"en", "de"}  # as configured, for a reload to start from
    assert narrow.detection_languages == {"en", "de", "fr"}
    assert Searcher(searcher.index, searcher.encoder).detection_languages == set()  # all


def test_fused_scores_on_hand_made_evidence():
    """Passage cosine + sentence weight × best sentence − hubness weight × hubness, plus the
    keyword weight of the passage's language (same as the query's or not) × keyword score."""
    weights = RankingWeights(
        sentence=0.5, hubness=0.25, keyword_same_language=0.1, keyword_other_language=0.01
    )
    evidence = {
        "dense": np.array([0.8, 0.6, 0.7]),
        # The last passage has no sentence vector: it is its own best sentence.
        "best_sentence": np.array([0.9, 0.7, -np.inf]),
        "hubness": np.array([0.4, 0.0, 0.2]),
        "same_language": np.array([True, False, True]),
    }
    dense = fused_scores(weights, **evidence)
    np.testing.assert_allclose(dense, [0.8 + 0.45 - 0.1, 0.6 + 0.35, 0.7 + 0.35 - 0.05], 1e-6)
    keyword = np.array([1.0, 1.0, 0.5])
    hybrid = fused_scores(weights, keyword=keyword, **evidence)
    np.testing.assert_allclose(hybrid - dense, [0.1, 0.01, 0.05], 1e-6)


def test_an_unknown_document_is_named_in_the_refusal_cut_to_a_readable_length(searcher):
    with pytest.raises(InvalidQueryError) as refused:
        searcher.prepare("HAECHI", filters=SearchFilters(document="d" * 150))
    said = str(refused.value)
    assert refused.value.field == "document"
    assert said.startswith(f"document: no document '{'d' * 80}…' in the index; it has interpol-")


def test_the_document_filter_ignores_case_as_document_ids_do(searcher):
    (report,) = searcher.index.manifest.documents
    hits = searcher.search("HAECHI", k=3, filters=SearchFilters(document=report.id.upper())).hits
    assert len(hits) == 3 and {h.passage.document for h in hits} == {report.id}


@pytest.mark.parametrize(
    "query",
    [
        "Qui a été élu Président d'INTERPOL ?",
        "How many notices were issued?",
        "Quicksand rançons",
        "Trigger VI arrests",
        "human trafficking",
    ],
)
def test_highlight_is_the_best_sentence_and_its_closer_neighbour_in_whole_sentences(
    searcher, query
):
    """The highlight runs over sentences next to each other in the passage: the one closest
    to the query and, of its neighbours, the closer one, each whole where they fit in 80
    words (sentences over 40 words are cut into pieces for their vectors only)."""
    vector = searcher.encoder.encode_queries([model_text(query)])[0]
    for hit in searcher.search(query, k=5).hits:
        passage, highlight = hit.passage, hit.highlight
        vectors, spans = searcher.index.sentences.of(searcher.index.passages.index(passage))
        if len(spans) < 2:
            continue
        closeness = vectors @ vector
        best = int(np.argmax(closeness))
        skipped = passage.text[spans[best][0] : highlight.start]  # headings it starts under
        assert all(
            line in passage.sections or not any(c.islower() for c in line)
            for line in skipped.split("\n")[:-1]
        )
        assert spans[best][1] <= highlight.end
        assert highlight.text == passage.text[highlight.start : highlight.end]
        sentences = [
            (passage.body_start + a, passage.body_start + b)
            for a, b in sentence_spans(passage.body)
        ]
        # The sentences it is part of (a short one is joined to the next for its vector).
        first = max(a for a, _ in sentences if a <= spans[best][0])
        last = min(b for _, b in sentences if b >= spans[best][1])
        whole = (first, last)
        words = word_count(passage.text[whole[0] : whole[1]])
        if words <= 80:  # its sentence is shown whole
            assert highlight.start <= whole[0] or passage.text[whole[0] : highlight.start].isupper()
            assert whole[1] <= highlight.end
        if (spans[best][0], spans[best][1]) == whole:  # a sentence of its own: a neighbour too
            neighbours = [n for n in (best - 1, best + 1) if 0 <= n < len(spans)]
            other = max(neighbours, key=lambda n: closeness[n])
            assert highlight.start <= spans[other][0] and spans[other][1] <= highlight.end
        assert word_count(highlight.text) <= 80 + 10  # word_count reads "d’INTERPOL" as two
        # A sentence is left cut only where its whole would not fit.
        ends = [b for _, b in sentences]
        if highlight.end not in ends:
            end = min(b for b in ends if b > highlight.end)
            assert word_count(passage.text[highlight.start : end]) > 80, passage.id


def _opening_headings(passage: Passage) -> tuple[list[str], str]:
    """The heading lines that open ``passage`` and the line under them."""
    lines = passage.text.split("\n")
    count = 0
    while count < len(lines) - 1 and lines[count] in passage.sections:
        count += 1
    return lines[:count], lines[count]


def test_a_highlight_starts_under_the_headings_over_running_text(searcher):
    """A heading is part of the sentence under it (too short to be one): asked for by its
    words, that sentence matches. Over running text the highlight starts under the
    heading lines; over labels ("POLLUTION EN MER / (pétrole…)") they are what it shows."""
    seen = {"text": 0, "labels": 0}
    for passage in searcher.index.passages:
        headings, under = _opening_headings(passage)
        if not headings or headings == [passage.section]:
            continue  # none, or only the section's heading, which is never highlighted
        only_its_page = SearchFilters(page_min=passage.page, page_max=passage.page)
        hits = searcher.search(headings[0], k=50, filters=only_its_page).hits
        highlight = next(h.highlight for h in hits if h.passage == passage)
        assert highlight.text == passage.text[highlight.start : highlight.end]
        if len(under.split()) >= 10:
            seen["text"] += 1
            assert highlight.text.split("\n", 1)[0] not in passage.sections, passage.id
        elif highlight.start == 0:
            seen["labels"] += 1
            assert highlight.text.startswith(headings[0]), passage.id
    assert seen["text"] and seen["labels"], seen


def test_a_highlight_starts_under_a_chapter_opener_as_printed(searcher):
    """A chapter opener keeps its printed lines ("PROTECTING VULNERABLE" / "COMMUNITIES" /
    "3"), none of them a section title: over running text they are headings all the same."""
    opened = [
        p for p in searcher.index.passages if p.text.split("\n", 1)[0] == "PROTECTING VULNERABLE"
    ]
    assert opened, "the report's English chapter opener is gone"
    passage = opened[0]
    filters = SearchFilters(page_min=passage.page, page_max=passage.page)
    hits = searcher.search("migrant smuggling operation Turquesa arrests", k=50, filters=filters)
    highlight = next(h.highlight for h in hits.hits if h.passage == passage)
    assert any(c.islower() for c in highlight.text.split("\n", 1)[0]), highlight.text[:80]


def test_a_keyword_search_of_stop_words_alone_says_they_are_not_searched(searcher):
    """Every passage holds "de": "shares no word with 'de'" was untrue without the reason."""
    result = searcher.search("de", k=5, mode=Mode.KEYWORD)
    assert result.hits == [] and result.notice is not None
    assert "shares a word with 'de' (words as common as" in result.notice


def test_filters_are_read_without_the_spaces_around_them(searcher):
    """ " fr " was refused as no language code and " interpol-2021-fr " as no document, while
    a section filter matched as if its spaces were not there."""
    document = searcher.index.passages[0].document
    spaced = SearchFilters(lang=" fr ", document=f" {document}\t", section="  cyber ")
    assert (spaced.lang, spaced.document, spaced.section) == ("fr", document, "cyber")
    plain = SearchFilters(lang="fr", document=document, section="cyber")
    ids = [h.passage.id for h in searcher.search("fraude", k=5, filters=spaced).hits]
    assert ids and ids == [h.passage.id for h in searcher.search("fraude", k=5, filters=plain).hits]
    assert SearchFilters(section="   ").problem() is not None  # blank stays refused
