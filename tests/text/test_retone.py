from __future__ import annotations

from viqa.text.retone import restore_tone_marks

REPORT = ("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 ước đạt 440 triệu USD, trong đó kim ngạch xuất "
          "khẩu ước đạt 280 triệu USD; nhập khẩu đạt 160 triệu USD.")


def test_a_question_typed_without_tone_marks_takes_them_from_its_passage() -> None:
    typed = "Tong kim ngach xuat nhap khau qua dia ban tinh thang 11 uoc dat bao nhieu?"
    assert restore_tone_marks(typed, REPORT) == (
        "Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 ước đạt bao nhiêu?"
    )


def test_question_words_are_restored_even_where_the_passage_lacks_them() -> None:
    assert restore_tone_marks("Nhap khau dat bao nhieu, o dau?", REPORT) == "Nhập khẩu đạt bao nhiêu, ở đâu?"


def test_words_the_passage_does_not_hold_stay_as_typed_and_the_spacing_is_kept() -> None:
    typed = "Con  nhap khau thi sao ?"
    restored = restore_tone_marks(typed, REPORT)
    assert restored == "Con  nhập khẩu thi sao ?" and len(restored) == len(typed)


def test_the_longest_run_of_the_passage_wins_over_single_syllables() -> None:
    passage = "mà ma mà; ma túy được bán"
    assert restore_tone_marks("ma tuy", passage) == "ma túy"
    assert restore_tone_marks("ma", passage) == "mà"
