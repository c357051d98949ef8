"""The passage: the unit that is embedded, searched and returned to users."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Passage:
    """A readable piece of one report section, with where it came from.

    ``position`` is the passage's place in the document's reading order, so callers can
    fetch neighbours to widen a context window. ``sections`` are the titles of every section
    its text comes from, in reading order: a section too short to stand alone is joined to
    a neighbour and named by its title (``section``), yet its own heading must still find it.
    ``chapters`` are the titles of the headings its section lies under, outermost first,
    where the source tells how headings nest (Markdown's levels): a filter on a chapter's
    title must find its articles.
    """

    id: str
    document: str
    page: int
    section: str
    text: str
    lang: str
    position: int
    source_urls: tuple[str, ...] = field(default_factory=tuple)
    sections: tuple[str, ...] = field(default_factory=tuple)
    chapters: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # A passage given no sections (read from an index written before they were listed,
        # or built by hand) comes from its own section.
        if not self.sections and self.section:
            object.__setattr__(self, "sections", (self.section,))

    @property
    def body_start(self) -> int:
        """Where the text after its heading starts (0 for a passage without one).

        A passage that opens a section starts with the section's heading, as the report
        prints it: a reader (or an answer checked against the text) sees it there. Ranking
        reads the body, since the section title is already part of what is embedded and
        searched; the heading counted twice would outweigh the rest.
        """
        return heading_length(self.section, self.text)

    @property
    def body(self) -> str:
        """The text without its opening heading."""
        return self.text[self.body_start :]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used in the index artifact."""
        data = asdict(self)
        data["source_urls"] = list(self.source_urls)
        data["sections"] = list(self.sections)
        data["chapters"] = list(self.chapters)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        """Inverse of :meth:`to_dict`."""
        return cls(
            **{
                **data,
                "source_urls": tuple(data.get("source_urls", ())),
                "sections": tuple(data.get("sections", ())),
                "chapters": tuple(data.get("chapters", ())),
            }
        )


def heading_length(section: str, text: str) -> int:
    """Characters of ``text`` taken by ``section`` as its first line (0 when it is not)."""
    return len(section) + 1 if section and text.startswith(section + "\n") else 0
