"""Scale curve of retrieval: ``python -m viqa.eval.benchmarks.scale`` prints a table and writes JSON.

Collections of 10k, 100k and 1M chunks are synthesised from real sentences (the sample report's and
the contexts of ../shared/train/vi-mrc), five per chunk, recombined at random; the report's own
chunks are added so that its gold questions have their true passages. To make 1M chunks affordable,
each sentence is embedded and tokenised once, and a chunk's vector is the normalised mean of its
sentences' vectors (its BM25 terms are theirs, concatenated): the index sees a realistic spread of
vectors without a day of embedding. Ingest time is therefore *estimated* from the throughput of a
real ingest of synthetic chunks, measured here on a small slice.

Per size: index build time, size on disk (FAISS + vectors + bm25s), resident memory added, hybrid
retrieval p50/p95 (query embedding included; ``HybridIndex`` does the work ``qa.retrieval.Retriever.search``
does, over in-memory indexes), and recall@10 of the dense index in use (``large_index`` above ``hnsw_threshold`` chunks)
against exact search, with its curve over the search breadth (HNSW efSearch, IVF nprobe).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viqa.eval.benchmarks.harness import (
    LANG_SON_GOLD,
    SAMPLE_DIR,
    TRAIN_DIR,
    XQUAD_GOLD,
    format_table,
    fresh_collection,
    latency_ms,
    read_rss_mb,
    report_collection,
    texts_kb,
    timed,
    write_json,
)
from viqa.eval.formats import load_gold
from viqa.index.ingest import ingest_documents
from viqa.index.store import IndexState, build_faiss, dense_similarity
from viqa.models.embedder import Embedder
from viqa.qa.fusion import fuse_minmax, fuse_rrf
from viqa.qa.retrieval import validate_query
from viqa.quiet import quiet_model_loading
from viqa.settings import Settings, get_settings
from viqa.text.segment import lexical_tokens, sentence_spans
from viqa.types import Document

SENTENCES_PER_CHUNK = 5
EF_SWEEP = (128, 256, 512, 1024, 2048)  # HNSW efSearch values whose recall and cost are reported
NPROBE_SWEEP = (128, 256, 512, 1024, 2048)  # IVF nprobe values, likewise


def pool_sentences(corpus: Path, train_dir: Path, limit: int, seed: int) -> list[str]:
    """Distinct sentences of 8+ syllables from the sample corpus and the SQuAD-format training contexts."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt"))]
    for path in sorted(train_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        texts += [para["context"] for art in data for para in art["paragraphs"]]
    seen: dict[str, None] = {}
    for text in texts:
        for s, e in sentence_spans(text):
            sentence = " ".join(text[s:e].split())
            if len(sentence.split()) >= 8:
                seen.setdefault(sentence)
    sentences = list(seen)
    random.Random(seed).shuffle(sentences)
    return sentences[:limit]


def pool_vectors(sentences: list[str], embedder: Embedder, cache_dir: Path) -> np.ndarray:
    """Passage vectors of the pool sentences, cached (by content) so reruns skip the embedding."""
    digest = hashlib.sha1("\n".join([embedder.id, *sentences]).encode()).hexdigest()[:12]
    path = cache_dir / f"pool-{digest}.npy"
    if path.is_file():
        return np.load(path)
    vectors = embedder.encode_passages(sentences)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path.with_suffix(".tmp.npy"), vectors)
    path.with_suffix(".tmp.npy").replace(path)
    return vectors


@dataclass(frozen=True)
class SentencePool:
    """The pool sentences' passage vectors and BM25 term ids; ``vocab`` maps a term to its id."""

    vectors: np.ndarray
    term_ids: list[list[int]]
    vocab: dict[str, int]

    @classmethod
    def of(cls, sentences: list[str], vectors: np.ndarray) -> SentencePool:
        vocab: dict[str, int] = {}
        term_ids = [[vocab.setdefault(t, len(vocab)) for t in lexical_tokens(s)] for s in sentences]
        return cls(vectors, term_ids, vocab)

    def ids_of(self, tokens: list[list[str]]) -> list[list[int]]:
        """Term ids of tokenised chunks, adding terms the pool has not seen."""
        return [[self.vocab.setdefault(t, len(self.vocab)) for t in row] for row in tokens]


