"""`qa build` of the same corpus by this checkout and by an earlier one, side by side in one run.

    .venv/bin/python benchmarks/qa_build_speed.py --before 1fdacc0 [--rounds 2] [--limit N]

`--before` is a commit of this repository (1fdacc0: main when the speed work began, issue 12's "today's main"),
unpacked with `git archive` into a temporary folder, or a folder holding a checkout.

The corpus is XQuAD-hi's 240 paragraphs, one article file each, in a temporary folder. Each round runs
`python -m qa build --corpus C --index I` from each checkout in a fresh process, alternating (drift on a shared
machine hits both), with each checkout's own default model, one thread, and a warm model cache (one untimed
build of each first fills it: conversions and exports are a first start's cost, not a build's). Wall time from
launch to exit is timed, model loading and writing the index included; the best of each checkout's rounds is
reported with the ratio, and each index's model and passage count (the same corpus, chunked alike).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _report import report  # noqa: E402
from _xquad import load_xquad  # noqa: E402


def checkout(before: str, folder: Path) -> tuple[Path, str]:
    """(a folder holding the earlier code, its short commit id): `before` itself when it is a folder, else the
    commit `before` of this repository unpacked into `folder`."""

    def short(ref: str, where: Path) -> str:
        done = subprocess.run(
            ["git", "rev-parse", "--short", ref], cwd=where, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() or ref

    if Path(before).is_dir():
        return Path(before).resolve(), short("HEAD", Path(before))
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", before], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder, short(before, REPO)


def write_corpus(folder: Path, limit: int | None) -> int:
    """XQuAD-hi's paragraphs as article files (a `title:` header, a blank line, the paragraph)."""
    paragraphs, _ = load_xquad("hi")
    paragraphs = paragraphs[:limit] if limit else paragraphs
    folder.mkdir(parents=True)
    for i, (_, title, text) in enumerate(paragraphs):
        (folder / f"p{i:04d}.txt").write_text(f"title: {title}\n\n{text}\n", encoding="utf-8")
    return len(paragraphs)


def build(code: Path, corpus: Path, index: Path) -> float:
    """Seconds `qa build` of the checkout in `code` takes, in a fresh process with only that checkout on its
    path."""
    shutil.rmtree(index, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(code), SAMACHAR_TORCH_THREADS="1", OMP_NUM_THREADS="1")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index)],
        cwd=code,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def describe(index: Path) -> dict[str, object]:
    """The model and the passage count of a built index (its live version folder, as both versions of the
    store lay it out: `CURRENT` names the folder, which holds `manifest.json` and one passage a line of
    `chunks.jsonl`)."""
    version = index / (index / "CURRENT").read_text(encoding="utf-8").strip()
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    with (version / "chunks.jsonl").open(encoding="utf-8") as f:
        return {"model": manifest["model"], "passages": sum(1 for _ in f)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the earlier commit, or a folder with its checkout")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N paragraphs (a quick run)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "qa_build_speed.json")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="qa-build-speed-") as tmp:
        before, label = checkout(args.before, Path(tmp) / "before")
        checkouts = {"before": before, "now": REPO}
        corpus = Path(tmp) / "corpus"
        articles = write_corpus(corpus, args.limit)
        for name, code in checkouts.items():
            build(code, corpus, Path(tmp) / f"index-{name}")  # fills the model cache; not timed
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, code in checkouts.items():
                seconds = build(code, corpus, Path(tmp) / f"index-{name}")
                best[name] = min(best.get(name, float("inf")), seconds)
        built = {name: describe(Path(tmp) / f"index-{name}") for name in checkouts}
    result = {
        "benchmark": "qa_build_speed",
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, one thread",
        "before_commit": label,
        "articles": articles,
        "rounds": args.rounds,
        "seconds": {name: round(s, 2) for name, s in best.items()},
        "indexes": built,
        "speedup": round(best["before"] / best["now"], 3),
    }
    report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
