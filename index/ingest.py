"""The ingest pipeline: load → chunk → embed → FAISS + BM25 → a new generation, incrementally.

Unchanged documents (same content hash) are skipped, changed ones replaced, and the embeddings of every
untouched chunk are reused, so re-ingesting one file only embeds that file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from viqa.errors import InputError, NotFoundError
from viqa.index.chunking import chunk_document
from viqa.index.loading import expand_paths, load_document
from viqa.index.store import Collection, IndexState, build_faiss
from viqa.models.embedder import Embedder
from viqa.settings import Settings
from viqa.text.segment import lexical_tokens
from viqa.types import Document, IngestReport

log = logging.getLogger(__name__)


def build_bm25(tokens: list[list[str]]):
    """A bm25s index over pre-tokenised chunks (None for an empty collection)."""
    import bm25s

    if not tokens:
        return None
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    return retriever


def chunking_of(settings: Settings) -> dict[str, int]:
    """The settings a document's passages depend on: part of the key by which an unchanged document is skipped."""
    return {"syllables": settings.chunk_syllables, "overlap_sentences": settings.chunk_overlap_sentences}


def _commit(collection: Collection, state: IndexState, embedder: Embedder, settings: Settings) -> None:
    faiss_index = build_faiss(state.vectors, settings)
    manifest = {
        "embedder": embedder.id,
        "dim": embedder.dim,
        "chunking": chunking_of(settings),
        "faiss": type(faiss_index).__name__,
        "lexical": "bm25s: syllables + underthesea words",
    }
    collection.commit(state, manifest, faiss_index, build_bm25(state.tokens))


def _without(state: IndexState, doc_ids: set[str]) -> IndexState:
    keep = [i for i, c in enumerate(state.chunks) if c.doc_id not in doc_ids]
    return IndexState(
        documents={k: d for k, d in state.documents.items() if k not in doc_ids},
        chunks=[state.chunks[i] for i in keep],
        vectors=state.vectors[keep],
        tokens=[state.tokens[i] for i in keep],
    )


def ingest_documents(
    collection: Collection, documents: list[Document], embedder: Embedder, settings: Settings, progress: bool = False
) -> IngestReport:
    """Add or replace ``documents`` in ``collection`` and commit one new generation (if anything changed).

    A document is skipped when its content and the chunking settings are those it was indexed with; when the
    chunking settings changed, every document of the collection is chunked and embedded again.
    """
    ids = [d.doc_id for d in documents]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"two files map to the same document id {dup!r}; rename one of them")
    report = IngestReport()
    with collection.writing():
        state = collection.read_state(embedder.id, embedder.dim)
        rechunk = collection.exists and collection.manifest().get("chunking") != chunking_of(settings)
        given = {d.doc_id for d in documents}
        todo = [d for d in state.documents.values() if d.doc_id not in given] if rechunk else []
        report.replaced += [d.doc_id for d in todo]
        for doc in documents:
            old = state.documents.get(doc.doc_id)
            if old is not None and (old.sha256, old.date, old.tags) == (doc.sha256, doc.date, doc.tags) and not rechunk:
                report.skipped.append(doc.doc_id)
            else:
                (report.replaced if old is not None else report.added).append(doc.doc_id)
                todo.append(doc)
        if not todo:
            report.chunks = len(state.chunks)
            return report
        state = _without(state, {d.doc_id for d in todo})
        from tqdm import tqdm

        new_chunks = [
            c
            for doc in tqdm(todo, desc="chunking", unit="doc", disable=not progress)
            for c in chunk_document(doc, settings.chunk_syllables, settings.chunk_overlap_sentences)
        ]
        log.info("embedding %d passages from %d documents", len(new_chunks), len(todo))
        vectors = embedder.encode_passages([c.clean for c in new_chunks], progress=progress)
        state = IndexState(
            documents={**state.documents, **{d.doc_id: d for d in todo}},
            chunks=state.chunks + new_chunks,
            vectors=np.concatenate([state.vectors, vectors]) if len(state.chunks) else vectors,
            tokens=state.tokens + [lexical_tokens(c.clean) for c in new_chunks],
        )
        _commit(collection, state, embedder, settings)
        report.chunks = len(state.chunks)
    return report


def ingest_paths(
    collection: Collection, paths: list[Path], embedder: Embedder, settings: Settings, progress: bool = False
) -> IngestReport:
    """Load every file first (so one bad file changes nothing), then ingest them together."""
    max_bytes = int(settings.max_file_mb * 2**20)
    documents = [load_document(p, max_bytes) for p in expand_paths(paths)]
    return ingest_documents(collection, documents, embedder, settings, progress)


def delete_documents(
    collection: Collection, doc_ids: list[str], embedder: Embedder, settings: Settings
) -> IngestReport:
    """Remove documents by id; NotFoundError if one is not in the collection."""
    with collection.writing():
        state = collection.read_state(embedder.id, embedder.dim)
        missing = [d for d in doc_ids if d not in state.documents]
        if missing:
            raise NotFoundError(f"no document {missing[0]!r} in collection {collection.name!r}")
        state = _without(state, set(doc_ids))
        _commit(collection, state, embedder, settings)
    return IngestReport(deleted=list(doc_ids), chunks=len(state.chunks))
