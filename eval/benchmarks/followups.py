"""Follow-up benchmark: ``python -m viqa.eval.benchmarks.followups`` answers the second turn of two-turn dialogues.

Each JSONL line is ``{id, turns: [first, follow-up], answers: [...]}``; the follow-up is resolved against
the first turn (qa.followup, as /v1/chat does) and the answer is scored by exact match.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from viqa.eval.benchmarks.harness import FOLLOWUPS
from viqa.eval.metrics import exact_match, f1
from viqa.qa.followup import resolve_followup
from viqa.qa.pipeline import Pipeline
from viqa.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dialogues", type=Path, nargs="?",
                   default=FOLLOWUPS)
    p.add_argument("--collection", default=None)
    args = p.parse_args(argv)
    pipeline = Pipeline(get_settings()).load(args.collection)
    right, rows = 0, [json.loads(line) for line in args.dialogues.read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        *history, question = row["turns"]
        resolved = resolve_followup(history, question)
        out = pipeline.ask(resolved, args.collection)
        em = exact_match(out.answer, row["answers"])
        right += int(em)
        print(f"{row['id']}  EM {em:.0f}  F1 {f1(out.answer, row['answers']):.2f}  {resolved!r} -> {out.answer!r}")
    print(f"{right} of {len(rows)} follow-ups answered exactly right")


if __name__ == "__main__":
    main()
