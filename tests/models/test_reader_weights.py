"""The shipped reader weights rebuild into a working reader without any network access."""

from __future__ import annotations

import socket

import pytest
from viqa.models.reader_model import SHIPPED_WEIGHTS, ensure_reader_folder, shipped_calibration
from viqa.qa.reader import Reader

pytestmark = pytest.mark.slow


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_shipped_weights_are_small_and_calibrated(settings) -> None:
    size_mb = (settings.reader_weights / SHIPPED_WEIGHTS).stat().st_size / 2**20
    assert size_mb <= 60
    threshold, scale = shipped_calibration(settings.reader_weights)
    assert scale > 0 and threshold != 0.0


def test_shipped_reader_loads_offline_and_reads_a_figure(settings, no_network) -> None:
    folder = ensure_reader_folder(settings.reader_weights, settings.model_cache)
    reader = Reader(folder).load()
    context = "Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt 440 triệu USD, trong đó xuất khẩu 280 triệu USD."
    (result,) = reader.read([("Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt bao nhiêu?", context)])
    best = result.spans[0]
    assert context[best.start : best.end] == "440 triệu USD"
    assert result.margin > shipped_calibration(settings.reader_weights)[0]


def test_old_and_new_tone_placement_read_alike(settings) -> None:
    reader = Reader(ensure_reader_folder(settings.reader_weights, settings.model_cache)).load()
    question = "Lũy kế 11 tháng, thu từ hóa đơn điện tử đạt bao nhiêu?"
    new = "Lũy kế 11 tháng, thu ngân sách đạt 6.932,3 tỷ đồng; thu từ hóa đơn điện tử đạt 120 tỷ đồng."
    old = new.replace("Lũy", "Luỹ").replace("hóa", "hoá")  # the report's own spelling
    (as_new, as_old) = reader.read([(question, new), (question, old)])
    assert [(s.start, s.end) for s in as_old.spans] == [(s.start, s.end) for s in as_new.spans]
    assert as_old.margin == pytest.approx(as_new.margin, abs=1e-4)
    assert old[as_old.spans[0].start : as_old.spans[0].end] == "120 tỷ đồng"  # offsets into the text as written


def test_weights_that_do_not_fit_the_model_are_refused(settings, tmp_path) -> None:
    import torch
    from safetensors.torch import save_file

    (tmp_path / "w").mkdir()
    save_file({"qa_outputs.weight": torch.zeros(3, 384, dtype=torch.float16)}, str(tmp_path / "w" / SHIPPED_WEIGHTS))
    with pytest.raises((ValueError, RuntimeError)):
        ensure_reader_folder(tmp_path / "w", settings.model_cache)
