from __future__ import annotations

import numpy as np

from viqa.qa.spans import best_spans, snap

OFFSETS = [None, None, (0, 4), (4, 10), (10, 14), (14, 18), None]  # [CLS] q [SEP] c1 c2 c3 c4 [SEP]


def test_best_span_is_the_highest_start_plus_end_inside_the_context() -> None:
    start = np.array([5.0, 9.0, 1.0, 4.0, 0.0, 0.0, 9.0])
    end = np.array([5.0, 9.0, 0.0, 0.0, 3.0, 1.0, 9.0])
    spans = best_spans(start, end, OFFSETS, max_answer_tokens=30, top_n=1)
    assert [(s.start, s.end, s.score) for s in spans] == [(4, 14, 7.0)]


def test_spans_never_end_before_they_start_nor_exceed_the_length_limit() -> None:
    start = np.array([0, 0, 0, 0, 0, 10.0, 0])
    end = np.array([0, 0, 10.0, 0, 0, 0, 0])
    spans = best_spans(start, end, OFFSETS, max_answer_tokens=2, top_n=20)
    assert spans and all(s.start < s.end and s.end - s.start <= 10 for s in spans)
    assert (0, 4) not in [(s.start, s.end) for s in spans if s.score == 20.0]


def test_no_context_tokens_means_no_spans() -> None:
    assert best_spans(np.zeros(3), np.zeros(3), [None, None, None]) == []


def test_snapping_grows_to_whole_syllables_and_whole_numbers_with_units() -> None:
    text = "diện tích thu hoạch ước đạt 47.063,06 ha, đạt 102,3% kế hoạch; ước đạt 440 triệu USD, trong đó"

    def snapped(fragment: str) -> str:
        s = text.index(fragment)
        a, b = snap(text, s, s + len(fragment))
        return text[a:b]

    assert snapped("063,06") == "47.063,06 ha"
    assert snapped("102,3") == "102,3%"
    assert snapped("440") == "440 triệu USD"
    assert snapped("ạch ước") == "hoạch ước"
    assert snapped("440 triệu USD, ") == "440 triệu USD"


def test_snapping_keeps_separators_that_are_not_inside_a_number() -> None:
    text = "tăng 4%, nhập khẩu 1.915 triệu USD."
    s = text.index("1.915")
    a, b = snap(text, s, s + 5)
    assert text[a:b] == "1.915 triệu USD"


def test_an_answer_to_bao_nhieu_n_takes_the_counted_noun_that_follows_the_number() -> None:
    from viqa.qa.answer_rules import extend_to_counted_noun

    def extended(question: str, text: str, answer: str) -> str:
        s = text.index(answer)
        return text[s : extend_to_counted_noun(question, text, s, s + len(answer))]

    assert extended("Thành lập mới bao nhiêu hợp tác xã?", "mới 39 hợp tác xã, đạt", "39") == "39 hợp tác xã"
    assert extended("Cấp cho bao nhiêu sản phẩm OCOP 3 sao?", "cho 28 sản phẩm 3 sao", "28") == "28 sản phẩm"
    assert extended("Thu hút bao nhiêu lượt khách du lịch?", "đạt 151,23 nghìn lượt khách, tăng", "151,23 nghìn") == (
        "151,23 nghìn lượt khách"
    )
    assert extended("Cung ứng bao nhiêu con cá giống?", "cung ứng 35.000 con cá giống", "35.000 con") == "35.000 con"
    assert extended("Đạt bao nhiêu phần trăm kế hoạch?", "đạt 76,6% kế hoạch", "76,6%") == "76,6%"
    assert extended("Kim ngạch đạt bao nhiêu?", "đạt 440 triệu USD", "440 triệu USD") == "440 triệu USD"
    assert extended("Tăng bao nhiêu so với năm 1995?", "tăng 18% so với năm 1995", "18%") == "18%"


