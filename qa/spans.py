"""Pure span logic for the reader: best start/end pairs from logits, and snapping spans to whole words and numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# words that belong with a number in front of them: "440 triệu USD", "47.063,06 ha", "70,6 %"
MAGNITUDES = {"nghìn", "ngàn", "triệu", "tỷ", "tỉ"}
UNITS = {"usd", "đồng", "ha", "%", "tấn", "km", "m", "m²", "m³", "kg", "người", "con", "lượt"}
_NUMBER_CHAR = re.compile(r"[\d.,]")


@dataclass(frozen=True)
class Span:
    """A candidate answer: characters [start, end) of the context, with start+end logit score; ``bonus`` is
    what re-ranking adds for question words around it (it ranks spans but is not part of the no-answer margin)."""

    start: int
    end: int
    score: float
    bonus: float = 0.0


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: list[tuple[int, int] | None],
    max_answer_tokens: int = 30,
    top_n: int = 5,
) -> list[Span]:
    """The ``top_n`` highest-scoring spans with start <= end, both inside the context, at most ``max_answer_tokens``."""
    inside = np.array([o is not None for o in offsets])
    if not inside.any():
        return []
    s = np.where(inside, start_logits, -np.inf)
    e = np.where(inside, end_logits, -np.inf)
    scores = s[:, None] + e[None, :]
    n = len(offsets)
    i, j = np.indices((n, n))
    scores = np.where((j >= i) & (j - i < max_answer_tokens), scores, -np.inf)
    flat = np.argsort(scores, axis=None)[::-1][:top_n]
    spans = []
    for idx in flat:
        a, b = divmod(int(idx), n)
        if not np.isfinite(scores[a, b]):
            break
        spans.append(Span(offsets[a][0], offsets[b][1], float(scores[a, b])))
    return spans


def snap(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow [start, end) to whole syllables and whole numbers, keep a following magnitude/unit, trim punctuation."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while start > 0 and (text[start - 1].isalnum() or (_NUMBER_CHAR.match(text[start - 1]) and start >= 2
                                                         and text[start - 2].isdigit() and text[start].isdigit())):
        start -= 1
    while end < len(text) and (text[end].isalnum() or (_NUMBER_CHAR.match(text[end]) and text[end - 1].isdigit()
                                                       and end + 1 < len(text) and text[end + 1].isdigit())):
        end += 1
    if end > start and text[end - 1].isdigit():
        end = _attach_units(text, end)
    while end > start and text[end - 1] in ",.;:(" and not text[start:end].endswith("..."):
        end -= 1
    while start < end and text[start] in ",.;:)":
        start += 1
    return start, end


def _attach_units(text: str, end: int) -> int:
    """After a number: take a '%' and up to one magnitude word followed by one unit word."""
    if end < len(text) and text[end] == "%":
        return end + 1
    pos = end
    for allowed in (MAGNITUDES, UNITS):
        m = re.match(r" ?(\S+)", text[pos:])
        if m and m.group(1).lower().rstrip(",.;:") in allowed:
            word = m.group(1)
            stripped = word.rstrip(",.;:")
            pos += m.start(1) + len(stripped)
    return pos
