"""Search results and passages as every transport sends them: the HTTP API, MCP structured
content and ``report-search query --json`` share these shapes, so they live outside the web
layer (``service/api``), which MCP and the CLI do not need."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from indexer.artifact import DocumentEntry
from indexer.passage import Passage
from service.context import GroundedContext, context_notice
from service.documents import SectionOutline
from service.retrieval.ranking import Mode
from service.searcher import SearchResult

_NOTICE = (
    "Set only when there are no results: why (the filters that left nothing, or keyword "
    "mode's need for a shared word), so that an empty list is not read as the reports being "
    "silent on the question."
)
_CONTEXT_NOTICE = (
    "Set only when the context quotes nothing: why (no results, as for /search, or max_chars "
    "too small for even the best passage), so that an empty context is not read as the "
    "reports being silent on the question."
)
_INDEX_VERSION = (
    "The index version that answered, as GET /readyz names it: after a reload, results of "
    "the old and the new version can be told apart."
)


class DocumentInfo(BaseModel):
    """A document in the index: what ``GET /stats`` and the MCP document list say of it."""

    id: str
    title: str
    year: int | None
    language: str
    publisher: str | None
    source_url: str | None = Field(description="Where the report itself is published.")
    passages: int

    @classmethod
    def from_entry(cls, entry: DocumentEntry) -> DocumentInfo:
        """The manifest's record of a document, without its file name and checksum."""
        return cls(
            id=entry.id,
            title=entry.title,
            year=entry.year,
            language=entry.language,
            publisher=entry.publisher,
            source_url=entry.source_url,
            passages=entry.passages,
        )


class SectionOut(BaseModel):
    """A section of a document's outline (:class:`service.documents.SectionOutline`)."""

    title: str = Field(description="What the `section` filter matches (a part of it will do).")
    page_first: int
    page_last: int
    passage_ids: list[str] = Field(description="For GET /passages/{id}, in reading order.")
    also: list[str] = Field(description="Titles of short sections joined to these passages.")
    chapters: list[str] = Field(
        description="Titles of the headings the section lies under, outermost first (where "
        "the report's format tells how headings nest); the `section` filter matches them too."
    )


class DocumentOutline(DocumentInfo):
    """A document and its sections in reading order."""

    pages: int = Field(description="Pages in reading order: what page_min/page_max range over.")
    sections: list[SectionOut]

    @classmethod
    def of(cls, entry: DocumentEntry, sections: Sequence[SectionOutline]) -> DocumentOutline:
        """Map the core outline of a document to the wire format."""
        return cls(
            **DocumentInfo.from_entry(entry).model_dump(),
            pages=max((s.page_last for s in sections), default=0),
            sections=[SectionOut.model_validate(s, from_attributes=True) for s in sections],
        )


class HighlightOut(BaseModel):
    """The sentence that best matches the query and the closer of its two neighbours;
    ``text[start:end]`` of the passage."""

    text: str
    start: int
    end: int


class SearchHitOut(BaseModel):
    """One ranked passage with where it comes from; ``sections`` lists every section its
    text comes from, in reading order (a short one joined to its neighbour among them),
    ``section`` the one whose title it goes under, ``chapters`` the headings that section
    lies under, outermost first (empty where the report's format does not tell)."""

    rank: int
    score: float
    passage_id: str
    document: str
    page: int
    section: str
    sections: list[str]
    chapters: list[str]
    text: str
    lang: str
    source_urls: list[str]
    highlight: HighlightOut


class SearchResponse(BaseModel):
    """Ranked passages for a query."""

    query: str
    query_lang: str
    mode: Mode
    took_ms: float
    results: list[SearchHitOut]
    notice: str | None = Field(default=None, description=_NOTICE)
    index_version: str = Field(description=_INDEX_VERSION)

    @classmethod
    def from_result(cls, result: SearchResult) -> SearchResponse:
        """Map the core result to the wire format."""
        return cls(
            query=result.query,
            query_lang=result.query_lang,
            mode=result.mode,
            took_ms=round(result.took_ms, 2),
            notice=result.notice,
            index_version=result.index_version,
            results=[
                SearchHitOut(
                    rank=hit.rank,
                    score=round(hit.score, 4),
                    passage_id=hit.passage.id,
                    document=hit.passage.document,
                    page=hit.passage.page,
                    section=hit.passage.section,
                    sections=list(hit.passage.sections),
                    chapters=list(hit.passage.chapters),
                    text=hit.passage.text,
                    lang=hit.passage.lang,
                    source_urls=list(hit.passage.source_urls),
                    highlight=HighlightOut(
                        text=hit.highlight.text, start=hit.highlight.start, end=hit.highlight.end
                    ),
                )
                for hit in result.hits
            ],
        )


class PassageOut(BaseModel):
    """One passage of a document, with its place in reading order; ``sections`` and
    ``chapters`` as in :class:`SearchHitOut`."""

    id: str
    document: str
    page: int
    section: str
    sections: list[str]
    chapters: list[str]
    text: str
    lang: str
    source_urls: list[str]
    position: int

    @classmethod
    def from_passage(cls, passage: Passage) -> PassageOut:
        """Map the core passage to the wire format (same fields as the artifact's)."""
        return cls(**passage.to_dict())


class CitationOut(BaseModel):
    """What ``[n]`` in the context refers to."""

    n: int
    passage_id: str
    document: str
    section: str
    page: int
    source_urls: list[str]
    score: float
    truncated: bool = Field(
        description="Only part of the passage is quoted (marked '…'); get_passage (MCP) or "
        "GET /passages/{id} gives all of it."
    )


class ContextResponse(BaseModel):
    """Numbered passages ready to paste into a prompt, and what each number cites."""

    context: str
    citations: list[CitationOut]
    omitted: int = Field(
        description="Results that did not fit in max_chars (the next ones in rank order)."
    )
    query_lang: str
    notice: str | None = Field(default=None, description=_CONTEXT_NOTICE)
    index_version: str = Field(description=_INDEX_VERSION)

    @classmethod
    def from_context(
        cls, grounded: GroundedContext, result: SearchResult, max_chars: int
    ) -> ContextResponse:
        """Map the core context of ``result``, within ``max_chars``, to the wire format."""
        return cls(
            context=grounded.text,
            citations=[
                CitationOut(
                    n=c.n,
                    passage_id=c.passage.id,
                    document=c.passage.document,
                    section=c.passage.section,
                    page=c.passage.page,
                    source_urls=list(c.passage.source_urls),
                    score=round(c.score, 4),
                    truncated=c.truncated,
                )
                for c in grounded.citations
            ],
            omitted=grounded.omitted,
            query_lang=result.query_lang,
            notice=context_notice(result, grounded, max_chars),
            index_version=result.index_version,
        )


class PassageResponse(PassageOut):
    """A passage and, when asked for, the passages around it in its document."""

    previous: list[PassageOut] = Field(
        default_factory=list, description="Passages just before, in reading order."
    )
    next: list[PassageOut] = Field(
        default_factory=list, description="Passages just after, in reading order."
    )

    @classmethod
    def around(
        cls, passage: Passage, previous: list[Passage], following: list[Passage]
    ) -> PassageResponse:
        """``passage`` with the passages before and after it."""
        return cls(
            **PassageOut.from_passage(passage).model_dump(),
            previous=[PassageOut.from_passage(p) for p in previous],
            next=[PassageOut.from_passage(p) for p in following],
        )
