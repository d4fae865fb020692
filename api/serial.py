"""One pipeline shared by request threads and indexing jobs, one model call at a time.

Fast tokenizers and torch on a small CPU do best (and are safe) when calls do not overlap, so queries run
under one lock and ingest jobs embed in batches under the same lock: queries slip in between batches.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import numpy as np

from viqa.types import Answer, Document, Filter, Search


class EmbedderLike(Protocol):
    """What ingest needs of an embedder (``models.embedder.Embedder`` or a test fake)."""

    @property
    def id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


class PipelineLike(Protocol):
    """What the API needs of ``qa.pipeline.Pipeline``; tests pass a fake with the same methods."""

    embedder: Any

    def load(self) -> Any: ...

    def search(
        self, query: str, collection: str | None = None, k: int | None = None, where: Filter | None = None
    ) -> Search: ...

    def answer(
        self, question: str, collection: str | None = None, top_k: int | None = None, where: Filter | None = None
    ) -> Answer: ...

    def retriever(self, collection: str | None = None) -> Any: ...


class SharedEmbedder:
    """An embedder whose calls take the model lock, passages ``batch_size`` at a time."""

    def __init__(self, embedder: EmbedderLike, lock: threading.RLock, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.embedder = embedder
        self.lock = lock
        self.batch_size = batch_size

    @property
    def id(self) -> str:
        return self.embedder.id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for i in range(0, len(texts), self.batch_size):
            with self.lock:
                parts.append(self.embedder.encode_passages(texts[i : i + self.batch_size]))
        return np.concatenate(parts)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            return self.embedder.encode_queries(texts)


class SerialPipeline:
    """The loaded pipeline as the routes see it: each call holds the model lock."""

    def __init__(self, pipeline: PipelineLike, lock: threading.RLock | None = None, batch_size: int = 32) -> None:
        self.pipeline = pipeline
        self.lock = lock if lock is not None else threading.RLock()
        self.embedder = SharedEmbedder(pipeline.embedder, self.lock, batch_size)

    def search(self, query: str, collection: str | None, k: int | None, where: Filter | None = None) -> Search:
        with self.lock:
            return self.pipeline.search(query, collection, k, where=where)

    def answer(self, question: str, collection: str | None, top_k: int | None, where: Filter | None = None) -> Answer:
        with self.lock:
            return self.pipeline.answer(question, collection, top_k, where=where)

    def documents(self, collection: str) -> dict[str, Document]:
        """The live documents of a collection; NotFoundError if it has no index."""
        with self.lock:
            return dict(self.pipeline.retriever(collection).documents)
