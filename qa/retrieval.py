"""Hybrid retrieval over a collection: e5 + FAISS and BM25, fused; reloads when a new generation goes live."""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass, replace

import numpy as np

from viqa.errors import InputError
from viqa.index.store import Collection, dense_similarity, read_meta
from viqa.models.embedder import Embedder
from viqa.qa.fusion import fuse_minmax, fuse_rrf
from viqa.settings import Settings
from viqa.text.normalise import normalise_for_matching
from viqa.text.segment import lexical_tokens
from viqa.types import Chunk, Document, Filter, Hit


def _only(index, rows: np.ndarray, ef_search: int):
    """FAISS search parameters that keep to ``rows`` (and keep ``ef_search`` for an HNSW index)."""
    import faiss

    selector = faiss.IDSelectorBatch(len(rows), faiss.swig_ptr(rows))
    if hasattr(index, "hnsw"):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=ef_search)
    return faiss.SearchParameters(sel=selector)


def validate_query(query: str, max_chars: int) -> str:
    """The stripped query; InputError if it is empty, punctuation only or too long."""
    query = unicodedata.normalize("NFC", query or "").strip()
    if not any(ch.isalnum() for ch in query):
        raise InputError("the question is empty" if not query else "the question has no words in it")
    if len(query) > max_chars:
        raise InputError(f"the question is {len(query)} characters long; the limit is {max_chars}")
    return query


@dataclass(frozen=True)
class _Loaded:
    generation: str
    documents: dict[str, Document]
    chunks: list[Chunk]
    faiss_index: object
    bm25: object | None
    vocab: set[str]
    rows_of: dict[str, np.ndarray]  # a document's chunk rows
    title_keys: dict[str, str]  # a document's title, normalised for matching

    def allowed_rows(self, where: Filter | None) -> np.ndarray | None:
        """The chunk rows of the documents ``where`` admits (None: no filter, every row)."""
        if where is None:
            return None
        if where.title is not None:
            where = replace(where, title=normalise_for_matching(where.title))
        docs = [d for d in self.documents.values() if where.admits(d, self.title_keys[d.doc_id])]
        rows = [self.rows_of[d.doc_id] for d in docs if d.doc_id in self.rows_of]
        return np.sort(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)


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
        self._lock = threading.Lock()

    def load(self) -> Retriever:
        """Load the live generation (again, if a newer one went live since the last call)."""
        folder = self.collection.current_generation()
        if self._loaded is not None and self._loaded.generation == folder.name:
            return self
        with self._lock:
            if self._loaded is None or self._loaded.generation != folder.name:
                with self.collection.reading() as live:  # no writer removes it while it is read into memory
                    self.collection.check_compatible(self.embedder.id, self.embedder.dim, live)
                    self._loaded = self._read(live, self.settings.hnsw_ef_search)
        return self

    @staticmethod
    def _read(folder, ef_search: int) -> _Loaded:
        import bm25s
        import faiss

        documents, chunks, _tokens = read_meta(folder / "meta.sqlite")
        index = faiss.read_index(str(folder / "dense.faiss"))
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = ef_search  # the setting now, not the one at build time
        bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False) if (folder / "bm25").is_dir() else None
        vocab = set(bm25.vocab_dict) if bm25 is not None else set()
        rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(chunks):
            rows.setdefault(chunk.doc_id, []).append(row)
        rows_of = {doc_id: np.asarray(r, dtype=np.int64) for doc_id, r in rows.items()}
        title_keys = {d.doc_id: normalise_for_matching(d.title) for d in documents.values()}
        return _Loaded(folder.name, documents, chunks, index, bm25, vocab, rows_of, title_keys)

    @property
    def documents(self) -> dict[str, Document]:
        return self.load()._loaded.documents

    @property
    def chunks(self) -> list[Chunk]:
        return self.load()._loaded.chunks

    def passage_counts(self) -> dict[str, int]:
        """How many passages each document has in the index, by id."""
        return {doc_id: len(rows) for doc_id, rows in self.load()._loaded.rows_of.items()}

    def _dense(self, loaded: _Loaded, query: str, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        vector = self.embedder.encode_queries([query])
        index = loaded.faiss_index
        if allowed is None:
            scores, rows = index.search(vector, n)
        else:
            scores, rows = index.search(vector, n, params=_only(index, allowed, self.settings.hnsw_ef_search))
        scores = dense_similarity(index, scores)
        return {int(r): float(s) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0}

    def _lexical(self, loaded: _Loaded, query: str, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        terms = [t for t in lexical_tokens(query) if t in loaded.vocab]
        if loaded.bm25 is None or not terms:
            return {}
        mask = None
        if allowed is not None:
            mask = np.zeros(len(loaded.chunks), dtype=np.float32)
            mask[allowed] = 1.0
        rows, scores = loaded.bm25.retrieve([terms], k=n, show_progress=False, n_threads=1, weight_mask=mask)
        return {int(r): float(s) for r, s in zip(rows[0], scores[0], strict=True) if s > 0}

    def search(
        self, query: str, k: int | None = None, mode: str = "hybrid", where: Filter | None = None
    ) -> list[Hit]:
        """Fused top-``k`` hits (mode "hybrid", "dense" or "bm25"), best first, from the documents ``where``
        admits: both retrievers search only those, before fusion."""
        query = validate_query(query, self.settings.max_query_chars)
        k = self.settings.top_k if k is None else k
        if k < 1:
            raise InputError("k must be at least 1")
        loaded = self.load()._loaded
        allowed = loaded.allowed_rows(where)
        n = min(max(self.settings.candidates, k), len(loaded.chunks) if allowed is None else len(allowed))
        if n == 0:
            return []
        dense = self._dense(loaded, query, n, allowed) if mode in ("hybrid", "dense") else {}
        lexical = self._lexical(loaded, query, n, allowed) if mode in ("hybrid", "bm25") else {}
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = lexical
        elif self.settings.fusion == "rrf":
            fused = fuse_rrf(dense, lexical, self.settings.rrf_k)
        else:
            fused = fuse_minmax(dense, lexical, self.settings.alpha)
        best = sorted(fused, key=lambda r: (-fused[r], r))[:k]
        return [Hit(loaded.chunks[r], float(fused[r]), dense.get(r), lexical.get(r)) for r in best]
