"""Metric functions against values computed by hand."""

from __future__ import annotations

import math

import pytest

from qa.metrics import (
    abstention_scores,
    contains_answer,
    dedupe,
    exact_match,
    first_relevant_rank,
    mean,
    mrr_at_k,
    normalize_answer,
    percentile,
    recall_at_k,
    token_f1,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("दिल्ली।", "दिल्ली"),  # danda
        ("राम॥ श्याम", "राम श्याम"),  # double danda
        ("  The   Quick, brown fox! ", "quick brown fox"),
        ("An apple a day", "apple day"),  # English articles go
        ("Theatre", "theatre"),  # ...only as whole words
        ("₹500", "500"),  # symbols go too
        ("“हवाई”", "हवाई"),  # curly quotes are punctuation
        ("भारत-अमेरिका", "भारतअमेरिका"),  # removed, not spaced (as MLQA does)
        ("10 वर्षों\n\tके लिए", "10 वर्षों के लिए"),  # whitespace folded
        ("क्\u200dष", "क्ष"),  # zero-width joiner dropped
        ("।॥?!", ""),
    ],
)
def test_normalize_answer(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


def test_normalize_answer_nfc_folds_nukta_spellings() -> None:
    precomposed, decomposed = "\u095b", "\u091c\u093c"  # ज़ both ways
    assert normalize_answer(precomposed) == normalize_answer(decomposed)


def test_exact_match_best_over_answers() -> None:
    assert exact_match("दिल्ली।", ["नई दिल्ली", "दिल्ली"]) == 1.0
    assert exact_match("नई दिल्ली में", ["नई दिल्ली", "दिल्ली"]) == 0.0
    assert exact_match("The Army", ["army"]) == 1.0
    assert exact_match("anything", []) == 0.0


def test_token_f1_hand_computed() -> None:
    # 3 predicted tokens, 2 gold, 2 shared: P = 2/3, R = 1, F1 = 0.8
    assert token_f1("नई दिल्ली में", ["नई दिल्ली"]) == pytest.approx(0.8)
    # best of: vs "सिंह" P=1/2 R=1 -> 2/3; vs "राजनाथ सिंह जी" P=1 R=2/3 -> 0.8
    assert token_f1("राजनाथ सिंह", ["सिंह", "राजनाथ सिंह जी"]) == pytest.approx(0.8)
    # repeated tokens count once each: shared = min(3, 1) = 1, P = 1/3, R = 1 -> 0.5
    assert token_f1("के के के", ["के"]) == pytest.approx(0.5)
    assert token_f1("पीटर हेगसेथ।", ["पीटर हेगसेथ"]) == 1.0
    assert token_f1("राजनाथ", ["हेगसेथ"]) == 0.0
    assert token_f1("", ["हवाई"]) == 0.0
    assert token_f1("", ["।"]) == 1.0  # both normalise to nothing (SQuAD 2.0 convention)
    assert token_f1("x", []) == 0.0


def test_contains_answer_whole_words() -> None:
    assert contains_answer("बैठक हवाई में संपन्न हुई।", ["हवाई"]) == 1.0
    assert contains_answer("बैठक हवाई में", ["कुआलालंपुर", "हवाई में"]) == 1.0
    assert contains_answer("यह 10 वर्षों के लिए है", ["10 वर्षों"]) == 1.0
    assert contains_answer("रामपुर", ["राम"]) == 0.0  # a word is not found inside another word
    assert contains_answer("in 2010", ["10"]) == 0.0
    assert contains_answer("कुछ भी", ["॥"]) == 0.0  # an answer of punctuation matches nothing
    assert contains_answer("", ["हवाई"]) == 0.0


def test_recall_at_k() -> None:
    ranked = ["a", "b", "c"]
    assert recall_at_k(ranked, {"c"}, 2) == 0.0
    assert recall_at_k(ranked, {"c"}, 3) == 1.0
    assert recall_at_k(ranked, {"a", "d"}, 3) == 0.5
    assert recall_at_k(ranked, set(), 3) == 0.0
    assert recall_at_k(ranked, {"b"}, 10) == 1.0
    with pytest.raises(ValueError):
        recall_at_k(ranked, {"a"}, 0)


def test_mrr_at_k() -> None:
    ranked = ["a", "b", "c"]
    assert mrr_at_k(ranked, {"c"}) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, {"b", "c"}) == 0.5  # the first relevant one counts
    assert mrr_at_k(ranked, {"c"}, k=2) == 0.0
    assert mrr_at_k(ranked, {"z"}) == 0.0
    assert first_relevant_rank(ranked, {"c"}) == 3
    assert first_relevant_rank(ranked, {"z"}) is None


def test_dedupe_keeps_first_rank() -> None:
    assert dedupe(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]


def test_abstention_scores() -> None:
    abstained = [True, True, False, False, True]
    unanswerable = [True, False, True, False, False]
    scores = abstention_scores(abstained, unanswerable)
    assert scores["precision"] == pytest.approx(1 / 3)  # 1 of 3 abstentions was right
    assert scores["recall"] == pytest.approx(1 / 2)  # 1 of 2 unanswerable caught
    assert scores["false_abstention_rate"] == pytest.approx(2 / 3)  # 2 of 3 answerable refused
    none = abstention_scores([False, False], [False, False])
    assert none == {"precision": None, "recall": None, "false_abstention_rate": 0.0}
    with pytest.raises(ValueError):
        abstention_scores([True], [])


def test_percentile_linear_interpolation() -> None:
    values = [40, 10, 30, 20]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 95) == pytest.approx(38.5)  # position 3 * 0.95 = 2.85 -> 30 + 0.85 * 10
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile([7], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_percentile_agrees_with_numpy() -> None:
    np = pytest.importorskip("numpy")
    values = [3.1, 0.5, 9.9, 4.4, 4.4, 7.0, 1.2]
    for q in (5, 50, 90, 95, 99):
        assert math.isclose(percentile(values, q), float(np.percentile(values, q)))


def test_mean() -> None:
    assert mean([1, 0, 1, 1]) == 0.75
    assert mean([]) is None
