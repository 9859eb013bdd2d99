"""What the trained reader adds to the process's memory on top of the embedding model and the index.

    .venv/bin/python benchmarks/reader_memory.py

Loads the assistant over the seed corpus (embedding model, index), searches once, then loads the reader and
answers once, and reports the resident set size (VmRSS) before and after. The reader's word embeddings and
lower layers are the embedding model's own modules, so it adds only its upper layers and head.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.config import Settings  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "reader_memory.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(corpus_dir=REPO / "corpus", index_dir=Path(tmp) / "index")
        assistant = Assistant.from_settings(settings, progress=False)
        assistant.retriever.search("हवाई में हुई बैठक", 5)
        before = rss_mb()
        assistant.ask("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?")
        after = rss_mb()
    result = {
        "rss_before_reader_mb": round(before),
        "rss_after_reader_mb": round(after),
        "reader_adds_mb": round(after - before),
    }
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
