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
    return repr(echoed(value))


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is 1 ("1 passage", "3 passages")."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def echoed(value: str) -> str:
    """``value`` cut to :data:`ECHOED_CHARS` with "…", as an answer may repeat it."""
    return value if len(value) <= ECHOED_CHARS else value[:ECHOED_CHARS] + "…"


def unknown_names(
    kind: str, names: Iterable[str], where: str, allowed: Iterable[str], takes: str = ""
) -> str:
    """ "unknown field 'top_k' in the JSON body of POST /search; it takes 'query', 'k', …":
    one wording for an unknown field, query parameter or tool argument on every interface
    ("unknown fields 'a', 'b'" for more than one). ``takes`` says what is taken instead of
    the ``allowed`` names."""
    names = list(names)
    kinds = f"{kind}s" if len(names) > 1 else kind
    takes = takes or f"it takes {', '.join(map(repr, allowed)) or 'none'}"
    return f"unknown {kinds} {', '.join(map(repr, names))} {where}; {takes}"
