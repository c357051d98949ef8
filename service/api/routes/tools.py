"""``GET /tools/openai`` and ``/tools/anthropic``: the search as a function a chat model can call.

Chat-completion APIs take tools as ``{"type": "function", "function": {name, description,
parameters}}``, Anthropic's Messages API as ``{name, description, input_schema}`` (the same
JSON Schema). Serving the definition here keeps it in step with the API's own limits;
the caller answers the model's ``search_report`` calls by posting the arguments to
``POST /context`` and returning the context and citations as the tool result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter

from indexer.artifact import DocumentEntry
from indexer.language import LANGUAGE_CODE, UNDETERMINED
from service.api.deps import StateDep, query_parameters
from service.api.schemas import error_responses
from service.searcher import MAX_K, MAX_QUERY_CHARS
from service.state import ServiceState

router = APIRouter(tags=["assistants"])


def search_report_tool(documents: Sequence[DocumentEntry]) -> dict[str, Any]:
    """The function definition; naming the documents lets the model know when to call it.

    With several documents it also takes ``document``, an enumeration of their ids, so that a
    question about one report ("in the 2022 report…") is not answered from another.
    """
    corpus = "; ".join(
        f"{d.id}: {d.title}" + (f" (language: {d.language})" if d.language != UNDETERMINED else "")
        for d in documents
    )
    which = "this report" if len(documents) == 1 else "these reports"
    # As service.context heads each passage: the report's title too when there are several.
    header = "[n] SECTION (p. N)" if len(documents) == 1 else "[n] REPORT — SECTION (p. N)"
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
    if len(documents) > 1:
        properties["document"] = {
            "type": "string",
            "description": "Only this report, when the question is about one of them.",
            "enum": [d.id for d in documents],
        }
    return {
        "type": "function",
        "function": {
            "name": "search_report",
            "description": (
                f"Search {which}: {corpus} for passages that answer a question. Ask in any "
                f"language: the search is cross-lingual. Returns numbered passages '{header}' "
                "and, for each n, its page and source URLs. Answer only from these passages, "
                "cite them as [n] and give the source URLs of the passages you cite."
            ),
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": ["query"],
                "additionalProperties": False,
            },
        },
    }


@router.get("/tools/openai", dependencies=[query_parameters()], responses=error_responses(503))
def openai_tools(state: StateDep) -> dict[str, Any]:
    """The ``search_report`` function definition for chat-completion tool calling.

    A 503 while the index loads, like the search itself: the definition names the indexed
    reports, and a host that fetches it once at start-up would otherwise keep one that
    names none.
    """
    return search_report_tool(_documents(state))


@router.get("/tools/anthropic", dependencies=[query_parameters()], responses=error_responses(503))
def anthropic_tools(state: StateDep) -> dict[str, Any]:
    """The same definition in the form Anthropic's Messages API takes (``input_schema``)."""
    function = search_report_tool(_documents(state))["function"]
    return {
        "name": function["name"],
        "description": function["description"],
        "input_schema": function["parameters"],
    }


def _documents(state: ServiceState) -> Sequence[DocumentEntry]:
    return state.require_engine().searcher.index.manifest.documents  # NotReadyError: 503
