"""Follow-up questions in a conversation: accept the history in the shapes callers have it, and rewrite an
elliptical or anaphoric follow-up into a query that stands alone.

How the pipeline is meant to use it (`qa.pipeline.Assistant.ask`)::

    query = resolve_followup(question, history)     # == question when it stands alone
    hits = retriever.search(query, k)
    answer = reader.read(query, hits, language=detect_language(question),
                         focus=question if query != question else None)

The reader gets the rewritten query (its question word and content words say what to look for), the user's
own words as `focus` (optional; they say *which* of several answers in a sentence is meant: "और अमेरिका की ओर
से?"), and the language of the user's own question (for the abstention message and quoting).

Rewrites:

- a fragment with no question word of its own ("और अमेरिका की ओर से?", "And from the US side?") takes the
  place of the phrase it contrasts with when the previous question has the same frame: "… सह-अध्यक्षता भारत
  की ओर से किसने की?" -> "… सह-अध्यक्षता अमेरिका की ओर से किसने की?", "… from the Indian side?" -> "… from
  the US side?". Without a shared frame it goes into the previous question where the language puts such a
  phrase: before a Hindi question word ("… सह-अध्यक्षता अमेरिका की ओर से किसने की?"), before an English
  question's closing "?" ("Who co-chaired the meeting in Hawaii from the US side?");
- a question with its own question word but a pronoun in place of its subject ("उनकी मुलाकात कब हुई?",
  "Where did he travel?") keeps its form and gets the previous turn's content words (and a short previous
  answer, never an abstention message) appended: "उनकी मुलाकात कब हुई? अमेरिकी सेना सचिव डैनियल पी
  ड्रिस्कॉल … जनरल उपेंद्र द्विवेदी".

The previous question is itself resolved first, so chains of follow-ups work.
A question that stands alone (no pronoun to resolve, not starting with "और"/"and"/"what about", enough words
of its own) is returned unchanged whatever the history says.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from qa.errors import QuestionError
from qa.language import ABSTAIN_MESSAGES
from qa.text import COMPOUND_WORD_RE, is_devanagari, phrases, question_words, words
from qa.types import Turn

__all__ = ["Turn", "normalise_history", "is_followup", "resolve_followup"]

_WORD_RE = COMPOUND_WORD_RE

# Word lists (qa/data/words.json).
_HI_CONTINUATIONS = words("continuations", "hi")
_EN_CONTINUATIONS = phrases("continuations", "en")
# Pronouns point back to something named earlier. (Demonstratives such as इस/यह before a noun are handled
# apart: "इस बैठक" only needs the history when the question has little else.)
_HI_PRONOUNS = words("pronouns", "hi")
_HI_DEMONSTRATIVES = words("demonstratives", "hi")
_EN_PRONOUNS = words("pronouns", "en")
_EN_DEMONSTRATIVES = words("demonstratives", "en")
_QUESTION_WORDS = question_words("hi") | question_words("en")
_FUNCTION_WORDS = words("function_words", "hi") | words("function_words", "en") | _HI_PRONOUNS | _EN_PRONOUNS
# A previous answer longer than this (in words) is a passage, not a name worth carrying into the query.
_MAX_ANSWER_WORDS = 12
_MIN_STANDALONE_CONTENT = 3


def _text_of(content: Any) -> str:
    """The text of a Gradio message content: a string, {"text": ...}, or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        value = content.get("text", content.get("content", ""))
        return value if isinstance(value, str) else ""
    if isinstance(content, (list, tuple)):
        return " ".join(_text_of(part) for part in content if isinstance(part, (str, dict)))
    return ""


_FORMATS_HINT = (
    'a list of {"question": ..., "answer": ...} turns, Gradio messages '
    '({"role": "user"|"assistant", "content": ...}), or (question, answer) pairs'
)


