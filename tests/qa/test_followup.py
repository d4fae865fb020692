"""resolve_followup: elliptical follow-ups become full questions; everything else passes through unchanged."""

from __future__ import annotations

import pytest

from viqa.qa.followup import focus_of, resolve_followup
from viqa.text.normalise import normalise_for_matching

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


# --- a change of time ---------------------------------------------------------------------------------------


def test_a_change_of_time_replaces_the_time_phrase() -> None:
    assert resolve_followup([EXPORTS], "Còn lũy kế 11 tháng?") == "Kim ngạch xuất khẩu lũy kế 11 tháng đạt bao nhiêu?"


def test_a_third_turn_builds_on_the_resolved_second_turn() -> None:
    history = ["Kim ngạch xuất khẩu tháng 11 ước đạt bao nhiêu?", "Còn nhập khẩu thì sao?"]
    assert resolve_followup(history, "Còn lũy kế 11 tháng?") == "Kim ngạch nhập khẩu lũy kế 11 tháng ước đạt bao nhiêu?"


@pytest.mark.parametrize("followup", ["Còn lũy kế?", "còn luỹ kế thì sao"])
def test_a_bare_running_total_runs_to_the_month_asked_about(followup: str) -> None:
    assert normalise_for_matching(resolve_followup([EXPORTS], followup)) == (
        "kim ngạch xuất khẩu lũy kế 11 tháng đạt bao nhiêu?"
    )


def test_last_month_and_last_year_are_counted_back_from_the_previous_question() -> None:
    assert resolve_followup([EXPORTS], "Còn tháng trước?") == "Kim ngạch xuất khẩu tháng 10 đạt bao nhiêu?"
    question = "Tổng thu ngân sách năm 2023 là bao nhiêu?"
    assert resolve_followup([question], "Còn năm trước?") == "Tổng thu ngân sách năm 2022 là bao nhiêu?"


def test_a_year_replaces_the_year_and_keeps_the_month() -> None:
    question = "Kim ngạch xuất khẩu tháng 11 năm 2023 đạt bao nhiêu?"
    assert resolve_followup([question], "Còn năm 2022?") == "Kim ngạch xuất khẩu tháng 11 năm 2022 đạt bao nhiêu?"
    assert resolve_followup([question], "Còn tháng 10/2022?") == "Kim ngạch xuất khẩu tháng 10/2022 đạt bao nhiêu?"


def test_a_month_of_a_year_replaces_a_year_at_the_start() -> None:
    question = "Năm 2008 Bill Gates xếp thứ mấy trong danh sách người giàu nhất thế giới?"
    assert resolve_followup([question], "Còn tháng 3/2011?") == (
        "Tháng 3/2011 Bill Gates xếp thứ mấy trong danh sách người giàu nhất thế giới?"
    )


def test_a_comparison_period_is_not_the_time_asked_about() -> None:
    question = "Kim ngạch xuất khẩu tháng 11 tăng bao nhiêu so với cùng kỳ năm trước?"
    assert resolve_followup([question], "Còn năm 2022?") == (
        "Kim ngạch xuất khẩu tháng 11 năm 2022 tăng bao nhiêu so với cùng kỳ năm trước?"
    )


def test_a_name_and_a_time_in_one_followup_replace_both() -> None:
    question = "Năm 2020 Hà Nội đón bao nhiêu lượt khách quốc tế?"
    assert resolve_followup([question], "Đà Nẵng năm 2019 thì sao?") == (
        "Năm 2019 Đà Nẵng đón bao nhiêu lượt khách quốc tế?"
    )


def test_a_time_followup_replaces_the_time_an_earlier_followup_added() -> None:
    history = ["Khoảng cách từ Trái Đất đến Mặt Trời là bao nhiêu?", "Còn vào ngày 3 tháng 1?"]
    assert resolve_followup(history[:1], history[1]) == (
        "Khoảng cách từ Trái Đất đến Mặt Trời vào ngày 3 tháng 1 là bao nhiêu?"
    )
    assert resolve_followup(history, "Ngày 4 tháng 7 thì sao?") == (
        "Khoảng cách từ Trái Đất đến Mặt Trời vào ngày 4 tháng 7 là bao nhiêu?"
    )


# --- a change of place, of entity, of category -------------------------------------------------------------


