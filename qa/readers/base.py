"""What every reader is: the `Reader` protocol and the one abstention answer they all give."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from qa.errors import QuestionError
from qa.language import ABSTAIN_MESSAGES
from qa.types import Answer, Hit


@runtime_checkable
class Reader(Protocol):
    """Reads the retrieved hits and answers the question from them."""

    name: str

    def read(self, question: str, hits: Sequence[Hit], *, language: str, focus: str | None = None) -> Answer:
        """Answer `question` from `hits`.

        Args:
            question: the (possibly rewritten, see `qa.followup.resolve_followup`) question.
            hits: retrieved passages, best first.
            language: "hi" or "en": the language of the user's own question (abstention message, quoting).
            focus: for a rewritten follow-up, the user's own words ("और अमेरिका की ओर से?"); the answer is
                looked for near what they name.
        """
        ...


def check_language(language: str) -> None:
    """Readers answer in the user's language: one of those with an abstention message."""
    if language not in ABSTAIN_MESSAGES:
        raise QuestionError(f"Unknown language {language!r}; choose one of {', '.join(ABSTAIN_MESSAGES)}.")


def abstention(reader: str, question: str, language: str, confidence: float = 0.0) -> Answer:
    """The abstention answer of every reader: the message in the question's language and no sources (nothing
    supports an answer; `Assistant.ask` still lists what was retrieved in `retrieved`)."""
    return Answer(
        question=question,
        text=ABSTAIN_MESSAGES[language],
        abstained=True,
        confidence=float(max(0.0, min(1.0, confidence))),
        language=language,
        reader=reader,
    )
