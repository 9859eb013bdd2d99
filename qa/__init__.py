"""Samachar QA: question answering over Hindi news articles.

>>> from qa import answer
>>> answer("हवाई में हुई बैठक की सह-अध्यक्षता किसने की?").text
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.pipeline import Assistant
    from qa.types import Answer

__all__ = ["answer", "Assistant"]


def answer(question: str, history: list | None = None, **options: Any) -> Answer:
    """Answer `question` from the articles with a process-wide Assistant (loaded on first call)."""
    from qa.pipeline import answer as _answer

    return _answer(question, history, **options)


def __getattr__(name: str) -> Any:
    # Lazy, so `import qa` stays cheap (the CLI's --help must not load torch).
    if name == "Assistant":
        from qa.pipeline import Assistant

        return Assistant
    raise AttributeError(name)
