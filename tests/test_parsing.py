"""Parser units on small hand-written inputs shaped like the extracted report."""

import pytest

from indexer.chunking import SectionChunker
from indexer.parsing import Page, parse_pages, parse_report

PAGE = """\
Avant-propos, avant le premier titre du document.

UNE PREMIÈRE RUBRIQUE

Son texte.
https://www.interpol.int/fr/Avant-propos


 Introduction du chapitre, qui présente le thème en une phrase.
 LUTTE CONTRE LE
TERRORISME

Un premier article parle des terroristes présumés et de leurs réseaux.

OPÉRATION EXEMPLE : DÉMÊLER LES RÉSEAUX TER-
RORISTES

Des agents ont suivi des formations pour les primo-
intervenants en 2021.

CANNABIS

720 kg

Le télétravail et une 

activité en ligne accrue 

sont restés la norme.

https://www.interpol.int/fr/Actualites/2021/Operation-exemple
https://www.youtube.com/watch?v=abc


Deuxième page, sans titre, qui parle d'autre chose entièrement.
https://www.interpol.int/fr/Actualites/2021/Deuxieme
"""


def test_url_blocks_close_pages():
    pages = parse_report(PAGE, default_title="Doc")
    assert [p.number for p in pages] == [1, 2, 3]
    assert pages[0].sections[0].title == "Doc"  # front matter: before any heading
    assert pages[1].urls == (
        "https://www.interpol.int/fr/Actualites/2021/Operation-exemple",
        "https://www.youtube.com/watch?v=abc",
    )
    assert pages[2].urls == ("https://www.interpol.int/fr/Actualites/2021/Deuxieme",)


def test_wrapped_capital_lines_form_one_heading_and_intro_takes_it():
    sections = parse_report(PAGE)[1].sections
    titles = [s.title for s in sections]
    # The chapter intro sits above its title in the layout, so it takes the first heading.
    assert titles[0] == "LUTTE CONTRE LE TERRORISME"
    assert sections[0].paragraphs[0].startswith("Introduction du chapitre")
    assert "OPÉRATION EXEMPLE : DÉMÊLER LES RÉSEAUX TERRORISTES" in titles


def test_hyphenation_joined_only_for_known_words():
    text = " ".join(p for s in parse_report(PAGE)[1].sections for p in s.paragraphs)
    assert "primo-intervenants" in text  # "primointervenants" occurs nowhere: a compound
    headings = [s.title for s in parse_report(PAGE)[1].sections]
    assert any("TERRORISTES" in h for h in headings)  # "terroristes" occurs in the text


def test_single_capital_word_is_a_label_not_a_heading():
    sections = parse_report(PAGE)[1].sections
    assert "CANNABIS" not in [s.title for s in sections]
    assert any("CANNABIS" in p for s in sections for p in s.paragraphs)


def test_pull_quote_broken_over_blank_lines_is_rejoined():
    paragraphs = [p for s in parse_report(PAGE)[1].sections for p in s.paragraphs]
    assert "Le télétravail et une activité en ligne accrue sont restés la norme." in paragraphs


def test_page_without_heading_continues_previous_title():
    second = parse_report(PAGE)[2]
    assert second.sections[0].title == "OPÉRATION EXEMPLE : DÉMÊLER LES RÉSEAUX TERRORISTES"


def test_front_matter_takes_document_title():
    pages = parse_report(
        "Texte liminaire avant tout titre.\n\nUN TITRE DE SECTION\n\nCorps.", "Doc"
    )
    assert pages[0].sections[0].title == "Doc"
    assert pages[0].sections[1].title == "UN TITRE DE SECTION"


def test_repeated_paragraph_kept_once():
    repeated = "Un paragraphe entier que l'extraction du PDF a répété."
    pages = parse_report(f"{repeated}\n\n{repeated}\n", "Doc")
    assert [p for s in pages[0].sections for p in s.paragraphs] == [repeated]


def test_a_figure_that_recurs_is_not_taken_for_a_repeat():
    """Two budget lines of one chart cost the same: the second figure was dropped."""
    text = (
        "Contributions en nature\n\n41 millions d’EUR\n\n34 millions d’EUR\n\n"
        "Soutien institutionnel (TI, RH)\n\n34 millions d’EUR\n"
    )
    body = "\n".join(p for s in parse_report(text, "Doc")[0].sections for p in s.paragraphs)
    assert body.count("34 millions d’EUR") == 2


def test_social_media_handles_are_dropped_but_addresses_in_sentences_kept():
    text = (
        "INTERPOL_HQ @INTERPOL HQ INTERPOLINTERPOL_HQwww.interpol.int\n\n"
        "À propos de l'Organisation, qui compte 195 pays membres.\n\n"
        "Toutes les résolutions sont publiées sur\nwww.interpol.int\n\n"
        "Suivez @INTERPOL_HQ pour les dernières actualités."
    )
    paragraphs = [p for s in parse_report(text, "Doc")[0].sections for p in s.paragraphs]
    assert paragraphs == [
        "À propos de l'Organisation, qui compte 195 pays membres.",
        "Toutes les résolutions sont publiées sur www.interpol.int",
        "Suivez @INTERPOL_HQ pour les dernières actualités.",
    ]


def test_non_breaking_spaces_become_plain_spaces():
    pages = parse_report("Quelque 135\u202f000 personnes soupçonnées.", "Doc")
    assert pages[0].sections[0].paragraphs == ("Quelque 135 000 personnes soupçonnées.",)


def test_consecutive_headings_later_names_section_all_kept_as_text():
    pages = parse_report("Avant.\n\nCHAPITRE EN CAPITALES\n\nSOUS TITRE PRÉCIS\n\nTexte.", "Doc")
    section = pages[0].sections[-1]
    assert section.title == "SOUS TITRE PRÉCIS"
    assert section.paragraphs == ("CHAPITRE EN CAPITALES", "SOUS TITRE PRÉCIS", "Texte.")
    assert not section.headed  # its title is printed among its lines, not above them


