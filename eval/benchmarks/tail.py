"""The slow questions: ``python -m viqa.eval.benchmarks.tail`` times the reading before against the settings in use.

Both readings answer every question of the gold set, in turn, question by question (which goes first alternates),
``--repeat`` times, so that whatever else loads the machine weighs on both alike. Reported per reading: p50, p95
and p99 of ``Pipeline.answer``'s own total, reader calls, windows and forward passes per question, EM on the
answerable questions and abstentions on the others; then every question whose answer (or list of other sources)
differs between the two; then what one forward pass of several windows costs against a pass for each, on the
windows the questions read.

The reading before (``BEFORE``): a passage's windows were read in padded passes of up to 16. A gold file with
contexts (SQuAD JSON) and no ``--collection`` is read over a collection of its own contexts, ``bench-tail-<stem>``
(built once, then reused).

``--levers`` also replays, exactly, from every view read alone, the levers tried and not shipped: a no-answer exit
(stop and abstain once the best answer is far under the threshold and the views left were retrieved much worse),
a cap on the windows a question reads, and the views left after an unsure first one read in one padded call.
Choose their values on vi-news-squad2-dev, never on lang-son-dev or XQuAD-vi dev.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from viqa.eval.benchmarks.harness import LANG_SON_GOLD, format_table, latency_ms, write_json
from viqa.eval.formats import GoldItem, load_gold
from viqa.eval.metrics import exact_match
from viqa.index.ingest import ingest_documents
from viqa.index.store import Collection
from viqa.models.span_model import SpanModel
from viqa.qa.answering import Candidate, rank_candidates
from viqa.qa.focus import View, focus
from viqa.qa.pipeline import Pipeline
from viqa.qa.reader import ReadResult, prepare_windows
from viqa.quiet import quiet_model_loading
from viqa.settings import Settings, get_settings
from viqa.types import Answer, Document

BEFORE: dict[str, object] = {"reader_batch_size": 16}  # the settings of the reading before, over those in use


@dataclass
class Meter:
    """What one pipeline's reader did: reader calls, windows read and forward passes, per question answered."""

    calls: list[int] = field(default_factory=list)
    windows: list[int] = field(default_factory=list)
    passes: list[int] = field(default_factory=list)

    def attach(self, pipe: Pipeline) -> None:
        """Count ``pipe``'s reader calls, and the windows and passes of its model, from now on (wraps the two on
        the instances; passes as ``SpanModel.logits`` makes them: ``batch_size`` windows at most)."""
        reader = pipe.reader
        read, logits, batch = reader.read, reader.model.logits, reader.model.batch_size

        def counted_read(pairs):
            self.calls[-1] += 1
            return read(pairs)

        def counted_logits(input_ids):
            self.windows[-1] += len(input_ids)
            self.passes[-1] += math.ceil(len(input_ids) / batch)
            return logits(input_ids)

        reader.read, reader.model.logits = counted_read, counted_logits

    def start(self) -> None:
        """A new question: its counts start at 0."""
        for counts in (self.calls, self.windows, self.passes):
            counts.append(0)


@dataclass
class Run:
    """One reading's answers (the first time each question was asked), latencies and counts."""

    label: str
    pipe: Pipeline
    meter: Meter = field(default_factory=Meter)
    latencies: list[float] = field(default_factory=list)
    answers: dict[str, Answer] = field(default_factory=dict)

    def ask(self, item: GoldItem, collection: str) -> None:
        self.meter.start()
        answer = self.pipe.answer(item.question, collection)
        self.latencies.append(answer.timings_ms["total"])
        self.answers.setdefault(item.qid, answer)


def context_collection(gold: Path, items: list[GoldItem], settings: Settings, pipe: Pipeline) -> str:
    """``bench-tail-<stem>``: one document per context of the gold set (ingested incrementally: reused as it is)."""
    name = "bench-tail-" + re.sub(r"[^a-z0-9-]+", "-", gold.stem.lower()).strip("-")
    contexts = {it.context_id: it.context for it in items if it.context_id and it.context}
    docs = [Document(cid, cid, f"{gold.name}#{cid}", text, hashlib.sha256(text.encode()).hexdigest())
            for cid, text in contexts.items()]
    ingest_documents(Collection(settings.collections_dir, name), docs, pipe.embedder, settings)
    return name


def interleave(runs: list[Run], items: list[GoldItem], collection: str, repeat: int) -> None:
    """Every question through every run, ``repeat`` times; which run goes first turns with each question."""
    for it in items[:3]:  # warm-up: first calls allocate
        for run in runs:
            run.pipe.answer(it.question, collection)
    for run in runs:
        run.meter.attach(run.pipe)
    turn = 0
    for _ in range(repeat):
        for it in items:
            for k in range(len(runs)):
                runs[(turn + k) % len(runs)].ask(it, collection)
            turn += 1


