"""The Assistant: retrieval + reader behind one object. `from_settings()` is the ONE place real models are
built; everything below takes an encoder/reader object, so tests hand in small ones."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from embeddings.encoder import Encoder, load_encoder
from embeddings.errors import EmbeddingModelError
from qa.config import Settings
from qa.corpus import (
    SUPPORTED_SUFFIXES,
    corpus_files,
    corpus_fingerprint,
    load_corpus,
    load_document,
    slugify,
)
from qa.errors import (
    ArticleNotFoundError,
    CorpusError,
    EmptyQuestionError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IndexReadOnlyError,
    ModelError,
    QuestionError,
    QuestionTooLongError,
)
from qa.files import write_atomic
from qa.followup import needs_history, normalise_history, resolve_followup
from qa.index_build import Embedder
from qa.language import FOLLOWUP_MESSAGES, detect_language
from qa.readers.base import Reader
from qa.readers.registry import build_reader
from qa.records import article_infos
from qa.retriever import EmbedProgress, IndexParams, IngestReport, Retriever, writer_lock
from qa.types import Answer, ArticleInfo, Document, Hit, Source

# Warnings reach the terminal without configuration (logging's last-resort handler): one line each.
log = logging.getLogger("samachar")


def params_for(settings: Settings, encoder: Encoder) -> IndexParams:
    return IndexParams(
        model=encoder.model_id,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap_sentences=settings.chunk_overlap_sentences,
    )


def make_encoder(settings: Settings) -> Encoder:
    try:
        return load_encoder(settings.model, settings.cache_dir)
    except EmbeddingModelError as exc:
        raise ModelError(str(exc)) from exc


def open_or_build(
    index_dir: Path,
    documents: Sequence[Document],
    encoder: Encoder,
    params: IndexParams,
    *,
    progress: bool = False,
    repair: bool = True,
) -> Retriever:
    """The index in `index_dir` for exactly these documents: loaded when its manifest matches, updated
    incrementally when the documents changed, rebuilt when missing (or mismatched/corrupt and `repair`).
    The old index stays live until the new one is complete. A read-only index folder is served as it is
    (with a note when it no longer matches the corpus)."""
    try:
        with writer_lock(index_dir):
            return _open_or_build_locked(
                index_dir, documents, encoder, params, progress=progress, repair=repair
            )
    except IndexReadOnlyError:
        retriever = Retriever.load(index_dir, encoder, params)  # missing, corrupt or mismatched: says so
        if retriever.manifest.get("corpus_fingerprint") != corpus_fingerprint(documents):
            log.warning(
                "Answering from the read-only index in %s as it is: %s",
                index_dir,
                _corpus_change(retriever, documents),
            )
        return retriever


def _open_or_build_locked(
    index_dir: Path,
    documents: Sequence[Document],
    encoder: Encoder,
    params: IndexParams,
    *,
    progress: bool,
    repair: bool,
) -> Retriever:
    previous: Retriever | None = None
    try:
        previous = Retriever.load(index_dir, encoder, params)
    except IndexMissingError:
        pass
    except (IndexMismatchError, IndexCorruptError) as exc:
        if not repair:
            raise
        log.warning("Rebuilding the index in %s: %s", index_dir, exc)
    if previous is not None and previous.manifest.get("corpus_fingerprint") == corpus_fingerprint(documents):
        return previous
    if previous is not None:
        log.warning("Updating the index in %s: %s", index_dir, _corpus_change(previous, documents))
    retriever = Retriever.build(documents, encoder, params, progress=progress, previous=previous)
    retriever.save(index_dir)
    return retriever


def _corpus_change(previous: Retriever, documents: Sequence[Document]) -> str:
    """What changed in the corpus since `previous` was built, in words (e.g. an ingest interrupted after its
    file was copied leaves an article the index lacks)."""
    old = {doc_id: d.text for doc_id, d in previous.documents.items()}
    new = {d.id: d.text for d in documents}
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(k for k in set(new) & set(old) if new[k] != old[k])
    parts = [
        f"{label} {', '.join(ids[:3])}{' …' if len(ids) > 3 else ''}"
        for label, ids in (("new:", added), ("changed:", changed), ("removed:", removed))
        if ids
    ]
    return (
        "the articles differ from those indexed ("
        + "; ".join(parts or ["titles or dates"])
        + "); only new or changed passages are embedded"
    )


class Assistant:
    """Answers questions over one corpus. Safe to share across threads: searches only read, and an ingest
    swaps in a complete new retriever under a lock."""

    def __init__(
        self, retriever: Retriever, reader: Reader, settings: Settings, *, index_dir: Path | None = None
    ) -> None:
        self.retriever = retriever
        self.reader = reader
        self.settings = settings
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self._write_lock = threading.Lock()

    # -------------------------------------------------------------- construction
    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        progress: bool = True,
        encoder: Encoder | None = None,
        repair: bool = True,
    ) -> Assistant:
        """Load the corpus and its index (built or brought up to date first when needed)."""
        settings = settings or Settings.from_env()
        documents = load_corpus(settings.corpus_dir, max_bytes=settings.max_article_bytes)
        return cls.for_documents(
            documents,
            index_dir=settings.index_dir,
            settings=settings,
            encoder=encoder,
            progress=progress,
            repair=repair,
        )

    @classmethod
    def for_documents(
        cls,
        documents: Sequence[Document],
        *,
        index_dir: Path,
        settings: Settings,
        encoder: Encoder | None = None,
        progress: bool = True,
        repair: bool = True,
    ) -> Assistant:
        encoder = encoder or make_encoder(settings)
        # The reader first: missing or corrupt weights are reported before minutes of indexing.
        reader = build_reader(settings.reader, encoder, cache_dir=settings.cache_dir)
        retriever = open_or_build(
            index_dir, documents, encoder, params_for(settings, encoder), progress=progress, repair=repair
        )
        return cls(retriever, reader, settings, index_dir=index_dir)

    @property
    def encoder(self) -> Encoder:
        return self.retriever.encoder

    @property
    def manifest(self) -> dict[str, Any]:
        return self.retriever.manifest

    def articles(self) -> list[ArticleInfo]:
        """The indexed articles, newest first (undated last), then by title."""
        retriever = self.retriever  # one snapshot
        infos = article_infos(retriever.documents, retriever.chunks)
        infos.sort(key=lambda a: (a.title, a.id))
        infos.sort(key=lambda a: a.date or "", reverse=True)
        return infos

    # -------------------------------------------------------------- asking
    def check_question(self, question: object) -> str:
        """The question NFC-normalised and stripped; raises a QuestionError subclass when unusable."""
        if not isinstance(question, str):
            raise QuestionError(f"The question must be text, not {type(question).__name__}.")
        # Length first: a huge question is refused before any work is done on it.
        if len(question) > self.settings.max_question_chars:
            raise QuestionTooLongError(len(question), self.settings.max_question_chars)
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in question):  # a lone surrogate is not text
            raise QuestionError(
                "The question holds invalid characters (an unpaired surrogate). Please retype it."
            )
        text = unicodedata.normalize("NFC", question).strip()
        # Zero-width and other format characters (U+200B, U+200C/D, U+FEFF) are invisible: a question of only
        # those is empty to the user, whatever the model would make of it.
        if not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text):
            raise EmptyQuestionError("The question is empty. Please type a question.")
        return text

    def search(self, query: str, k: int | None = None) -> list[Hit]:
        return self.retriever.search(self.check_question(query), k or self.settings.top_k)

    def ask(self, question: str, history: Sequence[Any] | None = None, *, top_k: int | None = None) -> Answer:
        """Answer `question`; `history` (earlier turns) resolves elliptical follow-ups."""
        t0 = time.perf_counter()
        text = self.check_question(question)
        language = detect_language(text)
        if needs_history(text) and not normalise_history(history):
            # "और अमेरिका की ओर से?" alone names no question: any passage's answer would be a guess.
            return Answer(
                question=text,
                text=FOLLOWUP_MESSAGES[language],
                abstained=True,
                confidence=0.0,
                language=language,
                reader=self.reader.name,
                timings_ms={"total": (time.perf_counter() - t0) * 1000},
            )
        query = resolve_followup(text, history)
        retriever = self.retriever  # one consistent snapshot even if an ingest swaps it meanwhile
        hits = retriever.search(query, top_k or self.settings.top_k)
        t1 = time.perf_counter()
        # The reader scores sentences against the resolved query; `focus` (the follow-up's own words) tells
        # it which part of a sentence the follow-up asks about ("और अमेरिका की ओर से?").
        answer = self.reader.read(query, hits, language=language, focus=text if query != text else None)
        t2 = time.perf_counter()
        return dataclasses.replace(
            answer,
            question=text,
            search_query=query if query != text else None,
            retrieved=tuple(Source.from_hit(h) for h in hits),
            timings_ms={"retrieve": (t1 - t0) * 1000, "read": (t2 - t1) * 1000, "total": (t2 - t0) * 1000},
        )

    # -------------------------------------------------------------- ingest
    def ingest(
        self,
        paths: Sequence[Path],
        *,
        replace: bool = False,
        progress: bool = False,
        on_progress: EmbedProgress | None = None,
        embed: Embedder | None = None,
    ) -> IngestReport:
        """Add articles (or, with `replace`, replace the articles of the same id). Every file is validated
        before anything changes; the files are copied into the corpus folder (so a later rebuild keeps them)
        and the index is updated atomically.

        An article id is one file of the corpus. A file whose id is taken by an article with other text is
        saved under a new name and id ("a.md" beside "a.txt" becomes "a-2.md") unless `replace` is given;
        then the file it replaces leaves the corpus. The same text again, or the corpus file itself, keeps
        its id. `progress` shows bars on the terminal; `on_progress` is told of each embedded batch; `embed`
        embeds the new passages elsewhere (`qa.ray_engine.ray_embedder`).
        """
        documents = [load_document(Path(p), max_bytes=self.settings.max_article_bytes) for p in paths]
        ids = [d.id for d in documents]
        if len(set(ids)) != len(ids):
            raise CorpusError(paths[0], "two of the files would get the same article id; rename one")
        corpus_dir = self.settings.corpus_dir
        with self._writing() as index_dir:
            plan = _name_plan(paths, documents, self.retriever.documents, corpus_dir, replace)
            new, report = self.retriever.with_documents(
                [doc for _, _, doc in plan], progress=progress, on_progress=on_progress, embed=embed
            )
            changes: list[Callable[[], Callable[[], None]]] = []
            for path, name, doc in plan:
                if name is None:
                    continue
                changes.append(functools.partial(_copy_into_corpus, Path(path), corpus_dir, name))
                if replace:
                    changes.extend(
                        functools.partial(_delete_file, other)
                        for other in _other_files(corpus_dir, doc.id, keep=name)
                    )
            self._commit(new, index_dir, changes)
        renamed = tuple(
            (Path(p).name, name) for p, name, _ in plan if name is not None and Path(p).name != name
        )
        return dataclasses.replace(report, renamed=renamed)

    def remove(self, doc_ids: str | Sequence[str]) -> IngestReport:
        """Remove articles by id: from the index (atomically, as `ingest` adds them) and their files from
        the corpus folder.

        Raises:
            ArticleNotFoundError: an id the index does not hold.
            CorpusError: the removal would leave no article (a corpus must hold at least one).
        """
        ids = [doc_ids] if isinstance(doc_ids, str) else list(dict.fromkeys(doc_ids))
        corpus_dir = self.settings.corpus_dir
        with self._writing() as index_dir:
            indexed = self.retriever.documents
            unknown = [doc_id for doc_id in ids if doc_id not in indexed]
            if unknown:
                raise ArticleNotFoundError(
                    f"No article with the id {unknown[0]!r} is indexed; `qa articles` lists the ids."
                )
            if len(ids) >= len(indexed):
                raise CorpusError(
                    corpus_dir,
                    "removing every article would leave the corpus empty; add another article first",
                )
            new, report = self.retriever.with_documents([], remove=ids)
            try:
                files = corpus_files(corpus_dir)
            except CorpusError:  # no corpus folder or no file left in it: nothing to delete there
                files = {}
            # An article whose file has gone already only leaves the index.
            self._commit(
                new,
                index_dir,
                [functools.partial(_delete_file, files[doc_id]) for doc_id in ids if doc_id in files],
            )
        return report

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Path]:
        """Hold this assistant's and the index folder's writer locks; yields the index folder."""
        with self._write_lock:
            index_dir = self.index_dir or self.settings.index_dir
            with writer_lock(index_dir):
                yield index_dir

    def _commit(
        self, new: Retriever, index_dir: Path, changes: Sequence[Callable[[], Callable[[], None]]]
    ) -> None:
        """Make `new` live: apply `changes` to the corpus folder (each returns its undo), then save the index.
        Corpus first, index second: if anything fails the changes are undone, so the corpus and the live
        index never disagree."""
        undo: list[Callable[[], None]] = []
        try:
            for change in changes:
                undo.append(change())
            new.save(index_dir)
        except BaseException:
            for restore in reversed(undo):
                restore()
            raise
        self.retriever = new


def _name_plan(
    paths: Sequence[Path],
    documents: Sequence[Document],
    indexed: Mapping[str, Document],
    corpus_dir: Path,
    replace: bool,
) -> list[tuple[Path, str | None, Document]]:
    """(source file, file name in the corpus or None when nothing is to be copied, document with its final
    id) for each file to ingest."""
    taken = set(indexed) | {d.id for d in documents}
    plan: list[tuple[Path, str | None, Document]] = []
    for path, doc in zip(paths, documents):
        path = Path(path)
        old = indexed.get(doc.id)
        in_place = (corpus_dir / path.name).exists() and (corpus_dir / path.name).resolve() == path.resolve()
        if old is None or replace or in_place:
            plan.append((path, path.name, doc))
            continue
        # The same text again (under this id or one it was given before): nothing to add.
        same = next(
            (
                k
                for k in indexed  # ids first: a loaded index reads an article's text from disk
                if (k == doc.id or k.startswith(f"{doc.id}-")) and indexed[k].text == doc.text
            ),
            None,
        )
        if same is not None:
            plan.append(
                (
                    path,
                    None,
                    dataclasses.replace(
                        doc,
                        id=same,
                        title=indexed[same].title,
                        date=indexed[same].date,
                        source=indexed[same].source,
                    ),
                )
            )
            continue
        n = 2
        while f"{doc.id}-{n}" in taken or any(
            (corpus_dir / f"{doc.id}-{n}{suffix}").exists() for suffix in SUPPORTED_SUFFIXES
        ):
            n += 1
        new_id = f"{doc.id}-{n}"
        taken.add(new_id)
        plan.append((path, f"{new_id}{path.suffix.lower()}", dataclasses.replace(doc, id=new_id)))
    return plan


def _other_files(corpus_dir: Path, doc_id: str, keep: str) -> list[Path]:
    """The corpus files other than `keep` whose names make the article id `doc_id`."""
    if not corpus_dir.is_dir():
        return []
    return [
        other
        for other in sorted(corpus_dir.iterdir())
        if other.name != keep
        and other.is_file()
        and other.suffix.lower() in SUPPORTED_SUFFIXES
        and not other.name.startswith(".")
        and slugify(other.stem) == doc_id
    ]


def _copy_into_corpus(path: Path, corpus_dir: Path, name: str) -> Callable[[], None]:
    """Copy `path` into the corpus folder as `name`, atomically; returns a function that undoes the copy."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = corpus_dir / name
    if target.exists() and target.resolve() == path.resolve():
        return lambda: None
    old = target.read_bytes() if target.exists() else None
    write_atomic(target, path.read_bytes())

    def undo() -> None:
        if old is None:
            target.unlink(missing_ok=True)
        else:
            write_atomic(target, old)

    return undo


def _delete_file(path: Path) -> Callable[[], None]:
    """Delete `path`; returns a function that puts it back."""
    data = path.read_bytes()
    path.unlink()
    return lambda: write_atomic(path, data)


_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    """The process-wide assistant behind `qa.answer()`, built on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Assistant.from_settings(progress=False)
        return _default


def answer(question: str, history: Sequence[Any] | None = None, **options: Any) -> Answer:
    """Answer one question with the process-wide assistant (see `Assistant.ask`)."""
    return default_assistant().ask(question, history, **options)
