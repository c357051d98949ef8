"""JSON Lines files (passages, evaluation queries): one JSON value per line."""

from __future__ import annotations


def jsonl_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text. Split at "\\n" only: ``str.splitlines()`` also breaks
    at U+2028, U+2029 and U+0085, which JSON leaves unescaped inside strings, and cut a
    passage whose title held one in two."""
    return text.split("\n")