def test_a_quantity_answer_stops_at_the_next_clause() -> None:
    from viqa.qa.answer_rules import trim_to_quantity

    text = "đá các loại 3.771,41 nghìn m³, đạt 86,5%, tăng 0,1%."
    s = text.index("3.771,41")
    assert text[s : trim_to_quantity("Đá các loại bao nhiêu?", text, s, len(text) - 1)] == "3.771,41 nghìn m³"
    assert trim_to_quantity("Đá các loại đạt gì?", text, s, len(text) - 1) == len(text) - 1


def test_a_quantity_answer_stops_before_a_second_number_joined_by_va() -> None:
    from viqa.qa.answer_rules import trim_to_quantity

    text = "trồng mới 164,8ha và 3,2ha cây ăn quả và cây dược liệu"
    s = text.index("164,8ha")
    end = text.index(" cây")
    assert text[s : trim_to_quantity("Trồng mới bao nhiêu ha?", text, s, end)] == "164,8ha"
    words = "đạt 12 tỷ đồng và vượt kế hoạch"
    s = words.index("12")
    assert trim_to_quantity("Đạt bao nhiêu?", words, s, len(words)) == len(words)


def test_a_quantity_answer_drops_the_subject_the_question_restates() -> None:
    from viqa.qa.answer_rules import drop_restated_subject

    question = "Trong tháng có bao nhiêu người nộp hồ sơ hưởng bảo hiểm thất nghiệp?"
    text = "Trong tháng, số người nộp hồ sơ hưởng bảo hiểm thất nghiệp là 700 người tăng 20,27%"
    s, end = text.index("số người"), text.index(" tăng")
    assert text[drop_restated_subject(question, text, s, end) : end] == "700 người"
    assert drop_restated_subject(question.replace("bao nhiêu", "những ai"), text, s, end) == s
    rule = "số sinh viên tối thiểu là 50 sinh viên"
    s = rule.index("tối")
    assert drop_restated_subject("Lớp học phần cần bao nhiêu sinh viên?", rule, s, len(rule)) == s
    unrelated = "sản lượng điện thương phẩm: 120 triệu kWh"
    assert drop_restated_subject("Có bao nhiêu người?", unrelated, 0, len(unrelated)) == 0


def test_a_quantity_question_is_not_answered_with_a_date() -> None:
    from viqa.qa.answer_rules import is_date_for_a_quantity

    text = "Tết Nguyên đán năm 2024 có 3.000 người tham gia; tháng 11 làm chết 18 người; năm học 2023-2024."

    def date_for_count(question: str, answer: str) -> bool:
        start = text.index(answer)
        return is_date_for_a_quantity(question, text, start, start + len(answer))

    asks_people = "Dân số tỉnh năm 2023 là bao nhiêu người?"
    assert date_for_count(asks_people, "2024") and date_for_count(asks_people, "năm 2024")
    assert date_for_count(asks_people, "11")
    assert not date_for_count(asks_people, "3.000 người") and not date_for_count(asks_people, "18")
    assert not date_for_count(asks_people, "2023-2024")  # a span of years, not one date
    assert not date_for_count("Tết Nguyên đán diễn ra năm bao nhiêu?", "2024")  # the question asks a date
    assert not date_for_count("Tết Nguyên đán diễn ra khi nào?", "năm 2024")


def test_a_quantity_question_is_not_answered_without_a_number() -> None:
    from viqa.qa.answer_rules import has_no_quantity

    text = "Trong tháng, số người nộp hồ sơ là 700 người; ba đội và hai đội khác."
    asks = "Trong tháng có bao nhiêu người nộp hồ sơ?"

    def lacks(question: str, answer: str) -> bool:
        start = text.index(answer)
        return has_no_quantity(question, text, start, start + len(answer))

    assert lacks(asks, "số") and lacks(asks, "người nộp hồ sơ")
    assert not lacks(asks, "700 người") and not lacks("Có mấy đội?", "ba đội")  # digits or numeral words
    assert not lacks("Ai nộp hồ sơ?", "số")  # not a quantity question


