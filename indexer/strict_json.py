"""JSON objects read strictly (reports' metadata files, request bodies): a field given twice
is an error, where ``json.loads`` keeps the last value without a word."""

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