def test_a_place_followup_replaces_the_place_phrase() -> None:
    assert resolve_followup(["Giá nhà ở TP.HCM tăng bao nhiêu phần trăm?"], "Còn ở Hà Nội?") == (
        "Giá nhà ở Hà Nội tăng bao nhiêu phần trăm?"
    )
    assert resolve_followup(["Việt Nam đông dân thứ mấy trên thế giới?"], "Còn ở châu Á?") == (
        "Việt Nam đông dân thứ mấy ở châu Á?"
    )


def test_a_place_followup_replaces_a_place_name_written_without_a_preposition() -> None:
    assert resolve_followup(["Dân số Lạng Sơn là bao nhiêu?"], "Còn ở Hà Nội?") == "Dân số Hà Nội là bao nhiêu?"


@pytest.mark.parametrize("followup", ["Còn Sao Mộc?", "Sao Mộc thì sao?"])
def test_a_name_spelled_like_a_question_word_is_still_a_name(followup: str) -> None:
    assert focus_of(followup) == "Sao Mộc"
    assert resolve_followup(["Sao Hỏa là hành tinh thứ mấy?"], followup) == "Sao Mộc là hành tinh thứ mấy?"


def test_a_noun_phrase_of_the_same_class_is_replaced_whole() -> None:
    assert resolve_followup(["Tập đoàn Hòa Phát có bao nhiêu nhân viên?"], "Còn Công ty Vinamilk?") == (
        "Công ty Vinamilk có bao nhiêu nhân viên?"
    )
    question = "Ông Quang làm Tổng giám đốc công ty Vector trong giai đoạn nào?"
    assert resolve_followup([question], "Còn giám đốc của Vinatrans?") == (
        "Ông Quang làm giám đốc của Vinatrans trong giai đoạn nào?"
    )


def test_a_longer_followup_replaces_the_phrase_it_aligns_with() -> None:
    question = "Người mua dâm người dưới 18 tuổi bị phạt tù bao nhiêu năm?"
    assert resolve_followup([question], "Còn mua dâm người từ đủ 13 đến dưới 16 tuổi?") == (
        "Người mua dâm người từ đủ 13 đến dưới 16 tuổi bị phạt tù bao nhiêu năm?"
    )


def test_a_followup_with_no_counterpart_replaces_what_the_previous_followup_added() -> None:
    history = ["Năm 2013 FIFA thu về bao nhiêu tiền?", "Còn lợi nhuận?"]
    assert resolve_followup(history[:1], history[1]) == "Năm 2013 FIFA thu về lợi nhuận bao nhiêu tiền?"
    assert resolve_followup(history, "Lượng dự trữ tiền mặt thì sao?") == (
        "Năm 2013 FIFA thu về lượng dự trữ tiền mặt bao nhiêu tiền?"
    )


def test_one_capitalised_word_opening_the_followup_is_sentence_case() -> None:
    history = ["Ở quán này mỗi dĩa đồ nướng giá bao nhiêu?", "Còn món mực?"]
    assert resolve_followup(history[:1], history[1]) == "Ở quán này món mực giá bao nhiêu?"
    assert resolve_followup(history, "Rau thì sao?") == "Ở quán này rau giá bao nhiêu?"
    assert resolve_followup(["Dân số Lạng Sơn là bao nhiêu?"], "Huế thì sao?") == "Dân số Huế là bao nhiêu?"


def test_an_acronym_is_the_counterpart_of_the_words_it_abbreviates() -> None:
    question = "Sinh viên bị cảnh báo học vụ nếu ĐTBHK dưới bao nhiêu?"
    assert resolve_followup([question], "Còn điểm trung bình hai học kỳ liên tiếp?") == (
        "Sinh viên bị cảnh báo học vụ nếu điểm trung bình hai học kỳ liên tiếp dưới bao nhiêu?"
    )


def test_the_noun_before_the_question_word_is_what_is_asked_for_not_a_counterpart() -> None:
    assert resolve_followup(["Thủ đô của Việt Nam là thành phố nào?"], "Còn thành phố đông dân nhất?") == (
        "Thành phố đông dân nhất của Việt Nam là thành phố nào?"
    )


def test_women_stand_for_men_but_not_inside_a_name() -> None:
    assert resolve_followup(["Dân số nam của Việt Nam là bao nhiêu?"], "Còn nữ?") == (
        "Dân số nữ của Việt Nam là bao nhiêu?"
    )


def test_parts_of_a_phone_stand_for_one_another() -> None:
    assert resolve_followup(["Camera của máy được chấm bao nhiêu điểm?"], "Còn pin?") == (
        "Pin của máy được chấm bao nhiêu điểm?"
    )


# --- references back: "chỉ tiêu đó", "năm đó", "ở đó", "ông ấy", "công ty này" -----------------------------


