"""What a build changes in an index, compared with the version it replaces.

An operator who adds or edits a report wants to see that the build took exactly that in,
and no more: which documents are new, gone or edited, and how many passages followed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from indexer.artifact import DocumentEntry
from indexer.corpus import Document
from indexer.passage import Passage


@dataclass(frozen=True)
class BuildChanges:
    """Documents by id; passages by count.

    A document is changed when its file or metadata checksum differs. A passage is unchanged
    when the replaced version held a passage of the same document with the same section
    title and text (its id or page may have moved).
    """

    documents_added: tuple[str, ...]
    documents_removed: tuple[str, ...]
    documents_changed: tuple[str, ...]
    documents_unchanged: tuple[str, ...]
    passages_added: int
    passages_removed: int
    passages_unchanged: int


def compare(
    before_documents: Iterable[DocumentEntry],
    before_passages: Iterable[Passage],
    documents: list[Document],
    passages: list[Passage],
) -> BuildChanges:
    """Changes from an index of ``before_*`` (empty for a first build) to the new one."""
    before = {d.id: d.sha256 for d in before_documents}
    after = {d.id: d.sha256 for d in documents}
    old, new = Counter(map(_passage_key, before_passages)), Counter(map(_passage_key, passages))
    kept = sum((old & new).values())
    return BuildChanges(
        documents_added=tuple(i for i in after if i not in before),
        documents_removed=tuple(i for i in before if i not in after),
        documents_changed=tuple(i for i in after if i in before and before[i] != after[i]),
        documents_unchanged=tuple(i for i in after if before.get(i) == after[i]),
        passages_added=sum(new.values()) - kept,
        passages_removed=sum(old.values()) - kept,
        passages_unchanged=kept,
    )


def unchanged(documents: list[Document], passages: int) -> BuildChanges:
    """The changes of a build skipped because the index is current: none."""
    return BuildChanges((), (), (), tuple(d.id for d in documents), 0, 0, passages)


def _passage_key(passage: Passage) -> tuple[str, str, str]:
    return passage.document, passage.section, passage.text
