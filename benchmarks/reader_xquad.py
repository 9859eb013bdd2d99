"""The default reader on XQuAD-hi with the gold paragraph given: how good are its spans, how fast is it?

Every question is read against its own paragraph, wrapped as the only retrieved hit (so retrieval plays no
part). Reported: exact match and token F1 (`qa.metrics`: every Unicode punctuation mark incl. ``।`` ``॥``
removed, case and whitespace folded, as MLQA does), the contains-answer rate, the abstention rate (every
question is answerable here, so each abstention is a miss; the F1 of the spans when the reader never abstains
is reported too), and read latency per question (model loaded;
a paragraph's sentences are embedded by its first question and cached for the next ones, as in a warm app).

The reader's rules and weights were adjusted on the first 20% of the articles (``--split tune``, articles
0-9); the figures to quote are those of the other 80% (``--split test``, the default), never looked at
while tuning. Anchor: zero-shot multilingual BERT fine-tuned on English SQuAD reaches F1 59.2 / EM 46.0 on
XQuAD-hi (XTREME); this reader has no QA model at all.

    .venv/bin/python benchmarks/reader_xquad.py                 # test split, writes benchmarks/results/
    .venv/bin/python benchmarks/reader_xquad.py --split tune --limit 100
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._xquad import REPO, load_xquad  # noqa: E402
from qa import metrics as M  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.language import detect_language, question_type  # noqa: E402
from qa.reader import DEFAULT_ABSTAIN_THRESHOLD, ExtractiveReader  # noqa: E402
from qa.types import Chunk, Hit  # noqa: E402

TUNE_ARTICLES = 10  # the first 20% of XQuAD's 48 articles


def gold_hit(doc_id: str, title: str, text: str) -> Hit:
    return Hit(
        chunk=Chunk(id=f"{doc_id}#0", doc_id=doc_id, text=text, start=0, end=len(text)),
        title=title,
        date=None,
        score=1.0,
    )


def run(split: str, limit: int | None, model: str, cache_dir: Path, reader_spec: str) -> dict:
    from embeddings.encoder import load_encoder
    from qa.hf_readers import build_reader

    paragraphs, questions = load_xquad("hi")
    if split == "tune":
        questions = [q for q in questions if q.article < TUNE_ARTICLES]
    elif split == "test":
        questions = [q for q in questions if q.article >= TUNE_ARTICLES]
    if limit:
        questions = questions[:limit]
    by_id = {doc_id: (title, text) for doc_id, title, text in paragraphs}
    encoder = load_encoder(model, cache_dir)
    threshold = None
    if reader_spec == "extractive":
        # Read without abstaining and apply the threshold afterwards: one pass gives both the span quality
        # and the figures as deployed.
        reader = ExtractiveReader(encoder, abstain_threshold=0.0)
        threshold = DEFAULT_ABSTAIN_THRESHOLD
    else:
        reader = build_reader(reader_spec, encoder)
    reader.read("गर्म करना", [gold_hit("warm", "warm", "यह एक वाक्य है।")], language="hi")  # load lazily
    em, f1, contains, abstained, latency, span_em, span_f1 = [], [], [], [], [], [], []
    by_type: dict[str, list[float]] = {}
    for n, q in enumerate(questions, 1):
        title, text = by_id[q.doc_id]
        t0 = time.perf_counter()
        answer = reader.read(
            q.question, [gold_hit(q.doc_id, title, text)], language=detect_language(q.question)
        )
        latency.append((time.perf_counter() - t0) * 1000)
        span_em.append(M.exact_match("" if answer.abstained else answer.text, q.answers))
        span_f1.append(M.token_f1("" if answer.abstained else answer.text, q.answers))
        abstains = answer.abstained or (threshold is not None and answer.confidence < threshold)
        prediction = "" if abstains else answer.text
        em.append(M.exact_match(prediction, q.answers))
        f1.append(M.token_f1(prediction, q.answers))
        contains.append(M.contains_answer(prediction, q.answers))
        abstained.append(abstains)
        by_type.setdefault(question_type(q.question), []).append(span_f1[-1])
        if n % 100 == 0:
            print(f"  {n}/{len(questions)}  F1 {100 * M.mean(f1):.1f}", file=sys.stderr)
    return {
        "benchmark": "reader_xquad",
        "split": split,
        "articles": "0-9" if split == "tune" else ("10-47" if split == "test" else "0-47"),
        "questions": len(questions),
        "reader": reader_spec,
        "model": model,
        "exact_match": 100 * M.mean(em),
        "f1": 100 * M.mean(f1),
        "contains_answer": 100 * M.mean(contains),
        "abstention_rate": 100 * M.mean(abstained),
        "abstain_threshold": threshold,
        "never_abstaining": {"exact_match": 100 * M.mean(span_em), "f1": 100 * M.mean(span_f1)},
        "read_latency_p50_ms": M.percentile(latency, 50),
        "read_latency_p95_ms": M.percentile(latency, 95),
        "f1_by_question_type_never_abstaining": {
            k: {"n": len(v), "f1": 100 * M.mean(v)} for k, v in sorted(by_type.items())
        },
        "anchor_mbert_zero_shot": {"f1": 59.2, "exact_match": 46.0},
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--split",
        choices=("test", "tune", "all"),
        default="test",
        help="test: articles 10-47 (report these); tune: articles 0-9 (used for tuning)",
    )
    ap.add_argument("--limit", type=int, default=None, help="read only the first N questions")
    ap.add_argument("--reader", default="extractive", help="reader spec (see qa.hf_readers.build_reader)")
    ap.add_argument("--model", default=Settings().model)
    ap.add_argument("--cache-dir", type=Path, default=Settings.from_env().cache_dir)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args(argv)
    report = run(args.split, args.limit, args.model, args.cache_dir, args.reader)
    rows = [
        ("questions", f"{report['questions']}"),
        ("exact match", f"{report['exact_match']:.1f}"),
        ("token F1", f"{report['f1']:.1f}"),
        ("contains answer", f"{report['contains_answer']:.1f}"),
        ("abstained", f"{report['abstention_rate']:.1f}%"),
        (
            "never abstaining",
            f"F1 {report['never_abstaining']['f1']:.1f} / EM {report['never_abstaining']['exact_match']:.1f}",
        ),
        ("read p50 / p95", f"{report['read_latency_p50_ms']:.0f} / {report['read_latency_p95_ms']:.0f} ms"),
        ("mBERT zero-shot", "F1 59.2 / EM 46.0"),
    ]
    print(
        f"\nXQuAD-hi, gold paragraph, split {report['split']} (articles {report['articles']}), "
        f"reader {report['reader']}"
    )
    for name, value in rows:
        print(f"  {name:<18} {value:>18}")
    print(
        "  F1 by question type (never abstaining): "
        + ", ".join(
            f"{k} {v['f1']:.0f} (n={v['n']})"
            for k, v in report["f1_by_question_type_never_abstaining"].items()
        )
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"reader_xquad-{report['reader'].replace(':', '_').replace('/', '_')}-{args.split}.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"  written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