@pytest.mark.parametrize("reference", ["Chỉ tiêu đó", "Con số này"])
def test_a_figure_referred_back_to_is_what_the_previous_question_asked_about(reference: str) -> None:
    question = "Tổng thu ngân sách năm 2023 là bao nhiêu?"
    assert resolve_followup([question], f"{reference} tăng bao nhiêu phần trăm?") == (
        "Tổng thu ngân sách năm 2023 tăng bao nhiêu phần trăm?"
    )


def test_that_year_and_that_term_are_the_time_asked_about_before() -> None:
    assert resolve_followup(["Năm 2015 BSR sản xuất bao nhiêu tấn xăng dầu?"], "Lợi nhuận năm đó là bao nhiêu?") == (
        "Lợi nhuận năm 2015 là bao nhiêu?"
    )
    question = "Sinh viên được đăng ký tối đa bao nhiêu tín chỉ trong học kỳ hè?"
    assert resolve_followup([question], "Trong học kỳ đó được học vượt không?") == (
        "Trong học kỳ hè được học vượt không?"
    )


def test_there_is_the_place_asked_about_before() -> None:
    assert resolve_followup(["Giá nhà ở TP.HCM tăng bao nhiêu phần trăm?"], "Có bao nhiêu dự án mới ở đó?") == (
        "Có bao nhiêu dự án mới ở TP.HCM?"
    )
    assert resolve_followup(["Dân số Lạng Sơn là bao nhiêu?"], "Có bao nhiêu trường học ở đó?") == (
        "Có bao nhiêu trường học ở Lạng Sơn?"
    )


def test_he_is_the_person_named_before_with_his_title_if_he_had_one() -> None:
    assert resolve_followup(["Năm 2016 Bill Gates có tài sản bao nhiêu?"], "Ông ấy sinh năm nào?") == (
        "Bill Gates sinh năm nào?"
    )
    assert resolve_followup(["Ông Quang làm giám đốc công ty nào?"], "Ông ấy sinh năm nào?") == (
        "Ông Quang sinh năm nào?"
    )
    question = "Tài sản của tỷ phú Warren Buffett là bao nhiêu?"
    assert resolve_followup([question], "Cổ phiếu của ông ấy giảm bao nhiêu?") == (
        "Cổ phiếu của Warren Buffett giảm bao nhiêu?"
    )


def test_this_company_is_the_company_named_before_not_the_person() -> None:
    question = "Bà Thảo sở hữu bao nhiêu phần trăm cổ phần của Vietjet?"
    assert resolve_followup([question], "Công ty này có bao nhiêu cổ đông?") == "Vietjet có bao nhiêu cổ đông?"


def test_that_tournament_is_the_event_named_before() -> None:
    question = "Giải vô địch bóng đá thế giới 2018 được tổ chức ở đâu?"
    assert resolve_followup([question], "Giải đấu đó có bao nhiêu đội tham dự?") == (
        "Giải vô địch bóng đá thế giới 2018 có bao nhiêu đội tham dự?"
    )
    assert resolve_followup(["Có bao nhiêu người đã nhận giải Nobel?"], "Giải này có từ năm nào?") == (
        "Giải Nobel có từ năm nào?"
    )


def test_a_reference_to_nothing_said_before_is_left_as_typed() -> None:
    question = "Tổng đàn trâu của tỉnh có bao nhiêu con?"
    assert resolve_followup([question], "Ông ấy sinh năm nào?") == "Ông ấy sinh năm nào?"
    assert resolve_followup([], "Năm đó xuất khẩu đạt bao nhiêu?") == "Năm đó xuất khẩu đạt bao nhiêu?"


def test_a_resolved_reference_is_what_the_next_followup_builds_on() -> None:
    history = ["Năm 2016 Bill Gates có tài sản bao nhiêu?", "Ông ấy là người nước nào?"]
    assert resolve_followup(history, "Còn Carlos Slim?") == "Carlos Slim là người nước nào?"


@pytest.mark.parametrize(
    "question",
    ["Năm nay kim ngạch xuất khẩu đạt bao nhiêu?", "Ông Nguyễn Văn A là ai?", "Công ty nào xuất khẩu nhiều nhất?",
     "Kim ngạch nhập khẩu tháng 10 đạt bao nhiêu?", "Còn lại bao nhiêu hộ nghèo?"],
)
def test_full_questions_mid_conversation_pass_through_unchanged(question: str) -> None:
    assert resolve_followup([EXPORTS, "Còn nhập khẩu thì sao?"], question) == question
