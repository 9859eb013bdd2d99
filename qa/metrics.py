"""Pure evaluation metrics: answer matching, retrieval ranking, abstention and latency.

Answer matching follows the SQuAD / MLQA evaluation scripts, extended to Hindi: every Unicode punctuation
mark (``।`` and ``॥`` included) and symbol is dropped, so ``"दिल्ली।"`` matches ``"दिल्ली"``.
Nothing here imports a model or the rest of the library.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

__all__ = [
    "normalize_answer",
    "exact_match",
    "token_f1",
    "contains_answer",
    "recall_at_k",
    "mrr_at_k",
    "first_relevant_rank",
    "dedupe",
    "abstention_scores",
    "percentile",
    "mean",
]

# English articles only, as MLQA does for English: Hindi has none, and Latin words inside Hindi news
# ("the Indian Awaaz") are English.
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)


def _is_dropped(ch: str) -> bool:
    # P* = punctuation (incl. Devanagari danda/double danda), S* = symbols (₹, °, +, emoji),
    # Cf = invisible format characters (zero-width joiner/non-joiner) that Hindi text carries inconsistently.
    cat = unicodedata.category(ch)
    return cat[0] in "PS" or cat == "Cf" or ch in _ASCII_PUNCT


def normalize_answer(text: str) -> str:
    """Normalise an answer for comparison.

    NFC, case folding, every Unicode punctuation mark, symbol and zero-width format character removed,
    English articles (a/an/the) removed, whitespace collapsed to single spaces.

    Args:
        text: a predicted or gold answer.
    Returns:
        The normalised string (possibly empty).
    """
    text = unicodedata.normalize("NFC", text).casefold()
    text = "".join(ch for ch in text if not _is_dropped(ch))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _single_f1(prediction_tokens: list[str], gold_tokens: list[str]) -> float:
    if not prediction_tokens or not gold_tokens:
        # SQuAD 2.0 convention: two empty answers agree, one empty answer agrees with nothing.
        return float(prediction_tokens == gold_tokens)
    common = Counter(prediction_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, answers: Iterable[str]) -> float:
    """1.0 if the normalised prediction equals any normalised accepted answer, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: Iterable[str]) -> float:
    """Best token-overlap F1 (whitespace tokens of the normalised strings) over the accepted answers."""
    pred = normalize_answer(prediction).split()
    return max((_single_f1(pred, normalize_answer(a).split()) for a in answers), default=0.0)


def contains_answer(prediction: str, answers: Iterable[str]) -> float:
    """1.0 if any normalised accepted answer occurs in the normalised prediction, else 0.0.

    The match is on whole tokens (``"राम"`` is not found in ``"रामपुर"``). An answer that normalises to
    nothing is never found, so a gold answer of only punctuation cannot make every prediction right.
    """
    pred = f" {normalize_answer(prediction)} "
    for answer in answers:
        gold = normalize_answer(answer)
        if gold and f" {gold} " in pred:
            return 1.0
    return 0.0


def dedupe(ids: Iterable[Hashable]) -> list:
    """Keep the first occurrence of every id, in order (several passages of one article → one rank)."""
    seen: set = set()
    out = []
    for i in ids:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def recall_at_k(ranked_ids: Sequence[Hashable], relevant_ids: Iterable[Hashable], k: int) -> float:
    """Share of the relevant ids found among the first k ranked ids (0.0 when nothing is relevant).

    With one relevant id this is the hit rate at k.
    """
    _check_k(k)
    relevant = set(relevant_ids)
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked_ids[:k])) / len(relevant)


def first_relevant_rank(ranked_ids: Sequence[Hashable], relevant_ids: Iterable[Hashable]) -> int | None:
    """1-based rank of the first relevant id, or None when none was ranked."""
    relevant = set(relevant_ids)
    for rank, i in enumerate(ranked_ids, start=1):
        if i in relevant:
            return rank
    return None


def mrr_at_k(ranked_ids: Sequence[Hashable], relevant_ids: Iterable[Hashable], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id within the first k (0.0 when it is not there)."""
    _check_k(k)
    rank = first_relevant_rank(ranked_ids[:k], relevant_ids)
    return 0.0 if rank is None else 1.0 / rank


def abstention_scores(abstained: Sequence[bool], unanswerable: Sequence[bool]) -> dict[str, float | None]:
    """Precision and recall of abstaining, treating "unanswerable" as the positive class.

    Returns:
        ``precision``: share of abstentions that were on unanswerable questions (None if none abstained);
        ``recall``: share of unanswerable questions abstained on (None if there were none);
        ``false_abstention_rate``: share of answerable questions abstained on (None if there were none).
    """
    if len(abstained) != len(unanswerable):
        raise ValueError(f"{len(abstained)} abstention flags for {len(unanswerable)} questions")
    pairs = list(zip(abstained, unanswerable))
    n_abstained = sum(1 for a, _ in pairs if a)
    n_unanswerable = sum(1 for _, u in pairs if u)
    n_answerable = len(pairs) - n_unanswerable
    true_pos = sum(1 for a, u in pairs if a and u)
    false_pos = n_abstained - true_pos
    return {
        "precision": true_pos / n_abstained if n_abstained else None,
        "recall": true_pos / n_unanswerable if n_unanswerable else None,
        "false_abstention_rate": false_pos / n_answerable if n_answerable else None,
    }


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks (numpy's default method).

    Raises:
        ValueError: on no values or q outside [0, 100].
    """
    data = sorted(float(v) for v in values)
    if not data:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within [0, 100], got {q}")
    pos = (len(data) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean, or None for no values (a metric that does not apply, not a zero)."""
    data = [float(v) for v in values]
    return sum(data) / len(data) if data else None
