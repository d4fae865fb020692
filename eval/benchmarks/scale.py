"""Scale curve of retrieval: ``python -m viqa.eval.benchmarks.scale`` prints a table and writes JSON.

Collections of 10k, 100k and 1M chunks are synthesised from real sentences (the sample report's and
the contexts of ../shared/train/vi-mrc), five per chunk, recombined at random; the report's own
chunks are added so that its gold questions have their true passages. To make 1M chunks affordable,
each sentence is embedded and tokenised once, and a chunk's vector is the normalised mean of its
sentences' vectors (its BM25 terms are theirs, concatenated): the index sees a realistic spread of
vectors without a day of embedding. Ingest time is therefore *estimated* from the throughput of a
real ingest of synthetic chunks, measured here on a small slice.

Per size: index build time, size on disk (FAISS + vectors + bm25s), resident memory added, hybrid
retrieval p50/p95 through ``qa.retrieval.Retriever`` (query embedding included), and recall@10 of the
dense index in use (HNSW above ``hnsw_threshold`` chunks) against exact search.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from viqa.eval.benchmarks.harness import SAMPLE_DIR, SHARED
from viqa.eval.benchmarks.loadtest import read_rss_mb
from viqa.eval.benchmarks.retrieval import fresh_collection
from viqa.eval.formats import load_gold
from viqa.eval.metrics import percentile
from viqa.index.ingest import ingest_documents, ingest_paths
from viqa.index.store import Collection, build_faiss
from viqa.models.embedder import EMBEDDER_ID
from viqa.qa.pipeline import Pipeline
from viqa.qa.retrieval import Retriever, _Loaded
from viqa.quiet import quiet_model_loading
from viqa.settings import Settings, get_settings
from viqa.text.segment import lexical_tokens, sentence_spans
from viqa.types import Document

SENTENCES_PER_CHUNK = 5
EF_SWEEP = (128, 256, 512, 1024, 2048)  # HNSW efSearch values whose recall and cost are reported


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


def pool_vectors(sentences: list[str], pipe: Pipeline, cache_dir: Path) -> np.ndarray:
    """Passage vectors of the pool sentences, cached (by content) so reruns skip the embedding."""
    digest = hashlib.sha1("\n".join([EMBEDDER_ID, *sentences]).encode()).hexdigest()[:12]
    path = cache_dir / f"pool-{digest}.npy"
    if path.is_file():
        return np.load(path)
    vectors = pipe.embedder.load().encode_passages(sentences)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path.with_suffix(".tmp.npy"), vectors)
    path.with_suffix(".tmp.npy").replace(path)
    return vectors


class _Rows:
    """``loaded.chunks`` for the synthetic rows: the real report chunks first, then one shared stand-in."""

    def __init__(self, real: list, total: int) -> None:
        self.real, self.total = real, total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, row: int):
        return self.real[row] if row < len(self.real) else self.real[0]


def synthesise(n: int, pool_vecs: np.ndarray, pool_ids: list[list[int]], rng: np.random.Generator):
    """``n`` chunk vectors and BM25 term-id lists, each made of SENTENCES_PER_CHUNK random pool sentences."""
    picks = rng.integers(0, len(pool_vecs), size=(n, SENTENCES_PER_CHUNK))
    vectors = np.empty((n, pool_vecs.shape[1]), dtype=np.float32)
    for b in range(0, n, 100_000):
        v = pool_vecs[picks[b : b + 100_000]].sum(axis=1)
        vectors[b : b + 100_000] = v / np.linalg.norm(v, axis=1, keepdims=True)
    ids = [[t for p in row for t in pool_ids[p]] for row in picks.tolist()]
    return vectors, ids


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def measure(n: int, real, pool, queries: list[str], pipe: Pipeline, settings: Settings, seed: int) -> dict:
    """Build an index of ``n`` chunks (the real ones included) and measure it."""
    import bm25s
    import faiss

    real_chunks, real_vecs, real_tokens = real
    pool_vecs, pool_ids, vocab = pool
    rss_before = read_rss_mb(os.getpid())["rss_mb"]
    vectors, ids = synthesise(n - len(real_chunks), pool_vecs, pool_ids, np.random.default_rng(seed))
    vectors = np.concatenate([real_vecs, vectors])
    real_ids = [[vocab.setdefault(t, len(vocab)) for t in toks] for toks in real_tokens]
    started = time.perf_counter()
    index = build_faiss(vectors, settings.hnsw_threshold, settings.hnsw_m, settings.hnsw_ef_search)
    faiss_s = time.perf_counter() - started
    started = time.perf_counter()
    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenization.Tokenized(ids=real_ids + ids, vocab=vocab), show_progress=False)
    bm25_s = time.perf_counter() - started
    del ids
    gc.collect()
    rss_after = read_rss_mb(os.getpid())["rss_mb"]
    with tempfile.TemporaryDirectory(dir=settings.home) as tmp:
        faiss.write_index(index, f"{tmp}/dense.faiss")
        np.save(f"{tmp}/vectors.npy", vectors)
        bm25.save(f"{tmp}/bm25")
        disk_mb = dir_mb(Path(tmp))
    retriever = Retriever(Collection(settings.collections_dir, "bench-scale"), pipe.embedder, settings)
    retriever._loaded = _Loaded("synthetic", {}, _Rows(real_chunks, n), index, bm25, set(bm25.vocab_dict))
    retriever.load = lambda: retriever  # the in-memory index above, not a collection on disk
    pipe.embedder.clear_cache()  # every size pays for embedding its queries
    latencies = []
    for q in queries:
        t0 = time.perf_counter()
        retriever.search(q, k=settings.read_k)
        latencies.append((time.perf_counter() - t0) * 1000)
    qv = pipe.embedder.encode_queries(queries)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(qv, 10)
    sweep = {}
    for ef in EF_SWEEP if hasattr(index, "hnsw") else (None,):
        if ef is not None:
            index.hnsw.efSearch = ef
        recall, ms = recall_at_10(index, qv, truth)
        sweep[str(ef or "exact")] = {"recall@10": recall, "dense_ms": ms}
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = settings.hnsw_ef_search
    recall, _ = recall_at_10(index, qv, truth)
    return {"chunks": n, "faiss": type(index).__name__, "build_faiss_s": round(faiss_s, 1),
            "build_bm25_s": round(bm25_s, 1), "disk_mb": round(disk_mb, 1),
            "ram_added_mb": round(rss_after - rss_before, 1),
            "retrieval_p50_ms": round(percentile(latencies, 50), 1),
            "retrieval_p95_ms": round(percentile(latencies, 95), 1), "recall@10": recall, "ef_sweep": sweep}


def recall_at_10(index, queries: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(recall@10 against ``truth``, mean ms of one single-query search)."""
    found, started = [], time.perf_counter()
    for q, t in zip(queries, truth, strict=True):
        _, rows = index.search(q[None, :], 10)
        found.append(len(set(rows[0]) & set(t)) / 10)
    return round(float(np.mean(found)), 4), round((time.perf_counter() - started) * 1000 / len(queries), 2)


