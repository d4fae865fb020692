"""When do sources differ? ``python -m viqa.eval.benchmarks.alternatives`` chooses and measures "close".

Choosing (on vi-news-squad2-dev, held out of the reader's training): every answerable question's paragraph is
indexed as it is, and beside it a copy that says something else (its answer replaced by another question's
answer). Asked over those pairs, viqa should list the copy's answer as what another source says; asked over the
paragraphs alone, where no source contradicts another, it should list nothing. For each (gap, retrieval share,
overlap) of the grid the run counts both, and picks the setting that finds most disagreements while listing
alternatives for at most ``--max-false`` of the questions over the paragraphs alone.

Measuring: how often alternatives are listed on the gold sets end to end (lang-son-dev over the bundled
report, XQuAD-vi dev over its paragraphs), at the settings in use.
"""

from __future__ import annotations

import argparse
import hashlib
import random
from pathlib import Path

from viqa.eval.benchmarks.harness import (
    LANG_SON_GOLD,
    TRAIN_DIR,
    XQUAD_GOLD,
    format_table,
    report_collection,
    write_json,
)
from viqa.eval.evaluate import context_collection
from viqa.eval.formats import GoldItem, load_gold
from viqa.index.ingest import ingest_documents
from viqa.index.store import Collection
from viqa.qa.pipeline import Pipeline
from viqa.settings import get_settings
from viqa.text.normalise import normalise_vi
from viqa.types import Document

DEV = TRAIN_DIR / "vi-news-squad2-dev.json"
GAPS = (0.5, 1.0, 2.0)
SHARES = (0.8, 1.0)
OVERLAPS = (0.0, 0.5, 0.7)


def _doc(doc_id: str, text: str) -> Document:
    return Document(doc_id, doc_id, f"dev#{doc_id}", text, hashlib.sha256(text.encode()).hexdigest())


def dev_items(path: Path) -> list[GoldItem]:
    """The answerable dev questions whose first answer stands in their paragraph, one per paragraph."""
    seen, items = set(), []
    for it in load_gold(path):
        if it.answers and it.context and it.answers[0] in it.context and it.context_id not in seen:
            seen.add(it.context_id)
            items.append(it)
    return items


def contradicting_copies(items: list[GoldItem], seed: int) -> dict[str, tuple[str, str]]:
    """For each item, a copy of its paragraph whose answer is another item's answer: id -> (copy id, that answer)."""
    rng = random.Random(seed)
    answers = [it.answers[0] for it in items]
    copies = {}
    for it in items:
        other = rng.choice([a for a in answers if normalise_vi(a) != normalise_vi(it.answers[0])])
        copies[it.qid] = (f"{it.context_id}-copy", other)
    return copies


def build_collections(pipe: Pipeline, items: list[GoldItem], copies: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(collection of the paragraphs alone, collection of each paragraph beside its contradicting copy)."""
    s = pipe.settings
    alone = [_doc(it.context_id, it.context) for it in items]
    pairs = alone + [_doc(copies[it.qid][0], it.context.replace(it.answers[0], copies[it.qid][1])) for it in items]
    for name, docs in (("dev-alone", alone), ("dev-pairs", pairs)):
        ingest_documents(Collection(s.collections_dir, name), docs, pipe.embedder, s)
    return "dev-alone", "dev-pairs"


def firing(pipe: Pipeline, items: list[GoldItem], collection: str) -> list[tuple[str | None, list[str]]]:
    """Each question's (answer, the documents its alternatives come from)."""
    out = []
    for it in items:
        answer = pipe.answer(it.question, collection)
        out.append((answer.text, [a.citation.doc_id for a in answer.alternatives]))
    return out


def grid(pipe: Pipeline, items: list[GoldItem], copies: dict, alone: str, pairs: str) -> list[dict]:
    """Found disagreements (over the pairs: an alternative from the paired document) and false alarms (over the
    paragraphs alone: any alternative) for every (gap, share, overlap) of the grid."""
    rows = []
    s = pipe.settings
    for share in SHARES:
        for gap in GAPS:
            for overlap in OVERLAPS:
                s.alternative_gap, s.alternative_retrieval_share, s.alternative_overlap = gap, share, overlap
                over_pairs = firing(pipe, items, pairs)
                over_alone = firing(pipe, items, alone)
                found = sum(bool({it.context_id, copies[it.qid][0]} & set(docs))
                            for it, (_, docs) in zip(items, over_pairs, strict=True))
                rows.append({"gap": gap, "share": share, "overlap": overlap, "found": found,
                             "false": sum(bool(d) for _, d in over_alone), "questions": len(items)})
    return rows


def choose(rows: list[dict], max_false: float) -> dict:
    """The row that finds most disagreements with at most ``max_false`` false alarms (ties: the smaller gap)."""
    ok = [r for r in rows if r["false"] <= max_false * r["questions"]] or [min(rows, key=lambda r: r["false"])]
    return max(ok, key=lambda r: (r["found"], -r["gap"], r["share"], r["overlap"]))


def fired_share(pipe: Pipeline, items: list[GoldItem], collection: str) -> float:
    """Share of the answered questions that list at least one alternative."""
    answered = [docs for text, docs in firing(pipe, items, collection) if text is not None]
    return sum(bool(d) for d in answered) / max(len(answered), 1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.alternatives",
                                description=__doc__.splitlines()[0])
    p.add_argument("--dev", type=Path, default=DEV)
    p.add_argument("--max-false", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--measure-only", action="store_true", help="Skip the choosing; measure the settings in use.")
    p.add_argument("--out", type=Path, default=Path("runs/bench/alternatives.json"))
    args = p.parse_args(argv)
    settings = get_settings()
    pipe = Pipeline(settings).load()
    in_use = (settings.alternative_gap, settings.alternative_retrieval_share, settings.alternative_overlap)
    rows, chosen = [], None
    if not args.measure_only:
        items = dev_items(args.dev)
        copies = contradicting_copies(items, args.seed)
        rows = grid(pipe, items, copies, *build_collections(pipe, items, copies))
        chosen = choose(rows, args.max_false)
        print(f"vi-news-squad2-dev: {len(items)} questions, each over its paragraph beside a copy that says otherwise")
        print(format_table(["gap", "share", "overlap", "disagreements found", "false alarms (alone)"],
                           [[r["gap"], r["share"], r["overlap"], r["found"], r["false"]] for r in rows], digits=2))
        print(f"chosen: gap {chosen['gap']}, share {chosen['share']}, overlap {chosen['overlap']} "
              f"(at most {args.max_false:.0%} false alarms)")
        settings.alternative_gap, settings.alternative_retrieval_share, settings.alternative_overlap = in_use
    xquad = load_gold(XQUAD_GOLD)
    lang_son = [it for it in load_gold(LANG_SON_GOLD) if it.answers]
    rates = {
        "lang-son-dev": fired_share(pipe, lang_son, report_collection(settings, pipe.embedder).name),
        "xquad-vi-dev (open)": fired_share(pipe, xquad, context_collection(xquad, pipe, XQUAD_GOLD)),
    }
    print(f"at the settings in use (gap {in_use[0]}, share {in_use[1]}, overlap {in_use[2]}): alternatives for "
          + ", ".join(f"{k} {v:.1%}" for k, v in rates.items()) + " of the answered questions")
    write_json(args.out, {"grid": rows, "chosen": chosen,
                          "in_use": {"gap": in_use[0], "share": in_use[1], "overlap": in_use[2]}, "fired": rates})
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
