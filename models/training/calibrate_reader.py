"""Choose the reader's no-answer threshold and confidence scale on held-out data, and store them with the weights.

``python -m viqa.models.training.calibrate_reader`` reads vi-news-squad2-dev (held out of training: 141 answerable,
337 unanswerable questions), picks a margin threshold whose F1 over all of it is within one standard error
of the best (the one in use if it is, else the lowest), fits the logistic scale of
``confidence = sigmoid((margin - threshold) / scale)`` to answer correctness, and writes both into the model
cache, keyed by the weights' digest (``--into-weights``: into the weights' own ``reader.json``, for a release).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
from pathlib import Path

from viqa.eval.metrics import f1
from viqa.files import write_text_atomic
from viqa.models.reader_model import SHIPPED_CONFIG, calibration_file, ensure_reader_folder, reader_weights
from viqa.models.training.reader_data import read_squad
from viqa.qa.reader import Reader
from viqa.settings import get_settings

log = logging.getLogger("calibrate_reader")


def best_threshold(
    margins: list[float], span_f1: list[float], answerable: list[bool], keep: float | None = None
) -> tuple[float, float]:
    """A threshold (answer iff margin >= t) whose mean F1 is within one standard error of the best, and that F1.

    The F1 curve of a small, mostly unanswerable dev set is flat over a wide range, and on such a plateau the
    arg-max is noise. So ``keep`` (the threshold in use) stays if it is on the plateau; otherwise, as in the
    one-standard-error rule, the most answering threshold of the plateau is taken.
    """
    candidates = sorted({m for m in margins if math.isfinite(m)}) + [math.inf]

    def per_question(t: float) -> list[float]:
        return [f if m >= t else float(not a) for m, f, a in zip(margins, span_f1, answerable, strict=True)]

    means = {t: statistics.fmean(per_question(t)) for t in candidates}
    top = max(candidates, key=means.__getitem__)
    floor = means[top] - statistics.pstdev(per_question(top)) / math.sqrt(len(margins))
    if keep is not None:
        kept = statistics.fmean(per_question(keep))
        if kept >= floor:
            return keep, kept
    pick = next(t for t in candidates if means[t] >= floor)
    return pick, means[pick]


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
    p.add_argument("--weights", type=Path, default=None, help="Folder with reader.safetensors (default: in use).")
    p.add_argument("--into-weights", action="store_true",
                   help="Write into the weights' reader.json (for a release) instead of the model cache.")
    p.add_argument("--keep", type=float, default=None,
                   help="Keep this threshold if dev F1 cannot tell it from the best (default: the one in reader.json).")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_settings()
    weights = args.weights or reader_weights(settings)
    folder = ensure_reader_folder(weights, settings.model_cache)
    reader = Reader.from_settings(settings, folder, reader_quantize=False).load()
    examples = read_squad(args.dev, "dev")
    results = reader.read([(e.question, e.context) for e in examples])
    margins, span_f1, answerable = [], [], []
    for ex, res in zip(examples, results, strict=True):
        margins.append(res.margin)
        answer = ex.context[res.spans[0].start : res.spans[0].end] if res.spans else None
        span_f1.append(f1(answer, [ex.answer]) if ex.answer else 0.0)
        answerable.append(ex.is_answerable)
    shipped = weights / SHIPPED_CONFIG
    meta_path = shipped if args.into_weights else calibration_file(weights, settings.model_cache)
    meta = json.loads(shipped.read_text()) if shipped.is_file() else {}
    keep = args.keep if args.keep is not None else meta.get("calibration", {}).get("null_threshold")
    threshold, score = best_threshold(margins, span_f1, answerable, keep)
    # confidence = P(the best span is a right answer); an abstention reports 1 - that
    right = [a and f >= 0.5 for f, a in zip(span_f1, answerable, strict=True)]
    scale = fit_scale([m if math.isfinite(m) else -50.0 for m in margins], right, threshold)
    meta["calibration"] = {
        "dev": str(args.dev.name), "questions": len(examples), "null_threshold": round(threshold, 4),
        "confidence_scale": scale, "dev_f1_at_threshold": round(100 * score, 2),
    }
    write_text_atomic(meta_path, json.dumps(meta, indent=2, ensure_ascii=False))
    log.info("threshold %.3f (dev F1 %.1f), confidence scale %.2f -> %s", threshold, 100 * score, scale, meta_path)


if __name__ == "__main__":
    main()
