"""What a PDF's layout says (indexer/pdf_layout.py): headings in ordinary case by their type
size, paragraphs by their spacing."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, NumberObject
from reportlab.pdfgen import canvas

from indexer.corpus import load_document
from indexer.parsing import parse_pages
from indexer.pdf_layout import marked_pages

BODY = [
    "The harbour handled a record volume of containers in 2023, mostly from transshipment.",
    "Dwell times for import containers fell after trucks had to book a slot at the gate.",
    "The company signed long-term agreements with two of the largest shipping alliances.",
]
SECURITY = [
    "Customs officers screened every reefer container arriving from high-risk routes.",
    "Seizures of undeclared tobacco doubled, and two smuggling networks were dismantled.",
]


def _pdf(path: Path, pages: list[list[tuple[str, float]]], scale: float = 1.0) -> Path:
    """One page per entry, each line printed at its size (through a scaled matrix when
    ``scale`` is not 1, as some PDFs print every font at size 1); an empty line is a gap of
    its size in points."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for lines in pages:
        y = 800.0
        for text, size in lines:
            if not text:  # a gap of ``size`` points
                y -= size
                continue
            pdf.saveState()
            pdf.translate(50, y)
            pdf.scale(scale, scale)
            pdf.setFont("Helvetica", size / scale)
            pdf.drawString(0, 0, text)
            pdf.restoreState()
            y -= size * 1.6
        pdf.showPage()
    pdf.save()
    path.write_bytes(buffer.getvalue())
    return path


def _body(lines: list[str]) -> list[tuple[str, float]]:
    return [(line, 10.0) for line in lines]


def _titles(path: Path) -> list[str]:
    document = load_document(path)
    assert document.pages is not None
    return [s.title for page in parse_pages(document.pages, "Harbour") for s in page.sections]


def test_larger_lines_in_ordinary_case_title_their_sections(tmp_path):
    path = _pdf(
        tmp_path / "harbour.pdf",
        [
            [("Trade and logistics", 16), *_body(BODY)],
            [("2.1 Port security", 16), *_body(SECURITY)],
        ],
    )
    assert _titles(path) == ["Trade and logistics", "2.1 Port security"]
    document = load_document(path)
    section = parse_pages(document.pages or (), "Harbour")[1].sections[0]
    assert section.paragraphs[0].startswith("Customs officers")  # the heading is not text


def test_a_heading_over_small_print_is_still_a_heading(tmp_path):
    """Only a figure over a smaller line is one over its label: a heading over a byline or
    a table is a heading."""
    for title in ("Port security", "2.1 Port security", "Port security in 2023"):
        lines = [(title, 16), ("By the Harbour Master", 8), *_body(BODY)]
        assert _titles(_pdf(tmp_path / "h.pdf", [lines])) == [title], title


def test_a_running_header_at_a_headings_size_does_not_run_into_it(tmp_path):
    """Two lines of one large size far apart are two things: a header and a heading."""
    cruise = ["Cruise ships called 164 times, a record for the eastern terminal.", "Shore power"]
    cruise[1] += " served twenty-three of those calls, cutting the ships' emissions at berth."
    texts = {"Port security": SECURITY, "Trade and logistics": BODY, "Cruise visits": cruise}
    pages = [
        [("Harbour Authority Annual Report", 12), ("", 60), (title, 12), *_body(text)]
        for title, text in texts.items()
    ]
    assert _titles(_pdf(tmp_path / "h.pdf", pages)) == [
        "Port security",
        "Trade and logistics",
        "Cruise visits",
    ]


def test_a_heading_wrapped_over_two_lines_is_one_title(tmp_path):
    path = _pdf(
        tmp_path / "h.pdf",
        [[("Customs and security cooperation", 18), ("with neighbouring ports", 18), *_body(BODY)]],
    )
    assert _titles(path) == ["Customs and security cooperation with neighbouring ports"]


def test_a_lead_paragraph_under_a_heading_is_not_part_of_it(tmp_path):
    lead = [("A record year: volumes rose by fourteen percent while dwell", 12)]
    lead.append(("times fell, and the harbour signed two long-term agreements.", 12))
    path = _pdf(tmp_path / "h.pdf", [[("Trade and logistics", 18), *lead, *_body(BODY)]])
    assert _titles(path) == ["Trade and logistics"]


def test_the_size_is_read_through_a_scaled_matrix(tmp_path):
    path = _pdf(tmp_path / "h.pdf", [[("Trade and logistics", 16), *_body(BODY)]], scale=4.0)
    assert _titles(path) == ["Trade and logistics"]


def test_large_text_that_is_no_heading_stays_text(tmp_path):
    # Each between lines of body text, so that no two of them make one run.
    large = [
        ("Together, we keep the harbour open to trade.", 14),  # a pull quote
        ("“Every near miss counts”", 14),  # a quotation
        ("We kept the harbour open every single day!", 14),  # an exclamation
        ("4.2 million containers", 24),  # a figure
        ("US$312.4m", 20),  # a figure without a word
        ("Introduction . . . . . . . . . . 1", 14),  # a table of contents entry
    ]
    lines: list[tuple[str, float]] = [("Trade and logistics", 16)]
    for item in large:
        lines += [*_body(BODY[:1]), item]
    lines += [("98% on time", 20), ("berth windows offered", 8)]  # a figure, its label
    lines += [*_body(BODY[1:]), ("195 MEMBER COUNTRIES", 20)]  # a stat in capitals: the parser's
    path = _pdf(tmp_path / "h.pdf", [lines])
    assert _titles(path) == ["Trade and logistics"]
    text = load_document(path).text
    for line, _ in [*large, ("98% on time", 20), ("195 MEMBER COUNTRIES", 20)]:
        assert line in text and f"# {line}" not in text


