"""MT-Bench's two games per pair: the pair goes to a model only when both orders name it; a disagreement is a tie."""

from __future__ import annotations

import pytest

from kubetune.evaluation.judge import Game, Judgement, judge_prompt


@pytest.mark.parametrize(("first", "second", "winner", "inconsistent"), [
    ("B", "A", "candidate", False),   # baseline as A lost, then candidate as A won
    ("A", "B", "baseline", False),
    ("tie", "tie", "tie", False),
    ("A", "A", "tie", True),          # always the first position: position bias, counted as a tie
    ("B", "tie", "tie", True),
])
def test_two_orders_decide_together(first: str, second: str, winner: str, inconsistent: bool) -> None:
    judgement = Judgement([Game("baseline", first), Game("candidate", second)])  # type: ignore[arg-type]
    assert (judgement.winner, judgement.inconsistent) == (winner, inconsistent)


def test_one_order_without_position_swap_and_failures() -> None:
    assert Judgement([Game("baseline", "B")]).winner == "candidate"
    assert Judgement([Game("baseline", "B")]).inconsistent is None
    failed = Judgement([], error="HTTP 500: boom")
    assert (failed.winner, failed.inconsistent) == (None, None)


def test_the_prompt_shows_question_reference_and_both_answers_in_order() -> None:
    prompt = judge_prompt("Where is my order?", "first answer", "second answer", "It ships Tuesday.")
    assert prompt.index("Where is my order?") < prompt.index("It ships Tuesday.") < prompt.index("first answer") \
        < prompt.index("second answer")
    assert "[Reference answer]" not in judge_prompt("q", "a", "b", None)
