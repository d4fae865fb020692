"""A collection on disk: immutable generations of plain files, and a ``CURRENT`` pointer swapped atomically.

    collections/<name>/CURRENT          the name of the live generation
    collections/<name>/gen-<n>/         manifest.json, meta.sqlite (documents, chunks, BM25 tokens),
                                        vectors.npy, dense.faiss, bm25/ (bm25s files)

A writer (holding ``.lock``) builds a whole new generation in ``.tmp-gen-<n>``, fsyncs every file and folder of
it, renames it to ``gen-<n>``, fsyncs the collection folder, writes and fsyncs ``CURRENT.tmp``, replaces
``CURRENT`` with it and fsyncs the collection folder again: a crash or power loss at any point leaves the previous
generation live and intact, or the new one live and whole. Every one of these steps goes through ``IO``, so
tests can fail or kill the process at each in turn.

Readers open a generation under a shared flock on its ``manifest.json`` (``Collection.reading``) and load it
fully into memory. A generation that is no longer live is removed, text and all, as soon as no reader holds it:
by the writer right after the swap, else by the last reader that lets go of it. What an interrupted writer left
(a temp generation, a generation never made live, ``CURRENT.tmp``) is removed at the next start: by the next
writer, or when a process first loads the collection (``Collection.recover``).
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO as File

import numpy as np

from viqa.errors import InputError, NotFoundError, ViqaError
from viqa.settings import Settings
from viqa.text.normalise import NORMALISER_VERSION
from viqa.types import Chunk, Document

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_GENERATION = re.compile(r"^gen-(\d+)$")

_SCHEMA = """
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, title TEXT, path TEXT, sha256 TEXT, text TEXT, date TEXT, tags TEXT,
                        pages TEXT, format TEXT);
CREATE TABLE sources (sha256 TEXT PRIMARY KEY, data BLOB);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, doc_id TEXT, clean TEXT, clean_start BLOB, clean_end BLOB,
    char_start INTEGER, char_end INTEGER, heading_path TEXT, kind TEXT, footnotes TEXT, cited_by TEXT,
    tokens TEXT
);
"""


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
    A commit's steps, in order: mkdir the temp generation; write meta.sqlite, vectors.npy, dense.faiss, bm25/
    and manifest.json; fsync each file, each folder inside it and the folder itself; rename it to ``gen-<n>``;
    fsync the collection folder; write ``CURRENT.tmp``; fsync it; replace ``CURRENT``; fsync the collection
    folder; remove each retired generation no reader holds.
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


@dataclass
class IndexState:
    """Everything a generation holds, in memory. ``tokens[i]`` are chunk ``i``'s BM25 terms."""

    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    tokens: list[list[str]]

    @classmethod
    def empty(cls, dim: int) -> IndexState:
        return cls({}, [], np.zeros((0, dim), dtype=np.float32), [])


def generation_bytes(state: IndexState) -> int:
    """About how many bytes a generation of ``state`` takes on disk (for the message when the disk is full)."""
    meta = sum(len(d.text.encode()) + len(d.title.encode()) + 200 for d in state.documents.values())
    meta += sum(2 * len(c.clean.encode()) + 8 * (len(c.clean_start) + len(c.clean_end)) + 200 for c in state.chunks)
    tokens = sum(len(t) for t in state.tokens)
    return meta + 2 * int(state.vectors.nbytes) + 20 * tokens + 64 * 1024


def build_faiss(vectors: np.ndarray, settings: Settings):
    """Exact inner-product search while small, HNSW once the collection has ``settings.hnsw_threshold`` chunks.

    HNSW uses L2 on the unit vectors (same ranking as inner product, and a better graph than faiss's
    inner-product HNSW); ``dense_similarity`` turns its distances back into cosine similarities.
    """
    import faiss

    dim = vectors.shape[1]
    if len(vectors) >= settings.hnsw_threshold:
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_L2)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
        index.hnsw.efSearch = settings.hnsw_ef_search
    else:
        index = faiss.IndexFlatIP(dim)
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


