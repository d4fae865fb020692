"""The tests' fakes: an embedder of syllables, a pipeline that answers from a few sentences, index writers that
embed nothing."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient

from viqa.api.jobs import IndexOps
from viqa.errors import NotFoundError
from viqa.index.store import Collection
from viqa.qa.retrieval import validate_query
from viqa.settings import Settings
from viqa.text.normalise import normalise_for_matching
from viqa.text.segment import syllables
from viqa.types import Alternative, Answer, Chunk, Citation, Document, Filter, Hit, IngestReport, Search

LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.7", 50000)

REPORT_TEXT = (
    "Báo cáo kinh tế - xã hội tháng 11 năm 2023\n\n"
    "Kim ngạch xuất khẩu tháng 11 ước đạt 45,6 triệu USD. "
    "Kim ngạch nhập khẩu tháng 11 ước đạt 38,2 triệu USD. "
    "Kim ngạch xuất khẩu tháng 10 đạt 41,3 triệu USD.\n"
    "Tổng đàn trâu của tỉnh có 120 nghìn con. Tổng đàn bò của tỉnh có 45 nghìn con.\n"
)
_SENTENCE = re.compile(r"[^.\n]+\.?")
_AMOUNT = re.compile(r"\d+(?:,\d+)? (?:triệu|nghìn|tỷ) (?:USD|con|đồng)")
_NOT_CONTENT = {"còn", "thì", "sao", "bao", "nhiêu", "đạt", "ước", "của", "là", "có", "thế", "vậy", "nào"}


def make_document(doc_id: str, text: str, title: str | None = None) -> Document:
    return Document(doc_id, title or text.splitlines()[0], f"{doc_id}.txt", text,
                    hashlib.sha256(text.encode()).hexdigest())


class FakeEmbedder:
    """Bag-of-syllables random projection: deterministic, instant, and similar texts get similar vectors."""

    id = "fake-syllable-projection"
    dim = 384

    def __init__(self) -> None:
        self.calls = 0

    def load(self) -> FakeEmbedder:
        return self

    @staticmethod
    def _vector(text: str) -> np.ndarray:
        v = np.zeros(FakeEmbedder.dim, dtype=np.float32)
        for syl in syllables(text):
            seed = int.from_bytes(hashlib.sha1(syl.encode()).digest()[:4], "little")
            v += np.random.default_rng(seed).standard_normal(FakeEmbedder.dim).astype(np.float32)
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.calls += len(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode_passages(texts)


def fake_embedder_for(settings: Settings) -> FakeEmbedder:
    """A FakeEmbedder, built as ``Embedder.from_settings`` builds the real one (for code that builds its own)."""
    return FakeEmbedder()


class FakePipeline:
    """Duck-types qa.pipeline.Pipeline: answers with the amount in the sentence sharing most syllables."""

    def __init__(self, settings: Settings, collections: dict[str, dict[str, Document]] | None = None) -> None:
        self.settings = settings
        self.collections = collections if collections is not None else {
            "default": {"bao-cao-thang-11": make_document("bao-cao-thang-11", REPORT_TEXT)}
        }
        self.embedder = FakeEmbedder()
        self.asked: list[tuple[str, str | None, int | None]] = []
        self.filters: list[Filter | None] = []
        self.loaded = False

    def load(self, collection: str | None = None) -> FakePipeline:
        self.loaded = True
        return self

    def _documents(self, collection: str | None) -> dict[str, Document]:
        name = collection or self.settings.default_collection
        if name not in self.collections:
            raise NotFoundError(f"collection {name!r} has no index yet")
        return self.collections[name]

    def retriever(self, collection: str | None = None) -> SimpleNamespace:
        name = collection or self.settings.default_collection
        docs = self._documents(name)
        return SimpleNamespace(documents=docs, collection=SimpleNamespace(name=name),
                               passage_counts=lambda: {doc_id: 1 for doc_id in docs},
                               listing=lambda: [(docs[d], len(docs[d].text)) for d in sorted(docs)])

    def _ranked(self, query: str, collection: str | None, where: Filter | None = None
                ) -> list[tuple[int, Document, int, int]]:
        wanted = set(syllables(query)) - _NOT_CONTENT
        scored = []
        docs = self._documents(collection).values()
        if where is not None:
            title = None if where.title is None else normalise_for_matching(where.title)
            docs = [d for d in docs if replace(where, title=title).admits(d, normalise_for_matching(d.title))]
        for doc in docs:
            for m in _SENTENCE.finditer(doc.text):
                start = m.start() + len(m.group()) - len(m.group().lstrip())
                score = len(wanted & set(syllables(m.group())))
                if score and m.group().strip():
                    scored.append((score, doc, start, m.end()))
        return sorted(scored, key=lambda s: -s[0])

    def search(
        self, query: str, collection: str | None = None, k: int | None = None, where: Filter | None = None
    ) -> Search:
        query = validate_query(query, self.settings.max_query_chars)
        self.filters.append(where)
        hits = []
        for score, doc, start, end in self._ranked(query, collection, where)[: 5 if k is None else k]:
            text = doc.text[start:end]
            chunk = Chunk(f"{doc.doc_id}:{start}", doc.doc_id, text, text, tuple(range(start, end)),
                          tuple(range(start + 1, end + 1)), start, end, doc.title)
            hits.append(Hit(chunk, float(score), None, float(score)))
        return Search(query, collection or "default", tuple(hits), {"retrieve": 1.0})

    def answer(
        self, question: str, collection: str | None = None, top_k: int | None = None, where: Filter | None = None
    ) -> Answer:
        question = validate_query(question, self.settings.max_query_chars)
        self.asked.append((question, collection, top_k))
        self.filters.append(where)
        ranked = self._ranked(question, collection, where)
        if not ranked or ranked[0][0] < 2 or not _AMOUNT.search(ranked[0][1].text[ranked[0][2]:ranked[0][3]]):
            return Answer(None, 0.9, (), {"total": 1.0})
        score, doc, start, end = ranked[0]
        amount, citation = _cited_amount(doc, start, end)
        wanted = set(syllables(question)) - _NOT_CONTENT
        confidence = min(1.0, score / max(len(wanted), 1))
        others = []  # sentences of other documents as good as the best, with another amount: the sources differ
        for other_score, other, o_start, o_end in ranked[1:]:
            found = _cited_amount(other, o_start, o_end) if _AMOUNT.search(other.text, o_start, o_end) else None
            if other_score == score and other.doc_id != doc.doc_id and found and found[0] != amount:
                others.append(Alternative(found[0], confidence, found[1]))
        return Answer(amount, confidence, (citation,), {"retrieve": 1.0, "read": 2.0, "total": 3.0},
                      tuple(others[:2]))


def _cited_amount(doc: Document, start: int, end: int) -> tuple[str, Citation]:
    """The first amount of sentence [start, end) of ``doc``, cited."""
    amount = _AMOUNT.search(doc.text, start, end)
    assert amount is not None
    return amount.group(), Citation(doc.doc_id, doc.title, f"{doc.doc_id}:{start}", amount.start(), amount.end(),
                                    doc.text[start:end], start, end)


class FakeIndex:
    """Index writers that update the fake pipeline's documents instead of embedding anything.

    ``gate``, when set, makes each job wait until the test opens it (to watch queued/running states);
    ``fail_with``, when set, is raised by the next writes.
    """

    def __init__(self, pipeline: FakePipeline) -> None:
        self.pipeline = pipeline
        self.gate: threading.Event | None = None
        self.started = threading.Event()
        self.calls: list[tuple[str, str, list[str]]] = []
        self.fail_with: Exception | None = None

    def _wait(self) -> None:
        self.started.set()
        if self.gate is not None and not self.gate.wait(timeout=10):
            raise TimeoutError("the test never opened the gate")
        if self.fail_with is not None:
            raise self.fail_with

    def ingest(self, collection: Collection, documents: list[Document], embedder: object,
               settings: Settings, replace: bool = False) -> IngestReport:
        self._wait()
        self.calls.append(("ingest", collection.name, [d.doc_id for d in documents]))
        docs = self.pipeline.collections.setdefault(collection.name, {})
        report = IngestReport()
        for doc in documents:
            old = docs.get(doc.doc_id)
            if old is not None and old.sha256 == doc.sha256:
                report.skipped.append(doc.doc_id)
                continue
            (report.replaced if old is not None else report.added).append(doc.doc_id)
            docs[doc.doc_id] = doc
        collection.path.mkdir(parents=True, exist_ok=True)
        (collection.path / "CURRENT").write_text("gen-1")
        report.chunks = len(docs)
        return report

    def delete(self, collection: Collection, doc_ids: list[str], embedder: object,
               settings: Settings) -> IngestReport:
        self._wait()
        self.calls.append(("delete", collection.name, list(doc_ids)))
        docs = self.pipeline.collections[collection.name]
        for doc_id in doc_ids:
            if doc_id not in docs:
                raise NotFoundError(f"no document {doc_id!r}")
            del docs[doc_id]
        return IngestReport(deleted=list(doc_ids), chunks=len(docs))

    @property
    def ops(self) -> IndexOps:
        return IndexOps(ingest=self.ingest, delete=self.delete)


def wait_for_job(client: TestClient, job_id: str, timeout: float = 5.0) -> dict:
    """Poll a job until it is done or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


SAME_ORIGIN = {"X-Requested-With": "viqa"}  # what the web page and scripts send with keyless writes (CSRF proof)


@contextmanager
def running(app: FastAPI, client: tuple[str, int] = LOOPBACK, wait_ready: bool = True,
            headers: dict[str, str] | None = None) -> Iterator[TestClient]:
    """A TestClient with the lifespan started (and, by default, the fake models loaded), sending ``headers``
    (by default SAME_ORIGIN, as the web page does) with every request."""
    with TestClient(app, client=client, headers=SAME_ORIGIN if headers is None else headers) as test_client:
        if wait_ready:
            assert app.state.service.ready.wait(timeout=5), "the fake pipeline never became ready"
        yield test_client
