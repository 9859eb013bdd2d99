"""A reader on XQuAD-hi with the gold paragraph given: how good are its spans, how fast is it?

Every question is read against its own Hindi paragraph, wrapped as the only retrieved hit (so retrieval plays
no part); `--questions en` asks XQuAD's English questions of the same ids over the Hindi paragraphs (answers
stay Hindi). Reported: exact match and token F1 (`qa.metrics`: every Unicode punctuation mark incl. ``।``
removed, case and whitespace folded, as MLQA does), the contains-answer rate, the abstention rate (every
question is answerable here, so each abstention is a miss), the F1 of the spans when the reader never
abstains, and read latency per question (model loaded).

XQuAD never enters training (training/config.json leaves out even the SQuAD translations it comes from), so
all 48 articles are out of sample for the trained reader; the rule reader was tuned on articles 0-9
(`--split test` reports it on the others). Anchors: zero-shot multilingual BERT 59.2 F1 / 46.0 EM, XLM-R large
76.7 F1 (XTREME).

    .venv/bin/python benchmarks/reader_xquad.py                          # trained reader, Hindi questions
    .venv/bin/python benchmarks/reader_xquad.py --questions en
    .venv/bin/python benchmarks/reader_xquad.py --reader trained:/path/to/export --limit 300
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._xquad import REPO, TUNE_ARTICLES, load_xquad  # noqa: E402
from qa import metrics as M  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.language import detect_language, question_type  # noqa: E402
from qa.types import Chunk, Hit  # noqa: E402


def gold_hit(doc_id: str, title: str, text: str) -> Hit:
    return Hit(
        chunk=Chunk(id=f"{doc_id}#0", doc_id=doc_id, text=text, start=0, end=len(text)),
        title=title,
        date=None,
        score=1.0,
    )


def run(
    split: str,
    limit: int | None,
    model: str,
    cache_dir: Path,
    reader_spec: str,
    questions_lang: str,
    every: int = 1,
    options: dict | None = None,
) -> dict:
    from embeddings.encoder import load_encoder
    from qa.readers.registry import build_reader

    paragraphs, questions = load_xquad("hi", questions_lang)
    if split == "tune":
        questions = [q for q in questions if q.article < TUNE_ARTICLES]
    elif split == "test":
        questions = [q for q in questions if q.article >= TUNE_ARTICLES]
    questions = questions[::every]
    if limit:
        questions = questions[:limit]
    by_id = {doc_id: (title, text) for doc_id, title, text in paragraphs}
    encoder = load_encoder(model, cache_dir)
    reader = build_reader(reader_spec, encoder, cache_dir=cache_dir, **(options or {}))
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
        prediction = "" if answer.abstained else answer.text
        em.append(M.exact_match(prediction, q.answers))
        f1.append(M.token_f1(prediction, q.answers))
        contains.append(M.contains_answer(prediction, q.answers))
        abstained.append(answer.abstained)
        # The span the reader would give if it never abstained (readers keep it out of an abstention).
        span = _unabstained(reader, q.question, title, text, q.doc_id) if answer.abstained else answer.text
        span_em.append(M.exact_match(span, q.answers))
        span_f1.append(M.token_f1(span, q.answers))
        by_type.setdefault(question_type(q.question), []).append(span_f1[-1])
        if n % 100 == 0:
            print(f"  {n}/{len(questions)}  F1 {100 * (M.mean(f1) or 0):.1f}", file=sys.stderr)
    return {
        "benchmark": "reader_xquad",
        "split": split,
        "questions_language": questions_lang,
        "questions": len(questions),
        "reader": reader_spec,
        "reader_options": options or {},
        "model": model,
        "exact_match": 100 * (M.mean(em) or 0),
        "f1": 100 * (M.mean(f1) or 0),
        "contains_answer": 100 * (M.mean(contains) or 0),
        "abstention_rate": 100 * (M.mean(abstained) or 0),
        "never_abstaining": {"exact_match": 100 * (M.mean(span_em) or 0), "f1": 100 * (M.mean(span_f1) or 0)},
        "read_latency_p50_ms": M.percentile(latency, 50),
        "read_latency_p95_ms": M.percentile(latency, 95),
        "f1_by_question_type_never_abstaining": {
            k: {"n": len(v), "f1": 100 * (M.mean(v) or 0)} for k, v in sorted(by_type.items())
        },
        "anchors": {"mbert_zero_shot_f1": 59.2, "xlmr_large_f1": 76.7},
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
    }


def _unabstained(reader: object, question: str, title: str, text: str, doc_id: str) -> str:
    margins = getattr(reader, "margins", None)
    if margins is None:  # readers without a scored span: an abstention gives no span
        return ""
    return str(margins(question, [text])[0][1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--split",
        choices=("test", "tune", "all"),
        default="all",
        help="all: the 48 articles (default); test/tune: articles 10-47 / 0-9 (the rule reader's)",
    )
    ap.add_argument("--questions", choices=("hi", "en"), default="hi", help="the language of the questions")
    ap.add_argument("--limit", type=int, default=None, help="read only the first N questions")
    ap.add_argument("--every", type=int, default=1, help="read every Nth question (a spread-out sample)")
    ap.add_argument("--reader", default="trained", help="reader spec (see qa.readers.registry)")
    ap.add_argument("--model", default=Settings().model)
    ap.add_argument("--cache-dir", type=Path, default=Settings.from_env().cache_dir)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args(argv)
    options: dict = {}
    report = run(
        args.split, args.limit, args.model, args.cache_dir, args.reader, args.questions, args.every, options
    )
    nev = report["never_abstaining"]
    print(
        f"\nXQuAD-hi, gold paragraph, {report['questions_language']} questions, split {report['split']}, "
        f"reader {report['reader']}"
    )
    for name, value in (
        ("questions", f"{report['questions']}"),
        ("exact match", f"{report['exact_match']:.1f}"),
        ("token F1", f"{report['f1']:.1f}"),
        ("contains answer", f"{report['contains_answer']:.1f}"),
        ("abstained", f"{report['abstention_rate']:.1f}%"),
        ("never abstaining", f"F1 {nev['f1']:.1f} / EM {nev['exact_match']:.1f}"),
        ("read p50 / p95", f"{report['read_latency_p50_ms']:.0f} / {report['read_latency_p95_ms']:.0f} ms"),
    ):
        print(f"  {name:<18} {value:>18}")
    args.out.mkdir(parents=True, exist_ok=True)
    tag = report["reader"].replace(":", "_").replace("/", "_")[-60:]
    path = args.out / f"reader_xquad-{tag}-{args.questions}-{args.split}.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"  written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
