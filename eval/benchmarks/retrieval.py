"""Retrieval benchmark: ``python -m viqa.eval.benchmarks.retrieval`` prints a table and writes JSON.

- XQuAD-vi: every paragraph is a document; the gold paragraph of each question is the target;
  recall@1/5, MRR@10 for BM25 alone, dense alone and hybrid (min-max and RRF fusion).
- Lạng Sơn: share of answerable questions whose gold answer text is in the top-5 passages.
- Cost: ingest throughput (KB/s), peak RSS, search latency p50/p95.

Every question is scored by ``eval.runner.score_item`` and summarised by ``eval.summary.summarize``.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from viqa.eval.benchmarks.harness import (
    LANG_SON_GOLD,
    SAMPLE_DIR,
    XQUAD_GOLD,
    files_kb,
    format_table,
    fresh_collection,
    peak_rss_mb,
    texts_kb,
    timed,
    write_json,
)
from viqa.eval.formats import GoldItem, load_gold
from viqa.eval.runner import ItemResult, rank_of, score_item
from viqa.eval.summary import summarize
from viqa.index.ingest import ingest_documents, ingest_paths
from viqa.models.embedder import Embedder
from viqa.qa.retrieval import Retriever
from viqa.quiet import quiet_model_loading
from viqa.settings import Settings, get_settings
from viqa.types import Document

# label: (search mode, fusion for hybrid)
SYSTEMS: dict[str, tuple[str, str | None]] = {
    "bm25": ("bm25", None), "dense": ("dense", None),
    "hybrid_minmax": ("hybrid", "minmax"), "hybrid_rrf": ("hybrid", "rrf"),
}


def ranked_results(items: list[GoldItem], retriever: Retriever, mode: str, k: int) -> list[ItemResult]:
    """Every answerable item searched (top ``k``, ``mode``) and scored with the rank of its gold passage."""
    results = []
    for it in items:
        if it.answers:
            hits, seconds = timed(lambda it=it: retriever.search(it.question, k=k, mode=mode))
            results.append(score_item(it, None, 0.0, seconds * 1000, retrieval_rank=rank_of(hits, it)))
    return results


def retrieval_scores(results: list[ItemResult]) -> dict:
    """recall@1/5/10, MRR@10 and search latency p50/p95 (ms) of ranked results, from ``summarize``."""
    summary = summarize(results, "retrieval")
    latency = summary["latency_ms"]
    return {**summary["retrieval"], "p50_ms": round(latency["p50"], 2), "p95_ms": round(latency["p95"], 2)}


def bench_xquad(gold: Path, settings: Settings, embedder: Embedder) -> dict:
    """Ingest the XQuAD paragraphs into a fresh collection, then rank every question with each of ``SYSTEMS``."""
    items = load_gold(gold)
    contexts = {it.context_id: it.context for it in items if it.context_id and it.context}
    docs = [Document(cid, cid, f"xquad#{cid}", text, hashlib.sha256(text.encode()).hexdigest())
            for cid, text in contexts.items()]
    coll = fresh_collection(settings, "bench-xquad")
    _, ingest_s = timed(lambda: ingest_documents(coll, docs, embedder, settings))
    out: dict = {"questions": len(items), "paragraphs": len(docs),
                 "ingest_kb_per_s": round(texts_kb(contexts.values()) / ingest_s, 1)}
    for label, (mode, fusion) in SYSTEMS.items():
        system_settings = settings.model_copy(update={"fusion": fusion}) if fusion else settings
        retriever = Retriever(coll, embedder, system_settings).load()
        out[label] = retrieval_scores(ranked_results(items, retriever, mode, k=10))
    return out


def bench_lang_son(gold: Path, corpus: Path, settings: Settings, embedder: Embedder) -> dict:
    """Ingest the report into a fresh collection; is each answerable question's gold answer in its top 5?"""
    coll = fresh_collection(settings, "bench-lang-son")
    _, ingest_s = timed(lambda: ingest_paths(coll, [corpus], embedder, settings))
    results = ranked_results(load_gold(gold), Retriever(coll, embedder, settings).load(), "hybrid", k=5)
    scores = retrieval_scores(results)
    return {
        "answerable": len(results),
        "answer_in_top5": scores["recall@5"],
        "missed": [r.qid for r in results if r.retrieval_rank is None],
        "ingest_kb_per_s": round(files_kb([corpus]) / ingest_s, 1),
        "search_p50_ms": scores["p50_ms"],
        "search_p95_ms": scores["p95_ms"],
    }


def xquad_table(xquad: dict) -> str:
    """One row per system: R@1, R@5, MRR@10 and latency."""
    rows = [[name, xquad[name]["recall@1"], xquad[name]["recall@5"], xquad[name]["mrr@10"],
             xquad[name]["p50_ms"], xquad[name]["p95_ms"]] for name in SYSTEMS]
    return format_table(["system", "R@1", "R@5", "MRR@10", "p50 ms", "p95 ms"], rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.retrieval", description=__doc__.splitlines()[0])
    p.add_argument("--xquad", type=Path, default=XQUAD_GOLD)
    p.add_argument("--lang-son", type=Path, default=LANG_SON_GOLD)
    p.add_argument("--corpus", type=Path, default=SAMPLE_DIR)
    p.add_argument("--out", type=Path, default=Path("runs/bench/retrieval.json"))
    args = p.parse_args(argv)
    quiet_model_loading()
    settings = get_settings()
    embedder = Embedder.from_settings(settings).load()
    result = {
        "lang_son": bench_lang_son(args.lang_son, args.corpus, settings, embedder),
        "xquad": bench_xquad(args.xquad, settings, embedder),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    write_json(args.out, result)
    x, ls = result["xquad"], result["lang_son"]
    print(f"XQuAD-vi retrieval ({x['questions']} questions, {x['paragraphs']} paragraphs)")
    print(xquad_table(x))
    print(f"Lạng Sơn: gold answer in top-5 for {ls['answer_in_top5']:.3f} of {ls['answerable']} answerable "
          f"(missed: {', '.join(ls['missed']) or '-'}); "
          f"search p50 {ls['search_p50_ms']} ms, p95 {ls['search_p95_ms']} ms")
    print(f"ingest: {ls['ingest_kb_per_s']} KB/s (report), {x['ingest_kb_per_s']} KB/s (XQuAD); "
          f"peak RSS {result['peak_rss_mb']} MB")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
