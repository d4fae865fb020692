"""Hybrid retrieval over a collection: e5 + FAISS and BM25, fused; reloads when a new generation goes live."""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass

from viqa.errors import InputError
from viqa.index.store import Collection, dense_similarity, read_meta
from viqa.models.embedder import Embedder
from viqa.qa.fusion import fuse_minmax, fuse_rrf
from viqa.settings import Settings
from viqa.text.segment import lexical_tokens
from viqa.types import Chunk, Document, Hit


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
                self.collection.check_compatible(self.embedder.id, self.embedder.dim, folder)
                self._loaded = self._read(folder, self.settings.hnsw_ef_search)
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
        return _Loaded(folder.name, documents, chunks, index, bm25, vocab)

    @property
    def documents(self) -> dict[str, Document]:
        return self.load()._loaded.documents

    @property
    def chunks(self) -> list[Chunk]:
        return self.load()._loaded.chunks

    def _dense(self, loaded: _Loaded, query: str, n: int) -> dict[int, float]:
        vector = self.embedder.encode_queries([query])
        scores, rows = loaded.faiss_index.search(vector, n)
        scores = dense_similarity(loaded.faiss_index, scores)
        return {int(r): float(s) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0}

    def _lexical(self, loaded: _Loaded, query: str, n: int) -> dict[int, float]:
        terms = [t for t in lexical_tokens(query) if t in loaded.vocab]
        if loaded.bm25 is None or not terms:
            return {}
        rows, scores = loaded.bm25.retrieve([terms], k=n, show_progress=False, n_threads=1)
        return {int(r): float(s) for r, s in zip(rows[0], scores[0], strict=True) if s > 0}

    def search(self, query: str, k: int | None = None, mode: str = "hybrid") -> list[Hit]:
        """Fused top-``k`` hits (mode "hybrid", "dense" or "bm25"), best first."""
        query = validate_query(query, self.settings.max_query_chars)
        k = self.settings.top_k if k is None else k
        if k < 1:
            raise InputError("k must be at least 1")
        loaded = self.load()._loaded
        n = min(max(self.settings.candidates, k), len(loaded.chunks))
        if n == 0:
            return []
        dense = self._dense(loaded, query, n) if mode in ("hybrid", "dense") else {}
        lexical = self._lexical(loaded, query, n) if mode in ("hybrid", "bm25") else {}
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
