"""Passages by id, and their neighbours in reading order.

An assistant that cites ``[n]`` often wants the passage again, or the text around it to
widen the context. Search hits carry the passage id; this module answers "which passage is
that, and what comes before and after it in the same document".
"""

from __future__ import annotations

from collections.abc import Sequence

from indexer.messages import quoted
from indexer.passage import Passage
from service.retrieval.filters import id_key

# Passages a caller may ask for on each side: enough to widen a context, not to page through
# a document (its resource does that).
MAX_NEIGHBOURS = 5


class PassageNotFoundError(LookupError):
    """No passage has the requested id; the message says what ids look like."""


class PassageStore:
    """Index of passages by id, each document's passages kept in reading order."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        by_document: dict[str, list[Passage]] = {}
        for passage in passages:
            by_document.setdefault(passage.document, []).append(passage)
        for document in by_document.values():
            document.sort(key=lambda p: p.position)
        self._by_document = by_document
        self._example = passages[0].id if passages else "document-p001-4f9a1c"
        self._where = {
            id_key(passage.id): (document, i)
            for document, ordered in by_document.items()
            for i, passage in enumerate(ordered)
        }

    def around(self, passage_id: str, n: int) -> tuple[Passage, list[Passage], list[Passage]]:
        """The passage, and up to ``n`` passages before and ``n`` after it in its document, in
        reading order (fewer at the start or end of the document)."""
        document, i = self._locate(passage_id)
        ordered = self._by_document[document]
        return ordered[i], ordered[max(0, i - n) : i], ordered[i + 1 : i + 1 + n]

    def in_document(self, document: str) -> list[Passage]:
        """The document's passages in reading order (none for an unknown document)."""
        return list(self._by_document.get(document, ()))

    def _locate(self, passage_id: str) -> tuple[str, int]:
        try:
            return self._where[id_key(passage_id)]
        except KeyError:
            raise PassageNotFoundError(
                f"no passage has the id {quoted(passage_id)}; ids look like {self._example!r} "
                "and come with search and context results"
            ) from None