def summary(run: Run, items: list[GoldItem]) -> dict:
    """Latency percentiles (ms), mean counts per question, EM and abstentions of one run."""
    answerable = [it for it in items if it.answers]
    unanswerable = [it for it in items if not it.answers]
    m = run.meter
    return {
        "reading": run.label,
        **latency_ms(run.latencies, (50, 95, 99)),
        "mean_ms": round(statistics.mean(run.latencies), 1),
        "reader_calls": round(statistics.mean(m.calls), 3),
        "windows": round(statistics.mean(m.windows), 3),
        "passes": round(statistics.mean(m.passes), 3),
        "exact": sum(int(exact_match(run.answers[it.qid].text, it.answers)) for it in answerable),
        "answerable": len(answerable),
        "abstained": sum(run.answers[it.qid].text is None for it in unanswerable),
        "unanswerable": len(unanswerable),
    }


def _said(answer: Answer) -> tuple[str | None, tuple[str, ...]]:
    return answer.text, tuple(a.text for a in answer.alternatives)


def changes(before: Run, after: Run, items: list[GoldItem]) -> list[dict]:
    """The questions whose answer or other sources differ between the two runs."""
    out = []
    for it in items:
        a, b = _said(before.answers[it.qid]), _said(after.answers[it.qid])
        if a != b:
            out.append({"qid": it.qid, "question": it.question, "golds": list(it.answers), "before": a[0],
                        "after": b[0], "alternatives_before": list(a[1]), "alternatives_after": list(b[1])})
    return out


def views_of(pipe: Pipeline, question: str, collection: str) -> list[View]:
    """The views ``Pipeline.answer`` reads for ``question``, best first."""
    s = pipe.settings
    hits = pipe.retriever(collection).search(question, k=s.read_k)
    if s.read_focus_sentences:
        return focus(hits, question, s.read_focus_sentences)
    return [View(h, 0, len(h.chunk.clean)) for h in hits]


def question_windows(pipe: Pipeline, items: list[GoldItem], collection: str) -> list[list[int]]:
    """The token windows of every view each question's reading may read, question after question."""
    s = pipe.settings
    out = []
    for it in items:
        pairs = [(it.question, v.text) for v in views_of(pipe, it.question, collection)]
        if pairs:
            out += prepare_windows(pipe.reader.model.tokenizer, pairs, s.reader_max_length, s.reader_stride,
                                   s.max_windows_per_passage).input_ids
    return out


def batch_cost(model: SpanModel, windows: list[list[int]], size: int, groups: int, rounds: int = 3) -> dict:
    """Milliseconds of one call of ``size`` windows in one padded pass (``model.batch_size`` >= ``size``) against
    ``size`` calls of one window, over up to ``groups`` groups of consecutive ``windows``, the two alternating."""
    if model.batch_size < size:
        raise ValueError(f"a model reading {model.batch_size} windows a pass cannot read {size} in one")
    sets = [windows[i : i + size] for i in range(0, len(windows) - size + 1, size)][:groups]
    together, alone = [], []

    def clock(fn: Callable[[], object]) -> float:
        started = time.perf_counter()
        fn()
        return (time.perf_counter() - started) * 1000

    for r in range(rounds):
        for n, group in enumerate(sets):
            ways = [lambda g=group: model.logits(g), lambda g=group: [model.logits([w]) for w in g]]
            first = (n + r) % 2
            ms = {first: clock(ways[first]), 1 - first: clock(ways[1 - first])}
            together.append(ms[0])
            alone.append(ms[1])
    if not sets:
        return {"windows_per_group": size, "groups": 0}
    return {"windows_per_group": size, "groups": len(sets), "one_pass_ms": round(statistics.mean(together), 1),
            "a_pass_each_ms": round(statistics.mean(alone), 1),
            "one_pass_over_a_pass_each": round(statistics.mean(together) / statistics.mean(alone), 3)}


# --- levers tried and not shipped, replayed exactly from each view read alone (--levers) -------------------------

EXIT_BELOW = (0.0, 2.0, 4.0, 8.0, 12.0)  # logits under the threshold that the best answer so far must be
EXIT_SHARES = (0.5, 0.6, 0.8, 1.0, math.inf)  # of the best read view's retrieval score, that every view left is under
CAPS = (1, 2, 3, 4, 6)  # windows a question may read, its first view always read


