"""The on-disk index store: one folder of immutable versions, switched atomically.

Folder layout (``index_dir``)::

    CURRENT            name of the live version folder (replaced atomically)
    .lock              serialises writers (build / ingest / remove)
    v-<time>-<pid>/    one complete index version:
        manifest.json  format, model, dimension, chunking, corpus fingerprint, counts, file checksums
        documents.jsonl, chunks.jsonl (offsets and the rows of their sentences), vectors.npy, dense.faiss,
        sentences.jsonl, sentence_vectors.npy, sentences.faiss, bm25/

A write builds a new version folder completely, then swaps CURRENT with ``os.replace``; a crash at any point
leaves the previous version live and at worst an orphan folder that the next write removes. A load checks the
manifest against what the caller needs (`IndexParams`, dimension) and every file against its checksum.

Knows files, arrays and the index objects; never embeds, chunks or searches (`qa.index_build`, `qa.retriever`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from embeddings.errors import VectorIndexError
from embeddings.index import VectorIndex
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexReadOnlyError
from qa.files import fsync_dir, sha256_file, write_atomic
from qa.lexical import LexicalIndex
from qa.records import ChunkTable, DocumentTable, Sentence, SentenceTable
from qa.types import Chunk, Document

__all__ = ["IndexData", "IndexParams", "Sentence", "load_index", "save_index", "stored_vectors"]

FORMAT_VERSION = 2
CURRENT = "CURRENT"
# Files whose SHA-256 the manifest records and a load checks (bm25/ checks its own consistency).
CHECKSUMMED = (
    "documents.jsonl",
    "chunks.jsonl",
    "sentences.jsonl",
    "vectors.npy",
    "sentence_vectors.npy",
    "dense.faiss",
    "sentences.faiss",
)


@dataclass(frozen=True)
class IndexParams:
    """What an index must agree with to be usable: searching with another model or chunking is wrong."""

    model: str
    chunk_tokens: int
    chunk_overlap_sentences: int

    def rebuild_hint(self) -> str:
        return (
            f"Rebuild it with `qa build` (model {self.model}, chunk_tokens {self.chunk_tokens}, "
            f"overlap {self.chunk_overlap_sentences}) or point --index at another folder."
        )


@dataclass(frozen=True)
class IndexData:
    """Everything one index version holds, in step: row `i` of `vectors`, `dense` and `lexical` is
    `chunks[i]`; row `j` of `sentence_vectors` and `sentence_index` is `sentences[j]`; `members[i]` lists the
    sentence rows of `chunks[i]`; `documents` are the articles by id.

    A build holds these as Python objects; a loaded index as `qa.records` tables, which read the texts from
    disk when asked for (a million passages would not fit in memory otherwise)."""

    documents: Mapping[str, Document]
    chunks: Sequence[Chunk]
    members: Sequence[Sequence[int]]
    sentences: Sequence[Sentence]
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    dense: VectorIndex
    sentence_index: VectorIndex
    lexical: LexicalIndex

    def __post_init__(self) -> None:
        if len(self.members) != len(self.chunks):
            raise ValueError(f"{len(self.members)} sentence lists for {len(self.chunks)} chunks")


def save_index(index_dir: Path, data: IndexData, manifest: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """Write a new version folder and make it live atomically. Returns the version folder and the
    manifest as written (with the file checksums)."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    version = Path(tempfile.mkdtemp(prefix=f"v-{time.strftime('%Y%m%d%H%M%S')}-", dir=index_dir))
    with open(version / "documents.jsonl", "w", encoding="utf-8") as f:
        for d in data.documents.values():
            f.write(json.dumps(asdict(d), ensure_ascii=False) + "\n")
    with open(version / "chunks.jsonl", "w", encoding="utf-8") as f:
        for c, rows in zip(data.chunks, data.members):
            f.write(
                json.dumps(
                    {
                        "id": c.id,
                        "doc_id": c.doc_id,
                        "start": c.start,
                        "end": c.end,
                        "sentences": list(rows),
                    }
                )
                + "\n"
            )
    with open(version / "sentences.jsonl", "w", encoding="utf-8") as f:
        for sent in data.sentences:
            f.write(json.dumps(asdict(sent), ensure_ascii=False) + "\n")
    np.save(version / "vectors.npy", data.vectors)
    np.save(version / "sentence_vectors.npy", data.sentence_vectors)
    data.dense.save(version / "dense.faiss")
    data.sentence_index.save(version / "sentences.faiss")
    data.lexical.save(version / "bm25")
    manifest = dict(manifest)
    manifest["files"] = {name: sha256_file(version / name) for name in CHECKSUMMED}
    write_atomic(version / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    fsync_dir(version)
    pointer = index_dir / CURRENT
    previous = pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else ""
    write_atomic(pointer, version.name + "\n")
    fsync_dir(index_dir)
    _remove_stale_versions(index_dir, keep={version.name, previous})
    return version, manifest


def load_index(index_dir: Path, params: IndexParams, dim: int) -> tuple[IndexData, dict[str, Any]]:
    """Open the live version in `index_dir`. Raises IndexMissingError, IndexCorruptError or
    IndexMismatchError (the message says how to rebuild)."""
    version = current_version(index_dir)
    manifest = read_manifest(version)
    check_manifest(manifest, params, dim, version)
    try:
        files = manifest["files"]
        missing = [name for name in CHECKSUMMED if name not in files]
        if missing:
            raise IndexCorruptError(
                f"{version}/manifest.json lists no checksum for {', '.join(missing)}. "
                + params.rebuild_hint()
            )
        for name, digest in files.items():
            if sha256_file(version / name) != digest:
                raise IndexCorruptError(
                    f"{version / name} does not match its checksum in the manifest. " + params.rebuild_hint()
                )
        # Texts stay on disk: the tables read an article's line when one of its passages is asked for.
        documents = DocumentTable.open(version / "documents.jsonl")
        sentences = SentenceTable.open(version / "sentences.jsonl", documents)
        chunks, members = ChunkTable.open(version / "chunks.jsonl", documents)
        # Memory-mapped, and never read while serving: the retriever re-scores its candidates from the
        # FAISS indexes' own rows (`VectorIndex.rows`), so the float32 vectors are not held twice (4.6 GB
        # at a million passages with their sentences). A rebuild or ingest takes them through
        # `stored_vectors`, which never reads a mapped page: a file truncated under a running server would
        # end it with SIGBUS there.
        vectors = np.load(version / "vectors.npy", mmap_mode="r")
        sentence_vectors = np.load(version / "sentence_vectors.npy", mmap_mode="r")
        dense = VectorIndex.load(version / "dense.faiss", dim=dim, rows=len(chunks))
        sentence_index = VectorIndex.load(version / "sentences.faiss", dim=dim, rows=len(sentences))
    except IndexCorruptError as exc:  # a record file that is not what the store writes
        raise IndexCorruptError(f"{exc}. " + params.rebuild_hint()) from exc
    except (OSError, ValueError, KeyError, TypeError, VectorIndexError) as exc:
        raise IndexCorruptError(
            f"The index in {version} is unreadable ({exc}). " + params.rebuild_hint()
        ) from exc
    for name, array, rows in (
        ("vectors.npy", vectors, len(chunks)),
        ("sentence_vectors.npy", sentence_vectors, len(sentences)),
    ):
        if array.shape != (rows, dim):
            raise IndexCorruptError(
                f"{version}/{name} has shape {array.shape}; expected {(rows, dim)}. " + params.rebuild_hint()
            )
    if len(members.values) and not 0 <= int(members.values.min()) <= int(members.values.max()) < len(
        sentences
    ):
        raise IndexCorruptError(
            f"{version}/chunks.jsonl names sentence rows that do not exist. " + params.rebuild_hint()
        )
    lexical = LexicalIndex.load(version / "bm25")
    if len(lexical) != len(chunks):
        raise IndexCorruptError(
            f"{version}/bm25 holds {len(lexical)} passages, expected {len(chunks)}. " + params.rebuild_hint()
        )
    data = IndexData(
        documents,
        chunks,
        members,
        sentences,
        vectors,
        sentence_vectors,
        dense,
        sentence_index,
        lexical,
    )
    return data, manifest


def stored_vectors(data: IndexData) -> tuple[np.ndarray, np.ndarray]:
    """`data`'s (vectors, sentence_vectors) in memory, for a rebuild or ingest to reuse.

    A loaded index's vector files are memory-mapped and may have changed on disk since the load (checksums
    are checked then). Where the FAISS index holds its vectors exactly (flat, HNSW), they are copied from it,
    as checked at the load, and the files are not read; otherwise (IVF-SQ8 holds them at 8 bits) the files
    are read with np.load, so a changed file raises IndexCorruptError instead of ending the process with the
    SIGBUS a mapped page read past a truncated end would raise.

    Raises:
        IndexCorruptError: a vector file that must be read is no longer the array that was loaded.
    """
    out = []
    for array, index in ((data.vectors, data.dense), (data.sentence_vectors, data.sentence_index)):
        if isinstance(array, np.memmap):
            if index.exact:
                array = index.rows(np.arange(len(index)))
            else:
                array = _read_again(Path(str(array.filename)), array)
        out.append(np.asarray(array))
    return out[0], out[1]


def _read_again(path: Path, mapped: np.ndarray) -> np.ndarray:
    try:
        fresh = np.load(path)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"{path} changed since the index was loaded ({exc}); rebuild the index (qa build)"
        ) from exc
    if fresh.shape != mapped.shape or fresh.dtype != mapped.dtype:
        raise IndexCorruptError(
            f"{path} changed since the index was loaded: {fresh.shape} rows, {mapped.shape} expected; "
            f"rebuild the index (qa build)"
        )
    return fresh


