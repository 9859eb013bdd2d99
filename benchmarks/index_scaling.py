"""Where exact search stops being fast enough: flat vs HNSW query latency and HNSW recall on random
384-dim unit vectors (the default model's dimension), one thread, as on the 2-core target machine.

    .venv/bin/python benchmarks/index_scaling.py [--sizes 10000 50000 100000 200000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embeddings.index import VectorIndex  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000, 200_000])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/index_scaling.json"))
    args = ap.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'rows':>9}{'flat p50 ms':>13}{'hnsw p50 ms':>13}{'hnsw R@10':>11}{'hnsw build s':>14}")
    for n in args.sizes:
        v = rng.standard_normal((n, 384)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        # Queries near stored rows, as real questions are near their passages.
        q = v[rng.choice(n, args.queries, replace=False)] + 0.05 * rng.standard_normal((args.queries, 384))
        q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
        flat = VectorIndex.build(v, "flat")
        t = time.perf_counter()
        hnsw = VectorIndex.build(v, "hnsw")
        build_s = time.perf_counter() - t
        lat = {"flat": [], "hnsw": []}
        found = 0
        for i in range(args.queries):
            for name, index in (("flat", flat), ("hnsw", hnsw)):
                t = time.perf_counter()
                _, ids = index.search(q[i : i + 1], 10)
                lat[name].append((time.perf_counter() - t) * 1000)
                if name == "flat":
                    truth = set(ids[0].tolist())
                else:
                    found += len(truth & set(ids[0].tolist()))
        row = {
            "rows": n,
            "flat_p50_ms": round(statistics.median(lat["flat"]), 2),
            "hnsw_p50_ms": round(statistics.median(lat["hnsw"]), 2),
            "hnsw_recall@10": round(found / (10 * args.queries), 4),
            "hnsw_build_s": round(build_s, 1),
        }
        rows.append(row)
        print(
            f"{n:>9}{row['flat_p50_ms']:>13}{row['hnsw_p50_ms']:>13}{row['hnsw_recall@10']:>11}{row['hnsw_build_s']:>14}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
