"""BM25 (bm25s) over a tokenizer that keeps Hindi words whole.

Python's ``\\w`` does not match Devanagari vowel signs and viramas (``re.findall(r"\\w+", "हिन्दी")`` gives
``['ह', 'न', 'द']``), so tokens are runs of letters and combining marks (``\\p{L}\\p{M}``, the `regex`
module, a dependency of transformers) or of digits. Spelling variants are folded so that they match:

- case: lower case;
- nukta: ``ज़`` -> ``ज``, ``फ़`` -> ``फ``, ``ड़`` -> ``ड`` (writers drop it freely);
- chandrabindu -> anusvara: ``ँ`` -> ``ं`` (``हाँ`` = ``हां``);
- a nasal consonant with virama before a consonant of its own class -> anusvara (``हिन्दी`` -> ``हिंदी``,
  ``सम्बन्ध`` -> ``संबंध``, ``अन्तरराष्ट्रीय`` -> ``अंतरराष्ट्रीय``): both spellings are standard;
- Devanagari digits -> ASCII digits; zero-width joiners are dropped;
- hyphenated compounds are split into their parts (``इंडिया-यूएस`` -> ``इंडिया``, ``यूएस``), and a number
  is split from the letters after it (``22वीं`` -> ``22``, ``वीं``).

With ``stopwords=True`` very common Hindi function words, Hindi question words (``क्या``, ``कौन``, ``कब``
...) and English stopwords are dropped: they match everywhere and would only dilute
`LexicalIndex.query_coverage`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import regex

from qa.errors import IndexCorruptError
from qa.text import question_words, words


def _bm25s() -> Any:
    """bm25s, imported on first use with its logger quieted.

    bm25s sets its own logger to DEBUG when it is imported, which prints a line per index build into the
    chat's and CLI's output; quieting it before the import (as this module once did) is undone by the import.
    """
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


FORMAT_VERSION = 1
META_FILE = "lexical.json"

_TOKEN_RE = regex.compile(r"[\p{L}\p{M}]+|\p{N}+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_DIGITS = {ord("०") + i: ord("0") + i for i in range(10)}
# U+0958..U+095F (क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़ precomposed; NFC decomposes them, but input may not be NFC).
_NUKTA_FORMS = {0x0958 + i: base for i, base in enumerate("कखगजडढफय")}
# A nasal consonant + virama before a consonant of the same articulation class is written as anusvara too.
_NASAL_CLUSTER_RE = regex.compile(r"ङ्(?=[कखगघ])|ञ्(?=[चछजझ])|ण्(?=[टठडढ])|न्(?=[तथदध])|म्(?=[पफबभ])")


def _fold(text: str) -> str:
    text = text.lower().translate(_ZERO_WIDTH).translate(_DIGITS).translate(_NUKTA_FORMS)
    text = text.replace("\u093c", "").replace("\u0901", "\u0902")
    return _NASAL_CLUSTER_RE.sub("\u0902", text)


# Function words and question words carry no topic (qa/data/words.json).
_STOPWORDS = frozenset(
    _fold(w)
    for language in ("hi", "en")
    for w in words("function_words", language) | question_words(language)
)


def tokenize(text: str, *, stopwords: bool = True) -> list[str]:
    """Word tokens of `text` (NFC), folded as the module docstring says; punctuation is dropped.

    >>> tokenize("हिन्दी समाचार, 22वीं बैठक")
    ['हिंदी', 'समाचार', '22', 'वीं', 'बैठक']
    """
    tokens = _TOKEN_RE.findall(_fold(text))
    if stopwords:
        return [t for t in tokens if t not in _STOPWORDS]
    return tokens


class LexicalIndex:
    """BM25 over a list of texts; a text's position is its row id.

    Saved with bm25s's own files (numpy arrays and JSON, no pickle) plus ``lexical.json`` (format and
    tokenizer settings, which a query must be tokenized with).
    """

    def __init__(
        self,
        bm25: Any | None,
        vocabulary: Collection[str],
        size: int,
        *,
        stopwords: bool = True,
        k1: float = 1.5,
        b: float = 0.75,
    ) -> None:
        self._bm25 = bm25
        self._vocabulary = vocabulary
        self._size = size
        self.stopwords = stopwords
        self.k1 = k1
        self.b = b

    @classmethod
    def build(
        cls, texts: Sequence[str], *, stopwords: bool = True, k1: float = 1.5, b: float = 0.75
    ) -> LexicalIndex:
        """Index `texts` (row i is ``texts[i]``)."""
        bm25s = _bm25s()

        corpus_tokens = [tokenize(t, stopwords=stopwords) for t in texts]
        vocabulary = frozenset(tok for tokens in corpus_tokens for tok in tokens)
        bm25 = None
        if vocabulary:  # bm25s cannot index a corpus without a single token
            # Our own sorted vocabulary: bm25s numbers tokens in set order, which changes between runs, and
            # the saved files should not.
            vocab = {tok: i for i, tok in enumerate(sorted(vocabulary))}
            ids = [[vocab[t] for t in tokens] for tokens in corpus_tokens]
            bm25 = bm25s.BM25(k1=k1, b=b)
            bm25.index((ids, vocab), show_progress=False)
        return cls(bm25, vocabulary, len(texts), stopwords=stopwords, k1=k1, b=b)

    def __len__(self) -> int:
        return self._size

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """The `k` best rows for `query` as ``(row, score)``, best first, positive scores only.

        Ties are broken by row id. A query with no indexed word gives ``[]``.
        """
        if k <= 0 or self._bm25 is None:
            return []
        known = [t for t in tokenize(query, stopwords=self.stopwords) if t in self._vocabulary]
        if not known:
            return []
        scores = np.asarray(self._bm25.get_scores(known))
        # Sorting only the rows that can make the top k: at a million passages a sort of every row took
        # most of a search's time.
        rows = np.flatnonzero(scores > 0)
        if len(rows) > k:
            kth = np.partition(scores[rows], len(rows) - k)[len(rows) - k]
            rows = rows[scores[rows] >= kth]  # every row tied with the k-th stays, for the tie-break below
        order = rows[np.lexsort((rows, -scores[rows]))][:k]
        return [(int(i), float(scores[i])) for i in order]

    def query_coverage(self, query: str) -> float:
        """The share of the query's tokens (stopwords removed when the index removes them) that are indexed.

        0.0 for a query with no tokens. English questions against Hindi articles score about 0.
        """
        tokens = tokenize(query, stopwords=self.stopwords)
        if not tokens:
            return 0.0
        return sum(1 for t in tokens if t in self._vocabulary) / len(tokens)

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (created if needed)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(folder), show_progress=False)
        meta = {
            "format": FORMAT_VERSION,
            "size": self._size,
            "stopwords": self.stopwords,
            "k1": self.k1,
            "b": self.b,
            "empty": self._bm25 is None,
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read an index written by `save`.

        Raises:
            IndexCorruptError: the folder is missing, a file is missing or unreadable, or the parts disagree.
        """
        bm25s = _bm25s()
        folder = Path(folder)
        hint = "Rebuild the index (qa build)."
        if not folder.is_dir():
            raise IndexCorruptError(f"The BM25 index folder {folder} is missing. {hint}")
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT_VERSION:
                raise IndexCorruptError(
                    f"The BM25 index in {folder} has format {meta.get('format')!r}; this "
                    f"version reads format {FORMAT_VERSION}. {hint}"
                )
            size = int(meta["size"])
            stopwords = bool(meta["stopwords"])
            k1, b = float(meta["k1"]), float(meta["b"])
            if meta.get("empty"):
                return cls(None, frozenset(), size, stopwords=stopwords, k1=k1, b=b)
            bm25 = bm25s.BM25.load(str(folder), show_progress=False)
            vocab_dict = bm25.vocab_dict
            indptr = bm25.scores["indptr"]
            # bm25s adds the empty token "" to the vocabulary after scoring; it has no column.
            n_terms = sum(1 for t in vocab_dict if t != "")
            if bm25.scores["num_docs"] != size or len(indptr) != n_terms + 1:
                raise IndexCorruptError(
                    f"The BM25 index in {folder} is inconsistent ({size} rows expected, "
                    f"{bm25.scores['num_docs']} stored). {hint}"
                )
            if len(indptr) and int(indptr[-1]) != len(bm25.scores["data"]):
                raise IndexCorruptError(f"The BM25 index in {folder} has truncated score arrays. {hint}")
        except IndexCorruptError:
            raise
        except FileNotFoundError as exc:
            missing = Path(exc.filename or "").name
            raise IndexCorruptError(
                f"The BM25 index in {folder} is incomplete: {missing} is missing. {hint}"
            ) from exc
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            raise IndexCorruptError(
                f"The BM25 index in {folder} cannot be read ({type(exc).__name__}: {exc}). {hint}"
            ) from exc
        # bm25s's own dictionary (its "" matches no query token): a set of its words would hold every word of a
        # million passages' vocabulary twice.
        return cls(bm25, vocab_dict.keys(), size, stopwords=stopwords, k1=k1, b=b)
