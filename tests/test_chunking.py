"""Chunker units: sizes, sentence boundaries, small sections, ids."""

import re

import pytest

from indexer.chunking import ChunkingPolicy, SectionChunker
from indexer.parsing import Page, Section, parse_pages
from indexer.passage import Passage
from indexer.text import even_runs, sentence_spans, split_sentences, word_count


def _sentence(i: int, n_words: int = 10) -> str:
    return " ".join(["mot"] * (n_words - 1) + [f"fin{i}."])


def test_long_section_split_on_sentence_boundaries_within_maximum():
    paragraph = " ".join(_sentence(i) for i in range(50))  # 500 words
    page = Page(1, (Section("TITRE", (paragraph,)),), ("https://example.org/a",))
    chunks = SectionChunker(ChunkingPolicy(target=120, maximum=200, minimum=30)).chunk_page(page)
    assert len(chunks) >= 3
    for title, text, *_ in chunks:
        assert title == "TITRE"
        assert word_count(text) <= 200
        assert text.endswith(".")  # never cut mid-sentence
    assert " ".join(c.text for c in chunks).count("fin") == 50


def test_run_on_text_without_punctuation_is_cut_on_words():
    paragraph = " - ".join(f"Pays{i}" for i in range(400))
    page = Page(1, (Section("LISTE", (paragraph,)),), ())
    chunks = SectionChunker(ChunkingPolicy(target=100, maximum=150, minimum=20)).chunk_page(page)
    assert all(word_count(c.text) <= 150 for c in chunks)
    assert sum(word_count(c.text) for c in chunks) == 400


def test_a_list_without_spaces_is_cut_too_and_no_passage_exceeds_the_maximum():
    """From a code review: run-on text was cut on spaces but sized in words, so a list
    written without spaces (701 words) stayed one passage, over ``maximum`` (300)."""
    for separator in (",", "/"):
        paragraph = separator.join(f"mot{i:02d}" for i in range(701))
        page = Page(1, (Section("LISTE", (paragraph,)),), ())
        chunks = SectionChunker().chunk_page(page)
        assert [word_count(c.text) for c in chunks] == [141, 141, 141, 141, 137]
        assert "".join(c.text for c in chunks) == paragraph  # cut after a separator


def test_even_runs_count_words_as_word_count_does_and_lose_nothing():
    listed = ",".join(f"pays{i}" for i in range(100))
    runs = [listed[a:b] for a, b in even_runs(listed, (0, len(listed)), 40)]
    assert [word_count(r) for r in runs] == [34, 34, 32]
    assert "".join(runs) == listed
    # A run ends after the punctuation that closes its last word, spaced or not; the next
    # opens with the punctuation that opens its first.
    text = "Les pays : " + ", ".join(f"« Pays{i} »" for i in range(60)) + "."
    runs = [text[a:b] for a, b in even_runs(text, (0, len(text)), 32)]
    assert [word_count(r) for r in runs] == [31, 31]
    assert runs[0].endswith("« Pays28 »,") and runs[1].startswith("« Pays29 »")
    assert " ".join(runs) == text
    assert even_runs(text, (4, 8), 1) == [(4, 8)]  # "pays": not longer than asked


def test_small_sections_join_the_next_and_take_the_bigger_title():
    page = Page(
        1,
        (
            Section("LABEL", ("720 kg",), headed=True),
            Section("VRAI TITRE", (" ".join(_sentence(i) for i in range(8)),), headed=True),
        ),
        (),
    )
    chunks = SectionChunker(ChunkingPolicy(target=120, maximum=200, minimum=30)).chunk_page(page)
    assert len(chunks) == 1
    assert chunks[0][0] == "VRAI TITRE"
    # The small section keeps its heading inside the text, so nothing is lost.
    assert chunks[0][1].startswith("LABEL\n720 kg\n")
    # ... and among the passage's sections, so that its own heading still finds it.
    assert chunks[0].sections == ("LABEL", "VRAI TITRE")


def test_each_part_of_a_cut_group_lists_the_sections_it_holds():
    page = Page(
        1,
        (
            Section("COURT", (_sentence(0, 8),), headed=True),
            Section("LONG", tuple(_sentence(i, 20) for i in range(1, 13)), headed=True),
        ),
        (),
    )
    chunks = SectionChunker(_SMALL).chunk_page(page)
    assert len(chunks) > 1 and {c.title for c in chunks} == {"LONG"}
    assert chunks[0].sections == ("COURT", "LONG")
    assert all(c.sections == ("LONG",) for c in chunks[1:])


