"""``viqa eval compare A B``: which questions two runs answer differently, and how EM/F1 moved."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from viqa.errors import InputError
from viqa.eval.runner import ItemResult
from viqa.eval.summary import summarize

SCORES = ("em", "f1", "em_squad", "f1_squad")
_LABELS = {"em": "EM", "f1": "F1", "em_squad": "EM (SQuAD)", "f1_squad": "F1 (SQuAD)"}
_FIELDS = {f.name for f in fields(ItemResult)}


def load_results(run_dir: Path) -> dict[str, ItemResult]:
    """A run's ``results.jsonl`` by question id (a later line wins); InputError naming the file and line."""
    path = run_dir / "results.jsonl"
    if not path.is_file():
        raise InputError(f"{run_dir}: not a run folder (no results.jsonl)")
    rows: dict[str, ItemResult] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            row = ItemResult(**{k: v for k, v in data.items() if k in _FIELDS})
        except (json.JSONDecodeError, TypeError, AttributeError) as exc:
            raise InputError(f"{path}: line {n} is not a result record ({exc}); resume the run to repair it") from None
        rows[row.qid] = row
    return rows


def run_scores(run_dir: Path, rows: dict[str, ItemResult]) -> tuple[dict[str, float], str]:
    """Overall EM/F1 (in %) from ``summary.json`` when it has them, else recomputed; and which it was."""
    path = run_dir / "summary.json"
    if path.is_file():
        try:
            overall = json.loads(path.read_text(encoding="utf-8")).get("overall") or {}
        except (json.JSONDecodeError, AttributeError) as exc:
            raise InputError(f"{path}: not a valid summary ({exc})") from None
        if all(k in overall for k in SCORES):
            return {k: overall[k] for k in SCORES}, "summary.json"
    return _recomputed(list(rows.values())), "recomputed"


def _recomputed(rows: list[ItemResult]) -> dict[str, float]:
    overall = summarize(rows, "reader")["overall"]
    return {k: overall.get(k, 0.0) for k in SCORES}


def _deltas(a: dict[str, float], b: dict[str, float]) -> dict[str, dict[str, float]]:
    return {k: {"a": a[k], "b": b[k], "delta": round(b[k] - a[k], 2)} for k in SCORES}


def _change(a: ItemResult, b: ItemResult) -> dict:
    return {"qid": a.qid, "question": a.question, "golds": a.golds, "kind": a.kind,
            "a": a.prediction, "b": b.prediction, "em_a": a.em, "em_b": b.em, "f1_a": a.f1, "f1_b": b.f1}


def compare_runs(a_dir: Path, b_dir: Path) -> dict:
    """Questions fixed (EM 0→1), broken (1→0), changed (other prediction or F1, same EM), only in one run; and the
    EM/F1 of each run with B − A, both overall and over the questions the runs share."""
    a_rows, b_rows = load_results(a_dir), load_results(b_dir)
    common = [q for q in a_rows if q in b_rows]
    fixed, broken, changed = [], [], []
    for q in common:
        a, b = a_rows[q], b_rows[q]
        if b.em > a.em:
            fixed.append(_change(a, b))
        elif b.em < a.em:
            broken.append(_change(a, b))
        elif a.prediction != b.prediction or a.f1 != b.f1:
            changed.append(_change(a, b))
    (a_scores, a_source), (b_scores, b_source) = run_scores(a_dir, a_rows), run_scores(b_dir, b_rows)
    return {
        "a": str(a_dir), "b": str(b_dir),
        "n_a": len(a_rows), "n_b": len(b_rows), "n_common": len(common),
        "scores": _deltas(a_scores, b_scores),
        "scores_source": {"a": a_source, "b": b_source},
        "common_scores": _deltas(_recomputed([a_rows[q] for q in common]), _recomputed([b_rows[q] for q in common])),
        "fixed": fixed, "broken": broken, "changed": changed,
        "only_in_a": [q for q in a_rows if q not in b_rows],
        "only_in_b": [q for q in b_rows if q not in a_rows],
    }


def _cut(text: str | None, width: int) -> str:
    text = "∅ (abstained)" if text is None else " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _score_table(scores: dict[str, dict[str, float]]) -> list[str]:
    lines = [f"{'':10} {'A':>8} {'B':>8} {'B - A':>8}"]
    for k, v in scores.items():
        lines.append(f"{_LABELS.get(k, k):10} {v['a']:8.2f} {v['b']:8.2f} {v['delta']:+8.2f}")
    return lines


def _change_lines(title: str, rows: list[dict]) -> list[str]:
    if not rows:
        return []
    lines = ["", f"{title} ({len(rows)})", f"  {'id':14} {'F1 A→B':11} {'question':40} {'A':24} {'B':24} gold"]
    for r in rows:
        gold = " | ".join(r["golds"]) if r["golds"] else None
        f1s = f"{r['f1_a']:.2f}→{r['f1_b']:.2f}"
        lines.append(f"  {_cut(r['qid'], 14):14} {f1s:11} {_cut(r['question'], 40):40} "
                     f"{_cut(r['a'], 24):24} {_cut(r['b'], 24):24} {_cut(gold, 30) if gold else '(no answer)'}")
    return lines


def format_comparison(d: dict) -> str:
    """``compare_runs``'s result as a plain-text table for the terminal."""
    lines = [f"A: {d['a']}  ({d['n_a']} questions, scores from {d['scores_source']['a']})",
             f"B: {d['b']}  ({d['n_b']} questions, scores from {d['scores_source']['b']})", ""]
    lines += _score_table(d["scores"])
    if d["n_common"] != d["n_a"] or d["n_common"] != d["n_b"]:
        lines += ["", f"over the {d['n_common']} questions both runs share:", *_score_table(d["common_scores"])]
    lines += ["", f"fixed {len(d['fixed'])}, broken {len(d['broken'])}, changed {len(d['changed'])}, "
                  f"only in A {len(d['only_in_a'])}, only in B {len(d['only_in_b'])}"]
    lines += _change_lines("fixed (EM 0 → 1)", d["fixed"])
    lines += _change_lines("broken (EM 1 → 0)", d["broken"])
    lines += _change_lines("changed (same EM)", d["changed"])
    for key, title in (("only_in_a", "only in A"), ("only_in_b", "only in B")):
        if d[key]:
            lines += ["", f"{title} ({len(d[key])}): " + ", ".join(d[key])]
    return "\n".join(lines)
