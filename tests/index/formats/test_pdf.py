"""PDFs read into canonical text: what ``index.structure`` reads from a txt, it reads from the same report as PDF."""

from __future__ import annotations

import difflib
import io
import unicodedata
from pathlib import Path

import numpy as np
import pypdfium2
import pytest
from PIL import Image

from tests.makers.pdf import (
    encrypted_pdf,
    lines_pdf,
    many_pages_pdf,
    report_pdf,
    scan_pdf,
    table_pdf,
    truncated_pdf,
)
from tests.paths import SAMPLE
from viqa.errors import InputError
from viqa.index.formats import Extracted, ocr
from viqa.index.formats.pdf import extract_pdf, page_image
from viqa.index.structure import parse_blocks

LIMIT = 400


def _extract(path: Path, **kwargs) -> Extracted:
    return extract_pdf(path.read_bytes(), path.name, max_pages=LIMIT, **kwargs)


def _blocks(text: str) -> list[tuple[str, str]]:
    """(kind, clean text with whitespace collapsed) of every block ``parse_blocks`` finds."""
    return [(b.kind, " ".join(b.clean.text.split())) for b in parse_blocks(text)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pdfs")


@pytest.fixture(scope="module")
def report(folder: Path) -> Path:
    """The bundled report, printed as a PDF with its footnotes at the foot of their pages."""
    return report_pdf(SAMPLE.read_text(encoding="utf-8"), folder / "report.pdf", title="Báo cáo tháng 11/2023")


@pytest.fixture(scope="module")
def extracted(report: Path) -> Extracted:
    return _extract(report)


# --- the report as a whole ---------------------------------------------------------------------------------


def test_the_report_pdf_gives_the_blocks_of_its_txt(extracted: Extracted) -> None:
    expected, got = _blocks(SAMPLE.read_text(encoding="utf-8")), _blocks(extracted.text)
    matcher = difflib.SequenceMatcher(a=expected, b=got, autojunk=False)
    matched = [kind for m in matcher.get_matching_blocks() for kind, _ in expected[m.a : m.a + m.size]]
    counts = {kind: f"{matched.count(kind)}/{sum(k == kind for k, _ in expected)}"
              for kind in ("body", "heading", "footnote")}
    assert got == expected, f"blocks of the txt found in the PDF, by kind: {counts}"
    assert counts["footnote"] == "33/33"


def test_footnotes_at_the_page_foot_become_footnote_paragraphs(extracted: Extracted) -> None:
    page_2 = extracted.text[extracted.pages[1] : extracted.pages[2]]
    assert "\n\n¹ Chủ yếu là diện tích gieo trồng rau vụ Đông 164,8ha" in page_2
    assert page_2.rstrip().endswith("Cốc Nam, Na Hình)")  # footnote 4 closes the page
    numbers = [b.number for b in parse_blocks(extracted.text) if b.kind == "footnote"]
    assert numbers == list(range(1, 34))


def test_raised_digits_in_the_body_become_superscript_markers(extracted: Extracted) -> None:
    assert "ước đạt 168ha¹. Tình hình" in extracted.text
    assert "tăng so với cùng kỳ²; công tác tiêm phòng" in extracted.text
    assert "8.803,0 nghìn m³" in extracted.text  # a unit exponent printed as a character stays one


def test_running_headers_and_page_numbers_are_dropped(extracted: Extracted) -> None:
    assert "UBND TỈNH LẠNG SƠN" not in extracted.text
    lines = [line.strip() for line in extracted.text.splitlines()]
    assert not [line for line in lines if line.isdigit()]


def test_a_header_that_carries_the_page_number_is_dropped(folder: Path) -> None:
    pages = [[[words]] for words in ("Mở đầu.", "Nội dung.", "Kết luận.")]
    path = lines_pdf(pages, folder / "numbered-header.pdf", header="Báo cáo số 12/BC-UBND, trang {page}")
    assert _extract(path).text == "Mở đầu.\n\nNội dung.\n\nKết luận."


def test_a_bold_title_is_marked_as_in_the_txt(extracted: Extracted) -> None:
    assert extracted.text.startswith("**BÁO CÁO Tình hình kinh tế - xã hội tháng 11 và 11 tháng đầu năm, nhiệm vụ")


def test_title_comes_from_the_metadata(extracted: Extracted, folder: Path) -> None:
    assert extracted.title == "Báo cáo tháng 11/2023"
    assert _extract(lines_pdf([[["Một dòng."]]], folder / "untitled.pdf")).title is None


# --- paragraphs, lines and pages ---------------------------------------------------------------------------


def test_sentence_cut_by_a_page_break_is_joined(folder: Path) -> None:
    txt = ("Kim ngạch xuất nhập khẩu ước đạt 4.595 triệu USD, tăng 70,6%\n\n"
           "¹ Cửa khẩu quốc tế Hữu Nghị, Ga đường sắt quốc tế Đồng Đăng.\n\n"
           "so với cùng kỳ, trong đó xuất khẩu¹ 2.680 triệu USD.\n")
    result = _extract(report_pdf(txt, folder / "cut.pdf"))
    assert len(result.pages) == 2
    (body,) = [b for b in parse_blocks(result.text) if b.kind == "body"]
    assert body.clean.text == ("Kim ngạch xuất nhập khẩu ước đạt 4.595 triệu USD, tăng 70,6% so với cùng kỳ, "
                               "trong đó xuất khẩu 2.680 triệu USD.")


def test_lines_of_a_paragraph_are_joined_and_paragraphs_split_on_gaps(folder: Path) -> None:
    path = lines_pdf([[["Dòng thứ nhất của đoạn một,", "dòng thứ hai."], ["Đoạn hai."]]], folder / "paras.pdf")
    assert _extract(path).text == "Dòng thứ nhất của đoạn một, dòng thứ hai.\n\nĐoạn hai."


def test_hyphenated_word_across_lines_is_joined(folder: Path) -> None:
    path = lines_pdf([[["Đầu tư hạ tầng số (infra-", "structure) tăng 5%."]]], folder / "hyphen.pdf")
    assert _extract(path).text == "Đầu tư hạ tầng số (infrastructure) tăng 5%."


def test_a_hyphen_between_vietnamese_words_or_numbers_stays(folder: Path) -> None:
    path = lines_pdf([[["Phát triển kinh tế-", "xã hội giai đoạn 2021-", "2030, vùng Đồng Đăng -", "Lạng Sơn."]]],
                     folder / "compound.pdf")
    assert _extract(path).text == "Phát triển kinh tế-xã hội giai đoạn 2021-2030, vùng Đồng Đăng - Lạng Sơn."


def test_table_comes_out_as_rows(folder: Path) -> None:
    rows = [["Chỉ tiêu", "Đơn vị", "Tháng 11", "11 tháng"],
            ["Thu nội địa", "tỷ đồng", "179,36", "2.309,0"],
            ["Thu xuất nhập khẩu", "tỷ đồng", "490,17", "4.607,68"]]
    text = _extract(table_pdf(rows, folder / "table.pdf")).text
    assert text.split("\n\n") == ["Bảng 1. Thu ngân sách nhà nước",
                                  "Chỉ tiêu | Đơn vị | Tháng 11 | 11 tháng",
                                  "Thu nội địa | tỷ đồng | 179,36 | 2.309,0",
                                  "Thu xuất nhập khẩu | tỷ đồng | 490,17 | 4.607,68"]


def test_pages_give_the_offset_of_each_page(extracted: Extracted, report: Path) -> None:
    document = pypdfium2.PdfDocument(report)
    try:
        assert len(extracted.pages) == len(document) and extracted.pages[0] == 0
        for number, start in enumerate(extracted.pages):
            layer = " ".join(document[number].get_textpage().get_text_range().split())
            first_words = " ".join(extracted.text[start:].split()[:4]).strip("*")
            assert first_words in layer, number + 1
    finally:
        document.close()
    assert list(extracted.pages) == sorted(set(extracted.pages))


def test_an_empty_page_still_has_its_pages_entry(folder: Path) -> None:
    result = _extract(lines_pdf([[["Trang một."]], [], [["Trang ba."]]], folder / "empty-page.pdf"))
    assert len(result.pages) == 3
    assert result.text[result.pages[2] :] == "Trang ba."
    assert result.text[: result.pages[1]].strip() == "Trang một."


def test_text_is_nfc(folder: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Tiếng Việt có dấu")
    assert _extract(lines_pdf([[[decomposed]]], folder / "nfd.pdf")).text == "Tiếng Việt có dấu"


# --- refusals ----------------------------------------------------------------------------------------------


def test_encrypted_pdf_is_refused_with_one_line(folder: Path) -> None:
    with pytest.raises(InputError) as refused:
        _extract(encrypted_pdf(folder / "secret.pdf"))
    message = str(refused.value)
    assert message.startswith("secret.pdf: ") and "password" in message and "\n" not in message


def test_truncated_pdf_is_refused(folder: Path) -> None:
    with pytest.raises(InputError, match=r"^cut\.pdf: not a readable PDF") as refused:
        _extract(truncated_pdf(folder / "cut.pdf"))
    assert "\n" not in str(refused.value)


def test_too_many_pages_is_refused(folder: Path) -> None:
    with pytest.raises(InputError) as refused:
        _extract(many_pages_pdf(folder / "long.pdf", pages=500))
    assert str(refused.value) == "long.pdf: 500 pages is over the 400-page limit (VIQA_MAX_PAGES)"


@pytest.fixture(scope="module")
def scan(folder: Path) -> Path:
    return scan_pdf(["Tổng thu ngân sách nhà nước", "tăng 6,3% so với cùng kỳ."], folder / "scan.pdf")


def test_scan_without_ocr_names_the_package(scan: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "ocr_available", lambda language: False)
    with pytest.raises(InputError) as refused:
        _extract(scan)
    assert str(refused.value) == ("scan.pdf: has no text layer (a scan?); install Tesseract's Vietnamese model to "
                                  "read it: apt-get install tesseract-ocr tesseract-ocr-vie")


@pytest.mark.skipif(not ocr.ocr_available("vie"), reason="needs tesseract and its Vietnamese model (tesseract-ocr-vie)")
def test_scan_is_read_with_tesseract(scan: Path) -> None:
    result = _extract(scan)
    assert "Tổng thu ngân sách nhà nước" in result.text and "6,3%" in result.text
    assert result.pages == (0,) and unicodedata.is_normalized("NFC", result.text)


def test_a_scan_stamped_with_a_text_footer_still_goes_to_ocr(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = scan_pdf(["Trang quét."], folder / "stamped.pdf", copies=2, footer="Scanned with MáyQuét")
    read: list[bytes] = []
    monkeypatch.setattr(ocr, "ocr_available", lambda language: True)
    monkeypatch.setattr(ocr, "ocr_image", lambda image, language: read.append(image) or "Trang quét.\n\f")
    result = _extract(path)
    assert result.text == "Trang quét.\n\nTrang quét." and result.pages == (0, 13)
    assert len(read) == 2 and all(image.startswith(b"\x89PNG") for image in read)


# --- page images -------------------------------------------------------------------------------------------


def _yellow(png: bytes) -> np.ndarray:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r > 90) & (r - b > 80) & (abs(r - g) < 60)


def _char_area(report: Path, page: int, phrase: str, width: int) -> tuple[int, int, int, int]:
    """The pixel box (x0, y0, x1, y1) around ``phrase`` on ``page`` at ``width``, from pdfium's own search."""
    document = pypdfium2.PdfDocument(report)
    try:
        pdf_page = document[page - 1]
        textpage = pdf_page.get_textpage()
        first, count = textpage.search(phrase).get_next()
        boxes = [textpage.get_charbox(i, loose=True) for i in range(first, first + count)]
        scale, height = width / pdf_page.get_width(), pdf_page.get_height()
    finally:
        document.close()
    left, right = min(b[0] for b in boxes), max(b[2] for b in boxes)
    bottom, top = min(b[1] for b in boxes), max(b[3] for b in boxes)
    return int(left * scale), int((height - top) * scale), int(right * scale) + 1, int((height - bottom) * scale) + 1


def test_page_image_highlights_the_span(extracted: Extracted, report: Path) -> None:
    phrase = "440 triệu USD"
    start = extracted.text.index(phrase)
    page = next(n for n, offset in enumerate(extracted.pages, start=1)
                if offset <= start and (n == len(extracted.pages) or start < extracted.pages[n]))
    png = page_image(report.read_bytes(), page, [(start, start + len(phrase))], width=1000)
    yellow = _yellow(png)
    x0, y0, x1, y1 = _char_area(report, page, phrase, 1000)
    inside = yellow[y0:y1, x0:x1]
    assert inside.mean() > 0.5
    yellow[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = False
    assert not yellow.any()


def test_page_image_without_spans_has_no_yellow(report: Path) -> None:
    png = page_image(report.read_bytes(), 1, [], width=600)
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).width == 600
    assert not _yellow(png).any()


def test_page_image_refuses_a_page_out_of_range(report: Path, extracted: Extracted) -> None:
    with pytest.raises(InputError, match="out of range"):
        page_image(report.read_bytes(), len(extracted.pages) + 1, [(0, 10)])
