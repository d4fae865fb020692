from __future__ import annotations

from tests.paths import SAMPLE
from viqa.index.structure import parse_blocks

TEXT = SAMPLE.read_text(encoding="utf-8")


def _block_with(fragment: str):
    return next(b for b in parse_blocks(TEXT) if fragment in b.clean.text)


def test_sentence_cut_by_a_page_break_is_joined_back() -> None:
    block = _block_with("tăng 70,6% so với cùng kỳ, trong đó, xuất khẩu 2.680 triệu USD")
    assert block.kind == "body"
    assert "Chủ yếu là diện tích" not in block.clean.text  # the footnotes in between stay out


def test_joined_sentence_maps_back_to_both_halves_of_the_original() -> None:
    block = _block_with("tăng 70,6% so với cùng kỳ")
    i = block.clean.text.index("70,6% so với")
    start, end = block.clean.original_span(i, i + len("70,6% so với"))
    original = TEXT[start:end]
    assert original.startswith("70,6%") and original.endswith("so với")
    assert "¹ Chủ yếu là diện tích gieo trồng rau vụ Đông" in original


def test_footnote_markers_are_kept_out_of_the_clean_text_and_recorded() -> None:
    block = _block_with("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11")
    assert "cửa khẩu⁴" not in block.clean.text and "06 cửa khẩu. Tổng" in block.clean.text
    assert 4 in [number for number, _ in block.refs]


def test_unit_exponents_are_not_footnote_markers() -> None:
    footnote = next(b for b in parse_blocks(TEXT) if b.kind == "footnote" and b.number == 5)
    assert "8.803,0 nghìn m³" in footnote.clean.text


def test_every_footnote_is_its_own_block_with_its_number() -> None:
    numbers = [b.number for b in parse_blocks(TEXT) if b.kind == "footnote"]
    assert numbers[:4] == [1, 2, 3, 4]
    assert len(numbers) == len(set(numbers)) == 33


def test_heading_path_follows_the_numbering() -> None:
    block = _block_with("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11")
    assert block.heading_path == "II › 1 › 1.2"
    assert _block_with("chỉ số sản xuất công nghiệp tháng 11").heading_path == "II › 1 › 1.3"
