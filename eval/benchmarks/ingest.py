"""Ingest throughput and where its time goes: ``python -m viqa.eval.benchmarks.ingest`` prints both, writes JSON.

The corpus is every distinct context of ../shared/train/vi-mrc (SQuAD JSON and CSV), one document each, and the
bundled report: 2.0 MB of Vietnamese, mostly short passages. The models are loaded and warmed first, their load
reported apart; then one timed ingest into a fresh collection (KB/s of text, peak RSS), with the embedding
progress bar's estimate of the time left recorded at each update and compared with the time its step really
took to finish; then, with ``--profile``, a second ingest under cProfile, its time summed by stage
(segmentation, chunking, tokenizing, embedding, BM25, FAISS, SQLite, other).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import hashlib
import io
import json
import pstats
import time
from pathlib import Path

from viqa.eval.benchmarks.harness import (
    SAMPLE_DIR,
    TRAIN_DIR,
    fresh_collection,
    peak_rss_mb,
    texts_kb,
    timed,
    write_json,
)
from viqa.index.ingest import ingest_documents
from viqa.models.embedder import Embedder
from viqa.quiet import quiet_model_loading
from viqa.settings import get_settings
from viqa.types import Document

# stage: substrings of a profiled function's file path or name, first match wins
STAGES: dict[str, tuple[str, ...]] = {
    "embedding (ONNX Runtime)": ("onnxruntime",),
    "tokenizing (e5)": ("tokenizers", "tokenization_utils"),
    "segmentation (underthesea)": ("underthesea", "CRFFeaturizer", "CRFTagger"),
    "BM25 (bm25s)": ("bm25s",),
    "FAISS": ("faiss",),
    "SQLite": ("sqlite3", "method 'execute", "method 'executemany", "method 'commit"),
    "chunking (viqa)": ("index/chunking.py", "index/structure.py", "text/normalise.py"),
    "imports": ("_imp.create_dynamic", "marshal.loads", "<frozen importlib"),
}


def corpus(folder: Path = TRAIN_DIR) -> list[Document]:
    """Every distinct context of the SQuAD JSON and CSV files in ``folder``, one document each, and the bundled
    report."""
    contexts: dict[str, None] = {(SAMPLE_DIR / "lang-son-bao-cao-kt-xh-thang-11-2023.txt").read_text(): None}
    for path in sorted(folder.glob("*.json")):
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
            contexts.update((p["context"], None) for p in article["paragraphs"])
    for path in sorted(folder.glob("*.csv")):
        rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
        contexts.update((row["context"], None) for row in rows if row.get("context"))
    return [Document(f"ctx-{i:05d}", f"ctx-{i:05d}", f"bench:{i}", text, hashlib.sha256(text.encode()).hexdigest())
            for i, text in enumerate(c for c in contexts if c.strip())]


def stage_seconds(profile: cProfile.Profile) -> dict[str, float]:
    """The profile's own time (tottime) summed by ``STAGES``; the rest is "other"."""
    stats = pstats.Stats(profile)
    out = dict.fromkeys([*STAGES, "other"], 0.0)
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        where = f"{filename} {name}"
        stage = next((s for s, keys in STAGES.items() if any(k in where for k in keys)), "other")
        out[stage] += tottime
    return {k: round(v, 2) for k, v in out.items()}


class EtaRecorder:
    """Records, at each update of the embedding progress bar, (clock, its estimate of the seconds left, the share
    done) for later scoring."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float, float]] = []  # (clock, estimated seconds left, share done)

    def __enter__(self) -> EtaRecorder:
        import tqdm.std

        self._update = update = tqdm.std.tqdm.update
        points = self.points

        def recording(bar, n=1):
            result = update(bar, n)
            elapsed = bar._time() - bar.start_t
            if bar.desc == "Embedding" and bar.total and bar.n and elapsed > 0:
                points.append((time.perf_counter(), (bar.total - bar.n) * elapsed / bar.n, bar.n / bar.total))
            return result

        tqdm.std.tqdm.update = recording
        return self

    def __exit__(self, *exc: object) -> None:
        import tqdm.std

        tqdm.std.tqdm.update = self._update

    def errors(self, after: float = 0.0) -> list[float]:
        """Relative error of each estimate (|estimated − real| / real), against the bar's own end (its last
        update), while more than 2 s were left and once ``after`` of the work was done."""
        end = self.points[-1][0] if self.points else 0.0
        return [abs(left - (end - now)) / (end - now) for now, left, done in self.points
                if end - now > 2.0 and done >= after]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.ingest", description=__doc__.splitlines()[0])
    p.add_argument("--profile", action="store_true", help="Also ingest once under cProfile and print the stages.")
    p.add_argument("--limit", type=int, default=None, help="Only the first N documents (a quick check).")
    p.add_argument("--out", type=Path, default=Path("runs/bench/ingest.json"))
    args = p.parse_args(argv)
    quiet_model_loading()
    settings = get_settings()
    docs = corpus()[: args.limit]
    kb = texts_kb(d.text for d in docs)

    def load() -> Embedder:
        from underthesea import word_tokenize

        word_tokenize("khởi động")
        embedder = Embedder.from_settings(settings).load()
        embedder.encode_passages(["khởi động"])
        return embedder

    embedder, load_s = timed(load)
    coll = fresh_collection(settings, "bench-ingest")
    with EtaRecorder() as eta:
        report, ingest_s = timed(lambda: ingest_documents(coll, docs, embedder, settings, progress=True))
    errors, settled = eta.errors(), eta.errors(after=0.1)
    result = {
        "documents": len(docs), "kb": round(kb, 1), "chunks": report.chunks, "model_load_s": round(load_s, 1),
        "ingest_s": round(ingest_s, 1), "kb_per_s": round(kb / ingest_s, 1),
        "eta_worst_error": round(max(errors), 3) if errors else None,
        "eta_median_error": round(sorted(errors)[len(errors) // 2], 3) if errors else None,
        "eta_worst_error_after_10pct": round(max(settled), 3) if settled else None,
        "peak_rss_mb": round(peak_rss_mb(), 1), "passage_precision": settings.passage_precision,
        "threads": settings.threads, "embed_batch_size": settings.embed_batch_size,
    }
    print(f"{len(docs)} documents, {kb:.0f} KB, {report.chunks} passages: {ingest_s:.1f} s, {kb / ingest_s:.1f} KB/s "
          f"(models loaded before, in {load_s:.1f} s); peak RSS {result['peak_rss_mb']} MB")
    if errors:
        print(f"embedding ETA: worst error {max(errors):.0%}, median {result['eta_median_error']:.0%}, worst once "
              f"10 % was done {result['eta_worst_error_after_10pct']:.0%} (over {len(errors)} updates with more "
              "than 2 s left)")
    if args.profile:
        profile = cProfile.Profile()
        again = fresh_collection(settings, "bench-ingest-profile")
        profile.runcall(ingest_documents, again, docs, embedder, settings)
        result["stages_s"] = stages = stage_seconds(profile)
        print("profile (own time by stage, under cProfile):")
        for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"  {stage:28s} {seconds:7.2f} s")
    write_json(args.out, result)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