def current_version(index_dir: Path) -> Path:
    index_dir = Path(index_dir)
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexMissingError(
            f"No index in {index_dir}. Build one with `qa build` (or start the app, which builds it)."
        )
    name = pointer.read_text(encoding="utf-8").strip()
    version = index_dir / name
    if not name or "/" in name or not version.is_dir():
        raise IndexCorruptError(
            f"{pointer} names {name!r}, which is not an index folder. Rebuild with `qa build`."
        )
    return version


def read_manifest(version: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"{version}/manifest.json is missing or unreadable ({exc}). Rebuild with `qa build`."
        ) from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{version}/manifest.json is not a JSON object. Rebuild with `qa build`.")
    return manifest


def check_manifest(manifest: dict[str, Any], params: IndexParams, dim: int, where: Path) -> None:
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"The index in {where} has format {manifest.get('format_version')!r}; this "
            f"version reads format {FORMAT_VERSION}. " + params.rebuild_hint()
        )
    wanted = {**asdict(params), "dim": dim}
    diffs = [
        f"{key}: index has {manifest.get(key)!r}, asked for {value!r}"
        for key, value in wanted.items()
        if manifest.get(key) != value
    ]
    if diffs:
        raise IndexMismatchError(
            f"The index in {where} was built differently ({'; '.join(diffs)}). " + params.rebuild_hint()
        )


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index folder (builds, ingests), across threads and processes."""
    index_dir = Path(index_dir)
    with _lock_file(index_dir) as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _lock_file(index_dir: Path) -> IO[str]:
    """The open lock file of `index_dir`; IndexReadOnlyError where the folder cannot be written."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        return open(index_dir / ".lock", "a+")
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise IndexReadOnlyError(
                f"The index folder {index_dir} is read-only ({exc.strerror}): it can be searched but not "
                f"changed. Point SAMACHAR_INDEX_DIR (or --index) at a writable folder to add articles."
            ) from exc
        raise


def _remove_stale_versions(index_dir: Path, keep: set[str]) -> None:
    # The version just replaced is kept one round: a reader in another process may be loading it right now.
    # Anything else is an older version or the orphan of a crashed build (writers hold writer_lock).
    for entry in index_dir.iterdir():
        if entry.is_dir() and entry.name.startswith("v-") and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
