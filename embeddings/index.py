"""A FAISS vector index over L2-normalised float32 rows: inner product is cosine, the row position is the id.

It knows vectors and ids only: no text, no model (so it can be tested with random arrays).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

from embeddings.errors import VectorIndexError

IndexKind = Literal["flat", "hnsw"]

# Exact (flat) search grows linearly with the rows and stays within a few tens of ms on one core up to about
# 100k passages (benchmarks/index_scaling.py; figures in the README), so flat is the default up to there. Above
# that an HNSW graph answers faster, but its recall on random vectors (the worst case) is low, so it is used
# only where flat search would cost tens of ms a query.
FLAT_MAX_ROWS = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


def choose_kind(n_rows: int) -> IndexKind:
    return "flat" if n_rows <= FLAT_MAX_ROWS else "hnsw"


class VectorIndex:
    def __init__(
        self, index: Any, kind: IndexKind, dim: int
    ) -> None:  # a faiss.Index (its stubs are partial)
        self._index = index
        self.kind = kind
        self.dim = dim

    @classmethod
    def build(cls, vectors: np.ndarray, kind: IndexKind | None = None) -> VectorIndex:
        import faiss

        vectors = _as_rows(vectors)
        dim = vectors.shape[1]
        kind = kind or choose_kind(len(vectors))
        index: Any
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            raise ValueError(f"unknown index kind {kind!r}; choose 'flat' or 'hnsw'")
        if len(vectors):
            index.add(vectors)
        return cls(index, kind, dim)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids), each of shape (n_queries, k'); k' = min(k, len(self)). Ids are row positions."""
        queries = _as_rows(queries)
        if queries.shape[1] != self.dim:
            raise VectorIndexError(
                f"query dimension {queries.shape[1]} does not match the index ({self.dim})"
            )
        k = min(k, len(self))
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        scores, ids = self._index.search(queries, k)
        return scores, ids

    def save(self, path: Path) -> None:
        """Write atomically: a temp file beside the target, then rename."""
        import faiss

        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            faiss.write_index(self._index, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path, *, dim: int, rows: int) -> VectorIndex:
        import faiss

        path = Path(path)
        if not path.is_file():
            raise VectorIndexError(f"vector index file {path} is missing")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:  # faiss reports unreadable files as RuntimeError
            raise VectorIndexError(f"vector index file {path} is unreadable: {exc}") from exc
        if index.d != dim or index.ntotal != rows:
            raise VectorIndexError(
                f"vector index {path} holds {index.ntotal} rows of dimension {index.d}; expected {rows} x {dim}"
            )
        kind: IndexKind = "hnsw" if "HNSW" in type(index).__name__ else "flat"
        if kind == "hnsw":
            hnsw: Any = faiss.downcast_index(index)
            hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index, kind, dim)


def _as_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise VectorIndexError(f"expected a 2-D array of vectors, got shape {vectors.shape}")
    return vectors
