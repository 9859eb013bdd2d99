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

IndexKind = Literal["flat", "ivf-sq8", "hnsw"]

# Chosen on real e5 vectors (benchmarks/index_scaling.py; table in docs/scale.md), one core: exact (flat) search
# costs 14 ms a query at 100k rows and 150 ms at 1M, so flat is the default up to 100k. Above, IVF with 8-bit
# scalar-quantised rows: at 1M rows recall@10 0.964 at 2.5 ms a query in 398 bytes a row (nprobe 64). HNSW
# (available by name) kept 0.996 at 100k but fell to 0.69 at 1M and takes 1,808 bytes a row.
FLAT_MAX_ROWS = 100_000
IVF_NPROBE = 64
IVF_TRAIN_ROWS_PER_LIST = 64
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


def choose_kind(n_rows: int) -> IndexKind:
    return "flat" if n_rows <= FLAT_MAX_ROWS else "ivf-sq8"


def _reusable_centroids(
    previous: VectorIndex | None, kind: IndexKind, dim: int, n_rows: int
) -> np.ndarray | None:
    """`previous`'s IVF centroids [nlist, dim] when they can serve `n_rows` rows (see `VectorIndex.build`)."""
    import faiss

    if previous is None or kind != "ivf-sq8" or previous.kind != "ivf-sq8" or previous.dim != dim:
        return None
    quantizer: Any = faiss.downcast_index(previous._index.quantizer)
    if not ivf_lists(n_rows) / 2 <= quantizer.ntotal <= 2 * ivf_lists(n_rows):
        return None
    return faiss.rev_swig_ptr(quantizer.get_xb(), quantizer.ntotal * dim).reshape(-1, dim).copy()


def ivf_lists(n_rows: int) -> int:
    """4·√N lists (as measured), but at least 39 training rows a list, which k-means wants."""
    return max(1, min(int(4 * np.sqrt(n_rows)), n_rows // 39))


class VectorIndex:
    def __init__(
        self, index: Any, kind: IndexKind, dim: int
    ) -> None:  # a faiss.Index (its stubs are partial)
        self._index = index
        self.kind = kind
        self.dim = dim

    @classmethod
    def build(
        cls, vectors: np.ndarray, kind: IndexKind | None = None, *, trained_from: VectorIndex | None = None
    ) -> VectorIndex:
        """An index of `vectors` (row i is vectors[i]) of `kind` (default: by size, `choose_kind`).

        `trained_from`: an earlier IVF index of the same vectors' model (the index an ingest replaces). Its
        coarse centroids are reused when their count is within a factor of two of what this size wants: the
        k-means is most of an IVF build (about 9 minutes a million rows on one core), and articles added to
        an archive of a million passages hardly move its centroids. So an ingested index depends on the
        rows the centroids were first trained on, not only on its own rows; a full build (`qa build`)
        trains afresh. Otherwise, and for the other kinds, the index is trained afresh.
        """
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
        elif kind == "ivf-sq8":
            centroids = _reusable_centroids(trained_from, kind, dim, len(vectors))
            nlist = ivf_lists(len(vectors)) if centroids is None else len(centroids)
            # index_factory's result is already the IVF class and owns its coarse quantizer.
            index = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
            if centroids is not None:  # a full, trained quantizer: train() below skips the k-means
                faiss.downcast_index(index.quantizer).add(centroids)
            # k-means on a fixed sample (the same rows give the same index), 64 rows a list as measured; the
            # 8-bit ranges are always fitted to these rows (reused ones would clip new rows outside them).
            sample = np.random.default_rng(0).permutation(len(vectors))[: nlist * IVF_TRAIN_ROWS_PER_LIST]
            index.train(vectors[np.sort(sample)] if len(vectors) else vectors)
            index.nprobe = min(IVF_NPROBE, nlist)
        else:
            raise ValueError(f"unknown index kind {kind!r}; choose 'flat', 'ivf-sq8' or 'hnsw'")
        if len(vectors):
            index.add(vectors)
        if kind == "ivf-sq8":
            index.make_direct_map()  # `rows` looks rows up by id (8 bytes a row)
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

    @property
    def exact(self) -> bool:
        """Whether `rows` gives the vectors exactly as added (flat and HNSW keep them whole)."""
        return self.kind != "ivf-sq8"

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of rows `ids` [len(ids), dim]: exact for flat and HNSW, decoded from 8 bits for
        IVF-SQ8 (on e5 vectors, cosines to queries within 1e-3 of the exact ones, 1.6e-4 on average). Lets a
        caller re-score candidates without a second copy of every vector in memory."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        if ids.min() < 0 or ids.max() >= len(self):
            raise VectorIndexError(f"row ids outside 0..{len(self) - 1}")
        return np.asarray(self._index.reconstruct_batch(ids), dtype=np.float32)

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
        name = type(index).__name__  # read_index returns the concrete class
        kind: IndexKind = "hnsw" if "HNSW" in name else "ivf-sq8" if "IVF" in name else "flat"
        if kind == "hnsw":
            hnsw: Any = faiss.downcast_index(index)
            hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        elif kind == "ivf-sq8":
            ivf: Any = index  # faiss's stubs type read_index as the base Index
            ivf.nprobe = min(IVF_NPROBE, int(ivf.nlist))
            no_map: Any = faiss.DirectMap.NoMap  # type: ignore[attr-defined]  # (faiss's stubs are partial)
            if ivf.direct_map.type == no_map:  # written before `rows` existed
                ivf.make_direct_map()
        return cls(index, kind, dim)


def _as_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise VectorIndexError(f"expected a 2-D array of vectors, got shape {vectors.shape}")
    return vectors
