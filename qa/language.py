"""Which language a question is in, what kind of answer it asks for, and the abstention messages.

Pure functions over text (no models). Hindi questions are recognised by their question words, which also
carry the case of the answer (`किसने` -> the answer is the agent, followed by `ने` in the article).
"""

from __future__ import annotations

import re

from qa.text import DEVANAGARI_RE, WORD_RE, question_words, words

ABSTAIN_MESSAGES = {
    "hi": "यह जानकारी उपलब्ध लेखों में नहीं मिली।",
    "en": "I could not find this in the articles.",
}

# A bare follow-up ("और अमेरिका की ओर से?") in a conversation with no earlier question.
FOLLOWUP_MESSAGES = {
    "hi": "यह पिछले प्रश्न से जुड़ा लगता है, पर कोई पिछला प्रश्न नहीं है। कृपया पूरा प्रश्न पूछें।",
    "en": "This reads as a follow-up, but there is no earlier question. Please ask the full question.",
}

QUESTION_TYPES = ("who", "when", "where", "how_many", "what", "why", "how", "which", "yesno", "other")


def detect_language(text: str) -> str:
    """ "hi" when at least half of the letters are Devanagari, else "en" (text with no letters: "hi",
    the language of the articles).

    Args:
        text: a question or any text.
    Returns:
        "hi" or "en".
    """
    devanagari = latin = 0
    for ch in text:
        if DEVANAGARI_RE.match(ch):
            # Vowel signs and viramas are not letters to str.isalpha(), but they belong to the script.
            devanagari += 1
        elif ch.isalpha():
            latin += 1
    if devanagari == 0 and latin == 0:
        return "hi"
    return "hi" if devanagari >= latin else "en"


def _words(text: str) -> list[str]:
    return WORD_RE.findall(text.lower())


# Word lists (qa/data/words.json).
_HI_TIME_NOUNS = words("time_nouns", "hi")
_HI_PLACE_NOUNS = words("place_nouns", "hi")
_HI_POSTPOSITIONS = words("postpositions", "hi")
_HI_WHO = question_words("hi", "who")
_HI_HOW_MANY = question_words("hi", "how_many")
_HI_HOW = question_words("hi", "how")
_HI_WHERE = question_words("hi", "where")
_EN_AUX = words("auxiliaries", "en")
_EN_TIME = words("time_nouns", "en")
_EN_PLACE = words("place_nouns", "en")


def question_type(question: str) -> str:
    """The kind of answer a question asks for.

    Args:
        question: a Hindi or English question.
    Returns:
        one of who, when, where, how_many, what, why, how, which, yesno, other.
    """
    words = _words(question)
    if not words:
        return "other"
    if detect_language(question) == "hi":
        return _hindi_type(words)
    return _english_type(words)


def _hindi_type(words: list[str]) -> str:
    if "क्यों" in words or "किसलिए" in words:
        return "why"
    if any(w in _HI_HOW_MANY for w in words):
        return "how_many"
    if "कब" in words:
        return "when"
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        nxt2 = words[i + 2] if i + 2 < len(words) else ""
        if w in ("किस", "किन") or (w == "कौन" and nxt in ("सा", "सी", "से")):
            noun = nxt2 if w == "कौन" else nxt
            if noun in _HI_TIME_NOUNS:
                return "when"
            if noun in _HI_PLACE_NOUNS:
                return "where"
    if any(w in _HI_WHERE for w in words):
        return "where"
    if "किस" in words and ("तरह" in words or "प्रकार" in words):
        return "how"
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in _HI_WHO:
            return "who"
        if w == "कौन":
            return "which" if nxt in ("सा", "सी", "से") else "who"
        if w in ("किस", "किन"):
            # "किस के", "किन से": the question word with a detached postposition asks for a person.
            if nxt in ("पर", "में"):
                return "what"  # "किस पर आधारित", "किस में": a thing, not a person
            return "who" if nxt in _HI_POSTPOSITIONS or not nxt else "which"
    if any(w in _HI_HOW for w in words):
        return "how"
    if "क्या" in words:
        # Sentence-initial क्या with more to follow is the yes/no particle ("क्या भारत ने ... किया?").
        return "yesno" if words[0] == "क्या" and len(words) > 2 else "what"
    return "other"


def _english_type(words: list[str]) -> str:
    joined = " ".join(words)
    if "why" in words:
        return "why"
    if re.search(r"\bhow (many|much|long|old|far|often)\b", joined):
        return "how_many"
    if "when" in words or re.search(r"\bwhat (year|date|day|month|time|century)\b", joined):
        return "when"
    if "where" in words:
        return "where"
    m = re.search(r"\b(which|what) (\w+)", joined)
    if m and m.group(2) in _EN_TIME:
        return "when"
    if m and m.group(2) in _EN_PLACE:
        return "where"
    if words[0] in ("who", "whom", "whose") or "who" in words or "whom" in words or "whose" in words:
        return "who"
    if "which" in words:
        return "which"
    if words[0] == "how" or " how " in f" {joined} ":
        return "how"
    if "what" in words:
        return "what"
    if words[0] in _EN_AUX:
        return "yesno"
    return "other"
