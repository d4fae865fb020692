"""The extractive reader at inference, as a chain: prepare windows → infer → decode spans → answer rules.

Each step is a function (``prepare_windows``, ``SpanModel.logits``, ``decode_spans``, ``rank_spans``) that can be
tested alone; ``Reader.read`` runs them in order over all pairs at once, as ``Reader.infer`` (the model) then
``Reader.spans`` (decoding and rules), so that rules can be compared on one inference.

Bounded work: a question over ``max_question_tokens`` is refused before reading (QuestionTooLongError), a long
question lowers the stride so that its windows still fit, and a passage is read in its first
``max_windows_per_passage`` windows only. Whatever else fails inside (a tokenizer panic is a ``BaseException``) is
a one-line ReaderError; only a shutdown (Ctrl-C, exit, cancellation) passes through as it is.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from viqa.errors import QuestionTooLongError, ReaderError, ViqaError
from viqa.models.reader_model import Windows, make_windows
from viqa.models.span_model import SpanModel
from viqa.qa.answer_rules import rerank_by_context, shape_answer
from viqa.qa.spans import Span, best_spans, snap
from viqa.settings import AnswerRule, Settings
from viqa.text.normalise import typed_without_tones, unify_tone_marks
from viqa.text.retone import restore_tone_marks

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

# what the reader lets through untouched: everything else that it raises becomes a ReaderError
SHUTDOWN: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError)


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
class Inferred:
    """What the model computed for a batch of pairs: their windows and each window's start and end logits."""

    windows: Windows
    starts: list[np.ndarray]
    ends: list[np.ndarray]


@dataclass(frozen=True)
class Decoded:
    """One pair's candidate answers after decoding: (start, end) -> best score over its windows, and the lowest
    no-answer score of those windows."""

    found: dict[tuple[int, int], float]
    null_score: float


def question_tokens(tokenizer, question: str, at_most: int) -> int:
    """How many tokens the reader reads of ``question`` (tone marks unified, special tokens aside), counted up to
    ``at_most``: a longer question counts ``at_most``, so counting a huge one stays cheap."""
    enc = tokenizer(unify_tone_marks(question), add_special_tokens=False, truncation=True, max_length=at_most)
    return len(enc["input_ids"])


