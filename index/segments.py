"""One segment: an immutable folder of plain files holding some documents and all their passages.

    seg-<n>/meta.sqlite     documents (text included), sources (PDF files, by sha256), chunks (offsets, heading,
                            footnote links, BM25 terms); chunk ``row`` i is passage i of the segment
            vectors.npy     float32 (rows, dim): passage i's vector
            dense.faiss     FAISS index over vectors.npy, ids = rows
            bm25/           bm25s index over the rows' terms (absent when there is not one term)
            lengths.npy     int32 (rows,): passage i's number of BM25 terms
            segment.json    format, embedder, dim, rows, documents, FAISS kind, a random id

Nothing in a segment changes once it is written: deletions are the generation's tombstones (``store``). A
generation of an older viqa (``gen-<n>/`` with meta.sqlite, vectors.npy, dense.faiss, bm25/, manifest.json, no
lengths.npy) has the same files and reads as one segment.

``SegmentReader`` reads a segment for search: documents without their text (for filters), each document's rows,
then, for the hits only, chunks and documents from SQLite. It keeps the database open (read-only, immutable), so
it keeps reading the same files after a writer has removed the folder.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viqa.index import npy
from viqa.index.lexical import LexicalIndex
from viqa.types import Chunk, Document

SCHEMA = """
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, title TEXT, path TEXT, sha256 TEXT, text TEXT, date TEXT, tags TEXT,
                        pages TEXT, format TEXT);
