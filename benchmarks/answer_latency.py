"""Warm `Assistant.ask()` latency on the seed corpus, one torch thread, over the dev-set questions.

"new" = a question seen for the first time (query encoded, sentences possibly cached from earlier questions);
"repeat" = the same question again (query vector cached). The model and index are loaded and warmed first.

    .venv/bin/python benchmarks/answer_latency.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._report import report as write_report  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.datasets import load_dataset  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))], 1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/answer_latency.json"))
    args = ap.parse_args()
    examples = load_dataset(REPO / "eval" / "seed_dev.jsonl").examples
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(corpus_dir=REPO / "corpus", index_dir=Path(tmp) / "index")
        t0 = time.perf_counter()
        assistant = Assistant.from_settings(settings, progress=False)
        ready_s = time.perf_counter() - t0
        for q in ("warm-up question one", "दूसरा अभ्यास प्रश्न", "third warm-up"):
            assistant.ask(q)
        timings: dict[str, list[float]] = {"new": [], "repeat": []}
        for kind in ("new", "repeat"):
            for ex in examples:
                history = [{"question": t.question, "answer": t.answer} for t in ex.history]
                t = time.perf_counter()
                assistant.ask(ex.question, history or None)
                timings[kind].append((time.perf_counter() - t) * 1000)
    result = {
        "questions": len(examples),
        "load_and_index_s": round(ready_s, 1),
        **{f"{k}_p50_ms": round(statistics.median(v), 1) for k, v in timings.items()},
        **{f"{k}_p95_ms": pct(v, 0.95) for k, v in timings.items()},
    }
    write_report(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
