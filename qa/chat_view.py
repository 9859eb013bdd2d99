"""What the chat shows, as plain data and HTML: no Gradio, no models, so every piece is unit-tested.

A conversation is a list of *records*, one per question: plain JSON-able dicts (`answer_record`,
`notice_record`) that the API returns, the browser keeps (so a reload restores the chat) and `render_chat`
turns into chat messages. Each answer's message holds its own numbered source cards, so an older answer keeps
its sources; ``[n]`` in the answer links to card n (`CHAT_JS` scrolls to it and flashes it).

Everything taken from questions, articles, file names or the browser is HTML-escaped here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qa.errors import QAError, QuestionTooLongError
from qa.language import detect_language
from qa.types import Answer, ArticleInfo

if TYPE_CHECKING:
    from qa.retriever import IngestReport

SEARCHING = "⏳ खोज रहे हैं… / Searching…"
EMPTY_PROMPT = "कृपया कोई प्रश्न लिखें। / Please type a question about the news articles."
CHAT_PLACEHOLDER = "हिंदी समाचारों के बारे में पूछें। / Ask about the Hindi news."
#: Answers less sure than this get a muted "low confidence" tag (never abstentions: they answer nothing).
LOW_CONFIDENCE = 0.5
#: Records kept in the browser; older ones only fill its storage.
MAX_SAVED_RECORDS = 50
#: A batch of more files than this is reported as a summary with the files in a collapsed list.
LIST_FILES_OVER = 3
#: Titles of the nearest articles named when nothing answers a question.
NEAREST_TITLES = 3

STATUSES = ("answered", "abstained", "empty", "too_long", "error")
_SAFE_LINK = ("https://", "http://")


# ---------------------------------------------------------------------------------------------- records
def answer_record(answer: Answer, articles: Sequence[ArticleInfo] = ()) -> dict[str, Any]:
    """The plain-data view of an answer: what the API returns and the browser keeps.

    Args:
        answer: the Assistant's answer.
        articles: the corpus listing; an abstention records what the corpus covers (count, dates).
    """
    record: dict[str, Any] = {
        "status": "abstained" if answer.abstained else "answered",
        "question": answer.question,
        "answer": answer.text,
        "language": answer.language,
        "quoted": answer.quoted,
        "confidence": answer.confidence,
        "search_query": answer.search_query,
        "sources": [
            {
                "title": s.title,
                "date": s.date,
                "doc_id": s.doc_id,
                "link": s.link,
                "text": s.text,
                "answer_start": s.answer_start,
                "answer_end": s.answer_end,
                "span": s.text[s.answer_start : s.answer_end] if s.answer_start is not None else None,
            }
            for s in answer.sources
        ],
    }
    if answer.abstained:
        dates = sorted(a.date for a in articles if a.date)
        record["coverage"] = {
            "articles": len(articles),
            "first": dates[0] if dates else None,
            "last": dates[-1] if dates else None,
            "nearest": list(dict.fromkeys(s.title for s in answer.retrieved))[:NEAREST_TITLES],
        }
    return record


def notice_record(status: str, message: str, question: str | None = None, **extra: Any) -> dict[str, Any]:
    """A turn that got no answer: an empty or too long question, or an error."""
    record: dict[str, Any] = {"status": status, "message": message}
    if question is not None:
        record["question"] = question
    record.update(extra)
    return record


def conversation_history(conversation: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The answered turns as [{"question", "answer"}] in plain text (what `Assistant.ask` takes as history)."""
    return [
        {"question": str(r.get("question") or ""), "answer": str(r.get("answer") or "")}
        for r in conversation
        if r.get("status") == "answered"
    ]


def restore_conversation(value: Any) -> list[dict[str, Any]]:
    """The records of a conversation kept in the browser, keeping only well-formed ones (the newest
    `MAX_SAVED_RECORDS`)."""
    if not isinstance(value, list):
        return []
    return [dict(r) for r in value if isinstance(r, dict) and r.get("status") in STATUSES][
        -MAX_SAVED_RECORDS:
    ]


def too_long_message(question: str, limit: int) -> str:
    if detect_language(question) == "hi":
        return f"प्रश्न बहुत लंबा है ({len(question):,} अक्षर); सीमा {limit:,} अक्षर है। कृपया इसे छोटा करें।"
    return str(QuestionTooLongError(len(question), limit))


def error_message(exc: BaseException) -> str:
    if isinstance(exc, QAError):
        return f"⚠️ {exc}"
    return f"⚠️ Something went wrong: {type(exc).__name__}: {exc}. Please try again."


