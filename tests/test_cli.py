"""The `qa` command: build, search, ask, ingest and their errors (model-free hashing encoder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.cli import main


def _args(corpus: Path, index: Path) -> list[str]:
    return ["--corpus", str(corpus), "--index", str(index), "--model", "hashing:256"]


def test_build_search_ask_ingest(
    seed_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "index"
    assert main(["build", *_args(seed_corpus, index)]) == 0
    assert "2 articles" in capsys.readouterr().out
    assert (index / "CURRENT").is_file()

    assert (
        main(
            [
                "search",
                "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?",
                "-k",
                "2",
                "--json",
                *_args(seed_corpus, index),
            ]
        )
        == 0
    )
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and "अशुतोष दीक्षित" in hits[0]["text"] and hits[0]["date"] == "2025-11-06"

    assert main(["ask", "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?", "--json", *_args(seed_corpus, index)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {"text", "abstained", "confidence", "sources", "retrieved"} <= answer.keys()

    article = tmp_path / "naval.txt"
    article.write_text(
        "title: नौसेना अभ्यास\ndate: 2026-02-01\n\nभारतीय नौसेना ने समुद्र शक्ति अभ्यास विशाखापत्तनम में किया।",
        encoding="utf-8",
    )
    assert main(["ingest", str(article), *_args(seed_corpus, index)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Added 1, replaced 0") and "embedded)" in out
    assert (seed_corpus / "naval.txt").is_file()  # kept in the corpus, so a rebuild keeps it
    assert main(["search", "समुद्र शक्ति", "-k", "1", "--json", *_args(seed_corpus, index)]) == 0
    assert "समुद्र शक्ति" in json.loads(capsys.readouterr().out)[0]["text"]


def test_errors_are_one_line_and_nonzero(
    tmp_path: Path, seed_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", *_args(tmp_path / "missing", tmp_path / "index")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing" in err

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00binary\x00\x00")
    index = tmp_path / "index"
    assert main(["build", *_args(seed_corpus, index)]) == 0
    live = (index / "CURRENT").read_text()
    capsys.readouterr()
    assert main(["ingest", str(bad), *_args(seed_corpus, index)]) == 1
    assert "bad.txt" in capsys.readouterr().err
    assert (index / "CURRENT").read_text() == live  # the index is untouched
    assert not (seed_corpus / "bad.txt").exists()

    assert main(["ask", "   ", *_args(seed_corpus, index)]) == 1
    assert "empty" in capsys.readouterr().err.lower()
    assert main(["ask", "क" * 100_000, *_args(seed_corpus, index)]) == 1
    assert "100,000" in capsys.readouterr().err


def test_mismatched_index_is_refused_by_search_with_hint(
    seed_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "index"
    assert main(["build", *_args(seed_corpus, index)]) == 0
    args = ["--corpus", str(seed_corpus), "--index", str(index), "--model", "hashing:128"]
    code = main(["search", "हवाई", *args])
    err = capsys.readouterr().err
    assert code == 1 and "qa build" in err
