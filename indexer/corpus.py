"""Read the documents of a corpus folder: one text file per report, metadata beside it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

TEXT_SUFFIXES = (".txt", ".md")
_DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class CorpusError(ValueError):
    """The corpus folder cannot be indexed; the message says which file and why."""


class DocumentMetadata(BaseModel):
    """What a ``<name>.json`` file beside ``<name>.txt`` may say about the report."""

    model_config = ConfigDict(extra="forbid")

    title: str
    year: int | None = None
    language: str = "und"
    publisher: str | None = None
    source_url: str | None = None


@dataclass(frozen=True)
class Document:
    """One report: its id (the file name without extension), metadata, text and checksum.

    ``sha256`` covers the text and the metadata file, so editing either makes an index stale.
    """

    id: str
    path: Path
    metadata: DocumentMetadata
    text: str
    sha256: str


def load_corpus(folder: Path) -> list[Document]:
    """All documents of ``folder``, sorted by id so builds are reproducible."""
    if not folder.is_dir():
        raise CorpusError(f"corpus folder not found: {folder}")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in TEXT_SUFFIXES)
    if not paths:
        raise CorpusError(
            f"no documents in {folder}: add report text files ({', '.join(TEXT_SUFFIXES)})"
        )
    return [load_document(p) for p in paths]


def load_document(path: Path) -> Document:
    """Read one document and its optional metadata file."""
    if not _DOCUMENT_ID.match(path.stem):
        raise CorpusError(
            f"{path.name}: file names become document ids and may only use letters, digits, "
            "'.', '_' and '-'"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not text.strip():
        raise CorpusError(f"{path}: the document is empty")
    digest = hashlib.sha256(raw)
    meta_path = path.with_suffix(".json")
    meta_raw = meta_path.read_bytes() if meta_path.exists() else b""
    digest.update(meta_raw)
    return Document(
        id=path.stem,
        path=path,
        metadata=_parse_metadata(meta_path, meta_raw),
        text=text,
        sha256=digest.hexdigest(),
    )


def _parse_metadata(meta_path: Path, raw: bytes) -> DocumentMetadata:
    if not raw:
        return DocumentMetadata(title=meta_path.stem)
    try:
        return DocumentMetadata.model_validate(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
        raise CorpusError(f"{meta_path}: invalid metadata: {exc}") from exc
