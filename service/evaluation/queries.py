"""The query file: one JSON query a line (id, lang, query, answers, url; shared eval README).

Every mistake in it is refused when it is read, naming its line, rather than halfway through
a run or, worse, as a score: a blank answer is contained in every passage.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from indexer.jsonl import jsonl_lines
from indexer.messages import describe_errors
from service.retrieval.query import InvalidQueryError, validate_query

# The group of every query, beside one per language: no query's ``lang`` may take its name.
OVERALL = "all"


class EvalQuery(BaseModel):
    """One line of a query file."""

    id: str
    lang: str
    query: str
    # A query without answers could never be found: a mistake in the file, not a miss.
    answers: list[str] = Field(min_length=1)
    url: str | None = None

    @field_validator("query")
    @classmethod
    def _searchable(cls, query: str) -> str:
        """Refused here, with its line, rather than by the search halfway through the run."""
        try:
            return validate_query(query)
        except InvalidQueryError as exc:  # the field is named once, before the message
            raise ValueError(exc.reason) from exc

    @field_validator("lang")
    @classmethod
    def _not_overall(cls, lang: str) -> str:
        """Its group would replace the overall one, of the same name (in any case, it would
        read as that one)."""
        if lang.casefold() == OVERALL:
            raise ValueError(f"{lang!r} names the group of every query: give the query's language")
        return lang

    @field_validator("answers")
    @classmethod
    def _not_blank(cls, answers: list[str]) -> list[str]:
        """A blank answer is contained in every passage: the query would always score a hit."""
        for number, answer in enumerate(answers, start=1):
            if not matching_form(answer):
                raise ValueError(f"answer {number} is blank, and every passage would contain it")
        return answers

    @field_validator("url")
    @classmethod
    def _url_not_blank(cls, url: str | None) -> str | None:
        """A blank url is contained in every source URL: url@hit would count every hit."""
        if url is not None and not matching_form(url):
            raise ValueError(
                "the url is blank, and every source URL would contain it; give part of the "
                "source URL, or null"
            )
        return url


class EvalFileError(ValueError):
    """The query file cannot be read; the message names the line."""


def load_queries(path: Path) -> list[EvalQuery]:
    """Queries of a JSONL file."""
    try:
        lines = jsonl_lines(path.read_text("utf-8"))
    except OSError as exc:
        raise EvalFileError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise EvalFileError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    queries = []
    lines_of: dict[str, int] = {}  # a query's results are told apart by its id
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            query = EvalQuery.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{number}: not valid JSON ({exc})") from exc
        except ValidationError as exc:
            raise EvalFileError(f"{path}:{number}: {describe_errors(exc.errors())}") from exc
        if query.id in lines_of:
            raise EvalFileError(
                f"{path}:{number}: id {query.id!r} is already the id of line {lines_of[query.id]}"
            )
        lines_of[query.id] = number
        queries.append(query)
    if not queries:
        raise EvalFileError(f"{path} holds no queries")
    return queries


def matching_form(text: str) -> str:
    """``text`` as answers are matched against it: case, ’ and whitespace runs folded."""
    return " ".join(text.replace("’", "'").casefold().split())
