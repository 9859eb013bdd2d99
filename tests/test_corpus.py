from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from qa.corpus import (
    SUPPORTED_SUFFIXES,
    corpus_fingerprint,
    load_corpus,
    load_document,
    parse_article,
    slugify,
)
from qa.errors import CorpusError
from qa.types import Document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
HAWAII = "2025-11-06-india-us-military-cooperation-group-hawaii"
DRISCOLL = "2026-01-25-driscoll-dwivedi-meeting"


@pytest.fixture(scope="module")
def seed() -> dict[str, Document]:
    return {d.id: d for d in load_corpus(CORPUS)}


def test_seed_ids_titles_and_dates(seed):
    assert sorted(seed) == [HAWAII, DRISCOLL]
    hawaii, driscoll = seed[HAWAII], seed[DRISCOLL]
    assert hawaii.title == "भारत और अमेरिकी सैन्य कमांडर्स ने डिफेंस पार्टनरशिप पर की चर्चा"
    assert hawaii.date == "2025-11-06"
    assert driscoll.date == "2026-01-25"
    # No headline line in this file ("AMN / NEWS DESK" is a byline): the title comes from the first sentence.
    assert driscoll.title.startswith("यूएस सेक्रेटरी ऑफ द आर्मी")
    assert len(driscoll.title) <= 81 and driscoll.title.endswith("…")
    assert driscoll.source.endswith(f"{DRISCOLL}.txt")


def test_seed_text_excludes_the_date_line_and_is_nfc(seed):
    for doc in seed.values():
        assert not doc.text.lstrip().startswith("date")
        assert "Last Updated" not in doc.text and "अन्तरराष्ट्रीय" not in doc.text.split("\n")[0]
        assert unicodedata.is_normalized("NFC", doc.text)
        assert doc.text == doc.text.strip()
    assert seed[HAWAII].text.startswith(seed[HAWAII].title)
    assert "जोशुआ एम. रुड" in seed[HAWAII].text


def test_load_corpus_is_sorted_and_deterministic():
    first, second = load_corpus(CORPUS), load_corpus(CORPUS)
    assert [d.id for d in first] == sorted(d.id for d in first)
    assert first == second
    assert corpus_fingerprint(first) == corpus_fingerprint(list(reversed(second)))


def test_fingerprint_changes_with_text():
    a = Document(id="a", title="t", text="x", source="s")
    b = Document(id="a", title="t", text="y", source="s")
    assert corpus_fingerprint([a]) != corpus_fingerprint([b])
    assert len(corpus_fingerprint([a])) == 64


def test_front_matter_header(tmp_path):
    path = tmp_path / "News One.md"
    path.write_text(
        "---\ntitle: शीर्षक यहाँ\ndate: 2024-03-05\nsource: https://example.com/a\n---\n\n"
        "पहला वाक्य। दूसरा वाक्य।\n",
        encoding="utf-8",
    )
    doc = load_document(path)
    assert (doc.id, doc.title, doc.date, doc.source) == (
        "news-one",
        "शीर्षक यहाँ",
        "2024-03-05",
        "https://example.com/a",
    )
    assert doc.text == "पहला वाक्य। दूसरा वाक्य।"


def test_simple_header_without_dashes():
    doc = parse_article("title: Headline\ndate: 2024-01-02\n\nBody text here.", doc_id="x", source="s")
    assert (doc.title, doc.date, doc.text) == ("Headline", "2024-01-02", "Body text here.")


def test_a_sentence_starting_with_title_colon_is_not_a_header():
    doc = parse_article("title: a word\nand the article goes on.", doc_id="x", source="s")
    assert doc.text.startswith("title: a word")


def test_markdown_heading_is_the_title(tmp_path):
    path = tmp_path / "a.md"
    path.write_text("# बड़ी ख़बर\n\nआज कुछ हुआ।\n", encoding="utf-8")
    doc = load_document(path)
    assert doc.title == unicodedata.normalize("NFC", "बड़ी ख़बर")
    assert doc.text.startswith(doc.title) and "#" not in doc.text


def test_plain_text_title_from_first_sentence():
    doc = parse_article("यह एक वाक्य है। यह दूसरा वाक्य है।", doc_id="x", source="s")
    assert doc.title == "यह एक वाक्य है"
    assert doc.date is None


def test_date_from_file_name_when_no_header(tmp_path):
    path = tmp_path / "2024-02-29-leap.txt"
    path.write_text("कुछ पाठ।", encoding="utf-8")
    assert load_document(path).date == "2024-02-29"