def ingest_rate(sentences: list[str], pipe: Pipeline, settings: Settings, chunks: int, seed: int) -> dict:
    """KB/s and bytes per chunk of a real ingest of ``chunks`` synthetic chunk texts."""
    rng = random.Random(seed)
    texts = [" ".join(rng.sample(sentences, SENTENCES_PER_CHUNK)) for _ in range(chunks)]
    docs = [Document(f"s{i}", f"s{i}", f"synthetic#{i}", t, str(i)) for i, t in enumerate(texts)]
    coll = fresh_collection(settings, "bench-scale-ingest")
    started = time.perf_counter()
    ingest_documents(coll, docs, pipe.embedder, settings)
    elapsed = time.perf_counter() - started
    coll.delete()
    kb = sum(len(t.encode()) for t in texts) / 1024
    return {"chunks": chunks, "kb_per_s": round(kb / elapsed, 1), "bytes_per_chunk": round(1024 * kb / chunks)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.scale", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--pool", type=int, default=6000, help="distinct sentences to recombine")
    p.add_argument("--ingest-chunks", type=int, default=150, help="synthetic chunks for the ingest-rate slice")
    p.add_argument("--corpus", type=Path, default=SAMPLE_DIR)
    p.add_argument("--train-dir", type=Path, default=SHARED / "train" / "vi-mrc")
    p.add_argument("--gold", type=Path, default=SHARED / "gold" / "lang-son-dev.jsonl")
    p.add_argument("--xquad", type=Path, default=SHARED / "gold" / "xquad-vi-dev.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/bench/scale.json"))
    args = p.parse_args(argv)
    quiet_model_loading()
    settings = get_settings()
    pipe = Pipeline(settings)
    sentences = pool_sentences(args.corpus, args.train_dir, args.pool, args.seed)
    started = time.perf_counter()
    pool_vecs = pool_vectors(sentences, pipe, settings.home / "bench")
    vocab: dict[str, int] = {}
    pool_ids = [[vocab.setdefault(t, len(vocab)) for t in lexical_tokens(s)] for s in sentences]
    pool_s = time.perf_counter() - started
    report = Collection(settings.collections_dir, "bench-lang-son")
    ingest_paths(report, [args.corpus], pipe.embedder, settings)
    state = report.read_state(pipe.embedder.dim)
    real = (state.chunks, state.vectors, state.tokens)
    queries = [it.question for it in load_gold(args.gold)]
    queries += [it.question for it in random.Random(args.seed).sample(load_gold(args.xquad), 100 - len(queries))]
    ingest = ingest_rate(sentences, pipe, settings, args.ingest_chunks, args.seed)
    rows = []
    for n in args.sizes:
        rows.append(measure(n, real, (pool_vecs, pool_ids, vocab), queries, pipe, settings, args.seed))
        print(json.dumps(rows[-1]), flush=True)
    for row in rows:
        seconds = row["chunks"] * ingest["bytes_per_chunk"] / 1024 / ingest["kb_per_s"]
        row["ingest_estimated_h"] = round(seconds / 3600, 2)
    result = {"pool_sentences": len(sentences), "pool_embed_s": round(pool_s, 1), "ingest": ingest,
              "queries": len(queries), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"ingest (measured on {ingest['chunks']} synthetic chunks): {ingest['kb_per_s']} KB/s, "
          f"{ingest['bytes_per_chunk']} bytes/chunk")
    print(f"{'chunks':>9}{'index':>16}{'build s':>9}{'disk MB':>9}{'RAM MB':>8}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'R@10':>7}{'ingest h*':>10}")
    for r in rows:
        print(f"{r['chunks']:>9}{r['faiss']:>16}{r['build_faiss_s'] + r['build_bm25_s']:>9.1f}{r['disk_mb']:>9.1f}"
              f"{r['ram_added_mb']:>8.0f}{r['retrieval_p50_ms']:>8.1f}{r['retrieval_p95_ms']:>8.1f}"
              f"{r['recall@10']:>7.3f}{r['ingest_estimated_h']:>10.2f}")
    print("* estimated from the measured ingest rate; retrieval includes embedding the query")
    for r in rows:
        if len(r["ef_sweep"]) > 1:
            cells = ", ".join(f"ef {ef}: {v['recall@10']:.3f} in {v['dense_ms']} ms" for ef, v in r["ef_sweep"].items())
            print(f"HNSW at {r['chunks']} chunks, recall@10 by efSearch: {cells}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
