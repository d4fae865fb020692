"""The ingest pipeline: load → chunk → embed → FAISS + BM25 → a new generation, incrementally.

Unchanged documents (same content hash) are skipped, changed ones replaced, and the embeddings of every
untouched chunk are reused, so re-ingesting one file only embeds that file. A refused document (no words, an id
taken by another source) refuses the whole batch before anything is written, or, for a folder, is listed with
its reason while the others are ingested.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np

from viqa.errors import InputError, NotFoundError
from viqa.index.chunking import chunk_document
from viqa.index.loading import expand_paths, load_document
from viqa.index.store import Collection, IndexState, build_faiss
from viqa.models.embedder import Embedder
from viqa.settings import Settings
from viqa.text.segment import lexical_tokens, syllables
from viqa.types import Document, IngestReport

log = logging.getLogger(__name__)


def build_bm25(tokens: list[list[str]]):
    """A bm25s index over pre-tokenised chunks (None for an empty collection)."""
    import bm25s

    if not any(tokens):  # bm25s cannot index a corpus without a single term
        return None
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    return retriever


def chunking_of(settings: Settings) -> dict[str, int]:
    """The settings a document's passages depend on: part of the key by which an unchanged document is skipped."""
    return {"syllables": settings.chunk_syllables, "overlap_sentences": settings.chunk_overlap_sentences,
            "max_syllables": settings.max_chunk_syllables}


UPLOAD = "upload:"  # the path prefix of uploaded documents: an upload is addressed by its id, not its file


def source_name(doc: Document) -> str:
    """The document's source as people know it: the file's path, or an upload's file name."""
    return doc.path.removeprefix(UPLOAD)


def same_source(old: str, new: str) -> bool:
    """Whether two document paths name one source: the same file however spelled (an older collection's relative
    path matches the end of the new, resolved one), or two uploads (uploads are addressed by their id)."""
    if old == new or (old.startswith(UPLOAD) and new.startswith(UPLOAD)):
        return True
    if old.startswith(UPLOAD) or new.startswith(UPLOAD):
        return False
    old_path, new_path = Path(old), Path(new)
    with contextlib.suppress(OSError, RuntimeError):
        if old_path.resolve() == new_path.resolve():
            return True
    return not old_path.is_absolute() and new_path.parts[-len(old_path.parts):] == old_path.parts


def check_words(doc: Document) -> None:
    """InputError naming the document's source when its text has no words (only punctuation, symbols or
    emoji): nothing in it could ever be found, and BM25 cannot index it."""
    if not syllables(doc.text):
        raise InputError(f"{source_name(doc)}: the text has no words in it (only punctuation, symbols or emoji)")


Problems = list[tuple[Document, str]]  # refused documents, each with the reason


def _batch_problems(documents: list[Document]) -> Problems:
    """The documents of the batch that cannot be stored: no words, or an id an earlier one has."""
    problems: Problems = []
    first_of: dict[str, Document] = {}
    for doc in documents:
        try:
            check_words(doc)
        except InputError as exc:
            problems.append((doc, str(exc)))
            continue
        first = first_of.setdefault(doc.doc_id, doc)
        if first is not doc:
            problems.append((doc, f"{source_name(first)} and {source_name(doc)} map to the same document id "
                                  f"{doc.doc_id!r}; rename one of them"))
    return problems


def _same_content(a: Document, b: Document) -> bool:
    return (a.sha256, a.date, a.tags) == (b.sha256, b.date, b.tags)


def _taken_ids(collection: Collection, state: IndexState, documents: list[Document]) -> Problems:
    """The documents whose id the collection holds from another source, with other content."""
    return [
        (doc, f"{source_name(doc)} maps to document id {doc.doc_id!r}, which collection {collection.name!r} "
              f"already holds from {source_name(old)}; rename the file, or ask to replace it (--replace)")
        for doc in documents
        if (old := state.documents.get(doc.doc_id)) is not None
        and not same_source(old.path, doc.path) and not _same_content(old, doc)
    ]


