"""Load the reader's training data (SQuAD JSON and context/question/answer CSVs) as plain examples."""

from __future__ import annotations

import csv
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class QAExample:
    """One reading-comprehension example; ``answer_start is None`` means the context does not answer."""

    context: str
    question: str
    answer: str | None
    answer_start: int | None
    source: str

    @property
    def is_answerable(self) -> bool:
        return self.answer_start is not None


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def locate_answer(context: str, answer: str, hint: int | None = None) -> int | None:
    """Character offset of ``answer`` in ``context`` (the occurrence nearest ``hint``), or None."""
    if not answer:
        return None
    starts, pos = [], context.find(answer)
    while pos != -1:
        starts.append(pos)
        pos = context.find(answer, pos + 1)
    if not starts:
        return None
    if hint is None:
        return starts[0]
    return min(starts, key=lambda s: abs(s - hint))


def read_squad(path: Path, source: str) -> list[QAExample]:
    """SQuAD 1.1/2.0 JSON; offsets are re-checked against the NFC context and repaired when off."""
    data = json.loads(path.read_text(encoding="utf-8-sig"))["data"]
    examples = []
    for article in data:
        for paragraph in article["paragraphs"]:
            context = _nfc(paragraph["context"])
            for qa in paragraph["qas"]:
                question = _nfc(qa["question"]).strip()
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                if not answers:
                    examples.append(QAExample(context, question, None, None, source))
                    continue
                text = _nfc(answers[0]["text"]).strip()
                start = locate_answer(context, text, answers[0].get("answer_start"))
                if start is not None:
                    examples.append(QAExample(context, question, text, start, source))
    return examples


def read_csv(path: Path, source: str) -> list[QAExample]:
    """CSV with ``context``, ``question``, ``answer`` columns; rows whose answer is not in the context are dropped."""
    examples = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            context, question = _nfc(row["context"]), _nfc(row["question"]).strip()
            answer = _nfc(row["answer"]).strip()
            start = locate_answer(context, answer)
            if start is not None and question:
                examples.append(QAExample(context, question, answer, start, source))
    return examples


def load_training_examples(train_dir: Path) -> list[QAExample]:
    """Every example of ``shared/train/vi-mrc`` (see its README for terms)."""
    examples: list[QAExample] = []
    for path in sorted(train_dir.glob("*.json")):
        examples += read_squad(path, path.stem)
    for path in sorted(train_dir.glob("*.csv")):
        examples += read_csv(path, path.stem)
    return examples
