"""The FAISS vector index on random arrays: no text, no model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embeddings.errors import VectorIndexError
from embeddings.index import VectorIndex, choose_kind


def _unit_rows(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_finds_each_row_itself_first(kind: str) -> None:
    v = _unit_rows(500)
    index = VectorIndex.build(v, kind)  # type: ignore[arg-type]
    scores, ids = index.search(v[:20], 3)
    assert ids[:, 0].tolist() == list(range(20))
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert (scores[:, 0] >= scores[:, 1]).all()


def test_inner_product_is_cosine_on_normalised_rows() -> None:
    v = _unit_rows(50)
    q = _unit_rows(1, seed=1)
    scores, ids = VectorIndex.build(v).search(q, 50)
    expected = v @ q[0]
    np.testing.assert_allclose(scores[0], np.sort(expected)[::-1], rtol=1e-5, atol=1e-6)
    assert ids[0, 0] == int(np.argmax(expected))


def test_k_larger_than_index_and_empty_index() -> None:
    v = _unit_rows(3)
    scores, ids = VectorIndex.build(v).search(v[:1], 10)
    assert ids.shape == (1, 3)
    empty = VectorIndex.build(np.zeros((0, 32), dtype=np.float32))
    assert len(empty) == 0
    assert empty.search(v[:1], 5)[1].shape == (1, 0)


def test_flat_below_threshold_ivf_sq8_above() -> None:
    assert choose_kind(1_000) == "flat"
    assert choose_kind(10_000_000) == "ivf-sq8"


def test_ivf_sq8_finds_each_row_and_survives_save_and_load(tmp_path: Path) -> None:
    v = _unit_rows(2_000)
    index = VectorIndex.build(v, "ivf-sq8")
    scores, ids = index.search(v[:50], 3)
    assert ids[:, 0].tolist() == list(range(50))  # each row's own list is among the 64 probed
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=0.02)  # 8-bit rows: close to, not exactly, 1
    index.save(tmp_path / "dense.faiss")
    loaded = VectorIndex.load(tmp_path / "dense.faiss", dim=32, rows=2_000)
    assert loaded.kind == "ivf-sq8"
    assert loaded.search(v[:50], 1)[1][:, 0].tolist() == list(range(50))
    again = VectorIndex.build(v, "ivf-sq8")  # the same rows give the same index
    np.testing.assert_array_equal(again.search(v[:50], 3)[1], ids)


def _centroids(index: VectorIndex) -> np.ndarray:
    import faiss

    quantizer = faiss.downcast_index(index._index.quantizer)
    return faiss.rev_swig_ptr(quantizer.get_xb(), quantizer.ntotal * quantizer.d).copy()


def test_an_ivf_index_reuses_the_training_of_the_one_it_replaces() -> None:
    old = VectorIndex.build(_unit_rows(2_000), "ivf-sq8")
    grown = np.concatenate([_unit_rows(2_000), _unit_rows(300, seed=5)])  # an ingest: more rows, same model
    new = VectorIndex.build(grown, trained_from=old, kind="ivf-sq8")
    np.testing.assert_array_equal(_centroids(new), _centroids(old))  # no k-means: the old centroids
    assert len(new) == 2_300 and len(old) == 2_000  # the old index is untouched
    assert new.search(grown[-50:], 1)[1][:, 0].tolist() == list(range(2_250, 2_300))
    np.testing.assert_allclose(new.rows(np.arange(2_250, 2_300)), grown[2_250:], atol=0.02)
    # Trained afresh: another kind asked for, or a size whose list count is over twice the old one's.
    fresh = VectorIndex.build(grown, trained_from=VectorIndex.build(grown[:200], "ivf-sq8"), kind="ivf-sq8")
    assert len(_centroids(fresh)) != 5 * 32
    assert VectorIndex.build(grown, "flat", trained_from=old).kind == "flat"


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf-sq8"])
def test_rows_are_the_stored_vectors_after_save_and_load(tmp_path: Path, kind: str) -> None:
    v = _unit_rows(2_000)
    index = VectorIndex.build(v, kind)  # type: ignore[arg-type]
    index.save(tmp_path / "dense.faiss")
    ids = np.array([7, 0, 1_999, 7])
    for each in (index, VectorIndex.load(tmp_path / "dense.faiss", dim=32, rows=2_000)):
        if kind == "ivf-sq8":  # decoded from 8 bits a component: close to, not exactly, the rows
            np.testing.assert_allclose((each.rows(ids) * v[ids]).sum(axis=1), 1.0, atol=5e-3)
        else:
            np.testing.assert_array_equal(each.rows(ids), v[ids])
        assert each.rows(np.array([], dtype=np.int64)).shape == (0, 32)
        with pytest.raises(VectorIndexError, match="outside"):
            each.rows(np.array([2_000]))


def test_an_ivf_index_written_without_its_row_map_still_gives_rows(tmp_path: Path) -> None:
    import faiss

    v = _unit_rows(2_000)
    index = VectorIndex.build(v, "ivf-sq8")
    index._index.set_direct_map_type(faiss.DirectMap.NoMap)  # as indexes were written before `rows`
    index.save(tmp_path / "old.faiss")
    loaded = VectorIndex.load(tmp_path / "old.faiss", dim=32, rows=2_000)
    np.testing.assert_array_equal(
        loaded.rows(np.arange(5)), VectorIndex.build(v, "ivf-sq8").rows(np.arange(5))
    )


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_load_roundtrip(tmp_path: Path, kind: str) -> None:
    v = _unit_rows(200)
    index = VectorIndex.build(v, kind)  # type: ignore[arg-type]
    index.save(tmp_path / "dense.faiss")
    loaded = VectorIndex.load(tmp_path / "dense.faiss", dim=32, rows=200)
    assert loaded.kind == kind
    assert loaded.search(v[:5], 1)[1][:, 0].tolist() == [0, 1, 2, 3, 4]
    assert [p.name for p in tmp_path.iterdir()] == ["dense.faiss"]  # no temp file left behind


def test_load_rejects_missing_corrupt_and_mismatched(tmp_path: Path) -> None:
    with pytest.raises(VectorIndexError, match="missing"):
        VectorIndex.load(tmp_path / "nope.faiss", dim=32, rows=1)
    (tmp_path / "bad.faiss").write_bytes(b"not a faiss index at all")
    with pytest.raises(VectorIndexError, match="unreadable"):
        VectorIndex.load(tmp_path / "bad.faiss", dim=32, rows=1)
    VectorIndex.build(_unit_rows(10)).save(tmp_path / "ok.faiss")
    with pytest.raises(VectorIndexError, match="expected 11 x 32"):
        VectorIndex.load(tmp_path / "ok.faiss", dim=32, rows=11)


def test_query_dimension_checked() -> None:
    with pytest.raises(VectorIndexError, match="dimension"):
        VectorIndex.build(_unit_rows(10)).search(_unit_rows(1, dim=16), 1)
