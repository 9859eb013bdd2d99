"""Typed errors raised by the library. Only `qa/cli.py` and `app.py` turn them into messages."""

from __future__ import annotations

from pathlib import Path


class QAError(Exception):
    """Base class of every error the library raises on purpose."""


class CorpusError(QAError):
    """An article or the corpus folder cannot be read. Names the offending file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class QuestionError(QAError, ValueError):
    """The question itself is unusable (empty, too long, not text)."""


class EmptyQuestionError(QuestionError):
    pass


class QuestionTooLongError(QuestionError):
    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(
            f"The question is {length:,} characters long; the limit is {limit:,}. Please shorten it."
        )


class IndexError_(QAError):
    """Base of index problems. (Trailing underscore: do not shadow the builtin IndexError.)"""


class IndexMissingError(IndexError_):
    pass


class IndexCorruptError(IndexError_):
    pass


class IndexReadOnlyError(IndexError_):
    """The index folder cannot be written (read-only storage): it can serve questions, not take articles."""


class IndexMismatchError(IndexError_):
    """The saved index was built with another model, chunking or format than the one asked for."""


class ModelError(QAError):
    """The embedding model or a reader model cannot be loaded."""


class ReaderSpecError(QAError, ValueError):
    """A reader name that `build_reader` does not know."""


class DatasetError(QAError):
    """An evaluation data file is malformed. Names the file and line."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class ArticleNotFoundError(QAError, LookupError):
    """An article id that the index does not hold."""
