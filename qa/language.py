"""Which language a question is in, what kind of answer it asks for, and the abstention messages.

Pure functions over text (no models). Hindi questions are recognised by their question words, which also
carry the case of the answer (`किसने` -> the answer is the agent, followed by `ने` in the article).
"""

from __future__ import annotations

import re

ABSTAIN_MESSAGES = {
    "hi": "यह जानकारी उपलब्ध लेखों में नहीं मिली।",
    "en": "I could not find this in the articles.",
}

QUESTION_TYPES = ("who", "when", "where", "how_many", "what", "why", "how", "which", "yesno", "other")

_DEVANAGARI = re.compile(r"[\u0900-\u097F]")
_WORD = re.compile(r"[\w\u0900-\u097F]+")


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
        if _DEVANAGARI.match(ch):
            # Vowel signs and viramas are not letters to str.isalpha(), but they belong to the script.
            devanagari += 1
        elif ch.isalpha():
            latin += 1
    if devanagari == 0 and latin == 0:
        return "hi"
    return "hi" if devanagari >= latin else "en"


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


# Nouns after किस / कौन से that turn "which X" into a time or place question.
_HI_TIME_NOUNS = {
    "दिन",
    "दिनों",
    "तारीख",
    "तारीख़",
    "तिथि",
    "वर्ष",
    "साल",
    "सन",
    "महीने",
    "महीना",
    "माह",
    "समय",
    "सदी",
    "शताब्दी",
    "दशक",
    "वक्त",
    "वक़्त",
    "युग",
    "काल",
    "सप्ताह",
    "हफ्ते",
    "हफ़्ते",
    "अवधि",
    "दौरान",
    "मौसम",
    "घंटे",
    "ऋतु",
}
_HI_PLACE_NOUNS = {
    "शहर",
    "देश",
    "जगह",
    "स्थान",
    "राज्य",
    "क्षेत्र",
    "इलाके",
    "इलाक़े",
    "नगर",
    "गांव",
    "गाँव",
    "प्रांत",
    "महाद्वीप",
    "द्वीप",
    "जिले",
    "ज़िले",
    "स्थल",
    "देशों",
    "शहरों",
    "राज्यों",
    "प्रदेश",
}
_HI_POSTPOSITIONS = {"ने", "को", "से", "में", "पर", "के", "की", "का", "तक", "द्वारा", "लिए", "साथ"}
_HI_WHO = {
    "किसने",
    "किसके",
    "किसकी",
    "किसका",
    "किसे",
    "किसको",
    "किससे",
    "किसपर",
    "किसमें",
    "किन्होंने",
    "किनके",
    "किनकी",
    "किनका",
    "किनको",
    "किनसे",
    "किन्हें",
    "किसलिए",
}
_HI_HOW_MANY = {"कितने", "कितनी", "कितना", "कितनों"}
_HI_HOW = {"कैसे", "कैसा", "कैसी"}
_HI_WHERE = {"कहाँ", "कहां", "कहा"}

_EN_AUX = {
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "can",
    "could",
    "has",
    "have",
    "had",
    "will",
    "would",
    "should",
    "shall",
    "may",
    "might",
}
_EN_TIME = {"year", "years", "date", "day", "month", "time", "century", "decade", "period", "era", "season"}
_EN_PLACE = {
    "country",
    "city",
    "place",
    "state",
    "region",
    "town",
    "area",
    "location",
    "continent",
    "island",
    "province",
    "district",
    "village",
}


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