def _refused(problems: Problems, keep_going: bool, report: IngestReport, documents: list[Document]) -> list[Document]:
    """``documents`` without the refused ones, which ``report.failed`` lists when ``keep_going``; else
    InputError with the first reason."""
    if problems and not keep_going:
        more = f" ({len(problems) - 1} more documents are refused too)" if len(problems) > 1 else ""
        raise InputError(problems[0][1] + more)
    report.failed.update((source_name(doc), reason) for doc, reason in problems)
    refused = {id(doc) for doc, _ in problems}
    return [d for d in documents if id(d) not in refused]


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
    collection: Collection, documents: list[Document], embedder: Embedder, settings: Settings, progress: bool = False,
    *, replace: bool = False, keep_going: bool = False,
) -> IngestReport:
    """Add or replace ``documents`` in ``collection`` and commit one new generation (if anything changed).

    A document is refused for a text without words, an id an earlier document of the batch has, or an id the
    collection holds from another source (another file; an upload over a file) with other content, unless
    ``replace``. Then: InputError before anything is written, or with ``keep_going`` the others are stored and
    ``report.failed`` says why each refused one was.

    A document is skipped when its content and the chunking settings are those it was indexed with; when the
    chunking settings changed, every document is chunked and embedded again. A new id whose content the
    collection (or an earlier document of the batch) already holds is not stored: ``report.duplicates`` maps it
    to the id that holds it.
    """
    report = IngestReport()
    documents = _refused(_batch_problems(documents), keep_going, report, documents)
    with collection.writing():
        state = collection.read_state(embedder.id, embedder.dim)
        if not replace:
            documents = _refused(_taken_ids(collection, state, documents), keep_going, report, documents)
        rechunk = collection.exists and collection.manifest().get("chunking") != chunking_of(settings)
        given = {d.doc_id for d in documents}
        todo = [d for d in state.documents.values() if d.doc_id not in given] if rechunk else []
        report.replaced += [d.doc_id for d in todo]
        holder = {d.sha256: d.doc_id for d in state.documents.values() if d.doc_id not in given}
        for doc in documents:
            old = state.documents.get(doc.doc_id)
            if old is not None and _same_content(old, doc) and not rechunk:
                report.skipped.append(doc.doc_id)
            elif old is None and doc.sha256 in holder:
                report.duplicates[doc.doc_id] = holder[doc.sha256]
                continue
            else:
                (report.replaced if old is not None else report.added).append(doc.doc_id)
                todo.append(doc)
            holder.setdefault(doc.sha256, doc.doc_id)
        if not todo:
            report.chunks = len(state.chunks)
            return report
        state = _without(state, {d.doc_id for d in todo})
        from tqdm import tqdm

        new_chunks = [
            c
            for doc in tqdm(todo, desc="chunking", unit="doc", disable=not progress)
            for c in chunk_document(doc, settings.chunk_syllables, settings.chunk_overlap_sentences,
                                    max_syllables=settings.max_chunk_syllables)
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
    collection: Collection, paths: list[Path], embedder: Embedder, settings: Settings, progress: bool = False,
    *, replace: bool = False,
) -> IngestReport:
    """Ingest files and folders (``ingest_documents``; ``replace`` lets a file take an id the collection holds
    from another source). Each file that cannot be read or stored is listed in ``report.failed`` with its
    reason and the others are ingested; a single file given alone raises InputError instead."""
    files = expand_paths(paths)
    report = IngestReport()
    documents = []
    for path in files:
        try:
            documents.append(load_document(path, settings))
        except InputError as exc:
            report.failed[str(path.resolve())] = str(exc)
    alone = len(paths) == 1 and len(files) == 1 and not paths[0].is_dir()
    if alone and report.failed:
        raise InputError(next(iter(report.failed.values())))
    if documents:
        stored = ingest_documents(collection, documents, embedder, settings, progress, replace=replace,
                                  keep_going=not alone)
        stored.failed = {**report.failed, **stored.failed}
        return stored
    report.chunks = collection.manifest()["chunks"] if collection.exists else 0
    return report


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
