"""``viqa ingest --ray``: chunk and embed new documents with Ray Data, over every CPU of a Ray cluster.

Each worker (a Ray actor, one CPU) loads the passage encoder once and prepares batches of documents exactly as
``index.ingest.prepare_documents`` does here; the driver gathers the passages in document order and writes them to
the store (Milvus, or the file store), so what is stored is what a local ingest stores. Ray is imported here only.

>>> ingest_paths(collection, [Path("archive/")], embedder, settings, prepare=ray_prepare(settings))
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable

import numpy as np
import ray

from viqa.index.ingest import Prepare, prepare_documents
from viqa.index.segments import IndexState
from viqa.models.embedder import Embedder
from viqa.settings import Settings
from viqa.types import Document

DOCUMENTS_PER_BATCH = 8


def init_ray() -> int:
    """Join the Ray cluster at ``RAY_ADDRESS`` (else start one on this machine) unless already joined; returns
    its CPUs."""
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, include_dashboard=False, log_to_driver=False)
    return int(ray.cluster_resources().get("CPU", 1))


class _Worker:
    """A Ray Data actor: the passage encoder, loaded once; prepares a batch of pickled documents."""

    def __init__(self, settings: Settings, embedder: Callable[[Settings], Embedder]) -> None:
        self.settings = settings.model_copy(update={"threads": settings.ingest_threads})
        self.embedder = embedder(self.settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        docs = [pickle.loads(b) for b in batch["doc"]]
        state = prepare_documents(docs, self.embedder, self.settings)
        order = {d.doc_id: int(i) for d, i in zip(docs, batch["order"], strict=True)}
        return {"order": np.asarray([order[c.doc_id] for c in state.chunks], dtype=np.int64),
                "chunk": np.asarray([pickle.dumps((c, t)) for c, t in zip(state.chunks, state.tokens, strict=True)],
                                    dtype=object),
                "vector": state.vectors}


def ray_prepare(settings: Settings, workers: int | None = None,
                embedder: Callable[[Settings], Embedder] = Embedder.from_settings) -> Prepare:
    """A ``prepare`` for ``ingest_documents`` that runs on ``workers`` Ray actors (None: one per CPU of the
    cluster), each with the encoder ``embedder(settings)`` builds; the result equals ``prepare_documents``'s,
    passage for passage."""

    def prepare(todo: list[Document], local: Embedder, _settings: Settings, progress: bool) -> IndexState:
        cpus = init_ray()
        count = workers or cpus
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = progress
        items = [{"order": i, "doc": pickle.dumps(d)} for i, d in enumerate(todo)]
        ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), count * 4)))
        rows = ds.map_batches(_Worker, fn_constructor_args=(settings, embedder), batch_size=DOCUMENTS_PER_BATCH,
                              concurrency=count, num_cpus=1, batch_format="numpy").take_all()
        rows.sort(key=lambda r: int(r["order"]))  # stable: each document's passages stay in order
        pairs = [pickle.loads(r["chunk"]) for r in rows]
        vectors = (np.stack([np.asarray(r["vector"], dtype=np.float32) for r in rows]) if rows
                   else np.zeros((0, local.dim), dtype=np.float32))
        return IndexState({d.doc_id: d for d in todo}, [c for c, _ in pairs], vectors, [t for _, t in pairs])

    return prepare
