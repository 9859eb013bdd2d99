"""History handling: the shapes a conversation arrives in, and which questions are rewritten."""

from __future__ import annotations

import unicodedata

import pytest

from qa.datasets import Turn
from qa.errors import QuestionError
from qa.followup import is_followup, needs_history, normalise_history, resolve_followup
from qa.language import ABSTAIN_MESSAGES

CO_CHAIR_INDIA = "हवाई में हुई बैठक की सह-अध्यक्षता भारत की ओर से किसने की?"
DRISCOLL = "अमेरिकी सेना सचिव डैनियल पी. ड्रिस्कॉल ने भारत में किससे मुलाकात की?"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# ------------------------------------------------------------------------------------------- history shapes


def test_question_answer_dicts():
    assert normalise_history([{"question": "क?", "answer": "ख"}]) == [Turn("क?", "ख")]


def test_gradio_messages():
    history = [
        {"role": "user", "content": "पहला प्रश्न?"},
        {"role": "assistant", "content": "पहला उत्तर"},
        {"role": "user", "content": {"text": "दूसरा प्रश्न?"}},
        {"role": "assistant", "content": [{"type": "text", "text": "दूसरा"}, "उत्तर"]},
        {"role": "assistant", "content": "स्रोत: लेख"},  # a reply split over two messages
        {"role": "user", "content": "बिना उत्तर का प्रश्न?"},
    ]
    assert normalise_history(history) == [
        Turn("पहला प्रश्न?", "पहला उत्तर"),
        Turn("दूसरा प्रश्न?", "दूसरा उत्तर\nस्रोत: लेख"),
        Turn("बिना उत्तर का प्रश्न?", ""),
    ]


def test_pairs_and_turn_objects():
    assert normalise_history([("क?", "ख"), ["ग?", None]]) == [Turn("क?", "ख"), Turn("ग?", "")]
    assert normalise_history((Turn("क?", "ख"),)) == [Turn("क?", "ख")]
    assert normalise_history(None) == [] and normalise_history([]) == []


def test_history_text_is_nfc():
    decomposed = unicodedata.normalize("NFD", "क़िला कहाँ है?")
    (turn,) = normalise_history([{"question": decomposed, "answer": ""}])
    assert turn.question == nfc("क़िला कहाँ है?")


@pytest.mark.parametrize("bad", ["not a list", [42], [{"answer": "no question"}], [("only one",)]])
def test_unusable_history_is_a_question_error(bad):
    with pytest.raises(QuestionError, match="history"):
        normalise_history(bad)


# ------------------------------------------------------------------------------------------- follow-ups


@pytest.mark.parametrize(
    "question",
    [
        "और अमेरिका की ओर से?",
        "And from the US side?",
        "What about the navy?",
        "उनकी मुलाकात कब हुई?",
        "उन्होंने क्या कहा?",
        "Where did he travel?",
        "When did they meet?",
        "इस बैठक में क्या हुआ?",
    ],
)
def test_follow_ups_are_recognised(question):
    assert is_followup(nfc(question))


@pytest.mark.parametrize(
    "question",
    [
        "भारत के रक्षा मंत्री कौन हैं?",
        "Who is the US Secretary of the Army?",
        "हवाई में हुई बैठक की सह-अध्यक्षता किसने की?",
        "इस फ्रेमवर्क पर किन देशों के रक्षा मंत्रियों ने हस्ताक्षर किए?",
        "",
    ],
)
def test_standalone_questions_are_not_follow_ups(question):
    assert not is_followup(nfc(question))


def test_standalone_question_is_unchanged_by_history():
    history = [{"question": DRISCOLL, "answer": "जनरल उपेंद्र द्विवेदी"}]
    for question in ("भारत के रक्षा मंत्री कौन हैं?", "Who is the US Secretary of the Army?"):
        assert resolve_followup(nfc(question), history) == nfc(question)


def test_no_history_no_change():
    assert resolve_followup("और अमेरिका की ओर से?", None) == "और अमेरिका की ओर से?"
    assert resolve_followup("और अमेरिका की ओर से?", []) == "और अमेरिका की ओर से?"


