"""PDF reports: their own pages become the report's pages, bad files are refused by name."""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from indexer.artifact import load_index
from indexer.build import build_index
from indexer.corpus import CorpusError, load_corpus, load_document
from indexer.parsing import parse_pages
from indexer.settings import Settings
from service.api.app import create_app
from service.retrieval.filters import SearchFilters
from service.searcher import Searcher

PAGE_ONE = [
    "LA PIRATERIE DANS LE GOLFE DE GUINÉE",
    "Les navires marchands ont subi de nombreuses attaques au large des côtes. Les marines de la "
    "région ont partagé leurs informations avec INTERPOL et ont arrêté plusieurs chefs de bande. "
    "Des équipages ont été libérés après des semaines de captivité.",
    "https://www.interpol.int/fr/Actualites/Piraterie",
]
PAGE_TWO = [
    "OPÉRATION CORAIL : PROTÉGER LES RÉCIFS",
    "Des douaniers ont intercepté des cargaisons de coraux et de tortues marines dans trois "
    "ports. Les trafiquants utilisaient des sociétés écrans pour vendre les espèces protégées.",
]
TEXT_REPORT = """\
RAPPORT SUR LA CYBERCRIMINALITÉ

Les rançongiciels ont frappé des hôpitaux et des administrations. Les enquêteurs ont suivi
les paiements en cryptomonnaie jusqu'à des plateformes d'échange. Douze suspects ont été
arrêtés dans quatre pays.
https://www.interpol.int/fr/Actualites/Cyber
"""


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF with a text layer: one page per entry, each paragraph wrapped into lines."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for paragraphs in pages:
        y = 800
        for paragraph in paragraphs:
            for line in textwrap.wrap(paragraph, 90) or [""]:
                pdf.drawString(50, y, line)
                y -= 14
            y -= 14
        pdf.showPage()
    pdf.save()
    path.write_bytes(buffer.getvalue())
    return path


def test_pdf_pages_become_report_pages(tmp_path):
    path = write_pdf(tmp_path / "piracy.pdf", [PAGE_ONE, [], PAGE_TWO])
    document = load_document(path)
    assert document.pages is not None and len(document.pages) == 3
    pages = parse_pages(document.pages, "Piracy")
    assert [p.number for p in pages] == [1, 2, 3]  # the empty page keeps the numbering
    assert [s.title for s in pages[0].sections] == [PAGE_ONE[0]]
    assert pages[0].urls == (PAGE_ONE[2],)
    assert pages[1].sections == () and pages[2].urls == ()
    assert [s.title for s in pages[2].sections] == [PAGE_TWO[0]]
    assert "tortues marines" in pages[2].sections[0].paragraphs[0]


def test_pdf_metadata_and_checksum_like_text(tmp_path):
    path = write_pdf(tmp_path / "piracy.pdf", [PAGE_ONE])
    bare = load_document(path)
    assert bare.metadata.title == "piracy"
    (tmp_path / "piracy.json").write_text('{"title": "Piraterie", "year": 2022}', "utf-8")
    described = load_document(path)
    assert (described.metadata.title, described.metadata.year) == ("Piraterie", 2022)
    assert described.sha256 != bare.sha256


def test_pdf_encrypted_without_an_opening_password_is_read(tmp_path):
    path = write_pdf(tmp_path / "restricted.pdf", [PAGE_ONE])
    writer = PdfWriter(clone_from=PdfReader(path))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")
    writer.write(path)
    document = load_document(path)
    assert document.pages is not None and PAGE_ONE[0] in document.pages[0]


def _encrypted(path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(path))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    writer.write(path)


def _scanned(path: Path) -> None:
    write_pdf(path, [[], []])


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:300])


def _not_a_pdf(path: Path) -> None:
    path.write_text("Un simple texte nommé .pdf", "utf-8")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_encrypted, "encrypted with a password"),
        (_scanned, "no text layer"),
        (_truncated, "not a readable PDF"),
        (_not_a_pdf, "not a readable PDF"),
    ],
)
def test_bad_pdf_is_a_corpus_error_naming_the_file(tmp_path, caplog, damage, message):
    path = write_pdf(tmp_path / "broken-report.pdf", [PAGE_ONE])
    damage(path)
    with pytest.raises(CorpusError, match=message) as error:
        load_corpus(tmp_path)
    assert "broken-report.pdf" in str(error.value)
    # What pypdf notes while reading ("invalid pdf header") is not logged (printed bare by
    # Python when nothing is set up to log) beside the error.
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


def test_a_damaged_pdf_error_says_what_pypdf_found(tmp_path):
    _not_a_pdf(tmp_path / "r.pdf")
    with pytest.raises(CorpusError, match="invalid pdf header"):
        load_corpus(tmp_path)


def test_two_files_for_one_document_id_are_refused(tmp_path):
    write_pdf(tmp_path / "report.pdf", [PAGE_ONE])
    (tmp_path / "report.txt").write_text(TEXT_REPORT, "utf-8")
    with pytest.raises(CorpusError, match=re.escape("report.pdf and report.txt")):
        load_corpus(tmp_path)


@pytest.fixture(scope="module")
def pdf_settings(tmp_path_factory) -> Settings:
    """A PDF report and a text report indexed together with the real model."""
    folder = tmp_path_factory.mktemp("pdf")
    corpus = folder / "corpus"
    corpus.mkdir()
    write_pdf(corpus / "piracy-2022.pdf", [PAGE_ONE, PAGE_TWO])
    (corpus / "piracy-2022.json").write_text('{"title": "Piraterie 2022"}', "utf-8")
    (corpus / "cyber-2022.txt").write_text(TEXT_REPORT, "utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=folder / "index")
    build_index(settings, settings.corpus_dir, settings.index_dir)
    return settings


@pytest.fixture(scope="module")
def pdf_searcher(pdf_settings) -> Searcher:
    return Searcher.open(pdf_settings)


def test_pdf_passages_carry_their_page_and_document(pdf_settings):
    passages = load_index(pdf_settings.index_dir).passages
    pdf = [p for p in passages if p.document == "piracy-2022"]
    assert {p.document for p in passages} == {"piracy-2022", "cyber-2022"}
    assert [(p.page, p.section) for p in pdf] == [(1, PAGE_ONE[0]), (2, PAGE_TWO[0])]
    assert "golfe" not in pdf[1].text and "tortues marines" in pdf[1].text
    assert pdf[0].source_urls == (PAGE_ONE[2],) and pdf[1].source_urls == ()
    assert all(p.id.startswith("piracy-2022-p") for p in pdf)


def test_document_filter_returns_only_that_documents_passages(pdf_searcher):
    query = "arrestations de suspects"
    everywhere = pdf_searcher.search(query, k=10)
    assert {hit.passage.document for hit in everywhere.hits} == {"piracy-2022", "cyber-2022"}
    only_pdf = pdf_searcher.search(query, k=10, filters=SearchFilters(document="piracy-2022"))
    assert [hit.passage.document for hit in only_pdf.hits] == ["piracy-2022"] * 2


def test_context_with_a_document_filter_cites_only_that_document(pdf_settings, pdf_searcher):
    documents = {p.id: p.document for p in pdf_searcher.index.passages}
    with TestClient(create_app(pdf_settings, pdf_searcher)) as client:
        body = {"query": "trafic d'espèces protégées", "k": 5, "document": "cyber-2022"}
        reply = client.post("/context", json=body)
    assert reply.status_code == 200
    citations = reply.json()["citations"]
    assert citations and {documents[c["passage_id"]] for c in citations} == {"cyber-2022"}