def test_an_article_under_two_headings_is_as_short_as_under_one():
    """The headings above a short article are not its lines: counted as lines, they made
    it a stat block of labels, standing alone instead of joining the text before it."""
    intro = " ".join(["Le rapport présente les activités de l’année écoulée."] * 8)
    text = (
        f"{intro}\n\nPROTÉGER LES COMMUNAUTÉS VULNÉRABLES\n\n"
        "UNE OPÉRATION MONDIALE CONTRE LA TRAITE\n\nTrente pays ont participé."
    )
    (page,) = parse_report(text, "Doc")
    section = page.sections[-1]
    assert section.headings == ("PROTÉGER LES COMMUNAUTÉS VULNÉRABLES", section.title)
    assert section.body == ("Trente pays ont participé.",)
    (chunk,) = SectionChunker().chunk_page(page)
    assert "Trente pays" in chunk.text and intro[:40] in chunk.text


def test_several_headings_in_a_row_keep_their_reading_order():
    # A list in capitals reads as headings in a row: none of its lines may go missing from
    # the text (the last donor named the section and was printed nowhere else).
    text = "Avant.\n\nNOS DONATEURS EN 2021\n\nPREMIER DONATEUR\n\nSECOND DONATEUR\n\n12 millions"
    section = parse_report(text, "Doc")[0].sections[-1]
    assert section.title == "SECOND DONATEUR"
    assert section.paragraphs == (
        "NOS DONATEURS EN 2021",
        "PREMIER DONATEUR",
        "SECOND DONATEUR",
        "12 millions",
    )
    # Headings in a row that close a page are kept too.
    closing = parse_report("Avant.\n\nUN CHAPITRE\n\nSON TITRE", "Doc")[0].sections[-1]
    assert (closing.title, closing.paragraphs) == ("SON TITRE", ("UN CHAPITRE", "SON TITRE"))


def test_given_pages_are_kept_and_their_url_lines_are_their_sources():
    pages = parse_pages(
        [
            "Avant tout titre.\nUN TITRE SUR DEUX LIGNES\nhttps://example.org/a\nSon texte.",
            "",
            "Suite sans titre.\nhttps://example.org/b\nhttps://example.org/b",
        ],
        "Doc",
    )
    assert [p.number for p in pages] == [1, 2, 3]
    assert [(s.title, s.paragraphs) for s in pages[0].sections] == [
        ("Doc", ("Avant tout titre.",)),
        ("UN TITRE SUR DEUX LIGNES", ("Son texte.",)),
    ]
    assert pages[0].urls == ("https://example.org/a",)
    assert pages[1] == Page(number=2, sections=(), urls=())
    assert pages[2].sections[0].title == "UN TITRE SUR DEUX LIGNES"  # continues the heading
    assert pages[2].urls == ("https://example.org/b",)


def test_a_url_block_does_not_split_a_given_page():
    text = "Premier paragraphe.\nhttps://example.org/a\n\nSecond paragraphe."
    assert len(parse_report(text)) == 2
    assert len(parse_pages([text])) == 1


def test_markdown_headings_are_headings_whatever_their_case():
    text = (
        "# Informe anual 2023\n\n## Mensaje de la directora\n\nEl año 2023 fue difícil.\n\n"
        "### Programa de control de contenedores ###\n\nSe incautaron 7,2 toneladas.\n\n"
        "#ID-ART est une application.\n"
    )
    (page,) = parse_report(text, default_title="Doc")
    assert [(s.title, s.paragraphs) for s in page.sections] == [
        (
            "Mensaje de la directora",
            ("Informe anual 2023", "Mensaje de la directora", "El año 2023 fue difícil."),
        ),
        (
            "Programa de control de contenedores",
            ("Se incautaron 7,2 toneladas.", "#ID-ART est une application."),
        ),
    ]


def test_a_running_header_or_footer_is_dropped_from_given_pages():
    pages = [
        f"Maritime Safety Board | Annual Review 2023 | {n}\n{title}\n{text}\nmsb.example.org"
        for n, (title, text) in enumerate(
            [
                ("FISHING VESSEL MORNING STAR", "The vessel capsized in a storm in March."),
                ("FERRY FIRE IN THE HARBOUR", "A fire broke out on the car deck in June."),
                ("TRAINING OF INSPECTORS", "Forty inspectors were trained in 2023."),
            ],
            start=1,
        )
    ]
    parsed = parse_pages(pages, default_title="MSB")
    texts = [p.sections[0].paragraphs for p in parsed]
    assert texts == [
        ("The vessel capsized in a storm in March.",),
        ("A fire broke out on the car deck in June.",),
        ("Forty inspectors were trained in 2023.",),
    ]
    assert [p.sections[0].title for p in parsed] == [
        "FISHING VESSEL MORNING STAR",
        "FERRY FIRE IN THE HARBOUR",
        "TRAINING OF INSPECTORS",
    ]
    # Two pages are too few to tell a running line from a repeated one.
    assert "Maritime" in parse_pages(pages[:2])[0].sections[0].paragraphs[0]


def test_a_sentence_that_pages_open_with_alike_but_for_figures_is_kept():
    """A running line is short: a page's first sentence, the same on every page but for its
    numbers, is text (a review's PDF lost each page's first lines)."""
    bodies = ["Two smugglers were arrested.", "A scanner was installed.", "Training went on."]
    # A long footer printed word for word on every page is page furniture all the same.
    footer = (
        "© 2023 Port Authority of Europe. All rights reserved. Reproduction is authorised "
        "provided the source is acknowledged."
    )
    pages = [
        f"PORT SECURITY\nIn {2020 + n}, officers inspected {n * 100} containers at the "
        f"eastern terminal during operation {n}.\n{body}\n{footer}\n{n}"
        for n, body in enumerate(bodies, start=1)
    ]
    texts = [" ".join(page.sections[0].paragraphs) for page in parse_pages(pages, "Port")]
    assert texts == [
        f"In {2020 + n}, officers inspected {n * 100} containers at the eastern terminal "
        f"during operation {n}. {body}"
        for n, body in enumerate(bodies, start=1)
    ]


