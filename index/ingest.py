"""The ingest pipeline: load → chunk → embed → one new segment (FAISS + BM25 + SQLite) → a new generation.

An ingest costs what is new: unchanged documents (same content hash) are skipped, new and changed ones are
chunked, embedded and written as one segment beside the others, and a changed document's old rows become
tombstones. Only when the chunking settings changed is every document chunked and embedded again. A delete writes
tombstones (and, with ``settings.delete_purges``, rewrites the segments that held the deleted text from their
stored vectors); ``compact`` folds every segment into one without embedding anything. A refused document (no
words, an id taken by another source) refuses the whole batch before anything is written, or, for a folder, is
listed with its reason while the others are ingested.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from viqa.errors import InputError, NotFoundError
from viqa.index.chunking import chunk_document
from viqa.index.lexical import build_bm25  # noqa: F401 - here too, where benchmarks and tests take it from
from viqa.index.loading import expand_paths, load_document
from viqa.index.milvus import MilvusCollection
from viqa.index.segments import IndexState, SegmentReader
from viqa.index.store import Collection, Generation, NewSegment, SegmentRef
from viqa.models.embedder import Embedder
from viqa.settings import Settings
from viqa.text.segment import lexical_tokens, syllables
from viqa.types import Document, IngestReport

log = logging.getLogger(__name__)


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


def _taken_ids(name: str, held: dict[str, Document], documents: list[Document]) -> Problems:
    """The documents whose id collection ``name`` holds (``held``) from another source, with other content."""
    return [
        (doc, f"{source_name(doc)} maps to document id {doc.doc_id!r}, which collection {name!r} "
              f"already holds from {source_name(old)}; rename the file, or ask to replace it (--replace)")
        for doc in documents
        if (old := held.get(doc.doc_id)) is not None
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


@dataclass
class _Live:
    """What a writer needs to know of the live generation, without reading any text or vector: each live
    document's header (``text == ""``), the segment it is in and its rows there."""

    generation: Generation | None
    headers: dict[str, Document] = field(default_factory=dict)
    owner: dict[str, SegmentRef] = field(default_factory=dict)
    rows: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def segments(self) -> list[SegmentRef]:
        return [] if self.generation is None else list(self.generation.segments)

    @property
    def chunks(self) -> int:
        return 0 if self.generation is None else self.generation.chunks

    def without(self, doc_ids: set[str]) -> list[SegmentRef]:
        """The live segments with the rows of ``doc_ids`` deleted too."""
        out = []
        for seg in self.segments:
            gone = sorted(d for d in doc_ids if d in self.owner and self.owner[d].name == seg.name)
            out.append(seg.deleting(np.concatenate([self.rows[d] for d in gone]), gone) if gone else seg)
        return out

    def full_documents(self, doc_ids: list[str]) -> list[Document]:
        """The documents ``doc_ids``, text included, read from their segments (in the order given)."""
        found: dict[str, Document] = {}
        for seg in self.segments:
            wanted = [d for d in doc_ids if self.owner[d].name == seg.name]
            if wanted:
                reader = SegmentReader(seg.path)
                try:
                    found.update((d, doc) for d in wanted if (doc := reader.document(d)) is not None)
                finally:
                    reader.close()
        return [found[d] for d in doc_ids if d in found]


def _read_live(collection: Collection, embedder_id: str, dim: int) -> _Live:
    """The live generation as a writer sees it (``_Live``); InputError if another embedder built it."""
    if not collection.exists:
        return _Live(None)
    with collection.reading() as folder:
        collection.check_compatible(embedder_id, dim, folder)
        live = _Live(collection.generation(folder))
        for seg in live.segments:
            reader = SegmentReader(seg.path)
            try:
                headers, rows = reader.headers(), reader.rows_by_document()
            finally:
                reader.close()
            for doc_id, header in headers.items():
                if doc_id not in seg.deleted_documents:
                    live.headers[doc_id], live.owner[doc_id] = header, seg
                    live.rows[doc_id] = rows.get(doc_id, np.zeros(0, dtype=np.int64))
    return live


def _manifest(embedder: Embedder, settings: Settings) -> dict:
    return {"embedder": embedder.id, "dim": embedder.dim, "chunking": chunking_of(settings),
            "lexical": "bm25s: syllables + underthesea words, collection-wide statistics"}


def _fold_smallest(keep: list[SegmentRef], settings: Settings) -> tuple[list[SegmentRef], tuple[SegmentRef, ...]]:
    """``keep`` split into the segments kept as they are and the smallest ones, folded into the new segment, so
    that the generation lists at most ``settings.max_segments`` segments (the new one included)."""
    excess = len(keep) + 1 - settings.max_segments
    if excess <= 0:
        return keep, ()
    smallest = set(sorted(range(len(keep)), key=lambda i: (keep[i].live_rows, i))[:excess])
    return ([s for i, s in enumerate(keep) if i not in smallest],
            tuple(s for i, s in enumerate(keep) if i in smallest and s.live_rows))


