"""``viqa eval --ray``: a gold set spread over Ray actors scores exactly as the same set run here."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes import FakePipeline
from viqa.eval.evaluate import evaluate
from viqa.settings import Settings

QUESTIONS = ["Kim ngạch xuất khẩu tháng 11 ước đạt bao nhiêu?", "Kim ngạch nhập khẩu tháng 11 ước đạt bao nhiêu?",
             "Kim ngạch xuất khẩu tháng 10 đạt bao nhiêu?", "Tổng đàn trâu của tỉnh có bao nhiêu con?",
             "Tổng đàn bò của tỉnh có bao nhiêu?"]
ANSWERS = ["45,6 triệu USD", "38,2 triệu USD", "41,3 triệu USD", "120 nghìn con", "45 nghìn con"]


def _gold(tmp_path: Path) -> Path:
    gold = tmp_path / "gold.jsonl"
    pairs = zip(QUESTIONS * 4, ANSWERS * 4, strict=True)
    rows = [{"id": f"q{i}", "question": q, "answers": [a]} for i, (q, a) in enumerate(pairs)]
    gold.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return gold


def test_questions_spread_over_actors_score_as_a_local_run(ray_local, settings: Settings, tmp_path: Path) -> None:
    from viqa.eval.ray_eval import ray_runner

    gold = _gold(tmp_path)
    here = evaluate(gold, "open", FakePipeline(settings), "default", tmp_path / "here")  # type: ignore[arg-type]
    there = evaluate(gold, "open", FakePipeline(settings), "default", tmp_path / "there",  # type: ignore[arg-type]
                     runner=lambda mode, coll: ray_runner(settings, mode, coll, workers=2, factory=FakePipeline))

    def scores(summary: dict) -> dict:
        return {k: v for k, v in summary.items() if k not in ("latency_ms", "by_kind")}

    assert scores(there) == scores(here) and here["has_ans"]["em"] == 100.0
    answers = [json.loads(line)["prediction"] for line in (tmp_path / "there" / "results.jsonl").open()]
    assert sorted(answers) == sorted(ANSWERS * 4)
