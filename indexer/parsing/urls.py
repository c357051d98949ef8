"""Source-URL lines: which lines of a report cite sources, and their URLs.

- A URL on a line of its own behind a short label or a note number ("Source : https://…",
  "[2] https://…"), as a list item ("- https://…", "• https://…"), in angle brackets or
  parentheses or as a Markdown link ("[Report](https://…)") is a URL line like a bare one,
  and so is each of several on one line ("https://… ; https://…"), without the full stop of
  a sentence after it. In a block of URLs, a site's address without its scheme
  ("www.example.org/…") is one too, and a short label over the block ("Sources:") is
  dropped. A URL that a PDF wraps after a hyphen or a slash is joined back to the rest of it
  on the next line. A closing bracket that opens nowhere in the URL is a typo's, not the
  URL's ("Source : https://www.interpol.int]").
- A URL that cannot be read as an address ("https://[2001:db8::1/x", the host's bracket
  never closed) is no page's source (:func:`split_url`).
- Rows of social-media handles (page furniture next to icons) are told apart here too: web
  addresses and handles, not text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from indexer.text import collapse_whitespace

_URL_LINE = re.compile(r"^https?://\S+$")
# A source cited on a line of its own, as reports and Markdown write them: behind a short
# label or a note number ("Source : https://…", "[1] https://…"), as a list item ("- …",
# "• …"), in angle brackets, or as a Markdown link ("[Annual report](https://…)"). The URL
# is a source like a bare URL line.
# Several on one line ("Sources : https://a ; https://b") are each a source; a sentence's
# full stop after a URL ("Source: https://example.org/s.") is not part of it.
_LIST_ITEM = r"(?:[-*•·–]\s*)?"
_SOURCE_LABEL = re.compile(
    rf"^{_LIST_ITEM}(?:(?:[\[(]?\d{{1,3}}[\]).]|(?!https?:)[^\W\d][\w ’'-]{{0,30}}:)\s*)?"
)
# In quotation marks too ("« https://… »", "“https://…”"): French and typeset text quote them.
_CITED_URL = re.compile(
    r"<(https?://[^\s<>]+)>?|\((https?://[^\s()]+)\)?"
    r"|[«“\"‘]\s*(https?://[^\s«»“”\"‘’]+)\s*[»”\"’]?|(https?://\S+)"
)
_BETWEEN_URLS = re.compile(r"[\s;,|.]*")  # "(https://…)." ends a sentence too
# What closes the text around a URL, not the URL: a sentence's full stop, a closing quotation
# mark ("https://example.org/a»"), an ellipsis, a stray ">".
_URL_CLOSING_PUNCTUATION = re.compile(r"[.,;:!?»”’\"'…>]+$")
_BRACKETS = {")": "(", "]": "["}
# A site's address without its scheme, inside a block of URLs ("www.example.org/siena").
SCHEMELESS_URL = re.compile(r"^www\.[\w-]+(?:\.[\w-]+)+(?:/\S*)?$")
# A short line that only introduces the block of URLs under it ("Sources:", "Références :").
_SOURCES_LABEL_WORDS = 3
_FINISHED = re.compile(r"[.!?…»”\")]$")
# A Markdown link, its closing parenthesis on this line or, wrapped, on the next one.
_MARKDOWN_LINK = re.compile(rf"^{_LIST_ITEM}\[[^\]]{{1,200}}\]\((https?://[^\s()]+)\)?$")
# A URL too long for its line in a PDF goes on at the start of the next one, after a
# hyphen or a slash: the rest of a slug ("scanners-" / "installed-in-terminal-b").
_WRAPPED_URL_END = re.compile(r"^https?://\S+[-/]$")
# The rest of a wrapped URL, with the ">" or ")" that closes a link written "<…>" or "[…](…)".
_URL_REST = re.compile(r"^([\w\-./%?=&#~+]+)[>)]?(?:\s+(.*))?$")
# After a slash, the rest of a path: letters and a separator ("2023/night-flights"), a file
# ("full-report.pdf", "index.html") or a query ("?q=…"); not a bare figure ("1/12",
# "2023-2024"), an address ("www.unodc.org") or an abbreviation ("N.B.").
_PATH_PIECE = re.compile(
    r"^(?!www\.)(?:(?=.*[^\W\d_])(?=.*[-_/])[\w\-./%?=&#~+]+"
    r"|[\w\-]+\.(?:pdf|html?|php|aspx?|jsp)|[?#][\w\-./%?=&#~+]+)$"
)
# A handle (@name, name_with_underscore), a bare web address, or a short abbreviation (HQ).
_SOCIAL_TOKEN = re.compile(r"@\w+|\S*_\S*|\S*www\.\S+|[A-Z]{1,4}")


def without_sources_labels(blocks: list[list[str]]) -> list[list[str]]:
    """Drop a short line ending in a colon right above a block of URLs: it only introduces
    them, and left in, it ended the passage before them. In a PDF's text, which has few
    blank lines, it can close the block of text above rather than stand alone: then it is
    a label only after a finished sentence, not the end of one wrapped ("… come from the
    port's" / "own records:")."""
    kept: list[list[str]] = []
    for block, following in zip(blocks, [*blocks[1:], [""]], strict=False):
        label = block[-1]
        if (
            is_url(following[0])
            and label.endswith(":")
            and len(label.split()) <= _SOURCES_LABEL_WORDS
            and (len(block) == 1 or _FINISHED.search(block[-2]))
        ):
            block = block[:-1]
        if block:
            kept.append(block)
    return kept


def is_url(line: str) -> bool:
    """A URL and nothing else on the line."""
    return bool(_URL_LINE.match(line))


def cited_urls(line: str) -> list[str]:
    """The URLs a line cites as sources when it is nothing else: after a label or a note
    number, in a list item, in angle brackets or parentheses, several with separators
    between them; none when the line says anything more."""
    markdown = _MARKDOWN_LINK.match(line)
    if markdown:
        return [markdown.group(1)]
    label = _SOURCE_LABEL.match(line)
    position = label.end() if label else 0
    urls: list[str] = []
    while position < len(line):
        found = _CITED_URL.match(line, position)
        if not found:
            return []
        url = _cited_url(found)
        if not is_url(url):  # "https://." is no address
            return []
        urls.append(url)
        between = _BETWEEN_URLS.match(line, found.end())
        position = between.end() if between else found.end()
    return urls


def _cited_url(found: re.Match[str]) -> str:
    """The URL of a match of ``_CITED_URL``: inside its brackets or quotation marks, or bare
    without the punctuation of the text around it."""
    bare = found.group(4)
    if bare:
        return _without_closing_marks(bare)
    quoted = found.group(3)  # "“https://example.org/a.”": the full stop is the sentence's
    return _without_closing_marks(quoted) if quoted else found.group(1) or found.group(2)


def _without_closing_marks(url: str) -> str:
    """A bare URL without a sentence's punctuation after it ("https://example.org/s.") and
    without a closing bracket that opens nowhere in it (a typo, "https://www.interpol.int]",
    which ``urlsplit`` cannot read); a balanced one stays ("…/wiki/Bond_(finance)")."""
    while True:
        url = _URL_CLOSING_PUNCTUATION.sub("", url)
        opening = _BRACKETS.get(url[-1:])
        if opening is None or url.count(url[-1]) <= url.count(opening):
            return url
        url = url[:-1]


def split_url(url: str) -> SplitResult | None:
    """``url``'s parts (host, path…), or None when ``urlsplit`` cannot read it: a bracket of
    an IPv6 host left open or closed alone ("https://[2001:db8::1/x") raises ValueError, and
    one such URL in a report must not stop a build."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def unreadable_urls(text: str) -> list[str]:
    """The URLs of ``text`` that :func:`split_url` cannot read (each once, in order): no page
    cites them as a source, and the report's author should hear of it."""
    found = (_cited_url(m) for m in _CITED_URL.finditer(text))
    return list(dict.fromkeys(url for url in found if split_url(url) is None))


def _source_url(line: str) -> str:
    """The URL a line cites as its only source, or the line itself."""
    urls = cited_urls(line)
    return urls[0] if len(urls) == 1 else line


def unwrap_urls(lines: list[str]) -> Iterable[str]:
    """``lines`` with a URL's end, wrapped onto the next line(s), joined back to it. The end
    is a line of its own, or followed by the next source of a list (which stays a line):
    anything else after a hyphen or a slash is text that happens to follow a URL, and a
    line that is a source itself ("- https://…" in a list) is never an end."""
    cut: str | None = None  # a source URL ending in a hyphen or a slash, maybe cut there
    for raw in lines:
        line = collapse_whitespace(raw)
        if cut is not None:
            rest = _URL_REST.match(line)
            if rest and not is_url(_source_url(line)) and _ends_url(cut, *rest.groups()):
                joined, line = cut + rest.group(1), rest.group(2) or ""
                cut = None
                if not line and _WRAPPED_URL_END.match(joined):
                    cut = joined  # wrapped more than once
                    continue
                yield joined
                if not line:
                    continue
                raw = line
            else:
                yield cut
                cut = None
        if _WRAPPED_URL_END.match(source := _source_url(line)):
            cut = source
            continue
        yield raw
    if cut is not None:
        yield cut


def _ends_url(cut: str, start: str, after: str | None) -> bool:
    """Whether a line opening with ``start`` (then ``after``) ends the URL ``cut``.

    After a hyphen any word does (a URL rarely ends in one); after a slash only a piece of
    a path, not a word or a figure that happens to follow a site's address.
    """
    if after and not is_url(_source_url(after)):
        return False
    return cut.endswith("-") or bool(_PATH_PIECE.match(start))


def is_social_row(line: str) -> bool:
    """Handles printed next to social-media icons ("INTERPOL_HQ @INTERPOL HQ …www.x.int"):
    page furniture that would otherwise open the next passage's text."""
    tokens = line.split()
    return any(t.startswith("@") for t in tokens) and all(
        _SOCIAL_TOKEN.fullmatch(t) for t in tokens
    )
