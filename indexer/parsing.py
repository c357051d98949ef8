"""Parse the text extracted from a report PDF into pages, sections and paragraphs.

What the extracted text looks like, and what this module does about it:

- Each page's items are followed by a block of source URLs: a URL block closes a page, so a
  "page" here is the stretch of text a URL block backs (it can span two printed pages when one
  of them cites nothing). When the source gives its own pages (a PDF, or a text export with
  form feeds), those are the pages instead (:func:`parse_pages`), the URL lines of each page
  are its sources, and a line that opens or closes most pages (a running header or footer)
  is dropped.
- A URL on a line of its own behind a short label or a note number ("Source : https://…",
  "[2] https://…"), as a list item ("- https://…", "• https://…"), in angle brackets or
  parentheses or as a Markdown link ("[Report](https://…)") is a URL line like a bare one,
  and so is each of several on one line ("https://… ; https://…"), without the full stop of
  a sentence after it. In a block of URLs, a site's address without its scheme
  ("www.example.org/…") is one too, and a short label over the block ("Sources:") is
  dropped. A URL that a PDF wraps after a hyphen or a slash is joined back to the rest of it
  on the next line.
- A line that starts with a space begins a new text object in the PDF: a block boundary.
- Markdown headings ("## Programme de contrôle") are headings whatever their case.
- Headings are lines in capitals, often wrapped over two or three lines: a run of capitalised
  lines of two words or more, at the start of a block or right after a finished sentence, is one
  heading. Single capitalised words (CANNABIS, NOTICE, PERSONNES) are infographic labels and
  stay in the text next to their numbers, and so do short figures in capitals ("195 PAYS
  MEMBRES"). Headings repeated in English are kept as headings;
  when headings follow each other the last, most specific one names the section, and all of
  them (a chapter title, a list in capitals) are its first lines, in reading order.
- Pull quotes broken one phrase per line and bullets broken across blank lines: a paragraph
  that does not end a sentence is joined to the next one when that starts in lower case, or
  with a number right after a lower-case word ("sur quelque" / "135 000 personnes").
- Words hyphenated across lines are joined without the hyphen when the joined word occurs
  elsewhere in the document, and kept as compounds otherwise ("primo-intervenants").
- Paragraphs repeated by the extraction are kept once, and rows of social-media handles
  (page furniture next to icons) are dropped. Only a paragraph of a sentence's length counts
  as a repeat: a figure with its unit recurs by coincidence ("34 millions d'EUR" twice in one
  chart, for two different budget lines), and dropping it lost a figure.
- Infographics print a figure group's caption under its figures ("… 216 arrestations" then
  "TURQUESA III" and its region): capitals that open a block right after a figure line are
  that caption, not a heading that would give the next group's figures its name, and it is
  moved above a group of figures it captions, on a line of its own (:func:`_captions_first`).
  Both figure rules give way to running text: capitals that a finished sentence follows open
  an article ("2 OPERATIONS", or a heading after a key-figures
  block), as a review of other layouts showed.

Not handled: the reading order of multi-column infographics where labels and numbers come
in separate runs (a stat label can end up apart from its number); a chapter title right after
a figure line and followed by another heading rather than by running text (it stays with the
figures, as a caption would); and headings that are images in the PDF.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from indexer.text import collapse_whitespace, fold, word_count, written_in_digits

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
_CITED_URL = re.compile(r"<(https?://[^\s<>]+)>?|\((https?://[^\s()]+)\)?|(https?://\S+)")
_BETWEEN_URLS = re.compile(r"[\s;,|.]*")  # "(https://…)." ends a sentence too
_URL_CLOSING_PUNCTUATION = re.compile(r"[.,;:!?]+$")
# A site's address without its scheme, inside a block of URLs ("www.example.org/siena").
_SCHEMELESS_URL = re.compile(r"^www\.[\w-]+(?:\.[\w-]+)+(?:/\S*)?$")
# A short line that only introduces the block of URLs under it ("Sources:", "Références :").
_SOURCES_LABEL_WORDS = 3
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
# A running header or footer opens or closes at least this share of a document's pages.
_RUNNING_SHARE = 0.5
_RUNNING_MIN_PAGES = 3
_RUNNING_DEPTH = 3  # rounds of running lines, from the page's edges inwards
_ENDS_SENTENCE = re.compile(r"[.!?…:;»”\"]$")
_ENDS_LOWERCASE_WORD = re.compile(r"[a-zà-öø-ÿ]$")
_HYPHENATED_END = re.compile(r"(\w+)-$")
_LEADING_WORD = re.compile(r"^\w+")
# A line of a heading that ends in a word of three letters or fewer ("DE", "SES", "OF"),
# which the next line continues.
_ENDS_SHORT_WORD = re.compile(r"(?:^|\W)\w{1,3}$")
# Words a heading cannot end on (articles, prepositions, conjunctions of the languages
# reports are written in): one that does goes on in the next heading block.
_FUNCTION_WORDS = frozenset(
    "à au aux de des du la le les par pour sur dans avec contre en et ou "  # noqa: SIM905
    "a an the of for in on to with by and or "
    "el los las del al y o por para con "
    "der die das den dem und oder für von mit im zu zum zur".split()
)
_WORD_CHARS = re.compile(r"\w+")
_CAPS_SHARE = 0.85
# A figure with its label on one line ("216 arrestations", "4 000 migrants"), not a bare number
# (a page number or a value whose label is on the next line) nor a year ("2021 EN CHIFFRES").
_FIGURE_ITEM = re.compile(r"^(?!(?:19|20)\d\d\b)\d[\d\s.,]*\s+[^\W\d]")
_STAT_LABEL_WORDS = 4
_PROSE_MIN_WORDS = 4
_REPEAT_MIN_WORDS = 8  # shorter paragraphs (figures, labels) recur by coincidence
# "## Title" in a Markdown export: a heading whatever its case ("#ID-ART", a hashtag, is not).
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(.*?\S)(?:\s+#+)?$")
# A handle (@name, name_with_underscore), a bare web address, or a short abbreviation (HQ).
_SOCIAL_TOKEN = re.compile(r"@\w+|\S*_\S*|\S*www\.\S+|[A-Z]{1,4}")


@dataclass(frozen=True)
class Section:
    """A titled run of paragraphs on one page.

    ``headed``: the title is printed right above the paragraphs; otherwise it is carried
    over (text before a page's first heading, a page that continues the last one) or it
    closes a run of ``headings`` (a chapter title above an article's), which are then the
    first paragraphs, as printed.
    """

    title: str
    paragraphs: tuple[str, ...]
    headed: bool = False
    headings: tuple[str, ...] = ()

    @property
    def body(self) -> tuple[str, ...]:
        """The paragraphs after the run of headings that opens them, if any."""
        return self.paragraphs[len(self.headings) :]


@dataclass(frozen=True)
class Page:
    """The sections of one page and the source URLs that close it, in document order."""

    number: int
    sections: tuple[Section, ...]
    urls: tuple[str, ...]


@dataclass(frozen=True)
class _Heading:
    text: str


@dataclass(frozen=True)
class _Paragraph:
    text: str
    # An infographic's caption under its figures ("TURQUESA III" / "Amérique du Sud"): the
    # next group's figures must not run on from it, or they read as its own.
    caption: bool = False


def parse_report(text: str, default_title: str = "") -> list[Page]:
    """Split report text into pages of titled sections, each page with its source URLs.

    ``default_title`` names text that comes before any heading in the document.
    """
    return _parse(_split_pages(_raw_blocks(text)), text, default_title)


def parse_pages(pages: Sequence[str], default_title: str = "") -> list[Page]:
    """Parse a report whose pages its source already gives (a PDF's own page breaks).

    Page ``n`` of the result is ``pages[n - 1]``, empty pages included, so page numbers are
    the source's. Within a page, URL lines are its source URLs wherever they stand, and
    headings and paragraphs are found as in :func:`parse_report`. A line that opens or
    closes most pages, page numbers aside (a running header or footer: "Annual Review 2023 |
    12"), is page furniture and dropped: glued to each page's first paragraph, it became
    part of every passage and of its highlights.
    """
    running = _running_lines(pages)
    lines = [_without(page, running) for page in pages]
    offset = _page_number_offset(lines)
    if offset is not None:  # walked again, the page number taken with the running lines
        lines = [_without(page, running, place + offset) for place, page in enumerate(pages, 1)]
    kept = ["\n".join(page_lines) for page_lines in lines]
    return _parse(map(_page_parts, kept), "\n".join(kept), default_title)


def _edges(lines: list[str]) -> set[int]:
    """Indices of the first two and last two non-blank lines: where running lines stand."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    return set(content[:2] + content[-2:])


def _shape(line: str) -> str:
    """A line with its numbers blanked, so that "Annual Review | 2" and "… | 3" are one."""
    return re.sub(r"\d+", "#", collapse_whitespace(line))


def _running_lines(pages: Sequence[str]) -> set[str]:
    """Shapes of the lines that open or close most pages (see :func:`parse_pages`).

    Found from the outside in: once the outer running lines are set aside, the lines under
    them are at the edges. A page can carry several (a header and a footer, then the
    printer's date and URL lines that a browser adds: four lines at the end of each page).
    """
    if len(pages) < _RUNNING_MIN_PAGES:
        return set()
    running: set[str] = set()
    for _ in range(_RUNNING_DEPTH):
        counts: dict[str, int] = {}
        for page in pages:
            lines = _without(page, running)
            for shape in {_shape(lines[i]) for i in _edges(lines)}:
                counts[shape] = counts.get(shape, 0) + 1
        found = {shape for shape, n in counts.items() if n >= _RUNNING_SHARE * len(pages)}
        if found <= running:
            break
        running |= found
    return running


def _page_number_offset(pages: Sequence[list[str]]) -> int | None:
    """What to add to a page's place to get the number printed on it, when most pages print
    it alone on a line at an edge of what their running lines leave (``pages``, as lines;
    None otherwise).

    Under a running header ("Maritime Report 2023" then "1"), a bare number is not the
    outermost line, where :func:`_without` would take any bare number for page furniture;
    that it counts the pages tells it from a figure.
    """
    if len(pages) < _RUNNING_MIN_PAGES:
        return None
    counts: dict[int, int] = {}
    for place, lines in enumerate(pages, start=1):
        numbers = {lines[i].strip() for i in _edges(lines)}
        for offset in {int(n) - place for n in numbers if written_in_digits(n) and len(n) < 5}:
            counts[offset] = counts.get(offset, 0) + 1
    offset, pages_printing_it = max(counts.items(), key=lambda item: item[1], default=(0, 0))
    return offset if pages_printing_it >= _RUNNING_SHARE * len(pages) else None


def _without(page: str, running: set[str], number: int | None = None) -> list[str]:
    """The page's lines, without the running lines at its edges.

    From each edge inwards, as long as the lines are running ones, up to two lines a round
    of :func:`_running_lines`. A bare number (a page number's shape) only counts as the
    outermost line, unless it is the page's ``number``: further in, it is a figure ("216",
    "2021" closing a stat block).
    """
    lines = page.split("\n")
    content = [i for i, line in enumerate(lines) if line.strip()]
    dropped: set[int] = set()
    for side in (content, content[::-1]):
        for depth, i in enumerate(side[: 2 * _RUNNING_DEPTH]):
            shape = _shape(lines[i])
            page_number = number is not None and lines[i].strip() == str(number)
            if not page_number and (
                shape not in running or (depth and not any(c.isalpha() for c in shape))
            ):
                break
            dropped.add(i)
    return [line for i, line in enumerate(lines) if i not in dropped]


def _parse(
    parts: Iterable[tuple[list[list[str]], list[str]]], text: str, default_title: str
) -> list[Page]:
    """Pages from each page's (text blocks, URLs); ``text`` is the whole document."""
    vocabulary = {w.casefold() for w in _WORD_CHARS.findall(fold(text))}
    pages: list[Page] = []
    seen_paragraphs: set[str] = set()
    last_heading = ""
    for number, (blocks, urls) in enumerate(parts, start=1):
        items = _captions_first(_merge_continuations(_classify(blocks, vocabulary)))
        items = _drop_repeats(items, seen_paragraphs)
        headings = [item.text for item in items if isinstance(item, _Heading)]
        sections = _sections(items, _intro_title(headings, last_heading, default_title))
        last_heading = headings[-1] if headings else last_heading
        pages.append(Page(number=number, sections=tuple(sections), urls=tuple(urls)))
    return pages


def _raw_blocks(text: str) -> list[list[str]]:
    """Blocks of non-blank lines; a leading space or a switch to/from URLs starts a new one."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for raw in _unwrap_urls(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        line = collapse_whitespace(raw)
        if _is_social_row(line):
            continue
        if not line:
            if current:
                blocks.append(current)
            current = []
            continue
        if current and _is_url(current[-1]) and _SCHEMELESS_URL.match(line):
            line = f"https://{line}"
        urls = _cited_urls(line)
        starts_object = raw[:1].isspace()
        switches_kind = bool(current) and bool(urls) != _is_url(current[-1])
        if current and (starts_object or switches_kind):
            blocks.append(current)
            current = []
        current.extend(urls or [line])
    if current:
        blocks.append(current)
    return _without_sources_labels(blocks)


def _without_sources_labels(blocks: list[list[str]]) -> list[list[str]]:
    """Drop a short line ending in a colon that stands alone right above a block of URLs:
    it only introduces them, and left in, it ended the passage before them."""
    return [
        block
        for block, following in zip(blocks, [*blocks[1:], [""]], strict=False)
        if not (
            _is_url(following[0])
            and len(block) == 1
            and block[0].endswith(":")
            and len(block[0].split()) <= _SOURCES_LABEL_WORDS
        )
    ]


def _is_url(line: str) -> bool:
    return bool(_URL_LINE.match(line))


def _cited_urls(line: str) -> list[str]:
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
        bare = found.group(3)
        url = _URL_CLOSING_PUNCTUATION.sub("", bare) if bare else found.group(1) or found.group(2)
        if not _is_url(url):  # "https://." is no address
            return []
        urls.append(url)
        between = _BETWEEN_URLS.match(line, found.end())
        position = between.end() if between else found.end()
    return urls


def _source_url(line: str) -> str:
    """The URL a line cites as its only source, or the line itself."""
    urls = _cited_urls(line)
    return urls[0] if len(urls) == 1 else line


def _unwrap_urls(lines: list[str]) -> Iterable[str]:
    """``lines`` with a URL's end, wrapped onto the next line(s), joined back to it. The end
    is a line of its own, or followed by the next source of a list (which stays a line):
    anything else after a hyphen or a slash is text that happens to follow a URL, and a
    line that is a source itself ("- https://…" in a list) is never an end."""
    cut: str | None = None  # a source URL ending in a hyphen or a slash, maybe cut there
    for raw in lines:
        line = collapse_whitespace(raw)
        if cut is not None:
            rest = _URL_REST.match(line)
            if rest and not _is_url(_source_url(line)) and _ends_url(cut, *rest.groups()):
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
    if after and not _is_url(_source_url(after)):
        return False
    return cut.endswith("-") or bool(_PATH_PIECE.match(start))


def _is_social_row(line: str) -> bool:
    """Handles printed next to social-media icons ("INTERPOL_HQ @INTERPOL HQ …www.x.int"):
    page furniture that would otherwise open the next passage's text."""
    tokens = line.split()
    return any(t.startswith("@") for t in tokens) and all(
        _SOCIAL_TOKEN.fullmatch(t) for t in tokens
    )


def _split_pages(blocks: list[list[str]]) -> Iterable[tuple[list[list[str]], list[str]]]:
    """Group blocks into pages, each closed by the URL block(s) that follow its text."""
    content: list[list[str]] = []
    urls: list[str] = []
    for block in blocks:
        if _is_url(block[0]):
            urls.extend(u for u in block if u not in urls)
            continue
        if urls:
            yield content, urls
            content, urls = [], []
        content.append(block)
    if content or urls:
        yield content, urls


def _page_parts(page: str) -> tuple[list[list[str]], list[str]]:
    """One given page's text blocks and its URLs (each once, in order)."""
    blocks = _raw_blocks(page)
    urls = [line for block in blocks if _is_url(block[0]) for line in block]
    return [b for b in blocks if not _is_url(b[0])], list(dict.fromkeys(urls))


def _is_caps(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    if len(letters) < 2:
        return False
    return sum(c.isupper() for c in letters) >= _CAPS_SHARE * len(letters)


def _classify(blocks: list[list[str]], vocabulary: set[str]) -> list[_Heading | _Paragraph]:
    """Turn blocks into headings and paragraphs (lines joined, hyphenation repaired)."""
    items: list[_Heading | _Paragraph] = []
    for n, block in enumerate(blocks):
        after_figure = n > 0 and _is_figure_item(blocks[n - 1][-1])
        following = blocks[n + 1] if n + 1 < len(blocks) else []
        pending: list[str] = []
        i = 0
        while i < len(block):
            marked = _MARKDOWN_HEADING.match(block[i])
            if marked:
                if pending:
                    items.append(_Paragraph(_join_lines(pending, vocabulary)))
                    pending = []
                items.append(_Heading(marked.group(1)))
                i += 1
                continue
            end = i
            # A heading's lines run on until a short figure in capitals: "KEY FIGURES" over
            # "4.2 MILLION" is a heading over a stat, not a heading that took the figure;
            # but "INTERPOL CÉLÈBRE SES" goes on with "100 ANS".
            while (
                end < len(block)
                and _is_caps(block[end])
                and not (
                    end > i
                    and _is_stat_label(block[end])
                    and not _ENDS_SHORT_WORD.search(block[end - 1])
                )
            ):
                end += 1
            # Capitals that running text follows open an article, whatever precedes them.
            # Otherwise a block's capitals right after a figure caption it (infographics
            # print their label under their numbers), and a short figure is a stat.
            before_prose = end > i and _is_prose(block[end:] or following)
            # Inside a block (a PDF's text has no blank lines), after a finished sentence, or
            # after a label ("channel depth") when a sentence starts under them: not capitals
            # that a sentence runs through ("coordinated by / INTERPOL AND EUROPOL / with…").
            opens = (
                (before_prose or not after_figure)
                if i == 0
                else bool(_ENDS_SENTENCE.search(block[i - 1]))
                or (
                    before_prose
                    and end < len(block)
                    and not block[end][:1].islower()
                    and word_count(block[end]) >= _PROSE_MIN_WORDS
                    and not _ENDS_SHORT_WORD.search(block[i - 1])
                )
            )
            if (
                end > i
                and opens
                and word_count(" ".join(block[i:end])) >= 2
                and (before_prose or not _is_stat_label(block[i]))
            ):
                if pending:
                    items.append(_Paragraph(_join_lines(pending, vocabulary)))
                    pending = []
                items.append(_Heading(_join_lines(block[i:end], vocabulary)))
                i = end
                continue
            pending.append(block[i])
            i += 1
        if pending:
            caption = after_figure and pending[0] == block[0] and _is_caps(block[0])
            items.append(_Paragraph(_join_lines(pending, vocabulary), caption))
    return items


def _is_prose(lines: list[str]) -> bool:
    """Running text: a finished sentence of a few words, neither a figure nor capitals."""
    return (
        bool(lines)
        and not _is_figure_item(lines[0])
        and not _is_caps(lines[0])
        and bool(_ENDS_SENTENCE.search(lines[-1]))
        and word_count(" ".join(lines)) >= _PROSE_MIN_WORDS
    )


def _is_figure_item(line: str) -> bool:
    return bool(_FIGURE_ITEM.match(line)) and not _ENDS_SENTENCE.search(line)


def _is_stat_label(line: str) -> bool:
    """A short figure in capitals ("195 PAYS MEMBRES", "1 016 PERSONNES"): a stat, unless
    running text follows it (then a numbered heading: "2 OPERATIONS")."""
    return _is_figure_item(line) and word_count(line) <= _STAT_LABEL_WORDS


def _join_lines(lines: list[str], vocabulary: set[str]) -> str:
    """Join wrapped lines; a line-final hyphen is dropped only if the joined word is known."""
    text = lines[0]
    for line in lines[1:]:
        hyphenated = _HYPHENATED_END.search(text)
        following = _LEADING_WORD.match(line)
        if hyphenated and following:
            joined = fold(hyphenated.group(1) + following.group())
            text = text[:-1] + line if joined in vocabulary else text + line
        else:
            text = f"{text} {line}"
    return collapse_whitespace(text)


def _merge_continuations(items: list[_Heading | _Paragraph]) -> list[_Heading | _Paragraph]:
    """Re-join sentences that the extraction broke across blank lines (pull quotes, bullets),
    and headings broken after a small word ("INFRACTIONS CIBLÉES PAR LES" / "OPÉRATIONS
    HAECHI"): a heading does not end on an article or a preposition."""
    merged: list[_Heading | _Paragraph] = []
    for item in items:
        previous = merged[-1] if merged else None
        if (
            isinstance(item, _Paragraph)
            and isinstance(previous, _Paragraph)
            and not previous.caption
            and _continues(previous.text, item.text)
        ):
            merged[-1] = _Paragraph(f"{previous.text} {item.text}")
        elif (
            isinstance(item, _Heading)
            and isinstance(previous, _Heading)
            and previous.text.split()[-1].casefold() in _FUNCTION_WORDS
        ):
            merged[-1] = _Heading(f"{previous.text} {item.text}")
        else:
            merged.append(item)
    return merged


# A figure, its digit groups included ("10 000", "68,9", "216").
_FIGURE = re.compile(r"\d(?:[\d .,]*\d)?")


def _captions_first(items: list[_Heading | _Paragraph]) -> list[_Heading | _Paragraph]:
    """Each infographic caption moved above the figures it captions (printed under them).

    Read in the printed order, "… 216 arrestations / TURQUESA III / 4 000 migrants … 286
    arrestations / LIBERTERRA" puts each operation's name next to the next operation's
    figures: a reader (and a highlight) took Liberterra's 286 arrests for Turquesa III's.
    Only over a group of figures: a caption under a single figure line names a whole stat
    block ("OPÉRATION LIONFISH – AFRIQUE ET MOYEN-ORIENT" under "214 comprimés").
    """
    ordered: list[_Heading | _Paragraph] = []
    for item in items:
        previous = ordered[-1] if ordered else None
        if (
            isinstance(item, _Paragraph)
            and item.caption
            and isinstance(previous, _Paragraph)
            and not previous.caption
            and _is_figure_item(previous.text)
            and len(_FIGURE.findall(previous.text)) >= 2
        ):
            ordered.insert(len(ordered) - 1, item)
        else:
            ordered.append(item)
    return ordered


def _continues(previous: str, following: str) -> bool:
    if _ENDS_SENTENCE.search(previous) or _is_caps(previous):  # a label stays on its line
        return False
    first = following[:1]
    return first.islower() or (first.isdigit() and bool(_ENDS_LOWERCASE_WORD.search(previous)))


def _drop_repeats(
    items: list[_Heading | _Paragraph], seen: set[str]
) -> list[_Heading | _Paragraph]:
    """Drop paragraphs of a sentence's length already seen earlier in the document."""
    kept: list[_Heading | _Paragraph] = []
    for item in items:
        if isinstance(item, _Paragraph) and word_count(item.text) >= _REPEAT_MIN_WORDS:
            key = fold(item.text)
            if key in seen:
                continue
            seen.add(key)
        kept.append(item)
    return kept


def _intro_title(headings: list[str], last_heading: str, default_title: str) -> str:
    """Title for text that precedes a page's first heading.

    It is the page's introduction, and the chapter title sits below it in the layout, so it
    takes the page's first heading; a page without headings continues the previous one; and
    text before the document's first heading is front matter, named by the document title.
    """
    if not last_heading:
        return default_title
    return headings[0] if headings else last_heading


def _sections(items: list[_Heading | _Paragraph], intro_title: str) -> list[Section]:
    """Group a page's items into titled sections; text before any heading gets ``intro_title``."""
    sections: list[Section] = []
    run: list[str] = []  # the headings in a row over the paragraphs being gathered
    paragraphs: list[str] = []
    for item in items:
        if isinstance(item, _Heading):
            if paragraphs:
                sections.append(_titled(run, paragraphs, intro_title))
                run, paragraphs = [], []
            run.append(item.text)
        else:
            paragraphs.append(item.text)
    if paragraphs or run:  # a heading that closes the page is text on it too
        sections.append(_titled(run, paragraphs, intro_title))
    return sections


def _titled(run: list[str], paragraphs: list[str], intro_title: str) -> Section:
    """The section of ``paragraphs`` under the headings ``run`` (none: text before the page's
    first heading).

    Headings in a row: the last, most specific one names the section (an article's heading
    under a chapter title), and all of them stay as its first lines, in reading order, so
    that the text holds every line printed (a list in capitals, "NOS PRINCIPAUX DONATEURS EN
    2021" and the donors' names, ends with its last name, which titles the section).
    """
    if not run:
        return Section(intro_title, tuple(paragraphs), headed=False)
    if len(run) > 1:
        return Section(run[-1], (*run, *paragraphs), headed=False, headings=tuple(run))
    return Section(run[0], tuple(paragraphs), headed=True)
