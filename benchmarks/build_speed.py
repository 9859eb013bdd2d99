"""Embedding throughput of an index build in two orders, side by side in one run: article by article (the order
builds used before) and shortest first (the order `qa.index_build` uses now, so that a batch pads little).

The texts are exactly those a build of XQuAD-hi's 240 paragraphs embeds (565 passages and their sentence
windows, each distinct text once), embedded by the default model's passage encoder on one thread, in
EMBED_BATCH blocks as `qa.index_build` does. The two orders alternate round by round (drift on a shared
machine hits both) and the best round of each is reported, with the padded tokens a real token costs in each
order and the largest difference between the two orders' vectors (the same texts: the order changes none).

    .venv/bin/python benchmarks/build_speed.py [--rounds 2] [--limit N]
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

from qa.config import Settings  # noqa: E402
from qa.corpus import parse_article  # noqa: E402
from qa.index_build import EMBED_BATCH, build_index, index_texts  # noqa: E402
from qa.pipeline import make_encoder, params_for  # noqa: E402


class _Recorder:
    """Stands in for the encoder during a build: records the texts it is asked to embed, in order."""

    def __init__(self, encoder) -> None:  # type: ignore[no-untyped-def]
        self.encoder, self.dim, self.model_id = encoder, encoder.dim, encoder.model_id
        self.texts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return int(self.encoder.count_tokens(text))

    def encode_passages(self, texts, *, show_progress: bool = False) -> np.ndarray:  # type: ignore[no-untyped-def]
        self.texts.extend(texts)
        return np.zeros((len(texts), self.dim), dtype=np.float32)


def padded_per_real(lengths: list[int], batch_size: int) -> float:
    """Tokens computed per real token when blocks of EMBED_BATCH are split into batches of `batch_size`,
    each sorted by length within its block (as sentence-transformers does) and padded to its longest."""
    total = 0
    for start in range(0, len(lengths), EMBED_BATCH):
        block = sorted(lengths[start : start + EMBED_BATCH], reverse=True)
        total += sum(
            max(block[i : i + batch_size]) * len(block[i : i + batch_size])
            for i in range(0, len(block), batch_size)
        )
    return total / max(1, sum(lengths))


def embed(encoder, texts: list[str]) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    t0 = time.perf_counter()
    for start in range(0, len(texts), EMBED_BATCH):
        out[start : start + EMBED_BATCH] = encoder.encode_passages(texts[start : start + EMBED_BATCH])
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N paragraphs (a quick run)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "build_speed.json")
    args = ap.parse_args(argv)

    settings = Settings.from_env()
    paragraphs, _ = load_xquad("hi")
    paragraphs = paragraphs[: args.limit] if args.limit else paragraphs
    documents = [parse_article(text, doc_id=i, source=f"xquad:{t}") for i, t, text in paragraphs]
    encoder = make_encoder(settings)
    recorder = _Recorder(encoder)
    data, embedded = build_index(documents, recorder, params_for(settings, recorder))  # type: ignore[arg-type]
    shortest_first = list(recorder.texts)
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
    orders = {"article by article": by_article, "shortest first": shortest_first}
    best: dict[str, float] = {}
    vectors: dict[str, dict[str, np.ndarray]] = {}  # order -> text -> its vector
    embed(encoder, shortest_first[:EMBED_BATCH])  # load the passage model and warm up
    for _ in range(args.rounds):
        for name, texts in orders.items():
            out, seconds = embed(encoder, texts)
            best[name] = min(best.get(name, float("inf")), seconds)
            vectors[name] = dict(zip(texts, out))
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
                "padded_tokens_per_token": round(padded_per_real([lengths[t] for t in texts], batch_size), 3),
            }
            for name, texts in orders.items()
        },
        "speedup": round(best["article by article"] / best["shortest first"], 3),
        "max_vector_difference": diff,
    }
    report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
