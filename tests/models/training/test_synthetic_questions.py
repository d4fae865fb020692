"""Synthetic wh-in-situ questions: exact answer spans, figures asked together, honest unanswerable pairs."""

from __future__ import annotations

import random
import re

from viqa.models.training.synthetic_questions import (
    phrase_questions_from_paragraph,
    questions_from_paragraph,
    synthesize,
)

TRADE = (
    "Kim ngạch xuất khẩu tháng 3 đạt 120 triệu USD, tăng 5% so với cùng kỳ; "
    "nhập khẩu cả nước trong tháng đạt 80 triệu USD. "
    "Ông Nguyễn Văn An, Giám đốc Sở Công Thương, cho biết công ty sẽ đầu tư tại Hải Phòng. "
    "Trong năm qua toàn tỉnh đã thành lập mới được 45 doanh nghiệp ở các ngành nghề khác nhau."
)


def test_answers_are_exact_slices_of_the_paragraph() -> None:
    examples = questions_from_paragraph(TRADE, random.Random(0), per_paragraph=5)
    assert examples
    for ex in examples:
        assert ex.answer_start is not None and ex.answer
        assert TRADE[ex.answer_start : ex.answer_start + len(ex.answer)] == ex.answer
        assert ex.answer not in ex.question


def test_contrast_asks_every_figure_of_a_dense_sentence_first() -> None:
    dense = {"120 triệu USD", "5%", "80 triệu USD"}
    for seed in range(4):
        examples = questions_from_paragraph(TRADE, random.Random(seed), per_paragraph=3, contrast=True)
        assert {ex.answer for ex in examples} == dense
    plain = [questions_from_paragraph(TRADE, random.Random(seed), per_paragraph=3) for seed in range(4)]
    assert any({ex.answer for ex in examples} != dense for examples in plain)


def test_contrast_keeps_the_other_figures_whole_in_the_question() -> None:
    for seed in range(5):
        for ex in questions_from_paragraph(TRADE, random.Random(seed), per_paragraph=3, contrast=True):
            if ex.answer == "5%":
                assert "120 triệu USD" in ex.question
            if ex.answer == "120 triệu USD":
                assert "5 %" in ex.question


def test_unanswerable_pairs_are_given_a_paragraph_without_the_answer() -> None:
    other = "Thời tiết hôm nay nắng nhẹ ở vùng núi phía Bắc, nhiệt độ cao nhất khoảng 25 độ C vào buổi trưa."
    examples = synthesize([TRADE, other], seed=1, per_paragraph=3, unanswerable_share=1.0)
    unanswerable = [ex for ex in examples if not ex.is_answerable]
    assert unanswerable
    for ex in unanswerable:
        answered = {a.answer for a in examples if a.question == ex.question and a.is_answerable}
        assert ex.context == other and not any(answer in ex.context for answer in answered)


FACTORY = (
    "Nhà máy của công ty chủ yếu sản xuất xi măng và thép cho thị trường miền Bắc. "
    "Loài chim này thường ăn côn trùng nhỏ và hạt cây vào mùa khô."
)


def test_phrase_questions_ask_gi_for_the_noun_phrase_a_verb_takes() -> None:
    examples = phrase_questions_from_paragraph(FACTORY, random.Random(0), per_paragraph=2)
    assert {ex.answer for ex in examples} == {"xi măng và thép", "côn trùng nhỏ và hạt cây"}
    for ex in examples:
        assert "gì" in ex.question and ex.answer not in ex.question
        assert FACTORY[ex.answer_start : ex.answer_start + len(ex.answer)] == ex.answer


def test_phrase_questions_leave_a_seeds_figure_questions_unchanged() -> None:
    paragraphs = [TRADE, FACTORY]
    plain = synthesize(paragraphs, seed=3, per_paragraph=3, unanswerable_share=0.5)
    with_phrases = synthesize(paragraphs, seed=3, per_paragraph=3, unanswerable_share=0.5, phrases=2)
    assert with_phrases[: len(plain)] == plain
    assert any("gì" in ex.question for ex in with_phrases[len(plain) :])


DATES = (
    "Ông sinh vào năm 1985 tại Hà Nội và mất ngày 6 tháng 10 năm 1973 ở Huế. "
    "Từ tháng 2 năm 2007, công ty thay thế các kênh phát sóng miễn phí bằng các kênh trả tiền."
)


WH_WORDS = ("khi nào", "năm nào", "tháng mấy", "ngày nào", "bao nhiêu", "nơi nào", "đâu", "ai")


def _asked(paragraph: str, dates: bool) -> dict[str, set[str]]:
    """Every answer asked about in ``paragraph``, by the question word that asks it."""
    asked: dict[str, set[str]] = {}
    for ex in questions_from_paragraph(paragraph, random.Random(0), per_paragraph=20, dates=dates):
        wh = next(w for w in WH_WORDS if re.search(rf"\b{w}\b", ex.question, re.IGNORECASE))
        asked.setdefault(wh, set()).add(ex.answer)
    return asked


def test_dates_are_asked_in_situ_and_with_khi_nao() -> None:
    asked = _asked(DATES, dates=True)
    assert asked["năm nào"] == {"1985"}
    assert asked["ngày nào"] == {"6 tháng 10 năm 1973"}
    assert asked["tháng mấy"] == {"2"}
    assert asked["khi nào"] == {"năm 1985", "ngày 6 tháng 10 năm 1973", "tháng 2 năm 2007"}
    assert not asked.get("bao nhiêu")


def test_khi_nao_replaces_the_preposition_before_the_date() -> None:
    examples = questions_from_paragraph(DATES, random.Random(0), per_paragraph=20, dates=True)
    asked_when = [ex.question for ex in examples if ex.answer == "năm 1985" and "khi nào" in ex.question]
    assert asked_when
    for question in asked_when:
        assert "vào khi nào" not in question


def test_without_dates_a_date_is_still_misread_as_a_number() -> None:
    """The shipped passes were trained so; the flag keeps their synthetic sets reproducible."""
    asked = _asked(DATES, dates=False)
    assert "khi nào" not in asked
    assert "6 tháng 10 năm 1973" in asked.get("bao nhiêu", set())
