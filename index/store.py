"""A collection on disk: immutable segments, generations that list them, and a ``CURRENT`` pointer swapped atomically.

    collections/<name>/CURRENT                      the name of the live generation
    collections/<name>/seg-<n>/                     a segment (``index.segments``): some documents with all their
                                                    passages, vectors, FAISS and bm25s indexes; never changed
    collections/<name>/gen-<n>/manifest.json        format, embedder, dim, chunking, live counts, and the live
                                                    segments in order, each with its rows, documents, and how many
                                                    rows and which documents are deleted from it
    collections/<name>/gen-<n>/<seg>.deleted.npy    that segment's tombstones: the sorted rows deleted from it

An ingest writes one new segment (its new and changed documents) and a generation that lists it after the others;
a replaced document's old rows become tombstones. A delete writes a generation with more tombstones (and, when
``settings.delete_purges``, rewrites the segments that held the deleted text without it, from their stored rows:
nothing is embedded). A merge (``compact``) folds segments into one the same way. Once a collection holds
``settings.max_segments`` segments, an ingest folds the smallest into its new one.

A writer (holding ``.lock``) writes its segment in ``.tmp-seg-<n>``, fsyncs every file and folder of it, renames it
to ``seg-<n>`` and fsyncs the collection folder; then its generation in ``.tmp-gen-<m>`` likewise; then writes and
fsyncs ``CURRENT.tmp``, replaces ``CURRENT`` with it and fsyncs the collection folder again: a crash or power loss at
any point leaves the previous generation live and intact, or the new one live and whole. Every one of these steps
goes through ``IO``, so tests can fail or kill the process at each in turn.

Readers open a generation under a shared flock on its ``manifest.json`` (``Collection.reading``) and open its
segments inside that block (a ``SegmentReader`` keeps reading its files after they are removed). A generation that
is no longer live is removed as soon as no reader holds it: by the writer right after the swap, else by the last
reader that lets go of it; a segment, as soon as no generation left on disk lists it (always under the writer lock).
What an interrupted writer left (temp folders, a generation never made live, a segment no generation lists,
``CURRENT.tmp``) is removed at the next start: by the next writer, or when a process first loads the collection
(``Collection.recover``).

A generation written by an older viqa (``gen-<n>/`` holding meta.sqlite, vectors.npy, dense.faiss, bm25/ itself)
reads as one segment; the first commit over it links its files into a segment (hard links: nothing is copied).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO as File

import numpy as np

from viqa.errors import InputError, NotFoundError, ViqaError
from viqa.index import npy
from viqa.index.lexical import build_bm25
from viqa.index.segments import IndexState, SegmentReader, copy_rows, lengths_of, read_meta, read_tokens, write_meta
from viqa.settings import Settings
from viqa.text.normalise import NORMALISER_VERSION

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: segments and tombstones; 1: one generation holding everything (still read)
_READABLE = (1, 2)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NUMBERED = re.compile(r"^\.?(?:tmp-)?(?:gen|seg)-(\d+)$")
_LEGACY_FILES = ("meta.sqlite", "vectors.npy", "dense.faiss", "bm25")


class StorageError(ViqaError):
    """The disk refused a write (full, read-only, I/O error); the message names the folder and the space needed.
    The live generation is untouched and nothing of the failed one is left behind. ``public`` is the message
    without the folder (for clients that must not see filesystem paths)."""

    def __init__(self, message: str, public: str, path: Path, needed_bytes: int) -> None:
        super().__init__(message)
        self._public, self.path, self.needed_bytes = public, path, needed_bytes

    @property
    def public(self) -> str:
        return self._public


def validate_name(name: str, what: str = "collection") -> str:
    """Names are plain file names (letters, digits, ``_ . -``): never a path."""
    if not _NAME.match(name) or ".." in name:
        raise InputError(f"invalid {what} name {name!r}: use letters, digits, '_', '.', '-' (max 64)")
    return name


class StoreIO:
    """The store's write steps, one call each; ``step(what, path)`` runs first in every one of them.

    It does nothing here: tests replace it to raise (a failed or killed process) or ``os._exit`` at step N.
    A commit's steps, in order: mkdir the temp segment; write meta.sqlite, vectors.npy, dense.faiss, bm25/,
    lengths.npy and segment.json; fsync each file, each folder inside it and the folder itself; rename it to
    ``seg-<n>``; fsync the collection folder; then the same for the temp generation (its tombstones and
    manifest.json) renamed to ``gen-<m>``; write ``CURRENT.tmp``; fsync it; replace ``CURRENT``; fsync the
    collection folder; remove each retired generation no reader holds, then each segment no generation lists.
    """

    def step(self, what: str, path: Path) -> None:
        """Called before each write step; a no-op (the fault-injection point)."""

    def mkdir(self, path: Path) -> None:
        self.step("mkdir", path)
        path.mkdir(parents=True)

    def write(self, path: Path, writer: Callable[[Path], object]) -> None:
        """``writer(path)`` creates the file (or folder) ``path``."""
        self.step("write", path)
        writer(path)

    def fsync_file(self, path: Path) -> None:
        self.step("fsync", path)
        with path.open("rb") as fh:
            os.fsync(fh.fileno())

    def fsync_dir(self, path: Path) -> None:
        """Make the entries of folder ``path`` (files created, renamed or removed in it) durable."""
        self.step("fsync-dir", path)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def rename(self, source: Path, target: Path) -> None:
        self.step("rename", target)
        os.rename(source, target)

    def replace(self, source: Path, target: Path) -> None:
        self.step("replace", target)
        os.replace(source, target)

    def remove_tree(self, path: Path) -> None:
        """Remove a folder (or file) and all in it; what cannot be removed now is left for the next sweep."""
        self.step("remove", path)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


IO = StoreIO()


@dataclass(frozen=True, eq=False)
class SegmentRef:
    """A segment as a generation lists it: its folder, size, and the rows and documents deleted from it."""

    name: str
    path: Path
    rows: int
    documents: int
    deleted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # sorted rows
    deleted_documents: frozenset[str] = frozenset()

    @property
    def live_rows(self) -> int:
        return self.rows - len(self.deleted)

    @property
    def live_documents(self) -> int:
        return self.documents - len(self.deleted_documents)

    @property
    def legacy(self) -> bool:
        """A generation of an older viqa, read as a segment."""
        return not self.name.startswith("seg-")

    def live_mask(self) -> np.ndarray | None:
        """True for each row not deleted; None when none is."""
        if not len(self.deleted):
            return None
        mask = np.ones(self.rows, dtype=bool)
        mask[self.deleted] = False
        return mask

    def kept(self) -> np.ndarray:
        """The rows not deleted, in order."""
        return np.setdiff1d(np.arange(self.rows, dtype=np.int64), self.deleted, assume_unique=True)

    def deleting(self, rows: Iterable[int], doc_ids: Iterable[str]) -> SegmentRef:
        """This segment with ``rows`` (of documents ``doc_ids``) deleted too."""
        more = np.asarray(list(rows), dtype=np.int64)
        return replace(self, deleted=np.union1d(self.deleted, more).astype(np.int64),
                       deleted_documents=self.deleted_documents | frozenset(doc_ids))


@dataclass(frozen=True, eq=False)
class Generation:
    """A generation: its manifest and the segments it lists, in order (global row = segment offset + row)."""

    name: str
    path: Path
    manifest: dict
    segments: tuple[SegmentRef, ...]

    @property
    def chunks(self) -> int:
        return sum(s.live_rows for s in self.segments)


@dataclass(frozen=True, eq=False)
class NewSegment:
    """A segment a commit writes: ``state``'s documents and chunks (rows 0…), then the live rows of each ``folded``
    segment, in order. PDF sources missing from ``state``'s documents are copied from the ``previous`` segments."""

    state: IndexState
    folded: tuple[SegmentRef, ...] = ()
    previous: tuple[Path, ...] = ()

    @property
    def rows(self) -> int:
        return len(self.state.chunks) + sum(s.live_rows for s in self.folded)

    @property
    def documents(self) -> int:
        return len(self.state.documents) + sum(s.live_documents for s in self.folded)


