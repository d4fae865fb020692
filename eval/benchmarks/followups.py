"""Follow-up benchmark: ``python -m viqa.eval.benchmarks.followups`` answers follow-ups resolved as /v1/chat does.

Two measures:

- the bundled two-turn set (``data/followups``, JSONL ``{id, turns: [first, follow-up], answers: [...]}``) over
  the sample report (or ``--collection``): the follow-up is resolved against the first turn;
- the multi-turn conversation sets (``data/conversations/dev.jsonl`` and ``test.jsonl``) over their own
  collection, built fresh from ``data/conversations/contexts.jsonl`` (paragraphs of the training data). Each
  line is ``{id, context_id, turns: [{question, answers, resolved?, kind?, context_id?}, ...]}``; every turn is
  resolved against the user's earlier turns as they were typed (``resolve_followup(previous, question)``, as
  ``api.routes.chat.answer_conversation`` passes them), answered by ``Pipeline.answer`` and scored by
  ``eval.runner.score_item``. Scores are reported by turn number and by kind of follow-up, with how many
  rewrites equal the full question a person would ask (``resolved``), which measures the rewriter apart
  from the reader.

Prints tables and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from viqa.eval.benchmarks.harness import (
    CHECKOUT,
    FOLLOWUPS,
    SAMPLE_DIR,
    format_table,
    fresh_collection,
    report_collection,
    timed,
    write_json,
)
from viqa.eval.formats import GoldItem
from viqa.eval.metrics import normalise_vi
from viqa.eval.runner import ItemResult, score_item
from viqa.eval.summary import summarize
from viqa.index.ingest import ingest_documents
from viqa.index.store import Collection
from viqa.models.embedder import Embedder
from viqa.qa.followup import resolve_followup
from viqa.qa.pipeline import Pipeline
from viqa.quiet import quiet_model_loading
from viqa.settings import Settings, get_settings
from viqa.types import Document

CONVERSATIONS_DIR = CHECKOUT / "data" / "conversations"
CONVERSATION_SETS = ("dev", "test")
CONVERSATION_COLLECTION = "bench-conversations"
SETS = ("two-turn", *CONVERSATION_SETS)


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


# --- multi-turn conversations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One user turn: what was typed, its gold answers (exact spans of ``context_id``), and for a follow-up the
    full question(s) a person would read it as (``resolved``) and what it changes (``kind``)."""

    question: str
    answers: tuple[str, ...]
    context_id: str
    resolved: tuple[str, ...] = ()
    kind: str | None = None


@dataclass(frozen=True)
class Conversation:
    cid: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class AskedTurn:
    """A turn as the bench asks it: ``item.question`` is the rewrite, ``item.kind`` is "turn N"."""

    item: GoldItem
    number: int
    typed: str
    expected: tuple[str, ...]
    follow_kind: str | None

    @property
    def rewrite_as_expected(self) -> bool | None:
        """Whether the rewrite is a full question a person would ask (None when the data gives none)."""
        if not self.expected:
            return None
        return normalise_vi(self.item.question) in {normalise_vi(e) for e in self.expected}


