"""The Python API: one object that loads models once and answers many questions over many collections."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from functools import cached_property

from viqa.errors import ViqaError
from viqa.index.milvus import MilvusCollection
from viqa.index.stores import open_collection
from viqa.models.embedder import Embedder
from viqa.models.reader_model import ensure_reader_folder, reader_calibration, reader_weights, window_mismatch
from viqa.qa.answering import Candidate, alternatives_to, citation_for, confidence, rank_candidates, same_answer
from viqa.qa.focus import View, focus
from viqa.qa.milvus_retrieval import MilvusRetriever
from viqa.qa.reader import Reader
from viqa.qa.retrieval import Retriever, validate_query
from viqa.settings import Settings
from viqa.text.segment import sentence_spans
from viqa.types import Alternative, Answer, Filter, Search

log = logging.getLogger(__name__)


class Pipeline:
    """Retrieve and read.

    >>> from viqa import Pipeline, get_settings
    >>> pipe = Pipeline(get_settings()).load("default")
    >>> pipe.answer("Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt bao nhiêu?").text
    '440 triệu USD'
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedder = Embedder.from_settings(settings)
        self._retrievers: OrderedDict[str, Retriever] = OrderedDict()  # least recently used first
        self._retrievers_lock = threading.Lock()
        self._reader: Reader | None = None

    @property
    def reader(self) -> Reader:
        """The extractive reader, rebuilt from the reader weights on first use."""
        if self._reader is None:
            s = self.settings
            weights = reader_weights(s)
            mismatch = window_mismatch(weights, s.reader_max_length, s.reader_stride)
            if mismatch is not None:
                log.warning("%s", mismatch)
            self._reader = Reader.from_settings(s, ensure_reader_folder(weights, s.model_cache))
        return self._reader.load()

    @cached_property
    def calibration(self) -> tuple[float, float]:
        """(no-answer threshold, confidence scale): the settings' values, else those calibrated for the weights."""
        s = self.settings
        threshold, scale = reader_calibration(reader_weights(s), s.model_cache)
        return (threshold if s.null_threshold is None else s.null_threshold,
                scale if s.confidence_scale is None else s.confidence_scale)

    def load(self, collection: str | None = None) -> Pipeline:
        """Load and warm up every model (and the collection's index) now rather than on the first question."""
        self.embedder.load().encode_queries(["khởi động"])
        self.reader.read([("Khởi động bao nhiêu lần?", "Khởi động 1 lần.")])  # also loads underthesea
        sentence_spans("Khởi động. Xong.")
        if collection is not None:
            self.retriever(collection)
        return self

    def retriever(self, collection: str | None = None) -> Retriever | MilvusRetriever:
        """The retriever of a collection, loaded (again, if a newer generation went live); NotFoundError if it has
        no index, and then nothing is cached. The ``max_loaded_collections`` most recently used stay loaded."""
        name = collection or self.settings.default_collection
        with self._retrievers_lock:
            retriever = self._retrievers.get(name)
        if retriever is None:
            coll = open_collection(self.settings, name)
            if isinstance(coll, MilvusCollection):
                retriever = MilvusRetriever(coll, self.embedder, self.settings)
            else:
                coll.recover()  # what an interrupted writer left, at the first load in this process
                retriever = Retriever(coll, self.embedder, self.settings)
        try:
            retriever.load()
        except ViqaError:
            with self._retrievers_lock:
                if self._retrievers.get(name) is retriever:
                    del self._retrievers[name]
            raise
        with self._retrievers_lock:
            retriever = self._retrievers.setdefault(name, retriever)
            self._retrievers.move_to_end(name)
            while len(self._retrievers) > self.settings.max_loaded_collections:
                self._retrievers.popitem(last=False)
        return retriever

    @property
    def loaded_collections(self) -> list[str]:
        """The names of the collections held loaded, least recently used first."""
        with self._retrievers_lock:
            return list(self._retrievers)

    def search(
        self, query: str, collection: str | None = None, k: int | None = None, mode: str = "hybrid",
        where: Filter | None = None,
    ) -> Search:
        """Ranked passages with scores and offsets into the original documents (only those ``where`` admits)."""
        started = time.perf_counter()
        query = validate_query(query, self.settings.max_query_chars)
        retriever = self.retriever(collection)
        hits = retriever.search(query, k=k, mode=mode, where=where)
        elapsed = (time.perf_counter() - started) * 1000
        return Search(query, retriever.collection.name, tuple(hits), {"retrieve": elapsed})

    def answer(
        self, question: str, collection: str | None = None, top_k: int | None = None, where: Filter | None = None
    ) -> Answer:
        """The best answer span over the top passages (of the documents ``where`` admits), with citations, or an
        abstention (``text is None``)."""
        s = self.settings
        t0 = time.perf_counter()
        question = validate_query(question, s.max_query_chars)
        self.reader.check_question(question)  # before retrieval: an over-long question costs nothing
        retriever = self.retriever(collection)
        hits = retriever.search(question, k=s.read_k if top_k is None else top_k, where=where)
        t1 = time.perf_counter()
        if s.read_focus_sentences:
            views = focus(hits, question, s.read_focus_sentences)
        else:
            views = [View(h, 0, len(h.chunk.clean)) for h in hits]
        threshold, scale = self.calibration
        candidates, read = self._read(question, views, threshold)
        t2 = time.perf_counter()
        timings = {"retrieve": (t1 - t0) * 1000, "read": (t2 - t1) * 1000}
        if not candidates or candidates[0].margin < threshold:
            best_margin = candidates[0].margin if candidates else float("-inf")
            conf = 1.0 - confidence(best_margin, threshold, scale)
            timings["total"] = (time.perf_counter() - t0) * 1000
            return Answer(None, conf, (), timings)
        best = candidates[0]
        docs = retriever.documents
        citations = tuple(
            citation_for(c.hit.chunk, docs[c.hit.chunk.doc_id], c.start, c.end) for c in same_answer(candidates, best)
        )
        others = candidates + self._other_sources(question, views[read:], best)
        alternatives = tuple(
            Alternative(c.text, confidence(c.margin, threshold, scale),
                        citation_for(c.hit.chunk, docs[c.hit.chunk.doc_id], c.start, c.end))
            for c in alternatives_to(sorted(others, key=lambda c: -c.score), best, threshold, s.alternative_gap,
                                     s.max_alternatives, s.alternative_overlap)
        )
        timings["total"] = (time.perf_counter() - t0) * 1000
        return Answer(best.text, confidence(best.margin, threshold, scale), citations, timings, alternatives)

    def _read(self, question: str, views: list[View], threshold: float) -> tuple[list[Candidate], int]:
        """Ranked candidates, and how many views were read. With ``read_sure_margin`` set, views are read best
        first, one at a time, until the best answer clears ``threshold + read_sure_margin``; otherwise all at once."""
        s = self.settings
        step = 1 if s.read_sure_margin is not None else max(len(views), 1)
        candidates: list[Candidate] = []
        read = 0
        for i in range(0, len(views), step):
            batch = views[i : i + step]
            candidates += rank_candidates(batch, self.reader.read([(question, v.text) for v in batch]),
                                          s.retrieval_weight)
            candidates.sort(key=lambda c: -c.score)
            read = i + len(batch)
            if s.read_sure_margin is not None and candidates and candidates[0].margin >= threshold + s.read_sure_margin:
                break
        return candidates, read

    def _other_sources(self, question: str, unread: list[View], best: Candidate) -> list[Candidate]:
        """Candidates of the views reading stopped short of that come from other documents than the best
        answer's and were retrieved almost as well as it (``alternative_retrieval_share``): what they say."""
        s = self.settings
        if s.alternative_gap <= 0 or s.max_alternatives <= 0:
            return []
        floor = s.alternative_retrieval_share * best.hit.score
        batch = [v for v in unread if v.hit.chunk.doc_id != best.hit.chunk.doc_id and v.hit.score >= floor]
        if not batch:
            return []
        return rank_candidates(batch, self.reader.read([(question, v.text) for v in batch]), s.retrieval_weight)
