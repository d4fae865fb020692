"""The file store against Milvus Lite: ``python -m viqa.eval.benchmarks.stores`` prints a table and writes JSON.

- Parity on XQuAD-vi dev: every paragraph a document, R@1/R@5/MRR@10 of BM25, dense and hybrid (viqa's min-max
  fusion) from each store, and Milvus's own rankers over the same two searches (``hybrid_search`` with RRF, and
  with equal weights).
- Cost: ingest without embedding (the passages' vectors are computed once and reused by both stores), and search
  latency p50/p95.

Both stores get the same passages, vectors and BM25 terms. The Milvus Lite file is ``--milvus`` (made afresh).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

import numpy as np

from viqa.eval.benchmarks.harness import XQUAD_GOLD, format_table, fresh_collection, timed, write_json
from viqa.eval.benchmarks.retrieval import ranked_results, retrieval_scores
from viqa.eval.formats import GoldItem, load_gold
from viqa.eval.runner import rank_of, score_item
from viqa.index.ingest import ingest_documents
from viqa.index.milvus import MilvusCollection, connect
from viqa.models.embedder import Embedder
from viqa.qa.milvus_retrieval import MilvusRetriever
from viqa.qa.retrieval import Retriever
from viqa.quiet import quiet_model_loading
from viqa.settings import Settings, get_settings
from viqa.text.segment import lexical_tokens
from viqa.types import Document, Hit

MODES = ("bm25", "dense", "hybrid")


class ReusedVectors:
    """An embedder that computes each passage's vector once: the second store's ingest embeds nothing."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder, self._seen = embedder, {}
        self.id, self.dim = embedder.id, embedder.dim

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if todo:
            self._seen.update(zip(todo, self._embedder.encode_passages(todo, progress=progress), strict=True))
        return np.stack([self._seen[t] for t in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._embedder.encode_queries(texts)


def milvus_ranked(items: list[GoldItem], retriever: MilvusRetriever, ranker: str, k: int) -> dict:
    """R@1/R@5/MRR@10 and latency of Milvus's own fusion (``ranker``: "rrf" or "weighted") of the same searches."""
    from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

    coll = retriever.collection
    s = retriever.settings
    chosen = RRFRanker(s.rrf_k) if ranker == "rrf" else WeightedRanker(s.alpha, 1 - s.alpha)
    results = []
    for it in items:
        if not it.answers:
            continue

        def search(it: GoldItem = it) -> list[Hit]:
            vector = retriever.embedder.encode_queries([it.question])[0]
            requests = [
                AnnSearchRequest([vector.tolist()], "dense", {"metric_type": "IP"}, limit=s.candidates),
                AnnSearchRequest([" ".join(lexical_tokens(it.question))], "sparse", {"metric_type": "BM25"},
                                 limit=s.candidates),
            ]
            found = coll.client.hybrid_search(coll.chunks_name, requests, chosen, limit=k, output_fields=["doc_id"])
            chunks = coll.chunks([h["id"] for h in found[0]])
            return [Hit(chunks[h["id"]], float(h["distance"])) for h in found[0]]

        hits, seconds = timed(search)
        results.append(score_item(it, None, 0.0, seconds * 1000, retrieval_rank=rank_of(hits, it)))
    return retrieval_scores(results)


def bench(gold: Path, settings: Settings, milvus_db: Path) -> dict:
    """Ingest XQuAD's paragraphs into each store (vectors computed once), then rank every question in each."""
    items = load_gold(gold)
    contexts = {it.context_id: it.context for it in items if it.context_id and it.context}
    docs = [Document(cid, cid, f"xquad#{cid}", text, hashlib.sha256(text.encode()).hexdigest())
            for cid, text in contexts.items()]
    embedder = ReusedVectors(Embedder.from_settings(settings).load())
    _, embed_s = timed(lambda: ingest_documents(fresh_collection(settings, "bench-stores-warm"), docs, embedder,
                                                settings))
    files = fresh_collection(settings, "bench-stores")
    _, files_s = timed(lambda: ingest_documents(files, docs, embedder, settings))
    if milvus_db.is_dir():  # Milvus Lite keeps a folder (older versions: a file)
        shutil.rmtree(milvus_db)
    milvus_db.unlink(missing_ok=True)
    milvus_settings = settings.model_copy(update={"store": "milvus", "milvus_uri": str(milvus_db)})
    milvus = MilvusCollection(connect(milvus_settings), "bench-stores", milvus_settings)
    _, milvus_s = timed(lambda: ingest_documents(milvus, docs, embedder, milvus_settings))
    out: dict = {"questions": len(items), "paragraphs": len(docs), "first_ingest_s": round(embed_s, 2),
                 "ingest_without_embedding_s": {"files": round(files_s, 2), "milvus_lite": round(milvus_s, 2)}}
    retrievers = {"files": Retriever(files, embedder, settings).load(),  # type: ignore[arg-type]
                  "milvus_lite": MilvusRetriever(milvus, embedder, milvus_settings).load()}  # type: ignore[arg-type]
    for store, retriever in retrievers.items():
        out[store] = {mode: retrieval_scores(ranked_results(items, retriever, mode, k=10)) for mode in MODES}
    for ranker in ("rrf", "weighted"):
        out["milvus_lite"][f"milvus_{ranker}"] = milvus_ranked(items, retrievers["milvus_lite"], ranker, k=10)
    return out


def table(result: dict) -> str:
    rows = [[f"{store} {system}", s["recall@1"], s["recall@5"], s["mrr@10"], s["p50_ms"], s["p95_ms"]]
            for store in ("files", "milvus_lite") for system, s in result[store].items()]
    return format_table(["store, system", "R@1", "R@5", "MRR@10", "p50 ms", "p95 ms"], rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.stores", description=__doc__.splitlines()[0])
    p.add_argument("--xquad", type=Path, default=XQUAD_GOLD)
    p.add_argument("--milvus", type=Path, default=Path("runs/bench/stores-milvus.db"))
    p.add_argument("--out", type=Path, default=Path("runs/bench/stores.json"))
    args = p.parse_args(argv)
    quiet_model_loading()
    result = bench(args.xquad, get_settings(), args.milvus.resolve())
    write_json(args.out, result)
    print(f"XQuAD-vi dev retrieval, {result['questions']} questions over {result['paragraphs']} paragraphs")
    print(table(result))
    ingest = result["ingest_without_embedding_s"]
    print(f"ingest without embedding: files {ingest['files']} s, Milvus Lite {ingest['milvus_lite']} s "
          f"(first ingest, embedding included: {result['first_ingest_s']} s)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
