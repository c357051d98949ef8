"""Order each passage's source URLs: the article that backs it first.

A page of the report ends with the URLs of the articles its items summarise, in no
particular order, and several items share a page. The evidence that a URL is a passage's
article is its slug, the article's headline in the address ("La-police-marocaine-arrete-un-
cybermalfaiteur-presume…"): the words it shares with the passage, and how close the headline
is in meaning, through the same model as the passages. Words alone mislead where two items
of a page share them: the Moroccan arrest's item speaks of "un autre cybermalfaiteur très
actif", Operation Cyclone's headline of "un réseau très actif de cybermalfaiteurs", and each
item was given the other's article.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from urllib.parse import unquote

import numpy as np

from indexer.parsing.urls import split_url
from indexer.passage import Passage
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
_TOKEN_SPLIT = re.compile(r"[\W_]+")  # between words (after fold), in any script
_PREFIX = 5  # "pharmacies"/"pharmaceutiques", "arrestation"/"arrestations" share a stem
_MIN_TOKEN = 3
_SLUG_SEPARATORS = re.compile(r"[-_+\s]+")
_HEADLINE_MIN_LETTERS = 4  # not a language code ("/fr") or an id
# Meaning counts twice as much as shared words, each on the scale of its spread over the
# document. Over the 98 (passage, expected URL) pairs the evaluation queries lead to, the
# expected URL came first for 68 by words alone and for 71-75 with meaning at weights 1 to 3
# (EVALUATION.md).
MEANING_WEIGHT = 2.0


def is_social(url: str) -> bool:
    """True for social-media and video links."""
    parts = split_url(url)  # the parser drops unreadable URLs; this must not rely on it
    host = parts.netloc.lower() if parts else ""
    return any(host == h or host.endswith("." + h) for h in _SOCIAL_HOSTS)


def headline(url: str) -> str:
    """The words of a URL's last path segment ("" for a site's home page or a bare id):
    an article's slug is its headline."""
    words = _SLUG_SEPARATORS.sub(" ", _slug(url)).strip()
    return words if sum(c.isalpha() for c in words) >= _HEADLINE_MIN_LETTERS else ""


def _slug(url: str) -> str:
    """The last segment of a URL's path, percent-decoded ("R%C3%A9seau" is "Réseau"); none
    for a URL that cannot be read."""
    parts = split_url(url)
    return unquote(parts.path.rstrip("/").rsplit("/", 1)[-1]) if parts else ""


def article_urls(passages: Iterable[Passage]) -> list[str]:
    """The distinct URLs with a headline that may name a passage's article (not social links)."""
    return sorted({u for p in passages for u in p.source_urls if not is_social(u) and headline(u)})


def _stems(text: str) -> set[str]:
    """Folded 5-letter prefixes of the words of ``text``, in any script (numbers kept whole)."""
    tokens = _TOKEN_SPLIT.split(fold(text))
    return {t if t.isdigit() else t[:_PREFIX] for t in tokens if len(t) >= _MIN_TOKEN}


def _slug_stems(url: str) -> set[str]:
    return _stems(_slug(url))


class _WordEvidence:
    """Words a passage shares with a URL's slug, for the passages of one document.

    A slug word is strong evidence when it is rare in the document (an operation's name,
    a figure such as "216") and when few of the page's URLs share it; words found
    everywhere ("INTERPOL", "operation") carry almost none. The weight of a matched word
    is the product of the two inverse frequencies; a word of the section title counts
    double, as a heading usually paraphrases the headline of the article it summarises.
    """

    def __init__(self, document_texts: Iterable[str]) -> None:
        stem_sets = [_stems(t) for t in document_texts]
        self._texts = max(1, len(stem_sets))
        self._frequency: dict[str, int] = {}
        for stems in stem_sets:
            for stem in stems:
                self._frequency[stem] = self._frequency.get(stem, 0) + 1

    def scores(self, text: str, title: str, urls: list[str]) -> np.ndarray:
        slugs = [_slug_stems(url) for url in urls]
        on_page: dict[str, int] = {}
        for stems in slugs:
            for stem in stems:
                on_page[stem] = on_page.get(stem, 0) + 1
        text_stems, title_stems = _stems(text), _stems(title)
        return np.array(
            [
                sum(
                    math.log(1 + self._texts / self._frequency.get(s, 1))
                    * math.log(1 + len(urls) / on_page[s])
                    * (2 if s in title_stems else 1)
                    for s in stems & (text_stems | title_stems)
                )
                for stems in slugs
            ],
            dtype=np.float64,
        )


def _centred(scores: np.ndarray) -> np.ndarray:
    """``scores`` less their mean: how much better than its page's average each URL fits."""
    return scores - scores.mean() if scores.size else scores


def _spread(rows: list[np.ndarray]) -> float:
    """The typical size of centred scores across a document (1 where they are all alike).

    One scale for a whole document, not one per passage: over a passage's own URLs, a page
    with two of them made any gap, however small, one standard deviation, and a cosine
    0.0001 apart outweighed an exact match of an operation's name in the slug.
    """
    values = np.concatenate([row for row in rows if row.size > 1] or [np.zeros(1)])
    spread = float(np.sqrt(np.mean(values**2)))
    return spread if spread > 0 else 1.0


def _meaning(
    vector: np.ndarray, articles: list[str], headline_vectors: dict[str, np.ndarray]
) -> np.ndarray:
    """Cosines of a passage to the articles' headlines.

    A URL without a headline has no meaning to compare: it scores as the least alike.
    """
    known = [n for n, url in enumerate(articles) if url in headline_vectors]
    scores = np.zeros(len(articles), dtype=np.float64)
    if known:
        cosines = np.stack([headline_vectors[articles[n]] for n in known]) @ vector
        scores[:] = cosines.min()
        scores[known] = cosines
    return scores


def order_sources(
    passages: list[Passage],
    passage_vectors: np.ndarray,
    headline_vectors: dict[str, np.ndarray],
) -> list[Passage]:
    """``passages`` with each one's URLs ordered, its article's first and social links last.

    ``passage_vectors`` are the passages' (rows in the same order), ``headline_vectors`` the
    :func:`headline` of each URL in :func:`article_urls`, embedded as queries. Ties keep the
    report's order.
    """
    by_document: dict[str, list[int]] = {}
    for i, passage in enumerate(passages):
        by_document.setdefault(passage.document, []).append(i)
    ordered = list(passages)
    for members in by_document.values():
        words = _WordEvidence(passages[i].body for i in members)
        articles = {i: [u for u in passages[i].source_urls if not is_social(u)] for i in members}
        shared = {
            i: _centred(words.scores(passages[i].body, passages[i].section, articles[i]))
            for i in members
        }
        close = {
            i: _centred(_meaning(passage_vectors[i], articles[i], headline_vectors))
            for i in members
        }
        word_scale, meaning_scale = _spread(list(shared.values())), _spread(list(close.values()))
        for i in members:
            evidence = shared[i] / word_scale + MEANING_WEIGHT * close[i] / meaning_scale
            score = dict(zip(articles[i], evidence, strict=True))
            urls = passages[i].source_urls
            rank = {url: (is_social(url), -score.get(url, 0.0), n) for n, url in enumerate(urls)}
            ordered[i] = dataclasses.replace(
                passages[i], source_urls=tuple(sorted(urls, key=rank.__getitem__))
            )
    return ordered