@dataclass(frozen=True)
class Trace:
    """One question's views, best first, each read alone as ``Pipeline._read`` reads them one at a time."""

    item: GoldItem
    views: list[View]
    results: list[ReadResult]
    windows: list[int]


def trace(pipe: Pipeline, item: GoldItem, collection: str) -> Trace:
    """Every view of ``item`` read alone, with its windows."""
    s = pipe.settings
    views = views_of(pipe, item.question, collection)
    pairs = [(item.question, v.text) for v in views]
    windows = [len(prepare_windows(pipe.reader.model.tokenizer, [pair], s.reader_max_length, s.reader_stride,
                                   s.max_windows_per_passage).input_ids) for pair in pairs]
    return Trace(item, views, [pipe.reader.read([pair])[0] for pair in pairs], windows)


def replay(t: Trace, threshold: float, settings: Settings, exit_below: float | None = None,
           exit_share: float = math.inf, cap: int | None = None) -> tuple[str | None, int, int]:
    """(answer, views read, windows read) of the one-at-a-time reading, and with a no-answer exit (stop once the
    best margin is more than ``exit_below`` under the threshold and every view left was retrieved under
    ``exit_share`` of the best view read) or a cap of ``cap`` windows (a view that would go over it is not read)."""
    sure = threshold + settings.read_sure_margin
    candidates: list[Candidate] = []
    read = windows = 0
    for i, (view, result, n) in enumerate(zip(t.views, t.results, t.windows, strict=True)):
        if cap is not None and i > 0 and windows + n > cap:
            break
        candidates = sorted(candidates + rank_candidates([view], [result], settings.retrieval_weight),
                            key=lambda c: -c.score)
        read, windows = i + 1, windows + n
        if candidates and candidates[0].margin >= sure:
            break
        if exit_below is not None and read < len(t.views):
            best = candidates[0].margin if candidates else -math.inf
            top, rest = max(v.hit.score for v in t.views[:read]), max(v.hit.score for v in t.views[read:])
            if best < threshold - exit_below and rest < exit_share * top:
                break
    return (candidates[0].text if candidates and candidates[0].margin >= threshold else None), read, windows


def rest_in_one_call(t: Trace, before: Pipeline, threshold: float, read: int) -> tuple[str | None, float, float]:
    """(answer, ms, ms as read): once the first view is unsure, the rest in one padded call of ``before``'s reader,
    against those of them that the one-at-a-time reading read, one call each, just after."""
    s = before.settings
    pairs = [(t.item.question, v.text) for v in t.views[1:]]
    started = time.perf_counter()
    rest = before.reader.read(pairs)
    together = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for pair in pairs[: read - 1]:
        before.reader.read([pair])
    alone = (time.perf_counter() - started) * 1000
    candidates = sorted(rank_candidates(t.views, [t.results[0], *rest], s.retrieval_weight), key=lambda c: -c.score)
    return (candidates[0].text if candidates and candidates[0].margin >= threshold else None), together, alone


def levers(now: Pipeline, before: Pipeline, items: list[GoldItem], collection: str, answers: dict[str, Answer]) -> dict:
    """Replay the reading of every question under each lever: answers changed, views and windows read."""
    s = now.settings
    threshold, _ = now.calibration
    traces = [trace(now, it, collection) for it in items]
    base = [replay(t, threshold, s) for t in traces]
    matches = sum(b[0] == answers[t.item.qid].text for t, b in zip(traces, base, strict=True))

    def row(results: list[tuple[str | None, int, int]], **what: float) -> dict:
        return {**what, "changed": sum(r[0] != b[0] for r, b in zip(results, base, strict=True)),
                "views": round(statistics.mean(r[1] for r in results), 3),
                "windows": round(statistics.mean(r[2] for r in results), 3), "most_windows": max(r[2] for r in results)}

    exits = [row([replay(t, threshold, s, below, share) for t in traces], below=below, share=share)
             for below in EXIT_BELOW for share in EXIT_SHARES]
    caps = [row([replay(t, threshold, s, cap=cap) for t in traces], cap=cap) for cap in CAPS]
    unsure = [(t, b) for t, b in zip(traces, base, strict=True) if b[1] > 1]  # the first view was not sure
    rest = [(t, b, rest_in_one_call(t, before, threshold, b[1])) for t, b in unsure]
    return {
        "replay_matches_pipeline": f"{matches}/{len(items)}",
        "one_at_a_time": row(base),
        "no_answer_exit": exits,
        "no_answer_exit_best": min((r for r in exits if r["changed"] == 0), key=lambda r: r["views"], default=None),
        "window_cap": caps,
        "rest_in_one_call": {
            "questions": len(rest),
            "changed": [{"qid": t.item.qid, "before": b[0], "after": r[0], "golds": list(t.item.answers)}
                        for t, b, r in rest if r[0] != b[0]],
            "one_call_ms": round(statistics.mean(r[1] for _, _, r in rest), 1) if rest else None,
            "one_at_a_time_ms": round(statistics.mean(r[2] for _, _, r in rest), 1) if rest else None,
        },
    }


