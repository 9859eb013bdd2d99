"""Does the assistant abstain when the articles do not hold the answer? XQuAD-hi end to end, split by article.

The corpus is the paragraphs of XQuAD-hi's even-numbered articles (24 of 48). Questions of the odd-numbered
articles have no answer in it: each answer there is a miss ("abstention on questions whose article is not in
the corpus", higher is better). Questions of the even articles do have their paragraph in the corpus: an
abstention there is a false abstention, and their F1 is reported too. Retrieval (k = 5) and the reader are the
deployed ones; Hindi questions, and with `--questions en` XQuAD's English questions of the same ids.
`--split test` asks only the questions of articles 10-47 (the corpus stays the same): the reader's
retrieval-aware confidence was fitted on articles 0-9 (training/calibrate.py --with-retrieval).

    .venv/bin/python benchmarks/abstention_xquad.py [--questions en] [--every 2] [--split test] [--reader trained]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._report import report as write_report  # noqa: E402
from benchmarks._xquad import REPO, TUNE_ARTICLES, load_xquad  # noqa: E402
from qa import metrics as M  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.types import Document  # noqa: E402


def run(questions_lang: str, every: int, reader: str, k: int, split: str = "all") -> dict:
    from qa.pipeline import Assistant

    paragraphs, questions = load_xquad("hi", questions_lang)
    article_of = {q.doc_id: q.article for q in questions}
    docs = [
        Document(id=doc_id, title=title, text=text, source=f"xquad.hi.json#{doc_id}")
        for doc_id, title, text in paragraphs
        if article_of.get(doc_id, 1) % 2 == 0
    ]
    settings = Settings.from_env(reader=reader, top_k=k)
    index_dir = settings.cache_dir / "bench-index" / f"xquad-even-articles-{settings.model.replace(':', '_')}"
    t0 = time.perf_counter()
    assistant = Assistant.for_documents(docs, index_dir=index_dir, settings=settings, progress=False)
    build_s = time.perf_counter() - t0
    asked = [q for q in questions if split == "all" or q.article >= TUNE_ARTICLES]
    inside = [q for q in asked if q.article % 2 == 0][::every]
    outside = [q for q in asked if q.article % 2 == 1][::every]
    miss, f1, false_abstain, latency = [], [], [], []
    conf_outside, conf_inside = [], []
    for q in outside:
        a = assistant.ask(q.question)
        miss.append(not a.abstained)
        conf_outside.append(a.confidence)
        latency.append(a.timings_ms["total"])
    for q in inside:
        a = assistant.ask(q.question)
        false_abstain.append(a.abstained)
        conf_inside.append(a.confidence)
        f1.append(M.token_f1("" if a.abstained else a.text, q.answers))
        latency.append(a.timings_ms["total"])
    return {
        "benchmark": "abstention_xquad",
        "questions_language": questions_lang,
        "split": split,
        "reader": reader,
        "k": k,
        "corpus_paragraphs": len(docs),
        "index_s": build_s,
        "outside_questions": len(outside),
        "abstention_outside": 100 * (1 - (M.mean(miss) or 0)),
        "inside_questions": len(inside),
        "false_abstention_inside": 100 * (M.mean(false_abstain) or 0),
        "f1_inside": 100 * (M.mean(f1) or 0),
        "ask_p50_ms": M.percentile(latency, 50),
        "ask_p95_ms": M.percentile(latency, 95),
        "separation": separation(conf_inside, conf_outside),
    }


def separation(inside: list[float], outside: list[float]) -> dict:
    """How well the reader's confidence tells the two groups apart, whatever the threshold: at the
    thresholds where 2, 5 and 10% of the answerable questions would abstain, the share of the article-absent
    ones that would. A diagnostic of the model; the deployed thresholds come from training/calibrate.py,
    never from these questions.
    """
    ins = np.sort(np.asarray(inside, dtype=np.float64))
    out = np.asarray(outside, dtype=np.float64)
    if not len(ins) or not len(out):
        return {}
    rows = {}
    for rate in (2, 5, 10):
        threshold = float(ins[min(len(ins) - 1, int(np.floor(rate / 100 * len(ins))))])
        rows[f"abstention_outside_at_{rate}pct_false"] = 100 * float(np.mean(out < threshold))
    # The chance that an absent-article question scores below an answerable one (ROC AUC).
    below = (out[:, None] < ins[None, :]).mean() + 0.5 * (out[:, None] == ins[None, :]).mean()
    rows["auc"] = float(below)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", choices=("hi", "en"), default="hi")
    ap.add_argument("--every", type=int, default=1, help="ask every Nth question of each group")
    ap.add_argument("--reader", default=Settings().reader)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--split", choices=("all", "test"), default="all", help="test: articles 10-47 only")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args(argv)
    report = run(args.questions, args.every, args.reader, args.k, args.split)
    tag = args.reader.replace(":", "_").replace("/", "_")[-60:]
    suffix = "" if args.split == "all" else f"-{args.split}"
    write_report(report, args.out / f"abstention_xquad-{tag}-{args.questions}{suffix}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
