"""Which answer rules hold off the reported sets? ``python -m viqa.eval.benchmarks.rules`` reads the selection sets
once and scores every variant of the rules on that one inference.

Selection sets, never XQuAD-vi dev nor the report: the answerable questions of vi-news-squad2-dev (held out of every
training pass) and of vi-wiki-squad-small (Wikipedia genre, held out of the Vietnamese pass; see the model card).
Reader mode, always answering, each question read alone as the product reads it, with its tone marks and without.
The variants: the rules in use (``VIQA_ANSWER_RULES``, ``VIQA_READER_CONTEXT_WEIGHT``), the span re-ranking on and
off, each answer rule left out or added, and none at all.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from viqa.eval.benchmarks.harness import TRAIN_DIR, format_table, write_json
from viqa.eval.formats import GoldItem, asked_without_tone_marks, load_gold
from viqa.eval.runner import ItemResult, score_item
from viqa.eval.summary import summarize
from viqa.qa.pipeline import Pipeline
from viqa.settings import ANSWER_RULES, AnswerRule, get_settings

SELECTION_SETS = (TRAIN_DIR / "vi-news-squad2-dev.json", TRAIN_DIR / "vi-wiki-squad-small.json")
RERANK_WEIGHT = 0.3  # the re-ranking's weight when it is on (fitted earlier; the question here is on or off)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One way to shape and rank the reader's spans."""

    name: str
    rules: tuple[AnswerRule, ...]
    context_weight: float


def variants(in_use: tuple[AnswerRule, ...], weight: float) -> list[Variant]:
    """The rules in use, re-ranking toggled, each rule toggled, and no rules at all."""
    toggle = Variant("re-ranking off", in_use, 0.0) if weight else Variant("re-ranking on", in_use, RERANK_WEIGHT)
    out = [Variant("in use", in_use, weight), toggle]
    for rule in ANSWER_RULES:
        toggled = tuple(r for r in ANSWER_RULES if (r in in_use) != (r == rule))
        out.append(Variant(f"{'-' if rule in in_use else '+'} {rule}", toggled, weight))
    out.append(Variant("no rules, no re-ranking", (), 0.0))
    return out


def answerable(path: Path, strip_tones: bool) -> list[GoldItem]:
    """The answerable questions of ``path``, tone marks stripped from the questions when asked."""
    items = [it for it in load_gold(path, renumber_repeated_ids=True) if it.answers and it.context]
    return asked_without_tone_marks(items) if strip_tones else items


def score_variants(pipeline: Pipeline, items: list[GoldItem], chosen: list[Variant]) -> dict[str, list[ItemResult]]:
    """Each variant's results over ``items``: one inference per question, every variant decoded from it."""
    reader = pipeline.reader
    results: dict[str, list[ItemResult]] = {v.name: [] for v in chosen}
    for it in items:
        pairs = reader.as_read([(it.question, it.context or "")])
        inferred = reader.infer(pairs)
        for v in chosen:
            (res,) = reader.spans(pairs, inferred, v.rules, v.context_weight)
            answer = it.context[res.spans[0].start : res.spans[0].end] if res.spans and it.context else None
            results[v.name].append(score_item(it, answer, 1.0, 0.0))
    return results


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", type=Path, nargs="+", default=list(SELECTION_SETS))
    p.add_argument("--limit", type=int, default=None, help="First N answerable questions of each set (a quick look).")
    p.add_argument("--out", type=Path, default=Path("runs/bench-rules.json"))
    args = p.parse_args(argv)

    settings = get_settings()
    pipeline = Pipeline(settings)
    chosen = variants(tuple(settings.answer_rules), settings.reader_context_weight)
    table: dict[str, dict[str, dict]] = {v.name: {} for v in chosen}
    columns = []
    for path in args.sets:
        for strip_tones in (False, True):
            column = f"{path.stem}{' toneless' if strip_tones else ''}"
            columns.append(column)
            items = answerable(path, strip_tones)[: args.limit]
            for name, results in score_variants(pipeline, items, chosen).items():
                overall = summarize(results, "reader")["overall"]
                table[name][column] = {"n": overall["n"], "em": overall["em"], "f1": overall["f1"]}
    headers = ["variant", *(f"{c} EM/F1" for c in columns)]
    rows = [[name, *(f"{cols[c]['em']:.2f}/{cols[c]['f1']:.2f}" for c in columns)] for name, cols in table.items()]
    print(format_table(headers, rows))
    print("questions:", ", ".join(f"{c} {table['in use'][c]['n']}" for c in columns))
    write_json(args.out, {"weights": str(settings.reader_weights or "shipped"), "variants": table})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