# A small English -> Hindi glossary of frequent news words (politics, defence, economy, sport, society, time),
# so that an English question finds its words in a Hindi article. General vocabulary only: it never names
# the answer to anything. Keys are lower-case base forms; `english_to_hindi` strips -s/-es/-ed/-ing.
_GLOSSARY_TEXT = """
meeting बैठक मुलाकात बैठकों | meet मुलाकात मिले मिलने भेंट | met मुलाकात मिले
talk बातचीत वार्ता | talks बातचीत वार्ता | discuss चर्चा बातचीत | discussion चर्चा बातचीत
chair अध्यक्षता अध्यक्ष | co-chair सह-अध्यक्षता | cochair सह-अध्यक्षता | chaired अध्यक्षता
co-chaired सह-अध्यक्षता | cochaired सह-अध्यक्षता | hold आयोजित | minister मंत्री
ministry मंत्रालय | prime प्रधानमंत्री | president राष्ट्रपति अध्यक्ष
secretary सचिव सेक्रेटरी | chief प्रमुख चीफ | head प्रमुख | leader नेता | government सरकार
parliament संसद | election चुनाव | vote मतदान वोट | party पार्टी दल | state राज्य | country देश
countries देशों देश | nation राष्ट्र | national राष्ट्रीय | capital राजधानी | city शहर
village गांव गाँव | district जिला जिले | border सीमा | boundary सीमा | court अदालत न्यायालय
law कानून | police पुलिस | army सेना थल | military सैन्य मिलिट्री सेना | navy नौसेना
naval नौसेना | air वायु एयर | force सेना बल | forces सेनाओं सेना | airforce वायुसेना
defence रक्षा डिफेंस | defense रक्षा डिफेंस | security सुरक्षा | war युद्ध | peace शांति
soldier सैनिक | soldiers सैनिकों सैनिक | troops सैनिकों सेना | officer अधिकारी
officers अधिकारियों | general जनरल | admiral एडमिरल | marshal मार्शल | exercise अभ्यास
drill अभ्यास | training प्रशिक्षण | joint संयुक्त | cooperation सहयोग कोऑपरेशन
partnership साझेदारी पार्टनरशिप | agreement समझौता समझौते | deal समझौता सौदा
framework फ्रेमवर्क ढांचा | treaty संधि | sign हस्ताक्षर | signed हस्ताक्षर | signing हस्ताक्षर
visit यात्रा दौरा | travel यात्रा | trip यात्रा | tour दौरा | purpose उद्देश्य
aim उद्देश्य लक्ष्य | goal लक्ष्य | objective उद्देश्य | group समूह ग्रुप | committee समिति
council परिषद | organisation संगठन | organization संगठन | relation संबंध
relations संबंधों संबंध | bilateral द्विपक्षीय | strategic रणनीतिक सामरिक
technology प्रौद्योगिकी तकनीक | artificial आर्टिफिशियल | intelligence इंटेलिजेंस खुफिया
cyber साइबर | medicine चिकित्सा मेडिसिन | logistics लॉजिस्टिक्स | area क्षेत्र
areas क्षेत्रों क्षेत्र | region क्षेत्र | sector क्षेत्र | field क्षेत्र | topic विषय
topics विषयों विषय | subject विषय | issue मुद्दा मुद्दे | economy अर्थव्यवस्था
economic आर्थिक | trade व्यापार | budget बजट | tax कर | price कीमत मूल्य | money पैसा धन
bank बैंक | company कंपनी | market बाजार बाज़ार | industry उद्योग | growth वृद्धि विकास
development विकास | project परियोजना | plan योजना | scheme योजना | policy नीति | report रिपोर्ट
statement बयान | announce घोषणा | announced घोषणा | news समाचार खबर | agency एजेंसी
expert विशेषज्ञ | experts विशेषज्ञों विशेषज्ञ | commitment प्रतिबद्धता | shared साझा
share साझा | mutual आपसी | trust विश्वास | understanding समझ | value मूल्य
values मूल्यों मूल्य | opportunity अवसर | opportunities अवसरों अवसर | capacity क्षमता
capability क्षमता | capabilities क्षमताओं क्षमता | building निर्माण | innovation नवाचार
progress प्रगति | step कदम | milestone पड़ाव | important महत्वपूर्ण | historic ऐतिहासिक
new नए नई नया | year वर्ष साल | years वर्षों वर्ष साल | month महीने महीना माह
week सप्ताह हफ्ते | day दिन | date तारीख तिथि | time समय | today आज | yesterday कल
edition संस्करण | first पहली पहला | second दूसरी दूसरा | last पिछले अंतिम
school स्कूल विद्यालय | student छात्र | teacher शिक्षक | education शिक्षा | health स्वास्थ्य
hospital अस्पताल | doctor डॉक्टर | disease बीमारी रोग | water पानी जल | river नदी
rain बारिश वर्षा | weather मौसम | temperature तापमान | farmer किसान | farmers किसानों किसान
crop फसल | food भोजन खाना | recipe विधि नुस्खा | population जनसंख्या आबादी | team टीम
captain कप्तान | match मैच मुकाबला | player खिलाड़ी | won जीता जीत | win जीत | medal पदक
gold स्वर्ण | cricket क्रिकेट | football फुटबॉल | olympics ओलंपिक | film फिल्म | actor अभिनेता
born जन्म | birth जन्म | died निधन | death मौत मृत्यु | people लोग लोगों | women महिलाओं महिला
children बच्चों बच्चे | side ओर तरफ पक्ष | sides पक्षों पक्ष | india भारत इंडिया
indian भारतीय भारत | us अमेरिका अमेरिकी यूएस | usa अमेरिका | america अमेरिका
american अमेरिकी अमेरिका | united संयुक्त | china चीन | chinese चीनी चीन | pakistan पाकिस्तान
russia रूस | japan जापान | britain ब्रिटेन
"""


def _parse_glossary(text: str) -> dict[str, tuple[str, ...]]:
    import unicodedata

    out: dict[str, tuple[str, ...]] = {}
    for entry in text.replace("\n", "|").split("|"):
        words = entry.split()
        if len(words) >= 2:
            out[words[0]] = tuple(unicodedata.normalize("NFC", w) for w in words[1:])
    return out


EN_HI_GLOSSARY = _parse_glossary(_GLOSSARY_TEXT)


def english_to_hindi(word: str) -> tuple[str, ...]:
    """Hindi renderings of an English word from the glossary (empty when it has none).

    >>> english_to_hindi("meetings")
    ('बैठक', 'मुलाकात', 'बैठकों')
    """
    w = word.casefold()
    for candidate in (
        w,
        w[:-1] if w.endswith("s") else "",
        w[:-2] if w.endswith("es") else "",
        w[:-2] if w.endswith("ed") else "",
        w[:-1] if w.endswith("ed") else "",
        w[:-3] if w.endswith("ing") else "",
    ):
        if candidate and candidate in EN_HI_GLOSSARY:
            return EN_HI_GLOSSARY[candidate]
    return ()