def test_figures_closing_a_page_are_kept_under_its_page_number():
    """Page numbers are running lines of a bare number's shape: only the outermost line
    of a page can be one, not the figures of a stat block just above it."""
    pages = ["Rapport annuel 2023\nSAISIES\n216\n2021\n45\n3"] + [
        f"Rapport annuel 2023\nTEXTE DE LA PAGE {n}\nDu texte.\n{n}" for n in range(4, 7)
    ]
    (section,) = parse_pages(pages)[0].sections
    assert section.paragraphs == ("SAISIES 216 2021 45",)


def test_source_urls_that_differ_only_by_a_number_are_no_running_footer():
    """Running lines are found alike but for their figures ("Annual Review | 2"): a news
    site's numbered articles, one closing each page, were all dropped as a footer."""
    heads = ["SAISIES RECORD", "RÉSEAU DÉMANTELÉ", "ARMES AU PORT", "TROIS ARRESTATIONS"]
    pages = [
        f"Rapport annuel | {n}\n\n{head}\n\nUn article sur le sujet {head.lower()}.\n\n"
        f"Une autre phrase, la {n}e.\n\nhttps://example.org/news/100{n}\nwww.example.org/accueil"
        for n, head in enumerate(heads, start=1)
    ]
    parsed = parse_pages(pages, "Doc")
    assert [p.urls for p in parsed] == [(f"https://example.org/news/100{n}",) for n in (1, 2, 3, 4)]
    assert [p.sections[0].title for p in parsed] == heads
    # The same address closing every page is still page furniture.
    assert all("example.org" not in " ".join(s.paragraphs) for p in parsed for s in p.sections)


def test_a_page_number_under_a_running_header_is_dropped():
    """The header first, then the page number: kept as a figure, the number opened every
    page's text, and no heading under it was found."""
    topics = [
        ("PIRACY AT SEA", "Incidents fell to 19."),
        ("PORT CONTROLS", "Inspectors detained 412 ships."),
        ("TRAINING OF CREWS", "Some 300 officers were trained."),
    ]
    for header in ("Maritime Report 2023", "Maritime Report 2023\nPrinted 12/03/2024"):
        pages = [
            f"{header}\n{n + 9}\n{title}\n{text}" for n, (title, text) in enumerate(topics, start=1)
        ]
        parsed = parse_pages(pages)
        assert [(s.title, s.paragraphs) for p in parsed for s in p.sections] == [
            (title, (text,)) for title, text in topics
        ], header


def test_a_heading_broken_after_a_small_word_is_one_heading():
    """An infographic's title over two blocks: "INFRACTIONS CIBLÉES PAR LES" named nothing."""
    text = (
        "INFRACTIONS\nCIBLÉES\nPAR LES\n\nOPÉRATIONS\nHAECHI\n\nEscroquerie aux placements."
        "\n\nUN AUTRE TITRE\n\nUNE OPÉRATION SOGA\n\nLe texte de l'article suit ici.\n"
    )
    (page,) = parse_report(text)
    assert [(s.title, s.paragraphs) for s in page.sections] == [
        ("INFRACTIONS CIBLÉES PAR LES OPÉRATIONS HAECHI", ("Escroquerie aux placements.",)),
        # Headings in a row that do not end on a small word stay two headings.
        (
            "UNE OPÉRATION SOGA",
            ("UN AUTRE TITRE", "UNE OPÉRATION SOGA", "Le texte de l'article suit ici."),
        ),
    ]


def test_running_lines_are_found_from_the_edges_inwards():
    """A page printed by a browser: the report's header and footer (fixed on the page, so
    last in its text layer), then the browser's date and address lines, four running lines
    at the end of every page."""
    pages = [
        f"{title}\n{text}\nRIVERSIDE WATER UTILITY — ANNUAL REPORT 2022\n"
        f"Riverside Water Utility · Confidential draft\n"
        f"11/28/26, 4:36 PM Water report\nfile:///tmp/water.html {n}/3"
        for n, (title, text) in enumerate(
            [
                ("LEAD PIPES REPLACED", "Crews replaced 1,200 lead pipes in the old town."),
                ("NEW TREATMENT PLANT", "The plant opened in May and serves 40,000 homes."),
                ("CUSTOMER BILLS", "Bills rose by 3 % to cover the plant's running costs."),
            ],
            start=1,
        )
    ]
    parsed = parse_pages(pages, default_title="Water")
    assert [[(s.title, s.paragraphs) for s in p.sections] for p in parsed] == [
        [("LEAD PIPES REPLACED", ("Crews replaced 1,200 lead pipes in the old town.",))],
        [("NEW TREATMENT PLANT", ("The plant opened in May and serves 40,000 homes.",))],
        [("CUSTOMER BILLS", ("Bills rose by 3 % to cover the plant's running costs.",))],
    ]


def test_a_labelled_or_numbered_url_line_is_a_source():
    text = (
        "UNE OPÉRATION\n\nLe texte de l'article.\n\n"
        "Source : https://example.org/a\n[2] https://example.org/b\n\n"
        "Voir le site https://example.org/c pour plus.\n"
    )
    (page, rest) = parse_report(text)
    assert page.urls == ("https://example.org/a", "https://example.org/b")
    assert rest.sections[0].paragraphs == ("Voir le site https://example.org/c pour plus.",)


