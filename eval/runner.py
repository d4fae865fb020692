"""Drive qa/ over a gold set in one of three modes and score every question.

- reader: the reader alone, given each question's gold context (batched across questions);
- open: retrieve from a collection, then read, end to end (the product's path);
- retrieval: retrieval metrics only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from viqa.eval.formats import GoldItem
from viqa.eval.metrics import exact_match, f1, normalise_squad, normalise_vi
from viqa.files import write_text_atomic
from viqa.qa.answering import confidence
from viqa.qa.pipeline import Pipeline
from viqa.types import Hit

MODES = ("reader", "open", "retrieval")


@dataclass
class ItemResult:
    """One scored question, as written to the per-question JSONL."""

    qid: str
    question: str
    kind: str | None
    golds: list[str]
    prediction: str | None
    confidence: float
    em: float
    f1: float
    em_squad: float
    f1_squad: float
    latency_ms: float
    retrieval_rank: int | None = None
    answer_in_citation: bool | None = None
    citations: list[dict] = field(default_factory=list)
    margin: float | None = None


def score_item(item: GoldItem, prediction: str | None, conf: float, latency_ms: float, **extra) -> ItemResult:
    return ItemResult(
        qid=item.qid, question=item.question, kind=item.kind, golds=list(item.answers), prediction=prediction,
        confidence=round(conf, 4),
        em=exact_match(prediction, item.answers), f1=f1(prediction, item.answers),
        em_squad=exact_match(prediction, item.answers, normalise_squad),
        f1_squad=f1(prediction, item.answers, normalise_squad),
        latency_ms=round(latency_ms, 2), **extra,
    )


def run_reader(items: list[GoldItem], pipeline: Pipeline) -> Iterator[ItemResult]:
    """Reading comprehension only: each question against its own gold context, read on its own as the product
    reads one question's passages (an int8 reader's answer depends on which windows share its batch)."""
    threshold, scale = pipeline.calibration
    reader = pipeline.reader
    for it in items:
        started = time.perf_counter()
        res = reader.read([(it.question, it.context or "")])[0]
        latency = (time.perf_counter() - started) * 1000
        answer = None
        if res.spans and res.margin >= threshold:
            answer = (it.context or "")[res.spans[0].start : res.spans[0].end]
        conf = confidence(res.margin, threshold, scale)
        yield score_item(it, answer, conf if answer else 1 - conf, latency, margin=round(res.margin, 4))


def rank_of(hits: tuple[Hit, ...] | list[Hit], item: GoldItem) -> int | None:
    """1-based rank of the first hit that is the item's gold document or contains a gold answer."""
    for rank, hit in enumerate(hits, start=1):
        if item.context_id is not None and hit.chunk.doc_id == item.context_id:
            return rank
        if item.context_id is None and any(normalise_vi(a) in normalise_vi(hit.chunk.clean) for a in item.answers):
            return rank
    return None


def run_open(items: list[GoldItem], pipeline: Pipeline, collection: str, k: int = 10) -> Iterator[ItemResult]:
    """End to end over a collection: the answer, its citations, and where retrieval ranked the gold passage."""
    for it in items:
        started = time.perf_counter()
        out = pipeline.answer(it.question, collection)
        latency = (time.perf_counter() - started) * 1000
        rank = rank_of(pipeline.search(it.question, collection, k=k).hits, it) if it.answers else None
        cited = None
        if out.text is not None and it.answers:
            cited = any(normalise_vi(a) in normalise_vi(c.quote) for a in it.answers for c in out.citations)
        yield score_item(it, out.text, out.confidence, latency, retrieval_rank=rank,
                         answer_in_citation=cited, citations=[asdict(c) for c in out.citations])


def run_retrieval(items: list[GoldItem], pipeline: Pipeline, collection: str, k: int = 10) -> Iterator[ItemResult]:
    for it in items:
        if not it.answers:
            continue
        started = time.perf_counter()
        hits = pipeline.search(it.question, collection, k=k).hits
        latency = (time.perf_counter() - started) * 1000
        yield score_item(it, None, 0.0, latency, retrieval_rank=rank_of(hits, it))


def run_resumable(
    results_path: Path, items: list[GoldItem], run: Callable[[list[GoldItem]], Iterator[ItemResult]],
    progress: Callable[[int], None] | None = None,
) -> list[ItemResult]:
    """Run ``run`` over the items not yet in ``results_path`` (JSONL, appended and flushed per question)."""
    done: dict[str, ItemResult] = {}
    if results_path.is_file():
        for line in results_path.read_text(encoding="utf-8").splitlines():
            try:
                row = ItemResult(**json.loads(line))
            except (json.JSONDecodeError, TypeError):
                continue  # a line cut by an interruption: that question runs again
            done[row.qid] = row
    # drop any line an interruption cut short before appending again
    write_text_atomic(results_path, "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in done.values()))
    todo = [it for it in items if it.qid not in done]
    if progress and len(done):
        progress(len(items) - len(todo))
    with results_path.open("a", encoding="utf-8") as fh:
        for res in run(todo):
            fh.write(json.dumps(asdict(res), ensure_ascii=False) + "\n")
            fh.flush()
            done[res.qid] = res
            if progress:
                progress(1)
    return [done[it.qid] for it in items if it.qid in done]
