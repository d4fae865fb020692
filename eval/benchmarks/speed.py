"""Speed benchmark: ``python -m viqa.eval.benchmarks.speed`` prints each speed-up's before/after and writes JSON.

Each variant is the one before it plus one change (``VARIANTS``). All variants are loaded first, then
every question of the gold set goes through each of them in turn (the order rotates per question), so
they share the machine's state. Reported per variant: EM/F1 on the answerable questions, abstentions
on the others (``eval.runner.score_item``, ``eval.summary.summarize``), and the latency of
``Pipeline.answer`` (p50/p95). Ingest throughput is measured per encoder set-up on a fresh copy of the corpus.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from viqa.eval.benchmarks.harness import (
    LANG_SON_GOLD,
    SAMPLE_DIR,
    answer_scores,
    files_kb,
    format_table,
    fresh_collection,
    report_collection,
    timed,
    write_json,
)
from viqa.eval.formats import load_gold
from viqa.eval.runner import ItemResult, score_item
from viqa.index.ingest import ingest_paths
from viqa.models.embedder import Embedder
from viqa.qa.pipeline import Pipeline
from viqa.quiet import quiet_model_loading
from viqa.settings import ANSWER_RULES, Settings

# (label, settings changed from the variant before); the first is the state before this work
VARIANTS: list[tuple[str, dict]] = [
    ("before: torch encoder + reader", {"embedder_runtime": "torch", "embed_batch_size": 32,
                                        "reader_runtime": "torch", "reader_quantize": False,
                                        "read_sure_margin": None, "read_k": 5, "reader_batch_size": 16,
                                        "passage_precision": "fp32"}),
    ("+ ONNX Runtime encoder", {"embedder_runtime": "onnx", "embed_batch_size": 4}),
    ("+ ONNX Runtime reader", {"reader_runtime": "onnx"}),
    ("+ int8 reader", {"reader_quantize": True}),
    ("+ views best first, stop once sure", {"read_sure_margin": 1.0}),
    ("+ 3 passages, not 5", {"read_k": 3}),
    ("+ one window a forward pass", {"reader_batch_size": 1}),
    ("+ int8 passage vectors", {"passage_precision": "int8"}),
]


# how the reader read before reader v3 (its weights come from --reader-before)
READER_BEFORE = {"answer_rules": list(ANSWER_RULES), "reader_context_weight": 0.3, "reader_restore_tones": False}


def variant_settings(base: Settings, reader_before: Path | None = None) -> list[tuple[str, Settings]]:
    """The cumulative variants as settings objects. With ``reader_before`` (a weights folder), every variant reads
    with those weights and ``READER_BEFORE``, and one more variant reads as ``base`` does."""
    out, current = [], base.model_dump()
    if reader_before is not None:
        current |= {**READER_BEFORE, "reader_weights": reader_before}
    for label, change in VARIANTS:
        current = {**current, **change}
        out.append((label, Settings(**current)))
    if reader_before is not None:
        now = base.model_dump(include={"reader_weights", *READER_BEFORE})
        out.append(("+ reader v3 and its rules", Settings(**{**current, **now})))
    return out


def bench_ingest(settings: Settings, corpus: Path, name: str) -> float:
    """KB/s of a full ingest of ``corpus`` into a fresh collection ``name`` (removed afterwards)."""
    embedder = Embedder.from_settings(settings).load()
    embedder.encode_passages(["khởi động"])
    coll = fresh_collection(settings, name)
    _, seconds = timed(lambda: ingest_paths(coll, [corpus], embedder, settings))
    coll.delete()
    return files_kb([corpus]) / seconds


def bench_answers(variants: list[tuple[str, Settings]], gold: Path, collection: str) -> list[dict]:
    """Accuracy and latency (``Pipeline.answer``'s own total) of every variant over the gold questions,
    interleaved, scored by ``eval.runner``."""
    items = load_gold(gold)
    pipes = [Pipeline(s).load(collection) for _, s in variants]
    for pipe in pipes:  # warm-up: first calls allocate
        for it in items[:3]:
            pipe.answer(it.question, collection)
    results: list[list[ItemResult]] = [[] for _ in pipes]
    for n, it in enumerate(items):
        for v in [(n + i) % len(pipes) for i in range(len(pipes))]:
            answer = pipes[v].answer(it.question, collection)
            results[v].append(score_item(it, answer.text, answer.confidence, answer.timings_ms["total"]))
    return [{"variant": label, **answer_scores(rows)} for (label, _), rows in zip(variants, results, strict=True)]


def answers_table(answers: list[dict]) -> str:
    """One row per variant: EM/F1 on the answerable questions, abstentions on the others, latency."""
    rows = [[r["variant"], r["em"], r["f1"], f"{r['abstained']}/{r['unanswerable']}", r["p50_ms"], r["p95_ms"]]
            for r in answers]
    return format_table(["variant", "EM", "F1", "abstain", "p50 ms", "p95 ms"], rows, digits=1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.speed", description=__doc__.splitlines()[0])
    p.add_argument("--gold", type=Path, default=LANG_SON_GOLD)
    p.add_argument("--corpus", type=Path, default=SAMPLE_DIR)
    p.add_argument("--out", type=Path, default=Path("runs/bench/speed.json"))
    p.add_argument("--reader-before", type=Path, default=None,
                   help="Earlier reader weights: every variant reads with them (and the rules of then), and a last one"
                        " reads with the weights and rules in use.")
    args = p.parse_args(argv)
    quiet_model_loading()
    variants = variant_settings(Settings(), args.reader_before)
    base = variants[-1][1]
    collection = report_collection(base, Embedder.from_settings(base), args.corpus).name
    answers = bench_answers(variants, args.gold, collection)
    ingest = {label: round(bench_ingest(s, args.corpus, "bench-speed-ingest"), 1) for label, s in variants[:2]}
    write_json(args.out, {"gold": str(args.gold), "answers": answers, "ingest_kb_per_s": ingest})
    print(f"{args.gold.name}: Pipeline.answer, warm, one question at a time")
    print(answers_table(answers))
    for label, kbs in ingest.items():
        print(f"ingest of {args.corpus.name}, {label}: {kbs} KB/s")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