def test_question_words_around_a_span_are_counted_once_each() -> None:
    from viqa.qa.answer_rules import question_words_around

    text = "Doanh thu trong tháng đạt 135,7 tỷ đồng. Lũy kế 11 tháng, doanh thu du lịch ước đạt 2.999 tỷ đồng."
    question = "Doanh thu du lịch 11 tháng ước đạt bao nhiêu?"

    def around(answer: str, width: int = 5) -> int:
        start = text.index(answer)
        return question_words_around(question, text, start, start + len(answer), width)

    assert around("2.999 tỷ đồng") == 5  # "thu du lịch ước đạt" before it
    assert around("2.999 tỷ đồng", width=8) == 8  # "kế 11 tháng, doanh thu du lịch ước đạt"
    assert around("135,7 tỷ đồng") == 5  # "doanh thu trong tháng đạt", and "11" of the next sentence
    assert around("2.999 tỷ đồng", width=0) == 0


def test_reranking_prefers_the_figure_whose_neighbours_repeat_the_question() -> None:
    from viqa.qa.answer_rules import rerank_by_context
    from viqa.qa.spans import Span

    text = "Doanh thu trong tháng đạt 135,7 tỷ đồng. Lũy kế 11 tháng, doanh thu du lịch ước đạt 2.999 tỷ đồng."
    question = "Doanh thu du lịch 11 tháng ước đạt bao nhiêu?"
    month, year = text.index("135,7"), text.index("2.999")
    spans = [Span(month, month + 13, 8.0), Span(year, year + 13, 7.9)]
    ranked = rerank_by_context(question, text, spans, width=5, weight=0.3)
    assert text[ranked[0].start : ranked[0].end] == "2.999 tỷ đồng" and ranked[0].score == 7.9  # score stays raw
    assert [round(s.bonus, 2) for s in ranked] == [1.5, 1.2]  # "11" of the next sentence is not the month's
    assert rerank_by_context(question, text, spans, width=5, weight=0.0)[0].start == month  # off: by score
    assert rerank_by_context(question, text, spans, width=5, weight=0.0)[0].bonus == 0.0


def test_the_quantity_rules_read_a_question_typed_without_tone_marks() -> None:
    from viqa.qa.answer_rules import asks_quantity, drop_restated_subject, is_date_for_a_quantity, trim_to_quantity

    assert asks_quantity("Tong kim ngach thang 11 uoc dat bao nhieu?")
    assert not asks_quantity("May bay ha canh o dau?") and not asks_quantity("Máy bay hạ cánh ở đâu?")
    assert asks_quantity("Có mấy người?")
    text = "kim ngạch xuất khẩu ước đạt 280 triệu USD, tăng 5%; năm 2024 có 700 người"
    s = text.index("280")
    assert text[s : trim_to_quantity("Kim ngach xuat khau bao nhieu?", text, s, len(text))] == "280 triệu USD"
    year = text.index("2024")
    assert is_date_for_a_quantity("Co bao nhieu nguoi?", text, year, year + 4)
    assert not is_date_for_a_quantity("Nam bao nhieu co 700 nguoi?", text, year, year + 4)
    restated = "số người nộp hồ sơ hưởng bảo hiểm là 700 người"
    assert restated[drop_restated_subject("Co bao nhieu nguoi nop ho so huong bao hiem?", restated, 0,
                                          len(restated)):] == "700 người"


def test_re_ranking_counts_question_words_typed_without_tone_marks() -> None:
    from viqa.qa.answer_rules import question_words_around

    text = "nhập khẩu đạt 160 triệu USD"
    s = text.index("160")
    assert question_words_around("nhap khau bao nhieu?", text, s, s + 3, 5) == 2
    assert question_words_around("nhập khẩu bao nhiêu?", text, s, s + 3, 5) == 2
