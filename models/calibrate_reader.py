"""Choose the reader's no-answer threshold and confidence scale on held-out data, and store them with the weights.

``python -m models.calibrate_reader`` reads vi-news-squad2-dev (held out of training: 141 answerable,
337 unanswerable questions), picks the margin threshold that maximises F1 over all of it, fits the
logistic scale of ``confidence = sigmoid((margin - threshold) / scale)`` to answer correctness, and
writes both into ``reader.json`` beside the shipped weights.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

from eval.metrics import f1
from models.reader_data import read_squad
from models.reader_model import SHIPPED_CONFIG, ensure_reader_folder
from qa.reader import Reader
from viqa.settings import get_settings

log = logging.getLogger("calibrate_reader")


def best_threshold(margins: list[float], span_f1: list[float], answerable: list[bool]) -> tuple[float, float]:
    """The threshold (answer iff margin >= t) that maximises mean F1, and that F1."""
    candidates = sorted({m for m in margins if math.isfinite(m)}) + [math.inf]

    def score(t: float) -> float:
        total = 0.0
        for m, f, a in zip(margins, span_f1, answerable, strict=True):
            total += f if m >= t else float(not a)
        return total / len(margins)

    best = max(candidates, key=score)
    return best, score(best)


def fit_scale(margins: list[float], correct: list[bool], threshold: float) -> float:
    """The scale s of sigmoid((m - threshold)/s) with the best log-likelihood of ``correct`` (grid search)."""

    def nll(s: float) -> float:
        total = 0.0
        for m, c in zip(margins, correct, strict=True):
            p = 1 / (1 + math.exp(-max(-50.0, min(50.0, (m - threshold) / s))))
            p = min(max(p, 1e-6), 1 - 1e-6)
            total -= math.log(p if c else 1 - p)
        return total

    return min((0.25 * k for k in range(1, 41)), key=nll)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dev", type=Path, default=Path("../shared/train/vi-mrc/vi-news-squad2-dev.json"))
    p.add_argument("--weights", type=Path, default=None, help="Folder with reader.safetensors (default: shipped).")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_settings()
    weights = args.weights or settings.reader_weights
    reader = Reader(ensure_reader_folder(weights, settings.model_cache), threads=settings.threads).load()
    examples = read_squad(args.dev, "dev")
    results = reader.read([(e.question, e.context) for e in examples])
    margins, span_f1, answerable = [], [], []
    for ex, res in zip(examples, results, strict=True):
        margins.append(res.margin)
        answer = ex.context[res.spans[0].start : res.spans[0].end] if res.spans else None
        span_f1.append(f1(answer, [ex.answer]) if ex.answer else 0.0)
        answerable.append(ex.is_answerable)
    threshold, score = best_threshold(margins, span_f1, answerable)
    # confidence = P(the best span is a right answer); an abstention reports 1 - that
    right = [a and f >= 0.5 for f, a in zip(span_f1, answerable, strict=True)]
    scale = fit_scale([m if math.isfinite(m) else -50.0 for m in margins], right, threshold)
    meta_path = weights / SHIPPED_CONFIG
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    meta["calibration"] = {
        "dev": str(args.dev.name), "questions": len(examples), "null_threshold": round(threshold, 4),
        "confidence_scale": scale, "dev_f1_at_threshold": round(100 * score, 2),
    }
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False))
    log.info("threshold %.3f (dev F1 %.1f), confidence scale %.2f -> %s", threshold, 100 * score, scale, meta_path)


if __name__ == "__main__":
    main()