# ---------------------------------------------------------------------------------------------- chat
def render_chat(
    conversation: Sequence[Mapping[str, Any]], pending: str | None = None
) -> list[dict[str, str]]:
    """The chat messages of a conversation; `pending` is a question still being answered. The newest
    answer's sources are open, older ones collapsed (one click away)."""
    messages: list[dict[str, str]] = []
    last = len(conversation) - 1
    for n, record in enumerate(conversation):
        if record.get("question") is not None:
            messages.append({"role": "user", "content": render_question(str(record["question"]))})
        messages.append({"role": "assistant", "content": render_record(record, n, open_sources=n == last)})
    if pending is not None:
        messages.append({"role": "user", "content": render_question(pending)})
        messages.append({"role": "assistant", "content": f'<p class="sq-wait">{_text(SEARCHING)}</p>'})
    return messages


def render_question(question: str) -> str:
    return f'<p class="sq-q">{_text(question)}</p>'


def render_record(record: Mapping[str, Any], n: int, *, open_sources: bool = True) -> str:
    """One assistant message (HTML) for record number `n` of the conversation (`n` makes its ids unique)."""
    status = record.get("status")
    if status not in ("answered", "abstained"):
        css = "sq-empty" if status == "empty" else "sq-error"
        return f'<p class="{css}">{_text(str(record.get("message") or ""))}</p>'
    sources = [s for s in record.get("sources") or [] if isinstance(s, Mapping)]
    parts = ['<div class="sq-answer">']
    if status == "abstained":
        parts.append(f'<p class="sq-abstain">ℹ️ {_text(str(record.get("answer") or ""))}</p>')
        hint = coverage_hint(record)
        if hint:
            parts.append(f'<p class="sq-hint">{hint}</p>')
    else:
        cites = "".join(
            f' <a class="sq-cite" href="#{_card_id(n, i)}">[{i}]</a>' for i in range(1, len(sources) + 1)
        )
        parts.append(
            f'<p class="sq-text"><strong>{_text(str(record.get("answer") or ""))}</strong>{cites}</p>'
        )
        if record.get("quoted"):
            parts.append('<p class="sq-note">(quoted from the Hindi article)</p>')
    meta = []
    confidence = record.get("confidence")
    if status == "answered" and isinstance(confidence, (int, float)) and confidence < LOW_CONFIDENCE:
        meta.append(
            f'<span class="sq-low" title="confidence {confidence:.2f}">कम भरोसा · low confidence</span>'
        )
    if record.get("search_query"):
        meta.append(f'<span class="sq-readas">पढ़ा गया / read as: {_text(str(record["search_query"]))}</span>')
    if meta:
        parts.append(f'<p class="sq-meta">{" ".join(meta)}</p>')
    if status == "answered" and sources:
        parts.append(render_sources(sources, n, quoted=bool(record.get("quoted")), open_=open_sources))
    parts.append("</div>")
    return "".join(parts)


def render_sources(
    sources: Sequence[Mapping[str, Any]], n: int, *, quoted: bool = False, open_: bool = True
) -> str:
    """The numbered source cards of answer `n`, in a <details> under the answer: title, date, the article's
    link when it has one, and the passage with the answer span marked."""
    cards = []
    for i, s in enumerate(sources, 1):
        date = f'<span class="sq-date">{_text(str(s["date"]))}</span>' if s.get("date") else ""
        link_html = _link(s.get("link"), "स्रोत / source ↗")
        note = ""
        if quoted and isinstance(s.get("answer_start"), int):
            note = '<div class="sq-quoted">The highlighted Hindi words are quoted from this article.</div>'
        cards.append(
            f'<article class="sq-source" id="{_card_id(n, i)}"><div class="sq-source-head">'
            f'<span class="sq-num">[{i}]</span><span class="sq-title">{_text(str(s.get("title") or ""))}</span>'
            f'{date}{link_html}</div><p class="sq-passage">'
            f"{highlight(str(s.get('text') or ''), s.get('answer_start'), s.get('answer_end'))}</p>{note}</article>"
        )
    return (
        f'<details class="sq-sources"{" open" if open_ else ""}><summary>स्रोत / Sources ({len(cards)})'
        f"</summary>{''.join(cards)}</details>"
    )


def highlight(text: str, start: Any, end: Any) -> str:
    """`text` as HTML with text[start:end] in <mark>; everything escaped, bad offsets mark nothing."""
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        return _text(text)
    return f"{_text(text[:start])}<mark>{_text(text[start:end])}</mark>{_text(text[end:])}"


