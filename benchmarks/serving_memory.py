"""Memory and latency of a whole loaded index at a million passages: what the app holds to serve it.

benchmarks/index_memory.py measures the vector side alone. This one builds a real index folder with the
project's own code (`qa.index_build.index_rows` chunks the articles and finds their sentence rows,
`LexicalIndex` builds BM25, `VectorIndex` builds FAISS, `Retriever.save` writes it) and then, in a fresh
process on one thread, opens it as the app does (`Retriever.load`: manifest, checksums, records, FAISS, BM25)
and asks questions through `Retriever.search` (both FAISS indexes, BM25, fusion, the hits' texts). It reports
resident memory (VmRSS) after the imports, after the load and after the questions, and search p50/p95.

What is synthetic, and why:
- **Articles**: XQuAD-hi's 240 paragraphs (real Hindi prose), four drawn at random an article; a twentieth of
  the words get a suffix drawn from a Zipf law over 500,000 forms, so the vocabulary grows with the corpus
  as a real archive's names and numbers do (240 paragraphs alone hold only ~10k words).
- **Token counts** for chunking are estimated (2 + characters / 3.3, the e5 tokenizer's average on these
  paragraphs) instead of tokenizing 10^9 characters.
- **Vectors**: benchmarks/index_scaling.py's real e5 rows (cached) and perturbed copies, as index_memory.py
  uses; the questions are XQuAD-hi's (for BM25) paired with index_scaling's real query vectors (for FAISS),
  so the hits are not meant to be right, only the work to be real.

    .venv/bin/python benchmarks/serving_memory.py [--passages 1000000] [--work DIR]
    .venv/bin/python benchmarks/serving_memory.py --quick          # a few thousand passages (CI)
    .venv/bin/python benchmarks/serving_memory.py --reuse DIR      # measure an index folder built before
    .venv/bin/python benchmarks/serving_memory.py --reuse DIR --ingest-only   # the passage index's rebuild

`--ingest-only` times what an ingest of 1% more passages does to the passage index: trained afresh (a build)
against reusing the replaced index's centroids (`VectorIndex.build(trained_from=...)`, as an ingest does), and
the recall@10 of each against exact search over the same rows, for the benchmark's 300 query vectors; and
chunking `--articles` of its articles again with the default model's token counter against taking their rows
from the index, as an ingest now does for the articles it does not change.
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
from index_memory import rss_mb  # noqa: E402

XQUAD_HI = REPO.parent / "shared" / "benchmarks" / "xquad" / "xquad.hi.json"
PARAGRAPHS_PER_ARTICLE = 4
RARE_SHARE, RARE_FORMS = 0.05, 500_000
CHARS_PER_TOKEN = 3.3
SEED = 0
MODEL = "benchmark:index_scaling-vectors"


class QueryTable:
    """The encoder the retriever sees: questions map to precomputed query vectors (no model is loaded, so
    the measure is the index's, not the encoder's)."""

    def __init__(self, questions: list[str], vectors: np.ndarray) -> None:
        self.model_id = MODEL
        self.dim = int(vectors.shape[1])
        self._rows = {q: vectors[i % len(vectors)] for i, q in enumerate(questions)}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._rows[t] for t in texts])

    def count_tokens(self, text: str) -> int:
        return 2 + int(len(text) / CHARS_PER_TOKEN)


def xquad_hi() -> tuple[list[str], list[str]]:
    """(paragraphs, questions) of XQuAD-hi."""
    if not XQUAD_HI.is_file():
        raise SystemExit(f"{XQUAD_HI} is missing: this benchmark needs ../shared/benchmarks/xquad/")
    data = json.loads(XQUAD_HI.read_text(encoding="utf-8"))["data"]
    paragraphs = [p["context"] for a in data for p in a["paragraphs"]]
    questions = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    return paragraphs, questions


def articles(
    paragraphs: list[str], passages: int, count_tokens: Any, params: Any
) -> tuple[list, list, list, list]:
    """Synthetic articles until their chunks reach `passages`: (documents, chunks, members, sentences)."""
    from qa.index_build import index_rows
    from qa.types import Document

    rng = np.random.default_rng(SEED)
    docs: list[Document] = []
    chunks: list = []
    members: list = []
    sentences: list = []
    while len(chunks) < passages:
        batch: list[Document] = []
        for _ in range(1000):
            n = len(docs) + len(batch)
            words = "\n\n".join(
                paragraphs[i] for i in rng.choice(len(paragraphs), PARAGRAPHS_PER_ARTICLE)
            ).split(" ")
            rare = np.flatnonzero(rng.random(len(words)) < RARE_SHARE)
            forms = np.minimum(rng.zipf(1.3, len(rare)), RARE_FORMS)
            for at, form in zip(rare, forms):
                words[at] = f"{words[at]}{form}"
            batch.append(
                Document(
                    id=f"{n:08d}-synthetic-article",
                    title=f"समाचार {n}",
                    text=" ".join(words),
                    source=f"corpus/{n:08d}-synthetic-article.txt",
                    date=f"20{10 + n % 16:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                )
            )
        c, m, s = index_rows(batch, count_tokens, params)
        offset = len(sentences)
        chunks += c
        members += [[j + offset for j in rows] for rows in m]
        sentences += s
        docs += batch
        print(f"  {len(docs)} articles, {len(chunks)} passages", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return docs, chunks, members, sentences


def build(folder: Path, passages: int, quick: bool, kind: str | None = None) -> dict[str, Any]:
    """A real index folder of about `passages` synthetic passages in `folder` (see the module docstring)."""
    import index_memory
    import index_scaling

    from qa.index_build import assemble_index
    from qa.index_store import IndexParams
    from qa.retriever import Retriever

    t0 = time.perf_counter()
    paragraphs, questions = xquad_hi()
    real, query_vectors, _ = index_scaling.real_vectors(
        120 if quick else index_memory.REAL_ROWS,
        20 if quick else index_memory.QUERIES,
        None if quick else index_scaling.CACHE,
    )
    encoder = QueryTable(questions, query_vectors)
    params = IndexParams(MODEL, 160, 1)
    docs, chunks, members, sentences = articles(paragraphs, passages, encoder.count_tokens, params)
    sigma = index_scaling.NOISE_FRACTION * index_scaling.nearest_neighbour_distance(real)
    vectors = index_scaling.scale_up(real, len(chunks), sigma)
    sentence_vectors = index_scaling.scale_up(real[::-1].copy(), len(sentences), sigma)
    print(f"  vectors ready, {time.perf_counter() - t0:.0f} s; FAISS and BM25 next", file=sys.stderr)
    data = assemble_index(docs, chunks, members, sentences, vectors, sentence_vectors, kind)  # type: ignore[arg-type]
    Retriever(encoder, params, data).save(folder / "index")  # type: ignore[arg-type]
    np.save(folder / "queries.npy", query_vectors)
    meta = {
        "articles": len(docs),
        "passages": len(chunks),
        "sentences": len(sentences),
        "characters": sum(len(d.text) for d in docs),
        "build_s": round(time.perf_counter() - t0, 1),
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta


def measure(folder: Path) -> dict[str, Any]:
    """Open the index in `folder` as the app does and ask XQuAD-hi's questions (run in a fresh process)."""
    import faiss  # noqa: F401  (imported before the baseline, as the app has them)

    from qa.index_store import IndexParams
    from qa.lexical import _bm25s
    from qa.retriever import Retriever

    _bm25s()
    _, questions = xquad_hi()
    encoder = QueryTable(questions, np.load(folder / "queries.npy"))
    base = rss_mb()
    t0 = time.perf_counter()
    retriever = Retriever.load(folder / "index", encoder, IndexParams(MODEL, 160, 1))  # type: ignore[arg-type]
    load_s = time.perf_counter() - t0
    loaded = rss_mb()
    ms = []
    asked = questions[:300]
    for q in asked:
        t = time.perf_counter()
        hits = retriever.search(q, 5)
        ms.append((time.perf_counter() - t) * 1000)
        assert all(h.chunk.text for h in hits)
    after_queries = rss_mb()
    return {
        "base_mb": round(base, 1),
        "after_load_mb": round(loaded, 1),
        "after_queries_mb": round(after_queries, 1),
        "index_mb": round(after_queries - base, 1),
        "load_s": round(load_s, 2),
        "queries": len(asked),
        "search_p50_ms": round(float(np.percentile(ms, 50)), 2),
        "search_p95_ms": round(float(np.percentile(ms, 95)), 2),
        "index_kinds": [retriever.dense.kind, retriever.sentence_index.kind],
        "exact_rescoring": exact_rescoring(retriever, asked, folder),
    }


