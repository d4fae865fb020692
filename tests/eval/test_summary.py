"""viqa.eval.summary: a run's numbers from hand-made per-question results."""

from __future__ import annotations

from viqa.eval.runner import ItemResult
from viqa.eval.summary import summarize


def _row(qid: str, golds: list[str], prediction: str | None, em: float, f1: float, kind: str | None = "direct",
         rank: int | None = None, cited: bool | None = None, latency: float = 100.0) -> ItemResult:
    return ItemResult(qid=qid, question=f"câu hỏi {qid}?", kind=kind, golds=golds, prediction=prediction,
                      confidence=0.5, em=em, f1=f1, em_squad=em, f1_squad=f1, latency_ms=latency,
                      retrieval_rank=rank, answer_in_citation=cited)


ROWS = [
    _row("a1", ["168ha"], "168ha", 1.0, 1.0, rank=1, cited=True, latency=10.0),
    _row("a2", ["164,8ha"], "164,8", 0.0, 0.5, kind="footnote", rank=3, cited=False, latency=20.0),
    _row("a3", ["35.000 con"], None, 0.0, 0.0, kind="table", rank=None, latency=30.0),
    _row("n1", [], None, 1.0, 1.0, kind="unanswerable", latency=40.0),
    _row("n2", [], "Lạng Sơn", 0.0, 0.0, kind=None, latency=50.0),
]


def test_has_ans_and_no_ans_split_by_whether_there_is_a_gold_answer() -> None:
    s = summarize(ROWS, "open")
    assert s["questions"] == 5
    assert (s["overall"]["n"], s["has_ans"]["n"], s["no_ans"]["n"]) == (5, 3, 2)
    assert s["has_ans"]["em"] == round(100 / 3, 2)
    assert s["has_ans"]["f1"] == 50.0
    assert s["no_ans"]["em"] == 50.0
    assert s["overall"]["abstained"] == 0.4


def test_by_kind_has_one_key_per_kind_and_a_dash_for_none() -> None:
    s = summarize(ROWS, "open")
    assert list(s["by_kind"]) == ["-", "direct", "footnote", "table", "unanswerable"]
    assert s["by_kind"]["footnote"] == {"n": 1, "em": 0.0, "f1": 50.0, "em_squad": 0.0, "f1_squad": 50.0,
                                        "abstained": 0.0}


def test_answer_in_citation_counts_only_rows_where_it_was_judged() -> None:
    assert summarize(ROWS, "open")["answer_in_citation"] == 0.5


def test_retrieval_ranks_of_answerable_questions_give_recall_and_mrr() -> None:
    r = summarize(ROWS, "open")["retrieval"]
    assert r == {"n": 3, "recall@1": 0.3333, "recall@5": 0.6667, "recall@10": 0.6667,
                 "mrr@10": round((1 + 1 / 3) / 3, 4)}


def test_reader_mode_has_no_retrieval_and_retrieval_mode_no_answer_scores() -> None:
    assert "retrieval" not in summarize(ROWS, "reader")
    s = summarize(ROWS, "retrieval")
    assert "overall" not in s and "by_kind" not in s
    assert s["retrieval"]["n"] == 3


def test_latency_percentiles() -> None:
    assert summarize(ROWS, "open")["latency_ms"] == {"p50": 30.0, "p95": 50.0}


def test_an_empty_subset_reports_only_its_count() -> None:
    s = summarize([r for r in ROWS if r.golds], "reader")
    assert s["no_ans"] == {"n": 0}
