"""The models' runtimes: ONNX Runtime gives the same vectors and spans as torch, and its exported files are reused."""

from __future__ import annotations

import numpy as np
import pytest

from viqa.models.embedder import Embedder
from viqa.models.onnx_export import ensure_onnx
from viqa.models.reader_model import ensure_reader_folder, reader_weights
from viqa.models.span_model import INT8_KEEP_FP32, SpanModel
from viqa.qa.reader import Reader

pytestmark = pytest.mark.slow

QUESTION = "Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt bao nhiêu?"
CONTEXT = "Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt 440 triệu USD, trong đó xuất khẩu 280 triệu USD."


def test_onnx_and_torch_embedders_give_the_same_vectors(settings) -> None:
    texts = ["Kim ngạch xuất khẩu tháng 11 đạt 280 triệu USD.", "Dân số", "Lạng Sơn " * 200]
    onnx = Embedder(settings.model_cache, runtime="onnx", batch_size=2, passage_precision="fp32")
    torch = Embedder(settings.model_cache, runtime="torch")
    assert np.allclose(onnx.encode_passages(texts), torch.encode_passages(texts), atol=1e-4)
    assert np.allclose(onnx.encode_queries(["Dân số?"]), torch.encode_queries(["Dân số?"]), atol=1e-4)


@pytest.mark.parametrize("quantize", [False, True])
def test_onnx_reader_finds_the_same_answer_as_torch(settings, quantize: bool) -> None:
    folder = ensure_reader_folder(reader_weights(settings), settings.model_cache)
    results = [Reader.from_settings(settings, folder, reader_runtime=rt, reader_quantize=quantize).load()
               .read([(QUESTION, CONTEXT)])[0] for rt in ("onnx", "torch")]
    assert [CONTEXT[r.spans[0].start : r.spans[0].end] for r in results] == ["440 triệu USD"] * 2
    if not quantize:  # int8 differs between the two runtimes; fp32 must not
        assert abs(results[0].margin - results[1].margin) < 1e-3


def test_the_onnx_export_is_written_once_and_reused(settings) -> None:
    folder = ensure_reader_folder(reader_weights(settings), settings.model_cache)
    first = ensure_onnx(folder, "qa", quantize=True, keep_fp32=INT8_KEEP_FP32)
    mtime = first.stat().st_mtime_ns
    again = ensure_onnx(folder, "qa", quantize=True, keep_fp32=INT8_KEEP_FP32)
    assert again == first and again.stat().st_mtime_ns == mtime
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no temporary files left behind


def test_an_unknown_runtime_is_refused(settings) -> None:
    with pytest.raises(ValueError, match="runtime"):
        Embedder(settings.model_cache, runtime="tensorrt")
    with pytest.raises(ValueError, match="runtime"):
        SpanModel(settings.model_cache, threads=2, quantize=False, runtime="tensorrt", batch_size=16)
