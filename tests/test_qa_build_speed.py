"""benchmarks/qa_build_speed.py on a small slice: two checkouts' `qa build` timed side by side (here this
repository's last commit, unpacked by the benchmark, against this checkout: the two builds must agree)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
XQUAD_HI = REPO.parent / "shared" / "benchmarks" / "xquad" / "xquad.hi.json"
sys.path.insert(0, str(REPO / "benchmarks"))

import qa_build_speed  # noqa: E402

from qa.config import DEFAULT_MODEL  # noqa: E402

pytestmark = pytest.mark.slow


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
