"""Aggregate per-question results into the numbers people compare: EM/F1, HasAns/NoAns, by kind, retrieval, latency."""

from __future__ import annotations

from collections import defaultdict

from viqa.eval.metrics import mrr_at_k, percentile, recall_at_k
from viqa.eval.runner import ItemResult


def _answer_scores(rows: list[ItemResult]) -> dict:
    n = len(rows)
    if not n:
        return {"n": 0}
    return {
        "n": n,
        "em": round(100 * sum(r.em for r in rows) / n, 2),
        "f1": round(100 * sum(r.f1 for r in rows) / n, 2),
        "em_squad": round(100 * sum(r.em_squad for r in rows) / n, 2),
        "f1_squad": round(100 * sum(r.f1_squad for r in rows) / n, 2),
        "abstained": round(sum(r.prediction is None for r in rows) / n, 4),
    }


def summarize(results: list[ItemResult], mode: str) -> dict:
    """The summary JSON of a run."""
    summary: dict = {"mode": mode, "questions": len(results)}
    if mode != "retrieval":
        summary["overall"] = _answer_scores(results)
        summary["has_ans"] = _answer_scores([r for r in results if r.golds])
        summary["no_ans"] = _answer_scores([r for r in results if not r.golds])
        kinds: dict[str, list[ItemResult]] = defaultdict(list)
        for r in results:
            kinds[r.kind or "-"].append(r)
        summary["by_kind"] = {k: _answer_scores(v) for k, v in sorted(kinds.items())}
        cited = [r.answer_in_citation for r in results if r.answer_in_citation is not None]
        if cited:
            summary["answer_in_citation"] = round(sum(cited) / len(cited), 4)
    ranked = [r.retrieval_rank for r in results if r.golds] if mode != "reader" else []
    if ranked:
        summary["retrieval"] = {
            "n": len(ranked),
            **{f"recall@{k}": round(recall_at_k(ranked, k), 4) for k in (1, 5, 10)},
            "mrr@10": round(mrr_at_k(ranked, 10), 4),
        }
    latencies = [r.latency_ms for r in results]
    if latencies:
        summary["latency_ms"] = {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)}
    return summary
