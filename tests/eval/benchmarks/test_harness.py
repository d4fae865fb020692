"""What every benchmark shares: one table printer, one JSON writer, one way to summarise latencies and answers."""

from __future__ import annotations

import json
import os
from pathlib import Path

from viqa.eval.benchmarks.harness import (
    answer_scores,
    format_table,
    fresh_collection,
    latency_ms,
    read_rss_mb,
    write_json,
)
from viqa.eval.formats import GoldItem
from viqa.eval.runner import score_item
from viqa.settings import Settings


def test_the_table_left_aligns_the_first_column_right_aligns_the_rest_and_gives_floats_three_places() -> None:
    table = format_table(["system", "R@1", "p50 ms"], [["bm25", 0.9281, 12], ["hybrid_minmax", 0.96, 8.5]])
    assert table.splitlines() == [
        "system           R@1  p50 ms",
        "bm25           0.928      12",
        "hybrid_minmax  0.960   8.500",
    ]


def test_each_column_is_as_wide_as_its_widest_cell_header_included() -> None:
    lines = format_table(["a", "bb"], [["long first cell", "x"], ["y", 1.0]]).splitlines()
    assert lines == ["a                   bb", "long first cell      x", "y                1.000"]


def test_a_table_may_give_floats_fewer_places_and_may_have_no_rows() -> None:
    assert format_table(["variant", "EM"], [["before", 81.26]], digits=1).splitlines()[1] == "before   81.3"
    assert format_table(["chunks", "R@10"], []) == "chunks  R@10"


def test_json_is_written_with_its_folder_made_and_vietnamese_kept(tmp_path: Path) -> None:
    path = write_json(tmp_path / "runs" / "bench" / "out.json", {"câu": "Lạng Sơn"})
    assert path.read_text(encoding="utf-8").endswith("\n")
    assert "Lạng Sơn" in path.read_text(encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == {"câu": "Lạng Sơn"}


def test_latency_percentiles_are_nearest_rank_and_none_without_latencies() -> None:
    ms = [float(v) for v in range(1, 101)]
    assert latency_ms(ms) == {"p50_ms": 50.0, "p95_ms": 95.0}
    assert latency_ms(ms, quantiles=(99,)) == {"p99_ms": 99.0}
    assert latency_ms([]) == {"p50_ms": None, "p95_ms": None}


def test_answer_scores_give_em_and_f1_on_the_answerable_and_count_abstentions_on_the_others() -> None:
    answerable = GoldItem("q1", "Xuất khẩu?", ("45,6 triệu USD",))
    unanswerable = GoldItem("q2", "Dân số?", ())
    results = [
        score_item(answerable, "45,6 triệu USD", 0.9, 10.0),
        score_item(answerable, "38,2 triệu USD", 0.6, 30.0),
        score_item(unanswerable, None, 0.8, 20.0),
        score_item(unanswerable, "120 nghìn con", 0.5, 40.0),
    ]
    scores = answer_scores(results)
    assert (scores["questions"], scores["em"], scores["abstained"], scores["unanswerable"]) == (4, 50.0, 1, 2)
    assert 50.0 < scores["f1"] < 100.0  # "triệu USD" overlaps
    assert (scores["p50_ms"], scores["p95_ms"]) == (20.0, 40.0)


def test_a_fresh_collection_has_nothing_left_of_an_earlier_one_of_its_name(settings: Settings) -> None:
    old = settings.collections_dir / "bench-x"
    (old / "gen-1").mkdir(parents=True)
    (old / "CURRENT").write_text("gen-1")
    coll = fresh_collection(settings, "bench-x")
    assert coll.name == "bench-x" and not coll.exists and not old.exists()


def test_resident_memory_of_a_process_is_read_from_proc() -> None:
    rss = read_rss_mb(os.getpid())
    assert 0 < rss["rss_mb"] <= rss["hwm_mb"]