@dataclass(frozen=True)
class HybridIndex:
    """A FAISS and a bm25s index over the same rows, searched as ``qa.retrieval.Retriever.search`` searches a
    collection (the same candidates, lexical terms and fusion), with no collection on disk behind them."""

    faiss_index: Any
    bm25: Any | None
    vocab: frozenset[str]

    def search(self, query: str, embedder: Embedder, settings: Settings, k: int) -> list[int]:
        """Rows of the fused top ``k`` for ``query``, best first; the query is embedded, as in the product."""
        query = validate_query(query, settings.max_query_chars)
        n = min(max(settings.candidates, k), int(self.faiss_index.ntotal))
        if n == 0:
            return []
        dense = self._dense(embedder.encode_queries([query]), n)
        lexical = self._lexical(query, n)
        if settings.fusion == "rrf":
            fused = fuse_rrf(dense, lexical, settings.rrf_k)
        else:
            fused = fuse_minmax(dense, lexical, settings.alpha)
        return sorted(fused, key=lambda r: (-fused[r], r))[:k]

    def _dense(self, vector: np.ndarray, n: int) -> dict[int, float]:
        scores, rows = self.faiss_index.search(vector, n)
        scores = dense_similarity(self.faiss_index, scores)
        return {int(r): float(s) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0}

    def _lexical(self, query: str, n: int) -> dict[int, float]:
        terms = [t for t in lexical_tokens(query) if t in self.vocab]
        if self.bm25 is None or not terms:
            return {}
        rows, scores = self.bm25.retrieve([terms], k=n, show_progress=False, n_threads=1)
        return {int(r): float(s) for r, s in zip(rows[0], scores[0], strict=True) if s > 0}


def synthesise(
    n: int, pool_vecs: np.ndarray, pool_ids: list[list[int]], rng: np.random.Generator
) -> tuple[np.ndarray, list[list[int]]]:
    """``n`` chunk vectors and BM25 term-id lists, each made of SENTENCES_PER_CHUNK random pool sentences."""
    picks = rng.integers(0, len(pool_vecs), size=(n, SENTENCES_PER_CHUNK))
    vectors = np.empty((n, pool_vecs.shape[1]), dtype=np.float32)
    for b in range(0, n, 100_000):
        v = pool_vecs[picks[b : b + 100_000]].sum(axis=1)
        vectors[b : b + 100_000] = v / np.linalg.norm(v, axis=1, keepdims=True)
    ids = [[t for p in row for t in pool_ids[p]] for row in picks.tolist()]
    return vectors, ids


def index_bm25(ids: list[list[int]], vocab: dict[str, int]) -> Any:
    """A bm25s index over chunks given as term ids."""
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return bm25


def saved_mb(faiss_index: Any, vectors: np.ndarray, bm25: Any, scratch: Path) -> float:
    """MB on disk of what a generation would hold of these indexes: FAISS, vectors and bm25s files."""
    import faiss

    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        faiss.write_index(faiss_index, f"{tmp}/dense.faiss")
        np.save(f"{tmp}/vectors.npy", vectors)
        bm25.save(f"{tmp}/bm25")
        return sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file()) / 2**20


