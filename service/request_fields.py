"""The fields of a search request, defined once for the interfaces that take them as data.

The HTTP API's query strings and JSON bodies (:mod:`service.api.schemas`) and MCP's
``search_report`` (:mod:`service.tool_definition`) read ``k`` and the filters with the same
limits, descriptions and words for what is wrong. The CLI reads them as options, and
:meth:`SearchFilters.problem` checks them again in the core, in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from indexer.language import LANGUAGE_CODE, NOT_A_LANGUAGE_CODE, is_language_code
from service.context import MAX_CONTEXT_CHARS, MIN_CONTEXT_CHARS
from service.retrieval.filters import (
    BLANK_FILTER,
    MAX_FILTER_CHARS,
    SearchFilters,
    is_blank,
    trimmed,
)
from service.retrieval.query import (
    MAX_K,
    MAX_QUERY_CHARS,
    InvalidQueryError,
    validate_query,
)


def refuse_unsearchable_query(value: object) -> object:
    """A before-validator: a query the search would refuse (:func:`validate_query`: empty or
    blank, no letter or digit, control characters) refused here, in its words, so that the
    answer names the field ("q: the query is empty…", "query: …") as every other refused
    field is named; a client (the search page) tells from it that the query is at fault.
    A query too long is left to ``max_length``, which says so in the schema's own words."""
    if isinstance(value, str) and len(value) <= MAX_QUERY_CHARS:
        try:
            validate_query(value)
        except InvalidQueryError as exc:
            raise PydanticCustomError("invalid_query", str(exc)) from None
    return value


# The constraints first: after a validator, pydantic checks max_length as a generic length
# ("at most 1000 items after validation") instead of a string's.
QueryText = Annotated[
    str, Field(min_length=1, max_length=MAX_QUERY_CHARS), BeforeValidator(refuse_unsearchable_query)
]
MaxChars = Annotated[
    int,
    Field(
        ge=MIN_CONTEXT_CHARS,
        le=MAX_CONTEXT_CHARS,
        description="Longest the quoted passages may be, in characters, all together (a "
        "passage is about 1,000): one that does not fit whole is cut around the sentences "
        "that matched best. Passage ids and source URLs come on top.",
    ),
]


def fields_in_order(model: type[BaseModel]) -> list[str]:
    """``model``'s fields as a request lists them: the required ones first (what must be
    sent), then the others in the order they are declared."""
    fields = model.model_fields
    return sorted(fields, key=lambda name: not fields[name].is_required())


def nulls_as_defaults(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without the ``null`` of ``model``'s optional fields, so that they take their
    defaults: models that fill in every optional field send ``"k": null``. A required
    field's ``null``, and any key the model lacks (a misspelt ``"top_k": null``), stay, to
    be refused."""
    fields = model.model_fields
    return {
        key: value
        for key, value in data.items()
        if value is not None or key not in fields or fields[key].is_required()
    }


def trimmed_filter(value: object) -> object:
    """A before-validator: a filter's text without the spaces around it, as the core reads
    it (:func:`.trimmed`), and a blank one refused in :data:`BLANK_FILTER`'s words rather
    than as a pattern that does not match."""
    if not isinstance(value, str):
        return value
    if is_blank(value):
        raise PydanticCustomError("blank", BLANK_FILTER)
    return trimmed(value)


def json_integer(value: object) -> object:
    """A before-validator: a number sent as data is a JSON number. A body that sends
    ``"k": "3"``, ``3.0`` or ``true`` has a bug its sender should hear of (``true`` was read
    as ``k`` = 1); worded as pydantic's strict check."""
    if isinstance(value, bool | str | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


# In the schema, for clients that check before they send: a filter holds something other
# than spaces (JSON Schema's patterns search, unanchored). Checked by ``trimmed_filter``.
_NOT_BLANK = r"\S"


class SearchFields(BaseModel):
    """How many passages, and which ones a search may return."""

    k: int = Field(default=5, ge=1, le=MAX_K, description="How many passages to return.")
    lang: str | None = Field(
        default=None,
        # Checked by ``_language_code``, in words rather than as this expression; still
        # shown in the schema, for clients that check before they send.
        json_schema_extra={"pattern": LANGUAGE_CODE},
        description="Only passages written in this language, whatever the query's language; "
        "leave it out to search passages in every language.",
    )
    document: str | None = Field(
        default=None,
        max_length=MAX_FILTER_CHARS,
        json_schema_extra={"pattern": _NOT_BLANK},
        description="Only this report (its id), when the question is about one of them.",
    )
    section: str | None = Field(
        default=None,
        max_length=MAX_FILTER_CHARS,
        json_schema_extra={"pattern": _NOT_BLANK},
        # Said only with what every caller sees: a model reads a section title in the header
        # of a quoted passage, never the `sections` list of a /search result.
        description="Only passages from a section whose title contains this, or from under a "
        "chapter whose title does (case and accents ignored), such as a section title that "
        "earlier results showed.",
    )
    page_min: int | None = Field(default=None, ge=1, description="First page to search.")
    page_max: int | None = Field(default=None, ge=1, description="Last page to search.")

    _trimmed = field_validator("lang", "document", "section", mode="before")(trimmed_filter)

    @field_validator("lang")
    @classmethod
    def _language_code(cls, value: str | None) -> str | None:
        # The type a pattern check gives, which clients (the search page) tell apart.
        if value is not None and not is_language_code(value):
            raise PydanticCustomError("string_pattern_mismatch", NOT_A_LANGUAGE_CODE)
        return value

    def filters(self) -> SearchFilters:
        """The core filters these fields describe."""
        return SearchFilters(
            lang=self.lang,
            document=self.document,
            section=self.section,
            page_min=self.page_min,
            page_max=self.page_max,
        )
