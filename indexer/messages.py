"""How error messages word what a user sent.

Pydantic's own report spends three lines per error on a type code and a documentation link,
which is noise in a CLI error or an HTTP ``detail``; and a value echoed back whole can be
20,000 characters of someone's paste.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

# Longest stretch of a user's value an error message repeats.
ECHOED_CHARS = 80


def describe_errors(
    errors: Iterable[Mapping[str, Any]],
    skip: int = 0,
    whole: str = "value",
    name: Callable[[str], str] = str,
) -> str:
    """``errors`` (``ValidationError.errors()``) as ``field: message`` joined by "; ".

    ``skip`` leading parts of each location are left out: FastAPI's start with where the value
    came from ("body", "query"), which is no field name; an error about the value as a whole
    is labelled ``whole``. ``name`` spells the field as the user set it (settings: its
    environment variable). A validator's own message loses the "Value error, " pydantic puts
    before it.
    """
    return "; ".join(
        f"{name('.'.join(str(part) for part in tuple(e.get('loc', ()))[skip:]) or whole)}: "
        f"{str(e.get('msg', 'invalid value')).removeprefix('Value error, ')}"
        for e in errors
    )


def quoted(value: str) -> str:
    """``value`` in quotes for a message, cut to :data:`ECHOED_CHARS` with "…"."""
    if len(value) <= ECHOED_CHARS:
        return repr(value)
    return repr(value[:ECHOED_CHARS] + "…")
