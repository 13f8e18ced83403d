"""Reference metrics of one answer: normalised exact match and token F1 (the SQuAD definitions, which
lm-evaluation-harness and HELM reuse), and ROUGE-L F1 (Google's ``rouge-score``, the usual implementation).

Normalisation (SQuAD's ``normalize_answer``): lower case, punctuation removed, the articles a/an/the removed,
whitespace collapsed.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalise(text: str) -> str:
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(answer: str, reference: str) -> float:
    return float(normalise(answer) == normalise(reference))


def token_f1(answer: str, reference: str) -> float:
    predicted, expected = normalise(answer).split(), normalise(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


@cache
def _rouge() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(answer: str, reference: str) -> float:
    return float(_rouge().score(reference, answer)["rougeL"].fmeasure)


@dataclass(frozen=True)
class ReferenceScores:
    exact_match: float
    token_f1: float
    rouge_l: float


def score(answer: str, reference: str) -> ReferenceScores:
    return ReferenceScores(exact_match(answer, reference), token_f1(answer, reference), rouge_l(answer, reference))
