"""Sentence splitting and chunking for Hindi (and mixed Hindi/English) news text. Pure functions.

Sentences end at ``।``, ``॥``, ``?``, ``!`` (runs such as ``?!`` too), at blank lines, and at ``.`` only where
it really ends a sentence: not after an initial (``जोशुआ एम. रुड``, ``डैनियल पी. ड्रिस्कॉल``,
``J. Smith``), an abbreviation (``Mr.``, ``Dr.``, ``U.S.``, ``डॉ.``, ``ई.``), inside a number (``3.5``) or a
domain (``pic.twitter.com``), nor before a lower-case Latin word. Closing quotes and brackets stay with their
sentence. ``U.S.`` before a capital does not end a sentence either: merging two sentences is the safer error.

Chunks are runs of whole sentences measured in the embedding model's tokens (see `chunk_document`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from qa.text import is_devanagari, words
from qa.types import Chunk, Document

_CLOSERS = "\"'”’»)]}›"
_OPENERS = "\"'“‘«([{‹"
# `।` and `॥` always end a sentence; `?` and `!` when followed by a space or the end; `.` is decided below.
_CLOSE = "[" + re.escape(_CLOSERS) + "]*"
_TERMINATOR_RE = re.compile(r"[।॥?!.]*[।॥?!][।॥?!.]*" + _CLOSE + r"|\.+" + _CLOSE)
_PARAGRAPH_RE = re.compile(r"\n[ \t\f\v]*\n")
# A Markdown heading or list item stands alone even without blank lines around it.
_HEADING_LINE_RE = re.compile(r"^[ \t]*#{1,6}[ \t][^\n]*$", re.MULTILINE)
_LIST_ITEM_RE = re.compile(r"^[ \t]*(?:[-*•]|\d{1,3}[.)])[ \t][^\n]*$", re.MULTILINE)
_CLAUSE_RE = re.compile(r"[,;:،—–](?=\s)|\s[-–—](?=\s)")

# Word lists (qa/data/words.json).
_LATIN_ABBREVIATIONS = words("abbreviations", "en")
_DEVANAGARI_LETTER_NAMES = words("letter_names", "hi")
_DEVANAGARI_ABBREVIATIONS = words("abbreviations", "hi")
_SENTENCE_FINAL_WORDS = words("sentence_final_words", "hi")
# One akshara: consonants joined by viramas (nukta allowed), an optional vowel sign, an optional
# nasal/visarga; or one independent vowel.
_AKSHARA_RE = re.compile(
    r"^(?:(?:[\u0915-\u0939\u0958-\u095F]\u093C?\u094D)*[\u0915-\u0939\u0958-\u095F]\u093C?"
    r"[\u093E-\u094C\u0962\u0963]?|[\u0904-\u0914\u0960\u0961\u0972])[\u0900-\u0903]?$"
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of `text`, in order, trimmed of surrounding space.

    Every non-space character of `text` lies in exactly one span.
    """
    cuts: set[int] = set()
    for m in _PARAGRAPH_RE.finditer(text):
        cuts.add(m.start())
    for line_re in (_HEADING_LINE_RE, _LIST_ITEM_RE):
        for m in line_re.finditer(text):
            cuts.add(m.start())
            cuts.add(m.end())
    for m in _TERMINATOR_RE.finditer(text):
        if _ends_sentence(text, m.start(), m.end()):
            cuts.add(m.end())
    spans: list[tuple[int, int]] = []
    prev = 0
    for cut in sorted(cuts) + [len(text)]:
        if cut <= prev:
            continue
        span = _trim(text, prev, cut)
        if span:
            spans.append(span)
        prev = cut
    return spans


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of `text` that holds `text[start:end]`, or that span itself when it crosses sentences."""
    for s, e in split_sentences(text):
        if s <= start and end <= e:
            return text[s:e]
    return text[start:end]


def _ends_sentence(text: str, start: int, end: int) -> bool:
    marks = text[start:end].rstrip(_CLOSERS)
    if "।" in marks or "॥" in marks:
        return True
    if end < len(text) and not text[end].isspace():
        return False  # "3.5", "pic.twitter.com", "?id=3"
    if "?" in marks or "!" in marks:
        return True
    # Only dots from here on.
    j = end
    while j < len(text) and text[j].isspace():
        j += 1
    if j == len(text):
        return True
    nxt = text[j]
    if not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS or is_devanagari(nxt)):
        return False  # "etc. and", "Mr. — "
    if len(marks) > 1:
        return True  # an ellipsis before a new sentence
    k = start
    while k > 0 and not text[k - 1].isspace() and text[k - 1] not in _OPENERS:
        k -= 1
    token = text[k:start].lstrip(_OPENERS)
    return not _is_abbreviation(token, text, k)


def _is_abbreviation(token: str, text: str, token_start: int) -> bool:
    if not token:
        return False
    if "/" in token or "@" in token:
        return False  # a URL or handle at the end of a sentence
    if "." in token:
        parts = token.split(".")
        # "U.S", "e.g", "ई.पू", "कि.मी": short parts joined by dots. A domain ("example.com") is not.
        return all(len(p) <= 3 for p in parts)
    if token.isdigit():
        # A list number at the start of a line ("1. पहला"), not a year ending a sentence.
        line_start = text.rfind("\n", 0, token_start) + 1
        return not text[line_start:token_start].strip() and len(token) <= 3
    if len(token) == 1 and token.isalpha() and token.isascii():
        return True  # an initial
    if token.isascii():
        return token.lower() in _LATIN_ABBREVIATIONS
    if token in _DEVANAGARI_LETTER_NAMES or token in _DEVANAGARI_ABBREVIATIONS:
        return True
    return bool(_AKSHARA_RE.match(token)) and token not in _SENTENCE_FINAL_WORDS


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


@dataclass(frozen=True)
class _Unit:
    """A sentence, or a piece of a sentence too long for one chunk."""

    start: int
    end: int
    cost: int  # tokens beyond the tokenizer's fixed overhead (prefix and special tokens)
    paragraph: int


def chunk_document(
    doc: Document, count_tokens: Callable[[str], int], *, max_tokens: int = 160, overlap_sentences: int = 1
) -> list[Chunk]:
    """Cut a document into chunks of whole consecutive sentences.

    Each sentence is counted once; a chunk's size is estimated as the tokenizer's fixed overhead
    (``count_tokens("")``: a prompt and special tokens) plus its sentences' counts without that overhead, plus
    a cost per join measured once on the document's first two sentences (the e5 tokenizer spends one more
    token on two sentences together than apart). A chunk whose estimate comes within 10% of `max_tokens` is
    counted for real and shrunk while it is over, so ``count_tokens(chunk.text) <= max_tokens`` holds for
    those; estimates below 90% of the budget are trusted. So there are about as many `count_tokens` calls as
    sentences, plus a few.

    A chunk does not start a new paragraph unless the whole paragraph fits or the chunk is under half full.
    `overlap_sentences` sentences of the previous chunk are repeated at the start of the next one, within a
    paragraph only, and only when the new chunk still has room for a new sentence. A sentence longer than
    `max_tokens` is cut at clause marks (``,`` ``;`` ...) or else between words into pieces that fit; a piece
    that cannot be cut further (one huge "word") is kept whole, over the budget.

    Args:
        doc: the document; every chunk satisfies ``chunk.text == doc.text[chunk.start:chunk.end]``.
        count_tokens: the embedding model's token counter (`Encoder.count_tokens`).
        max_tokens: the chunk budget in `count_tokens` tokens.
        overlap_sentences: sentences repeated between consecutive chunks (0 for none).

    Returns:
        Chunks in document order, ids ``f"{doc.id}#{n}"`` from 0.
    """
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    if not isinstance(overlap_sentences, int) or overlap_sentences < 0:
        raise ValueError(f"overlap_sentences must be 0 or more, got {overlap_sentences!r}")
    text = doc.text
    spans = split_sentences(text)
    if not spans:
        return []
    overhead = max(0, count_tokens(""))
    if overhead >= max_tokens:
        raise ValueError(
            f"max_tokens={max_tokens} leaves no room for text: the tokenizer alone adds {overhead} tokens"
        )
    units = _units(text, spans, count_tokens, max_tokens, overhead)
    slack = max(4, max_tokens // 10)
    join = 0
    if len(units) > 1:
        both = count_tokens(text[units[0].start : units[1].end])
        join = min(max(0, both - overhead - units[0].cost - units[1].cost), 3)
    # Per paragraph: its units' costs and joins, as if it were appended to a chunk (one more join).
    paragraph_cost: dict[int, int] = {}
    for u in units:
        paragraph_cost[u.paragraph] = paragraph_cost.get(u.paragraph, 0) + join + u.cost

    def estimate(i: int, j: int) -> int:
        return overhead + sum(u.cost for u in units[i:j]) + join * (j - i - 1)

    def real(i: int, j: int) -> int:
        return count_tokens(text[units[i].start : units[j - 1].end])

    chunks: list[Chunk] = []
    start, covered = 0, 0  # `covered`: the first unit no chunk has held yet
    n = len(units)
    while covered < n:
        end = covered + 1
        total = estimate(start, end)
        while end < n:
            nxt = units[end]
            if total + join + nxt.cost > max_tokens:
                break
            if nxt.paragraph != units[end - 1].paragraph and total >= max_tokens // 2:
                if total + paragraph_cost[nxt.paragraph] > max_tokens:
                    break  # the next paragraph would be torn across chunks; start it in a fresh one
            total += join + nxt.cost
            end += 1
        if end - start > 1 and total > max_tokens - slack:
            while end - start > 1 and real(start, end) > max_tokens:
                if end - 1 > covered:
                    end -= 1
                else:
                    start += 1  # drop the overlap rather than the one new sentence
        chunks.append(_chunk(doc, len(chunks), units[start].start, units[end - 1].end))
        covered = end
        if covered >= n:
            break
        start = max(covered - overlap_sentences, start + 1)
        while start < covered and (
            units[start].paragraph != units[covered].paragraph or estimate(start, covered + 1) > max_tokens
        ):
            start += 1
    return chunks


def _chunk(doc: Document, n: int, start: int, end: int) -> Chunk:
    return Chunk(id=f"{doc.id}#{n}", doc_id=doc.id, text=doc.text[start:end], start=start, end=end)


def _units(
    text: str,
    spans: list[tuple[int, int]],
    count_tokens: Callable[[str], int],
    max_tokens: int,
    overhead: int,
) -> list[_Unit]:
    units: list[_Unit] = []
    paragraph = 0
    prev_end = 0
    for start, end in spans:
        if units and _PARAGRAPH_RE.search(text, prev_end, start):
            paragraph += 1
        prev_end = end
        for s, e, count in _fit(text, start, end, count_tokens, max_tokens):
            units.append(_Unit(s, e, max(0, count - overhead), paragraph))
    return units


def _fit(
    text: str, start: int, end: int, count_tokens: Callable[[str], int], max_tokens: int
) -> list[tuple[int, int, int]]:
    """Cut ``text[start:end]`` into trimmed pieces of at most `max_tokens`, with their counts."""
    count = count_tokens(text[start:end])
    if count <= max_tokens:
        return [(start, end, count)]
    cut = _cut_point(text, start, end)
    if cut is None:
        return [(start, end, count)]  # one unbreakable token run; nothing sensible to do
    pieces: list[tuple[int, int, int]] = []
    for s, e in ((start, cut), (cut, end)):
        trimmed = _trim(text, s, e)
        if trimmed:
            pieces.extend(_fit(text, trimmed[0], trimmed[1], count_tokens, max_tokens))
    return pieces


def _cut_point(text: str, start: int, end: int) -> int | None:
    """Where to cut a too-long span: after a clause mark near the middle, else at the space nearest it."""
    middle = (start + end) // 2
    quarter = (end - start) // 4
    clauses = [m.end() for m in _CLAUSE_RE.finditer(text, start, end) if start < m.end() < end]
    central = [c for c in clauses if abs(c - middle) <= quarter]
    if central:
        return min(central, key=lambda c: (abs(c - middle), c))
    spaces = [i for i in range(start + 1, end) if text[i].isspace() and not text[i - 1].isspace()]
    if spaces:
        return min(spaces, key=lambda c: (abs(c - middle), c))
    if end - start > 1:
        return middle if middle > start else start + 1  # a run with no spaces at all: cut it anyway
    return None
