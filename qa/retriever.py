"""Hybrid retrieval (dense e5 vectors + BM25) over one index folder.

Folder layout (``index_dir``)::

    CURRENT            name of the live version folder (replaced atomically)
    .lock              serialises writers (build / ingest)
    v-<time>-<pid>/    one complete index version:
        manifest.json  format, model, dimension, chunking, corpus fingerprint, counts, file checksums
        documents.jsonl, chunks.jsonl, vectors.npy, dense.faiss, bm25/

A write builds a new version folder completely, then swaps CURRENT with ``os.replace``; a crash at any point
leaves the previous version live and at worst an orphan folder that the next write removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

import numpy as np

from embeddings.encoder import Encoder
from embeddings.errors import VectorIndexError
from embeddings.index import VectorIndex
from qa.chunking import chunk_document
from qa.config import Settings
from qa.corpus import corpus_fingerprint
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from qa.files import fsync_dir, write_atomic
from qa.lexical import LexicalIndex
from qa.types import Chunk, Document, Hit

FORMAT_VERSION = 1
CURRENT = "CURRENT"
EMBED_BATCH = 64
SearchMode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class IndexParams:
    """What an index must agree with to be usable: searching with another model or chunking is wrong."""

    model: str
    chunk_tokens: int
    chunk_overlap_sentences: int

    @classmethod
    def for_settings(cls, settings: Settings, model_id: str) -> "IndexParams":
        return cls(model=model_id, chunk_tokens=settings.chunk_tokens,
                   chunk_overlap_sentences=settings.chunk_overlap_sentences)

    def rebuild_hint(self) -> str:
        return (f"Rebuild it with `qa build` (model {self.model}, chunk_tokens {self.chunk_tokens}, "
                f"overlap {self.chunk_overlap_sentences}) or point --index at another folder.")


@dataclass(frozen=True)
class IngestReport:
    added_documents: tuple[str, ...]
    replaced_documents: tuple[str, ...]
    unchanged_documents: tuple[str, ...]
    chunks_added: int
    chunks_embedded: int
    total_chunks: int


@dataclass(frozen=True)
class FusionWeights:
    """Hybrid score: ``cosine + lexical_weight * coverage**coverage_power * bm25 / max_bm25``.

    ``coverage`` is the share of the query's words found in the BM25 vocabulary. English questions against
    Hindi articles share almost no words with them (mean coverage 0.07 on XQuAD, Hindi questions 0.93), so their
    BM25 ranks are noise; weighting by coverage keeps them from dragging dense results down while Hindi
    questions get the lexical signal. The score stays on the cosine scale, comparable across queries.
    Chosen on a tuning split (articles 0-9) of XQuAD by benchmarks/retrieval_xquad.py; plain and weighted
    reciprocal-rank fusion and min-max-scaled sums did worse there.
    """

    lexical_weight: float = 0.1
    coverage_power: float = 2.0
    candidates: int = 50


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode("utf-8")).hexdigest()[:32]


class Retriever:
    """Chunks, their vectors, a FAISS index and a BM25 index, kept in step."""

    def __init__(self, encoder: Encoder, params: IndexParams, documents: Sequence[Document],
                 chunks: Sequence[Chunk], vectors: np.ndarray, dense: VectorIndex, lexical: LexicalIndex,
                 *, fusion: FusionWeights | None = None, manifest: dict[str, Any] | None = None,
                 embedded: int = 0) -> None:
        self.encoder = encoder
        self.params = params
        self.documents = {d.id: d for d in documents}
        self.chunks = list(chunks)
        self.vectors = vectors
        self.dense = dense
        self.lexical = lexical
        self.fusion = fusion or FusionWeights()
        self.manifest = manifest or self._make_manifest()
        #: How many passages the build that made this retriever embedded (0 for a loaded index).
        self.embedded = embedded

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, documents: Sequence[Document], encoder: Encoder, params: IndexParams, *,
              progress: bool = False, previous: "Retriever | None" = None) -> "Retriever":
        """Chunk and embed `documents`. Vectors of chunks whose text `previous` already embedded with the
        same model are reused, so an incremental ingest embeds only new or changed chunks."""
        if params.model != encoder.model_id:
            raise IndexMismatchError(f"encoder {encoder.model_id!r} does not match params model {params.model!r}")
        docs = sorted(documents, key=lambda d: d.id)
        chunks: list[Chunk] = []
        for doc in _progress(docs, progress, "Chunking"):
            chunks.extend(chunk_document(doc, encoder.count_tokens, max_tokens=params.chunk_tokens,
                                         overlap_sentences=params.chunk_overlap_sentences))
        known: dict[str, np.ndarray] = {}
        if previous is not None and previous.params.model == params.model:
            for c, v in zip(previous.chunks, previous.vectors):
                known[_text_key(params.model, c.text)] = v
        keys = [_text_key(params.model, c.text) for c in chunks]
        todo = [i for i, key in enumerate(keys) if key not in known]
        vectors = np.zeros((len(chunks), encoder.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            if key in known:
                vectors[i] = known[key]
        batches = [todo[i:i + EMBED_BATCH] for i in range(0, len(todo), EMBED_BATCH)]
        for batch in _progress(batches, progress, "Embedding", unit="batch"):
            vectors[batch] = encoder.encode_passages([chunks[i].text for i in batch])
        return cls(encoder, params, docs, chunks, vectors, VectorIndex.build(vectors),
                   LexicalIndex.build([c.text for c in chunks]), embedded=len(todo))

    def with_documents(self, documents: Sequence[Document], *, progress: bool = False) -> tuple["Retriever", IngestReport]:
        """A new retriever with `documents` added (or replacing those with the same id)."""
        added, replaced, unchanged = [], [], []
        merged = dict(self.documents)
        for doc in documents:
            old = merged.get(doc.id)
            if old is None:
                added.append(doc.id)
            elif old.text == doc.text and old.title == doc.title and old.date == doc.date:
                unchanged.append(doc.id)
            else:
                replaced.append(doc.id)
            merged[doc.id] = doc
        new = Retriever.build(list(merged.values()), self.encoder, self.params, progress=progress, previous=self)
        changed = set(added) | set(replaced)
        report = IngestReport(tuple(added), tuple(replaced), tuple(unchanged),
                              chunks_added=sum(1 for c in new.chunks if c.doc_id in changed),
                              chunks_embedded=new.embedded, total_chunks=len(new.chunks))
        return new, report

    def _make_manifest(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            **asdict(self.params),
            "dim": int(self.encoder.dim),
            "index_kind": self.dense.kind,
            "corpus_fingerprint": corpus_fingerprint(list(self.documents.values())),
            "counts": {"documents": len(self.documents), "chunks": len(self.chunks)},
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    # ------------------------------------------------------------------ search
    def search(self, query: str, k: int = 5, *, mode: SearchMode = "hybrid") -> list[Hit]:
        """Top-k chunks for `query` by fused dense + BM25 score (see FusionWeights); `mode` "dense" or
        "lexical" ranks by one signal alone (for comparison in benchmarks)."""
        if not self.chunks or k <= 0:
            return []
        n_cand = max(k, self.fusion.candidates)
        q = self.encoder.encode_queries([query]) if mode != "lexical" else None
        dense_ids = self.dense.search(q, n_cand)[1][0] if q is not None else np.zeros(0, dtype=np.int64)
        lexical = self.lexical.search(query, n_cand) if mode != "dense" else []
        candidates = sorted({int(i) for i in dense_ids if i >= 0} | {i for i, _ in lexical})
        if not candidates:
            return []
        dense_scores = (np.asarray(self.vectors[candidates]) @ q[0] if q is not None
                        else np.zeros(len(candidates), dtype=np.float32))
        bm25 = dict(lexical)
        lex_scores = np.array([bm25.get(i, 0.0) for i in candidates], dtype=np.float32)
        if mode == "dense":
            fused = dense_scores
        elif mode == "lexical":
            fused = lex_scores
        else:
            fused = self._fuse(dense_scores, lex_scores, self.lexical.query_coverage(query))
        order = np.argsort(-fused, kind="stable")[:k]
        hits = []
        for j in order:
            chunk = self.chunks[candidates[j]]
            doc = self.documents[chunk.doc_id]
            hits.append(Hit(chunk=chunk, title=doc.title, date=doc.date, score=float(fused[j]),
                            dense_score=float(dense_scores[j]), lexical_score=float(lex_scores[j])))
        return hits

    def _fuse(self, dense: np.ndarray, lexical: np.ndarray, coverage: float) -> np.ndarray:
        top = float(lexical.max()) if len(lexical) else 0.0
        lex_norm = lexical / top if top > 0 else np.zeros_like(lexical)
        return dense + self.fusion.lexical_weight * coverage ** self.fusion.coverage_power * lex_norm

    # ------------------------------------------------------------------ persistence
    def save(self, index_dir: Path) -> Path:
        """Write a new version folder and make it live atomically. Returns the version folder."""
        index_dir = Path(index_dir)
        index_dir.mkdir(parents=True, exist_ok=True)
        version = Path(tempfile.mkdtemp(prefix=f"v-{time.strftime('%Y%m%d%H%M%S')}-", dir=index_dir))
        with open(version / "documents.jsonl", "w", encoding="utf-8") as f:
            for d in self.documents.values():
                f.write(json.dumps(asdict(d), ensure_ascii=False) + "\n")
        with open(version / "chunks.jsonl", "w", encoding="utf-8") as f:
            for c in self.chunks:
                f.write(json.dumps({"id": c.id, "doc_id": c.doc_id, "start": c.start, "end": c.end}) + "\n")
        np.save(version / "vectors.npy", self.vectors)
        self.dense.save(version / "dense.faiss")
        self.lexical.save(version / "bm25")
        manifest = dict(self.manifest)
        manifest["files"] = {name: _sha256(version / name)
                             for name in ("documents.jsonl", "chunks.jsonl", "vectors.npy", "dense.faiss")}
        write_atomic(version / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        fsync_dir(version)
        pointer = index_dir / CURRENT
        previous = pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else ""
        write_atomic(pointer, version.name + "\n")
        fsync_dir(index_dir)
        self.manifest = manifest
        _remove_stale_versions(index_dir, keep={version.name, previous})
        return version

    @classmethod
    def load(cls, index_dir: Path, encoder: Encoder, params: IndexParams, *,
             fusion: FusionWeights | None = None) -> "Retriever":
        """Open the live version in `index_dir`. Raises IndexMissingError, IndexCorruptError or
        IndexMismatchError (the message says how to rebuild)."""
        version = current_version(index_dir)
        manifest = read_manifest(version)
        check_manifest(manifest, params, encoder.dim, version)
        try:
            for name, digest in manifest["files"].items():
                if _sha256(version / name) != digest:
                    raise IndexCorruptError(f"{version / name} does not match its checksum in the manifest. "
                                            + params.rebuild_hint())
            documents = [Document(**json.loads(line))
                         for line in (version / "documents.jsonl").read_text(encoding="utf-8").splitlines()]
            by_id = {d.id: d for d in documents}
            chunks = []
            for line in (version / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                text = by_id[row["doc_id"]].text[row["start"]:row["end"]]
                chunks.append(Chunk(id=row["id"], doc_id=row["doc_id"], text=text,
                                    start=row["start"], end=row["end"]))
            vectors = np.load(version / "vectors.npy", mmap_mode="r")
            dense = VectorIndex.load(version / "dense.faiss", dim=encoder.dim, rows=len(chunks))
        except (OSError, ValueError, KeyError, TypeError, VectorIndexError) as exc:
            raise IndexCorruptError(f"The index in {version} is unreadable ({exc}). " + params.rebuild_hint()) from exc
        if vectors.shape != (len(chunks), encoder.dim):
            raise IndexCorruptError(f"{version}/vectors.npy has shape {vectors.shape}; expected "
                                    f"{(len(chunks), encoder.dim)}. " + params.rebuild_hint())
        lexical = LexicalIndex.load(version / "bm25")
        if len(lexical) != len(chunks):
            raise IndexCorruptError(f"{version}/bm25 holds {len(lexical)} passages, expected {len(chunks)}. "
                                    + params.rebuild_hint())
        return cls(encoder, params, documents, chunks, vectors, dense, lexical, fusion=fusion, manifest=manifest)


# ---------------------------------------------------------------------- helpers
def current_version(index_dir: Path) -> Path:
    index_dir = Path(index_dir)
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexMissingError(f"No index in {index_dir}. Build one with `qa build` (or start the app, "
                                f"which builds it).")
    name = pointer.read_text(encoding="utf-8").strip()
    version = index_dir / name
    if not name or "/" in name or not version.is_dir():
        raise IndexCorruptError(f"{pointer} names {name!r}, which is not an index folder. Rebuild with `qa build`.")
    return version


def read_manifest(version: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{version}/manifest.json is missing or unreadable ({exc}). "
                                f"Rebuild with `qa build`.") from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{version}/manifest.json is not a JSON object. Rebuild with `qa build`.")
    return manifest


def check_manifest(manifest: dict[str, Any], params: IndexParams, dim: int, where: Path) -> None:
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(f"The index in {where} has format {manifest.get('format_version')!r}; this "
                                 f"version reads format {FORMAT_VERSION}. " + params.rebuild_hint())
    wanted = {**asdict(params), "dim": dim}
    diffs = [f"{key}: index has {manifest.get(key)!r}, asked for {value!r}"
             for key, value in wanted.items() if manifest.get(key) != value]
    if diffs:
        raise IndexMismatchError(f"The index in {where} was built differently ({'; '.join(diffs)}). "
                                 + params.rebuild_hint())


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index folder (builds, ingests), across threads and processes."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _remove_stale_versions(index_dir: Path, keep: set[str]) -> None:
    # The version just replaced is kept one round: a reader in another process may be loading it right now.
    # Anything else is an older version or the orphan of a crashed build (writers hold writer_lock).
    for entry in index_dir.iterdir():
        if entry.is_dir() and entry.name.startswith("v-") and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)


def _progress(items: Sequence[Any], enabled: bool, desc: str, unit: str = "doc") -> Any:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit=unit)
