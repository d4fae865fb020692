"""A collection held in Milvus (``VIQA_STORE=milvus``): Milvus Lite in a file, or a Milvus server or cluster.

``VIQA_MILVUS_URI`` is a path (Milvus Lite, embedded: one process at a time) or ``http://host:19530`` (a server,
which any number of viqa processes share). Each viqa collection is two Milvus collections, and one row of a third:

    viqa_collections        name → the manifest (embedder, dim, chunking, counts, version): written last by a change
    viqa_c_<name>           one row per passage: its vector, its BM25 terms (our own underthesea words, joined by
                            spaces, through Milvus's BM25 function), offsets, heading, footnote links
    viqa_d_<name>           one row per document header, and its text (and a PDF's bytes) in pieces of at most
                            64 KB, as Milvus's VARCHAR takes them

Every row carries the ``batch`` of the change that wrote it, and a document's header names its live batch. A change
inserts its passages and pieces first, then upserts the headers (the commit point), then the manifest, then
deletes the rows it replaced: a reader never sees half a document (rows of a batch no header names are skipped),
and ``recover`` removes what an interrupted change left. One writer per collection at a time: a file lock
serialises the writers of one machine; the service's job queue is the one writer of a deployment.

Search is Milvus's own: dense by inner product on the unit vectors, BM25 with k1 and b as bm25s uses them (Milvus
keeps the collection-wide statistics). ``qa.milvus_retrieval`` fuses the two as the file store does.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from viqa.errors import InputError, NotFoundError, StoreUnavailableError
from viqa.index.segments import IndexState
from viqa.index.store import validate_name
from viqa.settings import Settings
from viqa.text.normalise import NORMALISER_VERSION
from viqa.types import Chunk, Document

FORMAT = "milvus-1"
REGISTRY = "viqa_collections"
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's, as the file store scores
PIECE_CHARS = 16_000  # at most 64,000 bytes of UTF-8: Milvus's VARCHAR holds 65,535
_VARCHAR = 65_535
_BATCH_ROWS = 500  # rows per insert, and ids per `in [...]` filter
_HEADER_FIELDS = ("title", "path", "sha256", "date", "tags", "pages", "format")
_CHUNK_FIELDS = ["chunk_id", "doc_id", "batch", "clean", "text", "clean_start", "clean_end", "char_start",
                 "char_end", "heading_path", "kind", "footnotes", "cited_by"]


def milvus_uri(settings: Settings) -> str:
    """``settings.milvus_uri``, else the Milvus Lite file ``<home>/milvus.db``."""
    return settings.milvus_uri or str(settings.home / "milvus.db")


def _one_line(exc: BaseException) -> str:
    """A failure in one short line: pymilvus's own message when it has one."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message).splitlines()[0][:300]


def single_process(settings: Settings) -> bool:
    """Whether the settings' store opens in one process only: Milvus Lite (a path, not a server's URI)."""
    return settings.store == "milvus" and "://" not in milvus_uri(settings)


class _Guarded:
    """A ``MilvusClient`` whose failures are StoreUnavailableError in one line, and whose collections are loaded
    (into Milvus's memory) before their first use in this process."""

    def __init__(self, client, uri: str) -> None:
        self._client, self._uri, self._loaded = client, uri, set()

    def ready(self, collection: str) -> None:
        if collection not in self._loaded:
            self._call("load_collection", collection)
            self._loaded.add(collection)

    def rows(self, collection: str, filter: str, fields: list[str]) -> list[dict]:
        """Every row of ``collection`` matching ``filter``, through an iterator (a query stops at 16,384 rows)."""

        def read() -> list[dict]:
            iterator = self._client.query_iterator(collection, filter=filter, output_fields=fields, batch_size=1000)
            rows: list[dict] = []
            try:
                while batch := iterator.next():
                    rows += batch
            finally:
                iterator.close()
            return rows

        return self._call(read)

    def _call(self, name: str | Callable, *args, **kwargs):
        try:
            return (getattr(self._client, name) if isinstance(name, str) else name)(*args, **kwargs)
        except Exception as exc:  # pymilvus and grpc raise their own types for every failure
            raise StoreUnavailableError(f"Milvus at {self._uri} failed: {_one_line(exc)}") from exc

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)


