"""BM25 over segments, scored with the collection's statistics, so that a passage scores the same in whichever
segment it lives and a merge changes no score (as Lucene does: per-segment postings, index-wide statistics).

Each segment keeps a bm25s index (``bm25/``, memory-mapped when read) and its passages' lengths in terms
(``lengths.npy``). bm25s stores, per posting, ``idf_s(t) * tf / (tf + k1 * (1 - b + b * dl / avgdl_s))`` with the
segment's own ``idf_s`` and ``avgdl_s``; with the segment's lengths the term frequency ``tf`` is recovered from it
exactly (it is a whole number, rounded), and scored again with the live statistics of the whole collection:
``N`` live passages, ``df(t)`` live passages holding ``t``, their mean length. Tombstoned passages count in none.

>>> index = LexicalIndex.load(segment / "bm25", np.load(segment / "lengths.npy"))
>>> stats = CollectionStats.of([(index.lengths, live_mask)])             # over every segment of the collection
>>> scores = bm25_scores([(index, live_mask)], ["kim", "ngạch"], stats)   # one float64 array per segment
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viqa.index import npy

_IDF_OF = {None, "lucene"}  # how the bm25s indexes viqa writes score (the default BM25() of bm25s)


def build_bm25(tokens: Iterable[Sequence[str]]):
    """A bm25s index over pre-tokenised chunks, row ``i`` the ``i``-th (None when there is not a single term:
    bm25s cannot index that). Terms become ids as they are read, so a large merge holds 4 bytes a term."""
    import bm25s

    vocab: dict[str, int] = {}
    ids = [array("i", [vocab.setdefault(t, len(vocab)) for t in row]) for row in tokens]
    if not vocab:
        return None
    retriever = bm25s.BM25()
    retriever.index((ids, vocab), show_progress=False)
    return retriever


def _idf(df: np.ndarray, n: float) -> np.ndarray:
    """bm25s's (Lucene's) inverse document frequency, in float64."""
    return np.log1p((n - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class LexicalIndex:
    """One segment's bm25s index, memory-mapped: its postings by term, and the term frequencies in them."""

    vocab: dict[str, int]
    data: np.ndarray  # bm25s's stored scores, by posting
    indices: np.ndarray  # the row of each posting
    indptr: np.ndarray  # term t's postings are [indptr[t], indptr[t + 1])
    lengths: np.ndarray  # terms in each row
    avgdl: float
    k1: float
    b: float

    @classmethod
    def load(cls, folder: Path, lengths: np.ndarray) -> LexicalIndex:
        """Memory-map the bm25s index in ``folder`` (rows' term counts: ``lengths``). ValueError for an index
        scored otherwise than bm25s's default (Lucene) BM25, which is all viqa writes."""
        import bm25s

        bm25 = npy.serialised(lambda: bm25s.BM25.load(str(folder), mmap=True, show_progress=False))
        if bm25.method != "lucene" or bm25.idf_method not in _IDF_OF:
            raise ValueError(f"{folder}: a bm25s index scored by {bm25.method!r}, not Lucene's BM25")
        lengths = np.asarray(lengths, dtype=np.int64)
        avgdl = float(lengths.mean()) if len(lengths) else 1.0
        return cls(bm25.vocab_dict, bm25.scores["data"], bm25.scores["indices"], bm25.scores["indptr"], lengths,
                   avgdl, float(bm25.k1), float(bm25.b))

    def term_id(self, term: str) -> int | None:
        t = self.vocab.get(term)
        return t if t is not None and t < len(self.indptr) - 1 else None

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows holding ``term`` and how many times each holds it (empty arrays when none does)."""
        t = self.term_id(term)
        if t is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        start, end = int(self.indptr[t]), int(self.indptr[t + 1])
        rows = np.asarray(self.indices[start:end], dtype=np.int64)
        stored = np.asarray(self.data[start:end], dtype=np.float64)
        idf = _idf(float(end - start), float(len(self.lengths)))
        ratio = np.minimum(stored / idf, 1.0 - 1e-9)  # tf / (tf + K)
        norm = self.k1 * (1.0 - self.b + self.b * self.lengths[rows] / self.avgdl)
        return rows, np.maximum(np.rint(ratio * norm / (1.0 - ratio)), 1.0)


Part = tuple[LexicalIndex, "np.ndarray | None"]  # a segment's index and its live rows (None: every row is live)
Lengths = tuple[np.ndarray, "np.ndarray | None"]  # a segment's rows' lengths and its live rows


@dataclass(frozen=True)
class CollectionStats:
    """What BM25 counts over the whole collection: live passages and their mean length in terms."""

    passages: int
    avgdl: float

    @classmethod
    def of(cls, parts: Sequence[Lengths]) -> CollectionStats:
        """Over each segment's live rows (``parts``: the rows' lengths and live mask of every segment)."""
        count, terms = 0, 0
        for all_lengths, live in parts:
            lengths = all_lengths if live is None else all_lengths[live]
            count += len(lengths)
            terms += int(lengths.sum())
        return cls(count, terms / count if count else 1.0)


def bm25_scores(parts: Sequence[Part], terms: Sequence[str], stats: CollectionStats) -> list[np.ndarray]:
    """Each segment's BM25 score of every one of its rows for the query ``terms`` (a term given twice counts
    twice, as bm25s counts it), with the collection's statistics; tombstoned rows score 0."""
    postings = [[index.postings(t) for t in terms] for index, _ in parts]
    df = np.zeros(len(terms), dtype=np.float64)
    for (_, live), per_term in zip(parts, postings, strict=True):
        for j, (rows, _) in enumerate(per_term):
            df[j] += len(rows) if live is None else int(live[rows].sum())
    idf = _idf(df, float(stats.passages))
    out = []
    for (index, live), per_term in zip(parts, postings, strict=True):
        rows = [r for r, _ in per_term]
        weights = [idf[j] * tf / (tf + index.k1 * (1.0 - index.b + index.b * index.lengths[r] / stats.avgdl))
                   for j, (r, tf) in enumerate(per_term)]
        scores = np.zeros(len(index.lengths), dtype=np.float64)
        if rows:  # one bincount: each row's terms are added in query order, whichever segment it is in
            scores = np.bincount(np.concatenate(rows), weights=np.concatenate(weights), minlength=len(scores))
        if live is not None:
            scores[~live] = 0.0
        out.append(scores)
    return out

