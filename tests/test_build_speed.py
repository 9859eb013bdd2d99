"""The build speed benchmarks on a few XQuAD-hi paragraphs: benchmarks/build_speed.py (both orders embed the
same texts to the same vectors), benchmarks/openvino_encoder.py (quantises with the shipped calibration texts
and layer choice, and reports the int8 model's agreement with torch) and benchmarks/qa_build_speed.py (two
checkouts' `qa build` side by side: here the last commit, unpacked by the benchmark, against this checkout, so
the two builds must agree)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
XQUAD_HI = REPO.parent / "shared" / "benchmarks" / "xquad" / "xquad.hi.json"
sys.path.insert(0, str(REPO / "benchmarks"))

import build_speed  # noqa: E402
import qa_build_speed  # noqa: E402

from qa.config import DEFAULT_MODEL, FP32_MODEL  # noqa: E402

pytestmark = pytest.mark.slow


def test_a_small_run_compares_the_two_orders(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not XQUAD_HI.is_file():
        pytest.skip(f"{XQUAD_HI} is not there: the benchmark embeds XQuAD-hi's paragraphs")
    monkeypatch.setenv("SAMACHAR_CACHE_DIR", str(model_cache))
    out = tmp_path / "build_speed.json"
    also = ["--also", DEFAULT_MODEL]
    assert build_speed.main(["--limit", "6", "--rounds", "1", "--out", str(out), *also]) == 0

    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["model"] == FP32_MODEL and set(result["also"]) == {DEFAULT_MODEL}  # today's build vs before
    assert result["paragraphs"] == 6 and result["texts_embedded"] > result["passages"] >= 6
    orders = result["orders"]
    assert set(orders) == {"article by article", "shortest first"}
    assert all(o["seconds"] > 0 and o["padded_tokens_per_token"] >= 1.0 for o in orders.values())
    # Shortest first never pads more than article by article, and the order changes no vector.
    assert (
        orders["shortest first"]["padded_tokens_per_token"]
        <= orders["article by article"]["padded_tokens_per_token"]
    )
    assert result["max_vector_difference"] < 1e-4
    for other in result["also"].values():  # the same texts, embedded by the int8 model
        assert other["seconds"] > 0 and other["cosine_to_baseline_min"] > 0.98


def test_a_small_openvino_run_reports_speed_and_agreement(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not XQUAD_HI.is_file():
        pytest.skip(f"{XQUAD_HI} is not there: the benchmark embeds XQuAD-hi's paragraphs")
    import openvino_encoder

    monkeypatch.setenv("SAMACHAR_CACHE_DIR", str(model_cache))
    out = tmp_path / "openvino.json"
    argv = ["--calibration", "repo", "--keep-fp32", "ffn-out:0,1,2", "--speed-only", "--limit", "8"]
    assert openvino_encoder.main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["calibration_texts"] == 176 and result["keep_fp32"] == "ffn-out:0,1,2"
    fp32, int8 = result["models"]["openvino fp32"], result["models"]["openvino int8"]
    assert fp32["cosine_to_torch_min"] > 0.9999  # the same network in fp32
    assert int8["cosine_to_torch_min"] > 0.99 and int8["texts_per_s"] > 0


def test_a_small_run_times_both_checkouts(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not XQUAD_HI.is_file():
        pytest.skip(f"{XQUAD_HI} is not there: the benchmark's corpus is XQuAD-hi's paragraphs")
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout: the benchmark unpacks the earlier commit with git archive")
    monkeypatch.setenv("SAMACHAR_CACHE_DIR", str(model_cache))  # the default model quantised once per session
    out = tmp_path / "qa_build_speed.json"
    argv = ["--before", "HEAD", "--limit", "3", "--rounds", "1", "--out", str(out)]
    assert qa_build_speed.main(argv) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["articles"] == 3 and set(result["seconds"]) == {"before", "now"}
    assert all(s > 0 for s in result["seconds"].values()) and result["speedup"] > 0
    before, now = result["indexes"]["before"], result["indexes"]["now"]
    assert before == now and now["model"] == DEFAULT_MODEL and now["passages"] >= 3