def normalise_history(history: Iterable[Any] | None) -> list[Turn]:
    """Earlier turns of a conversation, oldest first, as `Turn`s.

    Accepts ``[{"question": q, "answer": a}, ...]``, Gradio's messages format
    ``[{"role": "user", "content": q}, {"role": "assistant", "content": a}, ...]`` (content a string, a
    ``{"text": ...}`` dict or a list of parts), ``[(q, a), ...]`` pairs (Gradio's old tuples format; ``a`` may
    be None), or objects with ``question`` and ``answer`` attributes. Text is NFC-normalised.

    Raises:
        QuestionError: the history is not one of these shapes.
    """
    if history is None:
        return []
    if isinstance(history, (str, bytes)) or not isinstance(history, Iterable):
        raise QuestionError(f"history must be {_FORMATS_HINT}; got {type(history).__name__}")
    turns: list[Turn] = []
    pending: str | None = None  # a user message waiting for its answer (messages format)
    for item in history:
        if isinstance(item, dict) and "role" in item:
            role = item.get("role")
            text = _text_of(item.get("content"))
            if role == "user":
                if pending is not None:
                    turns.append(Turn(pending, ""))
                pending = text
            elif role == "assistant":
                if pending is not None:
                    turns.append(Turn(pending, text))
                    pending = None
                elif turns:
                    # Gradio may split one reply into several assistant messages.
                    last = turns[-1]
                    turns[-1] = Turn(last.question, (last.answer + "\n" + text).strip())
            continue
        if isinstance(item, dict):
            if "question" not in item:
                raise QuestionError(
                    f"history turn {item!r} has no 'question'; history must be {_FORMATS_HINT}"
                )
            turns.append(Turn(_text_of(item.get("question")), _text_of(item.get("answer"))))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            turns.append(Turn(_text_of(item[0]), _text_of(item[1])))
        elif hasattr(item, "question") and hasattr(item, "answer"):
            turns.append(Turn(_text_of(item.question), _text_of(item.answer)))
        else:
            raise QuestionError(f"history turn {item!r} is not understood; history must be {_FORMATS_HINT}")
    if pending is not None:
        turns.append(Turn(pending, ""))
    return [
        Turn(unicodedata.normalize("NFC", t.question).strip(), unicodedata.normalize("NFC", t.answer).strip())
        for t in turns
        if t.question.strip()
    ]


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(unicodedata.normalize("NFC", text).casefold())


def _content(words: Sequence[str]) -> list[str]:
    return [w for w in words if w not in _FUNCTION_WORDS and w not in _QUESTION_WORDS]


def _starts_with_continuation(question: str, words: Sequence[str]) -> bool:
    if not words:
        return False
    if words[0] in _HI_CONTINUATIONS:
        return True
    low = " ".join(words)
    return any(low == c or low.startswith(c + " ") for c in _EN_CONTINUATIONS)


def is_followup(question: str) -> bool:
    """Whether `question` leans on an earlier turn: it opens with a continuation ("और …", "And …", "What
    about …"), uses a pronoun for what it asks about (उनकी, उन्होंने, वे, he, they, its …), or is a bare
    demonstrative question with little of its own ("इस बैठक में क्या हुआ?")."""
    words = _words(question)
    if not words:
        return False
    if _starts_with_continuation(question, words):
        return True
    if any(w in _HI_PRONOUNS or w in _EN_PRONOUNS for w in words):
        return True
    content = _content(words)
    if any(w in _HI_DEMONSTRATIVES or w in _EN_DEMONSTRATIVES for w in words):
        return len(content) < _MIN_STANDALONE_CONTENT
    return False


def needs_history(question: str) -> bool:
    """Whether `question` is a bare follow-up fragment that asks nothing without an earlier turn: it opens with
    a continuation and has no question word of its own ("और अमेरिका की ओर से?", "And from the US side?")."""
    words = _words(question)
    return _starts_with_continuation(question, words) and not _has_question_word(
        _words(_strip_continuation(question))
    )


def _has_question_word(words: Sequence[str]) -> bool:
    return any(w in _QUESTION_WORDS for w in words)


def _strip_continuation(question: str) -> str:
    text = question.strip()
    low = text.casefold()
    for c in sorted(_EN_CONTINUATIONS, key=len, reverse=True):
        if low.startswith(c + " ") or low == c:
            return text[len(c) :].lstrip(" ,")
    first = text.split(maxsplit=1)
    if first and first[0] in _HI_CONTINUATIONS:
        return first[1] if len(first) > 1 else ""
    return text