@lru_cache(maxsize=8)
def _client(uri: str, token: str) -> _Guarded:
    from pymilvus import MilvusClient

    for noisy in ("pymilvus", "grpc._server"):  # each failed call is raised as one line instead
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    if "://" not in uri:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return _Guarded(MilvusClient(uri=uri, token=token), uri)
    except Exception as exc:
        raise StoreUnavailableError(f"cannot open Milvus at {uri}: {_one_line(exc)}") from exc


def connect(settings: Settings) -> _Guarded:
    """The process's Milvus client for the settings' URI (one per URI); InputError when pymilvus is missing,
    StoreUnavailableError when Milvus cannot be opened."""
    try:
        import pymilvus  # noqa: F401
    except ImportError:
        raise InputError("VIQA_STORE=milvus needs pymilvus: pip install -e '.[scale]'") from None
    return _client(milvus_uri(settings), settings.milvus_token or "")


def milvus_name(name: str) -> str:
    """A viqa collection name as Milvus spells names (letters, digits, ``_``), one to one."""
    return name.replace("_", "__").replace(".", "_d").replace("-", "_h")


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _in(field: str, values: Sequence) -> str:
    return f"{field} in [{', '.join(_quote(v) if isinstance(v, str) else str(int(v)) for v in values)}]"


def _pieces(text: str, size: int = PIECE_CHARS) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _ids_of(batch: int, count: int) -> np.ndarray:
    """Passage ids of a change: its batch (milliseconds) shifted by 20 bits, plus the passage's place in it."""
    return (batch << 20) + np.arange(count, dtype=np.int64)


