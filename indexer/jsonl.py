"""JSON Lines files (passages, evaluation queries): one JSON value per line; and JSON
objects read strictly (reports' metadata files, request bodies)."""

from __future__ import annotations


class RepeatedKeyError(ValueError):
    """A JSON object names a field twice: ``{"k": 1, "k": 2}`` would silently keep 2."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the JSON field {key!r} is given more than once; give it once")


def unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``json.loads``'s ``object_pairs_hook`` for objects whose keys must all differ; raises
    RepeatedKeyError."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise RepeatedKeyError(key)
        seen.add(key)
    return dict(pairs)


def jsonl_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text. Split at "\\n" only: ``str.splitlines()`` also breaks
    at U+2028, U+2029 and U+0085, which JSON leaves unescaped inside strings, and cut a
    passage whose title held one in two."""
    return text.split("\n")