def _answer_words(answer: str) -> str:
    """A short previous answer (a name, a date) worth carrying into the query; "" for abstentions and long
    passages."""
    first = answer.strip().splitlines()[0].strip() if answer.strip() else ""
    if not first or first in ABSTAIN_MESSAGES.values():
        return ""
    if len(first.split()) > _MAX_ANSWER_WORDS:
        return ""
    return first


def _substitute(previous: str, fragment: str) -> str | None:
    """The previous question with the phrase the fragment stands in for replaced by the fragment, when both
    share a frame: "… भारत की ओर से किसने की?" + "अमेरिका की ओर से" -> "… अमेरिका की ओर से किसने की?";
    "… from the Indian side?" + "from the US side" -> "… from the US side?". None when there is no frame."""
    frag = [(m.group().casefold(), m.start(), m.end()) for m in _WORD_RE.finditer(fragment)]
    prev = [(m.group().casefold(), m.start(), m.end()) for m in _WORD_RE.finditer(previous)]
    if len(frag) < 2:
        return None
    best: tuple[int, int, int] | None = None  # (shared words, window start, window end) in `prev`
    for start in range(len(prev)):
        for end in range(start + 2, min(len(prev), start + len(frag) + 3) + 1):
            window = [w for w, _, _ in prev[start:end]]
            f_words = [w for w, _, _ in frag]
            p = 0
            while p < min(len(window), len(f_words)) and window[p] == f_words[p]:
                p += 1
            s = 0
            while s < min(len(window), len(f_words)) - p and window[-1 - s] == f_words[-1 - s]:
                s += 1
            middle_prev, middle_frag = window[p : len(window) - s], f_words[p : len(f_words) - s]
            # A real frame: two shared words at least, something different in the middle of both, and
            # the window is framed exactly (its first and last words are shared ones or its middle).
            if p + s >= 2 and middle_prev and middle_frag and middle_prev != middle_frag:
                # The most shared words, then the tightest window.
                if best is None or (p + s, start - end) > (best[0], best[1] - best[2]):
                    best = (p + s, start, end)
    if best is None:
        return None
    _, start, end = best
    return previous[: prev[start][1]] + fragment + previous[prev[end - 1][2] :]


def _insert(previous: str, fragment: str) -> str:
    """The previous question with the fragment added where the language puts such a phrase: in Hindi (verb
    last) just before the question word ("… सह-अध्यक्षता [अमेरिका की ओर से] किसने की?"), in English before the
    closing question mark ("Who co-chaired the meeting [from the US side]?"); appended when neither fits.
    A reader sees one well-formed question instead of a question followed by a loose phrase."""
    for m in _WORD_RE.finditer(previous):
        if m.group() in _QUESTION_WORDS and is_devanagari(m.group()):
            return f"{previous[: m.start()]}{fragment} {previous[m.start() :]}"
    stripped = previous.rstrip()
    if stripped.endswith("?"):
        return f"{stripped[:-1].rstrip()} {fragment}?"
    return f"{stripped} {fragment}".strip()


def resolve_followup(question: str, history: Iterable[Any] | None) -> str:
    """The search query for `question` given the earlier turns: `question` itself when it stands alone or
    there is no history, else a rewrite that carries what the follow-up leaves out (see the module docstring).

    Args:
        question: the user's question (NFC).
        history: earlier turns in any shape `normalise_history` accepts, oldest first.
    Returns:
        The query to retrieve with and to give the reader.
    """
    turns = normalise_history(history)
    if not turns or not is_followup(question):
        return question
    previous = resolve_followup(turns[-1].question, turns[:-1])
    words = _words(_strip_continuation(question))  # "What about …" asks nothing by itself
    if not _has_question_word(words):
        fragment = _strip_continuation(question).rstrip(" ?？!।")
        if not fragment:
            return previous
        substituted = _substitute(previous, fragment)
        if substituted is not None:
            return substituted
        return _insert(previous, fragment)
    context = " ".join(_content(_words(previous)))
    answer = _answer_words(turns[-1].answer)
    extra = " ".join(part for part in (context, answer) if part)
    return f"{question.rstrip()} {extra}".strip() if extra else question
