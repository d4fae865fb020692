"""Follow-up benchmark: ``python -m viqa.eval.benchmarks.followups`` answers the second turn of two-turn dialogues.

Each JSONL line is ``{id, turns: [first, follow-up], answers: [...]}``; the follow-up is resolved against
the first turn (qa.followup, as /v1/chat does), answered by ``Pipeline.answer`` over the sample report
(or ``--collection``) and scored by ``eval.runner.score_item``. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from viqa.eval.benchmarks.harness import FOLLOWUPS, SAMPLE_DIR, format_table, report_collection, timed, write_json
from viqa.eval.formats import GoldItem
from viqa.eval.runner import ItemResult, score_item
from viqa.eval.summary import summarize
from viqa.qa.followup import resolve_followup
from viqa.qa.pipeline import Pipeline
from viqa.quiet import quiet_model_loading
from viqa.settings import get_settings


def load_dialogues(path: Path) -> list[GoldItem]:
    """Each dialogue as a gold item whose question is its last turn resolved against the turns before it."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            *history, question = row["turns"]
            items.append(GoldItem(str(row["id"]), resolve_followup(history, question), tuple(row["answers"])))
    return items


def answer_all(items: list[GoldItem], pipeline: Pipeline, collection: str) -> list[ItemResult]:
    """Every resolved follow-up answered over ``collection`` and scored."""
    results = []
    for it in items:
        answer, seconds = timed(lambda it=it: pipeline.answer(it.question, collection))
        results.append(score_item(it, answer.text, answer.confidence, seconds * 1000))
    return results


def results_table(results: list[ItemResult]) -> str:
    """One row per dialogue: EM, F1, and the resolved follow-up with its answer."""
    rows = [[r.qid, r.em, r.f1, f"{r.question!r} -> {r.prediction!r}"] for r in results]
    return format_table(["id", "EM", "F1", "resolved follow-up -> answer"], rows, digits=2)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.followups", description=__doc__.splitlines()[0])
    p.add_argument("dialogues", type=Path, nargs="?", default=FOLLOWUPS)
    p.add_argument("--collection", default=None, help="collection to ask (default: the sample report, ingested)")
    p.add_argument("--corpus", type=Path, default=SAMPLE_DIR, help="what the default collection holds")
    p.add_argument("--out", type=Path, default=Path("runs/bench/followups.json"))
    args = p.parse_args(argv)
    quiet_model_loading()
    settings = get_settings()
    pipeline = Pipeline(settings)
    collection = args.collection or report_collection(settings, pipeline.embedder, args.corpus).name
    results = answer_all(load_dialogues(args.dialogues), pipeline.load(collection), collection)
    summary = summarize(results, "open")
    write_json(args.out, {"dialogues": str(args.dialogues), "collection": collection, **summary,
                          "results": [asdict(r) for r in results]})
    print(results_table(results))
    overall = summary["overall"]
    print(f"{sum(int(r.em) for r in results)} of {len(results)} follow-ups answered exactly right "
          f"(EM {overall.get('em', 0.0)}, F1 {overall.get('f1', 0.0)})")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