@pytest.mark.parametrize(
    "line",
    [
        "- https://example.org/a",
        "• https://example.org/a",
        "* <https://example.org/a>",
        "<https://example.org/a>",
        "[Annual report, chapter 2](https://example.org/a)",
        "- [Annual report](https://example.org/a)",
        "1. https://example.org/a",
        "« https://example.org/a »",
        "“https://example.org/a”",
        "“https://example.org/a.”",
        '"https://example.org/a"',
        "Source : « https://example.org/a »",
        "https://example.org/a»",
        "https://example.org/a”",
        "https://example.org/a…",
        "https://example.org/a>",
    ],
)
def test_a_url_in_a_list_or_a_markdown_link_is_a_source(line):
    """Quotation marks around a URL, or left after it by the text around it, are not the
    URL's: the link would be broken."""
    text = f"A RECORD YEAR\n\nVisitors came back.\n\nSources:\n{line}\n\nNEXT PAGE\n\nMore text.\n"
    first, second = parse_report(text)
    assert first.urls == ("https://example.org/a",)
    assert "example.org" not in " ".join(p for s in first.sections for p in s.paragraphs)
    assert second.sections[0].title == "NEXT PAGE"


def test_a_url_wrapped_after_a_hyphen_or_slash_is_joined_back():
    text = (
        "NEW SCANNERS\n\nNew scanners cut waiting times.\n\n"
        "• https://airport.example/news/2023/computed-tomography-scanners-\n"
        "installed-in-terminal-b • https://airport.example/news/2023/passenger-\n"
        "numbers\n"
        "https://airport.example/news/\n"
        "2023/night-flights\n\n"
        "NEXT PAGE\n\nThe text of the next page, after https://airport.example/\n"
        "followed by prose.\n"
    )
    first, second = parse_report(text)
    assert first.urls == (
        "https://airport.example/news/2023/computed-tomography-scanners-installed-in-terminal-b",
        "https://airport.example/news/2023/passenger-numbers",
        "https://airport.example/news/2023/night-flights",
    )
    # A URL in running text followed by words is left as it is.
    assert "after https://airport.example/ followed by prose." in second.sections[0].paragraphs[0]


@pytest.mark.parametrize(
    ("lines", "urls"),
    [
        # A list of sources whose URLs end in a slash: each item is a source of its own.
        (["- https://www.interpol.int/", "- https://www.unodc.org/"], None),
        (["[1] https://a.org/x/", "- https://b.org/y/", "- https://c.org/z"], None),
        # Wrapped twice.
        (["https://a.org/some-", "thing-", "else"], ["https://a.org/some-thing-else"]),
        # Links in angle brackets or Markdown, wrapped: the closing mark ends the URL.
        (
            ["* <https://ports.example/annual/northern-ports/", "2023/full-report.pdf>"],
            ["https://ports.example/annual/northern-ports/2023/full-report.pdf"],
        ),
        (["<https://x.example/annual-", "report-2023>"], ["https://x.example/annual-report-2023"]),
        (
            ["[Report](https://x.example/annual-", "report-2023)"],
            ["https://x.example/annual-report-2023"],
        ),
        # After a slash: a file or a query string.
        (["https://x.example/reports/", "report.pdf"], ["https://x.example/reports/report.pdf"]),
        (["https://x.example/reports/", "?q=ports"], ["https://x.example/reports/?q=ports"]),
    ],
)
def test_a_list_of_sources_or_a_url_wrapped_twice(lines, urls):
    text = "A TITLE HERE\n\nText.\n\n" + "\n".join(lines) + "\n\nNEXT PAGE\n\nMore text.\n"
    first, _ = parse_report(text)
    assert list(first.urls) == (urls or [line.split(" ")[-1] for line in lines])


@pytest.mark.parametrize("line", ["1/12", "2023-2024", "N.B."])
def test_a_line_after_a_url_ending_in_a_slash_stays_text_unless_it_is_a_path(line):
    text = f"A TITLE HERE\n\nText.\n\nhttps://www.interpol.int/\n{line}\n\nMORE TEXT\n\nWords.\n"
    pages = parse_report(text)
    assert pages[0].urls == ("https://www.interpol.int/",)
    assert any(line in p for page in pages for s in page.sections for p in s.paragraphs)


def test_sources_written_otherwise_in_a_block_of_urls():
    """From an operator's report: a site without its scheme ended the block and opened the
    next page's text; a full stop stayed in a URL; two URLs on a line, or one in
    parentheses, stayed text; the "Sources:" label ended the passage."""
    text = (
        "A TITLE HERE\n\nText of the page.\n\nSources:\n"
        "https://www.interpol.int/\nwww.unodc.org\nSource: https://example.org/s.\n"
        "(https://example.org/p)\nhttps://example.org/a ; https://example.org/b\n\n"
        "NEXT PAGE\n\nWords, and www.example.org in a sentence.\n"
    )
    first, second = parse_report(text)
    assert first.urls == (
        "https://www.interpol.int/",
        "https://www.unodc.org",
        "https://example.org/s",
        "https://example.org/p",
        "https://example.org/a",
        "https://example.org/b",
    )
    assert [p for s in first.sections for p in s.paragraphs] == ["Text of the page."]
    assert second.sections[0].paragraphs == ("Words, and www.example.org in a sentence.",)


def test_a_url_that_cannot_be_read_closes_its_page_but_cites_nothing():
    """From a code review: ``urlsplit`` raises ValueError on a host's unbalanced bracket, and
    such a URL stopped the build when sources were ordered. A stray closing bracket after a
    URL is a typo, and goes like a sentence's full stop; a balanced one is the URL's."""
    text = (
        "A TITLE HERE\n\nText of the page.\n\n"
        "https://example.org/a\nhttps://[2001:db8::1/Operation-test\n"
        "Source : https://www.interpol.int]\nhttps://example.org/wiki/Bond_(finance)\n\n"
        "NEXT PAGE\n\nMore text.\n\nhttps://[2001:db8::1]/next\n"
    )
    first, second = parse_report(text)
    assert first.urls == (
        "https://example.org/a",
        "https://www.interpol.int",
        "https://example.org/wiki/Bond_(finance)",
    )
    assert [p for s in first.sections for p in s.paragraphs] == ["Text of the page."]
    assert second.sections[0].title == "NEXT PAGE"
    assert second.urls == ("https://[2001:db8::1]/next",)  # a well-formed IPv6 host


