"""The search as a tool a chat model calls: what it is told, one wording for every host.

Tool calling over HTTP (``GET /tools/openai``, ``/tools/anthropic``) and MCP's ``tools/list``
describe the same search, so the description lives here, outside the web layer. Naming the
indexed reports, their language and how to cite is what tells a model when to call the tool
and what to do with its answer; with several reports ``document`` becomes an enumeration of
their ids, so that a question about one report ("in the 2022 report…") is not answered from
another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from indexer.artifact import DocumentEntry
from indexer.language import LANGUAGE_CODE, UNDETERMINED
from service.retrieval.query import MAX_K, MAX_QUERY_CHARS

TOOL_NAME = "search_report"
# Reports the description names; a model reads every tool's description on every turn, so
# with many more the rest are counted (``document`` still lists every id).
NAMED_REPORTS = 20


def search_report_description(documents: Sequence[DocumentEntry]) -> str:
    """What the tool searches and how to use what it returns; with no ``documents`` (an MCP
    server whose index is still loading), the indexed reports, unnamed."""
    corpus = "; ".join(
        f"{d.id}: {d.title}" + (f" (language: {d.language})" if d.language != UNDETERMINED else "")
        for d in documents[:NAMED_REPORTS]
    )
    if len(documents) > NAMED_REPORTS:
        corpus += f"; and {len(documents) - NAMED_REPORTS} more (the document parameter lists them)"
    which = {0: "the indexed reports", 1: f"this report: {corpus}"}.get(
        len(documents), f"these reports: {corpus}"
    )
    # As service.context heads each passage: the report's title too when there are several.
    header = "[n] REPORT — SECTION (p. N)" if len(documents) > 1 else "[n] SECTION (p. N)"
    return (
        f"Search {which} for passages that answer a question. Ask in any "
        f"language: the search is cross-lingual. Returns numbered passages '{header}' "
        "and, for each n, its page and source URLs. Answer only from these passages, "
        "cite them as [n] and give the source URLs of the passages you cite. Page N counts "
        "pages in reading order, which can differ from the number printed on the page."
    )


def document_choice(documents: Sequence[DocumentEntry]) -> dict[str, Any] | None:
    """The ``document`` parameter's schema, or None when there is only one report to choose."""
    if len(documents) < 2:
        return None
    return {
        "type": "string",
        "description": "Only this report, when the question is about one of them.",
        "enum": [d.id for d in documents],
    }


def search_report_tool(documents: Sequence[DocumentEntry]) -> dict[str, Any]:
    """The function definition chat-completion APIs take."""
    properties: dict[str, Any] = {
        "query": {
            "type": "string",
            "description": "The question or keywords, in any language.",
            "minLength": 1,
            "maxLength": MAX_QUERY_CHARS,
        },
        "k": {
            "type": "integer",
            "description": "How many passages to return (default 5).",
            "minimum": 1,
            "maximum": MAX_K,
            "default": 5,
        },
        "lang": {
            "type": "string",
            "description": (
                "Only passages written in this language (ISO 639-1 code such as 'fr'), "
                "whatever the query's language. Leave it out to search passages in every "
                "language."
            ),
            "pattern": LANGUAGE_CODE,
        },
    }
    if (choice := document_choice(documents)) is not None:
        properties["document"] = choice
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": search_report_description(documents),
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": ["query"],
                "additionalProperties": False,
            },
        },
    }
