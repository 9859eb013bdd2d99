"""The README's figure tables are generated from benchmarks/figures.json and checked in CI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import figures  # noqa: E402


def test_the_committed_readme_matches_the_committed_figures() -> None:
    assert figures.main(["check"]) == 0


def test_collect_render_and_check_round_trip(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "abstention_xquad-trained@onnx-hi.json").write_text(
        json.dumps(
            {
                "outside_questions": 10,
                "abstention_outside": 80.0,
                "inside_questions": 20,
                "false_abstention_inside": 5.0,
                "f1_inside": 61.25,
            }
        ),
        encoding="utf-8",
    )
    fig = tmp_path / "figures.json"
    fig.write_text(
        json.dumps(
            {
                "abstention": {
                    "en": {
                        "outside_questions": 4,
                        "abstention_outside": 50.0,
                        "inside_questions": 8,
                        "false_abstention_inside": 12.5,
                        "f1_inside": 40.0,
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    assert figures.collect(results, fig) == ["abstention.en"]  # absent result: earlier figure kept
    readme = tmp_path / "README.md"
    readme.write_text(
        "intro\n<!-- figures:abstention -->\nstale\n<!-- /figures:abstention -->\noutro\n", encoding="utf-8"
    )
    args = ["--figures", str(fig), "--readme", str(readme)]
    assert figures.main(["check", *args]) == 1
    assert figures.main(["render", *args]) == 0
    text = readme.read_text(encoding="utf-8")
    assert "| Hindi, all articles | 80.0% (10) | 5.0% (20) | 61.2 | – |" in text
    assert "| English, all articles | 50.0% (4) |" in text
    assert text.startswith("intro\n") and text.endswith("outro\n") and "stale" not in text
    assert figures.main(["check", *args]) == 0
