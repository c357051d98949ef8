"""Small pure text helpers shared by parsing, chunking, source ranking and keyword search."""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Iterator


class CharacterMap:
    """What ``str.translate`` does with a mapping of characters, done by a regular expression.

    ``translate`` looks every character of a non-ASCII text up in the mapping, which made it
    a third of the time a large index takes to load (each passage goes through several);
    the characters mapped are rare, and a character class finds them ten times faster.
    """

    def __init__(self, mapping: dict[str, str]) -> None:
        if not mapping or any(len(key) != 1 for key in mapping):
            raise ValueError("a character map maps single characters, at least one")
        self._mapping = mapping
        self._found = re.compile("[" + "".join(map(re.escape, mapping)) + "]")

    def __call__(self, text: str) -> str:
        return self._found.sub(lambda match: self._mapping[match.group()], text)


# Non-breaking and thin spaces appear inside numbers ("135 000"); users type a plain space.
_plain_spaces = CharacterMap(dict.fromkeys("\u00a0\u2007\u2009\u202f\u200a\u2002\u2003\t", " "))
# Typographic apostrophes and the accents people type for one: all read as "'".
straight_apostrophes = CharacterMap(dict.fromkeys("’‘ʼ`´", "'"))
_RUNS_OF_SPACES = re.compile(r"[ ]{2,}")
_WHITESPACE = re.compile(r"\s+")
# Chinese and Japanese are written without spaces: each of their characters counts as a word
# (about what it weighs in the model's tokens), or a section of 2,000 characters was one
# "word" per sentence, one passage of ~1,400 tokens whose vector saw only the first 512.
UNSPACED = "\u3040-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana, Han
_WORD = re.compile(rf"[{UNSPACED}]|[^\W{UNSPACED}]+(?:[-'][^\W{UNSPACED}]+)*")
_NON_SPACE = re.compile(r"\S+")

# A sentence ends at . ! ? … (optionally followed by a closing quote) before a space and a
# character that can start a sentence (``_opens_sentence``), but not at a lone capital's
# point: "M. Al Raisi" and initials are not ends (cut there, "le rôle de M." became a
# highlight). Other abbreviations are rare enough here that a missed boundary only makes a
# chunk slightly longer. Arabic's question mark and Urdu's full stop (؟ ۔) end one too, and
# so do the CJK full stop and marks (。！？), which need no space after them.
_SENTENCE_END = re.compile(r"[.!?…؟۔][»”\"]?(?=\s+(\S))|[。！？][」』”）]?(?=\s*(\S))")
# Ends of scripts without capitals: any letter may follow.
_CASELESS_ENDS = frozenset("؟۔。！？")
_OPENING_MARKS = frozenset('«“"(•¿¡「『（')


# Invisible format characters (Unicode category Cf: soft hyphen, zero-width space,
# byte-order mark, direction marks) come with text pasted from PDFs and web pages. They
# split words for the keyword analyser and make a blank query look non-empty. Not the
# zero-width non-joiner and joiner: they spell words (Persian "می‌خواهم", Indic scripts) and
# emoji ("👩‍🔬"), which lost them in every passage; matching reads past them (``without_joiners``).
_JOINERS = "\u200c\u200d"
_FORMAT_CHARACTERS = re.compile(
    "[{}\U000e0001-\U000e007f]".format(
        "".join(
            re.escape(chr(c))
            for c in range(0x10000)
            if unicodedata.category(chr(c)) == "Cf" and chr(c) not in _JOINERS
        )
    )
)
# Typed or not, a joiner changes no word for matching: "می‌خواهم" finds "میخواهم".
without_joiners = CharacterMap(dict.fromkeys(_JOINERS, ""))


# C0 and C1 control characters and DEL, except tab, line feed and carriage return (whitespace).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


# Typographic ligatures ("ﬁ", "ﬂ", "ﬀ"…), which PDF text layers keep: spelled out, as a
# reader types them, a word or a URL holding one is found and can be copied.
_spelt_ligatures = CharacterMap(
    {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}
)


