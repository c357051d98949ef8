"""A document read whole, as Markdown: its passages in reading order under their sections.

An assistant that found where a report speaks of something may want the whole chapter
around it, or the report itself; headings with page numbers let it cite what it reads there
as it cites search results.
"""

from __future__ import annotations

from collections.abc import Iterable

from indexer.artifact import DocumentEntry
from indexer.language import language_label
from indexer.passage import Passage


def document_markdown(entry: DocumentEntry, passages: Iterable[Passage]) -> str:
    """``entry``'s title and facts, then ``passages`` (its own, in reading order) under a
    ``## SECTION (p. N)`` line wherever the section or the page changes."""
    lines = [
        f"# {entry.title}",
        "",
        f"Year: {entry.year or 'unknown'} · language: {language_label(entry.language)} · "
        f"{entry.passages} passages",
    ]
    heading = None
    for passage in passages:
        if (passage.section, passage.page) != heading:
            heading = (passage.section, passage.page)
            lines += ["", f"## {passage.section} (p. {passage.page})"]
        lines += ["", passage.body]  # its opening heading is the "##" line above
    return "\n".join(lines) + "\n"
