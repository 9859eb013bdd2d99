from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from qa.chunking import chunk_document
from qa.corpus import load_corpus
from qa.errors import IndexCorruptError
from qa.lexical import LexicalIndex, tokenize

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

TEXTS = [
    "भारत और अमेरिका के बीच रक्षा सहयोग पर चर्चा हुई।",
    "लेफ्टिनेंट जनरल जोशुआ एम. रुड ने बैठक की सह-अध्यक्षता की।",
    "क्रिकेट मैच में भारत ने ऑस्ट्रेलिया को हराया।",
    "मौसम विभाग ने दिल्ली में बारिश की चेतावनी दी।",
]


def test_devanagari_words_stay_whole():
    assert re.findall(r"\w+", "हिन्दी") == ["ह", "न", "द"]  # why the module does not use re's \w
    assert tokenize("हिन्दी") == ["हिंदी"]  # whole; the nasal cluster is folded to anusvara
    assert tokenize("प्रधानमंत्री ने कहा") == ["प्रधानमंत्री", "कहा"]
    assert tokenize("ड्रिस्कॉल") == ["ड्रिस्कॉल"]


def test_spelling_variants_fold_together():
    nfc = lambda s: unicodedata.normalize("NFC", s)  # noqa: E731
    assert tokenize("हिन्दी") == tokenize("हिंदी")
    assert tokenize("अन्तरराष्ट्रीय") == tokenize("अंतरराष्ट्रीय")
    assert tokenize("सम्बन्ध") == tokenize("संबंध")
    assert tokenize(nfc("ज़मीन")) == tokenize("जमीन") == tokenize("\u095bमीन")
    assert tokenize("हाँ") == tokenize("हां")
    assert tokenize("२०२५") == ["2025"]


def test_hyphens_numbers_punctuation_and_case():
    assert tokenize("इंडिया-यूएस") == ["इंडिया", "यूएस"]
    assert tokenize("22वीं बैठक") == ["22", "वीं", "बैठक"]
    assert tokenize("US Army!!! — ‘फ्रेमवर्क’ (आईएएनएस)।") == ["us", "army", "फ्रेमवर्क", "आईएएनएस"]
    assert tokenize("।,.?!") == []


def test_stopwords_are_optional():
    assert tokenize("यह भारत का है और the army") == ["भारत", "army"]
    assert tokenize("यह भारत का है", stopwords=False) == ["यह", "भारत", "का", "है"]
    assert tokenize("जोशुआ रुड कौन हैं?") == ["जोशुआ", "रुड"]


