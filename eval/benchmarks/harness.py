"""What every benchmark shares: the checkout's paths, fresh collections, peak memory and one table printer."""

from __future__ import annotations

import resource
import shutil
from collections.abc import Sequence
from pathlib import Path

from viqa.index.store import Collection
from viqa.settings import Settings

CHECKOUT = Path(__file__).resolve().parents[2]  # benchmarks run from a checkout: they are not in the wheel
SHARED = CHECKOUT.parent / "shared"
SAMPLE_DIR = CHECKOUT / "data" / "sample"
LANG_SON_GOLD = SHARED / "gold" / "lang-son-dev.jsonl"
XQUAD_GOLD = SHARED / "gold" / "xquad-vi-dev.json"
TRAIN_DIR = SHARED / "train" / "vi-mrc"
FOLLOWUPS = CHECKOUT / "data" / "followups" / "lang-son-followups.jsonl"


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_collection(settings: Settings, name: str) -> Collection:
    """An empty collection ``name`` (any earlier one of that name is removed)."""
    coll = Collection(settings.collections_dir, name)
    shutil.rmtree(coll.path, ignore_errors=True)
    return coll


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned; floats to 3 places."""

    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = []
    for row in [list(headers), *cells]:
        first, rest = row[0].ljust(widths[0]), [v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]))
    return "\n".join(lines)
