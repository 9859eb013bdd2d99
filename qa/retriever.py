"""Hybrid retrieval (dense e5 vectors + BM25) over one index folder.

Folder layout (``index_dir``)::

    CURRENT            name of the live version folder (replaced atomically)
    .lock              serialises writers (build / ingest)
    v-<time>-<pid>/    one complete index version:
        manifest.json  format, model, dimension, chunking, corpus fingerprint, counts, file checksums
        documents.jsonl, chunks.jsonl (offsets and the rows of their sentences), vectors.npy, dense.faiss,
        sentences.jsonl, sentence_vectors.npy, sentences.faiss, bm25/

Every chunk is embedded whole and sentence by sentence (each sentence with the one before it, for context): a
question usually asks about one sentence, and its cosine with that sentence is sharper than with the whole
passage, above all for English questions against Hindi text (see FusionWeights).

A write builds a new version folder completely, then swaps CURRENT with ``os.replace``; a crash at any point
leaves the previous version live and at worst an orphan folder that the next write removes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from embeddings.encoder import Encoder
from embeddings.errors import VectorIndexError
from embeddings.index import VectorIndex
from qa.chunking import chunk_document, split_sentences
from qa.config import Settings
from qa.corpus import corpus_fingerprint
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexReadOnlyError
from qa.files import fsync_dir, sha256_file, write_atomic
from qa.lexical import LexicalIndex
from qa.types import Chunk, Document, Hit

# 2: sentence vectors beside the chunk vectors.
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
EMBED_BATCH = 64
SearchMode = Literal["hybrid", "dense", "lexical"]
#: Called after each batch of texts is embedded: (texts embedded so far, texts to embed, id of the article
#: being embedded). Texts are embedded article by article, so a caller can show per-file progress.
EmbedProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class IndexParams:
    """What an index must agree with to be usable: searching with another model or chunking is wrong."""

    model: str
    chunk_tokens: int
    chunk_overlap_sentences: int

    @classmethod
    def for_settings(cls, settings: Settings, model_id: str) -> IndexParams:
        return cls(
            model=model_id,
            chunk_tokens=settings.chunk_tokens,
            chunk_overlap_sentences=settings.chunk_overlap_sentences,
        )

    def rebuild_hint(self) -> str:
        return (
            f"Rebuild it with `qa build` (model {self.model}, chunk_tokens {self.chunk_tokens}, "
            f"overlap {self.chunk_overlap_sentences}) or point --index at another folder."
        )


@dataclass(frozen=True)
class IngestReport:
    added_documents: tuple[str, ...]
    replaced_documents: tuple[str, ...]
    unchanged_documents: tuple[str, ...]
    chunks_added: int
    #: Texts embedded by the ingest: new or changed chunks and their new sentences (the rest were reused).
    texts_embedded: int
    total_chunks: int
    #: Files saved under another name because an article with their id existed: (file name, new file name).
    renamed: tuple[tuple[str, str], ...] = ()
    removed_documents: tuple[str, ...] = ()


@dataclass(frozen=True)
class FusionWeights:
    """Hybrid score of a chunk::

        dense = (1 - sentence_weight) * cos(q, chunk) + sentence_weight * max(cos(q, s) for s in chunk's sentences)
        score = dense + lexical_weight * coverage**coverage_power * bm25 / max_bm25

    The best sentence's cosine lifts the passage whose one sentence answers the question above passages that
    are only about the same topic (XQuAD-hi dense Recall@1 of English questions with chunk vectors alone: 0.872;
    the hybrid with sentence vectors, 4-fold cross-validated: 0.897 English, 0.942 Hindi).
    ``coverage`` is the share of the query's words found in the BM25 vocabulary. English questions against
    Hindi articles share almost no words with them (mean coverage 0.07 on XQuAD, Hindi questions 0.93), so their
    BM25 ranks are noise; weighting by coverage keeps them from dragging dense results down while Hindi
    questions get the lexical signal. The score stays on the cosine scale, comparable across queries.
    The weights are chosen by benchmarks/retrieval_xquad.py on XQuAD-hi, and its headline figures are
    4-fold cross-validated by article (weights chosen on three quarters of the articles, scored on the rest);
    plain and weighted reciprocal-rank fusion and min-max-scaled sums did worse there.
    """

    sentence_weight: float = 0.6
    lexical_weight: float = 0.05
    coverage_power: float = 1.0
    candidates: int = 50


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


def document_sentences(doc: Document) -> list[Sentence]:
    """The sentences of `doc`, each with the start of the sentence before it as its context."""
    spans = split_sentences(doc.text)
    return [Sentence(doc.id, s, e, spans[n - 1][0] if n else s) for n, (s, e) in enumerate(spans)]


@dataclass(frozen=True)
class Signals:
    """What the fusion weighs for each candidate chunk of one query (row `j` of each array is
    ``candidates[j]``): kept apart from the weights so a benchmark can try many weightings per search."""

    candidates: np.ndarray  # chunk rows
    whole: np.ndarray  # cos(query, chunk)
    sentence: np.ndarray  # max cos(query, sentence of the chunk)
    lexical: np.ndarray  # BM25 score, 0 where BM25 did not retrieve the chunk
    coverage: float  # share of the query's words that BM25 knows

    def scores(self, weights: FusionWeights, mode: SearchMode = "hybrid") -> tuple[np.ndarray, np.ndarray]:
        """(dense, fused) scores by the formula in FusionWeights; `mode` "dense"/"lexical" rank by one."""
        w = weights.sentence_weight
        dense = ((1.0 - w) * self.whole + w * self.sentence).astype(np.float32)
        if mode == "dense":
            return dense, dense
        if mode == "lexical":
            return dense, self.lexical
        top = float(self.lexical.max()) if len(self.lexical) else 0.0
        lex_norm = self.lexical / top if top > 0 else np.zeros_like(self.lexical)
        return dense, dense + weights.lexical_weight * self.coverage**weights.coverage_power * lex_norm


def _text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()[:32]


class Retriever:
    """Chunks, their vectors, a FAISS index and a BM25 index, kept in step."""

    def __init__(
        self,
        encoder: Encoder,
        params: IndexParams,
        documents: Sequence[Document],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        dense: VectorIndex,
        lexical: LexicalIndex,
        sentences: Sequence[Sentence],
        sentence_vectors: np.ndarray,
        sentence_index: VectorIndex,
        members: Sequence[Sequence[int]],
        *,
        fusion: FusionWeights | None = None,
        manifest: dict[str, Any] | None = None,
        embedded: int = 0,
    ) -> None:
        if len(members) != len(chunks):
            raise ValueError(f"{len(members)} sentence lists for {len(chunks)} chunks")
        self.encoder = encoder
        self.params = params
        self.documents = {d.id: d for d in documents}
        self.chunks = list(chunks)
        self.vectors = vectors
        self.dense = dense
        self.lexical = lexical
        self.sentences = list(sentences)
        self.sentence_vectors = sentence_vectors
        self.sentence_index = sentence_index
        #: Row ids of each chunk's sentences (``members[i]`` for ``chunks[i]``), and the inverse.
        self.members = [tuple(int(j) for j in m) for m in members]
        self._sentence_chunks: list[list[int]] = [[] for _ in self.sentences]
        for i, rows in enumerate(self.members):
            for j in rows:
                self._sentence_chunks[j].append(i)
        self.fusion = fusion or FusionWeights()
        self.manifest = manifest or self._make_manifest()
        #: How many texts (chunks and sentences) the build that made this retriever embedded (0 when loaded).
        self.embedded = embedded

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        documents: Sequence[Document],
        encoder: Encoder,
        params: IndexParams,
        *,
        progress: bool = False,
        previous: Retriever | None = None,
        on_progress: EmbedProgress | None = None,
    ) -> Retriever:
        """Chunk and embed `documents`, each chunk whole and sentence by sentence. Vectors of texts that
        `previous` already embedded with the same model are reused, so an incremental ingest embeds only new or
        changed chunks and sentences. `progress` shows bars on the terminal; `on_progress` is called after
        each embedded batch (see EmbedProgress)."""
        if params.model != encoder.model_id:
            raise IndexMismatchError(
                f"encoder {encoder.model_id!r} does not match params model {params.model!r}"
            )
        docs = sorted(documents, key=lambda d: d.id)
        chunks: list[Chunk] = []
        for doc in _progress(docs, progress, "Chunking"):
            chunks.extend(
                chunk_document(
                    doc,
                    encoder.count_tokens,
                    max_tokens=params.chunk_tokens,
                    overlap_sentences=params.chunk_overlap_sentences,
                )
            )
        # A chunk's sentences are the article's sentences inside it (a chunk cut from one over-long sentence
        # holds none and is scored by its own vector alone).
        by_id = {d.id: d for d in docs}
        per_doc = {d.id: document_sentences(d) for d in docs}
        rows: dict[Sentence, int] = {}
        members: list[list[int]] = []
        for chunk in chunks:
            members.append(
                [
                    rows.setdefault(sent, len(rows))
                    for sent in per_doc[chunk.doc_id]
                    if chunk.start <= sent.start and sent.end <= chunk.end
                ]
            )
        sentences = list(rows)
        texts = [c.text for c in chunks] + [by_id[s.doc_id].text[s.context_start : s.end] for s in sentences]
        # Vectors already computed for the same text with the same model are reused (an incremental ingest
        # embeds only new or changed passages); the chunk and the sentence of a one-sentence article are embedded once.
        known: dict[str, np.ndarray] = {}
        if previous is not None and previous.params.model == params.model:
            for text, v in zip(
                previous._texts(), np.concatenate([previous.vectors, previous.sentence_vectors])
            ):
                known[_text_key(params.model, text)] = v
        keys = [_text_key(params.model, t) for t in texts]
        row_docs = [c.doc_id for c in chunks] + [s.doc_id for s in sentences]
        todo: list[int] = []  # rows to embed: the first of each text not known yet
        pending: set[str] = set()
        for i, key in enumerate(keys):
            if key not in known and key not in pending:
                pending.add(key)
                todo.append(i)
        todo.sort(key=lambda i: row_docs[i])  # article by article (stable: chunks before their sentences)
        batches = [todo[i : i + EMBED_BATCH] for i in range(0, len(todo), EMBED_BATCH)]
        done = 0
        for batch in _progress(batches, progress, "Embedding", unit="batch"):
            for i, v in zip(batch, encoder.encode_passages([texts[i] for i in batch])):
                known[keys[i]] = v
            done += len(batch)
            if on_progress is not None:
                on_progress(done, len(todo), row_docs[batch[-1]])
        matrix = np.zeros((len(texts), encoder.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            matrix[i] = known[key]
        vectors, sentence_vectors = matrix[: len(chunks)], matrix[len(chunks) :]
        return cls(
            encoder,
            params,
            docs,
            chunks,
            vectors,
            VectorIndex.build(vectors),
            LexicalIndex.build([c.text for c in chunks]),
            sentences,
            sentence_vectors,
            VectorIndex.build(sentence_vectors),
            members,
            embedded=len(todo),
        )

    def _texts(self) -> list[str]:
        """Texts of the chunk rows, then of the sentence rows (the order of vectors, sentence_vectors)."""
        return [c.text for c in self.chunks] + [
            self.documents[s.doc_id].text[s.context_start : s.end] for s in self.sentences
        ]

    def with_documents(
        self,
        documents: Sequence[Document],
        *,
        remove: Sequence[str] = (),
        progress: bool = False,
        on_progress: EmbedProgress | None = None,
    ) -> tuple[Retriever, IngestReport]:
        """A new retriever with `documents` added (or replacing those with the same id) and the articles whose
        ids are in `remove` left out. Raises KeyError for an id in `remove` that is not indexed."""
        missing = [doc_id for doc_id in remove if doc_id not in self.documents]
        if missing:
            raise KeyError(missing[0])
        added, replaced, unchanged = [], [], []
        merged = {doc_id: d for doc_id, d in self.documents.items() if doc_id not in set(remove)}
        for doc in documents:
            old = merged.get(doc.id)
            if old is None:
                added.append(doc.id)
            elif old.text == doc.text and old.title == doc.title and old.date == doc.date:
                unchanged.append(doc.id)
            else:
                replaced.append(doc.id)
            merged[doc.id] = doc
        new = Retriever.build(
            list(merged.values()),
            self.encoder,
            self.params,
            progress=progress,
            previous=self,
            on_progress=on_progress,
        )
        changed = set(added) | set(replaced)
        report = IngestReport(
            tuple(added),
            tuple(replaced),
            tuple(unchanged),
            chunks_added=sum(1 for c in new.chunks if c.doc_id in changed),
            texts_embedded=new.embedded,
            total_chunks=len(new.chunks),
            removed_documents=tuple(remove),
        )
        return new, report

    def _make_manifest(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            **asdict(self.params),
            "dim": int(self.encoder.dim),
            "index_kind": self.dense.kind,
            "corpus_fingerprint": corpus_fingerprint(list(self.documents.values())),
            "counts": {
                "documents": len(self.documents),
                "chunks": len(self.chunks),
                "sentences": len(self.sentences),
            },
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    # ------------------------------------------------------------------ search
    def search(self, query: str, k: int = 5, *, mode: SearchMode = "hybrid") -> list[Hit]:
        """Top-k chunks for `query` by fused dense + BM25 score (see FusionWeights); `mode` "dense" or
        "lexical" ranks by one signal alone (for comparison in benchmarks)."""
        if k <= 0:
            return []
        signals = self.signals(query, k, mode=mode)
        dense, fused = signals.scores(self.fusion, mode)
        order = np.argsort(-fused, kind="stable")[:k]
        hits = []
        for j in order:
            chunk = self.chunks[int(signals.candidates[j])]
            doc = self.documents[chunk.doc_id]
            hits.append(
                Hit(
                    chunk=chunk,
                    title=doc.title,
                    date=doc.date,
                    score=float(fused[j]),
                    dense_score=float(dense[j]),
                    lexical_score=float(signals.lexical[j]),
                    link=doc.link,
                )
            )
        return hits

    def signals(self, query: str, k: int = 5, *, mode: SearchMode = "hybrid") -> Signals:
        """The candidate chunks for `query` and the evidence the fusion weighs, before any weighting.

        Candidates are the best `FusionWeights.candidates` (at least `k`) of each index: chunk vectors, sentence
        vectors (a chunk whose one sentence matches is a candidate even when the whole chunk is not) and BM25.
        """
        n_cand = max(k, self.fusion.candidates)
        q = self.encoder.encode_queries([query])[0] if mode != "lexical" and self.chunks else None
        found: set[int] = set()
        if q is not None:
            found.update(int(i) for i in self.dense.search(q[None, :], n_cand)[1][0] if i >= 0)
            for row in self.sentence_index.search(q[None, :], n_cand)[1][0]:
                if row >= 0:
                    found.update(self._sentence_chunks[int(row)])
        lexical = self.lexical.search(query, n_cand) if mode != "dense" and self.chunks else []
        candidates = np.array(sorted(found | {i for i, _ in lexical}), dtype=np.int64)
        zeros = np.zeros(len(candidates), dtype=np.float32)
        whole, best = zeros, zeros
        if q is not None and len(candidates):
            whole = np.asarray(self.vectors[candidates]) @ q
            best = whole.copy()  # a chunk with no sentence row (none in practice) keeps its own cosine
            for j, i in enumerate(candidates):
                rows = self.members[int(i)]
                if rows:
                    best[j] = float(np.max(np.asarray(self.sentence_vectors[list(rows)]) @ q))
        bm25 = dict(lexical)
        lex = np.array([bm25.get(int(i), 0.0) for i in candidates], dtype=np.float32)
        coverage = self.lexical.query_coverage(query) if mode == "hybrid" else 0.0
        return Signals(candidates, whole, best, lex, coverage)

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
            for c, rows in zip(self.chunks, self.members):
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
            for sent in self.sentences:
                f.write(json.dumps(asdict(sent), ensure_ascii=False) + "\n")
        np.save(version / "vectors.npy", self.vectors)
        np.save(version / "sentence_vectors.npy", self.sentence_vectors)
        self.dense.save(version / "dense.faiss")
        self.sentence_index.save(version / "sentences.faiss")
        self.lexical.save(version / "bm25")
        manifest = dict(self.manifest)
        manifest["files"] = {name: sha256_file(version / name) for name in CHECKSUMMED}
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
    def load(
        cls, index_dir: Path, encoder: Encoder, params: IndexParams, *, fusion: FusionWeights | None = None
    ) -> Retriever:
        """Open the live version in `index_dir`. Raises IndexMissingError, IndexCorruptError or
        IndexMismatchError (the message says how to rebuild)."""
        version = current_version(index_dir)
        manifest = read_manifest(version)
        check_manifest(manifest, params, encoder.dim, version)
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
                        f"{version / name} does not match its checksum in the manifest. "
                        + params.rebuild_hint()
                    )
            documents = [
                Document(**json.loads(line))
                for line in (version / "documents.jsonl").read_text(encoding="utf-8").splitlines()
            ]
            by_id = {d.id: d for d in documents}
            sentences = [
                Sentence(**json.loads(line))
                for line in (version / "sentences.jsonl").read_text(encoding="utf-8").splitlines()
            ]
            chunks, members = [], []
            for line in (version / "chunks.jsonl").read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                text = by_id[row["doc_id"]].text[row["start"] : row["end"]]
                chunks.append(
                    Chunk(id=row["id"], doc_id=row["doc_id"], text=text, start=row["start"], end=row["end"])
                )
                members.append([int(j) for j in row["sentences"]])
            # Read into memory, not memory-mapped: a vector file truncated or rewritten under a running
            # server would otherwise end the process with SIGBUS when its rows are next read (an ingest
            # reuses them).
            vectors = np.load(version / "vectors.npy")
            sentence_vectors = np.load(version / "sentence_vectors.npy")
            dense = VectorIndex.load(version / "dense.faiss", dim=encoder.dim, rows=len(chunks))
            sentence_index = VectorIndex.load(
                version / "sentences.faiss", dim=encoder.dim, rows=len(sentences)
            )
        except (OSError, ValueError, KeyError, TypeError, VectorIndexError) as exc:
            raise IndexCorruptError(
                f"The index in {version} is unreadable ({exc}). " + params.rebuild_hint()
            ) from exc
        for name, array, rows in (
            ("vectors.npy", vectors, len(chunks)),
            ("sentence_vectors.npy", sentence_vectors, len(sentences)),
        ):
            if array.shape != (rows, encoder.dim):
                raise IndexCorruptError(
                    f"{version}/{name} has shape {array.shape}; expected "
                    f"{(rows, encoder.dim)}. " + params.rebuild_hint()
                )
        if any(not 0 <= j < len(sentences) for rows in members for j in rows):
            raise IndexCorruptError(
                f"{version}/chunks.jsonl names sentence rows that do not exist. " + params.rebuild_hint()
            )
        lexical = LexicalIndex.load(version / "bm25")
        if len(lexical) != len(chunks):
            raise IndexCorruptError(
                f"{version}/bm25 holds {len(lexical)} passages, expected {len(chunks)}. "
                + params.rebuild_hint()
            )
        return cls(
            encoder,
            params,
            documents,
            chunks,
            vectors,
            dense,
            lexical,
            sentences,
            sentence_vectors,
            sentence_index,
            members,
            fusion=fusion,
            manifest=manifest,
        )


# ---------------------------------------------------------------------- helpers
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


def _progress(items: Sequence[Any], enabled: bool, desc: str, unit: str = "doc") -> Any:
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit=unit)