def segment_bytes(new: NewSegment) -> int:
    """About how many bytes ``new`` takes on disk (for the message when the disk is full)."""
    state = new.state
    size = sum(len(d.text.encode()) + len(d.title.encode()) + 200 for d in state.documents.values())
    size += sum(2 * len(c.clean.encode()) + 8 * (len(c.clean_start) + len(c.clean_end)) + 200 for c in state.chunks)
    size += sum(len(t) for t in state.tokens) * 20 + 2 * int(state.vectors.nbytes) + 64 * 1024
    for seg in new.folded:
        on_disk = sum(p.stat().st_size for p in seg.path.rglob("*") if p.is_file())
        size += on_disk * seg.live_rows // max(seg.rows, 1)
    return size


def generation_bytes(state: IndexState) -> int:
    """About how many bytes a segment of ``state`` takes on disk."""
    return segment_bytes(NewSegment(state))


IVF_VECTORS_PER_LIST = 64


def build_faiss(vectors: np.ndarray, settings: Settings):
    """Exact inner-product search while small; ``settings.large_index`` once a segment has
    ``settings.hnsw_threshold`` chunks.

    HNSW uses L2 on the unit vectors (same ranking as inner product, and a better graph than faiss's
    inner-product HNSW); ``dense_similarity`` turns its distances back into cosine similarities. sq8 learns each
    dimension's range from the segment's own vectors; ivf_sq8 also its lists, by k-means on a sample of them.
    """
    import faiss

    dim = vectors.shape[1]
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) < settings.hnsw_threshold:
        index = faiss.IndexFlatIP(dim)
    elif settings.large_index == "sq8":
        index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
    elif settings.large_index == "ivf_sq8":
        lists = max(1, min(settings.ivf_lists, len(vectors) // IVF_VECTORS_PER_LIST))
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, lists, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        index.cp.max_points_per_centroid = IVF_VECTORS_PER_LIST  # k-means on a sample: seconds, not minutes
        index.train(vectors)
        index.nprobe = settings.ivf_nprobe
    else:
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_L2)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
        index.hnsw.efSearch = settings.hnsw_ef_search
    if len(vectors):
        index.add(vectors)
    return index


def dense_similarity(index, scores: np.ndarray) -> np.ndarray:
    """Cosine similarities from ``index.search`` scores (squared L2 distances for the HNSW index)."""
    import faiss

    return 1.0 - scores / 2.0 if index.metric_type == faiss.METRIC_L2 else scores


def _fsync_tree(folder: Path) -> None:
    """fsync every file under ``folder``, then every folder, deepest first (``folder`` itself last)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            IO.fsync_file(path)
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        IO.fsync_dir(path)
    IO.fsync_dir(folder)


def _link(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (a copy where the filesystem has none); folders file by file."""
    if source.is_dir():
        target.mkdir()
        for item in sorted(source.iterdir()):
            _link(item, target / item.name)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _same_file(fh: File, path: Path) -> bool:
    """Whether the open file ``fh`` is still the file at ``path`` (not removed or replaced since it was opened)."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fh.fileno())
    return (opened.st_dev, opened.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _one_line(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    return " ".join(text.split())


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Collection:
    """A named collection under ``root``; cheap to construct, nothing is read until asked."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = validate_name(name)
        self.path = root / name

    @property
    def exists(self) -> bool:
        return (self.path / "CURRENT").is_file()

    def current_generation(self) -> Path:
        """The live generation's folder; NotFoundError when nothing was ever committed."""
        try:
            generation = (self.path / "CURRENT").read_text().strip()
        except FileNotFoundError:
            raise NotFoundError(
                f"collection {self.name!r} has no index yet: run `viqa ingest PATH --collection {self.name}`"
            ) from None
        return self.path / generation

    def _live_name(self) -> str | None:
        try:
            return (self.path / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def reading(self) -> Iterator[Path]:
        """The live generation's folder, which no writer removes (nor any segment it lists) until the block ends (a
        shared flock on its manifest); open what it needs inside. NotFoundError when nothing was ever committed."""
        for _ in range(1000):
            folder = self.current_generation()
            manifest = folder / "manifest.json"
            try:
                fh = manifest.open("rb")
            except FileNotFoundError:
                if self._live_name() == folder.name:  # still live, so no writer removed it: it is gone
                    raise NotFoundError(f"collection {self.name!r}: its live index {folder.name} is missing; "
                                        "ingest its documents into a new collection") from None
                continue  # retired and removed between reading CURRENT and opening it: CURRENT has moved on
            fcntl.flock(fh, fcntl.LOCK_SH)
            if _same_file(fh, manifest):
                break
            fh.close()  # removed while we waited for the lock
        else:
            raise NotFoundError(f"collection {self.name!r}: its live index kept changing while it was opened")
        removed = False
        try:
            yield folder
        finally:
            try:
                if self._live_name() not in (folder.name, None):  # retired while we read it: the last reader removes it
                    removed = self._remove_if_unheld(folder, fh)
            finally:
                fh.close()
            if removed:
                self.recover()  # and the segments only it listed, unless a writer is at work (it will)

    def generation(self, folder: Path) -> Generation:
        """The generation in ``folder`` (read it inside ``reading()``): its manifest, its segments and tombstones."""
        manifest = json.loads((folder / "manifest.json").read_text())
        if "segments" not in manifest:  # an older viqa's generation: itself the one segment
            ref = SegmentRef(folder.name, folder, int(manifest.get("chunks", 0)), int(manifest.get("documents", 0)))
            return Generation(folder.name, folder, manifest, (ref,))
        segments = []
        for entry in manifest["segments"]:
            deleted = np.zeros(0, dtype=np.int64)
            if entry.get("deleted", 0):
                deleted = npy.load(folder / f"{entry['name']}.deleted.npy").astype(np.int64)
            segments.append(SegmentRef(entry["name"], self.path / entry["name"], int(entry["rows"]),
                                       int(entry["documents"]), deleted, frozenset(entry.get("deleted_documents", []))))
        return Generation(folder.name, folder, manifest, tuple(segments))

    def manifest(self) -> dict:
        """The live generation's manifest: ``documents`` and ``chunks`` (live counts), ``segments``, the embedder…"""
        with self.reading() as folder:
            return json.loads((folder / "manifest.json").read_text())

    def check_compatible(self, embedder_id: str, dim: int, folder: Path | None = None) -> None:
        """InputError naming both values when the generation (default: the live one) was written in a format this
        viqa cannot read, by another normaliser, or with vectors of another embedder or dimension."""
        manifest = self.manifest() if folder is None else json.loads((folder / "manifest.json").read_text())
        if manifest.get("format") not in _READABLE:
            raise InputError(f"collection {self.name!r} was built with format {manifest.get('format')!r}, but this "
                             f"viqa uses {FORMAT_VERSION!r}; ingest its documents into a new collection")
        expected = {"normaliser": NORMALISER_VERSION, "embedder": embedder_id, "dim": dim}
        for key, want in expected.items():
            if manifest.get(key) != want:
                raise InputError(f"collection {self.name!r} was built with {key} {manifest.get(key)!r}, but this "
                                 f"viqa uses {want!r}; ingest its documents into a new collection")

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive writer lock (other writers wait); readers are never blocked. On entry, whatever an
        interrupted writer left is removed."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._sweep()
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def recover(self) -> bool:
        """Remove what an interrupted writer left (temp folders, ``CURRENT.tmp``, generations that are not live and
        that no reader holds, segments no generation lists), unless a writer is at work now; True if it looked.
        Creates nothing."""
        if not self.path.is_dir():
            return False
        try:
            lock = (self.path / ".lock").open("a")
        except OSError:
            return False  # a read-only collection: leave it to a writer
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:
                self._sweep()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return True

    def read_state(self, embedder_id: str, dim: int) -> IndexState:
        """The live documents, chunks, vectors and tokens, all in memory (heavy: for tests and tools; empty if
        nothing was committed yet); InputError if it was built by another embedder (``check_compatible``)."""
        if not self.exists:
            return IndexState.empty(dim)
        with self.reading() as folder:
            self.check_compatible(embedder_id, dim, folder)
            state = IndexState.empty(dim)
            parts = [state.vectors]
            for seg in self.generation(folder).segments:
                documents, chunks, tokens = read_meta(seg.path / "meta.sqlite")
                kept = seg.kept()
                state.documents.update((k, d) for k, d in documents.items() if k not in seg.deleted_documents)
                state.chunks += [chunks[i] for i in kept]
                state.tokens += [tokens[i] for i in kept]
                parts.append(npy.load(seg.path / "vectors.npy", mmap=True)[kept])
        state.vectors = np.concatenate(parts).astype(np.float32, copy=False)
        return state

    def source(self, doc_id: str) -> bytes | None:
        """The source file of a paged document in the live generation (a PDF), None when it keeps none;
        NotFoundError when the collection has no such document. Sources are stored by sha256: the document's own
        segment is asked first, then the others."""
        with self.reading() as folder:
            segments = self.generation(folder).segments
            readers = [SegmentReader(seg.path) for seg in segments]
            try:
                found = [(r, h) for r, seg in zip(readers, segments, strict=True)
                         if doc_id not in seg.deleted_documents and (h := r.header(doc_id)) is not None]
                if not found:
                    raise NotFoundError(f"no document {doc_id!r} in collection {self.name!r}")
                own, header = found[0]
                return next((data for r in [own, *readers] if (data := r.source(header.sha256)) is not None), None)
            finally:
                for r in readers:
                    r.close()

    def _next_number(self) -> int:
        """A number above every generation's and segment's on disk (time-based, so names sort by age)."""
        taken = [int(m.group(1)) for p in self.path.iterdir() if (m := _NUMBERED.match(p.name))]
        return max([int(time.time() * 1000), *(n + 1 for n in taken)])

    def commit(self, state: IndexState, manifest: dict, faiss_index, bm25) -> Path:
        """Make ``state`` the whole collection: one new segment (with the FAISS and bm25s indexes given) in a new
        generation, live atomically. Call inside ``writing()``. See ``commit_change``."""
        return self._commit([], NewSegment(state), manifest, None, (faiss_index, bm25))

    def commit_change(self, keep: Sequence[SegmentRef], new: NewSegment | None, manifest: dict,
                      settings: Settings) -> Path:
        """Write ``new`` (if it has rows) as a segment, and a generation listing ``keep`` (with their tombstones)
        then it, live atomically. Call inside ``writing()``; ``manifest`` adds to the generation's manifest (the
        embedder, dim, chunking).

        StorageError (one line: the folder, the reason, the space needed) when the disk refuses a write before
        the new generation is live; what was written is then removed, and the live generation is as it was.
        """
        return self._commit(keep, new, manifest, settings, None)

    def _commit(self, keep: Sequence[SegmentRef], new: NewSegment | None, manifest: dict,
                settings: Settings | None, prebuilt: tuple | None) -> Path:
        number = self._next_number()
        gen_tmp, gen_final = self.path / f".tmp-gen-{number}", self.path / f"gen-{number}"
        pointer = self.path / "CURRENT.tmp"
        previous = self._live_name()
        written: list[Path] = []
        keep = [s for s in keep if s.live_rows or s.live_documents]  # a segment deleted whole is listed no more
        try:
            listed = [self._adopt(seg, number + 1 + i, written) if seg.legacy else seg for i, seg in enumerate(keep)]
            if new is not None and new.rows:
                listed.append(self._write_segment(new, number + 1 + len(keep), manifest, settings, prebuilt, written))
            written.append(gen_tmp)
            IO.mkdir(gen_tmp)
            for seg in listed:
                if len(seg.deleted):
                    IO.write(gen_tmp / f"{seg.name}.deleted.npy",
                             lambda p, d=seg.deleted: np.save(p, d.astype(np.int64), allow_pickle=False))
            full_manifest = {
                "format": FORMAT_VERSION,
                "normaliser": NORMALISER_VERSION,
                "documents": sum(s.live_documents for s in listed),
                "chunks": sum(s.live_rows for s in listed),
                "created": _now(),
                **manifest,
                "segments": [{"name": s.name, "rows": s.rows, "documents": s.documents, "deleted": len(s.deleted),
                              "deleted_documents": sorted(s.deleted_documents)} for s in listed],
            }
            IO.write(gen_tmp / "manifest.json", lambda p: p.write_text(json.dumps(full_manifest, indent=2)))
            _fsync_tree(gen_tmp)
            IO.rename(gen_tmp, gen_final)
            written.append(gen_final)
            IO.fsync_dir(self.path)
            written.append(pointer)
            IO.write(pointer, lambda p: p.write_text(gen_final.name))
            IO.fsync_file(pointer)
            IO.replace(pointer, self.path / "CURRENT")
        except (OSError, sqlite3.Error, RuntimeError) as exc:  # faiss reports a failed write as RuntimeError
            for leftover in reversed(written):
                with contextlib.suppress(OSError):
                    IO.remove_tree(leftover)
            raise self._storage_error(exc, new if new is not None else NewSegment(IndexState.empty(1))) from None
        try:
            IO.fsync_dir(self.path)
            if previous is None:
                IO.fsync_dir(self.path.parent)  # the collection folder's own entry, on its first commit
        except OSError as exc:
            log.warning("collection %r: the new generation is live but could not be flushed to disk: %s",
                        self.name, _one_line(exc))
        self._remove_retired(gen_final.name)
        self._remove_unlisted()
        return gen_final

    def _write_segment(self, new: NewSegment, number: int, manifest: dict, settings: Settings | None,
                       prebuilt: tuple | None, written: list[Path]) -> SegmentRef:
        """Write ``new`` in ``.tmp-seg-<number>`` and rename it to ``seg-<number>`` (see ``StoreIO``)."""
        import faiss

        tmp, final = self.path / f".tmp-seg-{number}", self.path / f"seg-{number}"
        written.append(tmp)
        IO.mkdir(tmp)

        def meta(path: Path) -> None:
            write_meta(path, new.state, list(new.previous))
            row = len(new.state.chunks)
            for seg in new.folded:
                kept = seg.kept()
                copy_rows(path, seg.path / "meta.sqlite", kept, row, seg.deleted_documents)
                row += len(kept)

        IO.write(tmp / "meta.sqlite", meta)
        vectors = np.concatenate([new.state.vectors.astype(np.float32, copy=False),
                                  *(npy.load(s.path / "vectors.npy", mmap=True)[s.kept()] for s in new.folded)])
        IO.write(tmp / "vectors.npy", lambda p: np.save(p, vectors, allow_pickle=False))
        if prebuilt is not None:
            faiss_index, bm25 = prebuilt
            lengths = np.asarray([len(t) for t in new.state.tokens], dtype=np.int32)
        else:
            assert settings is not None
            faiss_index = build_faiss(vectors, settings)
            counts: list[int] = []

            def counted() -> Iterator[list[str]]:  # every row's terms, as written, counted on the way
                for tokens in read_tokens(tmp / "meta.sqlite"):
                    counts.append(len(tokens))
                    yield tokens

            bm25 = build_bm25(counted())
            lengths = np.asarray(counts, dtype=np.int32)
        IO.write(tmp / "dense.faiss", lambda p: faiss.write_index(faiss_index, str(p)))
        if bm25 is not None:
            IO.write(tmp / "bm25", lambda p: bm25.save(str(p), show_progress=False))
        IO.write(tmp / "lengths.npy", lambda p: np.save(p, lengths, allow_pickle=False))
        info = {"format": FORMAT_VERSION, "embedder": manifest.get("embedder"), "dim": manifest.get("dim"),
                "rows": new.rows, "documents": new.documents, "faiss": type(faiss_index).__name__,
                "created": _now(), "id": uuid.uuid4().hex}
        IO.write(tmp / "segment.json", lambda p: p.write_text(json.dumps(info, indent=2)))
        _fsync_tree(tmp)
        IO.rename(tmp, final)
        written.append(final)
        IO.fsync_dir(self.path)
        return SegmentRef(final.name, final, new.rows, new.documents)

    def _adopt(self, legacy: SegmentRef, number: int, written: list[Path]) -> SegmentRef:
        """An older viqa's generation as a segment: its files hard-linked into ``seg-<number>``, with lengths.npy
        and segment.json added (its tombstones carry over)."""
        tmp, final = self.path / f".tmp-seg-{number}", self.path / f"seg-{number}"
        written.append(tmp)
        IO.mkdir(tmp)
        for name in _LEGACY_FILES:
            if (legacy.path / name).exists():
                IO.write(tmp / name, lambda p, n=name: _link(legacy.path / n, p))
        IO.write(tmp / "lengths.npy", lambda p: np.save(p, lengths_of(legacy.path), allow_pickle=False))
        old = json.loads((legacy.path / "manifest.json").read_text())
        info = {"format": FORMAT_VERSION, "embedder": old.get("embedder"), "dim": old.get("dim"),
                "rows": legacy.rows, "documents": legacy.documents, "faiss": old.get("faiss"), "created": _now(),
                "id": uuid.uuid4().hex, "adopted": legacy.name}
        IO.write(tmp / "segment.json", lambda p: p.write_text(json.dumps(info, indent=2)))
        _fsync_tree(tmp)
        IO.rename(tmp, final)
        written.append(final)
        IO.fsync_dir(self.path)
        return replace(legacy, name=final.name, path=final)

    def _storage_error(self, exc: BaseException, new: NewSegment) -> StorageError:
        needed = segment_bytes(new)
        try:
            free = f", {shutil.disk_usage(self.path).free / 2**20:.1f} MB free"
        except OSError:
            free = ""
        why = f"{_one_line(exc)} (it needs about {max(needed / 2**20, 0.1):.1f} MB{free}); the index is as it was"
        return StorageError(f"collection {self.name!r}: cannot write its new index in {self.path}: {why}",
                            f"collection {self.name!r}: cannot write its new index: {why}", self.path, needed)

    def _remove_if_unheld(self, folder: Path, held: File | None = None) -> bool:
        """Remove generation ``folder`` if no reader holds it (``held``: the caller's own shared lock on it)."""
        manifest = folder / "manifest.json"
        fh = held
        if fh is None:
            try:
                fh = manifest.open("rb")
            except FileNotFoundError:  # half removed before: no reader can hold a generation without a manifest
                with contextlib.suppress(OSError):
                    IO.remove_tree(folder)
                return True
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a reader is opening it: it removes it when it lets go
            if _same_file(fh, manifest):
                IO.remove_tree(folder)
            return True
        except OSError as exc:  # the commit stands; what is left is removed by the next sweep
            log.warning("collection %r: could not remove %s yet: %s", self.name, folder.name, _one_line(exc))
            return False
        finally:
            if held is None:
                fh.close()

    def _remove_retired(self, live: str) -> None:
        for folder in sorted(self.path.glob("gen-*")):
            if folder.name != live:
                self._remove_if_unheld(folder)

    def _listed(self) -> set[str] | None:
        """The segments the generations on disk list (None if a manifest cannot be read: then keep them all)."""
        listed: set[str] = set()
        for folder in self.path.glob("gen-*"):
            try:
                manifest = json.loads((folder / "manifest.json").read_text())
            except FileNotFoundError:
                continue  # being removed: it needs nothing
            except (OSError, ValueError) as exc:
                log.warning("collection %r: cannot read %s (%s): no segment is removed", self.name, folder.name,
                            _one_line(exc))
                return None
            listed.update(s["name"] for s in manifest.get("segments", []))
        return listed

    def _remove_unlisted(self) -> None:
        """Under the writer lock: remove every segment no generation on disk lists."""
        listed = self._listed()
        if listed is None:
            return
        for folder in sorted(self.path.glob("seg-*")):
            if folder.name not in listed:
                try:
                    IO.remove_tree(folder)
                except OSError as exc:
                    log.warning("collection %r: could not remove %s yet: %s", self.name, folder.name, _one_line(exc))

    def _sweep(self) -> None:
        """Under the writer lock: remove temp folders, ``CURRENT.tmp``, every unheld generation not live, and every
        segment no generation left lists."""
        pointer = self.path / "CURRENT.tmp"
        stale = [*sorted(self.path.glob(".tmp-gen-*")), *sorted(self.path.glob(".tmp-seg-*"))]
        for path in [*stale, *([pointer] if pointer.exists() else [])]:
            with contextlib.suppress(OSError):
                IO.remove_tree(path)
        self._remove_retired(self._live_name() or "")
        self._remove_unlisted()

    def delete(self) -> None:
        with self.writing():
            shutil.rmtree(self.path)


def list_collections(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("*") if (p / "CURRENT").is_file()) if root.is_dir() else []
