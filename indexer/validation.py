"""Pydantic validation errors as one line a person reads: ``field: message; …``.

Pydantic's own report spends three lines per error on a type code and a documentation link,
which is noise in a CLI error or an HTTP ``detail``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def described(errors: Iterable[Mapping[str, Any]], skip: int = 0) -> str:
    """``errors`` (``ValidationError.errors()``) as ``field: message`` joined by "; ".

    ``skip`` leading parts of each location are left out: FastAPI's start with where the value
    came from ("body", "query"), which is no field name. A validator's own message loses
    the "Value error, " pydantic puts before it.
    """
    return "; ".join(
        f"{'.'.join(str(part) for part in tuple(e.get('loc', ()))[skip:]) or 'value'}: "
        f"{str(e.get('msg', 'invalid value')).removeprefix('Value error, ')}"
        for e in errors
    )
