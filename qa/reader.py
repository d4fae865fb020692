"""The extractive reader at inference: windows → one batched forward pass → spans → per-context results."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from viqa.models.onnx_export import check_runtime, ensure_onnx, session
from viqa.models.reader_model import make_windows
from viqa.qa.spans import (
    Span,
    best_spans,
    drop_restated_subject,
    extend_to_counted_noun,
    has_no_quantity,
    is_date_for_a_quantity,
    rerank_by_context,
    snap,
    trim_to_quantity,
)

from viqa.text.normalise import unify_tone_marks

if TYPE_CHECKING:
    from viqa.settings import Settings

# int8 leaves the FFN output projections in fp32, where int8 costs the most accuracy. The pattern matches
# both the torch module names ("…layer.3.output.dense") and the ONNX node names ("…/layer.3/output/dense/MatMul").
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


@dataclass(frozen=True)
class ReadResult:
    """The reader's view of one (question, context): best spans (snapped, best first) and the no-answer score."""

    spans: tuple[Span, ...]
    null_score: float

    @property
    def margin(self) -> float:
        """The first span's score minus the no-answer score (-inf when nothing was found)."""
        return self.spans[0].score - self.null_score if self.spans else -math.inf


class Reader:
    """Extractive QA model; cheap constructor, ``load()`` reads the weights once.

    >>> reader = Reader(folder).load()
    >>> res = reader.read([("Kim ngạch tháng 11 là bao nhiêu?", "Kim ngạch tháng 11 đạt 440 triệu USD.")])[0]
    """

    def __init__(
        self,
        folder: Path,
        threads: int = 2,
        max_length: int = 256,
        stride: int = 96,
        max_answer_tokens: int = 30,
        context_words: int = 5,
        context_weight: float = 0.3,
        batch_size: int = 16,
        quantize: bool = False,
        runtime: str = "onnx",
    ) -> None:
        if stride >= max_length // 2:
            raise ValueError("stride must be less than half of max_length")
        self.folder = folder
        self.threads = threads
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.context_words = context_words
        self.context_weight = context_weight
        self.batch_size = batch_size
        self.quantize = quantize
        self.runtime = check_runtime(runtime)
        self._model = None
        self._session = None
        self._tokenizer = None

    @classmethod
    def from_settings(cls, settings: Settings, folder: Path, **overrides: Any) -> Reader:
        """A reader with the settings' reading options; ``overrides`` replace any of them (``quantize=False``)."""
        options = {"threads": settings.threads, "max_length": settings.reader_max_length,
                   "stride": settings.reader_stride, "max_answer_tokens": settings.max_answer_tokens,
                   "context_words": settings.reader_context_words, "context_weight": settings.reader_context_weight,
                   "quantize": settings.reader_quantize, "runtime": settings.reader_runtime}
        return cls(folder, **{**options, **overrides})

    def load(self) -> Reader:
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

    def _logits(self, input_ids: list[list[int]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Start/end logits per window, batched with windows of similar length together."""
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

    def read(self, pairs: list[tuple[str, str]], top_n: int = 3) -> list[ReadResult]:
        """One ReadResult per (question, context) pair, all pairs' windows in one batched pass; each pair's
        ``top_n`` best-scoring spans come re-ranked by the question words around them (``rerank_by_context``)."""
        self.load()
        if not pairs:
            return []
        questions, contexts = [q for q, _ in pairs], [c for _, c in pairs]
        # the model reads "hoà" and "hòa" alike, as retrieval does; same length, so offsets hold for the originals
        windows = make_windows(self._tokenizer, [unify_tone_marks(q) for q in questions],
                               [unify_tone_marks(c) for c in contexts], self.max_length, self.stride)
        starts, ends = self._logits(windows.input_ids)
        spans: list[dict[tuple[int, int], float]] = [{} for _ in pairs]
        nulls = [math.inf] * len(pairs)
        for w, pair in enumerate(windows.example_index):
            nulls[pair] = min(nulls[pair], float(starts[w][0] + ends[w][0]))
            for span in best_spans(starts[w], ends[w], windows.offsets[w], self.max_answer_tokens, top_n * 2):
                question, context = questions[pair], contexts[pair]
                start, end = snap(context, span.start, span.end)
                start = drop_restated_subject(question, context, start, end)
                end = trim_to_quantity(question, context, start, end)
                candidate = (question, context, start, end)
                if is_date_for_a_quantity(*candidate) or has_no_quantity(*candidate):
                    continue
                key = (start, extend_to_counted_noun(question, context, start, end))
                if key[1] > key[0] and span.score > spans[pair].get(key, -math.inf):
                    spans[pair][key] = span.score  # the same answer from overlapping windows: keep the best
        results = []
        for question, context, found, null in zip(questions, contexts, spans, nulls, strict=True):
            top = [Span(s, e, sc) for (s, e), sc in sorted(found.items(), key=lambda kv: -kv[1])[:top_n]]
            ranked = rerank_by_context(question, context, top, self.context_words, self.context_weight)
            results.append(ReadResult(ranked, null))
        return results