Prepare = Callable[[list[Document], Embedder, Settings, bool], IndexState]  # documents → what a store writes


def ingest_documents(
    collection: Collection | MilvusCollection, documents: list[Document], embedder: Embedder, settings: Settings,
    progress: bool = False, *, replace: bool = False, keep_going: bool = False, prepare: Prepare | None = None,
) -> IngestReport:
    """Add or replace ``documents`` in ``collection``: one new segment and one new generation (if anything changed).

    A document is refused for a text without words, an id an earlier document of the batch has, or an id the
    collection holds from another source (another file; an upload over a file) with other content, unless
    ``replace``. Then: InputError before anything is written, or with ``keep_going`` the others are stored and
    ``report.failed`` says why each refused one was.

    A document is skipped when its content and the chunking settings are those it was indexed with; when the
    chunking settings changed, every document is chunked and embedded again (and the collection becomes one
    segment). A new id whose content the collection (or an earlier document of the batch) already holds is not
    stored: ``report.duplicates`` maps it to the id that holds it. ``prepare`` chunks and embeds what is new
    (default ``prepare_documents``, here; ``index.ray_ingest.ray_prepare``: over a Ray cluster).
    """
    prepare = prepare_documents if prepare is None else prepare
    report = IngestReport()
    documents = _refused(_batch_problems(documents), keep_going, report, documents)
    if isinstance(collection, MilvusCollection):
        return _ingest_milvus(collection, documents, embedder, settings, progress, replace, keep_going, report,
                              prepare)
    with collection.writing():
        live = _read_live(collection, embedder.id, embedder.dim)
        rechunk = live.generation is not None and live.generation.manifest.get("chunking") != chunking_of(settings)
        todo = _plan(collection.name, live.headers, documents, rechunk, live.full_documents, replace, keep_going,
                     report)
        if not todo:
            report.chunks = live.chunks
            return report
        state = prepare(todo, embedder, settings, progress)
        previous = tuple(s.path / "meta.sqlite" for s in live.segments)  # where PDF sources may be copied from
        keep, folded = ([], ()) if rechunk else _fold_smallest(live.without({d.doc_id for d in todo}), settings)
        new = NewSegment(state, folded, previous)
        collection.commit_change(keep, new, _manifest(embedder, settings), settings)
        report.chunks = sum(s.live_rows for s in keep) + new.rows
    return report


def _plan(
    name: str, headers: dict[str, Document], documents: list[Document], rechunk: bool,
    full_documents: Callable[[list[str]], list[Document]], replace: bool, keep_going: bool, report: IngestReport,
) -> list[Document]:
    """The documents to chunk and embed, given the live ``headers``: the new and changed ones (and, when
    ``rechunk``, every live one, read by ``full_documents``); ``report`` says what became of each."""
    if not replace:
        documents = _refused(_taken_ids(name, headers, documents), keep_going, report, documents)
    given = {d.doc_id for d in documents}
    todo = full_documents([d for d in headers if d not in given]) if rechunk else []
    report.replaced += [d.doc_id for d in todo]
    holder = {d.sha256: d.doc_id for d in headers.values() if d.doc_id not in given}
    for doc in documents:
        old = headers.get(doc.doc_id)
        if old is not None and _same_content(old, doc) and not rechunk:
            report.skipped.append(doc.doc_id)
        elif old is None and doc.sha256 in holder:
            report.duplicates[doc.doc_id] = holder[doc.sha256]
            continue
        else:
            (report.replaced if old is not None else report.added).append(doc.doc_id)
            todo.append(doc)
        holder.setdefault(doc.sha256, doc.doc_id)
    return todo


def prepare_documents(
    todo: list[Document], embedder: Embedder, settings: Settings, progress: bool = False
) -> IndexState:
    """``todo`` chunked, embedded and split into BM25 terms: what a store writes."""
    from tqdm import tqdm

    chunks = [
        c
        for doc in tqdm(todo, desc="chunking", unit="doc", disable=not progress)
        for c in chunk_document(doc, settings.chunk_syllables, settings.chunk_overlap_sentences,
                                max_syllables=settings.max_chunk_syllables)
    ]
    log.info("embedding %d passages from %d documents", len(chunks), len(todo))
    texts = [c.clean for c in chunks]
    vectors = embedder.encode_passages(texts, progress=progress)
    tokens = [lexical_tokens(t) for t in tqdm(texts, desc="words", unit="passage", disable=not progress)]
    return IndexState({d.doc_id: d for d in todo}, chunks, vectors, tokens)


