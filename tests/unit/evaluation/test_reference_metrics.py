"""Reference metrics: SQuAD's normalised exact match and token F1, and ROUGE-L from rouge-score."""

from __future__ import annotations

import pytest

from kubetune.evaluation.scoring import exact_match, normalise, rouge_l, score, token_f1


@pytest.mark.parametrize(("text", "normalised"), [
    ("The capital of France is Paris.", "capital of france is paris"),
    ("  An   APPLE, a day!  ", "apple day"),
    ("theatre", "theatre"),  # articles only as whole words
    ("", ""),
])
def test_normalisation_follows_squad(text: str, normalised: str) -> None:
    assert normalise(text) == normalised


@pytest.mark.parametrize(("answer", "reference", "expected"), [
    ("Paris.", "paris", 1.0),
    ("The answer is Paris", "Paris", 0.0),
    ("Yes, a refund takes five days.", "yes a refund takes five days", 1.0),
])
def test_exact_match(answer: str, reference: str, expected: float) -> None:
    assert exact_match(answer, reference) == expected


def test_token_f1_counts_overlap_with_multiplicity() -> None:
    # predicted: [paris, is, capital] (3), expected: [capital, is, paris, france] (4); overlap 3
    assert token_f1("Paris is the capital", "The capital is Paris, France") == pytest.approx(2 * 1 * 0.75 / 1.75)
    assert token_f1("paris paris", "paris") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert token_f1("London", "Paris") == 0.0
    assert token_f1("", "") == 1.0 and token_f1("", "Paris") == 0.0


def test_rouge_l_is_the_longest_common_subsequence_f1() -> None:
    # LCS of "the cat sat on the mat" and "the cat on the mat" is 5 tokens: P = 5/5, R = 5/6.
    assert rouge_l("the cat on the mat", "the cat sat on the mat") == pytest.approx(2 * 1 * (5 / 6) / (1 + 5 / 6))
    assert rouge_l("completely different", "nothing shared") == 0.0


def test_score_bundles_the_three() -> None:
    scores = score("Paris.", "Paris")
    assert (scores.exact_match, scores.token_f1, scores.rouge_l) == (1.0, 1.0, 1.0)