def canonical(text: str) -> str:
    """NFC without invisible format characters or typographic ligatures: decomposed accents
    (as macOS and some PDFs write them), pasted soft hyphens and "ﬁ" then compare equal to
    what the report holds. NFC comes last, so that nothing removed or spelt out leaves a letter
    and its accent apart ("e\u00ad\u0301", "ﬁ\u0301"): the result is NFC, and stays itself when
    read again."""
    spelt = _spelt_ligatures(_FORMAT_CHARACTERS.sub("", text))
    return unicodedata.normalize("NFC", spelt)


# Vertical tabs and form feeds, which PDF text carries, read as line breaks.
page_breaks_as_lines = CharacterMap(dict.fromkeys("\x0b\x0c", "\n"))


def clean_text(text: str) -> str:
    """A report's text as it is indexed: canonical, form feeds and vertical tabs as line
    breaks, other control characters (NUL, terminal escapes, which PDF extraction and odd
    exports leave) as spaces, so that no passage carries them to a reader or a prompt."""
    return CONTROL_CHARACTERS.sub(" ", page_breaks_as_lines(canonical(text)))


def normalise_spaces(text: str) -> str:
    """Map space variants to plain spaces and collapse runs, keeping line breaks."""
    text = _plain_spaces(text)
    return "\n".join(_RUNS_OF_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def collapse_whitespace(text: str) -> str:
    """One line, single spaces: the form passages are stored and compared in."""
    return _WHITESPACE.sub(" ", _plain_spaces(text)).strip()


# Ligatures have no decomposition; slugs and users write them as two letters.
_spelt_letter_ligatures = CharacterMap({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE"})


def strip_accents(text: str) -> str:
    """Remove combining marks so "Amérique" and "Amerique" compare equal (URL slugs drop them)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return _spelt_letter_ligatures("".join(c for c in decomposed if not unicodedata.combining(c)))


def fold(text: str) -> str:
    """Case-, accent-, apostrophe-, joiner- and whitespace-insensitive form for matching."""
    plain = strip_accents(straight_apostrophes(without_joiners(text)))
    return collapse_whitespace(plain.casefold())


def written_in_digits(text: str) -> bool:
    """Whether ``text`` is a whole number as people write one in a URL or a command line:
    ASCII digits only. Python's int() is laxer: it reads "5_0" as 50 and "+5", " 5" or
    "٥" as 5."""
    return text.isascii() and text.isdigit()


def words(text: str) -> list[str]:
    """Word tokens (hyphenated and apostrophe words kept whole; a Chinese or Japanese
    character is one)."""
    return _WORD.findall(text)


def word_count(text: str) -> int:
    """Number of words, the unit passage sizes are measured in."""
    return len(words(text))


def sentence_spans(
    text: str, max_words: int | None = None, min_words: int | None = None
) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``; each line is its own paragraph.

    Offsets index ``text`` itself, so a caller can point at a sentence inside a passage.
    With ``max_words``, a longer sentence is cut into near-equal runs of whole words (lists
    without punctuation, such as 195 member countries, are one "sentence" otherwise). With
    ``min_words``, a shorter one (a stat block's "9" or "CANNABIS" line, a heading) is joined
    to the one after it, or to the one before when it comes last, within ``max_words``.
    """
    spans = _sentence_spans(text)
    if max_words is not None:
        # What spaces separate ("l’opération" and "–" are one each), as ``fits`` counts:
        # counted in words, every index's sentence vectors would be cut elsewhere.
        spans = [piece for span in spans for piece in even_runs(text, span, max_words, _NON_SPACE)]
    if min_words is not None:
        spans = _join_short(text, spans, min_words, max_words)
    return spans


def _join_short(
    text: str, spans: list[tuple[int, int]], min_words: int, max_words: int | None
) -> list[tuple[int, int]]:
    def fits(start: int, end: int) -> bool:  # counted as the cut counts: the cap is one cap
        return max_words is None or len(_NON_SPACE.findall(text, start, end)) <= max_words

    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined:
            first, last = joined[-1]
            if word_count(text[first:last]) < min_words and fits(first, end):
                joined[-1] = (first, end)
                continue
        joined.append((start, end))
    if len(joined) > 1:
        (first, _), (start, end) = joined[-2], joined[-1]
        if word_count(text[start:end]) < min_words and fits(first, end):
            joined[-2:] = [(first, end)]
    return joined


def even_runs(
    text: str, span: tuple[int, int], max_words: int, unit: re.Pattern[str] = _WORD
) -> list[tuple[int, int]]:
    """``text[start:end]`` cut into near-equal runs, none over ``max_words`` words, as
    (start, end) offsets into ``text``; the span itself when it is not longer.

    Words are what the caller's size check counts: those of :func:`word_count` unless
    ``unit`` says otherwise, so a list without spaces ("pays0,pays1,…") is cut too. A run
    ends after its last word and the punctuation that closes it, the next one opens with the
    punctuation before its first word (see ``_between``): nothing between them is lost.
    """
    start, end = span
    tokens = list(unit.finditer(text, start, end))
    if len(tokens) <= max_words:
        return [span]
    pieces = math.ceil(len(tokens) / max_words)
    size = math.ceil(len(tokens) / pieces)  # near-equal pieces, none over max_words
    cuts = [
        _between(text, tokens[i - 1].end(), tokens[i].start())
        for i in range(size, len(tokens), size)
    ]
    starts = [start, *(after for _, after in cuts)]
    ends = [*(before for before, _ in cuts), end]
    return list(zip(starts, ends, strict=True))


def _between(text: str, left: int, right: int) -> tuple[int, int]:
    """Where a run ends and the next starts in the gap ``text[left:right]`` between two
    words: at a space that neither comes before closing punctuation nor after opening
    punctuation ("Pays28 », « Pays29" is cut after the comma), else at the first space, or
    right before the next word when the gap has none."""
    spaces = list(_WHITESPACE.finditer(text, left, right))
    for space in spaces:
        if not _closing(text[space.end()]) and not _opening(text[space.start() - 1]):
            return space.span()
    return spaces[0].span() if spaces else (right, right)


def _closing(character: str) -> bool:
    """Punctuation that ends what comes before it: », ), a full stop, French's spaced : ; ! ?"""
    return unicodedata.category(character) in ("Pe", "Pf") or character in ".,;:!?…"


def _opening(character: str) -> bool:
    """Punctuation that belongs to what comes after it: «, (, ¿."""
    return unicodedata.category(character) in ("Ps", "Pi") or character in "¿¡"


def _sentence_ends(line: str) -> Iterator[int]:
    """Offsets in ``line`` right after each sentence's end (see ``_SENTENCE_END``)."""
    for end in _SENTENCE_END.finditer(line):
        mark, first = line[end.start()], end.group(1) or end.group(2)
        if mark == "." and _after_initial(line, end.start()):
            continue
        if _opens_sentence(first, after_caseless_end=mark in _CASELESS_ENDS):
            yield end.end()


def _after_initial(line: str, point: int) -> bool:
    """Whether the full stop at ``point`` follows a capital standing alone ("M.", "J.")."""
    before = line[max(0, point - 2) : point]
    return before[-1:].isupper() and (len(before) < 2 or not _word_character(before[0]))


def _word_character(character: str) -> bool:
    return character.isalnum() or character == "_"  # what \w matches


def _opens_sentence(character: str, after_caseless_end: bool) -> bool:
    """Whether a sentence may start with ``character``: an opening mark (« ¿ ¡ …), a digit, a
    capital of any script ("Quién", "Операция"), a letter of a script without capitals
    (Arabic, Chinese) or, after a caseless script's end, any letter."""
    return (
        character in _OPENING_MARKS
        or character.isdecimal()
        or character.isupper()
        or (character.isalpha() and (after_caseless_end or not character.islower()))
    )


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    line_start = 0
    for line in text.split("\n"):
        cuts = [0, *_sentence_ends(line), len(line)]
        for start, end in itertools.pairwise(cuts):
            piece = line[start:end]
            if piece.strip():
                lead = len(piece) - len(piece.lstrip())
                spans.append((line_start + start + lead, line_start + start + len(piece.rstrip())))
        line_start += len(line) + 1
    return spans


def split_sentences(paragraph: str) -> list[str]:
    """Split text into sentences; text without end punctuation stays whole."""
    return [paragraph[start:end] for start, end in sentence_spans(paragraph)]
