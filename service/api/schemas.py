"""Request bodies and HTTP-only responses of the API (results: `service.responses`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from indexer.text import written_in_digits
from service.context import DEFAULT_CONTEXT_CHARS
from service.request_fields import (
    MaxChars,
    QueryText,
    SearchFields,
    json_integer,
    nulls_as_defaults,
)
from service.responses import DocumentInfo
from service.retrieval.ranking import Mode


class SearchOptions(SearchFields):
    """What can narrow or steer a search (query string of GET, body of POST)."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode = Field(default=Mode.HYBRID, description="Ranking: dense, keyword or hybrid.")


def url_digits(value: object) -> object:
    """A number in a URL is digits (:func:`indexer.text.written_in_digits`), after a minus
    sign for a negative one: ``k=-1`` is written in digits, and the field's bounds refuse it
    in the words a JSON body's ``-1`` gets ("greater than or equal to 1")."""
    if isinstance(value, str) and not written_in_digits(value.removeprefix("-")):
        raise PydanticCustomError("int_parsing", "Input should be a whole number written in digits")
    return value


class SearchParams(SearchOptions):
    """Query string of ``GET /search``."""

    q: QueryText = Field(description="The query.")

    _digits = field_validator("k", "page_min", "page_max", mode="before")(url_digits)


class JsonSearchOptions(SearchOptions):
    """Search options sent as a JSON body, where a number must be a JSON number.

    A query string's values are all text, so ``GET`` reads ``k=3``; a body that sends
    ``"k": "3"``, ``"k": 3.0`` or ``"k": true`` has a bug its sender should hear of (``true``
    was read as ``k`` = 1), and MCP's arguments and ``max_chars`` refuse them too.
    """

    @model_validator(mode="before")
    @classmethod
    def _null_is_default(cls, data: object) -> object:
        """``null`` for an option means its default: models that fill in every optional
        field send ``"k": null`` or ``"max_chars": null``, and so do MCP clients, which get
        the default for it too. A required field's ``null`` is still refused."""
        return nulls_as_defaults(cls, data) if isinstance(data, dict) else data

    _json_integer = field_validator("k", "page_min", "page_max", mode="before")(json_integer)


class SearchRequest(JsonSearchOptions):
    """Body of ``POST /search``."""

    query: QueryText = Field(examples=["Who was elected President?"])


class ModelInfo(BaseModel):
    """The embedding model being served."""

    name: str
    path: str | None = Field(description="Local folder the model was loaded from.")
    source: str
    dimension: int


class StatsResponse(BaseModel):
    """What is being served."""

    passages: int
    documents: list[DocumentInfo]
    index_built_at: str
    index_format_version: int
    index_version: str = Field(description="Version id of the index (report-index list).")
    model: ModelInfo
    query_languages: list[str] = Field(
        description="Languages a query's language is detected among (empty: any langdetect knows)."
    )
    passage_languages: list[str] = Field(
        description="Languages the passages are written in: what the `lang` filter takes."
    )


class ReadyResponse(BaseModel):
    """The service can search, and which index version it searches."""

    status: str
    index_version: str


# What a request that tries to choose the version to reload is told.
SERVES_CURRENT = (
    "A reload serves the index root's current version: to serve another, run "
    "`report-index rollback VERSION` (`report-index list` shows the versions), then reload"
)


class ReloadRequest(BaseModel):
    """Body of ``POST /admin/reload``: none (a blank one too, :class:`.InputGuard`), or ``{}``
    as a client that always sends JSON sends it. The version to serve is chosen on the index
    root, where a rollback also checks that the model can serve it, so a field such as
    ``version`` is refused, not ignored: a 200 naming the version still current would read
    as that version refused or served."""

    model_config = ConfigDict(extra="forbid")
    # Said after an unknown field of this body (errors.py): how to do what it was sent for.
    refusal_advice: ClassVar[str] = SERVES_CURRENT


class ReloadResponse(BaseModel):
    """An index reload that happened: the version served before and the one served now."""

    previous_version: str
    version: str
    passages: int


class ContextRequest(JsonSearchOptions):
    """Body of ``POST /context``: a search whose passages come back as one cited block."""

    query: QueryText = Field(examples=["Who was elected President?"])
    max_chars: MaxChars = DEFAULT_CONTEXT_CHARS

    _json_max_chars = field_validator("max_chars", mode="before")(json_integer)


class FieldError(BaseModel):
    """One field that did not pass the API's schema, for programs (``detail`` says it too)."""

    loc: list[str | int] = Field(description='Where: ["body", "k"], ["query", "page_min"]…')
    msg: str
    type: str = Field(description="pydantic's error type, such as int_type or string_too_long.")
    input: object = Field(
        default=None,
        description="The value sent, cut to 80 characters (a long list or object as JSON "
        "text); absent for a missing field.",
    )


# What a POST route that needs a body answers without one (errors.py's 400).
EMPTY_BODY = "The request body is empty."


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer: a message a person can act on."""

    detail: str
    errors: list[FieldError] | None = Field(
        default=None, description="With a 422 for fields the schema refused: one per field."
    )


def error_responses(
    *statuses: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, object]]:
    """The OpenAPI ``responses`` of a route that answers these statuses with a message, and
    the ``described`` ones with what each means. The statuses the middleware answers (such
    as a query string's 400) are its own to document (:mod:`service.api.openapi`)."""
    responses: dict[int | str, dict[str, object]] = {s: {"model": ErrorResponse} for s in statuses}
    for status, description in (described or {}).items():
        responses[status] = {"model": ErrorResponse, "description": description}
    return responses
