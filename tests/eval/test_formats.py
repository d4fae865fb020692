"""viqa.eval.formats: the gold format is detected from the content, and malformed files are refused with the place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from viqa.errors import InputError
from viqa.eval.formats import GoldItem, load_gold

SQUAD = {
    "version": "1.1",
    "data": [{"title": "Lạng Sơn", "paragraphs": [{
        "context": "Diện tích gieo trồng vụ Đông ước đạt 168ha.",
        "qas": [
            {"id": "q1", "question": "Diện tích vụ Đông?", "answers": [
                {"text": "168ha", "answer_start": 37}, {"text": "168ha", "answer_start": 37}]},
            {"id": "q2", "question": "Dân số?", "answers": [], "is_impossible": True},
        ],
    }]}],
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_squad_json_is_detected_whatever_the_extension(tmp_path: Path) -> None:
    items = load_gold(_write(tmp_path, "gold.txt", json.dumps(SQUAD, ensure_ascii=False, indent=2)))
    assert items == [
        GoldItem("q1", "Diện tích vụ Đông?", ("168ha",), SQUAD["data"][0]["paragraphs"][0]["context"], "0-0",
                 doc_id="0-0", kind="answerable"),
        GoldItem("q2", "Dân số?", (), SQUAD["data"][0]["paragraphs"][0]["context"], "0-0",
                 doc_id="0-0", kind="unanswerable"),
    ]


def test_jsonl_is_detected_and_blank_lines_skipped(tmp_path: Path) -> None:
    text = ('{"id": "ls-001", "question": "Diện tích?", "answers": ["168ha"], "kind": "direct", "doc_id": "d1"}\n'
            "\n"
            '{"question": "Dân số?", "answers": []}\n')
    items = load_gold(_write(tmp_path, "gold.json", text))
    assert [(i.qid, i.answers, i.kind, i.doc_id) for i in items] == [
        ("ls-001", ("168ha",), "direct", "d1"),
        ("line-3", (), None, None),  # no id: named after its line
    ]


def test_csv_is_detected_with_case_insensitive_headers_and_a_bom(tmp_path: Path) -> None:
    text = "\ufeffQuestion,Answer,Kind,Context\nDiện tích?,168ha,direct,Đạt 168ha.\nDân số?,,,\n"
    items = load_gold(_write(tmp_path, "gold.csv", text))
    assert [(i.qid, i.question, i.answers, i.kind, i.context) for i in items] == [
        ("2", "Diện tích?", ("168ha",), "direct", "Đạt 168ha."),
        ("3", "Dân số?", (), None, None),
    ]


def test_malformed_jsonl_names_the_line(tmp_path: Path) -> None:
    text = '{"question": "a", "answers": ["b"]}\n\n{"question": "c", "answers": ["d"]\n'
    with pytest.raises(InputError, match="line 3"):
        load_gold(_write(tmp_path, "gold.jsonl", text))


def test_jsonl_record_without_a_question_names_the_line(tmp_path: Path) -> None:
    text = '{"question": "a", "answers": ["b"]}\n{"answers": ["d"]}\n'
    with pytest.raises(InputError, match="line 2"):
        load_gold(_write(tmp_path, "gold.jsonl", text))


def test_jsonl_answers_must_be_a_list(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line 1"):
        load_gold(_write(tmp_path, "gold.jsonl", '{"question": "a", "answers": "b"}\n'))


def test_squad_with_a_missing_field_is_refused(tmp_path: Path) -> None:
    broken = {"data": [{"paragraphs": [{"context": "x"}]}]}  # no "qas"
    with pytest.raises(InputError, match="not valid SQuAD JSON"):
        load_gold(_write(tmp_path, "gold.json", json.dumps(broken)))


def test_truncated_squad_json_is_refused(tmp_path: Path) -> None:
    text = json.dumps(SQUAD, indent=2)[:200]
    with pytest.raises(InputError):
        load_gold(_write(tmp_path, "gold.json", text))


def test_truncated_squad_json_error_points_at_the_broken_line(tmp_path: Path) -> None:
    text = '{\n  "version": "1.1",\n  "data": [\n    {"paragraphs": [\n'
    with pytest.raises(InputError, match="line 5"):
        load_gold(_write(tmp_path, "gold.json", text))


def test_jsonl_answer_objects_are_read_or_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "gold.jsonl", '{"question": "a", "answers": [{"text": "b", "answer_start": 0}]}\n')
    try:
        items = load_gold(path)
    except InputError:
        return
    assert items[0].answers == ("b",)


def test_duplicate_question_ids_are_refused(tmp_path: Path) -> None:
    text = '{"id": "2", "question": "a", "answers": ["b"]}\n{"id": "2", "question": "c", "answers": ["d"]}\n'
    with pytest.raises(InputError):
        load_gold(_write(tmp_path, "gold.jsonl", text))


def test_repeated_question_ids_can_be_renumbered_for_training_files(tmp_path: Path) -> None:
    text = "".join(f'{{"id": "2", "question": "q{i}", "answers": ["a"]}}\n' for i in range(3))
    items = load_gold(_write(tmp_path, "gold.jsonl", text), renumber_repeated_ids=True)
    assert [(it.qid, it.question) for it in items] == [("2", "q0"), ("2#2", "q1"), ("2#3", "q2")]


def test_csv_without_an_answer_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'answer'"):
        load_gold(_write(tmp_path, "gold.csv", "question,context\nDiện tích?,Đạt 168ha.\n"))


def test_csv_row_without_a_question_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line 3"):
        load_gold(_write(tmp_path, "gold.csv", "question,answer\nq,a\n ,b\n"))


@pytest.mark.parametrize("text", ["", "  \n\n", "\ufeff"])
def test_empty_file_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError, match="empty"):
        load_gold(_write(tmp_path, "gold.jsonl", text))


def test_header_only_csv_has_no_questions(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no questions"):
        load_gold(_write(tmp_path, "gold.csv", "question,answer\n"))


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "gold.csv"
    path.write_bytes(b"question,answer\n\xff\xfe bad\n")
    with pytest.raises(InputError, match="cannot read"):
        load_gold(path)
