"""The records of a loaded index (articles, passages, sentence rows) held compactly: texts stay on disk.

A million passages come from a few hundred thousand articles, about 10^9 characters of Hindi. As Python
objects that is the whole text twice (each article, and each passage a copy of its slice: Devanagari takes
two bytes a character in a `str`) plus an object per passage and per sentence row: several GB, against the
2 GB a server has for the whole index (docs/scale.md). So a loaded index keeps only numbers in numpy arrays
and the articles' short fields, and reads an article's line of `documents.jsonl` back when a passage of it
is asked for (`os.pread` on a descriptor opened at load: a file changed under a running server gives an
error naming it, never the SIGBUS a memory-mapped read past a truncated end would raise). The few articles
a question touches are cached.

The tables are read-only sequences of the same `Document`, `Chunk` and `Sentence` values a build makes, so
code that reads an index does not care which it has. The files are the ones `qa.index_store` has always
written (no format change): `documents.jsonl`, `chunks.jsonl`, `sentences.jsonl`.
"""

from __future__ import annotations

import array
import functools
import itertools
import json
import os
import weakref
from abc import abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np

from qa.errors import IndexCorruptError
from qa.types import ArticleInfo, Chunk, Document, article_link

_SENTENCE_FIELDS = frozenset(("doc_id", "start", "end", "context_start"))
JSON_BLOCK_LINES = 20_000
# Articles whose text is kept after a read: a question's hits come from a handful of articles, and each hit
# reads its article twice (the passage's text, then the title and date).
CACHED_ARTICLES = 64


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article (a unit of `qa.chunking.split_sentences`), located in its document. It is
    embedded together with the sentence before it (``text[context_start:end]``), so that a sentence that refers
    back ("इस बैठक की सह-अध्यक्षता …" after the sentence naming the meeting in Hawaii) keeps what it refers to.
    A sentence in the overlap of two chunks is one row shared by both."""

    doc_id: str
    start: int
    end: int
    context_start: int


T = TypeVar("T")


class _Rows(Sequence[T]):
    """A read-only sequence whose items are made when asked for (`_row`), with Python's index rules."""

    @abstractmethod
    def _row(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[T, ...]: ...

    def __getitem__(self, i: int | slice) -> T | tuple[T, ...]:
        if isinstance(i, slice):
            return tuple(self._row(j) for j in range(*i.indices(len(self))))
        if not -len(self) <= i < len(self):
            raise IndexError(f"row {i} of {len(self)}")
        return self._row(i % len(self))


class _LineReader:
    """Reads the article at a position of a documents.jsonl file (see DocumentTable)."""

    def __init__(self, path: Path, ids: list[str], offsets: np.ndarray, lengths: np.ndarray) -> None:
        self.path, self.ids, self.offsets, self.lengths = path, ids, offsets, lengths
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)

    def __call__(self, position: int) -> Document:
        length = int(self.lengths[position])
        try:
            line = os.pread(self.fd, length, int(self.offsets[position]))
            document = Document(**json.loads(line))
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorruptError(
                f"{self.path} changed since the index was loaded ({exc}); rebuild the index (qa build)"
            ) from exc
        if len(line) != length or document.id != self.ids[position]:
            raise IndexCorruptError(
                f"{self.path} changed since the index was loaded; rebuild the index (qa build)"
            )
        return document


class DocumentTable(Mapping[str, Document]):
    """The articles of a loaded index by id, in file order: ids in memory, each `Document` read from its
    line of `documents.jsonl` when asked for (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        ids: list[str],
        headers: list[tuple[str, str, str | None]],
        offsets: np.ndarray,
        lengths: np.ndarray,
    ) -> None:
        self.path = path
        self._ids = ids
        # (title, source, date) of each article: the corpus listing shows every article (after each
        # abstention, too), and reading every text for it would take seconds at a million passages.
        self._headers = headers
        self._position = {doc_id: i for i, doc_id in enumerate(ids)}
        # The reader holds the descriptor and the cache holds the reader, neither the table: dropping the
        # table (a reload after an ingest) closes the file at once, not at the next garbage collection.
        self._read = functools.lru_cache(maxsize=CACHED_ARTICLES)(_LineReader(path, ids, offsets, lengths))

    @classmethod
    def open(cls, path: Path) -> DocumentTable:
        """Index `path` (one JSON document a line). Raises IndexCorruptError naming the line that is not one."""
        ids: list[str] = []
        headers: list[tuple[str, str, str | None]] = []
        offsets: list[int] = []
        lengths: list[int] = []
        at = 0
        with open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                    document = Document(**record)  # every field present and no other
                    ids.append(str(document.id))
                    headers.append((str(document.title), str(document.source), document.date))
                except (ValueError, KeyError, TypeError) as exc:
                    raise IndexCorruptError(f"{path} line {n} is not an article ({exc})") from exc
                offsets.append(at)
                lengths.append(len(line))
                at += len(line)
        if len(set(ids)) != len(ids):
            raise IndexCorruptError(f"{path} holds an article id twice")
        return cls(path, ids, headers, np.array(offsets, dtype=np.int64), np.array(lengths, dtype=np.int64))

    def at(self, position: int) -> Document:
        """The `position`-th article of the file."""
        return self._read(position)

    def infos(self, passages: Counter[str]) -> list[ArticleInfo]:
        """Each article as the corpus listing shows it, `passages` giving its passage count; no text read."""
        return [
            ArticleInfo(doc_id, title, date, passages.get(doc_id, 0), article_link(source))
            for doc_id, (title, source, date) in zip(self._ids, self._headers)
        ]

    def id_at(self, position: int) -> str:
        return self._ids[position]

    def position(self, doc_id: str) -> int:
        """The article's place in the file; KeyError for an id not indexed."""
        return self._position[doc_id]

    def __getitem__(self, doc_id: str) -> Document:
        return self._read(self._position[doc_id])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._position

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


