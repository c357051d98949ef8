"""``GET /tools/openai`` and ``/tools/anthropic``: the search as a function a chat model can call.

Chat-completion APIs take tools as ``{"type": "function", "function": {name, description,
parameters}}``, Anthropic's Messages API as ``{name, description, input_schema}`` (the same
JSON Schema). Serving the definition (``service.tool_definition``) keeps it in step with the
API's own limits; the caller answers the model's ``search_report`` calls by posting the arguments to
``POST /context`` and returning the context and citations as the tool result.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.api.deps import StateDep, query_parameters
from service.api.schemas import error_responses
from service.tool_definition import search_report_tool

router = APIRouter(tags=["assistants"])


@router.get("/tools/openai", dependencies=[query_parameters()], responses=error_responses(503))
def openai_tools(state: StateDep) -> dict[str, Any]:
    """The ``search_report`` function definition for chat-completion tool calling.

    A 503 while the index loads, like the search itself: the definition names the indexed
    reports, and a host that fetches it once at start-up would otherwise keep one that
    names none.
    """
    engine = state.require_engine()  # NotReadyError: 503
    return search_report_tool(engine.documents, engine.passage_languages)


@router.get("/tools/anthropic", dependencies=[query_parameters()], responses=error_responses(503))
def anthropic_tools(state: StateDep) -> dict[str, Any]:
    """The same definition in the form Anthropic's Messages API takes (``input_schema``)."""
    function = openai_tools(state)["function"]
    return {
        "name": function["name"],
        "description": function["description"],
        "input_schema": function["parameters"],
    }