class MilvusCollection:
    """A named collection in Milvus; cheap to construct, nothing is read until asked. See the module docstring.

    >>> coll = MilvusCollection(connect(settings), "default", settings)
    >>> coll.search_dense(vector, 10)              # Milvus hits: id, distance (the cosine), entity
    """

    def __init__(self, client, name: str, settings: Settings) -> None:
        self.client = client
        self.name = validate_name(name)
        self.settings = settings
        self.chunks_name = f"viqa_c_{milvus_name(name)}"
        self.docs_name = f"viqa_d_{milvus_name(name)}"
        self._write_lock = threading.Lock()

    # ---- the manifest ----------------------------------------------------------------------------------------

    def _registry(self) -> None:
        from pymilvus import DataType

        if self.client.has_collection(REGISTRY):
            return
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("name", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("manifest", DataType.VARCHAR, max_length=_VARCHAR)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        index = self.client.prepare_index_params()
        index.add_index("unused", index_type="FLAT", metric_type="L2")
        self.client.create_collection(REGISTRY, schema=schema, index_params=index)

    def _manifest_row(self) -> dict | None:
        if not self.client.has_collection(REGISTRY):
            return None
        self.client.ready(REGISTRY)
        rows = self.client.query(REGISTRY, filter=f"name == {_quote(self.name)}", output_fields=["manifest"])
        return json.loads(rows[0]["manifest"]) if rows else None

    @property
    def exists(self) -> bool:
        return self.version() > 0

    def manifest(self) -> dict:
        """``documents`` and ``chunks`` (live counts), ``embedder``, ``dim``, ``chunking``, ``version``…;
        NotFoundError when nothing was ever committed."""
        manifest = self._manifest_row()
        if manifest is None or not manifest.get("version"):
            raise NotFoundError(
                f"collection {self.name!r} has no index yet: run `viqa ingest PATH --collection {self.name}`")
        return manifest

    def version(self) -> int:
        """A number that changes with every committed change (0: nothing committed)."""
        return self.state()[0]

    def state(self) -> tuple[int, int | None]:
        """(version, the batch of a change not yet live, whose rows searches must skip; None when there is none)."""
        manifest = self._manifest_row() or {}
        return int(manifest.get("version", 0)), manifest.get("hidden")

    def check_compatible(self, embedder_id: str, dim: int) -> None:
        """InputError naming both values when the collection holds vectors of another embedder or dimension, or
        text of another normaliser."""
        manifest = self.manifest()
        expected = {"format": FORMAT, "normaliser": NORMALISER_VERSION, "embedder": embedder_id, "dim": dim}
        for key, want in expected.items():
            if manifest.get(key) != want:
                raise InputError(f"collection {self.name!r} was built with {key} {manifest.get(key)!r}, but this "
                                 f"viqa uses {want!r}; ingest its documents into a new collection")

    # ---- schema ------------------------------------------------------------------------------------------------

    def _create(self, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self.client
        if not client.has_collection(self.chunks_name):
            schema = client.create_schema(auto_id=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("batch", DataType.INT64)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
            schema.add_field("chunk_id", DataType.VARCHAR, max_length=1024)
            for name in ("clean", "text", "clean_start", "clean_end", "heading_path", "footnotes", "cited_by"):
                schema.add_field(name, DataType.VARCHAR, max_length=_VARCHAR)
            schema.add_field("char_start", DataType.INT64)
            schema.add_field("char_end", DataType.INT64)
            schema.add_field("kind", DataType.VARCHAR, max_length=16)
            schema.add_field("terms", DataType.VARCHAR, max_length=_VARCHAR, enable_analyzer=True,
                             analyzer_params={"tokenizer": "standard"})  # splits at spaces, keeps "kim_ngạch" whole
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                         output_field_names=["sparse"]))
            index = client.prepare_index_params()
            index.add_index("dense", index_type=self.settings.milvus_index, metric_type="IP")
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
            client.create_collection(self.chunks_name, schema=schema, index_params=index)
        if not client.has_collection(self.docs_name):
            schema = client.create_schema(auto_id=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=1024)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
            schema.add_field("batch", DataType.INT64)
            schema.add_field("kind", DataType.VARCHAR, max_length=16)  # header, text or source
            schema.add_field("n", DataType.INT64)
            schema.add_field("data", DataType.VARCHAR, max_length=_VARCHAR)
            schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
            index = client.prepare_index_params()
            index.add_index("unused", index_type="FLAT", metric_type="L2")
            client.create_collection(self.docs_name, schema=schema, index_params=index)

    # ---- reading -----------------------------------------------------------------------------------------------

    def _query(self, collection: str, filter: str, fields: list[str]) -> list[dict]:
        """Every row matching ``filter`` (through an iterator: a query alone stops at 16,384 rows)."""
        if not self.client.has_collection(collection):
            return []
        self.client.ready(collection)
        return self.client.rows(collection, filter, fields)

    def headers(self) -> dict[str, tuple[Document, int]]:
        """Every live document without its text (``text == ""``), with its live batch, by id."""
        out = {}
        for row in self._query(self.docs_name, 'kind == "header"', ["doc_id", "batch", "data"]):
            facts = json.loads(row["data"])
            doc = Document(row["doc_id"], facts["title"], facts["path"], "", facts["sha256"], date=facts["date"],
                           tags=tuple(facts["tags"]), pages=tuple(facts["pages"]), format=facts["format"])
            out[row["doc_id"]] = (doc, int(row["batch"]))
        return out

    def sizes(self) -> dict[str, tuple[int, int]]:
        """Each live document's (length in characters, passages), by id: no text is read."""
        rows = self._query(self.docs_name, 'kind == "header"', ["doc_id", "data"])
        return {r["doc_id"]: (int((f := json.loads(r["data"]))["chars"]), int(f["passages"])) for r in rows}

    def live_passage_ids(self, live: dict[str, int]) -> list[int]:
        """Every live passage's id, in order (``live``: each live document's batch)."""
        rows = self._query(self.chunks_name, "id >= 0", ["id", "doc_id", "batch"])
        return sorted(int(r["id"]) for r in rows if live.get(r["doc_id"]) == r["batch"])

    def _piece_text(self, doc_id: str, batch: int, kind: str) -> str | None:
        rows = self._query(self.docs_name, f"doc_id == {_quote(doc_id)} and batch == {batch} and kind == "
                           f"{_quote(kind)}", ["n", "data"])
        return "".join(r["data"] for r in sorted(rows, key=lambda r: r["n"])) if rows else None

    def document(self, doc_id: str) -> Document | None:
        """Document ``doc_id`` with its text; None when the collection has none of that id."""
        found = self._query(self.docs_name, f'kind == "header" and doc_id == {_quote(doc_id)}',
                            ["doc_id", "batch", "data"])
        if not found:
            return None
        facts, batch = json.loads(found[0]["data"]), int(found[0]["batch"])
        return Document(doc_id, facts["title"], facts["path"], self._piece_text(doc_id, batch, "text") or "",
                        facts["sha256"], date=facts["date"], tags=tuple(facts["tags"]), pages=tuple(facts["pages"]),
                        format=facts["format"])

    def source(self, doc_id: str) -> bytes | None:
        """The source file of a paged document (a PDF), None when it keeps none; NotFoundError when the
        collection has no such document."""
        found = self._query(self.docs_name, f'kind == "header" and doc_id == {_quote(doc_id)}', ["batch"])
        if not found:
            raise NotFoundError(f"no document {doc_id!r} in collection {self.name!r}")
        data = self._piece_text(doc_id, int(found[0]["batch"]), "source")
        return None if data is None else base64.b64decode(data)

    def chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        """The passages ``ids``, by id."""
        out: dict[int, Chunk] = {}
        ids = [int(i) for i in ids]
        self.client.ready(self.chunks_name)
        for start in range(0, len(ids), _BATCH_ROWS):
            for row in self.client.get(self.chunks_name, ids=ids[start : start + _BATCH_ROWS],
                                       output_fields=_CHUNK_FIELDS):
                out[int(row["id"])] = Chunk(
                    chunk_id=row["chunk_id"], doc_id=row["doc_id"], text=row["text"], clean=row["clean"],
                    clean_start=tuple(json.loads(row["clean_start"])), clean_end=tuple(json.loads(row["clean_end"])),
                    char_start=int(row["char_start"]), char_end=int(row["char_end"]),
                    heading_path=row["heading_path"], kind=row["kind"], footnotes=tuple(json.loads(row["footnotes"])),
                    cited_by=tuple(json.loads(row["cited_by"])))
        return out

    def _search(self, data: list, field: str, n: int, doc_ids: Sequence[str] | None, hidden: int | None,
                params: dict) -> list[dict]:
        terms = ([] if doc_ids is None else [_in("doc_id", sorted(doc_ids))]) + (
            [] if hidden is None else [f"batch != {int(hidden)}"])
        expr = " and ".join(terms)
        self.client.ready(self.chunks_name)
        found = self.client.search(self.chunks_name, data=data, anns_field=field, limit=n, filter=expr,
                                   output_fields=["doc_id", "batch"], search_params=params)
        return list(found[0])

    def search_dense(self, vector: np.ndarray, n: int, doc_ids: Sequence[str] | None = None,
                     hidden: int | None = None) -> list[dict]:
        """The ``n`` nearest passages to the unit ``vector`` (of the documents ``doc_ids``, None: all; never of
        batch ``hidden``), as Milvus hits (``id``, ``distance`` the cosine, ``entity`` with ``doc_id`` and
        ``batch``)."""
        params = {"metric_type": "IP", "params": {"ef": max(self.settings.hnsw_ef_search, n)}}
        return self._search([np.asarray(vector, dtype=np.float32).tolist()], "dense", n, doc_ids, hidden, params)

    def search_lexical(self, terms: Sequence[str], n: int, doc_ids: Sequence[str] | None = None,
                       hidden: int | None = None) -> list[dict]:
        """The ``n`` best passages by BM25 for the query ``terms`` (already segmented), as Milvus hits, the score
        in ``distance``: Milvus's BM25, which is bm25s's (Lucene's) times ``1 + BM25_K1``, its sign as the server
        reports it."""
        if not terms:
            return []
        return self._search([" ".join(terms)], "sparse", n, doc_ids, hidden, {"metric_type": "BM25"})

    def count(self) -> int:
        """Live passages (from the manifest)."""
        manifest = self._manifest_row()
        return 0 if manifest is None else int(manifest["chunks"])

    # ---- writing -----------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive writer lock for this collection on this machine (threads and processes); on entry, what an
        interrupted writer left is removed."""
        lock_dir = self.settings.home / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with self._write_lock, (lock_dir / f"milvus-{self.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._recover()
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _insert(self, collection: str, rows: list[dict]) -> None:
        for start in range(0, len(rows), _BATCH_ROWS):
            self.client.insert(collection, rows[start : start + _BATCH_ROWS])

    def _set_manifest(self, manifest: dict) -> None:
        self._registry()
        self.client.upsert(REGISTRY, [{"name": self.name, "manifest": json.dumps(manifest), "unused": [0.0, 0.0]}])

    def _begin(self, manifest: dict, **intent) -> dict:
        """Record the change about to be made (``pending``: its batch, and what it removes) so that ``recover``
        can finish or undo it, and (``hidden``) so that searches skip its rows until it is live; returns the
        manifest as it was."""
        previous = self._manifest_row() or {"documents": 0, "chunks": 0, "version": 0,
                                            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self._set_manifest({**previous, **intent})
        return previous

    def _publish(self, previous: dict, manifest: dict, documents: int, chunks: int, **intent) -> None:
        """The change's new counts and a new version (readers reload), keeping ``intent`` (None: it is done)."""
        self._set_manifest({**previous, **manifest, "format": FORMAT, "normaliser": NORMALISER_VERSION,
                            "documents": documents, "chunks": chunks, "version": int(previous["version"]) + 1,
                            "pending": None, "removing": None, "hidden": None, **intent})

    def _done(self) -> None:
        self._set_manifest({**self.manifest(), "pending": None, "removing": None})

    def put(self, state: IndexState, manifest: dict) -> int:
        """Store ``state``'s documents (new, or replacing those of the same id) with their passages, vectors and
        terms, and make them live. Returns the live passages."""
        self._create(int(state.vectors.shape[1]))
        known = self.headers()
        last = (self._manifest_row() or {}).get("last_batch", 0)
        batch = max(time.time_ns() // 1_000_000, int(last) + 1)  # ids grow with every change, and never repeat
        doc_ids = sorted(state.documents)
        replaced = self._rows_of(doc_ids, but=batch)
        previous = self._begin(manifest, pending=batch, hidden=batch, last_batch=batch + (len(state.chunks) >> 20))
        ids = _ids_of(batch, len(state.chunks))
        self._insert(self.chunks_name, [
            {"id": int(i), "batch": batch, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "clean": c.clean,
             "text": c.text, "clean_start": json.dumps(list(c.clean_start)), "clean_end": json.dumps(list(c.clean_end)),
             "char_start": c.char_start, "char_end": c.char_end, "heading_path": c.heading_path, "kind": c.kind,
             "footnotes": json.dumps(list(c.footnotes)), "cited_by": json.dumps(list(c.cited_by)),
             "terms": " ".join(terms), "dense": vector.tolist()}
            for i, c, terms, vector in zip(ids, state.chunks, state.tokens, state.vectors, strict=True)
        ])
        pieces, headers = [], []
        passages: dict[str, int] = {}
        for c in state.chunks:
            passages[c.doc_id] = passages.get(c.doc_id, 0) + 1
        for doc in state.documents.values():
            source = None if doc.source is None else base64.b64encode(doc.source).decode()
            for kind, text in (("text", doc.text), ("source", source)):
                if text is not None:
                    pieces += [self._piece(doc.doc_id, batch, kind, n, part) for n, part in enumerate(_pieces(text))]
            facts = {k: getattr(doc, k) for k in _HEADER_FIELDS} | {"chars": len(doc.text),
                                                                    "passages": passages.get(doc.doc_id, 0)}
            facts["tags"], facts["pages"] = list(doc.tags), list(doc.pages)
            headers.append(self._piece(doc.doc_id, batch, "header", 0, json.dumps(facts, ensure_ascii=False)))
        self._insert(self.docs_name, pieces)
        for start in range(0, len(headers), _BATCH_ROWS):  # each document's commit point
            self.client.upsert(self.docs_name, headers[start : start + _BATCH_ROWS])
        documents = len(known.keys() | state.documents.keys())
        chunks = int(previous["chunks"]) + len(ids) - len(replaced)
        self._publish(previous, manifest, documents, chunks, pending=batch)
        self._delete_ids(self.chunks_name, replaced)
        self._delete_rows_of(doc_ids, but=batch)
        self._done()
        return chunks

    def remove(self, doc_ids: Sequence[str], manifest: dict) -> int:
        """Delete the documents ``doc_ids`` (every one live) and their passages, ``_BATCH_ROWS`` documents a change
        (a change names what it removes in the manifest); returns the live passages."""
        doc_ids = sorted(doc_ids)
        chunks = self.count()
        for start in range(0, len(doc_ids), _BATCH_ROWS):
            chunks = self._remove(doc_ids[start : start + _BATCH_ROWS], manifest)
        return chunks

    def _remove(self, doc_ids: list[str], manifest: dict) -> int:
        gone = self._rows_of(doc_ids, but=None)
        previous = self._begin(manifest, pending=0, removing=doc_ids)
        self._delete_headers(doc_ids)
        chunks = int(previous["chunks"]) - len(gone)
        self._publish(previous, manifest, int(previous["documents"]) - len(doc_ids), chunks, pending=0,
                      removing=doc_ids)
        self._delete_ids(self.chunks_name, gone)
        self._delete_rows_of(doc_ids, but=None)
        self._done()
        return chunks

    def _rows_of(self, doc_ids: Sequence[str], but: int | None) -> list[int]:
        """The passage ids of ``doc_ids``, except those of batch ``but``."""
        ids: list[int] = []
        for start in range(0, len(doc_ids), _BATCH_ROWS):
            expr = _in("doc_id", doc_ids[start : start + _BATCH_ROWS])
            ids += [int(r["id"]) for r in self._query(self.chunks_name, expr, ["id", "batch"]) if r["batch"] != but]
        return ids

    def _delete_ids(self, collection: str, ids: Sequence[int]) -> None:
        for start in range(0, len(ids), _BATCH_ROWS):
            self.client.delete(collection, ids=list(ids[start : start + _BATCH_ROWS]))

    def _delete_headers(self, doc_ids: Sequence[str]) -> None:
        for start in range(0, len(doc_ids), _BATCH_ROWS):
            self.client.delete(self.docs_name, filter=f'kind == "header" and '
                                                      f'{_in("doc_id", doc_ids[start : start + _BATCH_ROWS])}')

    def _delete_rows_of(self, doc_ids: Sequence[str], but: int | None) -> None:
        """Delete the text and source pieces of ``doc_ids``, except those of batch ``but``."""
        for start in range(0, len(doc_ids), _BATCH_ROWS):
            expr = f'kind != "header" and {_in("doc_id", doc_ids[start : start + _BATCH_ROWS])}'
            self.client.delete(self.docs_name, filter=expr if but is None else f"{expr} and batch != {but}")

    @staticmethod
    def _piece(doc_id: str, batch: int, kind: str, n: int, data: str) -> dict:
        key = f"{doc_id}/header" if kind == "header" else f"{doc_id}/{batch}/{kind}/{n}"
        return {"key": key, "doc_id": doc_id, "batch": batch, "kind": kind, "n": n, "data": data,
                "unused": [0.0, 0.0]}

    def _recover(self) -> bool:
        """Finish or undo a change that was interrupted (the manifest's ``pending``), under the writer lock: rows of
        documents it did not make live are removed, and so are the rows it replaced; the counts are taken again.
        True if there was one."""
        manifest = self._manifest_row()
        if not manifest or manifest.get("pending") is None:
            return False
        removing = manifest.get("removing") or []
        live = {d: b for d, (_, b) in self.headers().items()}
        if removing:
            self._delete_headers(removing)
            live = {d: b for d, b in live.items() if d not in removing}
        rows = self._query(self.chunks_name, "id >= 0", ["id", "doc_id", "batch"])
        self._delete_ids(self.chunks_name, [int(r["id"]) for r in rows if live.get(r["doc_id"]) != r["batch"]])
        pieces = self._query(self.docs_name, 'kind != "header"', ["key", "doc_id", "batch"])
        stale = [p["key"] for p in pieces if live.get(p["doc_id"]) != p["batch"]]
        for start in range(0, len(stale), _BATCH_ROWS):
            self.client.delete(self.docs_name, ids=stale[start : start + _BATCH_ROWS])
        chunks = sum(1 for r in rows if live.get(r["doc_id"]) == r["batch"])
        self._set_manifest({**manifest, "documents": len(live), "chunks": chunks, "pending": None, "removing": None,
                            "hidden": None, "version": int(manifest["version"]) + 1})
        return True

    def delete(self) -> None:
        """Drop the whole collection."""
        for collection in (self.chunks_name, self.docs_name):
            if self.client.has_collection(collection):
                self.client.drop_collection(collection)
        if self.client.has_collection(REGISTRY):
            self.client.delete(REGISTRY, filter=f"name == {_quote(self.name)}")


def milvus_collections(settings: Settings) -> list[str]:
    """The names of the collections in the settings' Milvus, sorted."""
    client = connect(settings)
    if not client.has_collection(REGISTRY):
        return []
    return sorted(r["name"] for r in client.query(REGISTRY, filter='name != ""', output_fields=["name"]))

