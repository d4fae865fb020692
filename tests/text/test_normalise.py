from __future__ import annotations

import unicodedata

from viqa.text.normalise import MappedText, normalise_for_matching, unify_tone_marks


def test_old_and_new_tone_placement_match() -> None:
    assert unify_tone_marks("hoà") == unify_tone_marks("hòa") == "hòa"
    assert unify_tone_marks("thuỷ") == "thủy"
    assert unify_tone_marks("Khoẻ") == "Khỏe"


def test_tone_unification_leaves_closed_syllables_and_qu_alone() -> None:
    for word in ("hoàng", "toán", "quý", "Quỳnh", "khuyến"):
        assert unify_tone_marks(word) == word


def test_matching_form_is_nfc_lowercase_and_same_for_nfd_input() -> None:
    nfd = unicodedata.normalize("NFD", "Hoà Bình")
    assert normalise_for_matching(nfd) == normalise_for_matching("hòa bình") == "hòa bình"


def test_mapped_text_maps_composed_characters_back_to_every_source_character() -> None:
    original = unicodedata.normalize("NFD", "Bình ở")
    mapped = MappedText()
    mapped.append_original(original, 0, len(original))
    assert mapped.text == "Bình ở"
    start, end = mapped.original_span(0, len(mapped.text))
    assert original[start:end] == original
    i = mapped.text.index("ì")
    assert unicodedata.normalize("NFC", original[mapped.start[i] : mapped.end[i]]) == "ì"


def test_tone_marks_strip_as_users_type_without_them_and_keep_the_length() -> None:
    from viqa.text.normalise import strip_tone_marks

    text = "Tổng kim ngạch xuất khẩu tháng 11 đạt bao nhiêu? Đà Nẵng"
    assert strip_tone_marks(text) == "Tong kim ngach xuat khau thang 11 dat bao nhieu? Da Nang"
    assert len(strip_tone_marks(text)) == len(text)
