"""The articles of an Assistant: listing them, removing one (index and corpus file, atomically, also from the
`qa` command), progress while ingesting, and the `source:` link carried to the cited passages. Model-free
(hashing encoder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.cli import main
from qa.config import Settings
from qa.errors import ArticleNotFoundError, CorpusError
from qa.pipeline import Assistant
from qa.retriever import CURRENT, Retriever

NAVAL = (
    "title: नौसेना अभ्यास समुद्र शक्ति\ndate: 2026-02-01\nsource: https://example.org/naval?a=1&b=<2>\n\n"
    "भारतीय नौसेना ने समुद्र शक्ति अभ्यास विशाखापत्तनम में किया। इसकी कमान कमोडोर अरविंद रघुनाथन ने संभाली।\n"
)
NAVAL_Q = "समुद्र शक्ति अभ्यास की कमान किसने संभाली?"


def _assistant(corpus: Path, tmp_path: Path, encoder) -> Assistant:  # type: ignore[no-untyped-def]
    settings = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", model="hashing:256"
    )
    return Assistant.from_settings(settings, encoder=encoder, progress=False)


def _naval(tmp_path: Path) -> Path:
    path = tmp_path / "upload" / "naval.txt"
    path.parent.mkdir()
    path.write_text(NAVAL, encoding="utf-8")
    return path


def test_articles_list_titles_dates_passages_and_links(seed_corpus, tmp_path, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    assistant = _assistant(seed_corpus, tmp_path, hashing_encoder)
    assistant.ingest([_naval(tmp_path)])
    articles = assistant.articles()
    assert [a.id for a in articles][0] == "naval"  # newest first
    naval = articles[0]
    assert (naval.title, naval.date, naval.link) == (
        "नौसेना अभ्यास समुद्र शक्ति",
        "2026-02-01",
        "https://example.org/naval?a=1&b=<2>",
    )
    assert sum(a.passages for a in articles) == len(assistant.retriever.chunks)
    assert all(a.passages > 0 for a in articles)
    # A file path is where an article was read from, not a link.
    assert all(a.link is None for a in articles[1:])
    hit = assistant.search(NAVAL_Q, 1)[0]
    assert hit.chunk.doc_id == "naval" and hit.link == naval.link


def test_remove_updates_the_index_and_deletes_the_file(seed_corpus, tmp_path, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    assistant = _assistant(seed_corpus, tmp_path, hashing_encoder)
    assistant.ingest([_naval(tmp_path)])
    assert assistant.search(NAVAL_Q, 1)[0].chunk.doc_id == "naval"
    live = (tmp_path / "index" / CURRENT).read_text()

    report = assistant.remove("naval")
    assert report.removed_documents == ("naval",) and report.texts_embedded == 0  # nothing is embedded again
    assert not (seed_corpus / "naval.txt").exists()
    assert "naval" not in assistant.retriever.documents
    assert all(h.chunk.doc_id != "naval" for h in assistant.search(NAVAL_Q, 5))
    after = (tmp_path / "index" / CURRENT).read_text()
    assert after != live
    # A restart agrees: the corpus and the saved index both lack the article, so nothing is rebuilt.
    again = _assistant(seed_corpus, tmp_path, hashing_encoder)
    assert "naval" not in again.retriever.documents
    assert (tmp_path / "index" / CURRENT).read_text() == after


def test_remove_refuses_unknown_ids_and_the_last_article(seed_corpus, tmp_path, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    assistant = _assistant(seed_corpus, tmp_path, hashing_encoder)
    with pytest.raises(ArticleNotFoundError, match="no-such-article"):
        assistant.remove("no-such-article")
    ids = list(assistant.retriever.documents)
    with pytest.raises(CorpusError, match="empty"):
        assistant.remove(ids)
    assert sorted(assistant.retriever.documents) == sorted(ids)
    assert len(list(seed_corpus.iterdir())) == len(ids)


def test_a_failed_remove_keeps_the_file_and_the_index(
    seed_corpus,
    tmp_path,
    hashing_encoder,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assistant = _assistant(seed_corpus, tmp_path, hashing_encoder)
    assistant.ingest([_naval(tmp_path)])
    live = (tmp_path / "index" / CURRENT).read_text()

    def disk_full(self, index_dir):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Retriever, "save", disk_full)
    with pytest.raises(OSError):
        assistant.remove("naval")
    assert (seed_corpus / "naval.txt").read_text(encoding="utf-8") == NAVAL
    assert (tmp_path / "index" / CURRENT).read_text() == live
    assert "naval" in assistant.retriever.documents


def test_remove_finds_the_file_of_a_deduplicated_id(tmp_path, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    # "a.md" and "a.txt" load as "a" and "a-2" (path order): removing "a-2" deletes a.txt, not a.md.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("पहला लेख: बैठक दिल्ली में हुई।", encoding="utf-8")
    (corpus / "a.txt").write_text("दूसरा लेख: बैठक मुंबई में हुई।", encoding="utf-8")
    (corpus / "b.txt").write_text("तीसरा लेख: बैठक पुणे में हुई।", encoding="utf-8")
    assistant = _assistant(corpus, tmp_path, hashing_encoder)
    assert "मुंबई" in assistant.retriever.documents["a-2"].text
    assistant.remove("a-2")
    assert sorted(p.name for p in corpus.iterdir()) == ["a.md", "b.txt"]


def test_ingest_reports_embedding_progress_article_by_article(seed_corpus, tmp_path, hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    assistant = _assistant(seed_corpus, tmp_path, hashing_encoder)
    second = tmp_path / "upload2" / "jal.txt"
    second.parent.mkdir()
    second.write_text("title: जल अभ्यास\n\nनौसेना का जल अभ्यास कोच्चि में हुआ। " * 40, encoding="utf-8")
    events: list[tuple[int, int, str]] = []
    report = assistant.ingest([_naval(tmp_path), second], on_progress=lambda *e: events.append(e))
    assert events and events[-1][0] == events[-1][1] == report.texts_embedded
    done = [e[0] for e in events]
    assert done == sorted(done)
    # Article by article: once the progress names the second article it never goes back to the first.
    order = [e[2] for e in events]
    assert order == sorted(order) and set(order) <= {"jal", "naval"}


def test_cli_lists_and_removes_articles(
    seed_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--corpus", str(seed_corpus), "--index", str(tmp_path / "index"), "--model", "hashing:256"]
    assert main(["ingest", str(_naval(tmp_path)), *args]) == 0
    capsys.readouterr()
    assert main(["articles", "--json", *args]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["id"] == "naval" and listed[0]["passages"] >= 1
    assert main(["remove", "naval", *args]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Removed 1 article(s) (naval)")
    assert not (seed_corpus / "naval.txt").exists()
    assert main(["remove", "naval", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "qa articles" in err and err.count("\n") == 1
