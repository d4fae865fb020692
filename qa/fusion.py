"""Score fusion for hybrid retrieval: pure functions over {row: score} maps."""

from __future__ import annotations


def minmax(scores: dict[int, float]) -> dict[int, float]:
    """Scale scores to [0, 1]; a single score (or all equal) becomes 1."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi == lo:
        return {k: 1.0 for k in scores}
    return {k: (v - lo) / (hi - lo) for k, v in scores.items()}


def fuse_minmax(dense: dict[int, float], lexical: dict[int, float], alpha: float) -> dict[int, float]:
    """``alpha * dense + (1 - alpha) * bm25`` after min-max scaling; a side that missed a row adds 0."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    d, s = minmax(dense), minmax(lexical)
    return {k: alpha * d.get(k, 0.0) + (1 - alpha) * s.get(k, 0.0) for k in d.keys() | s.keys()}


def fuse_rrf(dense: dict[int, float], lexical: dict[int, float], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: the sum of ``1 / (k + rank)`` over the rankings a row appears in."""
    fused: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, row in enumerate(sorted(ranking, key=ranking.__getitem__, reverse=True), start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return fused


def fuse(dense: dict[int, float], lexical: dict[int, float], mode: str, fusion: str, alpha: float,
         rrf_k: int) -> dict[int, float]:
    """The scores a search ranks by: one side alone (mode "dense" or "bm25"), else the two fused by ``fusion``
    ("minmax" with ``alpha``, or "rrf" with ``rrf_k``)."""
    if mode == "dense":
        return dense
    if mode == "bm25":
        return lexical
    return fuse_rrf(dense, lexical, rrf_k) if fusion == "rrf" else fuse_minmax(dense, lexical, alpha)


def best_first(scores: dict[int, float], k: int) -> list[int]:
    """The ``k`` best rows, best first (ties: the lower row first)."""
    return sorted(scores, key=lambda r: (-scores[r], r))[:k]
