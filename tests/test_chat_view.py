"""The chat's views on hand-made answers (no server, no model): records, per-answer source cards and citation
links, escaping, the low-confidence tag, the rewritten question, the corpus panel and the upload status."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from qa import chat_view as view
from qa.retriever import IngestReport
from qa.types import Answer, ArticleInfo, Source

PASSAGE = "बैठक <b>की</b> सह-अध्यक्षता एयर मार्शल अशुतोष दीक्षित ने की। $x$ *y*"
SPAN = "अशुतोष दीक्षित"


def _answer(**kw: Any) -> Answer:
    start = PASSAGE.index(SPAN)
    source = Source(
        doc_id="d",
        title="शीर्षक <i>",
        date="2025-11-06",
        text=PASSAGE,
        start=0,
        end=len(PASSAGE),
        score=1.0,
        answer_start=start,
        answer_end=start + len(SPAN),
        link='https://example.org/a?x=1&y="2"',
    )
    values: dict[str, Any] = dict(
        question="q <script>",
        text=SPAN,
        abstained=False,
        confidence=0.9,
        sources=(source, replace(source, doc_id="e", title="दूसरा", link=None)),
    )
    values.update(kw)
    return Answer(**values)


def _record(**kw: Any) -> dict[str, Any]:
    return view.answer_record(_answer(**kw))


def test_record_is_plain_json_with_what_the_cards_need() -> None:
    record = _record()
    assert json.loads(json.dumps(record)) == record
    assert record["status"] == "answered" and record["sources"][0]["span"] == SPAN
    assert record["sources"][0]["link"].startswith("https://") and record["sources"][1]["link"] is None


def test_citations_link_to_the_cards_of_their_own_answer() -> None:
    html = view.render_record(_record(), 3)
    assert '<a class="sq-cite" href="#sq-s3-1">[1]</a>' in html and 'href="#sq-s3-2"' in html
    assert 'id="sq-s3-1"' in html and 'id="sq-s3-2"' in html
    # Two answers in one chat: each keeps its own cards and ids.
    chat = view.render_chat([_record(), _record(text="दूसरा उत्तर")])
    bots = [m["content"] for m in chat if m["role"] == "assistant"]
    assert 'id="sq-s0-1"' in bots[0] and 'id="sq-s0-1"' not in bots[1] and 'id="sq-s1-1"' in bots[1]
    # The newest answer's sources are open, older ones collapsed.
    assert '<details class="sq-sources" open>' in bots[1] and '<details class="sq-sources">' in bots[0]


def test_cards_show_title_date_link_and_marked_span_all_escaped() -> None:
    html = view.render_record(_record(), 0)
    assert f"<mark>{SPAN}</mark>" in html
    assert "&lt;b&gt;की&lt;/b&gt;" in html and "शीर्षक &lt;i&gt;" in html and "<b>" not in html
    assert "2025-11-06" in html
    assert (
        'href="https://example.org/a?x=1&amp;y=&quot;2&quot;"' in html and 'rel="noopener noreferrer"' in html
    )
    assert html.count('class="sq-link"') == 1  # the second source has no link
    question = view.render_chat([_record()])[0]["content"]
    assert "&lt;script&gt;" in question and "<script>" not in question


def test_only_web_links_are_linked() -> None:
    record = _record()
    record["sources"][0]["link"] = "javascript:alert(1)"  # e.g. a tampered record from the browser
    assert "javascript:" not in view.render_record(record, 0)


def test_bad_offsets_mark_nothing() -> None:
    assert "<mark>" not in view.highlight(PASSAGE, 5, 10_000)
    assert "<mark>" not in view.highlight(PASSAGE, "5", 9)
    assert view.highlight("<a>", None, None) == "&lt;a&gt;"


def test_low_confidence_tag_only_on_unsure_answers() -> None:
    assert "low confidence" in view.render_record(_record(confidence=0.3), 0)
    assert "low confidence" not in view.render_record(_record(confidence=0.5), 0)
    abstained = _record(
        abstained=True, confidence=0.1, text="I could not find this in the articles.", sources=()
    )
    assert "low confidence" not in view.render_record(abstained, 0)


def test_rewritten_follow_up_is_shown_in_small_print() -> None:
    html = view.render_record(_record(search_query="हवाई में बैठक <अमेरिका> की ओर से किसने की?"), 0)
    assert 'class="sq-readas"' in html and "&lt;अमेरिका&gt;" in html
    assert "sq-readas" not in view.render_record(_record(), 0)


def test_quoted_answers_say_so() -> None:
    html = view.render_record(_record(quoted=True, language="en"), 0)
    assert "quoted from the Hindi article" in html and "quoted from this article" in html


def test_abstention_hints_at_what_the_corpus_covers() -> None:
    articles = [
        ArticleInfo("a", "पहला", "2025-11-06", 3),
        ArticleInfo("b", "दूसरा <x>", "2026-01-25", 2),
        ArticleInfo("c", "तीसरा", None, 1),
    ]
    answer = _answer(abstained=True, text="I could not find this in the articles.", sources=(), language="en")
    answer = replace(answer, retrieved=(replace(_answer().sources[0], title="दूसरा <x>"),))
    record = view.answer_record(answer, articles)
    html = view.render_record(record, 0)
    assert "I could not find this in the articles." in html and "<mark>" not in html and "[1]" not in html
    assert "The 3 articles here (2025-11-06 – 2026-01-25)" in html and "«दूसरा &lt;x&gt;»" in html
    record["language"] = "hi"
    assert "यहाँ 3 लेख हैं" in view.render_record(record, 0)


def test_notices_and_pending_question() -> None:
    chat = view.render_chat([view.notice_record("empty", view.EMPTY_PROMPT)], pending="नया <प्रश्न>")
    assert [m["role"] for m in chat] == ["assistant", "user", "assistant"]
    assert view.EMPTY_PROMPT in chat[0]["content"] and "&lt;प्रश्न&gt;" in chat[1]["content"]
    assert view.SEARCHING in chat[2]["content"]
    error = view.render_record(view.notice_record("error", "⚠️ <oops>", "q"), 0)
    assert "&lt;oops&gt;" in error


def test_history_is_the_answered_turns_in_plain_text() -> None:
    conversation = [
        _record(),
        view.notice_record("error", "x", "q2"),
        _record(abstained=True, text="no", sources=()),
    ]
    assert view.conversation_history(conversation) == [{"question": "q <script>", "answer": SPAN}]


def test_restore_keeps_well_formed_records_only() -> None:
    good = _record()
    assert view.restore_conversation([good, "junk", {"status": "hacked"}, None]) == [good]
    assert view.restore_conversation("not a list") == []
    assert len(view.restore_conversation([good] * (view.MAX_SAVED_RECORDS + 5))) == view.MAX_SAVED_RECORDS


def test_corpus_panel_counts_and_escapes() -> None:
    articles = [
        ArticleInfo("a", "पहला <b>", "2025-11-06", 3, "https://example.org/a"),
        ArticleInfo("b", "दूसरा", None, 1),
    ]
    html = view.render_articles(articles)
    assert 'Articles <span class="sq-count">(2)</span>' in html
    assert "पहला &lt;b&gt;" in html and "3 passages" in html and "1 passage<" in html
    assert 'href="https://example.org/a"' in html
    assert view.article_choices(articles) == [("पहला <b> (2025-11-06)", "a"), ("दूसरा", "b")]
    assert "पहला &lt;b&gt;" in view.delete_question(articles[0])


def test_a_big_upload_is_a_summary_and_a_collapsed_list() -> None:
    ids = tuple(f"doc-{i}" for i in range(40))
    report = IngestReport(
        added_documents=ids[:38],
        replaced_documents=(),
        unchanged_documents=ids[38:],
        chunks_added=120,
        texts_embedded=300,
        total_chunks=130,
        renamed=(("<a>.txt", "a-2.txt"),),
    )
    articles = [ArticleInfo(i, f"title {i}", None, 3) for i in ids]
    status = view.render_ingest([f"{i}.txt" for i in ids], report, articles)
    summary, _, listing = status.partition("<details")
    assert summary.startswith("✅ 40 files: added 38 articles, 2 articles already in the index unchanged;")
    assert "doc-7.txt" not in summary and "120 passages added" in summary
    assert listing.count("<li>") == 41 and "&lt;a&gt;.txt" in listing
    few = view.render_ingest(
        ["<x>.txt"], replace(report, added_documents=ids[:1], unchanged_documents=(), renamed=()), articles
    )
    assert few.startswith("✅ <b>&lt;x&gt;.txt</b>: added 1 article;") and "<details" not in few


def test_progress_text_names_the_article_and_the_time_left() -> None:
    assert view.progress_text(0, 100, "लेख", 0.0) == "Embedding «लेख»: 0/100 passages and sentences"
    assert view.progress_text(25, 100, "लेख", 10.0).endswith("about 30 s left")
    assert view.progress_text(10, 1000, "लेख", 10.0).endswith("about 17 min left")
