"""Hybrid retrieval over a collection's segments: e5 + FAISS and BM25 in each, merged, fused; reloads when a new
generation goes live.

Each live segment is searched on its own: dense with its FAISS index (tombstoned and filtered-out rows kept out
by an ``IDSelector``), lexical over its memory-mapped bm25s postings scored with the whole collection's statistics
(``index.lexical``, so a passage scores the same in whichever segment it is). The best ``candidates`` of each side
over all segments are then fused as before (``qa.fusion``). A collection in one segment ranks exactly as the same
collection in several.

Held in memory: the FAISS indexes, each live document's header (no text) and rows, the BM25 vocabularies and the
rows' lengths. Chunks and documents' texts are read from SQLite for the hits only (``Retriever.documents`` reads a
document when asked). A segment stays open across generations that list it: a reload opens only new segments.
"""

from __future__ import annotations

import bisect
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from viqa.errors import InputError
from viqa.index.lexical import CollectionStats, LexicalIndex, bm25_scores
from viqa.index.segments import LazyDocuments, SegmentReader, lengths_of
from viqa.index.store import Collection, SegmentRef, dense_similarity
from viqa.models.embedder import Embedder
from viqa.qa.fusion import best_first, fuse
from viqa.settings import Settings
from viqa.text.normalise import normalise_for_matching
from viqa.text.segment import lexical_tokens
from viqa.types import Chunk, Document, Filter, Hit


def _selector(index, mask: np.ndarray, settings: Settings):
    """FAISS search parameters that keep to the rows ``mask`` admits (and keep the search breadth of an HNSW or IVF
    index); the bitmap must outlive the search, so it is returned with them."""
    import faiss

    bits = np.packbits(mask, bitorder="little")
    selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
    if hasattr(index, "hnsw"):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=settings.hnsw_ef_search), (bits, selector)
    if hasattr(index, "nprobe"):
        return faiss.SearchParametersIVF(sel=selector, nprobe=settings.ivf_nprobe), (bits, selector)
    return faiss.SearchParameters(sel=selector), (bits, selector)


def validate_query(query: str, max_chars: int) -> str:
    """The stripped query; InputError if it is empty, punctuation only or too long."""
    query = unicodedata.normalize("NFC", query or "").strip()
    if not any(ch.isalnum() for ch in query):
        raise InputError("the question is empty" if not query else "the question has no words in it")
    if len(query) > max_chars:
        raise InputError(f"the question is {len(query)} characters long; the limit is {max_chars}")
    return query


def checked_search(query: str, k: int | None, settings: Settings) -> tuple[str, int]:
    """The query stripped (``validate_query``) and ``k`` (None: ``settings.top_k``); InputError if k < 1."""
    query = validate_query(query, settings.max_query_chars)
    k = settings.top_k if k is None else k
    if k < 1:
        raise InputError("k must be at least 1")
    return query, k


@dataclass(frozen=True, eq=False)
class _Opened:
    """A segment opened once, whatever its tombstones: shared by every generation that lists it."""

    reader: SegmentReader
    faiss_index: object
    lexical: LexicalIndex | None
    lengths: np.ndarray
    headers: dict[str, Document]  # every document of the segment, without its text
    rows_of: dict[str, np.ndarray]
    title_keys: dict[str, str]

    @classmethod
    def open(cls, seg: SegmentRef, settings: Settings) -> _Opened:
        reader = SegmentReader(seg.path)
        headers = reader.headers()
        lexical = reader.lexical()
        lengths = lexical.lengths if lexical is not None else lengths_of(seg.path)
        dense = reader.dense(settings.hnsw_ef_search, settings.ivf_nprobe)
        return cls(reader, dense, lexical, lengths, headers, reader.rows_by_document(),
                   {d.doc_id: normalise_for_matching(d.title) for d in headers.values()})


