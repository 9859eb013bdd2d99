"""Hindi and English text knowledge in one place: the Devanagari script's ranges and word patterns, and the
word lists of `qa/data/words.json` (function words, question words, pronouns, abbreviations ...).

Every module that needs to know what a Hindi word, a question word or a pronoun is asks here, so a list is
corrected once. The lists are data, loaded once and NFC-normalised on load (the rest of the code sees NFC text:
the corpus and the questions are normalised at the edge).

`embeddings/` keeps its own one-line token pattern: it must not import `qa/`.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

WORDS_FILE = Path(__file__).with_name("data") / "words.json"

# The Devanagari block, for character classes: r"[\w" + DEVANAGARI + "]" also matches vowel signs and viramas,
# which Python's \w does not (a Hindi word would be cut into pieces).
DEVANAGARI = "\u0900-\u097f"
DEVANAGARI_RE = re.compile(f"[{DEVANAGARI}]")
WORD_RE = re.compile(rf"[\w{DEVANAGARI}]+")
# A word with inner hyphens or apostrophes kept whole ("सह-अध्यक्षता", "India's").
COMPOUND_WORD_RE = re.compile(rf"[\w{DEVANAGARI}]+(?:[-'’][\w{DEVANAGARI}]+)*")


def is_devanagari(text: str) -> bool:
    """Whether `text` holds a Devanagari character."""
    return DEVANAGARI_RE.search(text) is not None


@functools.cache
def _lists() -> dict[str, Any]:
    return json.loads(WORDS_FILE.read_text(encoding="utf-8"))


def _nfc(words: list[str]) -> frozenset[str]:
    return frozenset(unicodedata.normalize("NFC", w) for w in words)


@functools.cache
def words(kind: str, language: str) -> frozenset[str]:
    """The word list `kind` ("function_words", "pronouns", ...) of `language` ("hi", "en"), NFC.

    Raises KeyError for a list the data file does not have (a programming error, not user input).
    """
    return _nfc(_lists()[kind][language])


@functools.cache
def question_words(language: str, kind: str | None = None) -> frozenset[str]:
    """The question words of `language`, of one kind of answer ("who", "when", ...) or all of them."""
    by_kind: dict[str, list[str]] = _lists()["question_words"][language]
    if kind is not None:
        return _nfc(by_kind.get(kind, []))
    return frozenset().union(*(_nfc(v) for v in by_kind.values()))


def phrases(kind: str, language: str) -> tuple[str, ...]:
    """A list whose entries may be several words ("what about"), longest first (so a prefix test finds the
    longest)."""
    return tuple(sorted(words(kind, language), key=len, reverse=True))
