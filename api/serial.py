"""One pipeline shared by request threads and indexing jobs, one model call at a time.

Fast tokenizers and torch on a small CPU do best (and are safe) when calls do not overlap, so queries run
under one lock and ingest jobs that run on a thread (``ingest_worker="thread"``) embed in batches under the same
lock. Questions go first: a waiting batch gets the lock only when no question waits, or after
``ingest_yield_questions`` questions went before it, so an ingest slows a question by one batch at most.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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


class ModelLock:
    """A re-entrant lock where questions (``with lock``) go before ingest batches (``with lock.yielding()``).

    A waiting batch runs once no question waits, or after ``yield_after`` questions went before it (so that an
    ingest still ends under a steady stream of questions).
    """

    def __init__(self, yield_after: int = 4) -> None:
        if yield_after < 1:
            raise ValueError("yield_after must be >= 1")
        self.yield_after = yield_after
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._questions_waiting = 0
        self._batches_waiting = 0
        self._passed = 0  # questions that went first while a batch waited

    def _batch_due(self) -> bool:
        return self._batches_waiting > 0 and self._passed >= self.yield_after

    def acquire(self, question: bool = True) -> bool:
        """Wait for the lock: as a question (first in line) or as an ingest batch (after waiting questions)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            if question:
                self._questions_waiting += 1
                try:
                    while self._owner is not None or self._batch_due():
                        self._cond.wait()
                finally:
                    self._questions_waiting -= 1
                if self._batches_waiting:
                    self._passed += 1
            else:
                self._batches_waiting += 1
                try:
                    while self._owner is not None or (self._questions_waiting and self._passed < self.yield_after):
                        self._cond.wait()
                finally:
                    self._batches_waiting -= 1
                self._passed = 0
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a ModelLock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    def __enter__(self) -> bool:
        return self.acquire(question=True)

    def __exit__(self, *exc: object) -> None:
        self.release()

    @contextmanager
    def yielding(self) -> Iterator[None]:
        """Hold the lock for one ingest batch, behind the questions that wait."""
        self.acquire(question=False)
        try:
            yield
        finally:
            self.release()


class SharedEmbedder:
    """An embedder whose calls take the model lock, passages ``batch_size`` at a time.

    Passage batches yield to questions (with a ModelLock); ``between_batches``, if given, is called before each
    batch and may raise to stop the ingest there (a job's cancel at shutdown).
    """

    def __init__(
        self, embedder: EmbedderLike, lock: ModelLock | threading.RLock, batch_size: int = 32,
        between_batches: Callable[[], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.embedder = embedder
        self.lock = lock
        self.batch_size = batch_size
        self.between_batches = between_batches

    @property
    def id(self) -> str:
        return self.embedder.id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def for_job(self, between_batches: Callable[[], None]) -> SharedEmbedder:
        """The same embedder and lock, calling ``between_batches`` before each passage batch."""
        return SharedEmbedder(self.embedder, self.lock, self.batch_size, between_batches)

    def _batch_slot(self) -> Any:
        return self.lock.yielding() if isinstance(self.lock, ModelLock) else self.lock

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for i in range(0, len(texts), self.batch_size):
            if self.between_batches is not None:
                self.between_batches()
            with self._batch_slot():
                parts.append(self.embedder.encode_passages(texts[i : i + self.batch_size]))
        return np.concatenate(parts)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            return self.embedder.encode_queries(texts)


class SerialPipeline:
    """The loaded pipeline as the routes see it: each call holds the model lock."""

    def __init__(
        self, pipeline: PipelineLike, lock: ModelLock | threading.RLock | None = None, batch_size: int = 32
    ) -> None:
        self.pipeline = pipeline
        self.lock = lock if lock is not None else ModelLock()
        self.embedder = SharedEmbedder(pipeline.embedder, self.lock, batch_size)

    def search(self, query: str, collection: str | None, k: int | None, where: Filter | None = None) -> Search:
        with self.lock:
            return self.pipeline.search(query, collection, k, where=where)

    def answer(self, question: str, collection: str | None, top_k: int | None, where: Filter | None = None) -> Answer:
        with self.lock:
            return self.pipeline.answer(question, collection, top_k, where=where)

    def documents(self, collection: str) -> Mapping[str, Document]:
        """The live documents of a collection, each read when asked; NotFoundError if it has no index."""
        with self.lock:
            return self.pipeline.retriever(collection).documents

    def listing(self, collection: str) -> list[tuple[Document, int]]:
        """(document without its text, its length in characters) of each live document of a collection, by id;
        NotFoundError if it has no index."""
        with self.lock:
            return self.pipeline.retriever(collection).listing()

    def passage_counts(self, collection: str) -> dict[str, int]:
        """How many passages each live document of a collection has, by id; NotFoundError if it has no index."""
        with self.lock:
            return self.pipeline.retriever(collection).passage_counts()