def write_meta(path: Path, state: IndexState, previous: Path | None = None) -> None:
    """Write ``state``'s documents and chunks; the source files of paged documents come from the documents
    that carry them, else from the ``previous`` generation's meta.sqlite."""
    con = sqlite3.connect(path)
    try:
        con.executescript(_SCHEMA)
        con.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(d.doc_id, d.title, d.path, d.sha256, d.text, d.date, json.dumps(list(d.tags), ensure_ascii=False),
              json.dumps(list(d.pages)), d.format)
             for d in state.documents.values()],
        )
        carried = {d.sha256: d.source for d in state.documents.values() if d.source is not None}
        con.executemany("INSERT OR IGNORE INTO sources VALUES (?, ?)", carried.items())
        wanted = {d.sha256 for d in state.documents.values() if d.format == "pdf"} - carried.keys()
        if wanted and previous is not None and previous.is_file():
            con.execute("ATTACH DATABASE ? AS previous", (str(previous),))
            if con.execute("SELECT 1 FROM previous.sqlite_master WHERE name = 'sources'").fetchone():
                con.executemany("INSERT OR IGNORE INTO sources SELECT sha256, data FROM previous.sources"
                                " WHERE sha256 = ?", [(sha,) for sha in wanted])
            con.commit()
            con.execute("DETACH DATABASE previous")
        con.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    row, c.chunk_id, c.doc_id, c.clean,
                    np.asarray(c.clean_start, dtype=np.int64).tobytes(),
                    np.asarray(c.clean_end, dtype=np.int64).tobytes(),
                    c.char_start, c.char_end, c.heading_path, c.kind,
                    json.dumps(c.footnotes), json.dumps(c.cited_by), json.dumps(state.tokens[row], ensure_ascii=False),
                )
                for row, c in enumerate(state.chunks)
            ],
        )
        con.commit()
    finally:
        con.close()


