"""A collection on disk: immutable generations of plain files, and a ``CURRENT`` pointer swapped atomically.

    collections/<name>/CURRENT          the name of the live generation
    collections/<name>/gen-<n>/         manifest.json, meta.sqlite (documents, chunks, BM25 tokens),
                                        vectors.npy, dense.faiss, bm25/ (bm25s files)

A writer builds a whole new generation beside the live one, fsyncs it, then replaces ``CURRENT``; a
crash at any point leaves the previous generation live and intact. Writers take a file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viqa.errors import InputError, NotFoundError
from viqa.settings import Settings
from viqa.text.normalise import NORMALISER_VERSION
from viqa.types import Chunk, Document

FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

_SCHEMA = """
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, title TEXT, path TEXT, sha256 TEXT, text TEXT, date TEXT, tags TEXT);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, doc_id TEXT, clean TEXT, clean_start BLOB, clean_end BLOB,
    char_start INTEGER, char_end INTEGER, heading_path TEXT, kind TEXT, footnotes TEXT, cited_by TEXT,
    tokens TEXT
);
"""


def validate_name(name: str, what: str = "collection") -> str:
    """Names are plain file names (letters, digits, ``_ . -``): never a path."""
    if not _NAME.match(name) or ".." in name:
        raise InputError(f"invalid {what} name {name!r}: use letters, digits, '_', '.', '-' (max 64)")
    return name


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
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_meta(path: Path, state: IndexState) -> None:
    con = sqlite3.connect(path)
    try:
        con.executescript(_SCHEMA)
        con.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(d.doc_id, d.title, d.path, d.sha256, d.text, d.date, json.dumps(list(d.tags), ensure_ascii=False))
             for d in state.documents.values()],
        )
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
        documents = {
            row[0]: Document(*row[:5], date=row[5], tags=tuple(json.loads(row[6])))
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

    def manifest(self) -> dict:
        return json.loads((self.current_generation() / "manifest.json").read_text())

    def check_compatible(self, embedder_id: str, dim: int, folder: Path | None = None) -> None:
        """InputError naming both values when the generation (default: the live one) was written in another
        format, by another normaliser, or with vectors of another embedder or dimension."""
        manifest = json.loads(((folder or self.current_generation()) / "manifest.json").read_text())
        expected = {"format": FORMAT_VERSION, "normaliser": NORMALISER_VERSION, "embedder": embedder_id, "dim": dim}
        for key, want in expected.items():
            if manifest.get(key) != want:
                raise InputError(f"collection {self.name!r} was built with {key} {manifest.get(key)!r}, but this "
                                 f"viqa uses {want!r}; ingest its documents into a new collection")

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive writer lock (other writers wait); readers are never blocked."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read_state(self, embedder_id: str, dim: int) -> IndexState:
        """The live generation's documents, chunks, vectors and tokens (empty if none yet); InputError if it was
        built by another embedder (``check_compatible``)."""
        if not self.exists:
            return IndexState.empty(dim)
        folder = self.current_generation()
        self.check_compatible(embedder_id, dim, folder)
        documents, chunks, tokens = read_meta(folder / "meta.sqlite")
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        return IndexState(documents, chunks, vectors, tokens)

    def commit(self, state: IndexState, manifest: dict, faiss_index, bm25) -> Path:
        """Write ``state`` as a new generation and make it live atomically. Call inside ``writing()``."""
        import faiss

        self._remove_unfinished()
        number = int(time.time() * 1000)
        tmp = self.path / f".tmp-gen-{number}"
        tmp.mkdir(parents=True)
        write_meta(tmp / "meta.sqlite", state)
        np.save(tmp / "vectors.npy", state.vectors, allow_pickle=False)
        faiss.write_index(faiss_index, str(tmp / "dense.faiss"))
        if bm25 is not None:
            bm25.save(str(tmp / "bm25"), show_progress=False)
        full_manifest = {
            "format": FORMAT_VERSION,
            "normaliser": NORMALISER_VERSION,
            "documents": len(state.documents),
            "chunks": len(state.chunks),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **manifest,
        }
        (tmp / "manifest.json").write_text(json.dumps(full_manifest, indent=2))
        _fsync_tree(tmp)
        final = self.path / f"gen-{number}"
        tmp.rename(final)
        pointer = self.path / "CURRENT.tmp"
        with pointer.open("w") as fh:
            fh.write(final.name)
            fh.flush()
            os.fsync(fh.fileno())
        previous = self.current_generation().name if self.exists else None
        os.replace(pointer, self.path / "CURRENT")
        self._remove_old(keep={final.name, previous})
        return final

    def _remove_unfinished(self) -> None:
        for stale in self.path.glob(".tmp-gen-*"):
            shutil.rmtree(stale, ignore_errors=True)

    def _remove_old(self, keep: set[str | None]) -> None:
        """Drop generations older than the previous one (a reader may still be opening the previous)."""
        for folder in self.path.glob("gen-*"):
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)

    def delete(self) -> None:
        with self.writing():
            shutil.rmtree(self.path)


def list_collections(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("*") if (p / "CURRENT").is_file()) if root.is_dir() else []
