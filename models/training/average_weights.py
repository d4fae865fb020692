"""Interpolate two exported readers: ``python -m viqa.models.training.average_weights A B --share 0.5 --out DIR``.

Each tensor of the result is ``(1 - share) * A + share * B`` (fp32 arithmetic, written in fp16 as exports are), with
a ``reader.json`` naming both parents. A later pass (B) interpolated with the one it started from (A) often keeps
what A knew and B learnt (Wortsman et al. 2022, "Robust fine-tuning of zero-shot models"); the share is chosen on
the selection sets like any other setting.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from viqa.files import write_text_atomic
from viqa.models.reader_model import SHIPPED_CONFIG, SHIPPED_WEIGHTS


def average(first: Path, second: Path, share: float, out: Path) -> Path:
    """Write ``(1 - share) * first + share * second`` of two weight folders into ``out``; ValueError when their
    tensors differ in names or shapes."""
    import torch
    from safetensors.torch import load_file, save_file

    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be within [0, 1], not {share}")
    a, b = (load_file(str(folder / SHIPPED_WEIGHTS)) for folder in (first, second))
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ValueError(f"{first} and {second} hold different tensors")
    mixed = {k: ((1 - share) * a[k].to(torch.float32) + share * b[k].to(torch.float32)).half() for k in a}
    out.mkdir(parents=True, exist_ok=True)
    save_file(mixed, str(out / SHIPPED_WEIGHTS))
    parents = [json.loads((f / SHIPPED_CONFIG).read_text()) if (f / SHIPPED_CONFIG).is_file() else {}
               for f in (first, second)]
    meta = {**parents[1], "averaged": {"first": str(first), "second": str(second), "share_of_second": share},
            "parents": parents}
    meta.pop("calibration", None)  # a new model: calibrate it anew
    write_text_atomic(out / SHIPPED_CONFIG, json.dumps(meta, indent=2, ensure_ascii=False))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("first", type=Path)
    p.add_argument("second", type=Path)
    p.add_argument("--share", type=float, default=0.5, help="Weight of the second folder.")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    print(average(args.first, args.second, args.share, args.out))


if __name__ == "__main__":
    main()
