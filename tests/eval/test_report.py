"""viqa.eval.report: one self-contained, escaped HTML page per run, plus summary.json, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from viqa.eval.report import (
    expected_calibration_error,
    histogram,
    is_correct,
    reliability_bins,
    render_html,
    worst_misses,
    write_html_report,
    write_run,
)
from viqa.eval.runner import ItemResult
from viqa.eval.summary import summarize

INJECTION = 'Dân số <script>alert("x")</script> là bao nhiêu?'


def _row(qid: str, golds: list[str], prediction: str | None, em: float, f1: float, confidence: float = 0.5,
         kind: str | None = "direct", citations: list[dict] | None = None, latency: float = 100.0) -> ItemResult:
    return ItemResult(qid=qid, question=f"câu hỏi {qid}?", kind=kind, golds=golds, prediction=prediction,
                      confidence=confidence, em=em, f1=f1, em_squad=em, f1_squad=f1, latency_ms=latency,
                      citations=citations or [])


def _rows() -> list[ItemResult]:
    quote = {"doc_id": "d1", "quote": "Diện tích gieo trồng <b>vụ Đông</b> ước đạt 168ha.",
             "char_start": 45, "char_end": 50}
    rows = [
        _row("a1", ["168ha"], "168ha", 1.0, 1.0, 0.9, latency=120.0),
        _row("a2", ["164,8ha"], "164,8", 0.0, 0.5, 0.8, kind="footnote", citations=[quote], latency=250.0),
        _row("a3", ["35.000 con"], None, 0.0, 0.0, 0.7, kind="table", latency=90.0),
        _row("n1", [], None, 1.0, 1.0, 0.6, kind="unanswerable", latency=80.0),
        _row("n2", [], "Lạng Sơn", 0.0, 0.0, 0.95, kind=None, latency=400.0),
    ]
    rows[2].question = INJECTION
    return rows


def test_report_is_self_contained_escaped_and_has_charts(tmp_path: Path) -> None:
    rows = _rows()
    path = tmp_path / "report.html"
    write_html_report(path, summarize(rows, "open"), rows, title="viqa eval: <gold>.jsonl")
    page = path.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page
    assert "Dân số &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; là bao nhiêu?" in page
    assert "&lt;b&gt;vụ Đông&lt;/b&gt;" in page  # the citation quote, escaped
    assert "viqa eval: &lt;gold&gt;.jsonl" in page
    assert page.count("<svg") == 3  # F1 by kind, reliability, latency


def test_headline_shows_both_normalisers_and_the_split(tmp_path: Path) -> None:
    rows = _rows()
    page = render_html(summarize(rows, "open"), rows, "t")
    for label in ("EM (SQuAD)", "F1 (SQuAD)", "HasAns", "NoAns", "latency p50", "latency p95"):
        assert label in page


def test_retrieval_numbers_appear_when_present() -> None:
    rows = _rows()
    summary = {**summarize(rows, "open"), "retrieval": {"n": 3, "recall@1": 0.5, "recall@5": 0.75,
                                                        "recall@10": 1.0, "mrr@10": 0.6389}}
    page = render_html(summary, rows, "t")
    assert "recall@5" in page and "75.0 %" in page and "0.639" in page


def test_retrieval_mode_report_has_no_answer_sections() -> None:
    rows = [_row(f"r{i}", ["x"], None, 0.0, 0.0, 0.0, latency=10.0 * i) for i in range(1, 4)]
    page = render_html(summarize(rows, "retrieval"), rows, "t")
    assert "Worst misses" not in page and page.count("<svg") == 1


def test_empty_run_still_renders() -> None:
    page = render_html(summarize([], "open"), [], "t")
    assert "no data" in page


def test_write_run_writes_summary_json_and_report(tmp_path: Path) -> None:
    rows = _rows()
    summary = {"gold": "lạng-sơn.jsonl", **summarize(rows, "open")}
    out = tmp_path / "runs" / "x"
    write_run(out, summary, rows, "t")
    text = (out / "summary.json").read_text(encoding="utf-8")
    assert "lạng-sơn.jsonl" in text  # ensure_ascii=False
    assert json.loads(text) == summary
    assert (out / "report.html").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "summary.json"]  # no temporary file left


def test_an_abstention_is_correct_exactly_when_there_is_no_gold() -> None:
    assert is_correct(_row("n", [], None, 1.0, 1.0))
    assert not is_correct(_row("a", ["x"], None, 0.0, 0.0))
    assert is_correct(_row("a", ["x"], "x", 1.0, 1.0))
    assert not is_correct(_row("n", [], "x", 0.0, 0.0))


def test_reliability_bins_group_by_confidence_and_score_accuracy() -> None:
    bins = reliability_bins(_rows(), n_bins=10)
    assert len(bins) == 10 and sum(b.n for b in bins) == 5
    top = bins[9]  # 0.9 and 0.95: one right, one wrong
    assert (top.n, top.accuracy, top.confidence) == (2, 0.5, pytest.approx(0.925))
    assert (bins[7].n, bins[7].accuracy) == (1, 0.0)  # 0.7: abstained on an answerable question
    assert (bins[6].n, bins[6].accuracy) == (1, 1.0)  # 0.6: abstained, and the documents do not say
    assert (bins[6].lo, bins[6].hi) == (pytest.approx(0.6), pytest.approx(0.7))


def test_confidence_one_falls_in_the_last_bin() -> None:
    bins = reliability_bins([_row("a", ["x"], "x", 1.0, 1.0, confidence=1.0)], n_bins=4)
    assert [b.n for b in bins] == [0, 0, 0, 1]


def test_expected_calibration_error_weights_gaps_by_count() -> None:
    rows = [_row("a", ["x"], "x", 1.0, 1.0, confidence=0.9), _row("b", ["x"], "y", 0.0, 0.0, confidence=0.9),
            _row("c", ["x"], "x", 1.0, 1.0, confidence=0.3)]
    # bin 0.9: confidence 0.9, accuracy 0.5 (gap 0.4, 2 rows); bin 0.3: gap 0.7 (1 row)
    assert expected_calibration_error(reliability_bins(rows)) == pytest.approx((2 * 0.4 + 0.7) / 3)
    assert expected_calibration_error(reliability_bins([])) == 0.0


def test_histogram_covers_min_to_max() -> None:
    bins = histogram([0.0, 1.0, 2.0, 10.0], n_bins=5)
    assert [c for _, _, c in bins] == [2, 1, 0, 0, 1]
    assert (bins[0][0], bins[-1][1]) == (0.0, 10.0)
    assert histogram([5.0, 5.0], n_bins=5) == [(5.0, 5.0, 2)]
    assert histogram([]) == []


def test_worst_misses_are_lowest_f1_then_most_confident() -> None:
    assert [r.qid for r in worst_misses(_rows())] == ["n2", "a3", "a2"]
    assert [r.qid for r in worst_misses(_rows(), n=1)] == ["n2"]


def test_given_a_server_the_misses_link_to_its_page_on_the_cited_span(tmp_path: Path) -> None:
    from viqa.eval.report import render_html

    rows = _rows()
    cited = next(r for r in worst_misses(rows) if r.citations)
    summary = {**summarize(rows, "open"), "collection": "default"}
    page = render_html(summary, rows, "t", link_base="http://127.0.0.1:8000")
    c = cited.citations[0]
    assert f'href="http://127.0.0.1:8000/?c=default&amp;d={c["doc_id"]}#{c["char_start"]}-{c["char_end"]}"' in page
    assert "http://" not in render_html(summary, rows, "t")  # no server given: no link, still self-contained
