"""The search as a tool a chat model calls: what it is told, one wording for every host.

Tool calling over HTTP (``GET /tools/openai``, ``/tools/anthropic``) and MCP's ``tools/list``
describe the same search, so the description lives here, outside the web layer. Naming the
indexed reports, their language and how to cite is what tells a model when to call the tool
and what to do with its answer; with several reports ``document`` becomes an enumeration of
their ids, so that a question about one report ("in the 2022 report…") is not answered from
another.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from pydantic import Field, field_validator

from indexer.artifact import DocumentEntry
from indexer.language import UNDETERMINED
from service.context import DEFAULT_CONTEXT_CHARS
from service.request_fields import (
    MaxChars,
    QueryText,
    SearchFields,
    fields_in_order,
    json_integer,
)

TOOL_NAME = "search_report"
# Reports the description names; a model reads every tool's description on every turn, so
# with many more the rest are counted (``document`` still lists every id).
NAMED_REPORTS = 20


class SearchReportArguments(SearchFields):
    """What ``search_report`` takes, with the limits the HTTP API applies to the same fields:
    MCP checks calls against it, and both MCP's ``tools/list`` and the HTTP tool definitions
    show it to the model (:func:`search_report_parameters`)."""

    query: QueryText = Field(
        description="The question or keywords, in the user's language (search is "
        "cross-lingual). Name the subject itself ('operations against human trafficking', "
        "not 'what did the organisation do?'): every page of a report is about its "
        "publisher, so a question framed around the publisher also matches general pages.",
    )
    max_chars: MaxChars = DEFAULT_CONTEXT_CHARS

    _json_integer = field_validator("k", "page_min", "page_max", "max_chars", mode="before")(
        json_integer
    )


def search_report_description(documents: Sequence[DocumentEntry]) -> str:
    """What the tool searches and how to use what it returns; with no ``documents`` (an MCP
    server whose index is still loading), the indexed reports, unnamed."""
    named = "; ".join(_report(d) for d in documents[:NAMED_REPORTS])
    if len(documents) > NAMED_REPORTS:
        named += f"; and {len(documents) - NAMED_REPORTS} more (the document parameter lists them)"
    which = {0: "the indexed reports", 1: f"the report {named}"}.get(
        len(documents), f"these reports ({named})"
    )
    # As service.context heads each passage: the report's title too when there are several.
    header = "[n] REPORT — SECTION (p. N)" if len(documents) > 1 else "[n] SECTION (p. N)"
    return (
        f"Search {which} for passages that answer a question. Ask in the user's language: "
        "the search is cross-lingual (measured in French, English, Spanish and German). "
        f"Returns numbered passages '{header}', best first, and for each n its page and "
        "source URLs (the likeliest to back it first). Answer only from these passages, cite "
        "them as [n] and give the "
        "source URLs of the passages you cite. Page N counts pages in reading order, which "
        "can differ from the number printed on the page."
    )


def _report(document: DocumentEntry) -> str:
    language = "" if document.language == UNDETERMINED else f", language {document.language}"
    return f"'{document.title}' (id {document.id}{language})"


def search_report_parameters(
    documents: Sequence[DocumentEntry] | None, languages: Collection[str] | None
) -> dict[str, Any]:
    """The JSON Schema of :class:`SearchReportArguments` a model is shown.

    An option is shown with its own type: ``null`` is taken as its default, but offering it
    only lengthens the schema. ``document`` is an enumeration of the report ids, shown only
    when there are several to choose from; ``lang`` an enumeration of the passages'
    languages, shown only when they are several: over one language a model that passes the
    user's ("en") would get an error, or nothing. Passages of undetermined language count
    for no language. None for either (an index still loading): the field as free text.
    """
    schema = SearchReportArguments.model_json_schema()
    properties: dict[str, Any] = {}
    for name in fields_in_order(SearchReportArguments):
        field = {key: value for key, value in schema["properties"][name].items() if key != "title"}
        choices = field.pop("anyOf", None)
        if choices is not None:  # "X or null": X, with the field's own description
            field = {**next(c for c in choices if c.get("type") != "null"), **field}
            field.pop("default", None)
        properties[name] = field
    if documents is not None:
        _choice(properties, "document", [d.id for d in documents], drop="maxLength")
    if languages is not None:
        _choice(properties, "lang", sorted(set(languages) - {UNDETERMINED}), drop="pattern")
    return {
        "type": "object",
        "properties": properties,
        "required": schema["required"],
        "additionalProperties": False,
    }


def _choice(properties: dict[str, Any], name: str, values: list[str], drop: str) -> None:
    """``name`` as an enumeration of ``values`` (its ``drop`` constraint said by them), or
    left out when there is nothing to choose."""
    if len(values) < 2:
        del properties[name]
    else:
        properties[name] = {key: v for key, v in properties[name].items() if key != drop}
        properties[name]["enum"] = values


def search_report_tool(
    documents: Sequence[DocumentEntry], languages: Collection[str]
) -> dict[str, Any]:
    """The function definition chat-completion APIs take; answered by ``POST /context``."""
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": search_report_description(documents),
            "parameters": search_report_parameters(documents, languages),
        },
    }