def coverage_hint(record: Mapping[str, Any]) -> str:
    """For an abstention: what the corpus covers and the articles nearest the question (HTML), or ""."""
    coverage = record.get("coverage")
    if not isinstance(coverage, Mapping) or not coverage.get("articles"):
        return ""
    count, first, last = coverage["articles"], coverage.get("first"), coverage.get("last")
    nearest = " · ".join(f"«{_text(str(t))}»" for t in coverage.get("nearest") or [])
    span = (
        f" ({_text(str(first))} – {_text(str(last))})"
        if first and last and first != last
        else (f" ({_text(str(first))})" if first else "")
    )
    if record.get("language") == "hi":
        text = f"यहाँ {count} लेख हैं{span}।"
        return text + (f" इस प्रश्न के सबसे निकट: {nearest}" if nearest else "")
    text = f"The {count} article{'s' if count != 1 else ''} here{span} do not say."
    return text + (f" Nearest to the question: {nearest}" if nearest else "")


def _link(url: Any, label: str) -> str:
    """An article's web address as a link opening in a new tab; "" for anything but an http(s) URL (a
    record kept in the browser could hold anything)."""
    if not isinstance(url, str) or not url.startswith(_SAFE_LINK):
        return ""
    return (
        f' <a class="sq-link" href="{html.escape(url, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer">{_text(label)}</a>'
    )


def _card_id(n: int, i: int) -> str:
    return f"sq-s{n}-{i}"


def _text(value: str) -> str:
    return html.escape(value, quote=True)


# ---------------------------------------------------------------------------------------------- corpus
def render_articles(articles: Sequence[ArticleInfo]) -> str:
    """The corpus panel: the count in the header, then each article's title, date and passages."""
    items = []
    for a in articles:
        date = f'<span class="sq-date">{_text(a.date)}</span>' if a.date else ""
        link = _link(a.link, "↗")
        items.append(
            f'<li class="sq-article"><span class="sq-title">{_text(a.title)}</span>{link}'
            f'<div class="sq-article-meta">{date}<span class="sq-passages">{a.passages} '
            f"passage{'s' if a.passages != 1 else ''}</span></div></li>"
        )
    return (
        f'<div class="sq-corpus"><div class="sq-corpus-head">लेख / Articles '
        f'<span class="sq-count">({len(articles)})</span></div>'
        f'<ol class="sq-articles">{"".join(items)}</ol></div>'
    )


def article_choices(articles: Sequence[ArticleInfo]) -> list[tuple[str, str]]:
    """(label, article id) pairs for the delete picker."""
    return [(f"{a.title} ({a.date})" if a.date else a.title, a.id) for a in articles]


def delete_question(article: ArticleInfo | None) -> str:
    """The confirmation asked before deleting `article` (HTML)."""
    if article is None:
        return '<p class="sq-error">Choose an article to delete.</p>'
    return (
        f"<p>Delete <b>{_text(article.title)}</b> ({article.passages} passages)? Its file leaves the corpus "
        f"and no answer will come from it.</p>"
    )


def render_removed(report: IngestReport, titles: Mapping[str, str]) -> str:
    names = ", ".join(f"<b>{_text(titles.get(i, i))}</b>" for i in report.removed_documents)
    return f"🗑️ Deleted {names}; {report.total_chunks} passages in the index."


# ---------------------------------------------------------------------------------------------- uploads
def render_ingest(names: Sequence[str], report: IngestReport, articles: Sequence[ArticleInfo]) -> str:
    """The upload status: one line for a few files; for a batch a summary, the articles in a <details>."""
    parts = [
        template.format(f"{len(ids)} article{'s' if len(ids) != 1 else ''}")
        for template, ids in (
            ("added {}", report.added_documents),
            ("replaced {}", report.replaced_documents),
            ("{} already in the index unchanged", report.unchanged_documents),
        )
        if ids
    ]
    few = len(names) <= LIST_FILES_OVER
    who = ", ".join(f"<b>{_text(n)}</b>" for n in names) if few else f"{len(names)} files"
    line = (
        f"✅ {who}: {', '.join(parts)}; <b>{report.chunks_added} passages added</b>, {report.total_chunks} "
        f"passages in the index. You can ask about them now."
    )
    renamed = "".join(
        f"<li><b>{_text(name)}</b> was saved as <b>{_text(saved)}</b>: an article of that name "
        f"already exists.</li>"
        for name, saved in report.renamed
    )
    if few:
        return line + (f'<ul class="sq-renamed">{renamed}</ul>' if renamed else "")
    info = {a.id: a for a in articles}
    rows = []
    for label, ids in (
        ("added", report.added_documents),
        ("replaced", report.replaced_documents),
        ("unchanged", report.unchanged_documents),
    ):
        for doc_id in ids:
            a = info.get(doc_id)
            title = a.title if a else doc_id
            passages = f", {a.passages} passages" if a else ""
            rows.append(f"<li><b>{_text(title)}</b> <code>{_text(doc_id)}</code> — {label}{passages}</li>")
    return (
        f'{line}<details class="sq-batch"><summary>The {len(rows)} articles</summary>'
        f"<ul>{''.join(rows)}{renamed}</ul></details>"
    )


