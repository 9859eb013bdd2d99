"""The language helpers: which language a question is in, and what it asks for."""

from __future__ import annotations

import unicodedata

import pytest

from qa.language import detect_language, question_type


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def test_detect_language_by_script():
    assert detect_language("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?") == "hi"
    assert detect_language("Who co-chaired the meeting held in Hawaii?") == "en"
    assert detect_language("Who is डैनियल पी. ड्रिस्कॉल?") == "hi"  # more Devanagari letters than Latin
    assert detect_language("2025?") == "hi"  # no letters: the language of the articles


@pytest.mark.parametrize(
    "question, expected",
    [
        ("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?", "who"),
        ("भारत के रक्षा मंत्री कौन हैं?", "who"),
        ("उन्होंने किसके साथ समझौते पर हस्ताक्षर किए?", "who"),
        ("बैठक कब हुई?", "when"),
        ("बैठक किस तारीख को हुई?", "when"),
        ("बैठक कहाँ हुई?", "where"),
        ("बैठक कहां हुई?", "where"),
        ("बैठक किस शहर में हुई?", "where"),
        ("कौन सा देश मेज़बान था?", "where"),
        ("फ्रेमवर्क कितने वर्षों के लिए है?", "how_many"),
        ("बैठक का उद्देश्य क्या था?", "what"),
        ("क्या भारत ने समझौते पर हस्ताक्षर किए?", "yesno"),
        ("बांध क्यों बनाए जाएंगे?", "why"),
        ("सहयोग कैसे बढ़ेगा?", "how"),
        ("कौन से विषय शामिल थे?", "which"),
        ("किन क्षेत्रों में सहयोग बढ़ेगा?", "which"),
        ("Who co-chaired the meeting?", "who"),
        ("When was the meeting held?", "when"),
        ("In which city was the meeting held?", "where"),
        ("How many delegates came?", "how_many"),
        ("What was the purpose of the visit?", "what"),
        ("Why were the dams built?", "why"),
        ("Did India sign the framework?", "yesno"),
        ("और अमेरिका की ओर से?", "other"),
    ],
)
def test_question_type(question, expected):
    assert question_type(nfc(question)) == expected
