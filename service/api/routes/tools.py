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
from indexer.language import UNDETERMINED
from service.api.deps import StateDep, query_parameters
from service.responses import LANG_PATTERN
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
            "pattern": LANG_PATTERN,
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
                f"Search {f'{which}: {corpus}' if corpus else 'the indexed reports'} "
                "for passages that answer a question. Ask in any language: the search is "
                "cross-lingual. Returns numbered passages '[n] SECTION (p. N)' and, for each "
                "n, its page and source URLs. Answer only from these passages, cite them as "
                "[n] and give the source URLs of the passages you cite."
            ),
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": ["query"],
                "additionalProperties": False,
            },
        },
    }


@router.get("/tools/openai", dependencies=[query_parameters()])
def openai_tools(state: StateDep) -> dict[str, Any]:
    """The ``search_report`` function definition for chat-completion tool calling.

    Answers while the index is still loading too, with a description that does not name
    the documents yet.
    """
    return search_report_tool(_documents(state))


@router.get("/tools/anthropic", dependencies=[query_parameters()])
def anthropic_tools(state: StateDep) -> dict[str, Any]:
    """The same definition in the form Anthropic's Messages API takes (``input_schema``)."""
    function = search_report_tool(_documents(state))["function"]
    return {
        "name": function["name"],
        "description": function["description"],
        "input_schema": function["parameters"],
    }


def _documents(state: ServiceState) -> Sequence[DocumentEntry]:
    engine = state.engine
    return engine.searcher.index.manifest.documents if engine is not None else ()