@dataclass(frozen=True, eq=False)
class _Part:
    """A segment as the loaded generation lists it: opened, its live rows, where its rows start among all."""

    opened: _Opened
    offset: int
    rows: int
    live: np.ndarray | None  # True for each row not deleted; None when none is
    live_ids: tuple[str, ...]  # its documents not deleted


@dataclass(frozen=True, eq=False)
class _Loaded:
    generation: str
    parts: tuple[_Part, ...]
    documents: LazyDocuments
    stats: CollectionStats

    def part_of(self, row: int) -> tuple[int, int]:
        """Which part holds global ``row``, and the row within it."""
        i = bisect.bisect_right([p.offset for p in self.parts], row) - 1
        return i, row - self.parts[i].offset

    def allowed(self, where: Filter | None) -> list[np.ndarray | None]:
        """Each part's rows that may be returned: live, and of a document ``where`` admits (None: every row)."""
        if where is None:
            return [p.live for p in self.parts]
        if where.title is not None:
            where = replace(where, title=normalise_for_matching(where.title))
        out = []
        for part in self.parts:
            mask = np.zeros(part.rows, dtype=bool)
            for doc_id in part.live_ids:
                if where.admits(part.opened.headers[doc_id], part.opened.title_keys[doc_id]):
                    mask[part.opened.rows_of.get(doc_id, [])] = True
            out.append(mask)
        return out


def _best(found: dict[int, float], n: int) -> dict[int, float]:
    """The ``n`` best of ``found``, best first (ties: the lower row)."""
    return dict(sorted(found.items(), key=lambda item: (-item[1], item[0]))[:n])


