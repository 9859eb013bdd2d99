"""Embedding throughput of a local build against `--engine ray` with 1 and 2 encoder actors, in one run.

    .venv/bin/python benchmarks/ray_build.py [--paragraphs 240] [--out benchmarks/results/ray_build.json]

The corpus is XQuAD-hi's paragraphs (from ../shared/); each build chunks and embeds all of them from scratch
(passages and sentence windows). Reported: seconds and texts/s per engine, the speed-up over local, and the
Ray overhead (actor start-up: each actor loads the model) measured on a tiny job. On a 2-core machine two
actors can at best double one; a cluster adds machines, not cores of this one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._report import report as write_report  # noqa: E402
from benchmarks._xquad import REPO, load_xquad  # noqa: E402
from qa.config import DEFAULT_MODEL, Settings  # noqa: E402
from qa.types import Document  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paragraphs", type=int, default=240)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ray_build.json")
    args = ap.parse_args(argv)

    import ray

    from embeddings.encoder import load_encoder
    from qa.pipeline import params_for
    from qa.ray_engine import ray_embedder
    from qa.retriever import Retriever

    paragraphs, _ = load_xquad("hi")
    documents = [Document(id=d, title=t, text=x, source="xquad") for d, t, x in paragraphs[: args.paragraphs]]
    settings = Settings()
    encoder = load_encoder(DEFAULT_MODEL, settings.cache_dir)
    params = params_for(settings, encoder)
    result: dict[str, object] = {"paragraphs": len(documents)}

    t = time.perf_counter()
    local = Retriever.build(documents, encoder, params)
    local_s = time.perf_counter() - t
    texts = local.embedded
    result["local"] = {"seconds": round(local_s, 1), "texts": texts, "texts_per_s": round(texts / local_s, 2)}

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    tiny = ray_embedder(DEFAULT_MODEL, settings.cache_dir, num_workers=1, batch_size=4)
    t = time.perf_counter()
    tiny(["एक छोटा वाक्य।"] * 4)
    result["ray_overhead_s"] = round(time.perf_counter() - t, 1)
    for workers in (1, 2):
        embed = ray_embedder(DEFAULT_MODEL, settings.cache_dir, num_workers=workers, batch_size=32)
        t = time.perf_counter()
        built = Retriever.build(documents, encoder, params, embed=embed)
        seconds = time.perf_counter() - t
        result[f"ray_{workers}"] = {
            "seconds": round(seconds, 1),
            "texts_per_s": round(built.embedded / seconds, 2),
            "speedup_over_local": round(local_s / seconds, 2),
        }
    ray.shutdown()
    write_report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
