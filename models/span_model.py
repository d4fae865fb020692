"""The reader's span model on a runtime: start/end logits of token windows, from ONNX Runtime or torch.

ONNX Runtime with int8 weights is the default (faster on CPU, F1 no lower than fp32's on XQuAD-vi dev).
Int8 leaves the FFN output projections in fp32, where int8 costs the most accuracy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from viqa.models.onnx_export import check_runtime, ensure_onnx, session

if TYPE_CHECKING:
    from viqa.settings import Settings

# matches the torch module names ("…layer.3.output.dense") and the ONNX node names ("…/layer.3/output/dense/MatMul")
INT8_KEEP_FP32 = (r"layer\.\d+[./]output[./]dense",)


def keeps_fp32(name: str) -> bool:
    """True for the layers that stay fp32 when the reader is quantized."""
    return any(re.search(pattern, name) for pattern in INT8_KEEP_FP32)


def _torch_model(folder: Path, threads: int, quantize: bool):
    """The transformers QA model (eval mode), dynamically quantized to int8 when asked."""
    import torch
    from transformers import AutoModelForQuestionAnswering
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.set_num_threads(threads)
    model = AutoModelForQuestionAnswering.from_pretrained(str(folder)).eval()
    if quantize:
        names = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and not keeps_fp32(n)}
        model = torch.ao.quantization.quantize_dynamic(model, names, dtype=torch.qint8)
    return model


class SpanModel:
    """A transformers QA model folder, run on ``runtime``; cheap constructor, ``load()`` reads the weights once.

    >>> model = SpanModel(folder, threads=2, quantize=True, runtime="onnx", batch_size=16).load()
    >>> starts, ends = model.logits([[0, 1234, 2, 2, 567, 2]])
    """

    def __init__(self, folder: Path, threads: int, quantize: bool, runtime: str, batch_size: int) -> None:
        if threads < 1 or batch_size < 1:
            raise ValueError("threads and batch_size must be >= 1")
        self.folder = folder
        self.threads = threads
        self.quantize = quantize
        self.runtime = check_runtime(runtime)
        self.batch_size = batch_size
        self._model = None
        self._session = None
        self._tokenizer = None

    @classmethod
    def from_settings(cls, settings: Settings, folder: Path) -> SpanModel:
        return cls(folder, settings.threads, settings.reader_quantize, settings.reader_runtime,
                   settings.reader_batch_size)

    @property
    def tokenizer(self):
        """The model's fast tokenizer (loaded by ``load()``)."""
        return self.load()._tokenizer

    def load(self) -> SpanModel:
        if self._model is None and self._session is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
            if self.runtime == "onnx":
                self._session = session(ensure_onnx(self.folder, "qa", self.quantize, INT8_KEEP_FP32), self.threads)
            else:
                self._model = _torch_model(self.folder, self.threads, self.quantize)
        return self

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits of one padded batch."""
        if self._session is not None:
            start, end = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            return start, end
        import torch

        with torch.inference_mode():
            out = self._model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
        return out.start_logits.numpy(), out.end_logits.numpy()

    def logits(self, input_ids: list[list[int]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Start/end logits per window (unpadded), batched with windows of similar length together."""
        self.load()
        order = sorted(range(len(input_ids)), key=lambda i: len(input_ids[i]))
        starts: list[np.ndarray] = [np.empty(0)] * len(input_ids)
        ends: list[np.ndarray] = [np.empty(0)] * len(input_ids)
        pad = self._tokenizer.pad_token_id
        for b in range(0, len(order), self.batch_size):
            batch = order[b : b + self.batch_size]
            width = max(len(input_ids[i]) for i in batch)
            ids = np.full((len(batch), width), pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, : len(input_ids[i])] = input_ids[i]
                mask[row, : len(input_ids[i])] = 1
            start, end = self._forward(ids, mask)
            for row, i in enumerate(batch):
                n = len(input_ids[i])
                starts[i] = start[row, :n]
                ends[i] = end[row, :n]
        return starts, ends
