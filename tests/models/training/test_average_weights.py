from __future__ import annotations

import json
from pathlib import Path

import pytest

from viqa.models.reader_model import SHIPPED_CONFIG, SHIPPED_WEIGHTS
from viqa.models.training.average_weights import average


def _weights(folder: Path, value: float, shape: tuple[int, ...] = (2, 3)) -> Path:
    import torch
    from safetensors.torch import save_file

    folder.mkdir()
    save_file({"qa_outputs.weight": torch.full(shape, value, dtype=torch.float16)}, str(folder / SHIPPED_WEIGHTS))
    (folder / SHIPPED_CONFIG).write_text(json.dumps({"seed": value, "calibration": {"null_threshold": 1.0}}))
    return folder


def test_the_average_is_the_share_weighted_mean_and_names_both_parents(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    a, b = _weights(tmp_path / "a", 1.0), _weights(tmp_path / "b", 3.0)
    out = average(a, b, 0.25, tmp_path / "mix")
    assert load_file(str(out / SHIPPED_WEIGHTS))["qa_outputs.weight"].float().tolist() == [[1.5] * 3] * 2
    meta = json.loads((out / SHIPPED_CONFIG).read_text())
    assert meta["averaged"]["share_of_second"] == 0.25 and "calibration" not in meta
    assert [p["seed"] for p in meta["parents"]] == [1.0, 3.0]


def test_weights_of_other_shapes_are_not_averaged(tmp_path: Path) -> None:
    a, b = _weights(tmp_path / "a", 1.0), _weights(tmp_path / "b", 1.0, shape=(3, 3))
    with pytest.raises(ValueError, match="different tensors"):
        average(a, b, 0.5, tmp_path / "mix")
