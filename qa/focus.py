"""Reading less text: pick the sentences of the retrieved passages that best match the question.

Each kept sentence is read with a sentence of context either side, so the reader sees a few short
windows instead of whole chunks. Offsets stay relative to the chunk's clean text.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from viqa.text.segment import sentence_spans, syllables
from viqa.types import Hit


@dataclass(frozen=True)
class View:
    """The part ``clean[start:end]`` of a hit's chunk that the reader reads."""

    hit: Hit
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.hit.chunk.clean[self.start : self.end]


def _overlap(question: Counter, sentence: list[str], idf: dict[str, float]) -> float:
    return sum(idf.get(s, 0.0) for s in set(sentence) if s in question)


def focus(hits: list[Hit], question: str, max_sentences: int, context: int = 1) -> list[View]:
    """Views around the ``max_sentences`` sentences (over all hits) sharing the most rare question syllables.

    The view holding the best-matching sentence comes first.
    """
    q = Counter(syllables(question))
    per_hit = []
    for h in hits:
        spans = sentence_spans(h.chunk.clean)
        per_hit.append((h, spans, [syllables(h.chunk.clean[s:e]) for s, e in spans]))
    df = Counter(syl for _, _, sents in per_hit for sent in sents for syl in set(sent))
    n = sum(len(sents) for _, _, sents in per_hit) or 1
    idf = {syl: math.log(1 + n / df[syl]) for syl in q if df.get(syl)}
    scored = [
        (_overlap(q, sent, idf) + 1e-3 * h.score, hi, si)
        for hi, (h, _, sents) in enumerate(per_hit)
        for si, sent in enumerate(sents)
    ]
    keep: dict[int, set[int]] = {}
    rank: dict[tuple[int, int], int] = {}  # (hit, sentence) -> rank of the kept sentence
    for r, (_, hi, si) in enumerate(sorted(scored, reverse=True)[:max_sentences]):
        n_sent = len(per_hit[hi][1])
        keep.setdefault(hi, set()).update(range(max(0, si - context), min(n_sent, si + context + 1)))
        rank[hi, si] = r
    views: list[tuple[int, View]] = []
    for hi in sorted(keep):
        h, spans, _ = per_hit[hi]
        run: list[int] = []
        for si in sorted(keep[hi]) + [None]:
            if run and (si is None or si != run[-1] + 1):
                best = min(rank.get((hi, i), max_sentences) for i in run)
                views.append((best, View(h, spans[run[0]][0], spans[run[-1]][1])))
                run = []
            if si is not None:
                run.append(si)
    return [v for _, v in sorted(views, key=lambda rv: rv[0])]
