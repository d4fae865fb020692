"""From retrieved passages and reader output to one answer with citations, or an abstention."""

from __future__ import annotations

import math
from dataclasses import dataclass

from viqa.qa.focus import View
from viqa.qa.reader import ReadResult
from viqa.text.normalise import normalise_vi
from viqa.text.segment import sentence_spans
from viqa.types import Chunk, Citation, Document, Hit


@dataclass(frozen=True)
class Candidate:
    """An answer span in one passage; ``margin`` is its reader score over that passage's no-answer score."""

    hit: Hit
    start: int  # offsets in hit.chunk.clean
    end: int
    margin: float
    score: float  # margin plus the span's bonus and the retrieval bonus: what candidates are ranked by

    @property
    def text(self) -> str:
        return self.hit.chunk.clean[self.start : self.end]


def confidence(margin: float, threshold: float, scale: float) -> float:
    """A probability-like confidence from the reader margin: 0.5 at the abstention threshold."""
    if margin == -math.inf:
        return 0.0
    return 1.0 / (1.0 + math.exp(-(margin - threshold) / scale))


def rank_candidates(views: list[View], results: list[ReadResult], retrieval_weight: float) -> list[Candidate]:
    """Every span of every view read, best first by reader margin + its re-ranking bonus + ``retrieval_weight`` *
    fused retrieval score."""
    candidates = []
    for view, result in zip(views, results, strict=True):
        for span in result.spans:
            margin = span.score - result.null_score
            start, end = view.start + span.start, view.start + span.end
            candidates.append(Candidate(view.hit, start, end, margin,
                                        margin + span.bonus + retrieval_weight * view.hit.score))
    return sorted(candidates, key=lambda c: -c.score)


def same_answer(candidates: list[Candidate], best: Candidate) -> list[Candidate]:
    """The best candidate first, then the other places that found the same answer text.

    Overlapping chunks find the same characters twice: each place of the source is cited once.
    """
    key = normalise_vi(best.text)
    seen, out = set(), []
    for c in [best, *candidates]:
        place = c.hit.chunk.original_span(c.start, c.end)
        if place not in seen and normalise_vi(c.text) == key:
            seen.add(place)
            out.append(c)
    return out


def statement_words(c: Candidate) -> set[str]:
    """The syllables of the sentence that holds ``c``'s answer, the answer left out: what the sentence says of it."""
    clean = c.hit.chunk.clean
    lo, hi = next(((s, e) for s, e in sentence_spans(clean) if s <= c.start < e), (0, len(clean)))
    return set(normalise_vi(clean[lo : c.start] + " " + clean[c.end : hi]).split())


def alternatives_to(candidates: list[Candidate], best: Candidate, threshold: float, gap: float, most: int,
                    overlap: float = 0.0) -> list[Candidate]:
    """Other documents' answers that would be answered on their own (margin >= ``threshold``), differ from
    ``best``'s and from each other, rank within ``gap`` of it, and stand in a sentence that repeats at least
    ``overlap`` of the words around the best answer (the same statement, another figure): best first, at most
    ``most``."""
    if gap <= 0 or most <= 0:
        return []
    seen, out = {normalise_vi(best.text)}, []
    around = statement_words(best)
    for c in candidates:
        key = normalise_vi(c.text)
        if (c.hit.chunk.doc_id == best.hit.chunk.doc_id or key in seen or c.margin < threshold
                or best.score - c.score > gap):
            continue
        if overlap > 0 and len(around & statement_words(c)) < overlap * max(len(around), 1):
            continue
        seen.add(key)
        out.append(c)
        if len(out) == most:
            break
    return out


def _contiguous_run(chunk: Chunk, text: str, lo: int, hi: int, start: int, end: int) -> tuple[int, int]:
    """Shrink clean range [lo, hi) around [start, end) so it never spans a paragraph break of the original
    (a page break with footnotes in between): the quote stays one highlightable run of the source."""

    def joined(i: int) -> bool:  # clean chars i-1 and i are not separated by a blank line in the original
        return "\n\n" not in text[chunk.clean_end[i - 1] : chunk.clean_start[i]]

    a, b = start, end
    while a > lo and joined(a):
        a -= 1
    while b < hi and joined(b):
        b += 1
    return a, b


def citation_for(chunk: Chunk, doc: Document, start: int, end: int) -> Citation:
    """Cite clean span [start, end) of ``chunk``: exact answer offsets, and the sentence around it as the quote."""
    char_start, char_end = chunk.original_span(start, end)
    lo, hi = next(((s, e) for s, e in sentence_spans(chunk.clean) if s <= start and end <= e), (0, len(chunk.clean)))
    lo, hi = _contiguous_run(chunk, doc.text, lo, hi, start, end)
    quote_start, quote_end = chunk.original_span(lo, hi)
    return Citation(
        doc_id=chunk.doc_id,
        title=doc.title,
        passage_id=chunk.chunk_id,
        char_start=char_start,
        char_end=char_end,
        quote=doc.text[quote_start:quote_end],
        quote_start=quote_start,
        quote_end=quote_end,
        page=doc.page_of(char_start),
    )
