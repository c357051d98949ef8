"""Read the documents of a corpus folder: one file per report (text or PDF), metadata beside it."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError

from indexer.language import NOT_A_LANGUAGE_CODE, UNDETERMINED, is_language_code, language_of
from indexer.messages import describe_errors
from indexer.pdf_layout import marked_pages
from indexer.strict_json import RepeatedKeyError, unique_keys
from indexer.text import clean_text, collapse_whitespace

TEXT_SUFFIXES = (".txt", ".md")
_FRONT_MATTER_MAX_LINES = 100  # beyond, a "---" is a rule in the text, not the end of it
_YAML_LINE = re.compile(r"^(?:[A-Za-z_][\w-]*\s*:(?:\s|$)|\s+\S|-\s|#)")
PDF_SUFFIX = ".pdf"
METADATA_SUFFIX = ".json"
SUFFIXES = (*TEXT_SUFFIXES, PDF_SUFFIX)
_DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class CorpusError(ValueError):
    """The corpus folder cannot be indexed; the message says which file and why."""


class DocumentMetadata(BaseModel):
    """What a ``<name>.json`` file beside ``<name>.txt`` (or ``.md``, ``.pdf``) may say."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    year: Annotated[StrictInt, Field(ge=1000, le=9999)] | None = None
    # A language code as langdetect gives them ("fr", "zh-cn"): passages take it when their
    # own language cannot be detected, and the `lang` filter compares codes.
    language: str = UNDETERMINED
    publisher: str | None = None
    source_url: str | None = None

    @field_validator("language")
    @classmethod
    def _langdetect_code(cls, value: str) -> str:
        """A locale ("fr-FR") as its language ("fr"): passages' detected languages, which
        the ``lang`` filter compares with, are langdetect's codes."""
        if not is_language_code(value):
            raise PydanticCustomError("language_code", NOT_A_LANGUAGE_CODE)
        return language_of(value.lower())

    @field_validator("source_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        """Shown as a link to the report: an address a browser opens (an intranet's too:
        ``http://intranet/r.pdf``), or nothing."""
        if value is None:
            return None
        address = value.strip()
        try:
            parts = urlsplit(address)
            host = parts.hostname
        except ValueError:  # an address urlsplit cannot read ("http://[::1")
            host = None
        if (
            host is None
            or parts.scheme.lower() not in ("http", "https")
            or not address.isprintable()
            or " " in address
        ):
            raise PydanticCustomError("url", "should be a web address (https://…)")
        return address

    @field_validator("title", "publisher")
    @classmethod
    def _one_clean_line(cls, value: str | None) -> str | None:
        """Titles are shown and stored as passage text is: one line (a title becomes the
        section of text before a report's first heading) and no control characters, which
        would reach readers and prompts."""
        if value is None:
            return None
        cleaned = collapse_whitespace(clean_text(value))
        if not cleaned:
            raise ValueError("holds no visible character")
        return cleaned


@dataclass(frozen=True)
class Document:
    """One report: its id (the file name without extension), metadata, text and checksum.

    ``sha256`` covers the file, how it is read (its suffix) and the metadata file, so
    editing either, or renaming "r.txt" to "r.md", makes an index stale.
    ``pages`` holds a PDF's text page by page, so that its page breaks become the report's
    pages (``text`` is then those pages joined); it is None for a text file, whose pages the
    parser finds in the text.
    """

    id: str
    path: Path
    metadata: DocumentMetadata
    text: str
    sha256: str
    pages: tuple[str, ...] | None = None


def require_folder(folder: Path) -> None:
    """Raise CorpusError unless ``folder`` exists and is a folder."""
    if folder.is_file():
        raise CorpusError(
            f"{folder} is a file: give the corpus folder that holds it (and the other reports)"
        )
    if not folder.is_dir():
        raise CorpusError(f"corpus folder not found: {folder}")


def ignored_files(folder: Path) -> list[str]:
    """Names of the files in ``folder`` a build does not read (a .docx, an .html…, a pipe or
    a socket whatever its name), and of its subfolders ("2024/"), so that the build can say
    so rather than skip them without a word. Hidden ones are left out."""
    read = (*SUFFIXES, METADATA_SUFFIX)
    return sorted(
        f"{p.name}/" if p.is_dir() else p.name
        for p in _entries(folder)
        if not p.name.startswith(".")
        and not _unseen(p)
        and (p.is_dir() or p.suffix.lower() not in read or _special(p))
    )


def _special(path: Path) -> bool:
    """A pipe, a socket or a device: no file to read, even named "x.txt" (a broken link is
    refused elsewhere, in its own words)."""
    return not path.is_symlink() and path.exists() and not path.is_file() and not path.is_dir()


def _entries(folder: Path) -> list[Path]:
    """What ``folder`` holds, sorted; a folder that cannot be listed is a CorpusError in
    words, as every other problem of the corpus (not Python's "[Errno 13]")."""
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise CorpusError(f"the corpus folder {folder} cannot be read: {_reason(exc)}") from exc


# What Path.is_file() and is_dir() answer False to; any other error (a link into a folder
# without permission, an I/O error) they raise.
_NOT_THERE = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def _unseen(path: Path) -> str | None:
    """Why ``path`` cannot even be looked at (its kind unknown), as one more problem listed
    rather than an abort in Python's words that hides the others; None when it can be."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno not in _NOT_THERE:
            return f"{path}: cannot be read: {_reason(exc)}"
    return None


def _read(path: Path) -> bytes:
    """``path``'s bytes; an unreadable file is one more problem listed, not an abort that
    hides the others."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot be read: {_reason(exc)}") from exc


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def load_corpus(folder: Path) -> list[Document]:
    """All documents of ``folder``, sorted by id so builds are reproducible.

    Every problem found is reported at once (CorpusError, one line each), so that an
    operator adding a batch of reports fixes them in one go rather than a rebuild each.
    """
    require_folder(folder)
    entries = _entries(folder)
    blocked = {p: why for p in entries if not p.name.startswith(".") and (why := _unseen(p))}
    entries = [p for p in entries if p not in blocked]
    # Hidden files are not the operator's reports: "._x.txt" that copying from a Mac leaves,
    # an editor's ".x.txt.swp" or a draft kept out of sight.
    files = [p for p in entries if p.is_file() and not p.name.startswith(".")]
    paths = [p for p in files if p.suffix.lower() in SUFFIXES]
    # A link to a report on a share that is not mounted is neither a file nor a folder: it
    # would drop out of the index without a word, and out of a running service at reload.
    problems = [*blocked.values()] + [
        _broken_link(link)
        for link in entries
        if link.is_symlink()
        and not link.exists()
        and not link.name.startswith(".")
        and link.suffix.lower() in (*SUFFIXES, METADATA_SUFFIX)
    ]
    if not paths and not problems:
        raise CorpusError(f"no documents in {folder}: add report files ({', '.join(SUFFIXES)})")
    # Ids that differ only in case are one file on a case-insensitive file system (a copy
    # of the corpus would lose one) and two documents here: refused like "x.txt" + "x.md".
    by_id: dict[str, Path] = {}
    for path in paths:
        if (twin := by_id.get(path.stem.casefold())) is not None:
            problems.append(
                f"{twin} and {path.name} would both be document {path.stem!r}: keep one of them"
            )
        by_id.setdefault(path.stem.casefold(), path)
    # Metadata goes with the report of its name whatever the case, as ids match.
    metadata: dict[str, Path] = {}
    for meta_path in (p for p in files if p.suffix.lower() == METADATA_SUFFIX):
        if (twin := metadata.get(meta_path.stem.casefold())) is not None:
            problems.append(
                f"{twin} and {meta_path.name} are both metadata of {meta_path.stem!r}; "
                "only one would apply: keep one of them"
            )
        metadata.setdefault(meta_path.stem.casefold(), meta_path)
    for key, meta_path in metadata.items():
        # Ignored, its title and language would silently not apply.
        if key not in by_id:
            problems.append(
                f"{meta_path}: no report {meta_path.stem}.txt, .md or .pdf beside it; name a "
                "metadata file like its report, or remove it"
            )
    documents = []
    for path in paths:
        try:
            documents.append(load_document(path, metadata.get(path.stem.casefold())))
        except CorpusError as exc:
            problems.append(str(exc))
    if len(problems) == 1:
        raise CorpusError(problems[0])
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise CorpusError(f"{len(problems)} problems in {folder}:\n{listed}")
    return documents


def _broken_link(link: Path) -> str:
    """Why the link ``link`` leads to no file."""
    try:
        link.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return (
                f"{link} is a link loop: it links to {link.readlink()}, which leads back to "
                "itself; fix the link or remove it"
            )
    return (
        f"{link} links to {link.readlink()}, which does not exist (a share not mounted?): "
        "fix the link or remove it"
    )


def load_document(path: Path, meta_path: Path | None = None) -> Document:
    """Read one document (text or PDF) and its metadata file (default: ``<id>.json``).

    Text is read as :func:`indexer.text.clean_text` gives it; a UTF-8 byte-order mark
    (Windows editors write one) is dropped. A text export's form feeds separate its pages,
    as a PDF's own pages do.
    """
    if not _DOCUMENT_ID.match(path.stem):
        raise CorpusError(
            f"{path.name}: file names become document ids and may only use ASCII letters "
            "(a-z, A-Z: no accents), digits, '.', '_' and '-', starting with a letter or a digit"
        )
    raw = _read(path)
    pages: tuple[str, ...] | None
    if path.suffix.lower() == PDF_SUFFIX:
        pdf_pages = _pdf_pages(path, raw)
        pages, text = pdf_pages, "\n\n".join(pdf_pages)
    else:
        decoded = _decode(path, raw)
        if path.suffix.lower() == ".md":
            decoded = _without_front_matter(decoded)
        pages = _form_feed_pages(decoded)
        text = "\n\n".join(pages) if pages is not None else clean_text(decoded)
    if not text.strip():
        raise CorpusError(f"{path}: the document is empty")
    # The suffix first: "r.txt" renamed "r.md" is read otherwise (front matter dropped, "#"
    # headings), and with the bytes alone the build called the index up to date.
    digest = hashlib.sha256(path.suffix.lower().encode() + b"\0")
    digest.update(raw)
    meta_path = meta_path or path.with_suffix(METADATA_SUFFIX)
    meta_raw = _read(meta_path) if meta_path.exists() else None
    digest.update(meta_raw or b"")
    return Document(
        id=path.stem,
        path=path,
        metadata=_parse_metadata(meta_path, meta_raw),
        text=text,
        sha256=digest.hexdigest(),
        pages=pages,
    )


def _decode(path: Path, raw: bytes) -> str:
    # UTF-16 (a Windows "Unicode" export) decodes as UTF-8 when its text is ASCII, as
    # "F\0O\0R\0…": indexed, it would be garbage that no query finds. A stray NUL in a
    # text export is only cleaned away (``clean_text``).
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw.count(0) * 10 > len(raw):
        raise CorpusError(
            f"{path}: not UTF-8 text (UTF-16, or a binary file: NUL bytes throughout); "
            "save it as UTF-8"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # exc.start counts from after a byte-order mark, which the codec takes off first.
        line = exc.object[: exc.start].count(b"\n") + 1
        byte = exc.start + len(raw) - len(exc.object)
        raise CorpusError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {byte}, line {line}; Latin-1 "
            "or Windows-1252?); save it as UTF-8"
        ) from exc


def _without_front_matter(text: str) -> str:
    """A Markdown file's text without the YAML front matter that opens it ("---" lines around
    "title: …"): indexed, it was a passage of its own, and a URL in it closed a page. Only
    "key: value" lines (and their lists and indented continuations) make front matter: a
    report that opens with a horizontal rule keeps its text."""
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return text
    for end, line in enumerate(lines[1:_FRONT_MATTER_MAX_LINES], start=1):
        if line.strip() in ("---", "..."):
            inside = [line for line in lines[1:end] if line.strip()]
            if inside and all(_YAML_LINE.match(line) for line in inside):
                return "\n".join(lines[end + 1 :])
            return text
    return text


def _form_feed_pages(text: str) -> tuple[str, ...] | None:
    """A text export's own pages when form feeds separate them, as ``pdftotext`` writes them
    (one after every page, the last included); None when it has none. Without this, an
    export with no URL blocks was one page, and page numbers and filters meant nothing."""
    if "\f" not in text:
        return None
    pages = text.split("\f")
    if not pages[-1].strip():  # the feed after the last page opens no page
        pages.pop()
    return tuple(clean_text(page) for page in pages)


def _pdf_pages(path: Path, raw: bytes) -> tuple[str, ...]:
    """The text layer of each page, headings in ordinary case marked by their size and
    paragraphs by their spacing (:mod:`indexer.pdf_layout`); a PDF without one (a scan)
    cannot be searched."""
    with _pypdf_notes() as notes:
        try:
            reader = PdfReader(io.BytesIO(raw))
            pages = tuple(clean_text(page) for page in marked_pages(reader.pages))
        except FileNotDecryptedError as exc:
            raise CorpusError(
                f"{path}: the PDF is encrypted with a password; add a decrypted copy"
            ) from exc
        except Exception as exc:  # pypdf raises many types (not only PdfReadError)
            found = f"; {notes[0]}" if notes else ""
            raise CorpusError(
                f"{path}: not a readable PDF ({type(exc).__name__}: {exc}{found})"
            ) from exc
    if not any(page.strip() for page in pages):
        raise CorpusError(
            f"{path}: the PDF has no text layer (a scan?); add a PDF with text (after OCR) "
            "or a text export"
        )
    return pages


@contextmanager
def _pypdf_notes() -> Iterator[list[str]]:
    """What pypdf logs while reading: the repairs it makes to a damaged file ("invalid pdf
    header", "EOF marker not found"). Left to Python's last-resort handler they were printed
    bare before the build's own error; kept instead, the first says why in that error."""
    notes: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            notes.append(record.getMessage())

    logger, handler = logging.getLogger("pypdf"), Keep(logging.WARNING)
    logger.addHandler(handler)
    propagates, logger.propagate = logger.propagate, False
    try:
        yield notes
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagates


# What a JSON value that is not an object is, in JSON's words.
_JSON_KINDS = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}


def _parse_metadata(meta_path: Path, raw: bytes | None) -> DocumentMetadata:
    if raw is None:
        return DocumentMetadata(title=meta_path.stem)
    if not raw.strip():  # a file saved empty: its title and language would silently not apply
        raise CorpusError(f"{meta_path}: the metadata file is empty; give at least a title")
    try:
        data = json.loads(_decode(meta_path, raw), object_pairs_hook=unique_keys)
    except (json.JSONDecodeError, RepeatedKeyError) as exc:
        raise CorpusError(f"{meta_path}: invalid metadata: {exc}") from exc
    if not isinstance(data, dict):  # pydantic would name its class ("…DocumentMetadata")
        raise CorpusError(
            f'{meta_path}: invalid metadata: a JSON object is expected ({{"title": "…", …}}), '
            f"not {_JSON_KINDS.get(type(data), 'a number')}"
        )
    try:
        return DocumentMetadata.model_validate(data)
    except ValidationError as exc:
        raise CorpusError(
            f"{meta_path}: invalid metadata: {describe_errors(exc.errors())}"
        ) from exc
