"""Memory of a loaded index's vector side at a million passages: the two FAISS indexes (passages and sentence
windows) and the two float32 vector files, read into memory (as the store did) or memory-mapped and never read
while serving (as it does now: candidates are re-scored from the FAISS rows, `VectorIndex.rows`).

Vectors are the real e5 rows of benchmarks/index_scaling.py (passages and sentences of ../shared/qa-train,
cached) scaled up by its perturbed copies (said so in the result). Each size is measured in a fresh process on
one thread: resident memory (VmRSS) after numpy and faiss are imported, after the load, and after the queries
(each: top 50 of both indexes, the candidates' passage and sentence rows re-scored, as `Retriever.signals`
does); query latency p50/p95. Texts, chunk records and BM25 are not part of this measure: the whole index is
benchmarks/serving_memory.py's.

    .venv/bin/python benchmarks/index_memory.py [--passages 1000000] [--sentences-per-passage 2]
    .venv/bin/python benchmarks/index_memory.py --quick    # a few thousand rows (CI)
"""

from __future__ import annotations

import os

# One thread for BLAS and OpenMP, set before numpy and faiss load them: the app searches on one core.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _report import report  # noqa: E402

MODES = ("in-memory", "mapped")
CANDIDATES = 50  # per index: FusionWeights.candidates
REAL_ROWS, QUERIES = 15_000, 300  # index_scaling's defaults


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def measure(folder: Path, mode: str) -> dict[str, Any]:
    """Load the vector side saved in `folder` the `mode` way and ask the queries (run in a fresh process)."""
    import faiss  # noqa: F401  (imported before the baseline, as the app has it)

    from embeddings.index import VectorIndex

    meta = json.loads((folder / "meta.json").read_text())
    base = rss_mb()
    t0 = time.perf_counter()
    dense = VectorIndex.load(folder / "dense.faiss", dim=meta["dim"], rows=meta["passages"])
    sentences = VectorIndex.load(folder / "sentences.faiss", dim=meta["dim"], rows=meta["sentences"])
    mapped = mode == "mapped"
    vectors = np.load(folder / "vectors.npy", mmap_mode="r" if mapped else None)
    sentence_vectors = np.load(folder / "sentence_vectors.npy", mmap_mode="r" if mapped else None)
    load_s = time.perf_counter() - t0
    loaded = rss_mb()
    queries = np.load(folder / "queries.npy")
    per = meta["sentences"] // meta["passages"]
    ms = []
    for q in queries:
        t = time.perf_counter()
        found = set(dense.search(q[None], CANDIDATES)[1][0].tolist())
        found |= {int(j) // per for j in sentences.search(q[None], CANDIDATES)[1][0] if j >= 0}
        candidates = np.array(sorted(i for i in found if i >= 0), dtype=np.int64)
        rows = (candidates[:, None] * per + np.arange(per)).ravel()
        if mapped:  # as the retriever does now: the FAISS rows, the files untouched
            whole, parts = dense.rows(candidates) @ q, sentences.rows(rows) @ q
        else:
            whole, parts = vectors[candidates] @ q, sentence_vectors[rows] @ q
        np.maximum(whole, parts.reshape(-1, per).max(axis=1))
        ms.append((time.perf_counter() - t) * 1000)
    return {
        "mode": mode,
        "base_mb": round(base, 1),
        "after_load_mb": round(loaded, 1),
        "after_queries_mb": round(rss_mb(), 1),
        "vector_side_mb": round(rss_mb() - base, 1),
        "load_s": round(load_s, 2),
        "queries": len(queries),
        "query_p50_ms": round(float(np.percentile(ms, 50)), 2),
        "query_p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


def build(folder: Path, passages: int, per: int, real_rows: int | None, n_queries: int, quick: bool) -> dict:
    """Save the vector side of an index of `passages` passages and `per` sentence rows each into `folder`."""
    import index_scaling

    from embeddings.index import VectorIndex

    # The same texts as index_scaling's default run, so its cached vectors serve (no encoding).
    real, queries, _ = index_scaling.real_vectors(
        real_rows or REAL_ROWS, n_queries, None if quick else index_scaling.CACHE
    )
    sigma = index_scaling.NOISE_FRACTION * index_scaling.nearest_neighbour_distance(real)
    t0 = time.perf_counter()
    vectors = index_scaling.scale_up(real, passages, sigma)
    dense = VectorIndex.build(vectors)
    np.save(folder / "vectors.npy", vectors)
    dense.save(folder / "dense.faiss")
    del vectors, dense
    sentence_vectors = index_scaling.scale_up(real[::-1].copy(), passages * per, sigma)
    sentence_index = VectorIndex.build(sentence_vectors)
    np.save(folder / "sentence_vectors.npy", sentence_vectors)
    sentence_index.save(folder / "sentences.faiss")
    kinds = [
        VectorIndex.load(folder / "dense.faiss", dim=real.shape[1], rows=passages).kind,
        sentence_index.kind,
    ]
    del sentence_vectors, sentence_index
    np.save(folder / "queries.npy", queries)
    meta = {
        "passages": passages,
        "sentences": passages * per,
        "dim": int(real.shape[1]),
        "real_rows": len(real),
        "index_kinds": kinds,
        "build_s": round(time.perf_counter() - t0, 1),
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--sentences-per-passage", type=int, default=2)
    ap.add_argument("--real-rows", type=int, default=None, help=f"real rows (default {REAL_ROWS})")
    ap.add_argument("--queries", type=int, default=QUERIES)
    ap.add_argument("--quick", action="store_true", help="a small smoke run (CI): no vector cache")
    ap.add_argument(
        "--work", type=Path, default=None, help="folder for the saved index (default: a temp dir)"
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "index_memory.json")
    ap.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)  # the child process
    ap.add_argument("--mode", choices=MODES, default="mapped", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.mode)))
        return 0
    if args.quick:
        args.passages, args.real_rows, args.queries = min(args.passages, 3000), args.real_rows or 120, 20
    with tempfile.TemporaryDirectory(prefix="index-memory-", dir=args.work) as tmp:
        folder = Path(tmp)
        meta = build(
            folder, args.passages, args.sentences_per_passage, args.real_rows, args.queries, args.quick
        )
        print(f"built {meta}", file=sys.stderr)
        results = []
        for mode in MODES:
            child = subprocess.run(
                [sys.executable, __file__, "--measure", str(folder), "--mode", mode],
                capture_output=True,
                text=True,
                check=True,
                # Measured on one thread even when the build was given more (OMP_NUM_THREADS=2 ...).
                env={
                    **os.environ,
                    **dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1"),
                },
            )
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(f"{mode}: {results[-1]}", file=sys.stderr)
        files_mb = {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(folder.iterdir())}
    rows = meta["passages"] + meta["sentences"]
    result = {
        "benchmark": "index_memory",
        **meta,
        "rows": rows,
        "scaled_up": f"{meta['real_rows']} real rows, the rest perturbed copies (benchmarks/index_scaling.py)",
        "files_mb": files_mb,
        "results": results,
        "bytes_per_row": {r["mode"]: round(r["vector_side_mb"] * 2**20 / rows) for r in results},
    }
    report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