def test_a_heading_inside_a_block_opens_its_article_after_figures():
    """A PDF's text has no blank lines: a heading after a key-figures block, with its
    article's sentence under it, still opens a section; capitals a sentence runs through
    do not."""
    text = (
        "HARBOUR REPORT 2023\n\nThe port grew again in the year under review.\n\n"
        "KEY FIGURES\n4.2 MILLION\nTEU handled\n17.5 M\nchannel depth\n"
        "DREDGING AND INFRASTRUCTURE WORKS\nDwell times fell by a third at peak hours after the "
        "new cranes arrived.\nThe operation was coordinated by\nINTERPOL AND EUROPOL\nwith "
        "support from twelve member countries.\n\nhttps://x.org/a\n"
    )
    (page,) = parse_report(text)
    assert [(s.title, s.paragraphs[0]) for s in page.sections][1:] == [
        ("KEY FIGURES", "4.2 MILLION TEU handled 17.5 M channel depth"),
        (
            "DREDGING AND INFRASTRUCTURE WORKS",
            "Dwell times fell by a third at peak hours after "
            "the new cranes arrived. The operation was coordinated by INTERPOL AND EUROPOL with "
            "support from twelve member countries.",
        ),
    ]


def test_a_heading_line_ending_in_a_small_word_goes_on_with_the_figure_under_it():
    text = (
        "INTERPOL CÉLÈBRE SES\n100 ANS\nL'organisation a été créée en 1923 à Vienne et compte "
        "aujourd'hui 195 pays membres.\n\nhttps://x.org/a\n"
    )
    (page,) = parse_report(text)
    assert page.sections[0].title == "INTERPOL CÉLÈBRE SES 100 ANS"


def test_a_heading_does_not_take_the_figure_in_capitals_under_it():
    text = (
        "HARBOR OPERATIONS IN 2023\n\nThe harbor handled more cargo than ever before.\n\n"
        "KEY FIGURES\n4.2 MILLION\nTEU handled\n38 %\nfewer lost-time injuries\n\n"
        "https://harbor.example/2023\n"
    )
    (page,) = parse_report(text)
    assert [(s.title, s.paragraphs) for s in page.sections][1] == (
        "KEY FIGURES",
        ("4.2 MILLION TEU handled 38 % fewer lost-time injuries",),
    )


INFOGRAPHIC = """\
OPÉRATIONS CONTRE LA TRAITE

Des opérations sur trois continents ont été menées contre les réseaux.

10 000 migrants détectés

216 arrestations

OPÉRATION NORD
Amérique du Sud

4 000 migrants détectés

286 arrestations

OPÉRATION SUD
Afrique, Europe

https://www.interpol.int/fr/Actualites/2021/Operations
"""


def test_capitals_right_after_figures_caption_them_instead_of_opening_a_section():
    sections = parse_report(INFOGRAPHIC)[0].sections
    # One section: the first caption must not name the second group's figures.
    assert [s.title for s in sections] == ["OPÉRATIONS CONTRE LA TRAITE"]
    # Each caption stands on its own line above the figures it captions (printed under
    # them): read in the printed order, each name came before the next group's figures.
    # A group's figures, one per line as printed, are one line under their caption: apart
    # from the next group's, in the text and in its sentences.
    assert sections[0].paragraphs[1:] == (
        "OPÉRATION NORD Amérique du Sud",
        "10 000 migrants détectés 216 arrestations",
        "OPÉRATION SUD Afrique, Europe",
        "4 000 migrants détectés 286 arrestations",
    )


def test_a_broken_sentence_still_goes_on_with_the_figure_that_ends_it():
    text = "Un article.\n\nLa base recense sur quelque\n\n135 000 personnes\n"
    (page,) = parse_report(text, default_title="Doc")
    assert page.sections[0].paragraphs[-1] == "La base recense sur quelque 135 000 personnes"


def test_a_caption_is_not_run_into_the_lower_case_line_after_it():
    text = "Un article.\n\n29 arrestations\n\nLUTTE ANTITERRORISTE\n\ndes enquêtes sur 24 cas\n"
    paragraphs = parse_report(text, "Doc")[0].sections[0].paragraphs
    assert paragraphs[-2:] == ("LUTTE ANTITERRORISTE", "des enquêtes sur 24 cas")


def test_capitals_after_a_bare_number_or_a_sentence_are_still_headings():
    # A bare number is a page number or a value whose label follows, not a captioned figure.
    text = "Un article se termine ici.\n\n17\n\nUN NOUVEL ARTICLE\n\nSon texte commence.\n"
    assert [s.title for s in parse_report(text, "Doc")[0].sections] == [
        "Doc",
        "UN NOUVEL ARTICLE",
    ]
    text = "Bilan : 29 arrestations.\n\nUN AUTRE ARTICLE\n\nSon texte.\n"
    assert parse_report(text, "Doc")[0].sections[-1].title == "UN AUTRE ARTICLE"