class ChunkTable(_Rows[Chunk]):
    """The passages of a loaded index: each `Chunk` made when asked for from its article's text and its
    offsets (arrays: article position, number within the article, start, end)."""

    def __init__(
        self,
        documents: DocumentTable,
        doc: np.ndarray,
        number: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
    ) -> None:
        self.documents = documents
        self._doc, self._number, self._start, self._end = doc, number, start, end

    def _row(self, i: int) -> Chunk:
        document = self.documents.at(int(self._doc[i]))
        start, end = int(self._start[i]), int(self._end[i])
        return Chunk(
            id=f"{document.id}#{int(self._number[i])}",
            doc_id=document.id,
            text=document.text[start:end],
            start=start,
            end=end,
        )

    def __len__(self) -> int:
        return len(self._doc)

    def doc_ids(self) -> list[str]:
        """The article id of each passage, without reading any text."""
        return [self.documents.id_at(int(k)) for k in self._doc]

    def doc_counts(self) -> Counter[str]:
        """Passages per article id, without reading any text."""
        counts = np.bincount(self._doc, minlength=len(self.documents))
        return Counter({self.documents.id_at(i): int(n) for i, n in enumerate(counts) if n})

    @classmethod
    def open(cls, path: Path, documents: DocumentTable) -> tuple[ChunkTable, RowLists]:
        """The passages of `path` (``chunks.jsonl``) and the sentence rows of each. Raises IndexCorruptError."""
        # Typed arrays while parsing, not lists: a list of a million Python ints is 36 MB whose freed heap the
        # process keeps (measured: 90 MB more resident after loading a million passages).
        doc, number, start, end, lengths, rows = (array.array("q") for _ in range(6))
        for n, record in _json_lines(path):
            try:
                doc_id, chunk_id = str(record["doc_id"]), str(record["id"])
                prefix, _, k = chunk_id.rpartition("#")
                if prefix != doc_id or not k.isdigit():  # ids are "<article id>#<n>" (qa.chunking)
                    raise ValueError(f"passage id {chunk_id!r} is not of article {doc_id!r}")
                doc.append(documents.position(doc_id))
                number.append(int(k))
                start.append(record["start"])
                end.append(record["end"])
                sentences = record["sentences"]
                rows.extend(sentences)
            except (ValueError, KeyError, TypeError) as exc:
                raise IndexCorruptError(f"{path} line {n} is not a passage ({exc!r})") from exc
            lengths.append(len(sentences))
        table = cls(
            documents,
            _int32(doc, path),
            _int32(number, path),
            _int32(start, path),
            _int32(end, path),
        )
        return table, RowLists.from_lengths(np.frombuffer(lengths, dtype=np.int64).copy(), _int32(rows, path))


