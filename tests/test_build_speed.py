"""benchmarks/build_speed.py on a few XQuAD-hi paragraphs: both orders embed the same texts to the same vectors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
XQUAD_HI = REPO.parent / "shared" / "benchmarks" / "xquad" / "xquad.hi.json"
sys.path.insert(0, str(REPO / "benchmarks"))

import build_speed  # noqa: E402

pytestmark = pytest.mark.slow


def test_a_small_run_compares_the_two_orders(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not XQUAD_HI.is_file():
        pytest.skip(f"{XQUAD_HI} is not there: the benchmark embeds XQuAD-hi's paragraphs")
    monkeypatch.setenv("SAMACHAR_CACHE_DIR", str(model_cache))
    out = tmp_path / "build_speed.json"
    assert build_speed.main(["--limit", "6", "--rounds", "1", "--out", str(out)]) == 0

    result = json.loads(out.read_text(encoding="utf-8"))
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
