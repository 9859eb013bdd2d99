"""Hybrid retrieval (dense e5 vectors + BM25) over one index: the search side.

A `Retriever` holds an index (`qa.index_store.IndexData`: chunks, their vectors, FAISS and BM25, kept in step)
and the encoder that embeds queries, and ranks chunks for a query by the fused score of `FusionWeights`.
Building an index is `qa.index_build`, its folder on disk `qa.index_store`; `Retriever.build`, `.load`,
`.save` and `.with_documents` are the short ways to both.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from embeddings.encoder import Encoder
from embeddings.index import VectorIndex
from qa.corpus import corpus_fingerprint
from qa.index_build import Embedder, EmbedProgress, IngestReport, build_index, merge_documents
from qa.index_store import (
    CHECKSUMMED,
    CURRENT,
    FORMAT_VERSION,
    IndexData,
    IndexParams,
    Sentence,
    current_version,
    load_index,
    save_index,
    writer_lock,
)
from qa.lexical import LexicalIndex
from qa.records import RowLists
from qa.types import Chunk, Document, Hit

# The names other modules import from here (the index's store and build live in their own modules).
__all__ = [
    "CHECKSUMMED",
    "CURRENT",
    "EmbedProgress",
    "FusionWeights",
    "IndexParams",
    "IngestReport",
    "Retriever",
    "SearchMode",
    "Signals",
    "current_version",
    "writer_lock",
]

SearchMode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class FusionWeights:
    """Hybrid score of a chunk::

        dense = (1 - sentence_weight) * cos(q, chunk) + sentence_weight * max(cos(q, s) for s in chunk's sentences)
        score = dense + lexical_weight * coverage**coverage_power * bm25 / max_bm25

    The best sentence's cosine lifts the passage whose one sentence answers the question above passages that
    are only about the same topic (above all for English questions; the README's retrieval table compares them).
    ``coverage`` is the share of the query's words found in the BM25 vocabulary. English questions against
    Hindi articles share almost no words with them, so their BM25 ranks are noise; weighting by coverage keeps
    them from dragging dense results down while Hindi questions get the lexical signal. The score stays on the
    cosine scale, comparable across queries.
    The weights are chosen by benchmarks/retrieval_xquad.py on XQuAD-hi, and its headline figures are
    4-fold cross-validated by article (weights chosen on three quarters of the articles, scored on the rest);
    plain and weighted reciprocal-rank fusion and min-max-scaled sums did worse there.
    """

    sentence_weight: float = 0.6
    lexical_weight: float = 0.05
    coverage_power: float = 1.0
    candidates: int = 50


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


class Retriever:
    """An index and the encoder of its queries; ranks chunks for a query."""

    def __init__(
        self,
        encoder: Encoder,
        params: IndexParams,
        data: IndexData,
        *,
        fusion: FusionWeights | None = None,
        manifest: dict[str, Any] | None = None,
        embedded: int = 0,
    ) -> None:
        self.encoder = encoder
        self.params = params
        self.data = data
        self.documents = data.documents
        # Arrays, not lists of lists: a million passages have two million sentence rows.
        self._members = RowLists.of(data.members)
        # The chunks of each sentence row: the inverse of `members`, for the sentence index's hits.
        self._sentence_chunks = self._members.inverse(len(data.sentences))
        self.fusion = fusion or FusionWeights()
        self.manifest = manifest or self._make_manifest()
        #: How many texts (chunks and sentences) the build that made this retriever embedded (0 when loaded).
        self.embedded = embedded

    # The index's parts, read through from `data` (one copy of the state).
    @property
    def chunks(self) -> Sequence[Chunk]:
        return self.data.chunks

    @property
    def members(self) -> Sequence[Sequence[int]]:
        """Row ids of each chunk's sentences (``members[i]`` for ``chunks[i]``)."""
        return self.data.members

    @property
    def sentences(self) -> Sequence[Sentence]:
        return self.data.sentences

    @property
    def vectors(self) -> np.ndarray:
        return self.data.vectors

    @property
    def sentence_vectors(self) -> np.ndarray:
        return self.data.sentence_vectors

    @property
    def dense(self) -> VectorIndex:
        return self.data.dense

    @property
    def sentence_index(self) -> VectorIndex:
        return self.data.sentence_index

    @property
    def lexical(self) -> LexicalIndex:
        return self.data.lexical

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
        embed: Embedder | None = None,
    ) -> Retriever:
        """Chunk and embed `documents` (`qa.index_build.build_index`); vectors `previous` already holds are
        reused."""
        data, embedded = build_index(
            documents,
            encoder,
            params,
            progress=progress,
            previous=None if previous is None else (previous.data, previous.params),
            on_progress=on_progress,
            embed=embed,
        )
        return cls(encoder, params, data, embedded=embedded)

    def with_documents(
        self,
        documents: Sequence[Document],
        *,
        remove: Sequence[str] = (),
        progress: bool = False,
        on_progress: EmbedProgress | None = None,
        embed: Embedder | None = None,
    ) -> tuple[Retriever, IngestReport]:
        """A new retriever with `documents` added (or replacing those with the same id) and the articles whose
        ids are in `remove` left out. Raises KeyError for an id in `remove` that is not indexed."""
        merged, added, replaced, unchanged = merge_documents(list(self.documents.values()), documents, remove)
        new = Retriever.build(
            merged,
            self.encoder,
            self.params,
            progress=progress,
            previous=self,
            on_progress=on_progress,
            embed=embed,
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
                    found.update(self._sentence_chunks.rows(int(row)).tolist())
        lexical = self.lexical.search(query, n_cand) if mode != "dense" and self.chunks else []
        candidates = np.array(sorted(found | {i for i, _ in lexical}), dtype=np.int64)
        zeros = np.zeros(len(candidates), dtype=np.float32)
        whole, best = zeros, zeros
        if q is not None and len(candidates):
            # Re-scored from the FAISS indexes' rows, not the (memory-mapped) vector files: see load_index.
            whole = self.dense.rows(candidates) @ q
            best = whole.copy()  # a chunk with no sentence row (none in practice) keeps its own cosine
            members = [self._members.rows(int(i)) for i in candidates]
            scores = self.sentence_index.rows(np.concatenate(members)) @ q
            lengths = np.array([len(rows) for rows in members])
            held = lengths > 0
            if held.any():  # each candidate's best sentence: a max over its run of `scores`
                best[held] = np.maximum.reduceat(scores, (np.cumsum(lengths) - lengths)[held])
        bm25 = dict(lexical)
        lex = np.array([bm25.get(int(i), 0.0) for i in candidates], dtype=np.float32)
        coverage = self.lexical.query_coverage(query) if mode == "hybrid" else 0.0
        return Signals(candidates, whole, best, lex, coverage)

    # ------------------------------------------------------------------ persistence
    def save(self, index_dir: Path) -> Path:
        """Write a new version folder and make it live atomically (`qa.index_store.save_index`). Returns the
        version folder."""
        version, self.manifest = save_index(Path(index_dir), self.data, self.manifest)
        return version

    @classmethod
    def load(
        cls, index_dir: Path, encoder: Encoder, params: IndexParams, *, fusion: FusionWeights | None = None
    ) -> Retriever:
        """Open the live version in `index_dir`. Raises IndexMissingError, IndexCorruptError or
        IndexMismatchError (the message says how to rebuild)."""
        data, manifest = load_index(Path(index_dir), params, encoder.dim)
        return cls(encoder, params, data, fusion=fusion, manifest=manifest)