def _ingest_milvus(
    collection: MilvusCollection, documents: list[Document], embedder: Embedder, settings: Settings, progress: bool,
    replace: bool, keep_going: bool, report: IngestReport, prepare: Prepare,
) -> IngestReport:
    """``ingest_documents`` into a Milvus collection: the same decisions, one change (``MilvusCollection.put``)."""
    with collection.writing():
        manifest = collection.manifest() if collection.exists else None
        if manifest is not None:
            collection.check_compatible(embedder.id, embedder.dim)
        headers = {d: doc for d, (doc, _) in collection.headers().items()}
        rechunk = manifest is not None and manifest.get("chunking") != chunking_of(settings)

        def full_documents(doc_ids: list[str]) -> list[Document]:
            return [doc for d in doc_ids if (doc := collection.document(d)) is not None]

        todo = _plan(collection.name, headers, documents, rechunk, full_documents, replace, keep_going, report)
        if todo:
            report.chunks = collection.put(prepare(todo, embedder, settings, progress), _manifest(embedder, settings))
        else:
            report.chunks = collection.count()
    return report


def ingest_paths(
    collection: Collection | MilvusCollection, paths: list[Path], embedder: Embedder, settings: Settings,
    progress: bool = False, *, replace: bool = False, prepare: Prepare | None = None,
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
                                  keep_going=not alone, prepare=prepare)
        stored.failed = {**report.failed, **stored.failed}
        return stored
    report.chunks = collection.manifest()["chunks"] if collection.exists else 0
    return report


def delete_documents(
    collection: Collection | MilvusCollection, doc_ids: list[str], embedder: Embedder, settings: Settings
) -> IngestReport:
    """Remove documents by id: a new generation with their rows as tombstones. With ``settings.delete_purges`` (the
    default) the segments that held them are also written again without them (their stored vectors reused), so
    that their text leaves the disk at once. NotFoundError if one is not in the collection."""
    if isinstance(collection, MilvusCollection):
        with collection.writing():
            collection.check_compatible(embedder.id, embedder.dim)
            missing = [d for d in doc_ids if d not in collection.headers()]
            if missing:
                raise NotFoundError(f"no document {missing[0]!r} in collection {collection.name!r}")
            chunks = collection.remove(list(dict.fromkeys(doc_ids)), _manifest(embedder, settings))
        return IngestReport(deleted=list(doc_ids), chunks=chunks)
    with collection.writing():
        live = _read_live(collection, embedder.id, embedder.dim)
        missing = [d for d in doc_ids if d not in live.headers]
        if missing:
            raise NotFoundError(f"no document {missing[0]!r} in collection {collection.name!r}")
        segments = live.without(set(doc_ids))
        keep, new = segments, None
        if settings.delete_purges:
            touched = {live.owner[d].name for d in doc_ids}
            keep = [s for s in segments if s.name not in touched]
            folded = tuple(s for s in segments if s.name in touched and s.live_rows)
            new = NewSegment(IndexState.empty(embedder.dim), folded) if folded else None
        collection.commit_change(keep, new, _manifest(embedder, settings), settings)
        chunks = sum(s.live_rows for s in keep) + (new.rows if new is not None else 0)
    return IngestReport(deleted=list(doc_ids), chunks=chunks)


@dataclass(frozen=True)
class Compaction:
    """What a merge did: segments before and after, the tombstoned rows it dropped, the live chunks."""

    segments_before: int
    segments_after: int
    dropped_rows: int
    chunks: int


def compact(collection: Collection | MilvusCollection, settings: Settings) -> Compaction:
    """Fold every segment of ``collection`` into one, its tombstoned rows dropped and its vectors reused (nothing
    is embedded), in a new generation made live atomically; nothing is written when it already is one segment
    without tombstones (and always for a Milvus collection: Milvus compacts its own segments). NotFoundError when
    the collection has no index."""
    if isinstance(collection, MilvusCollection):
        chunks = collection.count() if collection.exists else collection.manifest()["chunks"]
        return Compaction(1, 1, 0, chunks)
    collection.current_generation()  # NotFoundError before anything is created
    with collection.writing():
        with collection.reading() as folder:
            generation = collection.generation(folder)
        segments = list(generation.segments)
        dropped = sum(len(s.deleted) for s in segments)
        if len(segments) <= 1 and not dropped and not any(s.legacy for s in segments):
            return Compaction(len(segments), len(segments), 0, generation.chunks)
        manifest = {k: v for k, v in generation.manifest.items() if k in ("embedder", "dim", "chunking", "lexical")}
        folded = tuple(s for s in segments if s.live_rows)
        new = NewSegment(IndexState.empty(int(manifest["dim"])), folded) if folded else None
        collection.commit_change([], new, manifest, settings)
    return Compaction(len(segments), 1 if new is not None else 0, dropped, generation.chunks)
