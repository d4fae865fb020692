"""Retrieval benchmark: ``python -m viqa.eval.benchmarks.retrieval`` prints a table and writes JSON.

- XQuAD-vi: every paragraph is a document; the gold paragraph of each question is the target;
  recall@1/5, MRR@10 for BM25 alone, dense alone and hybrid (min-max and RRF fusion).
- Lạng Sơn: share of answerable questions whose gold answer text is in the top-5 passages.
- Cost: ingest throughput (KB/s), peak RSS, search latency p50/p95.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from viqa.eval.benchmarks.harness import SAMPLE_DIR, SHARED
from viqa.eval.formats import load_gold
from viqa.eval.metrics import mrr_at_k, normalise_vi, percentile, recall_at_k
from viqa.index.ingest import ingest_documents, ingest_paths
from viqa.index.loading import expand_paths
from viqa.index.store import Collection
from viqa.qa.retrieval import Retriever
from viqa.quiet import quiet_model_loading
from viqa.settings import get_settings
from viqa.types import Document


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_collection(settings, name: str) -> Collection:
    """An empty collection, so that ingest is measured in full every run."""
    coll = Collection(settings.collections_dir, name)
    if coll.path.exists():
        coll.delete()
    return coll


def bench_xquad(gold: Path, settings, embedder) -> dict:
    items = load_gold(gold)
    contexts = {it.context_id: it.context for it in items}
    docs = [Document(cid, cid, f"xquad#{cid}", text, cid) for cid, text in contexts.items()]
    coll = fresh_collection(settings, "bench-xquad")
    started = time.perf_counter()
    ingest_documents(coll, docs, embedder, settings)
    ingest_s = time.perf_counter() - started
    kb = sum(len(t.encode()) for t in contexts.values()) / 1024
    retriever = Retriever(coll, embedder, settings).load()
    out: dict = {"questions": len(items), "paragraphs": len(docs), "ingest_kb_per_s": round(kb / ingest_s, 1)}
    for label, mode, fusion in (("bm25", "bm25", None), ("dense", "dense", None),
                                ("hybrid_minmax", "hybrid", "minmax"), ("hybrid_rrf", "hybrid", "rrf")):
        if fusion:
            settings.fusion = fusion
        ranks, latencies = [], []
        for it in items:
            t0 = time.perf_counter()
            hits = retriever.search(it.question, k=10, mode=mode)
            latencies.append((time.perf_counter() - t0) * 1000)
            ranks.append(next((i for i, h in enumerate(hits, 1) if h.chunk.doc_id == it.context_id), None))
        out[label] = {
            "recall@1": round(recall_at_k(ranks, 1), 4),
            "recall@5": round(recall_at_k(ranks, 5), 4),
            "mrr@10": round(mrr_at_k(ranks, 10), 4),
            "p50_ms": round(percentile(latencies, 50), 2),
            "p95_ms": round(percentile(latencies, 95), 2),
        }
    settings.fusion = "minmax"
    return out


def bench_lang_son(gold: Path, corpus: Path, settings, embedder) -> dict:
    coll = fresh_collection(settings, "bench-lang-son")
    started = time.perf_counter()
    ingest_paths(coll, [corpus], embedder, settings)
    ingest_s = time.perf_counter() - started
    retriever = Retriever(coll, embedder, settings).load()
    items = [it for it in load_gold(gold) if it.answers]
    found, latencies, missed = 0, [], []
    for it in items:
        t0 = time.perf_counter()
        hits = retriever.search(it.question, k=5)
        latencies.append((time.perf_counter() - t0) * 1000)
        text = " ".join(normalise_vi(h.chunk.clean) for h in hits)
        if any(normalise_vi(a) in text for a in it.answers):
            found += 1
        else:
            missed.append(it.qid)
    return {
        "answerable": len(items),
        "answer_in_top5": round(found / len(items), 4),
        "missed": missed,
        "ingest_kb_per_s": round(sum(f.stat().st_size for f in expand_paths([corpus])) / 1024 / ingest_s, 1),
        "search_p50_ms": round(percentile(latencies, 50), 2),
        "search_p95_ms": round(percentile(latencies, 95), 2),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--xquad", type=Path, default=SHARED / "gold" / "xquad-vi-dev.json")
    p.add_argument("--lang-son", type=Path, default=SHARED / "gold" / "lang-son-dev.jsonl")
    p.add_argument("--corpus", type=Path, default=SAMPLE_DIR)
    p.add_argument("--out", type=Path, default=Path("runs/bench/retrieval.json"))
    args = p.parse_args(argv)
    quiet_model_loading()
    from viqa.models.embedder import Embedder

    settings = get_settings()
    embedder = Embedder.from_settings(settings).load()
    result = {
        "lang_son": bench_lang_son(args.lang_son, args.corpus, settings, embedder),
        "xquad": bench_xquad(args.xquad, settings, embedder),
    }
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    x = result["xquad"]
    print(f"XQuAD-vi retrieval ({x['questions']} questions, {x['paragraphs']} paragraphs)")
    print(f"{'system':<15}{'R@1':>8}{'R@5':>8}{'MRR@10':>8}{'p50 ms':>9}{'p95 ms':>9}")
    for name in ("bm25", "dense", "hybrid_minmax", "hybrid_rrf"):
        r = x[name]
        print(f"{name:<15}{r['recall@1']:>8.3f}{r['recall@5']:>8.3f}{r['mrr@10']:>8.3f}"
              f"{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}")
    ls = result["lang_son"]
    print(f"Lạng Sơn: gold answer in top-5 for {ls['answer_in_top5']:.3f} of {ls['answerable']} answerable "
          f"(missed: {', '.join(ls['missed']) or '-'}); "
          f"search p50 {ls['search_p50_ms']} ms, p95 {ls['search_p95_ms']} ms")
    print(f"ingest: {ls['ingest_kb_per_s']} KB/s (report), {x['ingest_kb_per_s']} KB/s (XQuAD); "
          f"peak RSS {result['peak_rss_mb']} MB")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
