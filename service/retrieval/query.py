"""What a query must be to be searched, and how the model reads it.

Every interface (HTTP, MCP, the CLI, evaluation files) validates through here, so a query
refused by one is refused by all, in the same words.
"""

from __future__ import annotations

import re

from indexer.text import CONTROL_CHARACTERS, canonical, page_breaks_as_lines

MAX_QUERY_CHARS = 1000
MAX_K = 50
# A query is "in capitals" when at least this share of its letters, and this many, are.
_CAPITALS_SHARE = 0.8
_CAPITALS_MIN_LETTERS = 8
# A lone surrogate (JSON "\ud800", or a command-line byte that is not UTF-8) is not Unicode
# text: no tokenizer takes it and no JSON answer can carry it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidQueryError(ValueError):
    """The request cannot be searched as given; the message says why.

    ``field`` names the request field at fault, when one is: interfaces answer with it as
    they answer a field their schema refuses (HTTP's ``errors[].loc``), so that a program
    tells which value to change without reading the words.
    """

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


def validate_query(query: str) -> str:
    """The query in canonical form (:func:`indexer.text.canonical`) and stripped, or
    InvalidQueryError when it is blank, too long or holds control characters.

    Form feeds and vertical tabs, which text copied from a PDF carries, are line breaks.
    """
    # The limit applies to what was sent, as the API's schema says: NFC can lengthen some
    # scripts' text, and stripping would make the CLI accept what HTTP refuses.
    # Worded as the HTTP API's schema refuses it, so that every interface says the same.
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQueryError(
            f"String should have at most {MAX_QUERY_CHARS} characters", field="query"
        )
    if LONE_SURROGATE.search(query):
        raise InvalidQueryError(
            "the query is not valid Unicode (it contains an unpaired surrogate)"
        )
    # Checked before stripping, which would drop some of them (U+0085, U+001C-U+001F) at
    # the ends and let them pass.
    text = page_breaks_as_lines(canonical(query))
    if CONTROL_CHARACTERS.search(text):
        raise InvalidQueryError("the query contains control characters")
    stripped = text.strip()
    if not stripped:
        raise InvalidQueryError("the query is empty: type a question or keywords")
    if not any(c.isalnum() for c in stripped):
        raise InvalidQueryError("the query has no letters or digits to search for")
    return stripped


def model_text(query: str) -> str:
    """``query`` lower-cased when it is written in capitals, as typed otherwise.

    The model is cased, and capitals in this kind of report are headings and stat labels
    ("AMPHÉTAMINES"): a question typed in capitals matched those rather than the passage with
    the answer. The 198 evaluation queries typed in capitals fell from hybrid R@5 / MRR@10
    0.990 / 0.905 to 0.899 / 0.785 (dense 0.955 / 0.869 to 0.859 / 0.748); lower-cased, they
    score 0.970 / 0.888. A short word in capitals ("HAECHI") is an acronym and stays as typed,
    and so does a sentence with acronyms in it.
    """
    # All letters count: Arabic or Chinese letters have no case, and a Latin acronym in
    # such a query is not shouting.
    letters = [c for c in query if c.isalpha()]
    capitals = sum(c.isupper() for c in letters)
    if capitals >= _CAPITALS_MIN_LETTERS and capitals >= _CAPITALS_SHARE * len(letters):
        return query.lower()
    return query
