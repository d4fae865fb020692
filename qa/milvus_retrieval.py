"""Hybrid retrieval over a Milvus collection: Milvus's dense and BM25 searches, fused as the file store's are.

Held in memory: each live document's header (no text) and live batch, reloaded when the collection's version
changes. Hits of rows no header names as live (an interrupted change's) are dropped. Passages and texts are read
from Milvus for the hits only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from viqa.index.milvus import BM25_K1, MilvusCollection
from viqa.models.embedder import Embedder
from viqa.qa.fusion import best_first, fuse
from viqa.qa.retrieval import checked_search
from viqa.settings import Settings
from viqa.text.normalise import normalise_for_matching
from viqa.text.segment import lexical_tokens
from viqa.types import Chunk, Document, Filter, Hit


class _Documents(Mapping[str, Document]):
    """The live documents by id, text included, each read from Milvus when asked."""

    def __init__(self, collection: MilvusCollection, ids: list[str]) -> None:
        self._collection, self._ids, self._known = collection, ids, frozenset(ids)

    def __getitem__(self, doc_id: str) -> Document:
        doc = self._collection.document(doc_id) if doc_id in self else None
        if doc is None:
            raise KeyError(doc_id)
        return doc

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._known


@dataclass(frozen=True)
class _Loaded:
    state: tuple[int, int | None]  # the collection's version, and the batch of a change not yet live
    headers: dict[str, Document]
    batches: dict[str, int]
    title_keys: dict[str, str]

    def allowed(self, where: Filter | None) -> list[str] | None:
        """The documents a search may return (None: every one)."""
        if where is None:
            return None
        if where.title is not None:
            where = replace(where, title=normalise_for_matching(where.title))
        return [d for d, doc in self.headers.items() if where.admits(doc, self.title_keys[d])]

    def live(self, hits: list[dict]) -> list[dict]:
        return [h for h in hits if self.batches.get(h["entity"]["doc_id"]) == h["entity"]["batch"]]


class MilvusRetriever:
    """Top-k passages of a Milvus collection for a query; the same contract as ``qa.retrieval.Retriever``."""

    def __init__(self, collection: MilvusCollection, embedder: Embedder, settings: Settings) -> None:
        self.collection = collection
        self.embedder = embedder
        self.settings = settings
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def load(self) -> MilvusRetriever:
        """Read the live documents' headers (again, if the collection changed since); NotFoundError when it has
        no index, InputError when another embedder built it."""
        state = self.collection.state()
        if self._loaded is not None and self._loaded.state == state:
            return self
        with self._lock:
            if self._loaded is None or self._loaded.state != state:
                self.collection.check_compatible(self.embedder.id, self.embedder.dim)
                found = self.collection.headers()
                headers = {d: doc for d, (doc, _) in sorted(found.items())}
                self._loaded = _Loaded(state, headers, {d: b for d, (_, b) in found.items()},
                                       {d: normalise_for_matching(doc.title) for d, doc in headers.items()})
        return self

    @property
    def documents(self) -> Mapping[str, Document]:
        """The live documents by id, text included (each read from Milvus when asked)."""
        return _Documents(self.collection, list(self.load()._loaded.headers))

    def listing(self) -> list[tuple[Document, int]]:
        """(document without its text, its length in characters) of every live document, by id."""
        sizes = self.collection.sizes()
        return [(doc, sizes[d][0]) for d, doc in self.load()._loaded.headers.items() if d in sizes]

    def passage_counts(self) -> dict[str, int]:
        """How many passages each document has in the index, by id."""
        headers = self.load()._loaded.headers
        return {d: n for d, (_, n) in self.collection.sizes().items() if d in headers}

    @property
    def chunks(self) -> list[Chunk]:
        """Every live passage, in the order stored (heavy: for tests and tools)."""
        loaded = self.load()._loaded
        ids = self.collection.live_passage_ids(loaded.batches)
        found = self.collection.chunks(ids)
        return [found[i] for i in ids]

    def search(
        self, query: str, k: int | None = None, mode: str = "hybrid", where: Filter | None = None
    ) -> list[Hit]:
        """Fused top-``k`` hits (mode "hybrid", "dense" or "bm25"), best first, from the documents ``where``
        admits: both searches keep to those, before fusion."""
        query, k = checked_search(query, k, self.settings)
        loaded = self.load()._loaded
        allowed = loaded.allowed(where)
        if allowed == [] or not loaded.headers:
            return []
        n, hidden = max(self.settings.candidates, k), loaded.state[1]
        dense: dict[int, float] = {}
        lexical: dict[int, float] = {}
        if mode in ("hybrid", "dense"):
            vector = self.embedder.encode_queries([query])[0]
            found = loaded.live(self.collection.search_dense(vector, n, allowed, hidden))
            dense = {h["id"]: float(h["distance"]) for h in found}
        if mode in ("hybrid", "bm25"):
            found = loaded.live(self.collection.search_lexical(lexical_tokens(query), n, allowed, hidden))
            # as the file store scores: Milvus Lite reports BM25 negated, and Milvus multiplies by 1 + k1
            lexical = {h["id"]: abs(float(h["distance"])) / (1 + BM25_K1) for h in found}
        s = self.settings
        fused = fuse(dense, lexical, mode, s.fusion, s.alpha, s.rrf_k)
        best = best_first(fused, k)
        chunks = self.collection.chunks(best)
        return [Hit(chunks[r], float(fused[r]), dense.get(r), lexical.get(r)) for r in best if r in chunks]