def test_search_finds_the_right_text():
    index = LexicalIndex.build(TEXTS)
    assert len(index) == 4
    hits = index.search("जोशुआ रुड ने किसकी अध्यक्षता की?", 3)
    assert hits[0][0] == 1
    assert all(score > 0 for _, score in hits)
    assert index.search("दिल्ली में बारिश", 10)[0][0] == 3
    scores = [s for _, s in index.search("भारत", 10)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 2


def test_search_edge_cases():
    index = LexicalIndex.build(TEXTS)
    assert index.search("unknown words only", 5) == []
    assert index.search("है और के", 5) == []  # stopwords only
    assert index.search("", 5) == []
    assert index.search("भारत", 0) == []
    assert len(index.search("भारत", 1000)) == 2  # k larger than the corpus
    empty = LexicalIndex.build([])
    assert len(empty) == 0 and empty.search("भारत", 3) == [] and empty.query_coverage("भारत") == 0.0


def test_query_coverage():
    index = LexicalIndex.build(TEXTS)
    assert index.query_coverage("भारत क्रिकेट") == 1.0
    assert index.query_coverage("भारत फुटबॉल") == 0.5
    assert index.query_coverage("Who won the cricket match?") == 0.0
    assert index.query_coverage("?") == 0.0


def test_seed_corpus_search():
    chunks = [c for d in load_corpus(CORPUS) for c in chunk_document(d, lambda t: len(t.split()))]
    index = LexicalIndex.build([c.text for c in chunks])
    best = chunks[index.search("ड्रिस्कॉल और द्विवेदी की मुलाकात", 1)[0][0]]
    assert best.doc_id == "2026-01-25-driscoll-dwivedi-meeting"
    best = chunks[index.search("मिलिट्री कोऑपरेशन ग्रुप बैठक हवाई", 1)[0][0]]
    assert "हवाई" in best.text


def test_save_load_roundtrip(tmp_path):
    index = LexicalIndex.build(TEXTS, stopwords=False)
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert len(loaded) == len(index) and loaded.stopwords is False
    for query in ["जोशुआ रुड", "भारत", "यह भारत का है", "nothing"]:
        assert loaded.search(query, 4) == index.search(query, 4)
        assert loaded.query_coverage(query) == index.query_coverage(query)
    assert not list((tmp_path / "bm25").glob("*.pkl"))


def test_saved_files_are_deterministic(tmp_path):
    LexicalIndex.build(TEXTS).save(tmp_path / "a")
    LexicalIndex.build(TEXTS).save(tmp_path / "b")
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_empty_index_roundtrip(tmp_path):
    LexicalIndex.build(["", "।"]).save(tmp_path / "e")
    loaded = LexicalIndex.load(tmp_path / "e")
    assert len(loaded) == 2 and loaded.search("भारत", 2) == []


def test_load_missing_folder(tmp_path):
    with pytest.raises(IndexCorruptError, match="missing"):
        LexicalIndex.load(tmp_path / "nope")


@pytest.mark.parametrize(
    "damage",
    ["delete_meta", "delete_vocab", "garble_vocab", "garble_array", "wrong_size", "wrong_format"],
)
def test_load_corrupt_folder(tmp_path, damage):
    folder = tmp_path / "bm25"
    LexicalIndex.build(TEXTS).save(folder)
    meta = json.loads((folder / "lexical.json").read_text(encoding="utf-8"))
    if damage == "delete_meta":
        (folder / "lexical.json").unlink()
    elif damage == "delete_vocab":
        (folder / "vocab.index.json").unlink()
    elif damage == "garble_vocab":
        (folder / "vocab.index.json").write_text("{not json", encoding="utf-8")
    elif damage == "garble_array":
        (folder / "data.csc.index.npy").write_bytes(b"garbage")
    elif damage == "wrong_size":
        meta["size"] = 99
        (folder / "lexical.json").write_text(json.dumps(meta), encoding="utf-8")
    elif damage == "wrong_format":
        meta["format"] = 999
        (folder / "lexical.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="Rebuild"):
        LexicalIndex.load(folder)


def test_building_logs_nothing_below_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG"):
        LexicalIndex.build(["भारत और अमेरिका की बैठक हवाई में हुई।", "नौसेना ने अभ्यास किया।"])
    assert not [r for r in caplog.records if r.name.startswith("bm25s") and r.levelno < 30]


@pytest.mark.parametrize("k", [1, 2, 3, 7, 50])
def test_search_is_the_full_sort_of_every_positive_row(k: int) -> None:
    """Only the rows that can make the top k are sorted; the result is the full sort's: score, then row id
    (many rows here tie: identical texts)."""
    texts = ["नदी पहाड़", "नदी", "पहाड़ नदी नदी", "नदी", "बादल", "पहाड़", "नदी", "नदी पहाड़"] * 3
    index = LexicalIndex.build(texts)
    for query in ("नदी", "पहाड़", "नदी पहाड़", "बादल"):
        scores = np.asarray(index._bm25.get_scores(tokenize(query)), dtype=np.float64)
        full = [
            (int(i), float(scores[i])) for i in np.lexsort((np.arange(len(scores)), -scores)) if scores[i] > 0
        ]
        assert index.search(query, k) == full[:k]
