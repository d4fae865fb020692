"""``viqa eval``: run a gold set through qa/ in one mode, resumably, and write results, summary and report."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from viqa.errors import InputError
from viqa.eval.formats import GoldItem, asked_without_tone_marks, load_gold
from viqa.eval.runner import MODES, ItemResult, run_open, run_reader, run_resumable, run_retrieval
from viqa.eval.summary import summarize
from viqa.index.ingest import ingest_documents
from viqa.index.stores import open_collection
from viqa.models.reader_model import SHIPPED_CONFIG, SHIPPED_WEIGHTS, calibration_file, reader_weights
from viqa.qa.pipeline import Pipeline
from viqa.types import Document

# settings that cannot change an answer: where files live, the service's limits and keys
NOT_IN_FINGERPRINT = {
    "home", "default_collection", "max_file_mb", "max_query_chars", "api_key", "max_body_bytes", "max_upload_mb",
    "cors_origins", "public_reads", "openai_sources", "allowed_hosts", "trusted_proxies", "max_loaded_collections",
    "ingest_worker", "ingest_threads", "ingest_nice", "ingest_worker_idle_s", "ingest_yield_questions", "jobs_keep",
    "job_max_attempts", "job_stop_s", "shutdown_grace_s", "delete_purges",
    "max_waiting_jobs",
}


def fingerprint(gold: Path, mode: str, collection: str | None, pipeline: Pipeline, strip_tones: bool = False) -> dict:
    """What a run's results depend on: the gold file, the mode, the collection, the reader's files and every
    setting but ``NOT_IN_FINGERPRINT``. A run folder with another fingerprint is started afresh."""
    weights = reader_weights(pipeline.settings)
    files = [weights / SHIPPED_WEIGHTS, weights / SHIPPED_CONFIG,
             calibration_file(weights, pipeline.settings.model_cache)]
    return {
        "gold": hashlib.sha256(gold.read_bytes()).hexdigest(),
        "mode": mode,
        "collection": collection,
        "strip_tones": strip_tones,
        "reader": [hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()],
        "settings": pipeline.settings.model_dump(mode="json", exclude=NOT_IN_FINGERPRINT),
    }


def context_collection(items: list[GoldItem], pipeline: Pipeline, gold: Path) -> str:
    """A collection made of the gold set's own contexts (one document per paragraph), built once and reused."""
    contexts = {it.context_id: it.context for it in items if it.context_id and it.context}
    if not contexts:
        raise InputError(f"{gold}: has no contexts; pass --collection with the documents to search")
    digest = hashlib.sha1("".join(sorted(contexts)).encode() + gold.read_bytes()).hexdigest()[:10]
    name = f"eval-{gold.stem[:40]}-{digest}".replace("_", "-")
    docs = [
        Document(doc_id=cid, title=cid, path=f"{gold.name}#{cid}", text=text,
                 sha256=hashlib.sha256(text.encode()).hexdigest())
        for cid, text in contexts.items()
    ]
    ingest_documents(open_collection(pipeline.settings, name), docs, pipeline.embedder, pipeline.settings)
    return name


def evaluate(
    gold: Path, mode: str, pipeline: Pipeline, collection: str | None, out_dir: Path, limit: int | None = None,
    progress=None, link_base: str | None = None, strip_tones: bool = False,
    runner: Callable[[str, str | None], Callable[[list[GoldItem]], Iterator[ItemResult]]] | None = None,
) -> dict:
    """Run (or resume) the evaluation into ``out_dir`` and return its summary; ``strip_tones`` asks every question
    as typed without tone marks ("Tong kim ngach ..."), the passages as they are. ``runner(mode, collection)``
    answers the questions elsewhere (``eval.ray_eval.ray_runner``: over Ray actors); by default ``pipeline`` does."""
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    items = load_gold(gold)[: limit or None]
    if strip_tones:
        items = asked_without_tone_marks(items)
    if mode == "reader" and not all(it.context for it in items):
        raise InputError(f"{gold}: reader mode needs a context for every question (SQuAD JSON or CSV with context)")
    if mode != "reader" and collection is None:
        collection = context_collection(items, pipeline, gold)
    expected = fingerprint(gold, mode, collection, pipeline, strip_tones)
    run_file = out_dir / "run.json"
    if out_dir.exists() and (not run_file.is_file() or json.loads(run_file.read_text()) != expected):
        shutil.rmtree(out_dir)  # a different run: start afresh rather than mix results
    out_dir.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(expected, indent=2))

    def run(todo: list[GoldItem]):
        if mode == "reader":
            return run_reader(todo, pipeline)
        if mode == "open":
            return run_open(todo, pipeline, collection)
        return run_retrieval(todo, pipeline, collection)

    if runner is not None:
        run = runner(mode, collection)
    else:
        pipeline.load(collection)  # models load before the clock starts, not inside the first question's latency
    results = run_resumable(out_dir / "results.jsonl", items, run, progress)
    summary = {"gold": str(gold), "collection": collection, **summarize(results, mode)}
    from viqa.eval.report import write_run

    write_run(out_dir, summary, results, title=f"viqa eval: {gold.name} ({mode})", link_base=link_base)
    return summary
