"""benchmarks/index_memory.py in its quick mode: the vector side of a saved index, loaded both ways."""

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

import index_memory  # noqa: E402

pytestmark = pytest.mark.slow


def test_quick_run_measures_both_ways_of_loading(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not TRAIN_DIR.is_dir():
        pytest.skip(f"{TRAIN_DIR} is not there: the benchmark embeds its passages and questions")
    monkeypatch.setenv("SAMACHAR_CACHE_DIR", str(model_cache))  # share the session's ONNX export
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