def test_passages_carry_ids_positions_language_and_page_urls():
    pages = [
        Page(
            1,
            (Section("TITRE", ("L'opération Weka a mobilisé vingt-quatre pays d'Afrique. " * 8,)),),
            (
                "https://www.youtube.com/watch?v=x",
                "https://www.interpol.int/fr/2021/Autre-chose",
                "https://www.interpol.int/fr/2021/L-operation-Weka-a-mobilise-24-pays",
            ),
        ),
        Page(2, (Section("AUTRE", ("Une autre page sur un tout autre sujet. " * 10,)),), ()),
    ]
    passages = SectionChunker().chunk_document("doc", pages, "fr")
    assert [p.id[:9] for p in passages] == ["doc-p001-", "doc-p002-"]
    assert all(re.fullmatch(r"doc-p00\d-[0-9a-f]{6}", p.id) for p in passages)
    assert [p.position for p in passages] == [0, 1]
    assert passages[0].lang == "fr"
    assert passages[0].source_urls == pages[0].urls  # ordered once embedded (test_sources)
    assert passages[1].source_urls == ()  # never a URL from another page


def test_long_sentences_are_cut_into_even_runs_of_whole_words_only_when_asked():
    names = " - ".join(f"Pays{i}" for i in range(60))  # a list: one 119-token "sentence"
    text = f"Une phrase courte.\n{names}"
    assert len(sentence_spans(text)) == 2
    spans = sentence_spans(text, max_words=40)
    pieces = [text[a:b] for a, b in spans]
    assert pieces[0] == "Une phrase courte."
    assert [len(p.split()) for p in pieces[1:]] == [40, 40, 39]
    assert " ".join(pieces[1:]) == names  # nothing lost, nothing cut mid-word


def test_a_capital_initial_does_not_end_a_sentence():
    text = "Le rôle de M.\u00a0Al Raisi est défini. J. Stock reste en poste. Fin."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Le rôle de M.\u00a0Al Raisi est défini.",
        "J. Stock reste en poste.",
        "Fin.",
    ]


@pytest.mark.parametrize(
    "sentences",
    [
        ["La operación terminó.", "¿Quién la dirigió?", "¡Nadie lo sabe!", "Fin."],
        ["Полиция провела операцию.", "Операция длилась три дня."],
        ["Η αστυνομία συνέλαβε δύο άτομα.", "Η επιχείρηση διήρκεσε τρεις ημέρες."],
        ["من قاد العملية؟", "قادتها الشرطة المغربية.", "وشاركت فيها اثنتا عشرة دولة."],
        ["یہ پہلا جملہ ہے۔", "یہ دوسرا ہے۔"],
    ],
)
def test_sentences_start_with_a_capital_of_any_script_and_end_at_arabic_marks(sentences):
    """From a code review: only a Latin capital could start a sentence, so "¿Quién…",
    Cyrillic and Greek capitals and Arabic after a full stop started none, and ؟ and ۔
    ended none: a passage in Spanish or Arabic was one "sentence" to highlight."""
    assert split_sentences(" ".join(sentences)) == sentences


def test_cjk_marks_end_sentences_without_a_space_after_them():
    text = "警方逮捕了三人。行动持续了三天！谁领导了行动？「国际刑警组织。」"
    assert split_sentences(text) == [
        "警方逮捕了三人。",
        "行动持续了三天！",
        "谁领导了行动？",
        "「国际刑警组织。」",
    ]


def test_initials_of_any_script_and_a_lower_case_word_after_a_point_end_no_sentence():
    for text in ("А. С. Пушкин писал.", "M. Al Raisi est élu.", "Des armes, etc. et du reste."):
        assert split_sentences(text) == [text]


def test_sentences_shorter_than_asked_are_joined_to_a_neighbour():
    text = (
        "CANNABIS\n9\ntonnes saisies lors de l’opération dans douze pays.\n"
        "Une phrase assez longue pour rester seule ici.\nFin."
    )
    spans = sentence_spans(text, max_words=40, min_words=5)
    assert [text[a:b] for a, b in spans] == [
        "CANNABIS\n9\ntonnes saisies lors de l’opération dans douze pays.",
        "Une phrase assez longue pour rester seule ici.\nFin.",
    ]
    # Never beyond max_words, and nothing joined unless asked.
    capped = sentence_spans(text, max_words=3, min_words=5)
    assert all(len(text[a:b].split()) <= 3 for a, b in capped)
    assert len(sentence_spans(text)) == 5


