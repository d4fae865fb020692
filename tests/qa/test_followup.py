"""resolve_followup: elliptical follow-ups become full questions; everything else passes through unchanged."""

from __future__ import annotations

import pytest

from viqa.qa.followup import focus_of, resolve_followup

EXPORTS = "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"


def test_followup_about_imports_reuses_the_export_question() -> None:
    assert resolve_followup([EXPORTS], "Còn nhập khẩu thì sao?") == "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?"


def test_followup_about_another_month_replaces_the_month() -> None:
    assert resolve_followup([EXPORTS], "Còn tháng 10?") == "Kim ngạch xuất khẩu tháng 10 đạt bao nhiêu?"


def test_followup_changing_two_things_replaces_the_matching_phrase() -> None:
    assert resolve_followup([EXPORTS], "Thế còn nhập khẩu tháng 10?") == "Kim ngạch nhập khẩu tháng 10 đạt bao nhiêu?"


@pytest.mark.parametrize(
    "followup",
    ["Còn nhập khẩu thì sao?", "Còn nhập khẩu?", "Nhập khẩu thì sao?", "Thế còn nhập khẩu?",
     "Vậy nhập khẩu thì sao?", "Vậy còn nhập khẩu thì sao ạ?", "Còn với nhập khẩu thì thế nào?",
     "còn nhập khẩu thì sao", "Còn  nhập khẩu thì sao ?"],
)
def test_every_elliptical_phrasing_is_recognised(followup: str) -> None:
    assert resolve_followup([EXPORTS], followup) == "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?"


def test_livestock_words_stand_for_one_another() -> None:
    question = "Tổng đàn trâu của tỉnh có bao nhiêu con?"
    assert resolve_followup([question], "Còn bò?") == "Tổng đàn bò của tỉnh có bao nhiêu con?"
    assert resolve_followup([question], "Gia cầm thì sao?") == "Tổng đàn gia cầm của tỉnh có bao nhiêu con?"


def test_spending_replaces_revenue_and_keeps_the_rest() -> None:
    question = "Tổng thu ngân sách năm 2023 là bao nhiêu?"
    assert resolve_followup([question], "Còn chi thì sao?") == "Tổng chi ngân sách năm 2023 là bao nhiêu?"


def test_a_place_name_replaces_the_place_name() -> None:
    assert resolve_followup(["Dân số Lạng Sơn là bao nhiêu?"], "Còn Bắc Ninh?") == "Dân số Bắc Ninh là bao nhiêu?"


def test_a_roman_numeral_quarter_replaces_the_quarter() -> None:
    question = "Xuất khẩu quý II năm 2023 đạt bao nhiêu?"
    assert resolve_followup([question], "Còn quý III?") == "Xuất khẩu quý III năm 2023 đạt bao nhiêu?"


def test_a_phrase_sharing_a_syllable_replaces_its_counterpart() -> None:
    assert resolve_followup(["Giá xăng tháng 11 là bao nhiêu?"], "Còn giá dầu?") == "Giá dầu tháng 11 là bao nhiêu?"


def test_a_focus_with_no_counterpart_goes_before_the_predicate() -> None:
    assert resolve_followup(["Dân số Lạng Sơn là bao nhiêu?"], "Còn năm 2020?") == (
        "Dân số Lạng Sơn năm 2020 là bao nhiêu?"
    )


def test_a_focus_with_no_counterpart_goes_last_in_a_wh_first_question() -> None:
    assert resolve_followup(["Ai là chủ tịch tỉnh?"], "Còn Bắc Ninh?") == "Ai là chủ tịch tỉnh Bắc Ninh?"


def test_followups_chain_through_earlier_resolved_turns() -> None:
    history = [EXPORTS, "Còn nhập khẩu thì sao?"]
    assert resolve_followup(history, "Còn tháng 10?") == "Kim ngạch nhập khẩu tháng 10 đạt bao nhiêu?"


def test_a_new_full_question_resets_the_chain() -> None:
    history = [EXPORTS, "Tổng đàn trâu của tỉnh có bao nhiêu con?"]
    assert resolve_followup(history, "Còn bò?") == "Tổng đàn bò của tỉnh có bao nhiêu con?"


@pytest.mark.parametrize(
    "question",
    ["Dân số Lạng Sơn là bao nhiêu?", "Còn bao nhiêu ngày nữa thì hết năm?", "Còn lại bao nhiêu hộ nghèo?",
     "Nếu giá tăng thì sao?", "Tỉnh nào có kim ngạch cao nhất?"],
)
def test_non_elliptical_questions_pass_through_unchanged(question: str) -> None:
    assert resolve_followup([EXPORTS], question) == question


def test_a_followup_without_history_passes_through_unchanged() -> None:
    assert resolve_followup([], "Còn nhập khẩu thì sao?") == "Còn nhập khẩu thì sao?"


def test_blank_history_turns_are_ignored() -> None:
    assert resolve_followup([EXPORTS, "  "], "Còn nhập khẩu?") == "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?"


def test_focus_of_extracts_the_phrase_and_rejects_full_questions() -> None:
    assert focus_of("Thế còn nhập khẩu thì sao nhỉ?") == "nhập khẩu"
    assert focus_of("Vậy tháng 10 thì thế nào?") == "tháng 10"
    assert focus_of("Còn gì khác không?") is None
    assert focus_of("Kim ngạch nhập khẩu đạt bao nhiêu?") is None
