"""Training data: English SQuAD 1.1 loads as Vietnamese SQuAD does, with answer offsets checked against the text."""

from __future__ import annotations

import json
from pathlib import Path

from viqa.models.training.reader_data import load_training_examples

CONTEXT = "Architecturally, the school has a Catholic character. Atop the Main Building's gold dome is a statue."


def test_english_squad_11_loads_with_offsets_that_slice_the_answers(tmp_path: Path) -> None:
    qas = [
        {"id": "a", "question": "What sits on top of the Main Building?", "answers": [{"text": "a statue",
                                                                                        "answer_start": 89}]},
        {"id": "b", "question": "What character does the school have?", "answers": [{"text": "Catholic",
                                                                                      "answer_start": 0}]},  # off
        {"id": "c", "question": "Who built it?", "answers": [{"text": "nobody here", "answer_start": 3}]},
    ]
    data = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}
    (tmp_path / "squad11-train.json").write_text(json.dumps(data), encoding="utf-8")
    examples = load_training_examples(tmp_path)
    assert [e.question for e in examples] == [qas[0]["question"], qas[1]["question"]]  # "nobody here" is not there
    assert all(e.context[e.answer_start : e.answer_start + len(e.answer)] == e.answer for e in examples)
    assert {e.source for e in examples} == {"squad11-train"} and all(e.is_answerable for e in examples)