def test_a_passage_keeps_its_id_when_passages_before_it_on_its_page_change():
    article = Section("ARTICLE", ("Un article sur une opération menée dans vingt pays. " * 12,))
    before = Section("AVANT", ("Un texte qui précède l'article sur la même page. " * 12,))
    chunker = SectionChunker()
    alone = chunker.chunk_document("doc", [Page(1, (article,), ())], "fr")
    after = chunker.chunk_document("doc", [Page(1, (before, article), ())], "fr")
    assert alone[0].text == after[1].text
    assert alone[0].id == after[1].id  # a kept citation still names the same text
    assert after[0].id != after[1].id


def test_the_same_text_twice_on_a_page_gets_two_ids():
    block = Section("BLOC", ("Le même bloc de texte, répété tel quel sur la page. " * 12,))
    passages = SectionChunker().chunk_document("doc", [Page(1, (block, block), ())], "fr")
    assert len(passages) == 2 and passages[0].text == passages[1].text
    assert passages[1].id == passages[0].id + "-2"


def test_a_headed_section_opens_its_first_passage_with_its_heading():
    sentences = " ".join(_sentence(i) for i in range(40))  # 400 words: several passages
    headed = Section("UN TITRE", (sentences,), headed=True)
    carried = Section("UN TITRE", (sentences,))
    chunker = SectionChunker()
    with_heading = chunker.chunk_document("doc", [Page(1, (headed,), ())], "fr")
    without = chunker.chunk_document("doc", [Page(1, (carried,), ())], "fr")
    assert with_heading[0].text == "UN TITRE\n" + without[0].text
    assert with_heading[0].body == without[0].text
    assert with_heading[0].body_start == len("UN TITRE\n")
    # Only the first passage: the report prints the heading once. Cuts are the same.
    assert [p.text for p in with_heading[1:]] == [p.text for p in without[1:]]
    assert all(p.body_start == 0 for p in without)


_SMALL = ChunkingPolicy(target=60, maximum=120, minimum=20, scrap=4)
_ARTICLE = "Une opération coordonnée contre le trafic de stupéfiants menée dans 41 pays."


def _chunks(*sections: Section) -> list[tuple[str, str]]:
    """(title, text) of one page of ``sections``, cut with small sizes."""
    return [(c.title, c.text) for c in SectionChunker(_SMALL).chunk_page(Page(1, sections, ()))]


def _figures() -> tuple[str, ...]:
    """A stat block: figures and labels, no sentence."""
    return ("CANNABIS", "720 kg de résine", "COCAÏNE", "973 paquets", "HÉROÏNE", "56 kg")


def test_a_short_article_joins_the_infographic_that_bears_its_name_elsewhere_on_the_page():
    chunks = _chunks(
        Section("OPÉRATION LIONFISH AFRIQUE", _figures(), headed=True),
        Section("OPÉRATION THUNDER", (_sentence(1, 12), _sentence(2, 12)), headed=True),
        Section("OPÉRATION LIONFISH", (_ARTICLE,), headed=True),
    )
    lionfish = next(text for _, text in chunks if "973 paquets" in text)
    thunder = next(text for _, text in chunks if "fin1." in text)
    # Joined by reading order, the article went to Thunder and the figures lost the
    # sentence that says where they were seized.
    assert "41 pays" in lionfish
    assert "41 pays" not in thunder
    assert lionfish.index("973 paquets") < lionfish.index("41 pays")  # reading order kept


def test_prose_that_borrows_a_heading_does_not_draw_a_short_article_away():
    chunks = _chunks(
        # Text before the page's first heading carries that heading as its title.
        Section("OPÉRATION WEKA", (_sentence(1, 12), _sentence(2, 12)), headed=False),
        Section("OPÉRATION THUNDER", (_sentence(3, 12), _sentence(4, 12)), headed=True),
        Section("OPÉRATION WEKA", (_sentence(5, 8),), headed=True),
    )
    weka = next(text for _, text in chunks if "fin5." in text)
    assert "fin1." not in weka
    assert "fin4." in weka


def test_an_infographic_stays_where_it_is_printed_and_the_article_joins_it():
    """Infographics are short too: the figures must not be the section that moves."""
    chunks = _chunks(
        Section("OPÉRATION LIONFISH", _figures(), headed=True),
        Section("OPÉRATION THUNDER", (_sentence(1, 12), _sentence(2, 12)), headed=True),
        Section("OPÉRATION LIONFISH", (_ARTICLE,), headed=True),
        Section("PATRIMOINE CULTUREL", (_sentence(3, 12), _sentence(4, 12)), headed=True),
    )
    titles = [title for title, _ in chunks]
    lionfish = next(text for title, text in chunks if "973 paquets" in text)
    assert "41 pays" in lionfish and "fin1." not in lionfish and "fin3." not in lionfish
    assert titles.count("OPÉRATION LIONFISH") == 1
    assert lionfish.count("OPÉRATION LIONFISH") == 1  # the article's heading is not repeated


