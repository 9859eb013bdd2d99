"""Readers turn retrieved passages into a short answer; `ExtractiveReader` is the default.

No model beyond the embedding model: no multilingual extractive-QA model or instruction-tuned LLM ships on PyPI,
so the default reader is a set of general rules over the retrieved text, scored with the embedding model.
(`qa/hf_readers.py` plugs in a transformers model where one is available.)

How `ExtractiveReader` answers
------------------------------
1. Candidate sentences: the retrieved chunks are cut with `qa.chunking.split_sentences` (offsets map back into
   the chunk), duplicates from overlapping chunks are merged, and at most `max_sentences` are kept, ranked by
   question-word overlap and by the rank of their chunk.
2. Sentence score: cosine of the question and the sentence under the encoder (one batch for all candidates,
   cached by text, so repeated sentences cost nothing) plus the IDF-weighted share of the question's content
   words the sentence holds (Devanagari-aware tokens, light Hindi suffix stripping) plus a bonus when the
   sentence holds an answer of the asked type (a date for "when", a number for "how many").
3. Span: in the best few sentences the answer is looked for in the part *not* covered by question words,
   near them. Spans are runs of words bounded by Hindi postpositions (ने, को, से, में, के, की, का, द्वारा…),
   conjunctions, auxiliaries and punctuation; coordinated runs ("X और Y", "3 व 4 नवम्बर"), genitive
   phrases and the agent before ने are candidates too, and honorific titles (एयर मार्शल, जनरल, श्री, डॉ…) stay
   inside a name. A candidate scores for its type (title or agent marker for who, date patterns with Hindi
   and English month names for when, numbers for how many, a place before में for where), for the case
   marker the question's own wh-word carries (किसने → the answer precedes ने), for sitting next to the
   question's words that surround the wh-word in the question ("भारत के रक्षा मंत्री कौन" → right after
   "मंत्री"), and for a plausible length. Why/how questions (explanations) and yes/no questions get the whole
   sentence; nothing longer is ever returned.
4. A follow-up's own words (`focus`, e.g. "और अमेरिका की ओर से?") pull the span towards the place in the
   sentence that matches them, lexically or (for English) by embedding similarity of the candidates' context.

Every answer span is a slice of a cited source: ``source.text[answer_start:answer_end] == answer.text``. An
English question answered from a Hindi article gets the Hindi span with ``quoted=True``.

Abstention and how its threshold was calibrated
-----------------------------------------------
`confidence` is a logistic function of evidence that the retrieved text answers the question:

- ``dense``: the cosine of question and best sentence (multilingual-e5-small; its cosines sit in a narrow
  band, roughly 0.75 for unrelated and 0.85+ for answering sentences);
- ``missing``: the IDF-weighted share of the question's content words found *nowhere* in the retrieved
  passages (a Hindi question about चीन and सीमा over articles that never mention them). Latin-script
  questions against Devanagari text carry no lexical evidence, so for them only the Latin words that could
  occur in the articles (names, acronyms) count;
- ``typed``: whether a candidate of the asked type exists (no date anywhere for a "when" question is
  evidence against);
- the span score of the chosen candidate.

The weights and `abstain_threshold` were set by hand on `eval/seed_dev.jsonl` (37 answerable, 10
unanswerable questions, including two hard ones that mention entities of the articles) by looking at the
feature values of each question, choosing the threshold midway between the clusters, and were then checked
on XQuAD-hi with the gold paragraph given (where abstaining is always wrong). See
`benchmarks/reader_xquad.py` and the report in the README for the figures.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from embeddings.encoder import Encoder
from qa.chunking import split_sentences
from qa.errors import QuestionError
from qa.language import ABSTAIN_MESSAGES, detect_language, question_type
from qa.lexical import tokenize as lexical_tokenize
from qa.types import Answer, Hit, Source


@runtime_checkable
class Reader(Protocol):
    """Reads the retrieved hits and answers the question from them."""

    name: str

    def read(self, question: str, hits: Sequence[Hit], *, language: str,
             focus: str | None = None) -> Answer:
        """Answer `question` from `hits`.

        Args:
            question: the (possibly rewritten, see `qa.followup.resolve_followup`) question.
            hits: retrieved passages, best first.
            language: "hi" or "en": the language of the user's own question (abstention message, quoting).
            focus: for a rewritten follow-up, the user's own words ("और अमेरिका की ओर से?"); the answer is
                looked for near what they name.
        """
        ...


# ---------------------------------------------------------------------------------------------- word lists

def _nfc_set(words: str) -> frozenset[str]:
    return frozenset(unicodedata.normalize("NFC", w) for w in words.split())


# Case markers and postpositions: they end a noun phrase and never start an answer.
POSTPOSITIONS = _nfc_set("""ने को से में पर के की का तक द्वारा लिए लिये साथ बाद दौरान बीच ओर तरफ अनुसार बारे प्रति
    बिना समेत सहित विरुद्ध खिलाफ़ खिलाफ ख़िलाफ़ पास ऊपर नीचे अंदर भीतर बाहर सामने पीछे आगे जरिए ज़रिए तहत वाले वाली
    वाला मे""")
CONJUNCTIONS = _nfc_set("""और व तथा एवं या अथवा लेकिन किंतु किन्तु परंतु परन्तु जबकि कि जो जिसने जिसके जिसकी जिसका
    जिन्होंने जिसमें जिनमें जिनके जिनकी जिसे जिन्हें जहां जहाँ जब तब तो भी ही यदि अगर क्योंकि इसलिए ताकि बल्कि
    and or but that which who whom whose while when where because""")
AUXILIARIES = _nfc_set("""है हैं था थे थी थीं हो होता होती होते होना होने हुआ हुई हुए हुईं गया गई गए गयी गये किया किए
    किये करना करने करते करती करता कर करके रहा रही रहे रहीं सकता सकती सकते सका सकी सके जाता जाती जाते जाना जाने
    जा दिया दी दिए दिये देना देने देते देती लिया ली लेना लेने लेते बताया कहा गईं चुका चुकी चुके पाया पाई रखा
    is are was were be been being has have had do does did will would can could shall should may might""")
DETERMINERS = _nfc_set("""यह वह ये वे इस उस इन उन इसके उसके इसकी उसकी इसका उसका इनके उनके उनकी उनका इसमें उसमें
    इसे उसे इन्हें उन्हें अपने अपनी अपना कुछ सभी सब कई अन्य इसी उसी वही यही ऐसा ऐसी ऐसे वहां वहाँ यहां यहाँ
    इसने उसने इन्होंने उन्होंने नहीं न बहुत अधिक अब फिर हाल
    a an the this that these those its his her their our your my it he she they we""")
QUESTION_WORDS = _nfc_set("""कौन कौनसा कौनसी कौनसे किसने किसके किसकी किसका किसे किसको किससे किसपर किसमें किन्होंने
    किनके किनकी किनका किनको किनसे किन्हें किस किन कब कहाँ कहां क्या क्यों कैसे कैसा कैसी कितने कितनी कितना
    कितनों किसलिए सा सी से
    who whom whose what which when where why how many much""")
# Words that may sit inside a name: "चीफ ऑफ इंटीग्रेटेड डिफेंस स्टाफ", "सेक्रेटरी ऑफ द आर्मी".
NAME_GLUE = _nfc_set("ऑफ द of the de von van bin")
TITLES = _nfc_set("""एयर मार्शल लेफ्टिनेंट जनरल मेजर एडमिरल वाइस रियर कर्नल कैप्टन कमांडर ब्रिगेडियर कमोडोर
    फील्ड राष्ट्रपति उपराष्ट्रपति प्रधानमंत्री मुख्यमंत्री मंत्री राज्यपाल सचिव श्री श्रीमती सुश्री डॉ डॉक्टर प्रो
    प्रोफेसर न्यायमूर्ति जस्टिस राजा रानी सम्राट महाराजा महारानी सुल्तान अध्यक्ष सांसद विधायक चीफ सेक्रेटरी
    सेनापति सेनाध्यक्ष कुमार कुमारी संत स्वामी महात्मा पंडित उस्ताद शेख बेगम सर लॉर्ड पोप बिशप
    mr mrs ms dr prof president general admiral marshal minister secretary sir lord king queen""")
MONTHS = _nfc_set("""जनवरी फरवरी फ़रवरी मार्च अप्रैल अप्रेल मई जून जुलाई अगस्त सितंबर सितम्बर अक्टूबर अक्तूबर
    नवंबर नवम्बर दिसंबर दिसम्बर january february march april may june july august september october
    november december jan feb mar apr jun jul aug sep sept oct nov dec""")
WEEKDAYS = _nfc_set("""सोमवार मंगलवार बुधवार गुरुवार बृहस्पतिवार वीरवार शुक्रवार शनिवार रविवार
    monday tuesday wednesday thursday friday saturday sunday""")
TIME_WORDS = _nfc_set("""वर्ष वर्षों साल सालों सदी शताब्दी दशक ई ईस्वी ईसवी सन् सन ईसा पूर्व आज कल बीते पिछले अगले
    महीने महीना माह सप्ताह हफ्ते दिन सुबह शाम रात दोपहर century year years decade bc ad""")
NUMBER_WORDS = _nfc_set("""एक दो तीन चार पांच पाँच छह छः सात आठ नौ दस ग्यारह बारह तेरह चौदह पंद्रह सोलह सत्रह
    अठारह उन्नीस बीस तीस चालीस पचास साठ सत्तर अस्सी नब्बे सौ हजार हज़ार लाख करोड़ अरब दर्जन डेढ़ ढाई आधा आधी
    पहला पहली पहले दूसरा दूसरी तीसरा तीसरी चौथा पांचवां
    one two three four five six seven eight nine ten eleven twelve twenty thirty fifty hundred thousand
    million billion dozen""")
# Words after which a noun names a place ("X में" is the usual answer to कहाँ).
PLACE_MARKERS = _nfc_set("में से पर तक के की का")

_WORD_RE = re.compile(
    r"[0-9\u0966-\u096F]+(?:[.,:/][0-9\u0966-\u096F]+)*[\u0900-\u097F\w]*"  # numbers, "22वीं", "3.5"
    r"|[\w\u0900-\u0963\u0971-\u097F]+(?:['’-][\w\u0900-\u0963\u0971-\u097F]+)*"  # words, "सह-अध्यक्षता"
    r"|[^\s\w\u0900-\u097F]"  # one punctuation mark
)
_DIGIT_RE = re.compile(r"[0-9\u0966-\u096F]")
# Light stemming: the longest matching suffix is dropped when at least two characters stay.
_SUFFIXES = sorted(
    (unicodedata.normalize("NFC", s) for s in
     "ियों ियाँ ियां ाओं ाएं ाएँ ीय ों ें ीं ाँ ां ी े ा ो ि ु ू".split()),
    key=len, reverse=True)
_EXPLANATION_TYPES = {"why", "how", "yesno"}
_SHORT_TYPES = {"who", "when", "where", "how_many", "which"}


def normalise_word(word: str) -> str:
    """A matching form of a word: folded as `qa.lexical` folds it (case, nukta, chandrabindu, half nasals,
    Devanagari digits: सम्पन्न = संपन्न, फ़रवरी = फरवरी), then a common Hindi inflection suffix dropped
    (बैठकों = बैठक, भारतीय = भारत). Latin words lose a plural s."""
    w = "".join(lexical_tokenize(word, stopwords=False))
    if not w:
        return word.casefold()
    if "\u0900" <= w[0] <= "\u097F":
        for suffix in _SUFFIXES:
            if w.endswith(suffix) and len(w) - len(suffix) >= 2:
                return w[: -len(suffix)]
        return w
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


# ---------------------------------------------------------------------------------------------- tokens

@dataclass
class Token:
    text: str
    start: int
    end: int
    norm: str
    punct: bool
    func: bool  # postposition, conjunction, auxiliary, determiner or question word
    post: bool
    conj: bool
    title: bool
    number: bool
    month: bool
    time: bool
    q: bool = False  # matches a content word of the question
    f: bool = False  # matches a word of the follow-up's focus


def tokenize(text: str) -> list[Token]:
    """Words, numbers and punctuation marks of `text` with their character offsets (Devanagari-aware: vowel
    signs and viramas stay inside their word)."""
    tokens = []
    for m in _WORD_RE.finditer(text):
        t = m.group()
        low = t.casefold()
        punct = not (t[0].isalnum() or "\u0900" <= t[0] <= "\u097F")
        post = low in POSTPOSITIONS
        conj = low in CONJUNCTIONS
        func = post or conj or low in AUXILIARIES or low in DETERMINERS or low in QUESTION_WORDS
        number = bool(_DIGIT_RE.match(t)) or low in NUMBER_WORDS
        tokens.append(Token(t, m.start(), m.end(), normalise_word(t), punct, func and not number, post, conj,
                            low in TITLES, number, low in MONTHS or low in WEEKDAYS,
                            low in TIME_WORDS or low in MONTHS or low in WEEKDAYS))
    return tokens


def content_words(text: str) -> list[str]:
    """Matching forms of the content words of `text` (no function or question words, no punctuation)."""
    out: list[str] = []
    for t in tokenize(text):
        if t.punct or t.func or len(t.norm) < 2 and not t.number:
            continue
        if t.norm not in out:
            out.append(t.norm)
    return out


# ---------------------------------------------------------------------------------------------- the question

@dataclass(frozen=True)
class QuestionInfo:
    text: str
    qtype: str
    language: str
    content: tuple[str, ...]
    left: str | None  # the content word right before the question word ("मंत्री" in "…रक्षा मंत्री कौन हैं")
    right: str | None  # the content word right after it ("संपन्न" in "…कहाँ संपन्न हुई")
    marker: str | None  # the case marker the answer should carry (किसने → ने; "किस देश में" → में)


_WH_MARKERS = {"किसने": "ने", "किन्होंने": "ने", "किसको": "को", "किसे": "को", "किन्हें": "को", "किनको": "को",
               "किससे": "से", "किनसे": "से", "किसके": "के", "किनके": "के", "किसकी": "की", "किनकी": "की",
               "किसका": "का", "किनका": "का", "किसपर": "पर", "किसमें": "में", "कहाँ": "में", "कहां": "में"}


def analyse_question(question: str) -> QuestionInfo:
    """Type, content words and the anchors around the question word."""
    tokens = tokenize(question)
    qtype = question_type(question)
    wh = next((i for i, t in enumerate(tokens) if t.text.casefold() in QUESTION_WORDS
               and t.text.casefold() not in ("सा", "सी", "से")), None)
    left = right = marker = None
    if wh is not None:
        for t in reversed(tokens[:wh]):
            if not (t.func or t.punct):
                left = t.norm
                break
        after = tokens[wh + 1:]
        wh_word = tokens[wh].text
        marker = _WH_MARKERS.get(wh_word)
        # "किस देश में", "कितने वर्षों के लिए": skip the noun the question word qualifies, take its marker.
        for j, t in enumerate(after[:4]):
            if t.post:
                if marker is None and t.text in ("ने", "को", "से", "में", "पर"):
                    marker = t.text
                break
        for t in after:
            if not (t.func or t.punct):
                right = t.norm
                break
    return QuestionInfo(question, qtype, detect_language(question), tuple(content_words(question)), left, right,
                        marker)


# ---------------------------------------------------------------------------------------------- spans

@dataclass(frozen=True)
class Span:
    """An answer candidate: character offsets within its sentence and its score."""

    start: int
    end: int
    score: float
    kind: str


_DATE_RES = [
    # "3 व 4 नवम्बर", "5 नवंबर 2025", "25 जनवरी, 2026"
    (r"[0-9\u0966-\u096F]{1,2}(?:\s*(?:व|और|से|-|–|,)\s*[0-9\u0966-\u096F]{1,2})?\s+(?:{m})"
               r"(?:\s*,?\s*[0-9\u0966-\u096F]{4})?"),
    # "January 25, 2026", "नवंबर 2025"
    r"(?:{m})\s+[0-9\u0966-\u096F]{1,4}(?:\s*,\s*[0-9\u0966-\u096F]{4})?",
    # "बीते शुक्रवार", "पिछले नवंबर महीने", "1990 के दशक"
    r"(?:(?:बीते|पिछले|अगले|इसी|उसी|इस)\s+)?(?:{m}|{w})(?:\s+(?:महीने|माह|को))?",
    (r"(?:सन्?\s+)?[0-9\u0966-\u096F]{4}(?:\s*(?:-|–|से)\s*[0-9\u0966-\u096F]{2,4})?"
               r"(?:\s+(?:ई\.?|ईस्वी|ईसा\s+पूर्व))?"),
]


def _date_res() -> list[re.Pattern[str]]:
    months = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
    days = "|".join(sorted((re.escape(d) for d in WEEKDAYS), key=len, reverse=True))
    return [re.compile(p.replace("{m}", months).replace("{w}", days), re.IGNORECASE) for p in _DATE_RES]


DATE_PATTERNS = _date_res()


def _token_span(tokens: list[Token], start: int, end: int) -> tuple[int, int] | None:
    """Indices [i, j) of the tokens covering characters [start, end)."""
    idx = [k for k, t in enumerate(tokens) if t.start < end and t.end > start]
    return (idx[0], idx[-1] + 1) if idx else None


def _is_initial_dot(tokens: list[Token], k: int) -> bool:
    """A '.' after an initial or abbreviation inside a name ("जोशुआ एम. रुड", "डॉ. राम")."""
    if tokens[k].text != "." or k == 0 or k + 1 >= len(tokens):
        return False
    prev, nxt = tokens[k - 1], tokens[k + 1]
    short = len(prev.text) <= 2 or (len(prev.text) <= 3 and "\u0900" <= prev.text[0] <= "\u097F")
    return short and not nxt.punct and not nxt.func and prev.end == tokens[k].start


def _core(tokens: list[Token], k: int) -> bool:
    """Can token k be part of an answer phrase?"""
    t = tokens[k]
    if t.q:
        return False
    if t.punct:
        return _is_initial_dot(tokens, k) or (t.text in "-–/&'’" and 0 < k < len(tokens) - 1)
    if t.number:
        return True
    if t.func:
        return False
    return True


def _units(tokens: list[Token]) -> list[tuple[int, int]]:
    """Maximal runs [i, j) of core tokens; name glue (ऑफ, द) joins two runs."""
    units: list[tuple[int, int]] = []
    k, n = 0, len(tokens)
    while k < n:
        if not _core(tokens, k):
            k += 1
            continue
        i = k
        while k < n and (_core(tokens, k) or (tokens[k].text.casefold() in NAME_GLUE and not tokens[k].q
                                              and k + 1 < n and _core(tokens, k + 1) and k > i)):
            k += 1
        units.append((i, k))
    return units


def candidate_spans(tokens: list[Token]) -> list[tuple[int, int, str]]:
    """Token ranges [i, j) that could be an answer, with how they were formed."""
    units = _units(tokens)
    out: dict[tuple[int, int], str] = {}
    for u in units:
        out.setdefault(u, "unit")
    n = len(tokens)
    for a in range(len(units)):
        i, j = units[a]
        # Coordination chains ("X, Y और Z", "3 व 4 नवम्बर") and genitive phrases ("अमेरिका के हवाई").
        end = j
        for b in range(a + 1, min(a + 6, len(units))):
            gap = tokens[end:units[b][0]]
            if not gap or len(gap) > 2 or any(t.q for t in gap):
                break
            glue = {t.text for t in gap}
            if glue <= {",", "और", "व", "तथा", "एवं", "या", "and", "or"}:
                end = units[b][1]
                out.setdefault((i, end), "coord")
            elif glue <= {"के", "की", "का", "'s"} and len(gap) == 1:
                end = units[b][1]
                out.setdefault((i, end), "genitive")
            else:
                break
    # The agent before ने (or a phrase before another case marker), coordination and modifiers included:
    # "… एयर मार्शल अशुतोष दीक्षित और अमेरिका की ओर से लेफ्टिनेंट जनरल जोशुआ एम. रुड ने की".
    for k in range(1, n):
        if tokens[k].text not in ("ने", "द्वारा"):
            continue
        j = k
        i = j
        while i > 0 and not tokens[i - 1].q and not (tokens[i - 1].punct and not _is_initial_dot(tokens, i - 1)
                                                      and tokens[i - 1].text not in "-–"):
            i -= 1
        while i < j and not _core(tokens, i):
            i += 1
        if i < j and (i, j) not in out:
            out[(i, j)] = "agent"
    return [(i, j, kind) for (i, j), kind in out.items()]


def _date_candidates(sentence: str, tokens: list[Token]) -> list[tuple[int, int, str]]:
    out = []
    for pattern in DATE_PATTERNS:
        for m in pattern.finditer(sentence):
            # Whole words only: "मई" inside "मईनों" or "इस" before a non-day word are not dates.
            if m.start() > 0 and (sentence[m.start() - 1].isalnum() or "\u0900" <= sentence[m.start() - 1] <= "\u097F"):
                continue
            if m.end() < len(sentence) and ("\u0900" <= sentence[m.end()] <= "\u097F" or sentence[m.end()].isalnum()):
                continue
            text = m.group().rstrip()
            if text.endswith(" को"):
                text = text[:-3]
            span = _token_span(tokens, m.start(), m.start() + len(text))
            if span:
                out.append((span[0], span[1], "date"))
    return out


def _neighbour(tokens: list[Token], k: int, step: int, skip: int = 3) -> Token | None:
    """The first non-function token from k in direction `step`, crossing at most `skip` function tokens."""
    crossed = 0
    while 0 <= k < len(tokens):
        t = tokens[k]
        if not (t.func or t.punct):
            return t
        if t.punct and t.text in "।?!;":
            return None
        crossed += 1
        if crossed > skip:
            return None
        k += step
    return None


_TYPE_LENGTH = {"who": 6, "when": 5, "where": 4, "how_many": 3, "which": 8, "what": 14, "other": 10}


def score_spans(info: QuestionInfo, sentence: str, tokens: list[Token], *,
                focus_weight: Sequence[float] | None = None) -> list[Span]:
    """Score every candidate span of a sentence whose tokens are already marked (`q`, `f`). Best first."""
    cands = candidate_spans(tokens) + _date_candidates(sentence, tokens)
    qpos = [k for k, t in enumerate(tokens) if t.q]
    fpos = [k for k, t in enumerate(tokens) if t.f]
    qtype = info.qtype
    spans: list[Span] = []
    for c_index, (i, j, kind) in enumerate(cands):
        toks = tokens[i:j]
        if not toks or all(t.punct for t in toks):
            continue
        if any(t.q for t in toks) and kind != "date":
            continue
        n = sum(1 for t in toks if not t.punct)
        has_num = any(t.number for t in toks)
        has_title = any(t.title for t in toks)
        has_time = any(t.time for t in toks)
        latin_name = sum(1 for t in toks if t.text[:1].isupper()) >= 2
        after = tokens[j] if j < len(tokens) else None
        before = tokens[i - 1] if i > 0 else None
        s = 0.0
        # Answer type.
        if qtype == "who":
            s += 1.0 * has_title + 0.5 * latin_name + (0.6 if kind == "agent" else 0.0)
            s -= 1.0 * (kind == "date") + 0.6 * (has_num and not has_title)
        elif qtype == "when":
            s += 1.6 if kind == "date" else (0.6 * has_time + 0.3 * has_num)
            s -= 0.8 * (not (has_time or has_num))
        elif qtype == "how_many":
            s += 1.4 * has_num - 1.0 * (not has_num) - 0.5 * (kind == "date")
            if has_num and not toks[0].number:
                s -= 0.4
        elif qtype == "where":
            s += 0.5 * bool(after and after.text in PLACE_MARKERS) - 0.8 * has_num - 0.8 * (kind == "date")
            s -= 0.4 * has_title
        elif qtype == "which":
            s -= 0.3 * (kind == "date")
        # The case marker carried by the question word.
        if info.marker and after is not None and after.text == info.marker:
            s += 0.8
        # Anchors: the question's words around its question word, around the span in the sentence.
        if info.left:
            nb = _neighbour(tokens, i - 1, -1)
            if nb is not None and nb.q and nb.norm == info.left:
                s += 1.0
            elif nb is not None and nb.q:
                s += 0.4
        if info.right:
            nb = _neighbour(tokens, j, 1)
            if nb is not None and nb.q and nb.norm == info.right:
                s += 0.8
            elif nb is not None and nb.q:
                s += 0.3
        # Proximity to the question's words.
        if qpos:
            d = min(min(abs(p - i), abs(p - (j - 1))) for p in qpos)
            s += 0.8 / (1.0 + d)
        if fpos:
            d = min(min(abs(p - i), abs(p - (j - 1))) for p in fpos)
            s += 1.2 / (1.0 + d)
            # The focus words precede what they qualify ("अमेरिका की ओर से [लेफ्टिनेंट जनरल …]").
            if any(p < i for p in fpos) and not any(i <= p < j for p in fpos):
                s += 0.3
        if focus_weight is not None:
            s += focus_weight[c_index]
        # Length: short answers for short-answer questions.
        limit = _TYPE_LENGTH.get(qtype, 10)
        if n > limit:
            s -= 0.15 * (n - limit)
        if kind == "agent" and qtype != "who":
            s -= 0.3
        s -= 0.05 * n
        if before is not None and before.text.casefold() in NAME_GLUE:
            s -= 0.5
        start, end = toks[0].start, toks[-1].end
        spans.append(Span(start, end, s, kind))
    spans.sort(key=lambda sp: (-sp.score, sp.start))
    return spans


def mark_tokens(tokens: list[Token], words: Sequence[str], attr: str = "q") -> None:
    """Set `attr` on the tokens whose matching form is one of `words`."""
    wanted = set(words)
    for t in tokens:
        if not t.punct and not t.func and t.norm in wanted:
            setattr(t, attr, True)


def extract_span(question: str, sentence: str, *, focus: str | None = None) -> tuple[int, int] | None:
    """The character span of `sentence` that answers `question` by the rules alone (no embeddings); None
    when the question asks for an explanation (the answer is the whole sentence) or nothing fits."""
    info = analyse_question(question)
    if info.qtype in _EXPLANATION_TYPES:
        return None
    tokens = tokenize(sentence)
    mark_tokens(tokens, info.content)
    if focus:
        mark_tokens(tokens, content_words(focus), "f")
    spans = score_spans(info, sentence, tokens)
    return (spans[0].start, spans[0].end) if spans else None


# ---------------------------------------------------------------------------------------------- the reader

@dataclass
class _Sentence:
    hit_index: int
    start: int  # in the chunk text
    end: int
    text: str
    tokens: list[Token]
    coverage: float = 0.0
    dense: float = 0.0
    score: float = 0.0
    typed: bool = False
    extra: dict = field(default_factory=dict)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class ExtractiveReader:
    """The default reader: picks the answering sentence among the retrieved chunks and the span in it.

    Args:
        encoder: the embedding model (the same one the retriever uses).
        abstain_threshold: answers with a confidence below this are replaced by an abstention.
        max_hits: how many of the retrieved hits are read.
        max_sentences: how many candidate sentences are embedded (the latency cap).
        span_sentences: in how many of the best sentences a span is looked for.
        cache_size: sentence embeddings kept in memory (the corpus changes rarely; sentences repeat).
    """

    name = "extractive"

    def __init__(self, encoder: Encoder, *, abstain_threshold: float = 0.5, max_hits: int = 5,
                 max_sentences: int = 24, span_sentences: int = 3, cache_size: int = 8192) -> None:
        if not 0.0 <= abstain_threshold <= 1.0:
            raise ValueError(f"abstain_threshold must be within [0, 1], got {abstain_threshold}")
        self.encoder = encoder
        self.abstain_threshold = abstain_threshold
        self.max_hits = max_hits
        self.max_sentences = max_sentences
        self.span_sentences = span_sentences
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ embeddings
    def _embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        """Rows for `texts`, from the cache where possible; the rest in one batch."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (kind, t) not in self._cache]
        if missing:
            vectors = (self.encoder.encode_queries(missing) if kind == "q"
                       else self.encoder.encode_passages(missing))
            with self._lock:
                for t, v in zip(missing, vectors):
                    self._cache[(kind, t)] = v
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            rows = []
            for t in texts:
                v = self._cache.get((kind, t))
                if v is None:  # evicted meanwhile by another thread
                    v = (self.encoder.encode_queries([t]) if kind == "q" else self.encoder.encode_passages([t]))[0]
                else:
                    self._cache.move_to_end((kind, t))
                rows.append(v)
        if not rows:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.stack(rows).astype(np.float32, copy=False)

    # ------------------------------------------------------------------ reading
    def read(self, question: str, hits: Sequence[Hit], *, language: str, focus: str | None = None) -> Answer:
        if language not in ABSTAIN_MESSAGES:
            raise QuestionError(f"Unknown language {language!r}; choose one of {', '.join(ABSTAIN_MESSAGES)}.")
        info = analyse_question(question)
        hits = list(hits)[: self.max_hits]
        if not hits:
            return self._abstain(question, language, [], 0.0)
        sentences = self._candidates(info, hits)
        if not sentences:
            return self._abstain(question, language, hits, 0.0)
        idf = self._idf(info, sentences)
        self._score_sentences(info, question, sentences, idf)
        retrieved_cov = self._coverage(info, [t for s in sentences for t in s.tokens], idf,
                                       full_text=" ".join(h.chunk.text for h in hits))
        ranked = sorted(sentences, key=lambda s: -s.score)
        best: tuple[float, _Sentence, Span | None] | None = None
        for sent in ranked[: self.span_sentences]:
            span = self._best_span(info, sent, focus)
            total = sent.score + (0.25 * span.score if span is not None else 0.0)
            if best is None or total > best[0]:
                best = (total, sent, span)
        assert best is not None  # ranked is not empty
        _, sent, span = best
        confidence = self._confidence(info, sent, span, retrieved_cov)
        if confidence < self.abstain_threshold:
            return self._abstain(question, language, hits, confidence)
        return self._answer(question, language, info, hits, sent, span, confidence)

    def _candidates(self, info: QuestionInfo, hits: list[Hit]) -> list[_Sentence]:
        seen: set[tuple[str, int]] = set()
        out: list[_Sentence] = []
        for h_index, hit in enumerate(hits):
            text = hit.chunk.text
            for s, e in split_sentences(text):
                key = (hit.chunk.doc_id, hit.chunk.start + s)
                if key in seen:
                    continue
                seen.add(key)
                tokens = tokenize(text[s:e])
                if not any(not t.punct for t in tokens):
                    continue
                mark_tokens(tokens, info.content)
                out.append(_Sentence(h_index, s, e, text[s:e], tokens))
        if len(out) > self.max_sentences:
            def prefilter(s: _Sentence) -> float:
                matched = len({t.norm for t in s.tokens if t.q})
                return matched / (1 + len(info.content)) + 0.5 / (1 + s.hit_index)
            out = sorted(out, key=prefilter, reverse=True)[: self.max_sentences]
        return out

    @staticmethod
    def _idf(info: QuestionInfo, sentences: list[_Sentence]) -> dict[str, float]:
        n = len(sentences)
        idf = {}
        for w in info.content:
            df = sum(1 for s in sentences if any(t.norm == w for t in s.tokens))
            idf[w] = math.log(1.0 + (n + 1) / (df + 0.5))
        return idf

    @staticmethod
    def _coverage(info: QuestionInfo, tokens: list[Token], idf: dict[str, float], full_text: str = "") -> float:
        """IDF-weighted share of the question's content words present among `tokens` (1.0 when the question
        has none that could be matched: a Latin-script question over Devanagari text)."""
        words = list(info.content)
        if info.language == "en":
            # Only Latin words that could appear in a Hindi article as themselves: names, acronyms, numbers.
            words = [w for w in words if any(c.isdigit() for c in w)]
        if not words:
            return 1.0
        present = {t.norm for t in tokens}
        total = sum(idf.get(w, 1.0) for w in words)
        found = sum(idf.get(w, 1.0) for w in words if w in present)
        return found / total if total else 1.0

    def _score_sentences(self, info: QuestionInfo, question: str, sentences: list[_Sentence],
                         idf: dict[str, float]) -> None:
        qv = self._embed([question], "q")[0]
        sv = self._embed([s.text for s in sentences], "p")
        dense = sv @ qv
        total_idf = sum(idf.values()) or 1.0
        for s, d in zip(sentences, dense):
            s.dense = float(d)
            present = {t.norm for t in s.tokens if t.q}
            s.coverage = sum(v for w, v in idf.items() if w in present) / total_idf if idf else 0.0
            s.typed = self._typed(info, s)
            s.score = 6.0 * s.dense + 1.0 * s.coverage + 0.3 * s.typed + 0.1 / (1 + s.hit_index)

    @staticmethod
    def _typed(info: QuestionInfo, s: _Sentence) -> bool:
        if info.qtype == "when":
            return any(p.search(s.text) for p in DATE_PATTERNS)
        if info.qtype == "how_many":
            return any(t.number for t in s.tokens)
        if info.qtype == "who":
            return any(t.title or t.text == "ने" for t in s.tokens)
        return True

    def _best_span(self, info: QuestionInfo, sent: _Sentence, focus: str | None) -> Span | None:
        if info.qtype in _EXPLANATION_TYPES:
            return None
        tokens = [Token(**{**t.__dict__}) for t in sent.tokens]
        weights = None
        if focus:
            focus_words = content_words(focus)
            mark_tokens(tokens, focus_words, "f")
            # Focus words are not question words here: they point at the answer.
            for t in tokens:
                if t.f:
                    t.q = False
            if not any(t.f for t in tokens) and focus_words:
                weights = self._focus_weights(info, sent.text, tokens, focus)
        spans = score_spans(info, sent.text, tokens, focus_weight=weights)
        return spans[0] if spans else None

    def _focus_weights(self, info: QuestionInfo, sentence: str, tokens: list[Token],
                       focus: str) -> list[float]:
        """A cross-lingual follow-up ("And from the US side?"): weight candidates by the similarity of their
        context (the words before and in the span) to the focus."""
        cands = candidate_spans(tokens) + _date_candidates(sentence, tokens)
        contexts = []
        for i, j, _ in cands:
            lo = max(0, i - 5)
            contexts.append(sentence[tokens[lo].start:tokens[j - 1].end])
        if not contexts:
            return []
        fv = self._embed([focus], "q")[0]
        sims = self._embed(contexts, "p") @ fv
        top = float(sims.max())
        return [8.0 * (float(x) - top) for x in sims]

    # ------------------------------------------------------------------ confidence and the answer
    def _confidence(self, info: QuestionInfo, sent: _Sentence, span: Span | None, retrieved_cov: float) -> float:
        z = 25.0 * (sent.dense - 0.80)
        z += 6.0 * (retrieved_cov - 0.8)
        z += 1.5 * (sent.coverage - 0.5) if info.language == "hi" else 0.0
        z += 0.0 if sent.typed else -1.5
        if span is not None:
            z += 0.3 * max(-2.0, min(2.0, span.score))
        return _sigmoid(z)

    def _abstain(self, question: str, language: str, hits: Sequence[Hit], confidence: float) -> Answer:
        return Answer(question=question, text=ABSTAIN_MESSAGES[language], abstained=True,
                      confidence=float(max(0.0, min(1.0, confidence))),
                      sources=tuple(_source(h) for h in list(hits)[:2]), language=language, reader=self.name)

    def _answer(self, question: str, language: str, info: QuestionInfo, hits: list[Hit], sent: _Sentence,
                span: Span | None, confidence: float) -> Answer:
        hit = hits[sent.hit_index]
        if span is None:
            a_start, a_end = sent.start, sent.end
        else:
            a_start, a_end = sent.start + span.start, sent.start + span.end
        text = hit.chunk.text[a_start:a_end]
        sources = [_source(hit, (a_start, a_end))]
        # Other retrieved passages holding the same sentence (overlapping chunks) support it too.
        doc_start = hit.chunk.start + a_start
        for k, other in enumerate(hits):
            if k == sent.hit_index:
                continue
            c = other.chunk
            if c.doc_id == hit.chunk.doc_id and c.start <= doc_start and doc_start + len(text) <= c.end:
                off = doc_start - c.start
                sources.append(_source(other, (off, off + len(text))))
        return Answer(question=question, text=text, abstained=False, confidence=float(confidence),
                      sources=tuple(sources), sentence=sent.text, language=language,
                      quoted=detect_language(text) != language, reader=self.name)


def _source(hit: Hit, span: tuple[int, int] | None = None) -> Source:
    c = hit.chunk
    return Source(doc_id=c.doc_id, title=hit.title, date=hit.date, text=c.text, start=c.start, end=c.end,
                  score=hit.score, answer_start=span[0] if span else None, answer_end=span[1] if span else None)
