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


def fit_logistic(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """(scale, bias) of P(y=1 | x) = sigmoid(scale·x + bias) by Newton's method (slightly L2-regularised so
    separable data stays finite)."""
    w = np.zeros(2)
    X = np.stack([x, np.ones_like(x)], axis=1)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(X @ w, -50, 50)))
        grad = X.T @ (p - y) + 1e-3 * w
        hess = X.T @ (X * (p * (1 - p))[:, None]) + 1e-3 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), float(w[1])


def pick_threshold(pos_conf: np.ndarray, max_false_abstention: float) -> float:
    """The highest threshold under which at most `max_false_abstention` of `pos_conf` fall."""
    ranked = np.sort(pos_conf)
    allowed = int(np.floor(max_false_abstention * len(ranked)))
    return float(ranked[allowed]) if allowed < len(ranked) else float(ranked[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="the training run folder (held_out.jsonl)")
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
        "--end-to-end",
        action="store_true",
        help="fit the language thresholds on answers as the assistant gives them (retrieval over all of "
        "XQuAD-hi's paragraphs, k=5), not on reads of the gold paragraph",
    )
    args = ap.parse_args(argv)

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
    write_manifest(manifest_path, manifest)  # the assistant of --end-to-end reads confidences with this fit
    from benchmarks._xquad import TUNE_ARTICLES, load_xquad

    for lang in args.language_threshold:
        paragraphs, questions = load_xquad("hi", lang)
        tune = [q for q in questions if q.article < TUNE_ARTICLES]
        if args.end_to_end:
            confidences = end_to_end_confidences(args.weights, paragraphs, [q.question for q in tune])
        else:
            passage_of = {doc_id: body for doc_id, _, body in paragraphs}
            margins = np.array([reader.margins(q.question, [passage_of[q.doc_id]])[0][0] for q in tune])
            confidences = conf(margins)
        by_language[lang] = pick_threshold(confidences, args.max_false_abstention)
    if by_language:
        calibration["threshold_by_language"] = by_language
        how = (
            "answers of the assistant (retrieval over all XQuAD-hi paragraphs, k=5)"
            if args.end_to_end
            else "reads of the gold paragraph"
        )
        calibration["method"] = str(calibration["method"]) + (
            f"; for {', '.join(sorted(by_language))} questions the same rule on the {how} for the "
            f"questions of XQuAD-hi articles 0-{TUNE_ARTICLES - 1} (the tuning split)"
        )
    manifest["calibration"] = calibration
    write_manifest(manifest_path, manifest)
    print(json.dumps(calibration, indent=1))
    return 0


def end_to_end_confidences(
    weights: Path, paragraphs: list[tuple[str, str, str]], questions: list[str]
) -> np.ndarray:
    """The confidence of each question's answer as the deployed assistant gives it over all `paragraphs`
    (abstentions included: their confidence is below any threshold that would keep them)."""
    import tempfile

    from qa.config import Settings
    from qa.pipeline import Assistant
    from qa.types import Document

    docs = [Document(id=d, title=t, text=b, source=f"xquad.hi.json#{d}") for d, t, b in paragraphs]
    settings = Settings.from_env(reader=f"trained:{weights}", top_k=5)
    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant.for_documents(
            docs, index_dir=Path(tmp) / "index", settings=settings, progress=False
        )
        return np.array([assistant.ask(q).confidence for q in questions])


def write_manifest(path: Path, manifest: dict) -> None:
    write_atomic(path, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