CREATE TABLE sources (sha256 TEXT PRIMARY KEY, data BLOB);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE, doc_id TEXT, clean TEXT, clean_start BLOB, clean_end BLOB,
    char_start INTEGER, char_end INTEGER, heading_path TEXT, kind TEXT, footnotes TEXT, cited_by TEXT,
    tokens TEXT
);
"""
_CHUNK_COLUMNS = ("row, chunk_id, doc_id, clean, clean_start, clean_end, char_start, char_end, heading_path, kind,"
                  " footnotes, cited_by, tokens")
_HEADER = "doc_id, title, path, sha256, {date}, {tags}, {pages}, {format}"


@dataclass
class IndexState:
    """Documents, chunks, vectors and tokens held in memory: what a new segment is written from (``tokens[i]``
    are chunk ``i``'s BM25 terms)."""

    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    tokens: list[list[str]]

    @classmethod
    def empty(cls, dim: int) -> IndexState:
        return cls({}, [], np.zeros((0, dim), dtype=np.float32), [])


def _document_fields(con: sqlite3.Connection, schema: str = "main") -> dict[str, str]:
    """SQL for the columns an older database may lack (filters' date and tags, formats' pages and format)."""
    columns = {row[1] for row in con.execute(f"PRAGMA {schema}.table_info(documents)")}
    fields = {"date": "date", "tags": "tags", "pages": "pages", "format": "format"}
    defaults = {"date": "NULL", "tags": "'[]'", "pages": "'[]'", "format": "'text'"}
    return {k: (v if k in columns else defaults[k]) for k, v in fields.items()}


def _has_sources(con: sqlite3.Connection, schema: str = "main") -> bool:
    return con.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE name = 'sources'").fetchone() is not None


def _document(row: Sequence, text: str) -> Document:
    doc_id, title, path, sha256, date, tags, pages, fmt = row
    return Document(doc_id, title, path, text, sha256, date=date, tags=tuple(json.loads(tags)),
                    pages=tuple(json.loads(pages)), format=fmt)


def write_meta(path: Path, state: IndexState, previous: Sequence[Path] | Path | None = None) -> None:
    """Create ``path`` holding ``state``'s documents and chunks (rows 0…); the source files of PDFs come from the
    documents that carry them, else from the ``previous`` databases (the segments the documents were in)."""
    previous = [previous] if isinstance(previous, Path) else list(previous or [])
    con = sqlite3.connect(path)
    try:
        con.executescript(SCHEMA)
        con.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(d.doc_id, d.title, d.path, d.sha256, d.text, d.date, json.dumps(list(d.tags), ensure_ascii=False),
              json.dumps(list(d.pages)), d.format)
             for d in state.documents.values()],
        )
        carried = {d.sha256: d.source for d in state.documents.values() if d.source is not None}
        con.executemany("INSERT OR IGNORE INTO sources VALUES (?, ?)", carried.items())
        wanted = {d.sha256 for d in state.documents.values() if d.format == "pdf"} - carried.keys()
        for db in previous:
            if wanted and db.is_file():
                _copy_sources(con, db, wanted)
        con.executemany(
            f"INSERT INTO chunks ({_CHUNK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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


def _copy_sources(con: sqlite3.Connection, db: Path, wanted: set[str]) -> None:
    con.execute("ATTACH DATABASE ? AS previous", (str(db),))
    try:
        if _has_sources(con, "previous"):
            con.executemany("INSERT OR IGNORE INTO sources SELECT sha256, data FROM previous.sources WHERE sha256 = ?",
                            [(sha,) for sha in wanted])
        con.commit()
    finally:
        con.execute("DETACH DATABASE previous")


def copy_rows(path: Path, source: Path, keep: np.ndarray, first_row: int, dropped: frozenset[str]) -> None:
    """Append to database ``path`` the chunks of database ``source`` whose rows are ``keep`` (sorted), renumbered
    from ``first_row`` in order, with their documents (all of ``source``'s but ``dropped``) and those documents'
    PDF source files. Rows move as they are, in SQL: nothing is parsed."""
    con = sqlite3.connect(path)
    try:
        con.execute("ATTACH DATABASE ? AS src", (str(source),))
        fields = _document_fields(con, "src")
        con.execute("CREATE TEMP TABLE keep (old INTEGER PRIMARY KEY, new INTEGER)")
        con.executemany("INSERT INTO keep VALUES (?, ?)",
                        zip(keep.tolist(), range(first_row, first_row + len(keep)), strict=True))
        con.execute("CREATE TEMP TABLE dropped (doc_id TEXT PRIMARY KEY)")
        con.executemany("INSERT INTO dropped VALUES (?)", [(d,) for d in sorted(dropped)])
        con.execute(
            f"INSERT INTO documents SELECT doc_id, title, path, sha256, text, {fields['date']}, {fields['tags']},"
            f" {fields['pages']}, {fields['format']} FROM src.documents"
            " WHERE doc_id NOT IN (SELECT doc_id FROM dropped)"
        )
        if _has_sources(con, "src"):
            con.execute("INSERT OR IGNORE INTO sources SELECT sha256, data FROM src.sources WHERE sha256 IN"
                        " (SELECT sha256 FROM main.documents)")
        con.execute(
            f"INSERT INTO chunks ({_CHUNK_COLUMNS}) SELECT keep.new, chunk_id, doc_id, clean, clean_start, clean_end,"
            " char_start, char_end, heading_path, kind, footnotes, cited_by, tokens FROM src.chunks"
            " JOIN keep ON keep.old = src.chunks.row ORDER BY keep.new"
        )
        con.commit()
        con.execute("DROP TABLE keep")
        con.execute("DROP TABLE dropped")
        con.execute("DETACH DATABASE src")
    finally:
        con.close()


def read_tokens(path: Path) -> Iterator[list[str]]:
    """Every chunk's BM25 terms, row by row."""
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        for (tokens,) in con.execute("SELECT tokens FROM chunks ORDER BY row"):
            yield json.loads(tokens)
    finally:
        con.close()


def read_meta(path: Path) -> tuple[dict[str, Document], list[Chunk], list[list[str]]]:
    """All of a database's documents, chunks (as Python objects: heavy, about 60 KB a chunk) and tokens."""
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        header = _HEADER.format(**_document_fields(con))
        documents = {row[0]: _document(row[:8], row[8]) for row in con.execute(f"SELECT {header}, text FROM documents")}
        chunks, tokens = [], []
        for row in con.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks ORDER BY row"):
            chunks.append(_chunk(row[1:12], documents[row[2]].text[row[6]:row[7]]))
            tokens.append(json.loads(row[12]))
        return documents, chunks, tokens
    finally:
        con.close()


def _chunk(row: Sequence, text: str) -> Chunk:
    cid, doc_id, clean, cs, ce, start, end, heading, kind, fns, cited = row
    return Chunk(chunk_id=cid, doc_id=doc_id, text=text, clean=clean,
                 clean_start=tuple(np.frombuffer(cs, dtype=np.int64).tolist()),
                 clean_end=tuple(np.frombuffer(ce, dtype=np.int64).tolist()),
                 char_start=start, char_end=end, heading_path=heading, kind=kind,
                 footnotes=tuple(json.loads(fns)), cited_by=tuple(json.loads(cited)))


def segment_info(folder: Path) -> dict:
    """A segment's segment.json; for an older viqa's generation, the same facts from its manifest.json."""
    info = folder / "segment.json"
    if info.is_file():
        return json.loads(info.read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    return {"format": manifest.get("format"), "embedder": manifest.get("embedder"), "dim": manifest.get("dim"),
            "rows": manifest.get("chunks", 0), "documents": manifest.get("documents", 0),
            "faiss": manifest.get("faiss"), "id": f"legacy:{folder.name}:{manifest.get('created')}"}


def lengths_of(folder: Path) -> np.ndarray:
    """Each row's number of BM25 terms: lengths.npy, or counted from the terms (an older viqa's generation)."""
    path = folder / "lengths.npy"
    if path.is_file():
        return npy.load(path)
    return np.asarray([len(t) for t in read_tokens(folder / "meta.sqlite")], dtype=np.int32)


class SegmentReader:
    """Read access to one segment (see the module docstring); thread-safe, cheap to keep open.

    >>> seg = SegmentReader(collection.path / "seg-1700000000000")
    >>> seg.chunks([0, 7])[7].text          # read from disk, for these rows only
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.info = segment_info(folder)
        self.id: str = self.info["id"]
        self._lock = threading.Lock()
        self._con = sqlite3.connect(f"{(folder / 'meta.sqlite').resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                    check_same_thread=False)
        self._header = _HEADER.format(**_document_fields(self._con))
        self.rows: int = self._con.execute("SELECT count(*) FROM chunks").fetchone()[0]

    @staticmethod
    def id_of(folder: Path) -> str:
        """The segment's id (segment.json's random id), without opening it."""
        return segment_info(folder)["id"]

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def _query(self, sql: str, args: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._con.execute(sql, args).fetchall()

    def headers(self) -> dict[str, Document]:
        """Every document of the segment without its text (``text == ""``): what filters read."""
        return {row[0]: _document(row, "") for row in self._query(f"SELECT {self._header} FROM documents")}

    def rows_by_document(self) -> dict[str, np.ndarray]:
        """Each document's rows, in order."""
        pairs = self._query("SELECT doc_id, row FROM chunks ORDER BY doc_id, row")
        out: dict[str, list[int]] = {}
        for doc_id, row in pairs:
            out.setdefault(doc_id, []).append(row)
        return {doc_id: np.asarray(rows, dtype=np.int64) for doc_id, rows in out.items()}

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        """The chunks of ``rows``, their text cut from their document's in SQL (``text[char_start:char_end]``)."""
        rows = [int(r) for r in rows]
        out: dict[int, Chunk] = {}
        for start in range(0, len(rows), 500):  # SQLite takes a bounded number of parameters
            batch = rows[start : start + 500]
            found = self._query(
                "SELECT c.row, c.chunk_id, c.doc_id, c.clean, c.clean_start, c.clean_end, c.char_start, c.char_end,"
                " c.heading_path, c.kind, c.footnotes, c.cited_by,"
                " substr(d.text, c.char_start + 1, c.char_end - c.char_start) FROM chunks c"
                f" JOIN documents d ON d.doc_id = c.doc_id WHERE c.row IN ({', '.join('?' * len(batch))})", batch)
            out.update((row[0], _chunk(row[1:12], row[12])) for row in found)
        return out

    def sizes(self) -> dict[str, int]:
        """Each document's length in characters, counted by SQLite (no text leaves the database)."""
        return dict(self._query("SELECT doc_id, length(text) FROM documents"))

    def header(self, doc_id: str) -> Document | None:
        """Document ``doc_id`` without its text, None when the segment has none of that id."""
        found = self._query(f"SELECT {self._header} FROM documents WHERE doc_id = ?", (doc_id,))
        return _document(found[0], "") if found else None

    def document(self, doc_id: str) -> Document | None:
        found = self._query(f"SELECT {self._header}, text FROM documents WHERE doc_id = ?", (doc_id,))
        return _document(found[0][:8], found[0][8]) if found else None

    def source(self, sha256: str) -> bytes | None:
        """The source file stored under ``sha256`` (a PDF), None when the segment keeps none."""
        with self._lock:
            if not _has_sources(self._con):
                return None
            found = self._con.execute("SELECT data FROM sources WHERE sha256 = ?", (sha256,)).fetchone()
        return None if found is None else bytes(found[0])

    def vectors(self) -> np.ndarray:
        """The rows' vectors, memory-mapped."""
        return npy.load(self.folder / "vectors.npy", mmap=True)

    def dense(self, ef_search: int, nprobe: int):
        """The FAISS index, read into memory (HNSW searches with ``ef_search``, IVF visits ``nprobe`` lists)."""
        import faiss

        index = faiss.read_index(str(self.folder / "dense.faiss"))
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = ef_search  # the setting now, not the one at build time
        if hasattr(index, "nprobe"):
            index.nprobe = nprobe
        return index

    def lexical(self) -> LexicalIndex | None:
        """The bm25s index, memory-mapped (None when the segment has not one term)."""
        folder = self.folder / "bm25"
        return LexicalIndex.load(folder, lengths_of(self.folder)) if folder.is_dir() else None


class LazyDocuments(Mapping[str, Document]):
    """The live documents by id, text included, each read from its segment when asked; the ``keep`` most recently
    read are kept in memory. Iterating lists the ids without reading anything."""

    def __init__(self, owners: dict[str, SegmentReader], keep: int = 32) -> None:
        self._owners = owners
        self._keep = keep
        self._recent: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, doc_id: str) -> Document:
        with self._lock:
            if doc_id in self._recent:
                self._recent.move_to_end(doc_id)
                return self._recent[doc_id]
        doc = self._owners[doc_id].document(doc_id)
        if doc is None:
            raise KeyError(doc_id)
        with self._lock:
            self._recent[doc_id] = doc
            while len(self._recent) > self._keep:
                self._recent.popitem(last=False)
        return doc

    def listing(self) -> list[tuple[Document, int]]:
        """(document without its text, its length in characters) of every live document, by id: nothing read
        but the segments' document tables."""
        by_segment: dict[int, SegmentReader] = {id(r): r for r in self._owners.values()}
        found: dict[str, tuple[Document, int]] = {}
        for reader in by_segment.values():
            headers, sizes = reader.headers(), reader.sizes()
            found.update((d, (headers[d], sizes[d])) for d in headers if self._owners.get(d) is reader)
        return [found[d] for d in sorted(found)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._owners)

    def __len__(self) -> int:
        return len(self._owners)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._owners
