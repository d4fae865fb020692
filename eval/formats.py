"""Gold Q&A sets in three formats, detected from the content: SQuAD JSON, JSONL and CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path

from viqa.errors import InputError
from viqa.text.normalise import strip_tone_marks


@dataclass(frozen=True)
class GoldItem:
    """One gold question; empty ``answers`` means the documents do not say. ``context`` only for SQuAD/CSV."""

    qid: str
    question: str
    answers: tuple[str, ...]
    context: str | None = None
    context_id: str | None = None
    doc_id: str | None = None
    kind: str | None = None


def asked_without_tone_marks(items: list[GoldItem]) -> list[GoldItem]:
    """``items`` with each question as typed without tone marks ("Tong kim ngach ..."), the contexts as they are."""
    return [replace(it, question=strip_tone_marks(it.question)) for it in items]


def _squad(data: dict, name: str) -> list[GoldItem]:
    items = []
    try:
        for a, article in enumerate(data["data"]):
            for p, paragraph in enumerate(article["paragraphs"]):
                context = paragraph["context"]
                for qa in paragraph["qas"]:
                    answers = () if qa.get("is_impossible") else tuple(dict.fromkeys(x["text"] for x in qa["answers"]))
                    items.append(
                        GoldItem(str(qa["id"]), qa["question"], answers, context, f"{a}-{p}",
                                 doc_id=f"{a}-{p}", kind="answerable" if answers else "unanswerable")
                    )
    except (KeyError, TypeError) as exc:
        raise InputError(
            f"{name}: not valid SQuAD JSON (missing or wrong field {exc}) near question {len(items) + 1}"
        ) from None
    return items


def _jsonl(text: str, name: str) -> list[GoldItem]:
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers = row.get("answers", [])
            if not isinstance(row["question"], str) or not isinstance(answers, list):
                raise TypeError("question must be a string and answers a list")
            answers = [a["text"] if isinstance(a, dict) else a for a in answers]  # SQuAD-style answer objects
            if not all(isinstance(a, str) for a in answers):
                raise TypeError("answers must be strings or {text: ...} objects")
            items.append(
                GoldItem(str(row.get("id", f"line-{n}")), row["question"], tuple(answers),
                         row.get("context"), None, row.get("doc_id"), row.get("kind"))
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{name}: line {n} is not a valid record ({exc})") from None
    return items


def _csv(text: str, name: str) -> list[GoldItem]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if not {"question", "answer"} <= fields:
        raise InputError(f"{name}: a CSV gold set needs 'question' and 'answer' columns")
    items = []
    for n, row in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "") for k, v in row.items() if k}
        if not row.get("question", "").strip():
            raise InputError(f"{name}: line {n} has no question")
        answer = row["answer"].strip()
        context = row.get("context") or None
        items.append(GoldItem(row.get("id") or str(n), row["question"], (answer,) if answer else (), context,
                              context_id=f"csv-{n}" if context else None, kind=row.get("kind") or None))
    return items


def load_gold(path: Path, renumber_repeated_ids: bool = False) -> list[GoldItem]:
    """Read a gold set, detecting its format; InputError naming the line or record when it is malformed, or an id
    that appears twice (``renumber_repeated_ids``: the second is read as "<id>#2", for training files)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the gold set ({exc})") from None
    stripped = text.lstrip()
    if not stripped:
        raise InputError(f"{path}: the gold set is empty")
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            first = stripped.splitlines()[0]
            try:
                json.loads(first)
            except json.JSONDecodeError:  # not JSON lines either: a broken JSON document
                raise InputError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
            data = None
        if isinstance(data, dict) and "data" in data:
            items = _squad(data, str(path))
        else:
            items = _jsonl(text, str(path))
    else:
        items = _csv(text, str(path))
    if not items:
        raise InputError(f"{path}: no questions found")
    seen: set[str] = set()
    for i, it in enumerate(items):
        qid, n = it.qid, 1
        while qid in seen:
            if not renumber_repeated_ids:
                raise InputError(f"{path}: question id {it.qid!r} appears twice")
            n += 1
            qid = f"{it.qid}#{n}"
        if qid != it.qid:
            items[i] = replace(it, qid=qid)
        seen.add(qid)
    return items