class Retriever:
    """Top-k passages of a collection for a query.

    >>> r = Retriever(Collection(settings.collections_dir, "default"), embedder, settings)
    >>> [h.chunk.heading_path for h in r.search("kim ngạch xuất khẩu tháng 11", k=3)]
    """

    def __init__(self, collection: Collection, embedder: Embedder, settings: Settings) -> None:
        self.collection = collection
        self.embedder = embedder
        self.settings = settings
        self._loaded: _Loaded | None = None
        self._opened: dict[str, _Opened] = {}  # by segment id
        self._lock = threading.Lock()

    def load(self) -> Retriever:
        """Load the live generation (again, if a newer one went live since the last call)."""
        folder = self.collection.current_generation()
        if self._loaded is not None and self._loaded.generation == folder.name:
            return self
        with self._lock:
            if self._loaded is None or self._loaded.generation != folder.name:
                with self.collection.reading() as live:  # no writer removes its segments while they are opened
                    self.collection.check_compatible(self.embedder.id, self.embedder.dim, live)
                    self._loaded = self._read(live)
        return self

    def _read(self, folder) -> _Loaded:
        generation = self.collection.generation(folder)
        opened: dict[str, _Opened] = {}
        parts, owners, offset = [], {}, 0
        for seg in generation.segments:
            key = SegmentReader.id_of(seg.path)
            opened[key] = self._opened.get(key) or _Opened.open(seg, self.settings)
            segment = opened[key]
            live_ids = tuple(d for d in segment.headers if d not in seg.deleted_documents)
            owners.update((d, segment.reader) for d in live_ids)
            parts.append(_Part(segment, offset, seg.rows, seg.live_mask(), live_ids))
            offset += seg.rows
        self._opened = opened  # segments no longer listed close when the last search using them ends
        stats = CollectionStats.of([(p.opened.lengths, p.live) for p in parts])
        return _Loaded(generation.name, tuple(parts), LazyDocuments(owners), stats)

    @property
    def documents(self) -> Mapping[str, Document]:
        """The live documents by id, text included (each read from disk when asked)."""
        return self.load()._loaded.documents

    def listing(self) -> list[tuple[Document, int]]:
        """(document without its text, its length in characters) of every live document, by id."""
        return self.load()._loaded.documents.listing()

    @property
    def chunks(self) -> list[Chunk]:
        """Every live chunk, in order, read from disk (heavy: for tests and tools)."""
        out = []
        for part in self.load()._loaded.parts:
            rows = np.flatnonzero(part.live) if part.live is not None else np.arange(part.rows)
            found = part.opened.reader.chunks(rows.tolist())
            out += [found[r] for r in rows.tolist()]
        return out

    def passage_counts(self) -> dict[str, int]:
        """How many passages each document has in the index, by id."""
        return {d: len(p.opened.rows_of.get(d, ())) for p in self.load()._loaded.parts for d in p.live_ids}

    def _dense(self, loaded: _Loaded, query: str, n: int, allowed: list[np.ndarray | None]) -> dict[int, float]:
        vector = self.embedder.encode_queries([query])
        found: dict[int, float] = {}
        for part, mask in zip(loaded.parts, allowed, strict=True):
            count = part.rows if mask is None else int(mask.sum())
            if not count:
                continue
            index = part.opened.faiss_index
            if mask is None:
                scores, rows = index.search(vector, min(n, count))
            else:
                params, _keep = _selector(index, mask, self.settings)
                scores, rows = index.search(vector, min(n, count), params=params)
            scores = dense_similarity(index, scores)
            found.update((part.offset + int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0)
        return _best(found, n)

    def _lexical(self, loaded: _Loaded, query: str, n: int, allowed: list[np.ndarray | None]) -> dict[int, float]:
        pairs = [(p, m) for p, m in zip(loaded.parts, allowed, strict=True) if p.opened.lexical is not None]
        if not pairs:
            return {}
        terms = lexical_tokens(query)
        scored = bm25_scores([(p.opened.lexical, p.live) for p, _ in pairs], terms, loaded.stats)
        found: dict[int, float] = {}
        for (part, mask), scores in zip(pairs, scored, strict=True):
            if mask is not None:
                scores = np.where(mask, scores, 0.0)
            rows = np.flatnonzero(scores > 0)
            if len(rows) > n:
                rows = rows[np.argpartition(-scores[rows], n - 1)[:n]]
            found.update((part.offset + int(r), float(scores[r])) for r in rows)
        return _best(found, n)

    def search(
        self, query: str, k: int | None = None, mode: str = "hybrid", where: Filter | None = None
    ) -> list[Hit]:
        """Fused top-``k`` hits (mode "hybrid", "dense" or "bm25"), best first, from the documents ``where``
        admits: both retrievers search only those, before fusion."""
        query, k = checked_search(query, k, self.settings)
        loaded = self.load()._loaded
        allowed = loaded.allowed(where)
        total = sum(p.rows if m is None else int(m.sum()) for p, m in zip(loaded.parts, allowed, strict=True))
        n = min(max(self.settings.candidates, k), total)
        if n == 0:
            return []
        dense = self._dense(loaded, query, n, allowed) if mode in ("hybrid", "dense") else {}
        lexical = self._lexical(loaded, query, n, allowed) if mode in ("hybrid", "bm25") else {}
        s = self.settings
        fused = fuse(dense, lexical, mode, s.fusion, s.alpha, s.rrf_k)
        best = best_first(fused, k)
        chunks = self._chunks(loaded, best)
        return [Hit(chunks[r], float(fused[r]), dense.get(r), lexical.get(r)) for r in best]

    @staticmethod
    def _chunks(loaded: _Loaded, rows: list[int]) -> dict[int, Chunk]:
        """The chunks of global ``rows``, read from their segments."""
        by_part: dict[int, list[int]] = {}
        for row in rows:
            i, local = loaded.part_of(row)
            by_part.setdefault(i, []).append(local)
        out: dict[int, Chunk] = {}
        for i, local_rows in by_part.items():
            part = loaded.parts[i]
            out.update((part.offset + r, c) for r, c in part.opened.reader.chunks(local_rows).items())
        return out