def test_a_figure_in_capitals_is_a_stat_but_a_long_heading_may_open_with_one():
    text = (
        "Introduction de la page.\n\nUN ARTICLE\n\nSon texte.\n\n"
        "195 PAYS MEMBRES\nUN PAYS\n\nChaque pays vote.\n\n"
        "11 SEPTEMBRE : 20 ANS PLUS TARD, NOUS TENONS BON\n\nUn autre texte.\n\n"
        "2021 EN CHIFFRES\n\nUne année de travail.\n"
    )
    sections = parse_report(text, "Doc")[0].sections
    assert [s.title for s in sections] == [
        "Doc",
        "UN ARTICLE",
        "11 SEPTEMBRE : 20 ANS PLUS TARD, NOUS TENONS BON",
        "2021 EN CHIFFRES",  # a year is not a count
    ]
    assert "195 PAYS MEMBRES UN PAYS" in sections[1].paragraphs


def test_capitals_that_running_text_follows_open_an_article_after_a_figure():
    # Found by a review of the figure rules on other layouts: a key-figures block, a stat
    # line or a dated signature often closes the text before the next article's heading.
    text = (
        "KEY FIGURES\n3,500 officers trained\n120 countries connected\n\n"
        "OPERATION TRIGGER IX\nOperation Trigger IX targeted firearms trafficking in Africa.\n"
    )
    titles = [s.title for s in parse_report(text, "Doc")[0].sections]
    assert titles == ["KEY FIGURES", "OPERATION TRIGGER IX"]


def test_numbered_headings_that_running_text_follows_are_headings():
    text = (
        "1. INTRODUCTION\nThis report describes the work of the agency in 2022.\n\n"
        "2 OPERATIONS\nWe coordinated twelve operations against organised crime.\n\n"
        "11 SEPTEMBRE : 20 ANS\nPLUS TARD, NOUS TENONS BON\n"
        "Vingt ans après les attentats, la coopération reste une priorité.\n"
    )
    titles = [s.title for s in parse_report(text, "Doc")[0].sections]
    assert titles == [
        "1. INTRODUCTION",
        "2 OPERATIONS",
        "11 SEPTEMBRE : 20 ANS PLUS TARD, NOUS TENONS BON",
    ]


def test_a_section_knows_whether_its_title_is_printed_above_it():
    text = (
        "Introduction avant tout titre.\n\nUN ARTICLE\n\nSon texte.\n\n"
        "UN CHAPITRE\n\nSON ARTICLE\n\nSon texte aussi.\n"
    )
    sections = parse_report(text, "Doc")[0].sections
    assert [(s.title, s.headed) for s in sections] == [
        ("Doc", False),  # carried over: front matter
        ("UN ARTICLE", True),
        ("SON ARTICLE", False),  # "UN CHAPITRE" opens its text, above its title
    ]


def test_a_character_map_takes_single_characters():
    from indexer.text import CharacterMap

    assert CharacterMap({"’": "'", "œ": "oe"})("l’œuvre") == "l'oeuvre"
    for bad in ({}, {"ab": "c"}):
        with pytest.raises(ValueError, match="single characters"):
            CharacterMap(bad)


def test_a_chapter_name_between_running_lines_is_dropped_with_them():
    """The header's chapter name changes every few pages, so it opens too few of them to be
    a running line; the text layer puts it between the header's constant part and the
    footer, and it opened the first passage of every page ("2 Safety and Security
    www.harbour.example.org Page 4 …"), highlights included."""
    chapters = ["1 The Year in Review", "2 Safety and Security", "3 Environment"]
    events = [
        "Container volumes rose to a record.",
        "Cruise visits doubled after the pandemic.",
        "A ransomware attack stopped the gates for a day.",
        "Pilots guided the largest ship ever to call.",
        "Dredging deepened the channel to sixteen metres.",
        "Shore power cut the emissions of cruise ships.",
    ]
    pages = [
        f"Harbour Authority | Annual Report 2023\n{chapters[(n - 1) // 2]}\n"
        f"www.harbour.example.org\nPage {n}\n{event}"
        for n, event in enumerate(events, start=1)
    ]
    # A one-page chapter: its name is in the header once, and printed again as its heading.
    pages.append(
        "Harbour Authority | Annual Report 2023\n4 People\nwww.harbour.example.org\nPage 7\n"
        "# 4 People\nThe Authority employed 1,260 people at the end of the year."
    )
    parsed = parse_pages(pages, default_title="Harbour")
    assert [p.sections[0].paragraphs for p in parsed[:6]] == [(event,) for event in events]
    assert [(s.title, s.paragraphs) for s in parsed[6].sections] == [
        ("4 People", ("The Authority employed 1,260 people at the end of the year.",))
    ]
    pages.pop()
    # A line between running lines that is a paragraph, not a name, stays.
    long_line = "This line holds far too many words to be the name of a chapter in a header."
    pages[0] = pages[0].replace(chapters[0], long_line)
    assert long_line in parse_pages(pages, default_title="Harbour")[0].sections[0].paragraphs[0]
    # So does a page's own one short line there (a chapter divider's title): it recurs on
    # no other page, as a chapter name in the header does.
    titles = ["Safety first", "Zero fatalities", "A greener port", "New quays"]
    dividers = [
        f"Harbour Authority | Annual Report 2023\n{title}\nwww.harbour.example.org\nPage {n}"
        for n, title in enumerate(titles, start=1)
    ]
    parsed = parse_pages(dividers, default_title="Harbour")
    assert [p.sections[0].paragraphs for p in parsed] == [(title,) for title in titles]


def test_a_sources_label_closing_a_pdf_text_block_is_dropped():
    """A PDF's text has no blank lines: "Sources:" closes the text above the URLs instead of
    standing alone, and every page's last passage ended "… Sources:"."""
    page = "THE YEAR IN REVIEW\nVolumes reached a record.\nSources:\nhttps://a.example.org/record"
    (parsed,) = parse_pages([page], "Doc")
    assert [(s.title, s.paragraphs) for s in parsed.sections] == [
        ("THE YEAR IN REVIEW", ("Volumes reached a record.",))
    ]
    assert parsed.urls == ("https://a.example.org/record",)
    # A sentence ending in a colon above the URLs is no label: it stays, wrapped or not.
    for ending in ("The figures come from the port's own records:", "It cites\nits records:"):
        (parsed,) = parse_pages([page.replace("Sources:", ending)], "Doc")
        assert parsed.sections[0].paragraphs[0].endswith("records:"), ending