def test_a_pdf_printed_in_one_size_is_read_as_pypdf_reads_it(tmp_path):
    path = _pdf(tmp_path / "h.pdf", [[("Trade and logistics", 10), *_body(BODY)]])
    pages = PdfReader(path).pages
    assert marked_pages(pages) == tuple(page.extract_text() for page in pages)


def test_paragraphs_are_told_apart_by_their_spacing(tmp_path):
    """pypdf's text has no blank lines: a list item without a full stop ran into the
    paragraph under it, one sentence for highlights and chunking."""
    item = "South Korea: 260,000 TEU, up 14% after a new direct service began in April"
    lines = [("Trade and logistics", 16), *_body(BODY[:2]), ("", 8), (item, 10), ("", 8)]
    lines += _body([BODY[2], *SECURITY])
    path = _pdf(tmp_path / "spaced.pdf", [lines])
    (page,) = parse_pages(load_document(path).pages or (), "Harbour")
    after = " ".join([BODY[2], *SECURITY])
    assert page.sections[0].paragraphs == (" ".join(BODY[:2]), item, after)
    # Spaced as the lines of one paragraph, they stay one (the spacing says nothing).
    lines = [line for line in lines if line[0]]
    (page,) = parse_pages(load_document(_pdf(tmp_path / "even.pdf", [lines])).pages or (), "H")
    assert page.sections[0].paragraphs == (" ".join([*BODY[:2], item, after]),)


def test_a_new_column_opens_a_paragraph(tmp_path):
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.setFont("Helvetica", 10)
    for n, line in enumerate(["Trade grew in the first half", "of the year, and then"]):
        pdf.drawString(50, 800 - 16 * n, line)
    for n, line in enumerate(["Customs officers screened", "every reefer container."]):
        pdf.drawString(300, 800 - 16 * n, line)  # the second column, from the top again
    pdf.showPage()
    pdf.save()
    path = tmp_path / "columns.pdf"
    path.write_bytes(buffer.getvalue())
    (page,) = parse_pages(load_document(path).pages or (), "Harbour")
    assert page.sections[0].paragraphs == (
        "Trade grew in the first half of the year, and then",
        "Customs officers screened every reefer container.",
    )


def test_a_page_the_layout_pass_fails_on_is_read_as_before(tmp_path):
    """Given a visitor, pypdf also parses streams without text: a damaged drawing on a page
    that plain extraction skipped made the whole report unreadable."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(50, 800, "Body text of the report, readable.")
    pdf.showPage()
    pdf.rect(0, 0, 10, 10)
    pdf.showPage()
    pdf.save()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buffer.getvalue())))
    stream = writer.pages[1]["/Contents"].get_object()
    del stream["/Filter"]
    stream._data = b"q 1 0 0 1 0 0 cm BI /W 4 /H 4 /BPC 8 /CS /G ID \x00\x01\x02 no end"
    stream[NameObject("/Length")] = NumberObject(len(stream._data))
    path = tmp_path / "damaged.pdf"
    writer.write(path)
    assert [page.strip() for page in load_document(path).pages or ()] == [
        "Body text of the report, readable.",
        "",
    ]


def test_chinese_large_text_is_measured_in_characters():
    """A Chinese pull quote is one "word" to str.split: it read as a heading of any length."""
    from indexer.pdf_layout import _is_heading

    assert _is_heading("港口安全")
    assert _is_heading("第3章 港湾の安全と環境への取り組み")  # 17 characters
    assert not _is_heading("我们的港口全年保持开放为所有船只和旅客提供安全可靠的服务" * 2)
    assert not _is_heading("港口全年保持开放。")


def test_heading_sizes_rank_as_levels_so_articles_lie_under_their_chapter(tmp_path):
    path = _pdf(
        tmp_path / "harbour.pdf",
        [
            [
                ("2 Safety and security", 20),
                *_body(BODY),
                ("2.1 Port security", 14.2),
                *_body(SECURITY),
            ],
            [("2.2 Pilotage", 14), *_body(BODY)],
            [("3 Environment", 19.5), *_body(SECURITY)],
        ],
    )
    document = load_document(path)
    assert document.pages is not None
    sections = [s for page in parse_pages(document.pages, "Harbour") for s in page.sections]
    # 14.2 and 14 points are one level, as are 20 and 19.5: within 5 % of each other.
    assert [(s.title, s.chapters) for s in sections] == [
        ("2 Safety and security", ()),
        ("2.1 Port security", ("2 Safety and security",)),
        ("2.2 Pilotage", ("2 Safety and security",)),
        ("3 Environment", ()),
    ]