def render_refused(name: str, reason: str) -> str:
    return f"❌ <b>{_text(name)}</b>: {_text(reason)}. Nothing was added; the index is unchanged."


def render_failed(message: str) -> str:
    return f"{_text(message)} Nothing was added; the index is unchanged."


def progress_text(done: int, total: int, title: str, elapsed_s: float) -> str:
    """The progress line while embedding: the article, the count and, once measurable, the time left."""
    text = f"Embedding «{title}»: {done:,}/{total:,} passages and sentences"
    if 0 < done < total and elapsed_s > 0:
        left = math.ceil(elapsed_s / done * (total - done))
        text += f", about {left} s left" if left < 120 else f", about {math.ceil(left / 60)} min left"
    return text


# ---------------------------------------------------------------------------------------------- page
FONT_STACK = ['"Noto Sans Devanagari"', '"Mangal"', '"Nirmala UI"', "sans-serif"]

CSS = """
.gradio-container, .gradio-container button, .gradio-container input, .gradio-container textarea
  { font-family: FONT_STACK; }
/* Devanagari matras and conjuncts need taller lines than Latin text. */
.gradio-container .message, .sq-corpus { line-height: 1.7; }
.sq-q, .sq-passage { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
.sq-text { margin: 0 0 0.2rem; }
.sq-cite { text-decoration: none; font-weight: 600; margin-left: 0.15rem; color: var(--color-accent); }
.sq-note, .sq-meta, .sq-hint, .sq-quoted { font-size: 0.82em; color: var(--body-text-color-subdued);
  margin: 0.15rem 0; }
.sq-low { border: 1px solid var(--border-color-primary); border-radius: 999px; padding: 0 0.45rem;
  margin-right: 0.4rem; white-space: nowrap; }
.sq-sources { margin-top: 0.4rem; }
.sq-sources > summary { cursor: pointer; font-size: 0.9em; color: var(--body-text-color-subdued); }
.sq-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.5rem 0.7rem;
  margin-top: 0.5rem; scroll-margin: 1rem; }
.sq-source-head { font-weight: 600; margin-bottom: 0.3rem; }
.sq-num { color: var(--color-accent); margin-right: 0.3rem; }
.sq-date { font-weight: 400; color: var(--body-text-color-subdued); margin-left: 0.4rem; white-space: nowrap; }
.sq-link { font-weight: 400; margin-left: 0.5rem; white-space: nowrap; }
.sq-passage mark { background: #ffe58a; color: #1f1f1f; padding: 0 2px; border-radius: 3px; }
.sq-flash { animation: sq-flash 1.4s ease-out; }
@keyframes sq-flash { 0%, 30% { background: #ffe58a55; box-shadow: 0 0 0 3px #f5c400; } 100% { } }
.sq-error, .sq-empty, .sq-wait { margin: 0; }
.sq-corpus-head { font-weight: 600; margin-bottom: 0.3rem; }
.sq-articles { margin: 0; padding-left: 1.4rem; max-height: 40vh; overflow-y: auto; }
.sq-article { margin-bottom: 0.35rem; overflow-wrap: anywhere; }
.sq-article-meta { font-size: 0.82em; color: var(--body-text-color-subdued); }
.sq-article-meta .sq-date { margin-left: 0; margin-right: 0.6rem; }
.sq-batch ul { max-height: 30vh; overflow-y: auto; }
@media (max-width: 640px) {
  .gradio-container { padding: 0.4rem !important; }
  .sq-articles { max-height: none; }
}
""".replace("FONT_STACK", ", ".join(FONT_STACK))

#: Run once when the page loads: a click on a citation opens its answer's sources, scrolls its card into view
#: and flashes it. (A plain #anchor would also work without it, but not open a collapsed <details>.)
CHAT_JS = """
() => {
  const calm = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  document.addEventListener('click', (event) => {
    const link = event.target.closest ? event.target.closest('a.sq-cite') : null;
    if (!link) return;
    const card = document.getElementById((link.getAttribute('href') || '').slice(1));
    if (!card) return;
    event.preventDefault();
    event.stopPropagation();
    const box = card.closest('details');
    if (box) box.open = true;
    const show = () => card.scrollIntoView({block: 'start', behavior: calm ? 'auto' : 'smooth'});
    show();
    // A re-render of the chat just after the click (the conversation being saved to the browser, an answer
    // arriving) scrolls the chat back to its end; bring the card back once that has settled.
    setTimeout(show, 600);
    card.classList.remove('sq-flash');
    void card.offsetWidth;  // restart the animation when the same card is clicked again
    card.classList.add('sq-flash');
  }, true);
  document.addEventListener('animationend', (event) => {
    if (event.target.classList) event.target.classList.remove('sq-flash');
  });
}
"""