def test_a_page_an_article_goes_on_from_cites_the_sources_where_it_ends():
    """A PDF article over two pages lists its sources where it ends: its first page's
    passages had no source URL at all (found by a review of an English report)."""
    first = "PORT SECURITY\nThe cameras along the perimeter were replaced in the spring and"
    second = (
        "now cover the two road gates as well.\nCUSTOMS\nCustoms checked 4,000 boxes."
        "\nhttps://port.example.org/cameras"
    )
    third = "NEW HEADING\nA new article starts here, with text of its own.\nhttps://x.example/a"
    pages = parse_pages([first, second, "PILOTS\nPilots guided 11,902 ships.", third])
    assert [p.urls for p in pages] == [
        ("https://port.example.org/cameras",),  # its article ends under a later heading
        ("https://port.example.org/cameras",),
        (),  # the next page opens with a heading of its own: nothing goes on
        ("https://x.example/a",),
    ]
    # Over three pages at most: a report without headings whose last page lists its
    # references does not cite them on every page.
    words = ["harbour", "customs", "pilots", "dredging", "cruise"]
    plain = [f"The {word} section of the text, which goes on" for word in words]
    plain[-1] += "\nhttps://refs.example/list"
    assert [bool(p.urls) for p in parse_pages(plain)] == [False, False, True, True, True]
    # A page whose article is finished lends nothing to the next page's introduction.
    finished = "PILOT SERVICE\nPilots guided 11,902 ships, a record for the service."
    standfirst = (
        "A year of firsts for the port and its people.\nCUSTOMS CHECKS\n"
        "Customs checked 4,000 boxes.\nhttps://customs.example.org/boxes"
    )
    assert parse_pages([finished, standfirst, "OTHER REPORT\nMore text here."])[0].urls == ()


def test_a_label_over_a_figure_under_the_header_is_no_chapter_name():
    """A bare number is a running line only as a page's outermost line (its page number):
    a label over a figure right under the header ("Cruise calls" / "162") was taken for a
    chapter name between running lines and dropped."""
    texts = [
        "The cruise terminal opened in May and served twelve lines through the season.",
        "Dredging of the channel finished ahead of schedule and under the budget set for it.",
        "The authority hired forty new staff, most of them in the pilot service this year.",
        "Customs checked four thousand boxes at the new scanner beside the eastern gate.",
        "Pilots guided eleven thousand ships into the harbour without a single incident.",
        "The new quay wall was finished in October after two years of building work.",
    ]
    pages = [
        "Harbour Authority Annual Report 2023\n"
        + (f"Cruise calls\n{160 + n}\n" if n in (2, 5) else "")
        + f"{text}\n{n}"
        for n, text in enumerate(texts, start=1)
    ]
    parsed = parse_pages(pages, "Doc")
    assert parsed[1].sections[0].paragraphs[0].startswith("Cruise calls 162 Dredging")
    assert parsed[0].sections[0].paragraphs == (texts[0],)  # header and page number gone


def test_markdown_heading_levels_say_which_chapters_a_section_lies_under():
    text = (
        "# Jahresbericht\n\n## Vorwort\n\nDas Jahr war schwer.\n\n# Kapitel 2: Schmuggel\n\n"
        "Der Zollfahndungsdienst ermittelt.\n\n## Rauschgift\n\n### Kokain\n\nViel Kokain.\n"
        "https://www.zoll.de/a\n\nDer Fund wurde im Hafen gemacht.\n\n## Zigaretten\n\n"
        "Viele Zigaretten.\n"
    )
    pages = parse_report(text, default_title="Doc")
    chapters = [(s.title, s.chapters) for page in pages for s in page.sections]
    assert chapters == [
        ("Vorwort", ("Jahresbericht",)),
        ("Kapitel 2: Schmuggel", ()),
        ("Kokain", ("Kapitel 2: Schmuggel", "Rauschgift")),
        # Text before a page's first heading takes its title (intro_title), and its chapters.
        ("Zigaretten", ("Kapitel 2: Schmuggel",)),
        ("Zigaretten", ("Kapitel 2: Schmuggel",)),
    ]
    # Without a heading of its own, a page goes on under those open where the last one ended.
    (_, second) = parse_report(text.replace("## Zigaretten\n\n", ""), default_title="Doc")
    assert [(s.title, s.chapters) for s in second.sections] == [
        ("Kokain", ("Kapitel 2: Schmuggel", "Rauschgift"))
    ]


def test_headings_in_capitals_open_no_chapter():
    sections = parse_report(PAGE)[0].sections + parse_report(PAGE)[1].sections
    assert all(s.chapters == () for s in sections)


def test_a_document_title_over_its_chapters_opens_no_chapter():
    """One heading alone at the top level, first: the cover title. As a chapter it lay over
    every section, so a filter on "2023" matched the whole report."""
    text = (
        "# Informe anual 2023\n\n## Fronteras\n\nTexto sobre fronteras.\n\n### Puertos\n\n"
        "Texto sobre puertos.\n\n## Aduanas\n\nTexto sobre aduanas.\n"
    )
    sections = parse_report(text, default_title="Doc")[0].sections
    assert [(s.title, s.chapters) for s in sections] == [
        ("Fronteras", ()),
        ("Puertos", ("Fronteras",)),
        ("Aduanas", ()),
    ]


