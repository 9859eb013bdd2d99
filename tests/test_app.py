"""The chat app served for real and driven through `gradio_client`, around an Assistant with the real default
model on a private copy of the seed corpus; at the end, its rendering helpers on hand-made answers.

The `/ask` endpoint returns (textbox, chat, record); the record is the plain-data view of the answer that the
assertions read, and each answer's chat message holds its own source cards."""

from __future__ import annotations

import re
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # app.py is a script at the repository root, not part of the package
    sys.path.insert(0, str(REPO))

from conftest import free_port  # noqa: E402

import app  # noqa: E402
from qa import chat_view as view  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.errors import IndexCorruptError  # noqa: E402
from qa.pipeline import Assistant  # noqa: E402

# Gradio's queue statistics use pandas calls that pandas 3 deprecates; not ours to fix.
GRADIO_PANDAS_WARNINGS = [
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
pytestmark = GRADIO_PANDAS_WARNINGS

HAWAII_HI = "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?"
HAWAII_EN = "Who co-chaired the meeting in Hawaii?"
SECRETARY_HI = "अमेरिकी सेना सचिव कौन हैं?"
PANEER = "What is the recipe for paneer butter masala?"

# A made-up article: no seed article mentions this exercise, its commander or its date.
NEW_ARTICLE = """title: भारत-इंडोनेशिया नौसेना अभ्यास समुद्र कवच-27 संपन्न
date: 2026-02-14

भारतीय नौसेना और इंडोनेशियाई नौसेना का संयुक्त अभ्यास समुद्र कवच-27 बारह फरवरी को अंडमान सागर में संपन्न हुआ।
इस अभ्यास का नेतृत्व रियर एडमिरल कविता मल्होत्रा ने किया।
अभ्यास में पनडुब्बी रोधी युद्ध और खोज एवं बचाव अभियानों का अभ्यास किया गया।
"""
NEW_QUESTION = "समुद्र कवच-27 अभ्यास का नेतृत्व किसने किया?"

# Another made-up article, uploaded and then deleted.
DELETED_ARTICLE = """title: भारत-मालदीव तटरक्षक अभ्यास वरुण सेतु
date: 2026-03-09

भारतीय तटरक्षक बल और मालदीव राष्ट्रीय रक्षा बल का संयुक्त अभ्यास वरुण सेतु आठ मार्च को माले के पास संपन्न हुआ।
इस अभ्यास का संचालन कमांडेंट विक्रम सहगल ने किया।
"""
DELETED_QUESTION = "वरुण सेतु अभ्यास का संचालन किसने किया?"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory, default_encoder: Any) -> Assistant:
    """Its own Assistant (not the shared `seed_assistant`): the upload tests ingest into it."""
    root = tmp_path_factory.mktemp("app")
    shutil.copytree(REPO / "corpus", root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", cache_dir=root / "cache")
    return Assistant.from_settings(settings, progress=False, encoder=default_encoder)


@pytest.fixture(scope="module")
def server(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        # Gradio keeps uploads in GRADIO_TEMP_DIR (default: /tmp/gradio); keep them in the test's tmp dir.
        mp.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio")))
        demo = app.build_app(assistant)
        url = app.launch(demo, host="127.0.0.1", port=free_port(), block=False, quiet=True)
        yield url
        demo.close()


def new_client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


@pytest.fixture()
def client(server: str) -> Any:
    return new_client(server)


def ask(client: Any, question: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """(record, chat messages, the answer's message HTML with its source cards) for one question."""
    _, chat, record = client.predict(question, api_name="/ask")
    return record, chat, last_text(chat)


def last_text(chat: list[dict[str, Any]]) -> str:
    """The text of the last chat message (Gradio 6 sends content as a list of {"type": "text"} parts)."""
    content = chat[-1]["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


@pytest.fixture()
def ask_calls(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Records (question, history) of every call the app makes to `assistant.ask`."""
    calls: list[tuple[str, Any]] = []
    real = assistant.ask

    def spy(question: str, history: Any = None, **kw: Any) -> Any:
        calls.append((question, history))
        return real(question, history, **kw)

    monkeypatch.setattr(assistant, "ask", spy)
    return calls


@pytest.mark.slow
def test_hindi_question_is_answered_with_citations_and_highlight(client: Any) -> None:
    record, chat, sources = ask(client, HAWAII_HI)
    assert record["status"] == "answered"
    assert "दीक्षित" in record["answer"]
    message = last_text(chat)
    assert "<strong>" in message and 'class="sq-cite"' in message and "2025-11-06" in message
    marked = sources.split("<mark>", 1)[1].split("</mark>", 1)[0]
    assert "दीक्षित" in marked or "रुड" in marked


@pytest.mark.slow
def test_english_question_quotes_the_hindi_span(client: Any) -> None:
    record, chat, _ = ask(client, HAWAII_EN)
    assert record["status"] == "answered"
    # The UI under test: an English question answered in the Hindi words of the article, marked as quoted
    # (which Hindi span the model picks end to end is the reader tests' and the benchmarks' business).
    assert any("\u0900" <= ch <= "\u097f" for ch in record["answer"])
    assert record["language"] == "en" and record["quoted"]
    assert "quoted from the Hindi article" in last_text(chat)


@pytest.mark.slow
def test_unanswerable_question_abstains_in_its_language(client: Any) -> None:
    record, chat, sources = ask(client, PANEER)
    assert record["status"] == "abstained" and record["language"] == "en"
    assert record["answer"] in last_text(chat)
    assert "Something went wrong" not in last_text(chat)
    assert "<mark>" not in sources


@pytest.mark.slow
def test_follow_up_gets_the_plain_text_history(client: Any, ask_calls: list[tuple[str, Any]]) -> None:
    first, _, _ = ask(client, "हवाई में हुई बैठक की सह-अध्यक्षता भारत की ओर से किसने की?")
    ask(client, "और अमेरिका की ओर से?")
    # What the reader makes of the follow-up is the evaluation's business (eval/seed_dev.jsonl has this
    # one); the app's part is to hand over the earlier turn as plain text, not the chat's Markdown.
    assert ask_calls[-1] == (
        "और अमेरिका की ओर से?",
        [{"question": first["question"], "answer": first["answer"]}],
    )


@pytest.mark.slow
def test_empty_and_too_long_messages_never_reach_the_assistant(
    client: Any, ask_calls: list[tuple[str, Any]]
) -> None:
    record, chat, _ = ask(client, "   \n ")
    assert record["status"] == "empty" and view.EMPTY_PROMPT in last_text(chat)
    record, chat, _ = ask(client, "क" * 2001)
    assert record["status"] == "too_long" and "2,000" in last_text(chat)
    record, _, _ = ask(client, "x" * 2001)
    assert record["status"] == "too_long" and "the limit is 2,000" in record["message"]
    assert ask_calls == []


@pytest.mark.slow
def test_two_users_at_once_each_get_their_own_answer(
    server: str, assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both questions must be inside `ask` at the same time, or the barrier breaks and a request fails.
    barrier = threading.Barrier(2, timeout=30)
    real = assistant.ask

    def together(question: str, history: Any = None, **kw: Any) -> Any:
        barrier.wait()
        return real(question, history, **kw)

    monkeypatch.setattr(assistant, "ask", together)
    results: dict[str, Any] = {}

    def user(question: str) -> None:
        results[question] = ask(new_client(server), question)[0]

    threads = [threading.Thread(target=user, args=(q,)) for q in (HAWAII_HI, SECRETARY_HI)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not barrier.broken
    assert "दीक्षित" in results[HAWAII_HI]["answer"]
    assert "ड्रिस्कॉल" in results[SECRETARY_HI]["answer"]


@pytest.mark.slow
def test_a_failing_handler_shows_a_message_and_the_app_keeps_serving(
    client: Any, assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("the reader fell over")

    monkeypatch.setattr(assistant, "ask", broken)
    record, chat, _ = ask(client, HAWAII_HI)
    assert record["status"] == "error"
    assert "Something went wrong" in last_text(chat) and "the reader fell over" in last_text(chat)

    def corrupt(*args: Any, **kw: Any) -> Any:
        raise IndexCorruptError("the index folder is damaged; rebuild it with `qa build`")

    monkeypatch.setattr(assistant, "ask", corrupt)
    record, _, _ = ask(client, HAWAII_HI)
    assert record["status"] == "error" and "rebuild it with `qa build`" in record["message"]
    assert "Something went wrong" not in record["message"]

    monkeypatch.undo()
    record, _, _ = ask(client, HAWAII_HI)
    assert record["status"] == "answered" and "दीक्षित" in record["answer"]


@pytest.mark.slow
def test_uploaded_article_is_searchable_at_once(client: Any, assistant: Assistant, tmp_path: Path) -> None:
    from gradio_client import handle_file

    path = tmp_path / "2026-02-14-samudra-kavach.txt"
    path.write_text(NEW_ARTICLE, encoding="utf-8")
    status, _ = client.predict([handle_file(str(path))], api_name="/upload")
    assert status.startswith("✅") and "passages added" in status and "samudra-kavach" in status
    # The original file name survives Gradio's upload folder: the corpus copy is named after it.
    assert (assistant.settings.corpus_dir / path.name).read_text(encoding="utf-8") == NEW_ARTICLE
    record, _, _ = ask(client, NEW_QUESTION)
    assert record["status"] == "answered" and "कविता मल्होत्रा" in record["answer"]
    assert record["sources"][0]["doc_id"] == "2026-02-14-samudra-kavach"


@pytest.mark.slow
def test_every_answer_keeps_its_own_sources(client: Any) -> None:
    first, chat, _ = ask(client, HAWAII_HI)
    first_message = last_text(chat)
    second, chat, _ = ask(client, SECRETARY_HI)
    assert first["status"] == second["status"] == "answered"
    bots = [last_text([m]) for m in chat if m["role"] == "assistant"]
    older, newer = bots[-2], bots[-1]
    # The older answer still cites its own passage (the Hawaii meeting), under its own card ids.
    assert "दीक्षित" in older.split("<mark>", 1)[1] and "sq-s" in older
    assert older.replace(" open>", ">") == first_message.replace(" open>", ">")  # only collapsed since
    older_ids = set(re.findall(r'id="(sq-s\d+-\d+)"', older))
    newer_ids = set(re.findall(r'id="(sq-s\d+-\d+)"', newer))
    assert older_ids and newer_ids and not older_ids & newer_ids
    assert set(re.findall(r'href="#(sq-s\d+-\d+)"', newer)) == newer_ids  # [n] links to its own cards
    assert "ड्रिस्कॉल" in newer


@pytest.mark.slow
def test_a_deleted_article_answers_no_more(client: Any, assistant: Assistant, tmp_path: Path) -> None:
    from gradio_client import handle_file

    path = tmp_path / "2026-03-09-varuna-setu.txt"
    path.write_text(DELETED_ARTICLE, encoding="utf-8")
    status, _ = client.predict([handle_file(str(path))], api_name="/upload")
    assert status.startswith("✅")
    record, _, _ = ask(client, DELETED_QUESTION)
    assert record["status"] == "answered" and record["sources"][0]["doc_id"] == "2026-03-09-varuna-setu"

    result = client.predict("2026-03-09-varuna-setu", api_name="/delete_article")
    assert result["status"] == "deleted" and result["removed"] == ["2026-03-09-varuna-setu"]
    assert not (assistant.settings.corpus_dir / path.name).exists()
    assert "2026-03-09-varuna-setu" not in {a.id for a in assistant.articles()}
    record, _, _ = ask(client, DELETED_QUESTION)
    assert all(s["doc_id"] != "2026-03-09-varuna-setu" for s in record["sources"])
    assert "विक्रम सहगल" not in record["answer"]

    again = client.predict("2026-03-09-varuna-setu", api_name="/delete_article")
    assert again["status"] == "error" and "qa articles" in again["message"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin1.txt", "समाचार".encode() + "café".encode("latin-1"), "UTF-8"),
        ("empty.md", b"  \n\n ", "empty"),
    ],
)
def test_rejected_upload_leaves_the_index_untouched(
    client: Any, assistant: Assistant, tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    from gradio_client import handle_file

    def state() -> tuple[Any, ...]:
        return (
            assistant.retriever,
            len(assistant.retriever.chunks),
            sorted(assistant.settings.corpus_dir.iterdir()),
        )

    before = state()
    path = tmp_path / name
    path.write_bytes(data)
    status, _ = client.predict([handle_file(str(path))], api_name="/upload")
    assert status.startswith("❌") and name in status and reason in status and "index is unchanged" in status
    assert state() == before


# ------------------------------------------------------------------ flags (no server, no model)
def test_host_and_port_from_flags_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    args = app.parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 7860)
    monkeypatch.setenv("SAMACHAR_HOST", "0.0.0.0")
    monkeypatch.setenv("SAMACHAR_PORT", "8001")
    args = app.parse_args(["--corpus", "news", "--index", "idx"])
    assert (args.host, args.port, args.corpus, args.index) == ("0.0.0.0", 8001, Path("news"), Path("idx"))
    assert app.parse_args(["--port", "9000"]).port == 9000