def test_figures_that_borrow_the_first_heading_take_the_article_printed_under_it():
    """The report's own layout: the infographic opens the page, before any heading, so it
    carries the first heading, that of the short article printed below it."""
    chunks = _chunks(
        Section("OPÉRATION LIONFISH", _figures(), headed=False),
        Section("OPÉRATION LIONFISH", (_ARTICLE,), headed=True),
        Section("PATRIMOINE CULTUREL", (_sentence(3, 12), _sentence(4, 12)), headed=True),
    )
    lionfish = next(text for _, text in chunks if "973 paquets" in text)
    assert "41 pays" in lionfish and "fin3." not in lionfish


def test_a_section_that_moves_is_no_destination_so_nothing_moves_twice():
    chunks = _chunks(
        Section("OPÉRATION X", (_sentence(1, 8),), headed=True),
        Section("CONTEXTE", (_sentence(2, 12), _sentence(3, 12)), headed=True),
        Section("OPÉRATION X SUITE", (_sentence(4, 8),), headed=True),
        Section("AUTRE", (_sentence(5, 12), _sentence(6, 12)), headed=True),
        Section("OPÉRATION X SUITE ET FIN", _figures(), headed=True),
    )
    text_of = {marker: next(t for _, t in chunks if marker in t) for marker in ("fin1.", "fin4.")}
    # "OPÉRATION X SUITE" joins the figures that continue its name; "OPÉRATION X", whose
    # destination moved, stays with its reading-order neighbour rather than being stranded.
    assert "973 paquets" in text_of["fin4."]
    assert "fin2." in text_of["fin1."]


def test_a_merged_passage_takes_the_fuller_title_and_opens_with_its_heading():
    full = "OPÉRATION 30 DAYS AT SEA 3.0 LUTTER CONTRE LA POLLUTION"
    figures = ("67 pays 300 services 34 000 contrôles 1 600 infractions",)
    chunks = _chunks(
        Section(full, figures, headed=True),
        Section("OPÉRATION THUNDER", (_sentence(1, 12), _sentence(2, 12)), headed=True),
        Section("OPÉRATION 30 DAYS AT SEA 3.0", (_sentence(3, 14),), headed=True),
    )
    title, text = next(chunk for chunk in chunks if "34 000" in chunk[1])
    assert title == full
    assert text.startswith(f"{full}\n67 pays") and "fin3." in text


def test_a_joined_section_under_headings_in_a_row_prints_its_title_once():
    # Its headings are its first lines already (indexer.parsing keeps a run of headings in
    # reading order); adding its title again as a heading would repeat it.
    run = ("UN CHAPITRE", "SON TITRE")
    (chunk,) = SectionChunker(_SMALL).chunk_page(
        Page(
            1,
            (
                Section("ARTICLE", (_sentence(1, 18),), headed=True),
                Section("SON TITRE", (*run, _sentence(9, 8)), headings=run),
            ),
            (),
        )
    )
    assert chunk.text.count("SON TITRE") == 1
    assert "\nUN CHAPITRE\nSON TITRE\n" in chunk.text
    # The chapter title finds the passage too.
    assert chunk.sections == ("ARTICLE", "UN CHAPITRE", "SON TITRE")


def test_every_heading_is_printed_where_the_report_prints_it_and_no_other():
    # A sidebar above the article it joins: the article's heading stays between them.
    chunks = _chunks(
        Section("ENCADRÉ", (_sentence(1, 10),), headed=True),
        Section("ARTICLE", (_sentence(2, 15), _sentence(3, 15)), headed=True),
    )
    assert chunks == [
        ("ARTICLE", f"ENCADRÉ\n{_sentence(1, 10)}\nARTICLE\n{_sentence(2, 15)}\n{_sentence(3, 15)}")
    ]
    # Text that only borrows a title (a page continuing the last one) gets no heading line.
    (_, text), *_ = _chunks(
        Section("TITRE D’AVANT", (_sentence(4, 8),)),
        Section("SUITE", (_sentence(5, 15), _sentence(6, 15)), headed=True),
    )
    assert "TITRE D’AVANT" not in text and text.startswith(_sentence(4, 8))
    # A caption that repeats its infographic's heading does not take that heading's place.
    (_, captioned), *_ = _chunks(
        Section(
            "OPÉRATION X", ("720 kg de cannabis", "OPÉRATION X", "216 arrestations"), headed=True
        ),
    )
    assert captioned.startswith("OPÉRATION X\n720 kg")