def _strings(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def load_conversations(path: Path) -> list[Conversation]:
    """The conversations of one JSONL set; a turn's ``context_id`` defaults to the conversation's."""
    conversations = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        turns = tuple(
            Turn(t["question"], tuple(t["answers"]), t.get("context_id", row["context_id"]),
                 _strings(t.get("resolved")), t.get("kind"))
            for t in row["turns"]
        )
        conversations.append(Conversation(str(row["id"]), turns))
    return conversations


def load_contexts(path: Path) -> list[Document]:
    """contexts.jsonl (``{id, title, text, source}``) as documents: ``id`` is the doc_id, ``source`` the path."""
    documents = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            documents.append(Document(row["id"], row["title"], row["source"], row["text"],
                                      hashlib.sha256(row["text"].encode()).hexdigest()))
    return documents


def conversation_collection(settings: Settings, embedder: Embedder, contexts: Path,
                            name: str = CONVERSATION_COLLECTION) -> Collection:
    """A fresh collection ``name`` holding the conversations' contexts, one document each."""
    coll = fresh_collection(settings, name)
    ingest_documents(coll, load_contexts(contexts), embedder, settings)
    return coll


def resolve_conversation(conversation: Conversation) -> list[AskedTurn]:
    """Every turn resolved against the user's earlier turns as typed, exactly as /v1/chat resolves them."""
    asked = []
    for i, turn in enumerate(conversation.turns):
        previous = [t.question for t in conversation.turns[:i]]
        item = GoldItem(f"{conversation.cid}#{i + 1}", resolve_followup(previous, turn.question), turn.answers,
                        context_id=turn.context_id, kind=f"turn {i + 1}")
        asked.append(AskedTurn(item, i + 1, turn.question, turn.resolved, turn.kind))
    return asked


def resolve_all(conversations: list[Conversation]) -> list[AskedTurn]:
    return [a for c in conversations for a in resolve_conversation(c)]


def _scores(pairs: list[tuple[AskedTurn, ItemResult]]) -> dict:
    """EM/F1 (%) of some turns and how many of their rewrites are the expected full question."""
    overall = summarize([r for _, r in pairs], "open")["overall"]
    judged = [a.rewrite_as_expected for a, _ in pairs if a.rewrite_as_expected is not None]
    return {"n": overall["n"], "em": overall.get("em", 0.0), "f1": overall.get("f1", 0.0),
            "rewrites_as_expected": sum(judged), "rewrites_judged": len(judged)}


def conversation_scores(asked: list[AskedTurn], results: list[ItemResult]) -> dict:
    """Scores by turn number ("turn 1" is the opening question, for reference), over all follow-ups
    (turns 2+), and by kind of follow-up."""
    pairs = list(zip(asked, results, strict=True))
    by_turn: dict[str, list] = defaultdict(list)
    by_kind: dict[str, list] = defaultdict(list)
    for a, r in pairs:
        by_turn[f"turn {a.number}"].append((a, r))
        if a.number > 1:
            by_kind[a.follow_kind or "-"].append((a, r))
    follow_ups = [(a, r) for a, r in pairs if a.number > 1]
    return {
        "by_turn": {k: _scores(v) for k, v in sorted(by_turn.items())},
        "follow_ups": _scores(follow_ups) if follow_ups else {"n": 0},
        "by_kind": {k: _scores(v) for k, v in sorted(by_kind.items())},
    }


def scores_table(scores: dict) -> str:
    """Rows: each turn number, all follow-ups, then each kind of follow-up."""

    def row(label: str, s: dict) -> list[object]:
        rewrites = f"{s['rewrites_as_expected']}/{s['rewrites_judged']}" if s.get("rewrites_judged") else "-"
        return [label, s["n"], s["em"], s["f1"], rewrites]

    rows = [row(k, s) for k, s in scores["by_turn"].items()]
    if scores["follow_ups"]["n"]:
        rows.append(row("follow-ups", scores["follow_ups"]))
    rows += [row(f"  {k}", s) for k, s in scores["by_kind"].items()]
    return format_table(["turns", "n", "EM", "F1", "rewrite = expected"], rows, digits=1)


def turns_table(asked: list[AskedTurn], results: list[ItemResult]) -> str:
    """One row per turn: EM, F1, whether the rewrite is the expected one, typed -> asked -> answer."""
    rows = []
    for a, r in zip(asked, results, strict=True):
        mark = {None: "", True: "=", False: "x"}[a.rewrite_as_expected]
        asked_text = "" if a.item.question == a.typed else f" -> {a.item.question!r}"
        rows.append([r.qid, r.em, r.f1, mark, f"{a.typed!r}{asked_text} -> {r.prediction!r}"])
    return format_table(["id", "EM", "F1", "rw", "typed -> asked -> answer"], rows, digits=2)


def run_conversations(path: Path, pipeline: Pipeline, collection: str) -> tuple[list[AskedTurn], list[ItemResult]]:
    """Every turn of one conversation set resolved, answered over ``collection`` and scored."""
    asked = resolve_all(load_conversations(path))
    return asked, answer_all([a.item for a in asked], pipeline, collection)


def conversation_report(asked: list[AskedTurn], results: list[ItemResult]) -> dict:
    """The JSON of one set: how many conversations, the scores, and every turn with its rewrite."""
    turns = [{**asdict(r), "typed": a.typed, "expected_rewrite": list(a.expected), "follow_kind": a.follow_kind,
              "rewrite_as_expected": a.rewrite_as_expected} for a, r in zip(asked, results, strict=True)]
    return {"conversations": len({a.item.qid.rpartition("#")[0] for a in asked}),
            "scores": conversation_scores(asked, results), "turns": turns}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.followups", description=__doc__.splitlines()[0])
    p.add_argument("dialogues", type=Path, nargs="?", default=FOLLOWUPS, help="the two-turn set")
    p.add_argument("--collection", default=None, help="collection for the two-turn set (default: the sample report)")
    p.add_argument("--corpus", type=Path, default=SAMPLE_DIR, help="what the two-turn set's default collection holds")
    p.add_argument("--conversations", type=Path, default=CONVERSATIONS_DIR,
                   help="folder holding contexts.jsonl, dev.jsonl and test.jsonl")
    p.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="which measures to run")
    p.add_argument("--summary-only", action="store_true", help="print the score tables, not every turn")
    p.add_argument("--out", type=Path, default=Path("runs/bench/followups.json"))
    args = p.parse_args(argv)
    quiet_model_loading()
    settings = get_settings()
    pipeline = Pipeline(settings)
    out: dict = {}
    if "two-turn" in args.sets:
        collection = args.collection or report_collection(settings, pipeline.embedder, args.corpus).name
        results = answer_all(load_dialogues(args.dialogues), pipeline.load(collection), collection)
        summary = summarize(results, "open")
        out["two_turn"] = {"dialogues": str(args.dialogues), "collection": collection, **summary,
                           "results": [asdict(r) for r in results]}
        if not args.summary_only:
            print(results_table(results))
        overall = summary["overall"]
        print(f"two-turn set: {sum(int(r.em) for r in results)} of {len(results)} follow-ups answered exactly right "
              f"(EM {overall.get('em', 0.0)}, F1 {overall.get('f1', 0.0)})\n")
    wanted = [s for s in CONVERSATION_SETS if s in args.sets]
    if wanted:
        coll = conversation_collection(settings, pipeline.embedder, args.conversations / "contexts.jsonl")
        pipeline.load(coll.name)
        out["conversations"] = {}
        for name in wanted:
            path = args.conversations / f"{name}.jsonl"
            asked, results = run_conversations(path, pipeline, coll.name)
            report = conversation_report(asked, results)
            out["conversations"][name] = {"file": str(path), "collection": coll.name, **report}
            if not args.summary_only:
                print(turns_table(asked, results))
            print(f"{name}: {report['conversations']} conversations, {len(asked)} turns")
            print(scores_table(report["scores"]) + "\n")
    write_json(args.out, out)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
