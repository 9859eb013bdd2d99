"""The one home of Hindi/English word knowledge (qa/text.py over qa/data/words.json)."""

from __future__ import annotations

import json
import unicodedata

from qa import text
from qa.language import question_type
from qa.lexical import tokenize


def test_every_list_is_nfc_without_repeats_and_loads() -> None:
    data = json.loads(text.WORDS_FILE.read_text(encoding="utf-8"))
    for kind, by_language in data.items():
        if kind.startswith("_"):
            continue
        for language, entries in by_language.items():
            if language.startswith("_"):
                continue
            groups = entries.values() if isinstance(entries, dict) else [entries]
            for group in groups:
                assert all(w == unicodedata.normalize("NFC", w) and w.strip() == w and w for w in group), kind
                assert len(set(group)) == len(group), (kind, language)
            if kind != "question_words":
                assert text.words(kind, language)


def test_question_words_are_not_listed_again_as_function_words() -> None:
    for language in ("hi", "en"):
        assert not text.words("function_words", language) & text.question_words(language)
        assert text.question_words(language, "who") <= text.question_words(language)


def test_bm25_and_the_question_classifier_read_the_same_lists() -> None:
    # A function word or question word never reaches BM25; a content word does.
    assert tokenize("किन्होंने बैठक की ओर से सह-अध्यक्षता की?") == ["बैठक", "सह", "अध्यक्षता"]
    assert question_type("किन्होंने बैठक की अध्यक्षता की?") == "who"
    # 'कहा' (said) is not 'कहाँ' (where), though typed alike.
    assert question_type("उसने क्या कहा?") == "what" and question_type("बैठक कहाँ हुई?") == "where"


def test_script_patterns_keep_hindi_words_whole() -> None:
    assert text.WORD_RE.findall("हिन्दी समाचार") == ["हिन्दी", "समाचार"]
    assert text.COMPOUND_WORD_RE.findall("सह-अध्यक्षता India's") == ["सह-अध्यक्षता", "India's"]
    assert text.is_devanagari("abc क") and not text.is_devanagari("abc")
