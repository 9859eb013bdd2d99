"""The index benchmarks in their quick modes, on real vectors from ../shared/qa-train: benchmarks/index_scaling.py
(every index type measured), benchmarks/index_memory.py (the vector side of a saved index, loaded both ways) and
benchmarks/serving_memory.py (a whole index built, loaded and searched as the app does)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TRAIN_DIR = REPO.parent / "shared" / "qa-train"
sys.path.insert(0, str(REPO / "benchmarks"))

import index_memory  # noqa: E402
import index_scaling  # noqa: E402
import serving_memory  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _training_data(model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not TRAIN_DIR.is_dir():
        pytest.skip(f"{TRAIN_DIR} is not there: the benchmarks embed its passages and questions")
    monkeypatch.setenv("SAMACHAR_CACHE_DIR", str(model_cache))  # share the session's ONNX export


def test_quick_run_writes_every_index_type(tmp_path: Path) -> None:
    out = tmp_path / "index_scaling.json"
    argv = ["--quick", "--real-rows", "120", "--queries", "20", "--sizes", "2000", "--out", str(out)]
    assert index_scaling.main(argv) == 0

    report = json.loads(out.read_text(encoding="utf-8"))
    meta = report["meta"]
    assert meta["real_rows"] == 120 and meta["queries"] == 20 and meta["k"] == 10
    assert 0 < meta["noise_norm"] < meta["nn_distance_median"]
    results = report["results"]
    kinds = {r["index"].split(",")[0].rstrip("0123456789") for r in results}
    assert kinds == {"Flat", "IVF", "HNSW"}
    assert any(r["index"].endswith(",SQ8") for r in results)
    assert any("PQ" in r["index"] and "RSQ8" in r["index"] for r in results)
    for r in results:
        assert r["rows"] == 2000 and r["bytes"] > 0 and r["build_s"] >= 0
        assert not r["extrapolated"]  # 2,000 rows are far inside the HNSW budget
        assert 0.0 <= r["recall_at_10"] <= 1.0
        assert 0 <= r["p50_ms"] <= r["p95_ms"]
    (flat,) = [r for r in results if r["index"] == "Flat"]
    assert flat["recall_at_10"] == 1.0 and flat["bytes_per_row"] >= 384 * 4


def test_quick_run_measures_both_ways_of_loading(tmp_path: Path) -> None:
    out = tmp_path / "index_memory.json"
    assert index_memory.main(["--quick", "--work", str(tmp_path), "--out", str(out)]) == 0

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["passages"] == 3000 and report["sentences"] == 6000 and report["rows"] == 9000
    assert report["index_kinds"] == ["flat", "flat"]
    by_mode = {r["mode"]: r for r in report["results"]}
    assert set(by_mode) == {"in-memory", "mapped"}
    for r in by_mode.values():
        assert r["queries"] == 20 and 0 <= r["query_p50_ms"] <= r["query_p95_ms"]
        assert r["after_load_mb"] >= r["base_mb"] > 0
    # The float32 files are 1,536 bytes a row; read into memory they are held a second time beside the
    # flat indexes' own copy, mapped they are not.
    assert report["bytes_per_row"]["in-memory"] > report["bytes_per_row"]["mapped"] + 768
    assert list(tmp_path.iterdir()) == [out]  # the saved index was removed


def test_quick_run_builds_loads_and_searches_a_whole_index(tmp_path: Path) -> None:
    if not serving_memory.XQUAD_HI.is_file():
        pytest.skip(f"{serving_memory.XQUAD_HI} is not there: the articles are made of its paragraphs")
    out = tmp_path / "serving_memory.json"
    work = tmp_path / "work"
    work.mkdir()
    kept = tmp_path / "kept"
    argv = ["--quick", "--index-kind", "ivf-sq8", "--work", str(work), "--keep", str(kept), "--out", str(out)]
    assert serving_memory.main(argv) == 0

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["passages"] >= 3000 and report["sentences"] > report["passages"]
    assert report["characters"] > 1000 * report["articles"]
    files = report["files_mb"]
    assert {"documents.jsonl", "chunks.jsonl", "sentences.jsonl", "dense.faiss", "bm25/"} <= set(files)
    assert report["after_load_mb"] >= report["base_mb"] > 0 and report["index_mb"] > 0
    assert report["queries"] == 300 and 0 <= report["search_p50_ms"] <= report["search_p95_ms"]
    assert report["index_kinds"] == ["ivf-sq8", "ivf-sq8"]
    exact = report["exact_rescoring"]  # 8-bit rows against the float32 files: the same hits nearly always
    assert (
        exact["questions"] == 300 and 0.8 <= exact["top5_overlap"] <= 1.0 and 0.8 <= exact["top1_same"] <= 1.0
    )
    assert list(work.iterdir()) == []  # nothing left in the work folder; the index kept where asked

    ingest = tmp_path / "ingest.json"
    argv = ["--reuse", str(kept), "--ingest-only", "--articles", "40", "--out", str(ingest)]
    assert serving_memory.main(argv) == 0
    rebuilt = json.loads(ingest.read_text(encoding="utf-8"))
    assert rebuilt["rows_after"] == rebuilt["rows_before"] + rebuilt["rows_before"] // 100
    for way in ("trained afresh", "centroids reused"):
        assert rebuilt[way]["kind"] == "ivf-sq8" and 0.5 <= rebuilt[way]["recall_at_10"] <= 1.0
    chunked = rebuilt["chunking"]
    assert chunked["articles"] == 40 and chunked["passages"] > 40 and chunked["passages_chunked_again"] > 40
    assert chunked["chunked_again_s"] >= 0 and chunked["rows_reused_s"] >= 0