def test_bad_header_date(tmp_path):
    with pytest.raises(CorpusError, match="ISO date"):
        parse_article("date: 5 March\n\ntext", doc_id="x", source="s")


def test_bom_crlf_and_nfc(tmp_path):
    path = tmp_path / "bom.txt"
    decomposed = "ज\u093cमीन"  # NFC keeps ज + nukta; the precomposed U+095B must be normalised to it
    path.write_bytes("\ufeffशीर्षक\r\n\r\n\u095bमीन बिकी।\r\n".encode("utf-8"))
    doc = load_document(path)
    assert "\r" not in doc.text and "\ufeff" not in doc.text
    assert doc.text == f"शीर्षक\n\n{decomposed} बिकी।"


def test_ids_are_slugs_keeping_devanagari_and_unique(tmp_path):
    (tmp_path / "भारत अमेरिका.txt").write_text("एक।", encoding="utf-8")
    (tmp_path / "भारत_अमेरिका.md").write_text("दो।", encoding="utf-8")
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("x", encoding="utf-8")
    docs = load_corpus(tmp_path)
    assert [d.id for d in docs] == ["भारत-अमेरिका", "भारत-अमेरिका-2"]
    assert slugify("Hello, World! 2025") == "hello-world-2025"


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        ("bad.txt", "नम".encode() + b"\xff\xfe abc", r"not valid UTF-8 .*byte offset 6"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("controls.txt", bytes(range(1, 9)) * 20, "binary"),
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"  \n\t\n ", "empty"),
        ("header-only.txt", b" date 2025-01-01 x\n\n", "no article text"),
        # Nothing a lexical index could take a word from: each says what it found, none claims a header.
        ("markup-only.md", b"<b></b> <br/>\n", "only markup"),
        ("punctuation.txt", "--- !!! ??? ।।".encode(), "no words"),
        ("header-then-markup.txt", b"title: x\n\n<p></p>\n", "header but no article text"),
    ],
)
def test_bad_files_raise_corpus_error_naming_the_file(tmp_path, name, content, pattern):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=pattern) as info:
        load_document(path)
    assert info.value.path == str(path)
    assert name in str(info.value)


def test_too_large(tmp_path):
    path = tmp_path / "huge.txt"
    path.write_text("शब्द " * 1000, encoding="utf-8")
    with pytest.raises(CorpusError, match="limit is 100 bytes"):
        load_document(path, max_bytes=100)


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "article.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(CorpusError, match="unsupported") as info:
        load_document(path)
    assert all(s in str(info.value) for s in SUPPORTED_SUFFIXES)


def test_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_document(tmp_path / "nope.txt")


def test_missing_folder_not_a_folder_and_no_articles(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "missing")
    file = tmp_path / "file.txt"
    file.write_text("x", encoding="utf-8")
    with pytest.raises(CorpusError, match="not a folder"):
        load_corpus(file)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.pdf").write_bytes(b"x")
    with pytest.raises(CorpusError, match="no articles"):
        load_corpus(empty)


def test_one_bad_file_fails_the_corpus_with_its_name(tmp_path):
    (tmp_path / "good.txt").write_text("ठीक है।", encoding="utf-8")
    (tmp_path / "broken.txt").write_bytes(b"\xc3\x28")
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path)
    assert info.value.path.endswith("broken.txt")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_named_with_how_to_convert(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "lekh.txt"
    data = "शीर्षक\n\nकुछ पाठ।".encode(encoding)
    if encoding != "utf-16":  # the explicit-endian codecs write no byte-order mark; editors do
        data = ("\ufeff".encode(encoding)) + data
    path.write_bytes(data)
    with pytest.raises(CorpusError, match="UTF-16") as info:
        load_document(path)
    assert "UTF-8" in str(info.value) and "binary" not in str(info.value)


def test_markup_is_stripped_at_load_so_passages_hold_words_only(tmp_path: Path) -> None:
    path = tmp_path / "lekh.md"
    path.write_text(
        "title: अभ्यास\n\n<p>सेना के <b>बारह</b> दल शामिल हुए।</p><script>alert('x')</script>\n"
        "**नौसेना** ने [पीआईबी](https://pib.gov.in) को बताया &amp; ![चित्र](a.png) कहा कि 5 * 3 < 20 है।",
        encoding="utf-8",
    )
    doc = load_document(path)
    assert "सेना के बारह दल शामिल हुए।" in doc.text
    assert "नौसेना ने पीआईबी को बताया & चित्र कहा कि 5 * 3 < 20 है।" in doc.text
    for junk in ("<b>", "</p>", "script", "alert", "**", "](", "&amp;"):
        assert junk not in doc.text
