"""Before/after of each speed-up, in one run: ``python -m viqa.eval.benchmarks.speed`` prints a table and writes JSON.

Each variant is the one before it plus one change (``VARIANTS``). All variants are loaded first, then
every question of the gold set goes through each of them in turn (the order rotates per question), so
they share the machine's state. Reported per variant: EM/F1 on the answerable questions, abstentions
on the others, and the latency of ``Pipeline.answer`` (p50/p95). Ingest throughput is measured per
encoder set-up on a fresh copy of the corpus.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from viqa.eval.benchmarks.harness import SAMPLE_DIR, SHARED
from viqa.eval.benchmarks.retrieval import fresh_collection
from viqa.eval.formats import load_gold
from viqa.eval.metrics import exact_match, f1, percentile
from viqa.index.ingest import ingest_paths
from viqa.index.loading import expand_paths
from viqa.index.store import Collection
from viqa.qa.pipeline import Pipeline
from viqa.quiet import quiet_model_loading
from viqa.settings import Settings

# (label, settings changed from the variant before); the first is the state before this work
VARIANTS: list[tuple[str, dict]] = [
    ("before: torch encoder + reader", {"embedder_runtime": "torch", "embed_batch_size": 32,
                                        "reader_runtime": "torch", "reader_quantize": False,
                                        "read_sure_margin": None, "read_k": 5}),
    ("+ ONNX Runtime encoder", {"embedder_runtime": "onnx", "embed_batch_size": 4}),
    ("+ ONNX Runtime reader", {"reader_runtime": "onnx"}),
    ("+ int8 reader", {"reader_quantize": True}),
    ("+ views best first, stop once sure", {"read_sure_margin": 1.0}),
    ("+ 3 passages, not 5", {"read_k": 3}),
]


def variant_settings(base: Settings) -> list[tuple[str, Settings]]:
    """The cumulative variants as settings objects."""
    out, current = [], base.model_dump()
    for label, change in VARIANTS:
        current = {**current, **change}
        out.append((label, Settings(**current)))
    return out


def bench_ingest(settings: Settings, corpus: Path, name: str) -> float:
    """KB/s of a full ingest of ``corpus`` into a fresh collection ``name``."""
    pipe = Pipeline(settings)
    pipe.embedder.load().encode_passages(["khởi động"])
    coll = fresh_collection(settings, name)
    started = time.perf_counter()
    ingest_paths(coll, [corpus], pipe.embedder, settings)
    elapsed = time.perf_counter() - started
    coll.delete()
    return sum(f.stat().st_size for f in expand_paths([corpus])) / 1024 / elapsed


def bench_answers(variants: list[tuple[str, Settings]], gold: Path, collection: str) -> list[dict]:
    """Accuracy and latency of every variant over the gold questions, interleaved."""
    items = load_gold(gold)
    pipes = [Pipeline(s).load(collection) for _, s in variants]
    for pipe in pipes:  # warm-up: first calls allocate
        for it in items[:3]:
            pipe.answer(it.question, collection)
    rows: list[dict] = [{"em": 0.0, "f1": 0.0, "abstained": 0, "latencies": []} for _ in pipes]
    for n, it in enumerate(items):
        for v in [(n + i) % len(pipes) for i in range(len(pipes))]:
            answer = pipes[v].answer(it.question, collection)
            row = rows[v]
            row["latencies"].append(answer.timings_ms["total"])
            if it.answers:
                row["em"] += exact_match(answer.text, it.answers)
                row["f1"] += f1(answer.text, it.answers)
            else:
                row["abstained"] += answer.text is None
    answerable = sum(1 for it in items if it.answers)
    out = []
    for (label, _), row in zip(variants, rows, strict=True):
        lat = row.pop("latencies")
        out.append({"variant": label, "em": round(100 * row["em"] / answerable, 1),
                    "f1": round(100 * row["f1"] / answerable, 1), "abstained": row["abstained"],
                    "unanswerable": len(items) - answerable,
                    "p50_ms": round(percentile(lat, 50), 1), "p95_ms": round(percentile(lat, 95), 1)})
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.speed", description=__doc__.splitlines()[0])
    p.add_argument("--gold", type=Path, default=SHARED / "gold" / "lang-son-dev.jsonl")
    p.add_argument("--corpus", type=Path, default=SAMPLE_DIR)
    p.add_argument("--out", type=Path, default=Path("runs/bench/speed.json"))
    args = p.parse_args(argv)
    quiet_model_loading()
    variants = variant_settings(Settings())
    base = variants[-1][1]
    collection = "bench-speed"
    ingest_paths(Collection(base.collections_dir, collection), [args.corpus], Pipeline(base).embedder, base)
    answers = bench_answers(variants, args.gold, collection)
    ingest = {label: round(bench_ingest(s, args.corpus, "bench-speed-ingest"), 1) for label, s in variants[:2]}
    result = {"gold": str(args.gold), "answers": answers, "ingest_kb_per_s": ingest}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"{args.gold.name}: Pipeline.answer, warm, one question at a time")
    print(f"{'variant':<34}{'EM':>6}{'F1':>6}{'abstain':>9}{'p50 ms':>8}{'p95 ms':>8}")
    for r in answers:
        print(f"{r['variant']:<34}{r['em']:>6.1f}{r['f1']:>6.1f}{r['abstained']:>5}/{r['unanswerable']:<3}"
              f"{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}")
    for label, kbs in ingest.items():
        print(f"ingest of {args.corpus.name}, {label}: {kbs} KB/s")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
