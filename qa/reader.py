"""The extractive reader at inference, as a chain: prepare windows → infer → decode spans → answer rules.

Each step is a function (``prepare_windows``, ``SpanModel.logits``, ``decode_spans``, ``rank_spans``) that can be
tested alone; ``Reader.read`` runs them in order over all pairs at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from viqa.models.reader_model import Windows, make_windows
from viqa.models.span_model import SpanModel
from viqa.qa.answer_rules import rerank_by_context, shape_answer
from viqa.qa.spans import Span, best_spans, snap
from viqa.text.normalise import unify_tone_marks

if TYPE_CHECKING:
    from pathlib import Path

    from viqa.settings import Settings


@dataclass(frozen=True)
class ReadResult:
    """The reader's view of one (question, context): best spans (snapped, best first) and the no-answer score."""

    spans: tuple[Span, ...]
    null_score: float

    @property
    def margin(self) -> float:
        """The first span's score minus the no-answer score (-inf when nothing was found)."""
        return self.spans[0].score - self.null_score if self.spans else -math.inf


@dataclass(frozen=True)
class Decoded:
    """One pair's candidate answers after decoding: (start, end) -> best score over its windows, and the lowest
    no-answer score of those windows."""

    found: dict[tuple[int, int], float]
    null_score: float


def prepare_windows(tokenizer, pairs: list[tuple[str, str]], max_length: int, stride: int) -> Windows:
    """Token windows of every (question, context) pair, read with tone marks unified ("hoà" as "hòa", as
    retrieval matches them); unifying keeps the length, so window offsets point into the contexts as written."""
    return make_windows(tokenizer, [unify_tone_marks(q) for q, _ in pairs], [unify_tone_marks(c) for _, c in pairs],
                        max_length, stride)


def decode_spans(
    pairs: list[tuple[str, str]], windows: Windows, starts: list[np.ndarray], ends: list[np.ndarray],
    max_answer_tokens: int, per_window: int,
) -> list[Decoded]:
    """Each window's ``per_window`` best spans, snapped to whole words and shaped by the answer rules; the same
    answer from overlapping windows keeps its best score."""
    decoded = [Decoded({}, math.inf) for _ in pairs]
    nulls = [math.inf] * len(pairs)
    for w, pair in enumerate(windows.example_index):
        nulls[pair] = min(nulls[pair], float(starts[w][0] + ends[w][0]))
        question, context = pairs[pair]
        found = decoded[pair].found
        for span in best_spans(starts[w], ends[w], windows.offsets[w], max_answer_tokens, per_window):
            shaped = shape_answer(question, context, *snap(context, span.start, span.end))
            if shaped is not None and span.score > found.get(shaped, -math.inf):
                found[shaped] = span.score
    return [Decoded(d.found, null) for d, null in zip(decoded, nulls, strict=True)]


def rank_spans(question: str, context: str, decoded: Decoded, top_n: int, context_words: int,
               context_weight: float) -> ReadResult:
    """The ``top_n`` best-scoring spans, re-ranked by the question words around them."""
    top = [Span(s, e, sc) for (s, e), sc in sorted(decoded.found.items(), key=lambda kv: -kv[1])[:top_n]]
    return ReadResult(rerank_by_context(question, context, top, context_words, context_weight), decoded.null_score)


class Reader:
    """Extractive QA over (question, context) pairs; cheap constructor, ``load()`` reads the weights once.

    >>> reader = Reader.from_settings(get_settings(), folder).load()
    >>> res = reader.read([("Kim ngạch tháng 11 là bao nhiêu?", "Kim ngạch tháng 11 đạt 440 triệu USD.")])[0]
    """

    def __init__(self, model: SpanModel, settings: Settings) -> None:
        if settings.reader_stride >= settings.reader_max_length // 2:
            raise ValueError("reader_stride must be less than half of reader_max_length")
        self.model = model
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings, folder: Path, **overrides: Any) -> Reader:
        """The reader of the weights in ``folder``; ``overrides`` replace settings (``reader_quantize=False``)."""
        settings = settings.model_copy(update=overrides) if overrides else settings
        return cls(SpanModel.from_settings(settings, folder), settings)

    def load(self) -> Reader:
        self.model.load()
        return self

    def read(self, pairs: list[tuple[str, str]]) -> list[ReadResult]:
        """One ReadResult per (question, context) pair, all pairs' windows in one batched pass."""
        if not pairs:
            return []
        s = self.settings
        windows = prepare_windows(self.model.tokenizer, pairs, s.reader_max_length, s.reader_stride)
        starts, ends = self.model.logits(windows.input_ids)
        decoded = decode_spans(pairs, windows, starts, ends, s.max_answer_tokens, 2 * s.reader_top_spans)
        return [rank_spans(q, c, d, s.reader_top_spans, s.reader_context_words, s.reader_context_weight)
                for (q, c), d in zip(pairs, decoded, strict=True)]
