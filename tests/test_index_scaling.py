"""benchmarks/index_scaling.py in its quick mode: real vectors from ../shared/qa-train, every index type measured."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "onnxruntime", reason="the benchmark embeds with the ONNX encoder: pip install 'samachar-qa[onnx]'"
)

REPO = Path(__file__).resolve().parent.parent
TRAIN_DIR = REPO.parent / "shared" / "qa-train"
sys.path.insert(0, str(REPO / "benchmarks"))

import index_scaling  # noqa: E402

pytestmark = pytest.mark.slow


def test_quick_run_writes_every_index_type(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not TRAIN_DIR.is_dir():
        pytest.skip(f"{TRAIN_DIR} is not there: the benchmark embeds its passages and questions")
    monkeypatch.setenv("SAMACHAR_CACHE_DIR", str(model_cache))  # share the session's ONNX export
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