def test_fragment_takes_the_place_of_the_phrase_it_contrasts():
    history = [{"question": nfc(CO_CHAIR_INDIA), "answer": "एयर मार्शल अशुतोष दीक्षित"}]
    assert resolve_followup("और अमेरिका की ओर से?", history) == nfc(
        "हवाई में हुई बैठक की सह-अध्यक्षता अमेरिका की ओर से किसने की?"
    )
    history = [{"question": "Who co-chaired the meeting held in Hawaii from the Indian side?", "answer": "x"}]
    assert (
        resolve_followup("And from the US side?", history)
        == "Who co-chaired the meeting held in Hawaii from the US side?"
    )


def test_fragment_without_a_shared_frame_goes_where_the_language_puts_it():
    history = [{"question": nfc("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?"), "answer": "x"}]
    assert resolve_followup("और अमेरिका की ओर से?", history) == nfc(
        "हवाई में हुई बैठक की सह-अध्यक्षता अमेरिका की ओर से किसने की?"
    )
    history = [{"question": "Who co-chaired the meeting in Hawaii?", "answer": "x"}]
    assert (
        resolve_followup("And from the US side?", history)
        == "Who co-chaired the meeting in Hawaii from the US side?"
    )
    history = [{"question": "Tell me about the meeting", "answer": "x"}]
    assert resolve_followup("And the navy?", history) == "Tell me about the meeting the navy"


def test_pronoun_gets_the_previous_turns_entities():
    history = [{"question": nfc(DRISCOLL), "answer": "जनरल उपेंद्र द्विवेदी"}]
    query = resolve_followup("उनकी मुलाकात कब हुई?", history)
    assert query.startswith("उनकी मुलाकात कब हुई?")  # its own question word comes first
    assert "ड्रिस्कॉल" in query and "द्विवेदी" in query
    assert "किससे" not in query  # the previous question's question word is not carried over


def test_abstention_answers_are_not_carried_into_the_query():
    history = [{"question": "भारत के रक्षा मंत्री कौन हैं?", "answer": ABSTAIN_MESSAGES["hi"]}]
    query = resolve_followup("उन्होंने किसके साथ समझौता किया?", history)
    assert ABSTAIN_MESSAGES["hi"] not in query and "मंत्री" in query


def test_chained_follow_ups_resolve_through_the_history():
    history = [
        {"question": nfc(CO_CHAIR_INDIA), "answer": "एयर मार्शल अशुतोष दीक्षित"},
        {"question": "और अमेरिका की ओर से?", "answer": "लेफ्टिनेंट जनरल जोशुआ एम. रुड"},
    ]
    query = resolve_followup("उनकी बैठक कहाँ हुई?", history)
    assert "हवाई" in query and "अमेरिका" in query


def test_gradio_history_works_end_to_end():
    history = [
        {"role": "user", "content": "Who co-chaired the meeting held in Hawaii from the Indian side?"},
        {"role": "assistant", "content": "एयर मार्शल अशुतोष दीक्षित"},
    ]
    assert "US side" in resolve_followup("And from the US side?", history)


@pytest.mark.parametrize(
    "question, expected",
    [
        ("और अमेरिका की ओर से?", True),
        ("And from the US side?", True),
        ("What about the navy?", True),
        ("और यह बैठक कहाँ हुई?", False),
        ("यह बैठक कहाँ हुई?", False),
        ("उनकी मुलाकात कब हुई?", False),
        ("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?", False),
    ],
)
def test_bare_fragments_need_history(question: str, expected: bool) -> None:
    assert needs_history(unicodedata.normalize("NFC", question)) is expected


def test_a_bare_follow_up_in_a_fresh_chat_asks_for_the_full_question(seed_corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from qa.config import Settings
    from qa.language import FOLLOWUP_MESSAGES
    from qa.pipeline import Assistant

    settings = Settings(
        corpus_dir=seed_corpus,
        index_dir=tmp_path / "index",
        cache_dir=tmp_path / "cache",
        model="hashing:256",
    )
    assistant = Assistant.from_settings(settings, progress=False)
    for question, language in (("और अमेरिका की ओर से?", "hi"), ("And from the US side?", "en")):
        answer = assistant.ask(question)
        assert answer.abstained and answer.text == FOLLOWUP_MESSAGES[language] and not answer.sources
        answer = assistant.ask(question, history=[])
        assert answer.abstained and answer.text == FOLLOWUP_MESSAGES[language]
