"""Frozen result and data types shared by every layer (a leaf module: imports nothing from qa)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Turn:
    """An earlier exchange of a conversation, for follow-up questions."""

    question: str
    answer: str


@dataclass(frozen=True)
class Document:
    """One article. `text` is NFC-normalised; chunk offsets point into it."""

    id: str
    title: str
    text: str
    source: str
    date: str | None = None

    @property
    def link(self) -> str | None:
        """The article's web address (a ``source:`` header with an http(s) URL), else None: a file path
        is where the article was read from, not a page to link to."""
        return article_link(self.source)


def article_link(source: str) -> str | None:
    """An article's web address from its ``source`` (see `Document.link`)."""
    return source if source.startswith(("https://", "http://")) else None


@dataclass(frozen=True)
class Chunk:
    """Whole sentences of one document; `text == document.text[start:end]`."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the article it belongs to and its scores."""

    chunk: Chunk
    title: str
    date: str | None
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    #: The article's web address (`Document.link`).
    link: str | None = None


@dataclass(frozen=True)
class Source:
    """A cited passage. `start/end` are offsets in the document text; `answer_start/answer_end` are
    offsets of the answer span inside `text` (None when the passage only supports the answer)."""

    doc_id: str
    title: str
    date: str | None
    text: str
    start: int
    end: int
    score: float
    answer_start: int | None = None
    answer_end: int | None = None
    #: The article's web address (`Document.link`).
    link: str | None = None

    @classmethod
    def from_hit(cls, hit: Hit, span: tuple[int, int] | None = None) -> Source:
        """The passage of `hit`, with the answer span's offsets inside it when given."""
        c = hit.chunk
        return cls(
            doc_id=c.doc_id,
            title=hit.title,
            date=hit.date,
            text=c.text,
            start=c.start,
            end=c.end,
            score=hit.score,
            answer_start=span[0] if span else None,
            answer_end=span[1] if span else None,
            link=hit.link,
        )


@dataclass(frozen=True)
class ArticleInfo:
    """One article of the index as a corpus listing shows it."""

    id: str
    title: str
    date: str | None
    passages: int
    link: str | None = None


@dataclass(frozen=True)
class Answer:
    """What `qa.answer()` returns. `text` is the short answer or the abstention message."""

    question: str
    text: str
    abstained: bool
    confidence: float
    sources: tuple[Source, ...] = ()
    sentence: str | None = None
    # Every passage retrieved for the question, best first (the evaluation reads retrieval metrics off it).
    retrieved: tuple[Source, ...] = ()
    language: str = "hi"
    quoted: bool = False
    search_query: str | None = None
    reader: str = "trained"
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
