"""benchmarks/startup.py once, quickly: the phases of a first answer in this process and one cold `qa ask` and
app start in fresh processes, over the seed corpus with the session's model cache (no timing asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import startup  # noqa: E402

pytestmark = pytest.mark.slow


def test_one_run_reports_every_phase_and_both_cold_starts(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMACHAR_CACHE_DIR", str(model_cache))
    out = tmp_path / "startup.json"
    assert startup.main(["--runs", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert {"load the embedding model", "first answer (reader weights load)"} <= set(result["phases_s"])
    assert all(s >= 0 for s in result["phases_s"].values())
    for name in ("qa_ask_cold", "app_serving_cold"):
        assert len(result[f"{name}_runs_s"]) == 1 and result[f"{name}_s"] == result[f"{name}_runs_s"][0] > 0
