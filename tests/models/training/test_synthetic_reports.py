"""Synthetic report paragraphs: a total beside its components and a month beside its running total, each figure
asked in situ, the answers exact slices of the paragraph, and components it does not give asked as unanswerable."""

from __future__ import annotations

import random
import re

from viqa.models.training.synthetic_reports import (
    FAMILIES,
    SOURCE,
    report_paragraph,
    synthesize_reports,
    vietnamese_number,
)


def test_numbers_are_written_with_dots_between_thousands_and_a_decimal_comma() -> None:
    assert vietnamese_number(4595.0, 0) == "4.595"
    assert vietnamese_number(1234567.25, 2) == "1.234.567,25"
    assert vietnamese_number(70.6, 1) == "70,6"


def test_answers_are_exact_slices_of_the_paragraph_with_their_unit() -> None:
    examples = synthesize_reports(50, seed=3)
    units = {f.unit for f in FAMILIES}
    answered = [e for e in examples if e.is_answerable]
    assert answered and all(e.source == SOURCE for e in answered)
    for e in answered:
        assert e.context[e.answer_start : e.answer_start + len(e.answer)] == e.answer
        number, _, unit = e.answer.partition(" ")
        assert re.fullmatch(r"\d{1,3}(\.\d{3})*(,\d+)?", number) and unit in units
        assert e.question.endswith("?") and "bao nhiêu" in e.question


def test_a_component_and_its_total_are_asked_apart_and_answered_apart() -> None:
    examples = synthesize_reports(200, seed=5)
    by_context: dict[str, dict[str, str]] = {}
    for e in examples:
        if e.is_answerable:
            by_context.setdefault(e.context, {})[e.question] = e.answer
    pairs = 0
    for context, asked in by_context.items():
        if "trong đó" not in context:
            continue
        totals = {q: a for q, a in asked.items() if q.lower().startswith("tổng") or ", tổng" in q}
        components = {q: a for q, a in asked.items() if q not in totals}
        pairs += bool(totals and components)
        assert not set(totals.values()) & set(components.values())
    assert pairs > 20


def test_a_months_figure_and_the_running_total_have_their_own_questions() -> None:
    examples = synthesize_reports(200, seed=7)
    month = [e for e in examples if e.is_answerable and re.search(r"tháng \d+( |,|/|\?)", e.question)
             and not re.search(r"\d+ tháng", e.question)]
    running = [e for e in examples if e.is_answerable and re.search(r"\d+ tháng", e.question)]
    assert month and running
    for e in running:  # the answer's sentence names the same months, before the answer
        months = re.search(r"(\d+) tháng", e.question).group(1)
        assert f"{months} tháng" in e.context[: e.answer_start].rsplit(". ", 1)[-1]
    for e in month:
        assert re.search(r"tháng \d+", e.context[: e.answer_start].rsplit(". ", 1)[-1], re.IGNORECASE)


def test_components_the_paragraph_does_not_give_are_unanswerable() -> None:
    examples = synthesize_reports(200, seed=11)
    unanswerable = [e for e in examples if not e.is_answerable]
    assert unanswerable and all(e.answer is None and e.source == f"{SOURCE}-unanswerable" for e in unanswerable)
    components = {c for f in FAMILIES for c in f.components}
    for e in unanswerable:
        asked = next(c for c in sorted(components, key=len, reverse=True) if c in e.question.lower())
        assert f"{asked} " not in e.context.replace(",", " ") or e.context.count(asked) == 0


def test_the_same_seed_writes_the_same_paragraphs() -> None:
    assert synthesize_reports(20, seed=1) == synthesize_reports(20, seed=1)
    assert synthesize_reports(20, seed=1) != synthesize_reports(20, seed=2)
    assert list(report_paragraph(random.Random(0))) == list(report_paragraph(random.Random(0)))
