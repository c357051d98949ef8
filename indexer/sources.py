"""Order a page's source URLs by how well each URL's slug matches a passage."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from indexer.text import fold

# Links that back a page as a whole (videos, posts) rather than one article on it.
_SOCIAL_HOSTS = (
    "twitter.com",
    "x.com",
    "youtube.com",
    "youtu.be",
    "facebook.com",
    "linkedin.com",
    "instagram.com",
)
_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")
_PREFIX = 5  # "pharmacies"/"pharmaceutiques", "arrestation"/"arrestations" share a stem
_MIN_TOKEN = 3


def is_social(url: str) -> bool:
    """True for social-media and video links."""
    host = urlsplit(url).netloc.lower()
    return any(host == h or host.endswith("." + h) for h in _SOCIAL_HOSTS)


def _stems(text: str) -> set[str]:
    """Folded 5-letter prefixes of the words of ``text`` (numbers kept whole)."""
    tokens = _TOKEN_SPLIT.split(fold(text))
    return {t if t.isdigit() else t[:_PREFIX] for t in tokens if len(t) >= _MIN_TOKEN}


def _slug_stems(url: str) -> set[str]:
    return _stems(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


class SourceRanker:
    """Ranks URLs for the passages of one document.

    A slug word is strong evidence when it is rare in the document (an operation's name,
    a figure such as "216") and when few of the page's URLs share it; words found
    everywhere ("INTERPOL", "operation") carry almost none. The weight of a matched word
    is the product of the two inverse frequencies.
    """

    def __init__(self, document_texts: Iterable[str]) -> None:
        stem_sets = [_stems(t) for t in document_texts]
        self._texts = max(1, len(stem_sets))
        self._frequency: dict[str, int] = {}
        for stems in stem_sets:
            for stem in stems:
                self._frequency[stem] = self._frequency.get(stem, 0) + 1

    def rank(
        self, text: str, urls: tuple[str, ...] | list[str], title: str = ""
    ) -> tuple[str, ...]:
        """All of ``urls``, best match for ``text`` first; social and video links last.

        A word of the section ``title`` counts double: a heading usually paraphrases the
        headline of the article it summarises. Ties keep the report's order.
        """
        slugs = {url: _slug_stems(url) for url in urls}
        on_page: dict[str, int] = {}
        for stems in slugs.values():
            for stem in stems:
                on_page[stem] = on_page.get(stem, 0) + 1
        text_stems = _stems(text)
        title_stems = _stems(title)

        def score(url: str) -> float:
            return sum(
                math.log(1 + self._texts / self._frequency.get(s, 1))
                * math.log(1 + len(urls) / on_page[s])
                * (2 if s in title_stems else 1)
                for s in slugs[url] & (text_stems | title_stems)
            )

        order = {url: i for i, url in enumerate(urls)}
        return tuple(sorted(urls, key=lambda u: (is_social(u), -score(u), order[u])))