def fitting_stride(max_length: int, stride: int, question_length: int, special_tokens: int) -> int:
    """The stride to read a question of ``question_length`` tokens with: ``stride``, or half of the tokens a window
    has left for the passage where that is less, so that each window moves on by at least as many tokens as it
    shares (the tokenizer panics on a stride of all that is left). ValueError if nothing is left."""
    room = max_length - question_length - special_tokens
    if room < 1:
        raise ValueError(f"a question of {question_length} tokens leaves no room in a window of {max_length}")
    return min(stride, room // 2)


def prepare_windows(
    tokenizer, pairs: list[tuple[str, str]], max_length: int, stride: int, max_windows: int | None = None
) -> Windows:
    """Token windows of every (question, context) pair, read with tone marks unified ("hoà" as "hòa", as
    retrieval matches them); unifying keeps the length, so window offsets point into the contexts as written.

    The stride is ``fitting_stride`` for the longest question, so no question that leaves room for a passage makes
    the tokenizer panic; each context keeps its first ``max_windows`` windows (None: all of them)."""
    questions = [unify_tone_marks(q) for q, _ in pairs]
    longest = max(question_tokens(tokenizer, q, max_length) for q in set(questions))
    stride = fitting_stride(max_length, stride, longest, tokenizer.num_special_tokens_to_add(pair=True))
    return make_windows(tokenizer, questions, [unify_tone_marks(c) for _, c in pairs], max_length, stride,
                        max_windows)


def decode_spans(
    pairs: list[tuple[str, str]], windows: Windows, starts: list[np.ndarray], ends: list[np.ndarray],
    max_answer_tokens: int, per_window: int, rules: Collection[AnswerRule],
) -> list[Decoded]:
    """Each window's ``per_window`` best spans, snapped to whole words and shaped by the answer ``rules``; the same
    answer from overlapping windows keeps its best score."""
    decoded = [Decoded({}, math.inf) for _ in pairs]
    nulls = [math.inf] * len(pairs)
    for w, pair in enumerate(windows.example_index):
        nulls[pair] = min(nulls[pair], float(starts[w][0] + ends[w][0]))
        question, context = pairs[pair]
        found = decoded[pair].found
        for span in best_spans(starts[w], ends[w], windows.offsets[w], max_answer_tokens, per_window):
            shaped = shape_answer(question, context, *snap(context, span.start, span.end), rules)
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
        if settings.max_question_tokens > settings.reader_max_length // 2:
            raise ValueError("max_question_tokens must be at most half of reader_max_length")
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

    def check_question(self, question: str) -> None:
        """QuestionTooLongError, naming the limit, if ``question`` is over ``max_question_tokens`` tokens."""
        limit = self.settings.max_question_tokens
        if question_tokens(self.model.tokenizer, question, limit + 1) > limit:
            raise QuestionTooLongError(
                f"the question is over {limit} tokens, the most the reader reads (VIQA_MAX_QUESTION_TOKENS): shorten it"
            )

    def read(self, pairs: list[tuple[str, str]]) -> list[ReadResult]:
        """One ReadResult per (question, context) pair, all pairs' windows in one batched pass.

        QuestionTooLongError for a question over budget; ReaderError (one line, the cause chained) for any other
        failure inside, a tokenizer panic included; a shutdown passes through."""
        if not pairs:
            return []
        try:
            return self._read(pairs)
        except (ViqaError, *SHUTDOWN):
            raise
        except BaseException as exc:  # noqa: BLE001 - a tokenizer panic is a BaseException; shutdowns are above
            log.debug("the reader failed", exc_info=exc)
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise ReaderError(f"the reader failed on this question ({type(exc).__name__}: {first})") from exc

    def _read(self, pairs: list[tuple[str, str]]) -> list[ReadResult]:
        for question in {q for q, _ in pairs}:
            self.check_question(question)
        pairs = self.as_read(pairs)
        return self.spans(pairs, self.infer(pairs))

    def as_read(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """``pairs`` as the reader reads them: a question typed without tone marks gets them back from its passage
        (``viqa.text.retone``, unless ``reader_restore_tones`` is off); the passages are unchanged."""
        if not self.settings.reader_restore_tones:
            return pairs
        return [(restore_tone_marks(q, c) if typed_without_tones(q) else q, c) for q, c in pairs]

    def infer(self, pairs: list[tuple[str, str]]) -> Inferred:
        """The windows of ``pairs`` and the model's start/end logits over them (no checks, no rules)."""
        s = self.settings
        windows = prepare_windows(self.model.tokenizer, pairs, s.reader_max_length, s.reader_stride,
                                  s.max_windows_per_passage)
        return Inferred(windows, *self.model.logits(windows.input_ids))

    def spans(self, pairs: list[tuple[str, str]], inferred: Inferred, rules: Collection[AnswerRule] | None = None,
              context_weight: float | None = None) -> list[ReadResult]:
        """One ReadResult per pair from ``inferred`` = ``infer(pairs)``, with the settings' answer rules and re-ranking
        weight unless ``rules`` / ``context_weight`` are given (to compare them on one inference)."""
        s = self.settings
        rules = frozenset(s.answer_rules if rules is None else rules)
        weight = s.reader_context_weight if context_weight is None else context_weight
        decoded = decode_spans(pairs, inferred.windows, inferred.starts, inferred.ends, s.max_answer_tokens,
                               2 * s.reader_top_spans, rules)
        return [rank_spans(q, c, d, s.reader_top_spans, s.reader_context_words, weight)
                for (q, c), d in zip(pairs, decoded, strict=True)]
