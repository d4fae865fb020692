"""viqa.eval.compare: two run folders in, the questions that moved and the score deltas out."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from viqa.errors import InputError
from viqa.eval.compare import compare_runs, format_comparison
from viqa.eval.runner import ItemResult
from viqa.eval.summary import summarize


def _row(qid: str, prediction: str | None, em: float, f1: float, golds: tuple[str, ...] = ("168ha",)) -> ItemResult:
    return ItemResult(qid=qid, question=f"câu hỏi {qid}?", kind="direct", golds=list(golds), prediction=prediction,
                      confidence=0.5, em=em, f1=f1, em_squad=em, f1_squad=f1, latency_ms=10.0)


def _run(path: Path, rows: list[ItemResult], with_summary: bool = False) -> Path:
    path.mkdir(parents=True)
    text = "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in rows)
    (path / "results.jsonl").write_text(text, encoding="utf-8")
    if with_summary:
        (path / "summary.json").write_text(json.dumps(summarize(rows, "reader"), ensure_ascii=False), encoding="utf-8")
    return path


A = [_row("same", "168ha", 1.0, 1.0), _row("fix", "168", 0.0, 0.5), _row("break", "168ha", 1.0, 1.0),
     _row("reword", "vụ Đông", 0.0, 0.0), _row("gone", "168ha", 1.0, 1.0)]
B = [_row("same", "168ha", 1.0, 1.0), _row("fix", "168ha", 1.0, 1.0), _row("break", None, 0.0, 0.0),
     _row("reword", "168", 0.0, 0.5), _row("new", None, 0.0, 0.0)]


def test_questions_are_sorted_into_fixed_broken_changed_and_one_sided(tmp_path: Path) -> None:
    d = compare_runs(_run(tmp_path / "a", A), _run(tmp_path / "b", B))
    assert [r["qid"] for r in d["fixed"]] == ["fix"]
    assert [r["qid"] for r in d["broken"]] == ["break"]
    assert [r["qid"] for r in d["changed"]] == ["reword"]
    assert (d["only_in_a"], d["only_in_b"]) == (["gone"], ["new"])
    assert d["fixed"][0]["a"] == "168" and d["fixed"][0]["b"] == "168ha"
    assert d["broken"][0]["b"] is None
    assert (d["n_a"], d["n_b"], d["n_common"]) == (5, 5, 4)


def test_identical_runs_have_no_differences(tmp_path: Path) -> None:
    d = compare_runs(_run(tmp_path / "a", A), _run(tmp_path / "b", A))
    assert d["fixed"] == d["broken"] == d["changed"] == d["only_in_a"] == d["only_in_b"] == []
    assert all(v["delta"] == 0 for v in d["scores"].values())


def test_scores_are_recomputed_without_a_summary(tmp_path: Path) -> None:
    d = compare_runs(_run(tmp_path / "a", A), _run(tmp_path / "b", B))
    assert d["scores_source"] == {"a": "recomputed", "b": "recomputed"}
    assert d["scores"]["em"] == {"a": 60.0, "b": 40.0, "delta": -20.0}
    assert d["scores"]["f1"] == {"a": 70.0, "b": 50.0, "delta": -20.0}
    # over the four shared questions: A 2/4 exact, B 2/4 exact
    assert d["common_scores"]["em"] == {"a": 50.0, "b": 50.0, "delta": 0.0}


def test_scores_come_from_summary_json_when_present(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", A, with_summary=True)
    summary = json.loads((a / "summary.json").read_text(encoding="utf-8"))
    summary["overall"]["em"] = 99.0  # whatever the summary says is what is reported
    (a / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    d = compare_runs(a, _run(tmp_path / "b", B, with_summary=True))
    assert d["scores_source"] == {"a": "summary.json", "b": "summary.json"}
    assert d["scores"]["em"] == {"a": 99.0, "b": 40.0, "delta": -59.0}


def test_a_folder_without_results_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="results.jsonl"):
        compare_runs(tmp_path / "empty", _run(tmp_path / "b", B))


def test_a_malformed_results_line_is_named(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", A)
    with (a / "results.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"qid": "cut", "quest\n')
    with pytest.raises(InputError, match="line 6"):
        compare_runs(a, _run(tmp_path / "b", B))


def test_format_comparison_is_a_plain_text_table(tmp_path: Path) -> None:
    text = format_comparison(compare_runs(_run(tmp_path / "a", A), _run(tmp_path / "b", B)))
    assert "fixed 1, broken 1, changed 1, only in A 1, only in B 1" in text
    assert "câu hỏi fix?" in text and "∅ (abstained)" in text
    assert "over the 4 questions both runs share" in text
    assert "-20.00" in text
    assert "<" not in text
