"""What every benchmark shares: the checkout's paths, collections, memory, timing, latency percentiles, JSON
and one table printer."""

from __future__ import annotations

import json
import resource
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from viqa.eval.metrics import percentile
from viqa.eval.runner import ItemResult
from viqa.eval.summary import summarize
from viqa.index.ingest import ingest_paths
from viqa.index.loading import expand_paths
from viqa.index.store import Collection
from viqa.models.embedder import Embedder
from viqa.settings import Settings

CHECKOUT = Path(__file__).resolve().parents[2]  # benchmarks run from a checkout: they are not in the wheel
SHARED = CHECKOUT.parent / "shared"
SAMPLE_DIR = CHECKOUT / "data" / "sample"
LANG_SON_GOLD = SHARED / "gold" / "lang-son-dev.jsonl"
XQUAD_GOLD = SHARED / "gold" / "xquad-vi-dev.json"
TRAIN_DIR = SHARED / "train" / "vi-mrc"
FOLLOWUPS = CHECKOUT / "data" / "followups" / "lang-son-followups.jsonl"
REPORT_COLLECTION = "bench-lang-son"  # the sample report, as the benches that ask about it share it

T = TypeVar("T")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_rss_mb(pid: int) -> dict[str, float]:
    """``{"rss_mb", "hwm_mb"}`` (current and peak resident memory) of process ``pid`` from ``/proc``."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)  # kB
    return {"rss_mb": fields["VmRSS"], "hwm_mb": fields["VmHWM"]}


def fresh_collection(settings: Settings, name: str) -> Collection:
    """An empty collection ``name`` (any earlier one of that name is removed)."""
    coll = Collection(settings.collections_dir, name)
    shutil.rmtree(coll.path, ignore_errors=True)
    return coll


def report_collection(settings: Settings, embedder: Embedder, corpus: Path = SAMPLE_DIR,
                      name: str = REPORT_COLLECTION) -> Collection:
    """Collection ``name`` holding ``corpus``, ingested incrementally (nothing is embedded when it is unchanged)."""
    coll = Collection(settings.collections_dir, name)
    ingest_paths(coll, [corpus], embedder, settings)
    return coll


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()``'s result and the wall-clock seconds it took."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def files_kb(paths: Iterable[Path]) -> float:
    """Size in KB of the files an ingest of ``paths`` reads."""
    return sum(f.stat().st_size for f in expand_paths(list(paths))) / 1024


def texts_kb(texts: Iterable[str]) -> float:
    """Size in KB of ``texts`` as UTF-8."""
    return sum(len(t.encode()) for t in texts) / 1024


def latency_ms(
    values: Sequence[float], quantiles: Sequence[int] = (50, 95), ndigits: int = 1
) -> dict[str, float | None]:
    """``{"p50_ms": ..., "p95_ms": ...}`` (nearest-rank, ``eval.metrics.percentile``) of latencies in ms; None when
    there are none."""
    return {f"p{q}_ms": round(percentile(list(values), q), ndigits) if values else None for q in quantiles}


def answer_scores(results: list[ItemResult]) -> dict:
    """From ``eval.summary.summarize``: EM/F1 (%) on the answerable questions, how many of the unanswerable ones
    were abstained on, and answer latency p50/p95 (ms)."""
    summary = summarize(results, "open")
    has_ans, no_ans = summary["has_ans"], summary["no_ans"]
    latency = summary.get("latency_ms", {"p50": 0.0, "p95": 0.0})
    return {
        "questions": summary["questions"],
        "em": has_ans.get("em", 0.0),
        "f1": has_ans.get("f1", 0.0),
        "abstained": round(no_ans.get("abstained", 0.0) * no_ans["n"]),
        "unanswerable": no_ans["n"],
        "p50_ms": round(latency["p50"], 1),
        "p95_ms": round(latency["p95"], 1),
    }


def write_json(path: Path, data: object) -> Path:
    """Write ``data`` as indented UTF-8 JSON (non-ASCII kept) to ``path``, making its folder; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], digits: int = 3) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned; floats to ``digits`` places."""

    def cell(value: object) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = []
    for row in [list(headers), *cells]:
        first, rest = row[0].ljust(widths[0]), [v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]).rstrip())
    return "\n".join(lines)