def test_headings_of_their_own_lines_are_not_joined_after_a_small_word():
    """Capitals broken over blocks are joined after "DE", "A"…; a Markdown heading comes
    whole ("# Annex A" over "## Methodology" is a chapter over its section)."""
    text = (
        "# Annex A\n\n## Methodology\n\nThe survey covered ports.\n\n# Annex B\n\n"
        "## Tables\n\nThe figures by port.\n"
    )
    sections = parse_report(text, default_title="Doc")[0].sections
    assert [(s.title, s.chapters) for s in sections] == [
        ("Methodology", ("Annex A",)),
        ("Tables", ("Annex B",)),
    ]


def test_a_heading_that_repeats_the_reports_title_opens_no_chapter():
    """On the cover and again on the back cover: two headings at the top level, so not
    told by their level, but by the report's title."""
    text = (
        "# Annual Review 2023\n\n## Borders\n\nText on borders.\n\n## Ports\n\nText on ports."
        "\n\n# Annual Review 2023\n\nBack cover text.\n"
    )
    sections = parse_report(text, default_title="Annual Review — 2023")[0].sections
    assert [(s.title, s.chapters) for s in sections] == [
        ("Borders", ()),
        ("Ports", ()),
        ("Annual Review 2023", ()),
    ]


LINES_OF_THEIR_OWN = [
    pytest.param(
        "# Produktpiraterie\n\nBesonders häufig betroffen waren:\n- Bekleidung und Schuhe\n"
        "- Unterhaltungselektronik, die\n  oft gefälscht wird\n* Kosmetik\n\n"
        "Die Schritte:\n1. Kontrolle der Sendung\n2. Beschlagnahme\n\n"
        "| Grenze | Einreisen |\n|---|--:|\n| Österreich | 35.000 |\n\n---\n\n"
        "Das Gesetz gilt seit dem\n1. Januar 2023 für alle Sendungen.\n",
        (
            "Besonders häufig betroffen waren:",
            "- Bekleidung und Schuhe",
            "- Unterhaltungselektronik, die oft gefälscht wird",
            "* Kosmetik",
            "Die Schritte:",
            "1. Kontrolle der Sendung",
            "2. Beschlagnahme",
            "| Grenze | Einreisen |",
            "| Österreich | 35.000 |",
            # A date at the start of a wrapped line is not a numbered item.
            "Das Gesetz gilt seit dem 1. Januar 2023 für alle Sendungen.",
        ),
        id="bullets, numbers, a table and a rule",
    ),
    pytest.param(
        "Un article.\n\n2 400 policiers ont été formés dans\n\n35 pays membres cette année.\n\n"
        "Die Schritte:\n1. Kontrolle aller Sendungen ab dem\n1. Januar 2024\n2. Beschlagnahme\n\n"
        "| Land |\n| --- |\n| Polen |\n",
        (
            "Un article.",
            "2 400 policiers ont été formés dans 35 pays membres cette année.",
            "Die Schritte:",
            "1. Kontrolle aller Sendungen ab dem 1. Januar 2024",
            "2. Beschlagnahme",
            "| Land |",
            "| Polen |",
        ),
        id="a sentence broken before a figure, a date in a list item",
    ),
    pytest.param(
        "Die Schritte:\n1. Kontrolle aller eingehenden Sendungen aus Drittstaaten an den "
        "Außengrenzen der Union im Hafen\n2. Beschlagnahme der Ware mit\n3. Vernichtung\n\n"
        "| a | b |\n|-|-|\n| 1 | 2 |\n\n| c |\n| :-: |\n| 3 |\n",
        (
            "Die Schritte:",
            "1. Kontrolle aller eingehenden Sendungen aus Drittstaaten an den Außengrenzen der "
            "Union im Hafen",
            "2. Beschlagnahme der Ware mit",
            "3. Vernichtung",
            "| a | b |",
            "| 1 | 2 |",
            "| c |",
            "| 3 |",
        ),
        id="long numbered items, every table separator",
    ),
    pytest.param(
        "# Der Zoll in Zahlen\n\n41.563\nBeschäftigte\n\n146,3 Mrd. €\nEinnahmen\n\n"
        "9,8 Mio.\nZollanmeldungen im Monat\n\nhttps://www.zoll.de/zahlen\n",
        ("41.563 Beschäftigte", "146,3 Mrd. € Einnahmen", "9,8 Mio. Zollanmeldungen im Monat"),
        id="figures over labels in ordinary case",
    ),
    pytest.param(
        "Das Gesetz gilt seit dem\n\n1. Januar 2023 für alle Sendungen.\n\n"
        "| Land | Fälle |\n|---|---|\n| Polen | 3 |\n| - | - |\n",
        (
            "Das Gesetz gilt seit dem 1. Januar 2023 für alle Sendungen.",
            "| Land | Fälle |",
            "| Polen | 3 |",
            "| - | - |",  # a table's separator is its second row only
        ),
        id="a date goes on a broken sentence, a row of dashes",
    ),
]


@pytest.mark.parametrize(("text", "paragraphs"), LINES_OF_THEIR_OWN)
def test_list_items_and_table_rows_stay_on_lines_of_their_own(text, paragraphs):
    """The lines of a block are joined as a wrapped paragraph: a list came out as one line
    ("- Bekleidung - Unterhaltungselektronik - …"), a table as a line of cells, and a stat
    block in ordinary case as one line of figures. A list item opens its line after another
    item only: a date goes on a sentence broken over a blank line."""
    (page,) = parse_report(text, default_title="Jahresbericht")
    assert page.sections[0].paragraphs == paragraphs


def test_a_chapter_named_as_the_file_is_a_chapter():
    """A report without metadata is titled by its file name ("kokain"): its "## Kokain"
    chapter, below the top level, is no document title."""
    text = "# Jahresbericht 2023\n\n## Kokain\n\n### Hamburg\n\nDer Fund im Hafen.\n"
    (section,) = parse_report(text, default_title="kokain")[0].sections
    assert (section.title, section.chapters) == ("Hamburg", ("Kokain",))
