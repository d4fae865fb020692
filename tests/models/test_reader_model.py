"""The reader's weights: where they are, which calibration applies, and the windows they were trained on."""

from __future__ import annotations

import json
from pathlib import Path

from viqa.models.reader_model import SHIPPED_DIR, calibration_file, reader_calibration, reader_weights, window_mismatch
from viqa.settings import Settings


def test_the_shipped_weights_are_package_data_unless_a_folder_is_set(tmp_path: Path) -> None:
    assert reader_weights(Settings(home=tmp_path)) == SHIPPED_DIR
    assert (SHIPPED_DIR / "reader.safetensors").is_file()
    assert reader_weights(Settings(home=tmp_path, reader_weights=tmp_path / "w")) == tmp_path / "w"


def test_a_calibration_in_the_model_cache_overrides_the_shipped_one(tmp_path: Path) -> None:
    cache = tmp_path / "models"
    shipped = reader_calibration(SHIPPED_DIR, cache)
    target = calibration_file(SHIPPED_DIR, cache)
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"calibration": {"null_threshold": 1.25, "confidence_scale": 3.0}}))
    assert reader_calibration(SHIPPED_DIR, cache) == (1.25, 3.0) != shipped


def test_reading_with_other_windows_than_the_training_ones_is_named() -> None:
    assert window_mismatch(SHIPPED_DIR, 256, 96) is None
    message = window_mismatch(SHIPPED_DIR, 384, 96)
    assert message is not None and "256" in message and "384" in message
