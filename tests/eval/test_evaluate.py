"""A run folder is resumed only by the same run: every setting that can change an answer is in its fingerprint."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from viqa.eval.evaluate import fingerprint
from viqa.settings import Settings


@pytest.fixture
def gold(tmp_path: Path) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text('{"id": "q1", "question": "Bao nhiêu?", "answers": ["1"]}\n', encoding="utf-8")
    return path


def _of(gold: Path, settings: Settings) -> dict:
    return fingerprint(gold, "open", "default", SimpleNamespace(settings=settings))  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value"), [("reader_context_weight", 0.5), ("max_answer_tokens", 12),
                                              ("candidates", 10), ("reader_top_spans", 5), ("read_k", 1),
                                              ("answer_rules", []), ("reader_restore_tones", False)])
def test_a_setting_that_changes_answers_changes_the_fingerprint(settings, gold: Path, field: str, value) -> None:
    assert _of(gold, settings) != _of(gold, settings.model_copy(update={field: value}))


@pytest.mark.parametrize(("field", "value"), [("api_key", "k"), ("max_upload_mb", 1.0), ("public_reads", False),
                                              ("ingest_worker", "thread"), ("allowed_hosts", ["viqa.example"])])
def test_service_settings_leave_the_fingerprint_alone(settings, gold: Path, field: str, value) -> None:
    assert _of(gold, settings) == _of(gold, settings.model_copy(update={field: value}))


def test_a_calibration_in_the_model_cache_changes_the_fingerprint(gold: Path, tmp_path: Path) -> None:
    from viqa.models.reader_model import calibration_file, reader_weights

    own = Settings(home=tmp_path / "home")  # a model cache of its own: the shared one is never written
    before = _of(gold, own)
    target = calibration_file(reader_weights(own), own.model_cache)
    target.parent.mkdir(parents=True)
    target.write_text('{"calibration": {"null_threshold": 1.0, "confidence_scale": 2.0}}')
    assert _of(gold, own) != before


def test_strip_tones_asks_the_questions_without_tone_marks_in_a_run_of_its_own(
    settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viqa.eval import evaluate as module
    from viqa.eval.runner import score_item

    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "q1", "question": "Tổng kim ngạch tháng 11 đạt bao nhiêu?", "answers": ["440 triệu USD"],'
                    ' "context": "Tổng kim ngạch tháng 11 đạt 440 triệu USD."}\n', encoding="utf-8")
    asked: list[str] = []

    def fake_reader(items, pipeline):
        asked.extend(it.question for it in items)
        return [score_item(it, "440 triệu USD", 1.0, 1.0) for it in items]

    monkeypatch.setattr(module, "run_reader", fake_reader)
    pipeline = SimpleNamespace(settings=settings, load=lambda collection=None: None)
    module.evaluate(gold, "reader", pipeline, None, tmp_path / "run", strip_tones=True)  # type: ignore[arg-type]
    assert asked == ["Tong kim ngach thang 11 dat bao nhieu?"]
    assert _of(gold, settings) != fingerprint(gold, "open", "default", pipeline, strip_tones=True)  # type: ignore[arg-type]