def read_meta(path: Path) -> tuple[dict[str, Document], list[Chunk], list[list[str]]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        columns = {row[1] for row in con.execute("PRAGMA table_info(documents)")}
        meta = "date, tags" if "date" in columns else "NULL, '[]'"  # generations written before filters had none
        meta += ", pages, format" if "pages" in columns else ", '[]', 'text'"  # ... and before formats
        documents = {
            row[0]: Document(*row[:5], date=row[5], tags=tuple(json.loads(row[6])), pages=tuple(json.loads(row[7])),
                             format=row[8])
            for row in con.execute(f"SELECT doc_id, title, path, text, sha256, {meta} FROM documents")
        }
        chunks, tokens = [], []
        for row in con.execute(
            "SELECT chunk_id, doc_id, clean, clean_start, clean_end, char_start, char_end, heading_path, kind,"
            " footnotes, cited_by, tokens FROM chunks ORDER BY row"
        ):
            cid, doc_id, clean, cs, ce, start, end, heading, kind, fns, cited, toks = row
            chunks.append(
                Chunk(
                    chunk_id=cid, doc_id=doc_id, text=documents[doc_id].text[start:end], clean=clean,
                    clean_start=tuple(np.frombuffer(cs, dtype=np.int64).tolist()),
                    clean_end=tuple(np.frombuffer(ce, dtype=np.int64).tolist()),
                    char_start=start, char_end=end, heading_path=heading, kind=kind,
                    footnotes=tuple(json.loads(fns)), cited_by=tuple(json.loads(cited)),
                )
            )
            tokens.append(json.loads(toks))
        return documents, chunks, tokens
    finally:
        con.close()


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
        """The live generation's folder, which no writer removes until the block ends (a shared flock on its
        manifest); read it whole inside. NotFoundError when nothing was ever committed."""
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
        try:
            yield folder
        finally:
            try:
                if self._live_name() not in (folder.name, None):  # retired while we read it: the last reader removes it
                    self._remove_if_unheld(folder, fh)
            finally:
                fh.close()

    def manifest(self) -> dict:
        with self.reading() as folder:
            return json.loads((folder / "manifest.json").read_text())

    def check_compatible(self, embedder_id: str, dim: int, folder: Path | None = None) -> None:
        """InputError naming both values when the generation (default: the live one) was written in another
        format, by another normaliser, or with vectors of another embedder or dimension."""
        manifest = self.manifest() if folder is None else json.loads((folder / "manifest.json").read_text())
        expected = {"format": FORMAT_VERSION, "normaliser": NORMALISER_VERSION, "embedder": embedder_id, "dim": dim}
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
        """Remove what an interrupted writer left (temp generations, ``CURRENT.tmp``, generations that are not live
        and that no reader holds), unless a writer is at work now; True if it looked. Creates nothing."""
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
        """The live generation's documents, chunks, vectors and tokens (empty if none yet); InputError if it was
        built by another embedder (``check_compatible``)."""
        if not self.exists:
            return IndexState.empty(dim)
        with self.reading() as folder:
            self.check_compatible(embedder_id, dim, folder)
            documents, chunks, tokens = read_meta(folder / "meta.sqlite")
            vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        return IndexState(documents, chunks, vectors, tokens)

    def source(self, doc_id: str) -> bytes | None:
        """The source file of a paged document in the live generation (a PDF), None when it keeps none;
        NotFoundError when the collection has no such document."""
        with self.reading() as folder:
            con = sqlite3.connect(f"file:{folder / 'meta.sqlite'}?mode=ro", uri=True)
            try:
                row = con.execute("SELECT sha256 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
                if row is None:
                    raise NotFoundError(f"no document {doc_id!r} in collection {self.name!r}")
                has_sources = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sources'").fetchone()
                data = con.execute("SELECT data FROM sources WHERE sha256 = ?", row).fetchone() if has_sources else None
            finally:
                con.close()
        return None if data is None else bytes(data[0])

    def _next_number(self) -> int:
        """A generation number above every one on disk (time-based, so the names sort by age)."""
        taken = [int(m.group(1)) for p in self.path.glob("gen-*") if (m := _GENERATION.match(p.name))]
        return max([int(time.time() * 1000), *(n + 1 for n in taken)])

    def commit(self, state: IndexState, manifest: dict, faiss_index, bm25) -> Path:
        """Write ``state`` as a new generation and make it live atomically. Call inside ``writing()``.

        StorageError (one line: the folder, the reason, the space needed) when the disk refuses a write before
        the new generation is live; it is then removed, and the live one is as it was.
        """
        import faiss

        number = self._next_number()
        tmp = self.path / f".tmp-gen-{number}"
        final = self.path / f"gen-{number}"
        pointer = self.path / "CURRENT.tmp"
        previous = self._live_name()
        try:
            IO.mkdir(tmp)
            before = None if previous is None else self.path / previous / "meta.sqlite"
            IO.write(tmp / "meta.sqlite", lambda p: write_meta(p, state, before))
            IO.write(tmp / "vectors.npy", lambda p: np.save(p, state.vectors, allow_pickle=False))
            IO.write(tmp / "dense.faiss", lambda p: faiss.write_index(faiss_index, str(p)))
            if bm25 is not None:
                IO.write(tmp / "bm25", lambda p: bm25.save(str(p), show_progress=False))
            full_manifest = {
                "format": FORMAT_VERSION,
                "normaliser": NORMALISER_VERSION,
                "documents": len(state.documents),
                "chunks": len(state.chunks),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **manifest,
            }
            IO.write(tmp / "manifest.json", lambda p: p.write_text(json.dumps(full_manifest, indent=2)))
            _fsync_tree(tmp)
            IO.rename(tmp, final)
            IO.fsync_dir(self.path)
            IO.write(pointer, lambda p: p.write_text(final.name))
            IO.fsync_file(pointer)
            IO.replace(pointer, self.path / "CURRENT")
        except (OSError, sqlite3.Error, RuntimeError) as exc:  # faiss reports a failed write as RuntimeError
            for leftover in (tmp, final, pointer):
                with contextlib.suppress(OSError):
                    IO.remove_tree(leftover)
            raise self._storage_error(exc, state) from None
        try:
            IO.fsync_dir(self.path)
            if previous is None:
                IO.fsync_dir(self.path.parent)  # the collection folder's own entry, on its first commit
        except OSError as exc:
            log.warning("collection %r: the new generation is live but could not be flushed to disk: %s",
                        self.name, _one_line(exc))
        self._remove_retired(final.name)
        return final

    def _storage_error(self, exc: BaseException, state: IndexState) -> StorageError:
        needed = generation_bytes(state)
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

    def _sweep(self) -> None:
        """Under the writer lock: remove temp generations, ``CURRENT.tmp`` and every unheld generation not live."""
        pointer = self.path / "CURRENT.tmp"
        for stale in [*sorted(self.path.glob(".tmp-gen-*")), *([pointer] if pointer.exists() else [])]:
            with contextlib.suppress(OSError):
                IO.remove_tree(stale)
        self._remove_retired(self._live_name() or "")

    def delete(self) -> None:
        with self.writing():
            shutil.rmtree(self.path)


def list_collections(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("*") if (p / "CURRENT").is_file()) if root.is_dir() else []
