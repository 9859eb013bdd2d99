"""The README's figure tables, generated from benchmark results (so they cannot drift from what was measured).

    python benchmarks/figures.py collect   # benchmarks/results/* -> benchmarks/figures.json (committed)
    python benchmarks/figures.py render    # benchmarks/figures.json -> the tables in README.md
    python benchmarks/figures.py check     # exit 1 when README.md's tables differ from figures.json (CI)

`make bench` runs every benchmark into `benchmarks/results/` (not committed) and then `collect` and `render`.
A table sits in README.md between ``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->``; the text outside
the markers is free prose. `collect` keeps a section's old numbers when its result file is absent (a partial
run updates what it measured) and says which.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
FIGURES = REPO / "benchmarks" / "figures.json"
README = REPO / "README.md"

# section -> key -> result file (relative to the results folder), as `make bench` writes them.
SOURCES: dict[str, dict[str, str]] = {
    "retrieval": {
        "torch": "retrieval_xquad.json",
        "int8": "retrieval_xquad-int8.json",
        "openvino": "retrieval_xquad-openvino-int8.json",
    },
    "reader": {
        "hi": "reader_xquad-trained-hi-all.json",
        "hi_test": "reader_xquad-trained-hi-test.json",
        "en": "reader_xquad-trained-en-all.json",
        "en_test": "reader_xquad-trained-en-test.json",
    },
    "e2e": {"hi": "e2e-hi/report.json", "en": "e2e-en/report.json"},
    "abstention": {
        "hi": "abstention_xquad-trained@onnx-hi.json",
        "hi_test": "abstention_xquad-trained@onnx-hi-test.json",
        "en": "abstention_xquad-trained@onnx-en.json",
        "en_test": "abstention_xquad-trained@onnx-en-test.json",
    },
    "seed": {"test": "seed_test/report.json", "tuning": "seed_dev/report.json"},
    "latency": {"seed": "answer_latency.json", "memory": "reader_memory.json"},
    "scale": {
        # `qa build` by the commit the speed work began from and by this one, side by side.
        "qa_build": "qa_build_speed.json",
        "build": "build_speed.json",
        "memory": "index_memory.json",
        "serving": "serving_memory.json",
        # The same benchmark run with the loader of commit eaf13c8 (texts and records as Python objects).
        "serving_before": "serving_memory-eaf13c8.json",
    },
}


def _reader(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "questions": doc["questions"],
        "f1": doc["f1"],
        "em": doc["exact_match"],
        "contains": doc["contains_answer"],
        "abstained": doc["abstention_rate"],
        "f1_never_abstaining": doc["never_abstaining"]["f1"],
        "p50_ms": doc["read_latency_p50_ms"],
        "p95_ms": doc["read_latency_p95_ms"],
    }


def _report(doc: dict[str, Any]) -> dict[str, Any]:
    m, counts = doc["metrics"], doc["counts"]
    out = {
        "questions": counts["questions"],
        "answerable": counts["answerable"],
        "unanswerable": counts["unanswerable"],
        "r1": m.get("recall@1"),
        "rk": m.get("recall@k"),
        "k": doc["k"],
        "em": m.get("exact_match"),
        "f1": m.get("f1"),
        "contains": m.get("contains_answer"),
        "false_abstention": m.get("false_abstention_rate"),
        "p50_ms": m.get("latency_p50_ms"),
        "p95_ms": m.get("latency_p95_ms"),
    }
    outcomes = doc.get("outcomes", {})
    out["abstained_unanswerable"] = outcomes.get("correct_abstention", 0)
    out["false_abstentions"] = outcomes.get("false_abstention", 0)
    return out


def _retrieval(doc: dict[str, Any]) -> dict[str, Any]:
    keep = ("lexical", "dense-chunks", "dense", "hybrid", "hybrid/{}/cross-validated")
    out: dict[str, Any] = {
        "build_s": doc["build"]["build_s"],
        "search_p50_ms": doc["latency_ms"]["p50"],
        "search_p95_ms": doc["latency_ms"]["p95"],
    }
    for lang in ("hi", "en"):
        for key in keep:
            name = key.format(lang) if "{}" in key else f"{key}/{lang}"
            m = doc[name]
            out[name] = {k: m[k] for k in ("recall@1", "recall@5", "mrr@10")}
    return out


EXTRACT: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "retrieval": _retrieval,
    "reader": _reader,
    "e2e": _report,
    "seed": _report,
    "abstention": lambda d: (
        {
            k: d[k]
            for k in (
                "outside_questions",
                "abstention_outside",
                "inside_questions",
                "false_abstention_inside",
                "f1_inside",
            )
        }
        | {"auc": d.get("separation", {}).get("auc")}
    ),
    "latency": lambda d: d,
    "scale": lambda d: d,
}


def collect(results: Path, figures: Path) -> list[str]:
    """Update `figures` from the result files present; returns the entries kept from before."""
    data = json.loads(figures.read_text(encoding="utf-8")) if figures.exists() else {}
    kept = []
    for section, files in SOURCES.items():
        for key, name in files.items():
            path = results / name
            if not path.is_file():
                if key in data.get(section, {}):
                    kept.append(f"{section}.{key}")
                continue
            doc = json.loads(path.read_text(encoding="utf-8"))
            data.setdefault(section, {})[key] = EXTRACT[section](doc)
    figures.write_text(
        json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    return kept


# ------------------------------------------------------------------------------------------ tables


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(
    header: tuple[str, ...],
    named: tuple[tuple[str, str], ...],
    figures: dict[str, Any],
    cells: Callable[[dict[str, Any]], list[str]],
) -> list[str]:
    """A Markdown table: `header`, then for each (key, name) in `named` that `figures` holds, the row `name`
    and `cells(figures[key])`."""
    lines = [_row(*header), _row(*["---"] * len(header))]
    for key, name in named:
        if figures.get(key):
            lines.append(_row(name, *cells(figures[key])))
    return lines


LANGUAGES = (("hi", "Hindi"), ("en", "English"))


def _table_reader(f: dict[str, Any]) -> list[str]:
    return _table(
        ("questions", "n", "F1", "EM", "contains", "abstained", "F1 never abstaining", "read p50 / p95"),
        (
            ("hi", "Hindi, all articles"),
            ("hi_test", "Hindi, articles 10–47 (never tuned on)"),
            ("en", "English over the Hindi paragraphs, all"),
            ("en_test", "English, articles 10–47 (never tuned on)"),
        ),
        f,
        lambda r: [
            str(r["questions"]),
            _num(r["f1"]),
            _num(r["em"]),
            _num(r["contains"]),
            f"{r['abstained']:.1f}%",
            _num(r["f1_never_abstaining"]),
            f"{r['p50_ms']:.0f} / {r['p95_ms']:.0f} ms",
        ],
    )


def _table_e2e(f: dict[str, Any]) -> list[str]:
    return _table(
        ("questions", "R@1", "R@5", "EM", "F1", "contains", "false abstentions", "ask p50 / p95 ms"),
        LANGUAGES,
        f,
        lambda r: [
            *(_num(r[k], 3) for k in ("r1", "rk", "em", "f1", "contains")),
            _pct(r["false_abstention"]),
            f"{r['p50_ms']:.0f} / {r['p95_ms']:.0f}",
        ],
    )


def _table_abstention(f: dict[str, Any]) -> list[str]:
    return _table(
        (
            "questions",
            "abstains, article absent",
            "false abstentions, article present",
            "F1, article present",
            "ROC AUC of the confidence",
        ),
        (
            ("hi", "Hindi, all articles"),
            ("hi_test", "Hindi, articles 10–47 (never tuned on)"),
            ("en", "English, all articles"),
            ("en_test", "English, articles 10–47 (never tuned on)"),
        ),
        f,
        lambda r: [
            f"{r['abstention_outside']:.1f}% ({r['outside_questions']})",
            f"{r['false_abstention_inside']:.1f}% ({r['inside_questions']})",
            _num(r["f1_inside"]),
            "–" if r.get("auc") is None else f"{r['auc']:.3f}",
        ],
    )


def _table_seed(f: dict[str, Any]) -> list[str]:
    return _table(
        ("set", "questions", "contains", "EM", "F1", "abstains, unanswerable", "false abstentions", "R@1"),
        (
            ("test", "`eval/seed_test.jsonl` — test set, never tuned on"),
            ("tuning", "`eval/seed_dev.jsonl` — tuning set"),
        ),
        f,
        lambda r: [
            f"{r['answerable']} + {r['unanswerable']} unanswerable",
            *(_num(r[k], 3) for k in ("contains", "em", "f1")),
            f"{r['abstained_unanswerable']} of {r['unanswerable']}",
            f"{r['false_abstentions']} of {r['answerable']}",
            _num(r["r1"], 3),
        ],
    )


def _table_latency(f: dict[str, Any]) -> list[str]:
    lines = [_row("measure", "value"), _row("---", "---")]
    seed = f.get("seed")
    if seed:
        lines.append(
            _row(
                f"warm `ask()`, seed corpus, {seed['questions']} new questions: p50 / p95",
                f"{seed['new_p50_ms']:.0f} / {seed['new_p95_ms']:.0f} ms",
            )
        )
        lines.append(
            _row(
                "the same questions asked again (query vectors cached): p50 / p95",
                f"{seed['repeat_p50_ms']:.0f} / {seed['repeat_p95_ms']:.0f} ms",
            )
        )
    memory = f.get("memory")
    if memory:
        lines.append(_row("memory the reader adds to the process", f"{memory['reader_adds_mb']} MB"))
    return lines


def _cosine(other: dict[str, Any], which: str) -> str:
    # Results written before the int8 model became the default name torch's vectors "the default's".
    value = other.get(f"cosine_to_baseline_{which}", other.get(f"cosine_to_default_{which}"))
    return f"{value:.4f}"


def _table_scale(f: dict[str, Any]) -> list[str]:
    lines = [_row("measure (one thread)", "before", "now"), _row("---", "---", "---")]
    whole = f.get("qa_build")
    if whole:
        before, now = whole["indexes"]["before"], whole["indexes"]["now"]
        lines.append(
            _row(
                f"`qa build` of XQuAD-hi's {whole['articles']} paragraphs as articles ({now['passages']} passages), "
                f"from launch to exit: commit {whole['before_commit']} (`{before['model']}`, torch fp32, article by "
                f"article) → now (`{now['model']}`, fewest tokens first)",
                f"{whole['seconds']['before']:.0f} s",
                f"{whole['seconds']['now']:.0f} s (**{whole['speedup']:.2f}×**)",
            )
        )
    build = f.get("build")
    if build:
        before, now = build["orders"]["article by article"], build["orders"]["shortest first"]
        lines.append(
            _row(
                f"embedding an index of XQuAD-hi ({build['passages']} passages, {build['sentences']:,} sentence "
                f"windows: {build['texts_embedded']:,} texts), article by article → fewest tokens first; "
                f"tokens computed per real token",
                f"{before['seconds']:.0f} s; {before['padded_tokens_per_token']:.2f}",
                f"{now['seconds']:.0f} s (**{build['speedup']:.2f}×**); {now['padded_tokens_per_token']:.2f}",
            )
        )
        for model, other in build.get("also", {}).items():
            backend = model.partition("@")[2]
            lines.append(
                _row(
                    f"the same texts, fewest tokens first, on `@{backend}` (cosine to torch fp32's vectors: "
                    f"mean {_cosine(other, 'mean')}, min {_cosine(other, 'min')})",
                    f"{before['seconds']:.0f} s",
                    f"{other['seconds']:.0f} s (**{other['vs_article_by_article']:.2f}×**; "
                    f"{other['vs_shortest_first']:.2f}× fewest tokens first on torch)",
                )
            )
    memory = f.get("memory")
    if memory:
        by = {r["mode"]: r for r in memory["results"]}
        before, now = by["in-memory"], by["mapped"]
        size = f"{memory['passages']:,} passages + {memory['sentences']:,} sentence rows"
        lines.append(
            _row(
                f"memory of the vector side, {size} ({' / '.join(memory['index_kinds'])}): vector files read "
                f"in → memory-mapped, re-scored from the index",
                f"{before['vector_side_mb'] / 1024:.2f} GB",
                f"**{now['vector_side_mb'] / 1024:.2f} GB**",
            )
        )
        lines.append(
            _row(
                "one query at that size (both indexes' top 50, candidates re-scored): p50 / p95",
                f"{before['query_p50_ms']:.1f} / {before['query_p95_ms']:.1f} ms",
                f"{now['query_p50_ms']:.1f} / {now['query_p95_ms']:.1f} ms",
            )
        )
    serving, before = f.get("serving"), f.get("serving_before")
    if serving and before:
        size = (
            f"{serving['passages']:,} passages of {serving['articles']:,} articles + {serving['sentences']:,} "
            f"sentence rows"
        )
        lines.append(
            _row(
                f"memory of the whole loaded index, {size} (texts, records, BM25, both FAISS indexes; "
                f"`Retriever.load`): texts and records as Python objects → texts read from disk when asked for",
                f"{before['index_mb'] / 1024:.2f} GB",
                f"**{serving['index_mb'] / 1024:.2f} GB**",
            )
        )
        lines.append(
            _row(
                "one hybrid search at that size (`Retriever.search`, top 5 with their texts): p50 / p95; load",
                f"{before['search_p50_ms']:.1f} / {before['search_p95_ms']:.1f} ms; {before['load_s']:.0f} s",
                f"{serving['search_p50_ms']:.1f} / {serving['search_p95_ms']:.1f} ms; {serving['load_s']:.0f} s",
            )
        )
    return lines


def _table_retrieval(f: dict[str, Any]) -> list[str]:
    rows = (
        ("lexical", "BM25"),
        ("dense-chunks", "dense, passage vectors only"),
        ("dense", "dense, passage + best sentence"),
        ("hybrid", "hybrid, deployed weights"),
        ("hybrid/{}/cross-validated", "**hybrid, cross-validated**"),
    )
    lines = [
        _row("", "Hindi R@1", "R@5", "MRR@10", "English R@1", "R@5", "MRR@10", "build", "search p50 / p95"),
        _row(*["---"] * 9),
    ]
    for backend, label in (
        ("torch", "torch fp32 (before)"),
        ("int8", "ONNX int8 (`@onnx-int8`)"),
        ("openvino", "OpenVINO int8 (`@openvino-int8`, default)"),
    ):
        r = f.get(backend)
        if not r:
            continue
        for key, name in rows:
            cells = []
            for lang in ("hi", "en"):
                m = r[key.format(lang) if "{}" in key else f"{key}/{lang}"]
                cells += [_num(m["recall@1"], 3), _num(m["recall@5"], 3), _num(m["mrr@10"], 3)]
            last = key.startswith("hybrid/")
            extra = (
                [f"{r['build_s']:.0f} s", f"{r['search_p50_ms']:.0f} / {r['search_p95_ms']:.0f} ms"]
                if last
                else ["", ""]
            )
            lines.append(_row(f"{label}: {name}", *cells, *extra))
    return lines


TABLES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "retrieval": _table_retrieval,
    "reader": _table_reader,
    "e2e": _table_e2e,
    "abstention": _table_abstention,
    "seed": _table_seed,
    "latency": _table_latency,
    "scale": _table_scale,
}
_BLOCK = re.compile(r"(<!-- figures:(\w+) -->\n)(.*?)(<!-- /figures:\2 -->)", re.DOTALL)


def render_text(readme: str, figures: dict[str, Any]) -> str:
    """`readme` with every figures block replaced by the table of its section."""

    def block(m: re.Match[str]) -> str:
        name = m.group(2)
        if name not in TABLES:
            raise SystemExit(f"README.md has a figures block {name!r}; known: {', '.join(TABLES)}")
        return m.group(1) + "\n".join(TABLES[name](figures.get(name, {}))) + "\n" + m.group(4)

    return _BLOCK.sub(block, readme)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=("collect", "render", "check"))
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--figures", type=Path, default=FIGURES)
    ap.add_argument("--readme", type=Path, default=README)
    args = ap.parse_args(argv)
    if args.action == "collect":
        kept = collect(args.results, args.figures)
        print(f"wrote {args.figures}" + (f"; kept earlier figures for {', '.join(kept)}" if kept else ""))
        return 0
    figures = json.loads(args.figures.read_text(encoding="utf-8"))
    readme = args.readme.read_text(encoding="utf-8")
    rendered = render_text(readme, figures)
    if args.action == "render":
        args.readme.write_text(rendered, encoding="utf-8")
        return 0
    if rendered != readme:
        print(
            f"{args.readme}: the figure tables differ from {args.figures}; run `python benchmarks/figures.py "
            "render` (or `make bench`)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
