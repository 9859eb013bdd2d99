"""The Assistant: question checks, index life cycle (stale, corrupt, repaired), ingest rollback, threads,
and the process-wide `qa.answer()`. Model-free (hashing encoder) except where marked slow."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import qa
from qa import pipeline
from qa.config import Settings
from qa.errors import CorpusError, EmptyQuestionError, IndexCorruptError, QuestionError, QuestionTooLongError
from qa.retriever import CURRENT, Retriever, current_version

HAWAII_HI = "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?"
NAVAL = "title: नौसेना अभ्यास\ndate: 2026-02-01\n\nभारतीय नौसेना ने समुद्र शक्ति अभ्यास विशाखापत्तनम में किया।\n"


class SpyEncoder:
    """Wraps an encoder and counts query encodings (to prove refused questions cost no model call)."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.queries = inner, 0
        self.model_id, self.dim = inner.model_id, inner.dim

    def encode_queries(self, texts):  # type: ignore[no-untyped-def]
        self.queries += 1
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts, *, show_progress=False):  # type: ignore[no-untyped-def]
        return self.inner.encode_passages(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def _settings(corpus: Path, tmp_path: Path) -> Settings:
    return Settings(
        corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", model="hashing:256"
    )


def test_bad_questions_raise_typed_errors_before_any_model_call(
    seed_corpus, tmp_path, hashing_encoder
) -> None:  # type: ignore[no-untyped-def]
    spy = SpyEncoder(hashing_encoder)
    assistant = pipeline.Assistant.from_settings(
        _settings(seed_corpus, tmp_path), encoder=spy, progress=False
    )
    for empty in ("", "   ", "\n\t ", "\u200b\u200c\u200d\ufeff", " \u200b "):  # invisible is empty
        with pytest.raises(EmptyQuestionError):
            assistant.ask(empty)
    with pytest.raises(QuestionError, match="invalid characters"):
        assistant.ask("हवाई\ud800?")
    with pytest.raises(QuestionTooLongError, match="100,000 characters long; the limit is 2,000"):
        assistant.ask("क" * 100_000)
    with pytest.raises(QuestionError):
        assistant.ask(None)  # type: ignore[arg-type]
    assert spy.queries == 0
    answer = assistant.ask("  " + HAWAII_HI + "  ")
    assert spy.queries >= 1 and answer.question == HAWAII_HI
    assert answer.retrieved and "total" in answer.timings_ms


def test_stale_index_is_brought_up_to_date_on_load(
    seed_corpus,
    tmp_path,
    hashing_encoder,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings(seed_corpus, tmp_path)
    first = pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    (seed_corpus / "naval.txt").write_text(NAVAL, encoding="utf-8")
    with caplog.at_level("WARNING", logger="samachar"):
        second = pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    said = [r.getMessage() for r in caplog.records if r.name == "samachar"]
    assert len(said) == 1 and "Updating the index" in said[0] and "new: naval" in said[0]  # said, and why
    assert second.manifest["corpus_fingerprint"] != first.manifest["corpus_fingerprint"]
    assert "naval" in second.retriever.documents
    live = (settings.index_dir / CURRENT).read_text()
    third = pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    assert (settings.index_dir / CURRENT).read_text() == live  # up to date: loaded, not rebuilt
    assert third.manifest["corpus_fingerprint"] == second.manifest["corpus_fingerprint"]


def test_corrupt_index_is_refused_or_repaired(
    seed_corpus,
    tmp_path,
    hashing_encoder,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings(seed_corpus, tmp_path)
    pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    (current_version(settings.index_dir) / "chunks.jsonl").write_text("garbage\n")
    with pytest.raises(IndexCorruptError, match="qa build"):
        pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False, repair=False)
    with caplog.at_level("WARNING", logger="samachar"):
        repaired = pipeline.Assistant.from_settings(
            settings, encoder=hashing_encoder, progress=False, repair=True
        )
    said = [r.getMessage() for r in caplog.records if r.name == "samachar"]
    assert len(said) == 1 and "Rebuilding the index" in said[0] and "chunks.jsonl" in said[0]
    assert "अशुतोष दीक्षित" in repaired.search(HAWAII_HI, 1)[0].chunk.text


def test_failed_ingest_rolls_back_corpus_and_index(
    seed_corpus,
    tmp_path,
    hashing_encoder,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _settings(seed_corpus, tmp_path)
    assistant = pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    live = (settings.index_dir / CURRENT).read_text()
    article = tmp_path / "naval.txt"
    article.write_text(NAVAL, encoding="utf-8")

    def disk_full(self, index_dir):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Retriever, "save", disk_full)
    with pytest.raises(OSError):
        assistant.ingest([article])
    assert not (seed_corpus / "naval.txt").exists()
    assert (settings.index_dir / CURRENT).read_text() == live
    assert "naval" not in assistant.retriever.documents

    monkeypatch.undo()
    bad = tmp_path / "scan.txt"
    bad.write_bytes(b"%PDF-1.7\x00\x00\x01\x02binary")
    with pytest.raises(CorpusError, match="scan.txt"):
        assistant.ingest([article, bad])  # one bad file: nothing of the batch is taken
    assert not (seed_corpus / "naval.txt").exists()
    report = assistant.ingest([article])
    assert report.added_documents == ("naval",) and (seed_corpus / "naval.txt").exists()


def test_questions_during_an_ingest_from_other_threads(seed_corpus, tmp_path, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    assistant = pipeline.Assistant.from_settings(
        _settings(seed_corpus, tmp_path), encoder=hashing_encoder, progress=False
    )
    articles = []
    for n in range(3):
        path = tmp_path / f"extra-{n}.txt"
        path.write_text(f"title: लेख {n}\n\nयह अतिरिक्त लेख संख्या {n} है जिसमें अभ्यास का उल्लेख है।", encoding="utf-8")
        articles.append(path)
    errors: list[BaseException] = []
    answers = []

    def asker() -> None:
        try:
            for _ in range(10):
                answers.append(assistant.ask(HAWAII_HI))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=asker) for _ in range(4)]
    for t in threads:
        t.start()
    for path in articles:
        assistant.ingest([path])
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(answers) == 40
    assert all(any("दीक्षित" in s.text for s in a.retrieved) for a in answers)
    assert {"extra-0", "extra-1", "extra-2"} <= set(assistant.retriever.documents)


def test_process_wide_answer_function(seed_corpus, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SAMACHAR_CORPUS_DIR", str(seed_corpus))
    monkeypatch.setenv("SAMACHAR_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("SAMACHAR_MODEL", "hashing:256")
    monkeypatch.setattr(pipeline, "_default", None)
    first = qa.answer(HAWAII_HI)
    built = pipeline._default
    second = qa.answer("भारत के रक्षा मंत्री कौन हैं?")
    assert pipeline._default is built is not None  # one assistant for the process
    assert first.question == HAWAII_HI and second.retrieved
    assert (tmp_path / "index" / CURRENT).is_file()


def test_a_hidden_file_name_is_refused_at_ingest_and_never_lost(
    seed_corpus, tmp_path, hashing_encoder
) -> None:  # type: ignore[no-untyped-def]
    """The corpus loader skips hidden files, so ingest refuses them: nothing accepted vanishes at a restart."""
    assistant = pipeline.Assistant.from_settings(
        _settings(seed_corpus, tmp_path), encoder=hashing_encoder, progress=False
    )
    before = sorted(p.name for p in seed_corpus.iterdir())
    hidden = tmp_path / ".naval.txt"
    hidden.write_text("title: नौसेना अभ्यास\n\nभारतीय नौसेना ने अभ्यास किया।", encoding="utf-8")
    with pytest.raises(CorpusError, match="hidden file name") as info:
        assistant.ingest([hidden])
    assert ".naval.txt" in str(info.value)
    assert sorted(p.name for p in seed_corpus.iterdir()) == before
    reloaded = pipeline.Assistant.from_settings(
        _settings(seed_corpus, tmp_path), encoder=hashing_encoder, progress=False
    )
    assert reloaded.manifest["counts"]["documents"] == assistant.manifest["counts"]["documents"]


def test_a_vector_file_truncated_under_a_live_index_does_not_kill_the_process(seed_corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # In a child process: with memory-mapped vectors this ended the interpreter with SIGBUS.
    script = f"""
from pathlib import Path
from qa.config import Settings
from qa.pipeline import Assistant
from qa.retriever import current_version
s = Settings(corpus_dir=Path({str(seed_corpus)!r}), index_dir=Path({str(tmp_path / "index")!r}),
             cache_dir=Path({str(tmp_path / "cache")!r}), model="hashing:256")
Assistant.from_settings(s, progress=False)  # builds the index
a = Assistant.from_settings(s, progress=False)  # loads it from disk, as a restarted server does
for name in ("vectors.npy", "sentence_vectors.npy"):
    path = current_version(s.index_dir) / name
    with open(path, "r+b") as fh:
        fh.truncate(128)
hits = a.search("हवाई में हुई बैठक", 3)
new = Path({str(tmp_path / "naval.txt")!r})
new.write_text("title: नौसेना\\n\\nभारतीय नौसेना ने अभ्यास किया।", encoding="utf-8")
report = a.ingest([new])  # reuses the loaded vectors of the unchanged articles
print("OK", len(hits), report.texts_embedded)
"""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().startswith("OK 3")


def test_a_read_only_index_serves_questions_and_refuses_ingest_in_one_line(  # type: ignore[no-untyped-def]
    seed_corpus,
    tmp_path,
    hashing_encoder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import errno

    import qa.index_store as store_module
    from qa.cli import main as cli_main
    from qa.errors import IndexReadOnlyError

    settings = _settings(seed_corpus, tmp_path)
    pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)

    import builtins

    def read_only_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        # What opening the lock file for writing gives on read-only storage (root bypasses chmod, so the
        # OS error is simulated where the index module opens files).
        if str(file).endswith(".lock"):
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return builtins.open(file, mode, *args, **kwargs)

    monkeypatch.setattr(store_module, "open", read_only_open, raising=False)
    assistant = pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    assert "अशुतोष दीक्षित" in assistant.search(HAWAII_HI, 1)[0].chunk.text
    article = tmp_path / "naval.txt"
    article.write_text(NAVAL, encoding="utf-8")
    with pytest.raises(IndexReadOnlyError, match="read-only"):
        assistant.ingest([article])
    assert not (seed_corpus / "naval.txt").exists()  # nothing half-added

    (seed_corpus / "naval.txt").write_text(NAVAL, encoding="utf-8")  # the corpus moved on; the index cannot
    with caplog.at_level("WARNING", logger="samachar"):
        stale = pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    assert stale.search(HAWAII_HI, 1) and any("read-only index" in r.getMessage() for r in caplog.records)

    code = cli_main(
        [
            "ingest",
            str(article),
            "--corpus",
            str(seed_corpus),
            "--index",
            str(settings.index_dir),
            "--model",
            "hashing:256",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "read-only" in err[0]


def test_a_same_name_article_gets_its_own_id_unless_replace_is_asked(
    seed_corpus,
    tmp_path,  # type: ignore[no-untyped-def]
    hashing_encoder,
) -> None:
    settings = _settings(seed_corpus, tmp_path)
    assistant = pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    first = tmp_path / "in" / "naval.txt"
    first.parent.mkdir()
    first.write_text("title: नौसेना\n\nनौसेना ने विशाखापत्तनम में अभ्यास किया।", encoding="utf-8")
    assistant.ingest([first])
    second = tmp_path / "naval.md"
    second.write_text("title: थलसेना\n\nथलसेना ने पोखरण में अभ्यास किया।", encoding="utf-8")
    report = assistant.ingest([second])
    assert report.renamed == (("naval.md", "naval-2.md"),) and report.added_documents == ("naval-2",)
    docs = assistant.retriever.documents
    assert "विशाखापत्तनम" in docs["naval"].text and "पोखरण" in docs["naval-2"].text  # nothing lost
    again = assistant.ingest([second])  # the same text again: no third copy
    assert again.unchanged_documents == ("naval-2",) and not again.renamed
    assert sorted(p.name for p in seed_corpus.glob("naval*")) == ["naval-2.md", "naval.txt"]
    # A restart maps each id to exactly the file it was ingested from.
    restarted = pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    assert {k: v.text for k, v in restarted.retriever.documents.items()} == {
        k: v.text for k, v in docs.items()
    }

    third = tmp_path / "naval.txt"
    third.write_text("title: वायुसेना\n\nवायुसेना ने जोधपुर में अभ्यास किया।", encoding="utf-8")
    report = assistant.ingest([third], replace=True)
    assert report.replaced_documents == ("naval",) and not report.renamed
    assert sorted(p.name for p in seed_corpus.glob("naval*")) == ["naval-2.md", "naval.txt"]
    assert "जोधपुर" in assistant.retriever.documents["naval"].text
    restarted = pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    assert "जोधपुर" in restarted.retriever.documents["naval"].text
    # Replacing from a file of another suffix removes the old file: one file per id after a restart.
    md = tmp_path / "md" / "naval.md"
    md.parent.mkdir()
    md.write_text("title: तटरक्षक\n\nतटरक्षक बल ने चेन्नई में अभ्यास किया।", encoding="utf-8")
    assert assistant.ingest([md], replace=True).replaced_documents == ("naval",)
    assert sorted(p.name for p in seed_corpus.glob("naval*")) == ["naval-2.md", "naval.md"]
    restarted = pipeline.Assistant.from_settings(settings, encoder=hashing_encoder, progress=False)
    assert (
        "चेन्नई" in restarted.retriever.documents["naval"].text
        and "naval-3" not in restarted.retriever.documents
    )