def recall_at_10(index: Any, queries: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(recall@10 against ``truth``, mean ms of one single-query search)."""
    def one(q: np.ndarray, t: np.ndarray) -> float:
        _, rows = index.search(q[None, :], 10)
        return len(set(rows[0]) & set(t)) / 10

    found, seconds = timed(lambda: [one(q, t) for q, t in zip(queries, truth, strict=True)])
    return round(float(np.mean(found)), 4), round(seconds * 1000 / len(queries), 2)


def ef_sweep(index: Any, queries: np.ndarray, truth: np.ndarray, settings: Settings) -> dict[str, dict]:
    """recall@10 and ms per query at each ``EF_SWEEP`` efSearch of an HNSW index, or each ``NPROBE_SWEEP`` nprobe
    of an IVF one (once for another index, under "exact" for a flat one and its type's name for sq8); the index is
    left at the breadth of ``settings``."""
    import faiss

    if hasattr(index, "hnsw"):
        holder, knob, breadths, final = index.hnsw, "efSearch", EF_SWEEP, settings.hnsw_ef_search
    elif hasattr(index, "nprobe"):
        holder, knob, breadths, final = index, "nprobe", NPROBE_SWEEP, settings.ivf_nprobe
    else:
        recall, ms = recall_at_10(index, queries, truth)
        name = "exact" if isinstance(index, faiss.IndexFlat) else type(index).__name__
        return {name: {"recall@10": recall, "dense_ms": ms}}
    sweep = {}
    for breadth in breadths:
        setattr(holder, knob, breadth)
        recall, ms = recall_at_10(index, queries, truth)
        sweep[str(breadth)] = {"recall@10": recall, "dense_ms": ms}
    setattr(holder, knob, final)
    return sweep


def exact_top10(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Rows of each query's true 10 nearest vectors (exact inner product)."""
    import faiss

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    return exact.search(queries, 10)[1]


def measure(n: int, real: IndexState, pool: SentencePool, queries: list[str], embedder: Embedder,
            settings: Settings, seed: int) -> dict:
    """Build an index of ``n`` chunks (the real ones first) and measure it."""
    rss_before = read_rss_mb(os.getpid())["rss_mb"]
    vectors, ids = synthesise(n - len(real.chunks), pool.vectors, pool.term_ids, np.random.default_rng(seed))
    vectors = np.concatenate([real.vectors, vectors])
    ids = pool.ids_of(real.tokens) + ids
    faiss_index, faiss_s = timed(lambda: build_faiss(vectors, settings))
    bm25, bm25_s = timed(lambda: index_bm25(ids, pool.vocab))
    ids.clear()
    gc.collect()
    rss_after = read_rss_mb(os.getpid())["rss_mb"]
    disk_mb = saved_mb(faiss_index, vectors, bm25, settings.home)
    hybrid = HybridIndex(faiss_index, bm25, frozenset(bm25.vocab_dict))
    embedder.clear_cache()  # every size pays for embedding its queries
    latencies = [timed(lambda q=q: hybrid.search(q, embedder, settings, settings.read_k))[1] * 1000 for q in queries]
    query_vectors = embedder.encode_queries(queries)
    truth = exact_top10(vectors, query_vectors)
    sweep = ef_sweep(faiss_index, query_vectors, truth, settings)
    recall, _ = recall_at_10(faiss_index, query_vectors, truth)
    lat = latency_ms(latencies)
    return {"chunks": n, "faiss": type(faiss_index).__name__, "build_faiss_s": round(faiss_s, 1),
            "build_bm25_s": round(bm25_s, 1), "disk_mb": round(disk_mb, 1),
            "ram_added_mb": round(rss_after - rss_before, 1),
            "retrieval_p50_ms": lat["p50_ms"], "retrieval_p95_ms": lat["p95_ms"], "recall@10": recall,
            "ef_sweep": sweep}


def ingest_rate(sentences: list[str], embedder: Embedder, settings: Settings, chunks: int, seed: int) -> dict:
    """KB/s and bytes per chunk of a real ingest of ``chunks`` synthetic chunk texts."""
    rng = random.Random(seed)
    texts = [" ".join(rng.sample(sentences, SENTENCES_PER_CHUNK)) for _ in range(chunks)]
    docs = [Document(f"s{i}", f"s{i}", f"synthetic#{i}", t, str(i)) for i, t in enumerate(texts)]
    coll = fresh_collection(settings, "bench-scale-ingest")
    _, seconds = timed(lambda: ingest_documents(coll, docs, embedder, settings))
    coll.delete()
    kb = texts_kb(texts)
    return {"chunks": chunks, "kb_per_s": round(kb / seconds, 1), "bytes_per_chunk": round(1024 * kb / chunks)}


def bench_queries(lang_son: Path, xquad: Path, seed: int, total: int = 100) -> list[str]:
    """The report's gold questions, topped up to ``total`` with a seeded sample of XQuAD-vi's."""
    queries = [it.question for it in load_gold(lang_son)]
    extra = random.Random(seed).sample(load_gold(xquad), max(0, total - len(queries)))
    return queries + [it.question for it in extra]


def rows_table(rows: list[dict]) -> str:
    """One row per size; build is FAISS + BM25, ingest hours are estimated."""
    cells = [[r["chunks"], r["faiss"], r["build_faiss_s"] + r["build_bm25_s"], r["disk_mb"], r["ram_added_mb"],
              r["retrieval_p50_ms"], r["retrieval_p95_ms"], r["recall@10"], r["ingest_estimated_h"]] for r in rows]
    return format_table(["chunks", "index", "build s", "disk MB", "RAM MB", "p50 ms", "p95 ms", "R@10", "ingest h*"],
                        cells)


def sweep_table(rows: list[dict]) -> str:
    """recall@10 and dense search cost by search breadth (HNSW efSearch, IVF nprobe), one row per (size, breadth)."""
    cells = [[r["chunks"], r["faiss"], b, v["recall@10"], v["dense_ms"]]
             for r in rows if len(r["ef_sweep"]) > 1 for b, v in r["ef_sweep"].items()]
    return format_table(["chunks", "index", "efSearch / nprobe", "R@10", "dense ms"], cells)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.scale", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--pool", type=int, default=6000, help="distinct sentences to recombine")
    p.add_argument("--ingest-chunks", type=int, default=150, help="synthetic chunks for the ingest-rate slice")
    p.add_argument("--corpus", type=Path, default=SAMPLE_DIR)
    p.add_argument("--train-dir", type=Path, default=TRAIN_DIR)
    p.add_argument("--gold", type=Path, default=LANG_SON_GOLD)
    p.add_argument("--xquad", type=Path, default=XQUAD_GOLD)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/bench/scale.json"))
    args = p.parse_args(argv)
    quiet_model_loading()
    settings = get_settings()
    embedder = Embedder.from_settings(settings).load()
    sentences = pool_sentences(args.corpus, args.train_dir, args.pool, args.seed)
    pool, pool_s = timed(lambda: SentencePool.of(sentences, pool_vectors(sentences, embedder, settings.home / "bench")))
    real = report_collection(settings, embedder, args.corpus).read_state(embedder.id, embedder.dim)
    queries = bench_queries(args.gold, args.xquad, args.seed)
    ingest = ingest_rate(sentences, embedder, settings, args.ingest_chunks, args.seed)
    rows = []
    for n in args.sizes:
        rows.append(measure(n, real, pool, queries, embedder, settings, args.seed))
        print(json.dumps(rows[-1]), flush=True)
    for row in rows:
        seconds = row["chunks"] * ingest["bytes_per_chunk"] / 1024 / ingest["kb_per_s"]
        row["ingest_estimated_h"] = round(seconds / 3600, 2)
    write_json(args.out, {"pool_sentences": len(sentences), "pool_embed_s": round(pool_s, 1), "ingest": ingest,
                          "queries": len(queries), "rows": rows})
    print(f"ingest (measured on {ingest['chunks']} synthetic chunks): {ingest['kb_per_s']} KB/s, "
          f"{ingest['bytes_per_chunk']} bytes/chunk")
    print(rows_table(rows))
    print("* estimated from the measured ingest rate; retrieval includes embedding the query")
    if any(len(r["ef_sweep"]) > 1 for r in rows):
        print(sweep_table(rows))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
