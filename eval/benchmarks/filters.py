"""What a filter costs: ``python -m viqa.eval.benchmarks.filters`` times hybrid search with and without one.

A collection of ``--chunks`` passages (real sentences of the sample report and the training contexts, recombined,
spread over documents of ``--per-doc`` passages with dates and tags) is written with a hashed bag-of-syllables
embedder, so the timings are the retrieval core's alone: FAISS, BM25, fusion and the filter, without the e5
query embedding. Each query runs unfiltered and under each filter, in turn; the table gives p50/p95 and the
p50 that the filter adds.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
from pathlib import Path

import numpy as np

from viqa.eval.benchmarks.harness import (
    SAMPLE_DIR,
    TRAIN_DIR,
    format_table,
    fresh_collection,
    latency_ms,
    write_json,
)
from viqa.eval.benchmarks.scale import pool_sentences
from viqa.index.ingest import build_bm25
from viqa.index.store import IndexState, build_faiss
from viqa.qa.retrieval import Retriever
from viqa.settings import Settings, get_settings
from viqa.text.segment import syllables
from viqa.types import Chunk, Document, Filter

DIM = 384


class HashedEmbedder:
    """Bag-of-syllables random projection: instant, deterministic, similar texts get similar vectors."""

    id = "hashed-syllables"
    dim = DIM

    @staticmethod
    def _vector(text: str) -> np.ndarray:
        v = np.zeros(DIM, dtype=np.float32)
        for syl in syllables(text):
            seed = int.from_bytes(hashlib.sha1(syl.encode()).digest()[:4], "little")
            v += np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode_passages(texts)


def synthetic_state(sentences: list[str], chunks: int, per_doc: int, seed: int) -> IndexState:
    """``chunks`` passages of five sentences each, ``per_doc`` to a document; documents dated over 2023 and
    tagged by their number (every 10th "kinh-te", every 7th "van-hoa")."""
    rng = random.Random(seed)
    documents: dict[str, Document] = {}
    rows: list[Chunk] = []
    for d in range(0, chunks, per_doc):
        texts = [" ".join(rng.sample(sentences, 5)) for _ in range(min(per_doc, chunks - d))]
        body = "\n\n".join(texts)
        doc_id = f"doc-{d // per_doc}"
        tags = tuple(t for t, every in (("kinh-te", 10), ("van-hoa", 7)) if (d // per_doc) % every == 0)
        date = f"2023-{1 + (d // per_doc) % 12:02d}-15"
        documents[doc_id] = Document(doc_id, f"Báo cáo số {d // per_doc}", f"{doc_id}.txt", body,
                                     hashlib.sha256(body.encode()).hexdigest(), date, tags)
        start = 0
        for i, text in enumerate(texts):
            rows.append(Chunk(f"{doc_id}-{i}", doc_id, text, text, tuple(range(start, start + len(text))),
                              tuple(range(start + 1, start + len(text) + 1)), start, start + len(text), ""))
            start += len(text) + 2
    tokens = [[w.lower() for w in c.clean.split()] for c in rows]
    vectors = HashedEmbedder().encode_passages([c.clean for c in rows])
    return IndexState(documents, rows, vectors, tokens)


def timed_search(retriever: Retriever, queries: list[str], where: Filter | None) -> list[float]:
    """Milliseconds of each query's hybrid search under ``where``."""
    out = []
    for q in queries:
        started = time.perf_counter()
        retriever.search(q, k=5, where=where)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.filters", description=__doc__.splitlines()[0])
    p.add_argument("--chunks", type=int, default=10_000)
    p.add_argument("--per-doc", type=int, default=20)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=Path("runs/bench/filters.json"))
    args = p.parse_args(argv)
    settings: Settings = get_settings()
    sentences = pool_sentences(SAMPLE_DIR, TRAIN_DIR, 20_000, args.seed)
    state = synthetic_state(sentences, args.chunks, args.per_doc, args.seed)
    embedder = HashedEmbedder()
    coll = fresh_collection(settings, "bench-filters")
    with coll.writing():
        coll.commit(state, {"embedder": embedder.id, "dim": DIM}, build_faiss(state.vectors, settings),
                    build_bm25(state.tokens))
    retriever = Retriever(coll, embedder, settings).load()  # type: ignore[arg-type]
    queries = random.Random(args.seed).sample(sentences, args.queries)
    filters = {
        "none": None,
        "5 doc ids": Filter(doc_ids=frozenset(f"doc-{i}" for i in range(0, 50, 10))),
        "title substring": Filter(title="báo cáo số 1"),
        "tag": Filter(tags=frozenset({"kinh-te"})),
        "date range": Filter(date_from="2023-03-01", date_to="2023-05-31"),
    }
    timings: dict[str, list[float]] = {name: [] for name in filters}
    for _ in range(2):  # the first round warms caches; both rounds are kept, interleaved per filter
        for name, where in filters.items():
            timings[name] += timed_search(retriever, queries, where)
    stats = {name: latency_ms(t, ndigits=2) for name, t in timings.items()}
    result = {name: {**r, "added_p50_ms": round(r["p50_ms"] - stats["none"]["p50_ms"], 2)} for name, r in stats.items()}
    rows = [[name, r["p50_ms"], r["p95_ms"], r["added_p50_ms"]] for name, r in result.items()]
    print(f"hybrid search over {args.chunks} chunks, {args.queries} queries x 2 (retrieval core, no e5)")
    print(format_table(["filter", "p50 ms", "p95 ms", "added p50 ms"], rows, digits=2))
    write_json(args.out, {"chunks": args.chunks, "per_doc": args.per_doc, "queries": args.queries, **result})
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
