"""A document as a whole: its outline (sections, pages, passages) and its text as Markdown.

An assistant that found where a report speaks of something may want the whole chapter
around it, or the report itself; headings with page numbers let it cite what it reads there
as it cites search results. An outline says which sections there are to filter on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from indexer.artifact import DocumentEntry
from indexer.language import language_label
from indexer.passage import Passage
from service.retrieval.filters import id_key


def find_document(documents: Iterable[DocumentEntry], document_id: str) -> DocumentEntry | None:
    """The document with this id, read as the ``document`` filter reads it (:func:`id_key`:
    like a query, in any case)."""
    wanted = id_key(document_id)
    return next((d for d in documents if id_key(d.id) == wanted), None)


def document_markdown(entry: DocumentEntry, passages: Iterable[Passage]) -> str:
    """``entry``'s title and facts, then ``passages`` (its own, in reading order) under a
    ``## SECTION (p. N)`` line wherever the section, its chapters or the page change (a
    section under chapters is written under them: ``## Kapitel 2 › Kokain (p. 4)``)."""
    lines = [
        f"# {entry.title}",
        "",
        f"Year: {entry.year or 'unknown'} · language: {language_label(entry.language)} · "
        f"{entry.passages} passages",
    ]
    heading = None
    for passage in passages:
        if (passage.chapters, passage.section, passage.page) != heading:
            heading = (passage.chapters, passage.section, passage.page)
            title = " › ".join([*passage.chapters, passage.section])
            lines += ["", f"## {title} (p. {passage.page})"]
        lines += ["", passage.body]  # its opening heading is the "##" line above
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SectionOutline:
    """A run of passages under one section title, in reading order."""

    title: str
    page_first: int
    page_last: int
    passage_ids: tuple[str, ...]
    # Titles of short sections joined to these passages (:attr:`Passage.sections`).
    also: tuple[str, ...] = ()
    # The headings the section lies under, outermost first (:attr:`Passage.chapters`).
    chapters: tuple[str, ...] = ()


def outline(passages: Iterable[Passage]) -> list[SectionOutline]:
    """A document's sections in reading order, from its passages (in reading order): each
    run of passages under one title, with the pages it spans and the passages' ids.

    What a reader scans to find a chapter, and the titles the ``section`` filter matches; a
    title that comes back later in the report (a heading repeated on another page, or the
    same title under another chapter) is a run of its own, where it is.
    """
    runs: list[list[Passage]] = []
    for passage in passages:
        last = runs[-1][-1] if runs else None
        if last is not None and (last.section, last.chapters) == (
            passage.section,
            passage.chapters,
        ):
            runs[-1].append(passage)
        else:
            runs.append([passage])
    return [
        SectionOutline(
            title=run[0].section,
            page_first=min(p.page for p in run),
            page_last=max(p.page for p in run),
            passage_ids=tuple(p.id for p in run),
            also=tuple(
                dict.fromkeys(
                    t
                    for p in run
                    for t in p.sections
                    if t != run[0].section and t not in run[0].chapters
                )
            ),
            chapters=run[0].chapters,
        )
        for run in runs
    ]