def test_passages_keep_their_sections_through_the_index_and_older_indexes_get_theirs():
    (passage,) = SectionChunker().chunk_document(
        "doc", [Page(1, (Section("TITRE", (_sentence(1, 30),), headed=True),), ())], "fr"
    )
    assert passage.sections == ("TITRE",)
    assert Passage.from_dict(passage.to_dict()) == passage
    older = {k: v for k, v in passage.to_dict().items() if k not in ("sections", "chapters")}
    assert Passage.from_dict(older).sections == ("TITRE",)
    assert Passage.from_dict(older).chapters == ()
    # Text before any heading of an untitled document is in no section.
    (untitled,) = SectionChunker().chunk_page(Page(1, (Section("", (_sentence(2, 30),)),), ()))
    assert untitled.sections == ()


def test_a_heading_that_closes_a_page_is_kept_at_its_end():
    pages = parse_pages(
        ["Un texte qui ouvre le rapport et qui continue un peu.\n\nLUTTE CONTRE LE TERRORISME"],
        "Doc",
    )
    (chunk,) = SectionChunker().chunk_page(pages[0])
    assert chunk.text.endswith("continue un peu.\nLUTTE CONTRE LE TERRORISME")
    assert "LUTTE CONTRE LE TERRORISME" in chunk.sections
    # A page that holds a heading and nothing else gives no passage (and no error).
    assert SectionChunker().chunk_page(parse_pages(["UN TITRE SEUL"], "Doc")[0]) == []


def test_a_part_that_holds_only_the_joined_section_goes_under_its_title():
    words = lambda i, n: " ".join(f"mot{i}x{j}" for j in range(n - 1)) + " fin."  # noqa: E731
    page = Page(
        1,
        (
            Section("ARTICLE LONG", tuple(words(i, 20) for i in range(8)), headed=True),
            Section("ENCADRÉ COURT", (words(98, 22), words(99, 22)), headed=True),
        ),
        (),
    )
    chunks = SectionChunker(ChunkingPolicy(target=100, maximum=300, minimum=50)).chunk_page(page)
    assert len(chunks) > 1
    assert all(c.title in c.sections for c in chunks)
    assert chunks[-1].sections == ("ENCADRÉ COURT",) and chunks[-1].title == "ENCADRÉ COURT"


def test_short_sentences_of_other_scripts_are_prose_not_stat_labels():
    """A short Chinese sentence ended by 。 is prose, as a short French one ended by a full
    stop is."""
    from indexer.chunking import _is_stat_block

    chinese = ("国际刑警组织协调。", "警方逮捕了三人！", "行动持续两周。")
    arabic = ("هل نجحت العملية؟", "نعم، واعتقلت الشرطة ثلاثة مشتبه بهم.")
    assert not _is_stat_block(Section("行动", chinese))
    assert not _is_stat_block(Section("العملية", arabic))
    assert _is_stat_block(Section("CHIFFRES", ("1 016", "PERSONNES", "260", "MISES À DISPOSITION")))


def test_chinese_and_japanese_are_measured_in_characters():
    """Written without spaces, a Chinese section of 2,000 characters was a "word" a sentence:
    one passage of ~1,400 model tokens, whose vector saw the first 512 only."""
    sentence = "国际刑警组织在二零二一年协调了多项跨国行动，帮助成员国逮捕了大量逃犯。"
    assert word_count(sentence) == len(sentence) - 2  # its two punctuation marks aside
    assert word_count("INTERPOL国际 東京オリンピック l'arrestation 서울 경찰") == 14
    assert word_count("東京・大阪") == 4  # the katakana middle dot is punctuation
    page = parse_pages(["# 网络犯罪\n\n" + sentence * 60], "报告")[0]
    chunks = SectionChunker().chunk_page(page)
    policy = ChunkingPolicy()
    assert len(chunks) > 5
    assert all(word_count(c.text) <= policy.maximum for c in chunks)
    kept = "".join(c.text.replace("网络犯罪\n", "").replace(" ", "") for c in chunks)
    assert kept == sentence * 60  # nothing lost (sentences are joined by a space)
