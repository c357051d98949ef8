"""The passage: the unit that is embedded, searched and returned to users."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Passage:
    """A readable piece of one report section, with where it came from.

    ``position`` is the passage's place in the document's reading order, so callers can
    fetch neighbours to widen a context window.
    """

    id: str
    document: str
    page: int
    section: str
    text: str
    lang: str
    position: int
    source_urls: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used in the index artifact."""
        data = asdict(self)
        data["source_urls"] = list(self.source_urls)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "source_urls": tuple(data.get("source_urls", ()))})
