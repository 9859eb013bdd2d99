"""How an evaluation report is shown: the figure (PNG) and the console tables of `qa evaluate`.

Presentation only; the numbers come from `qa.evaluate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa.evaluate import EvalReport, compare_metrics


def render_figure(report: EvalReport, *, title: str | None = None) -> bytes:
    """A PNG: answer quality by question type and by language, and the latency histogram."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.8), dpi=100, layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[3, 1.2, 2])
    for ax, groups, heading in (
        (axes[0], report.by_question_type, "By question type"),
        (axes[1], report.by_language, "By question language"),
    ):
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


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    if key.endswith("_ms"):
        return f"{value:,.1f} ms" if abs(value) < 100 else f"{value:,.0f} ms"
    return f"{value:.3f}"


def print_summary(report: EvalReport, console: Any, *, title: str = "Evaluation") -> None:
    from rich.table import Table

    console.print(
        f"[bold]{title}[/]: {report.counts['questions']} questions ({report.counts['answerable']} "
        f"answerable, {report.counts['unanswerable']} unanswerable, {report.counts['followups']} "
        f"follow-ups), k={report.k}, {report.wall_s:.1f} s"
    )
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
            groups.add_row(
                f"{prefix}: {name}",
                str(g["answerable"]),
                _fmt("", m.get("contains_answer")),
                _fmt("", m.get("f1")),
                _fmt("", m.get("exact_match")),
                _fmt("", m.get("recall@k")),
                f"{m['latency_p50_ms']:,.0f}" if "latency_p50_ms" in m else "–",
            )
    console.print(groups)


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
    for what, path in (
        ("data file", ("dataset", "fingerprint")),
        ("--questions-from file", ("dataset", "questions_from")),
        ("k", ("k",)),
        ("model", ("model",)),
        ("reader", ("settings", "reader")),
        ("number of questions", ("counts", "questions")),
    ):
        va, vb = _dig(old_doc, path), _dig(new_doc, path)
        if va != vb:
            console.print(
                f"[yellow]note:[/] the {what} differs ({escape(str(va))} → {escape(str(vb))}); "
                "the numbers may not be comparable."
            )
    if old_doc.get("complete") is False:
        console.print("[yellow]note:[/] the old report is marked incomplete.")


def _dig(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)  # type: ignore[assignment]
    return doc
