"""Answer metrics: EM and F1 with a Vietnamese-aware normaliser, and the official SQuAD one beside it."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable

from viqa.text.normalise import normalise_vi

__all__ = ["exact_match", "f1", "mrr_at_k", "normalise_squad", "normalise_vi", "percentile", "recall_at_k"]

def normalise_squad(text: str) -> str:
    """The official SQuAD v1.1 normaliser (lower, no punctuation, no English articles)."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str | None, golds: Iterable[str], norm: Callable[[str], str] = normalise_vi) -> float:
    """1.0 if the prediction equals any gold answer after ``norm``; an empty gold list expects an abstention."""
    golds = list(golds)
    if not golds:
        return float(prediction is None)
    if prediction is None:
        return 0.0
    return float(any(norm(prediction) == norm(g) for g in golds))


def f1(prediction: str | None, golds: Iterable[str], norm: Callable[[str], str] = normalise_vi) -> float:
    """Best token-overlap F1 against the gold answers (abstention rules as in ``exact_match``)."""
    golds = list(golds)
    if not golds or prediction is None:
        return exact_match(prediction, golds, norm)
    return max(_f1(norm(prediction).split(), norm(g).split()) for g in golds)


def _f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:  # e.g. "%" vs "%": nothing left after normalising; F1 follows EM
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def recall_at_k(ranks: list[int | None], k: int) -> float:
    """Share of queries whose first relevant passage is at rank <= k (ranks are 1-based, None = not found)."""
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at_k(ranks: list[int | None], k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant passage, counting only ranks <= k."""
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