def exact_rescoring(retriever: Any, questions: list[str], folder: Path) -> dict[str, Any] | None:
    """How often re-scoring the candidates from the float32 vector files instead of the FAISS rows (8-bit in
    IVF-SQ8) changes the top 5 (None when both indexes hold their rows exactly). Measured after the memory:
    this reads the candidates' rows from the mapped files."""
    if retriever.dense.exact and retriever.sentence_index.exact:
        return None
    served = [[h.chunk.id for h in retriever.search(q, 5)] for q in questions]
    version = folder / "index" / (folder / "index" / "CURRENT").read_text().strip()
    for index, name in ((retriever.dense, "vectors.npy"), (retriever.sentence_index, "sentence_vectors.npy")):
        rows = np.load(version / name, mmap_mode="r")
        index.rows = lambda ids, rows=rows: np.asarray(rows[np.asarray(ids)])  # this instance only
    exact = [[h.chunk.id for h in retriever.search(q, 5)] for q in questions]
    return {
        "questions": len(questions),
        "top1_same": round(float(np.mean([a[:1] == b[:1] for a, b in zip(served, exact)])), 3),
        "top5_overlap": round(float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(served, exact)])), 3),
    }


def ingest_rebuild(folder: Path, articles: int = 2000) -> dict[str, Any]:
    """See the module docstring (`--ingest-only`)."""
    import faiss
    import index_scaling

    from embeddings.index import VectorIndex

    version = folder / "index" / (folder / "index" / "CURRENT").read_text().strip()
    vectors = np.load(version / "vectors.npy")
    old = VectorIndex.load(version / "dense.faiss", dim=vectors.shape[1], rows=len(vectors))
    added = index_scaling.scale_up(vectors[: len(vectors) // 100], 2 * (len(vectors) // 100), 0.2)
    rows = np.concatenate([vectors, added[len(vectors) // 100 :]])
    queries = np.load(folder / "queries.npy")
    exact = faiss.IndexFlatIP(rows.shape[1])
    exact.add(rows)
    truth = exact.search(queries, 10)[1]
    out: dict[str, Any] = {"rows_before": len(vectors), "rows_after": len(rows)}
    for name, trained_from in (("trained afresh", None), ("centroids reused", old)):
        t0 = time.perf_counter()
        index = VectorIndex.build(rows, old.kind, trained_from=trained_from)
        seconds = time.perf_counter() - t0
        found = index.search(queries, 10)[1]
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
        out[name] = {
            "kind": index.kind,
            "build_s": round(seconds, 1),
            "recall_at_10": round(float(recall), 3),
        }
        print(f"  {name}: {out[name]}", file=sys.stderr)
    out["chunking"] = chunking(folder, articles)
    return out


def chunking(folder: Path, n_articles: int) -> dict[str, Any]:
    """Seconds to chunk `n_articles` of the index's articles as an ingest does for unchanged ones: again with
    the default model's token counter (before), or taking their rows from the index (`index_rows(reuse=)`)."""
    from embeddings.encoder import load_encoder
    from qa.config import DEFAULT_MODEL, Settings
    from qa.index_build import index_rows
    from qa.index_store import IndexParams, load_index

    params = IndexParams(MODEL, 160, 1)
    data, _ = load_index(folder / "index", params, int(np.load(folder / "queries.npy").shape[1]))
    docs = [data.documents[doc_id] for doc_id in list(data.documents)[:n_articles]]
    count_tokens = load_encoder(DEFAULT_MODEL, Settings.from_env().cache_dir).count_tokens
    t0 = time.perf_counter()
    again = index_rows(docs, count_tokens, params)
    t1 = time.perf_counter()
    kept = index_rows(docs, count_tokens, params, reuse=data)
    t2 = time.perf_counter()
    return {
        "articles": len(docs),
        "passages": len(kept[0]),
        "chunked_again_s": round(t1 - t0, 2),
        "rows_reused_s": round(t2 - t1, 2),
        "passages_chunked_again": len(again[0]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="a small smoke run (CI): no vector cache")
    ap.add_argument("--work", type=Path, default=None, help="where the temporary index is built")
    ap.add_argument(
        "--keep", type=Path, default=None, help="build the index into this new folder and keep it"
    )
    ap.add_argument("--reuse", type=Path, default=None, help="measure an index folder built by --keep")
    ap.add_argument(
        "--index-kind",
        default=None,
        help="FAISS index type of both indexes (default: the store's choice by size)",
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "serving_memory.json")
    ap.add_argument(
        "--ingest-only",
        action="store_true",
        help="with --reuse: time the passage index's rebuild (see above)",
    )
    ap.add_argument("--articles", type=int, default=2000, help="with --ingest-only: articles chunked (2000)")
    ap.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return 0
    if args.ingest_only:
        if args.reuse is None:
            ap.error("--ingest-only measures an index kept by --keep: give it with --reuse")
        report({"benchmark": "serving_memory-ingest", **ingest_rebuild(args.reuse, args.articles)}, args.out)
        return 0
    if args.quick:
        args.passages = min(args.passages, 3000)
    with tempfile.TemporaryDirectory(prefix="serving-memory-", dir=args.work) as tmp:
        folder = args.reuse or args.keep or Path(tmp)
        if args.reuse is None:
            folder.mkdir(parents=True, exist_ok=args.keep is None)
            meta = build(folder, args.passages, args.quick, args.index_kind)
            print(f"built {meta}", file=sys.stderr)
        meta = json.loads((folder / "meta.json").read_text())
        child = subprocess.run(
            [sys.executable, __file__, "--measure", str(folder)],
            capture_output=True,
            text=True,
            check=True,
            env={
                **os.environ,
                **dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1"),
            },
        )
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        index = folder / "index"
        version = index / (index / "CURRENT").read_text().strip()
        files_mb = {
            p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(version.iterdir()) if p.is_file()
        }
        files_mb["bm25/"] = round(sum(p.stat().st_size for p in (version / "bm25").iterdir()) / 2**20, 1)
    result = {
        "benchmark": "serving_memory",
        **meta,
        "synthetic": (
            f"XQuAD-hi paragraphs, {PARAGRAPHS_PER_ARTICLE} an article, {RARE_SHARE:.0%} of words with a "
            f"Zipf suffix; token counts estimated; vectors: index_scaling's real rows and perturbed copies"
        ),
        "files_mb": files_mb,
        **measured,
    }
    report(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