class SentenceTable(_Rows[Sentence]):
    """The sentence rows of a loaded index (arrays: article position, start, end, context start)."""

    def __init__(self, documents: DocumentTable, columns: np.ndarray) -> None:
        self.documents = documents
        self._columns = columns  # [rows, 4] int32

    def _row(self, i: int) -> Sentence:
        doc, start, end, context_start = (int(v) for v in self._columns[i])
        return Sentence(self.documents.id_at(doc), start, end, context_start)

    def __len__(self) -> int:
        return len(self._columns)

    @classmethod
    def open(cls, path: Path, documents: DocumentTable) -> SentenceTable:
        """The sentence rows of `path` (``sentences.jsonl``). Raises IndexCorruptError."""
        columns = array.array("q")  # see ChunkTable.open
        for n, record in _json_lines(path):
            try:
                if record.keys() != _SENTENCE_FIELDS:
                    raise ValueError(f"fields {sorted(record)}, not {sorted(_SENTENCE_FIELDS)}")
                columns.extend(
                    (
                        documents.position(record["doc_id"]),
                        record["start"],
                        record["end"],
                        record["context_start"],
                    )
                )
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise IndexCorruptError(f"{path} line {n} is not a sentence row ({exc!r})") from exc
        return cls(documents, _int32(columns, path).reshape(-1, 4))


class RowLists(_Rows[tuple[int, ...]]):
    """A list of lists of row ids in two arrays (compressed sparse rows): list `i` is
    ``values[starts[i]:starts[i + 1]]``."""

    def __init__(self, starts: np.ndarray, values: np.ndarray) -> None:
        self.starts, self.values = starts, values

    @classmethod
    def from_lengths(cls, lengths: np.ndarray, values: np.ndarray) -> RowLists:
        starts = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        return cls(starts, values)

    @classmethod
    def of(cls, lists: Sequence[Sequence[int]]) -> RowLists:
        """`lists` as RowLists (itself when it is one)."""
        if isinstance(lists, RowLists):
            return lists
        lengths = np.array([len(rows) for rows in lists], dtype=np.int64)
        values = np.fromiter((j for rows in lists for j in rows), dtype=np.int32, count=int(lengths.sum()))
        return cls.from_lengths(lengths, values)

    def inverse(self, n: int) -> RowLists:
        """For each value 0..n-1, the lists that hold it (in order): the chunks of each sentence row."""
        owners = np.repeat(np.arange(len(self), dtype=np.int32), np.diff(self.starts))
        order = np.argsort(self.values, kind="stable")
        return RowLists.from_lengths(np.bincount(self.values, minlength=n)[:n], owners[order])

    def _row(self, i: int) -> tuple[int, ...]:
        return tuple(int(v) for v in self.values[self.starts[i] : self.starts[i + 1]])

    def rows(self, i: int) -> np.ndarray:
        """List `i` as an array (no Python ints)."""
        return self.values[self.starts[i] : self.starts[i + 1]]

    def __len__(self) -> int:
        return len(self.starts) - 1


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each line of a JSON-lines file, parsed a block of lines at a time: one
    `json.loads` of a block is about twice as fast as one a line (2.1M sentence rows: measured 0.87 against
    1.93 s for 300k), and a block keeps the parsed objects few. Raises IndexCorruptError naming a line that
    is not one JSON value."""
    with open(path, encoding="utf-8") as f:
        n = 0
        while block := list(itertools.islice(f, JSON_BLOCK_LINES)):
            try:
                values = json.loads("[" + ",".join(block) + "]")
            except ValueError:
                values = None
            if values is None or len(values) != len(block):  # find the line that is not one value
                values = []
                for k, line in enumerate(block, n + 1):
                    try:
                        values.append(json.loads(line))
                    except ValueError as exc:
                        raise IndexCorruptError(f"{path} line {k} is not JSON ({exc})") from exc
            yield from enumerate(values, n + 1)
            n += len(block)


def _int32(values: array.array[int], path: Path) -> np.ndarray:
    """`values` (offsets, row ids) as int32: half the memory of Python's int64 at a million passages. An
    article of 2^31 characters or an index of 2^31 rows is past anything the store is built for."""
    wide = np.frombuffer(values, dtype=np.int64)
    if len(wide) and (wide.min() < 0 or wide.max() >= 2**31):
        raise IndexCorruptError(f"{path} holds an offset or row id out of range")
    return wide.astype(np.int32)


def chunk_doc_ids(chunks: Sequence[Chunk]) -> list[str]:
    """The article id of each chunk (a loaded index reads no text for it)."""
    if isinstance(chunks, ChunkTable):
        return chunks.doc_ids()
    return [c.doc_id for c in chunks]


def article_infos(documents: Mapping[str, Document], chunks: Sequence[Chunk]) -> list[ArticleInfo]:
    """The articles of an index as the corpus listing shows them, in `documents`' order (a loaded index
    lists them without reading any text)."""
    if isinstance(chunks, ChunkTable):
        passages = chunks.doc_counts()
    else:
        passages = Counter(c.doc_id for c in chunks)
    if isinstance(documents, DocumentTable):
        return documents.infos(passages)
    return [ArticleInfo(d.id, d.title, d.date, passages.get(d.id, 0), d.link) for d in documents.values()]