def print_levers(found: dict) -> None:
    """``levers``' result as tables."""
    base = found["one_at_a_time"]
    print(f"\nlevers, replayed from each view read alone (replay = pipeline on {found['replay_matches_pipeline']}"
          f" answers); one at a time: {base['views']} views, {base['windows']} windows a question")
    keys = ["changed", "views", "windows", "most_windows"]
    print(format_table(["no-answer exit: under threshold by", "share", *keys],
                       [[r["below"], r["share"], *(r[k] for k in keys)] for r in found["no_answer_exit"]], digits=2))
    print(f"fewest views with no answer changed on this set: {found['no_answer_exit_best']}")
    print(format_table(["window cap", *keys], [[r["cap"], *(r[k] for k in keys)] for r in found["window_cap"]]))
    rest = found["rest_in_one_call"]
    print(f"the rest in one padded call, {rest['questions']} unsure questions: {rest['one_call_ms']} ms against"
          f" {rest['one_at_a_time_ms']} ms one at a time; answers changed: {len(rest['changed'])}")
    for c in rest["changed"]:
        print(f"  {c['qid']}: {c['before']!r} -> {c['after']!r}  gold {c['golds']}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m viqa.eval.benchmarks.tail", description=__doc__.splitlines()[0])
    p.add_argument("--gold", type=Path, default=LANG_SON_GOLD, help="Gold set (default: lang-son-dev).")
    p.add_argument("--collection", default=None, help="Collection to ask (default: the gold set's own contexts"
                   " as bench-tail-<stem> if it has any, else 'default').")
    p.add_argument("--repeat", type=int, default=3, help="Times each reading answers each question.")
    p.add_argument("--batch", type=int, default=4, help="Windows per group in the batch-cost measurement.")
    p.add_argument("--levers", action="store_true", help="Also replay the levers tried and not shipped.")
    p.add_argument("--out", type=Path, default=Path("runs/bench/tail.json"))
    args = p.parse_args(argv)
    quiet_model_loading()
    settings = get_settings()
    items = load_gold(args.gold)
    after = Pipeline(settings)
    collection = args.collection
    if collection is None:
        has_contexts = any(it.context for it in items)
        collection = context_collection(args.gold, items, settings, after) if has_contexts else "default"
    before = Pipeline(settings.model_copy(update=BEFORE))
    runs = [Run("before: " + ", ".join(f"{k}={v}" for k, v in BEFORE.items()), before.load(collection)),
            Run("in use: " + ", ".join(f"{k}={getattr(settings, k)}" for k in BEFORE), after.load(collection))]
    cost = batch_cost(before.reader.model, question_windows(after, items, collection), args.batch, groups=40)
    interleave(runs, items, collection, args.repeat)
    rows = [summary(r, items) for r in runs]
    changed = changes(runs[0], runs[1], items)
    print(f"{args.gold.name} over '{collection}': {len(items)} questions x {args.repeat}, the two readings in turn")
    keys = ["p50_ms", "p95_ms", "p99_ms", "mean_ms", "reader_calls", "windows", "passes"]
    print(format_table(["reading", *keys, "EM", "abstained"],
                       [[r["reading"], *(r[k] for k in keys), f"{r['exact']}/{r['answerable']}",
                         f"{r['abstained']}/{r['unanswerable']}"] for r in rows], digits=2))
    print(f"answers or other sources that changed: {len(changed)}")
    for c in changed:
        print(f"  {c['qid']}: {c['before']!r} -> {c['after']!r}"
              + (f" (other sources {c['alternatives_before']} -> {c['alternatives_after']})"
                 if c["alternatives_before"] != c["alternatives_after"] else "") + f"  gold {c['golds']}")
    if cost["groups"]:
        print(f"{cost['windows_per_group']} windows in one padded pass: {cost['one_pass_ms']} ms, in a pass each: "
              f"{cost['a_pass_each_ms']} ms ({cost['groups']} groups of the windows these questions read)")
    found = levers(after, before, items, collection, runs[1].answers) if args.levers else None
    if found is not None:
        print_levers(found)
    write_json(args.out, {"gold": str(args.gold), "collection": collection, "repeat": args.repeat, "readings": rows,
                          "changed": changed, "batch_cost": cost, "levers": found})
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
