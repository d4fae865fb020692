from __future__ import annotations

import unicodedata
import zipfile
from pathlib import Path

import docx
import pytest
from lxml import etree

from tests.makers.docx import report_docx, styled_docx, table_docx, truncated_docx, zip_bomb_docx
from tests.paths import SAMPLE
from viqa.errors import InputError
from viqa.index.formats.docx import extract_docx
from viqa.index.structure import Block, parse_blocks

LIMIT = 50 << 20
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
SMALL_REPORT = """**BÁO CÁO
Tình hình kinh tế - xã hội tháng 11**

II. VĂN HÓA – XÃ HỘI

1. Giáo dục

Tổ chức các hoạt động chào mừng ngày Nhà giáo Việt Nam¹. Tỷ lệ trường đạt chuẩn tăng 5%².

¹ Ngày 20 tháng 11.

² So với cùng kỳ năm 2022.

2. Y tế

Tiếp tục tăng cường công tác phòng, chống dịch bệnh.
"""


def _extract(path: Path, limit: int = LIMIT) -> str:
    return extract_docx(path.read_bytes(), path.name, max_unpacked_bytes=limit).text


def _bodies(blocks: list[Block]) -> list[tuple[str, str, list[tuple[int, int]]]]:
    return [(b.kind, b.clean.text, b.refs) for b in blocks if b.kind == "body"]


def _footnotes(blocks: list[Block]) -> list[tuple[int | None, str]]:
    return sorted((b.number, b.clean.text) for b in blocks if b.kind == "footnote")


def test_bundled_report_as_docx_reads_as_its_txt(tmp_path: Path) -> None:
    txt = SAMPLE.read_text(encoding="utf-8")
    from_txt = parse_blocks(txt)
    from_docx = parse_blocks(_extract(report_docx(txt, tmp_path / "report.docx")))
    assert _bodies(from_docx) == _bodies(from_txt)  # same paragraphs, same markers at the same places
    assert _footnotes(from_docx) == _footnotes(from_txt)
    assert len(_footnotes(from_docx)) == 33
    assert sum(b.kind == "heading" for b in from_docx) == sum(b.kind == "heading" for b in from_txt)


def test_heading_styles_become_the_heading_path_in_words(tmp_path: Path) -> None:
    text = _extract(report_docx(SMALL_REPORT, tmp_path / "small.docx"))
    assert "# II. VĂN HÓA – XÃ HỘI\n\n## 1. Giáo dục\n\n" in text
    path = styled_docx([("Heading 1", "II. Văn hóa – xã hội"), ("Heading 2", "Giáo dục"),
                        (None, "Tổ chức các hoạt động chào mừng ngày Nhà giáo Việt Nam.")], tmp_path / "h.docx")
    body = next(b for b in parse_blocks(_extract(path)) if b.kind == "body")
    assert body.heading_path == "II. Văn hóa – xã hội › Giáo dục"


def test_localized_heading_styles_are_read_by_their_outline_level(tmp_path: Path) -> None:
    path = styled_docx([("Tiêu đề mục", "II. Văn hóa – xã hội"), ("Tiêu đề tiểu mục", "Giáo dục"),
                        (None, "Nội dung.")], tmp_path / "vi.docx",
                       outline_styles={"Tiêu đề mục": 0, "Tiêu đề tiểu mục": 1})
    assert _extract(path) == "# II. Văn hóa – xã hội\n\n## Giáo dục\n\nNội dung."


def test_title_style_is_a_title_line_outside_the_heading_path(tmp_path: Path) -> None:
    text = _extract(report_docx(SMALL_REPORT, tmp_path / "small.docx"))
    assert text.startswith("**BÁO CÁO Tình hình kinh tế - xã hội tháng 11**\n\n# II.")
    assert parse_blocks(text)[0].heading_path == ""


def test_footnotes_are_read_and_linked_to_their_markers(tmp_path: Path) -> None:
    path = report_docx(SMALL_REPORT, tmp_path / "small.docx")
    with zipfile.ZipFile(path) as archive:  # real Word footnotes, not superscript text
        document = archive.read("word/document.xml").decode()
        assert document.count("<w:footnoteReference") == 2 and "¹" not in document
    text = _extract(path)
    assert ("Việt Nam¹. Tỷ lệ trường đạt chuẩn tăng 5%².\n\n¹ Ngày 20 tháng 11.\n\n² So với cùng kỳ năm 2022."
            "\n\n## 2. Y tế") in text
    blocks = parse_blocks(text)
    body = next(b for b in blocks if b.kind == "body")
    notes = {b.number: b.clean.text for b in blocks if b.kind == "footnote"}
    assert [n for n, _ in body.refs] == [1, 2]
    (_, first), (_, second) = body.refs
    assert body.clean.text[:first].endswith("Việt Nam") and body.clean.text[:second].endswith("tăng 5%")
    assert notes == {1: "Ngày 20 tháng 11.", 2: "So với cùng kỳ năm 2022."}


def test_report_footnotes_are_a_well_formed_word_part(tmp_path: Path) -> None:
    with zipfile.ZipFile(report_docx(SMALL_REPORT, tmp_path / "small.docx")) as archive:
        types = archive.read("[Content_Types].xml").decode()
        rels = archive.read("word/_rels/document.xml.rels").decode()
        notes = etree.fromstring(archive.read("word/footnotes.xml"))
        settings = etree.fromstring(archive.read("word/settings.xml"))
    assert 'PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-officedocument.' \
           'wordprocessingml.footnotes+xml"' in types
    assert 'relationships/footnotes" Target="footnotes.xml"' in rels
    kinds = [(n.get(f"{W}id"), n.get(f"{W}type")) for n in notes]
    assert kinds == [("-1", "separator"), ("0", "continuationSeparator"), ("1", None), ("2", None)]
    assert all(n.find(f"{W}p/{W}r/{W}footnoteRef") is not None for n in notes[2:])
    names = [etree.QName(child).localname for child in settings]
    assert names.index("footnotePr") < names.index("compat")  # the schema's order, or Word refuses the file


def test_tables_come_out_as_rows(tmp_path: Path) -> None:
    text = _extract(table_docx(tmp_path / "table.docx"))
    assert text.split("\n\n") == [
        "Bảng 1. Kết quả thu ngân sách",
        "Chỉ tiêu | Đơn vị | Kết quả",
        "Thu nội địa | Đạt",  # the horizontally merged pair is one cell; the vertical merge shows once
        "Thu xuất nhập khẩu | tỷ đồng",
        "Sau bảng là đoạn văn.",
    ]


def test_title_comes_from_core_properties(tmp_path: Path) -> None:
    path = report_docx(SMALL_REPORT, tmp_path / "small.docx")
    extracted = extract_docx(path.read_bytes(), "small.docx", max_unpacked_bytes=LIMIT)
    assert extracted.title == "BÁO CÁO Tình hình kinh tế - xã hội tháng 11"
    assert extracted.format == "docx" and extracted.pages == ()
    plain = styled_docx([(None, "Nội dung.")], tmp_path / "plain.docx")
    assert extract_docx(plain.read_bytes(), "plain.docx", max_unpacked_bytes=LIMIT).title is None


def test_text_is_nfc(tmp_path: Path) -> None:
    path = styled_docx([(None, unicodedata.normalize("NFD", "Tiếng Việt"))], tmp_path / "nfd.docx",
                       title=unicodedata.normalize("NFD", "Báo cáo"))
    extracted = extract_docx(path.read_bytes(), "nfd.docx", max_unpacked_bytes=LIMIT)
    assert extracted.text == "Tiếng Việt" and extracted.title == "Báo cáo"


def test_truncated_docx_is_refused_with_one_line(tmp_path: Path) -> None:
    path = truncated_docx(tmp_path / "cut.docx")
    with pytest.raises(InputError) as refused:
        _extract(path)
    assert str(refused.value) == "cut.docx: is not a valid DOCX (the file is damaged or cut short)"


@pytest.mark.parametrize("data", [b"plain text, not a zip", b"PK\x03\x04" + b"\x00" * 40])
def test_file_that_is_not_a_zip_is_refused(data: bytes) -> None:
    with pytest.raises(InputError, match=r"^x\.docx: is not a valid DOCX \(the file is damaged or cut short\)$"):
        extract_docx(data, "x.docx", max_unpacked_bytes=LIMIT)


def test_zip_without_a_word_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "xin chào")
    with pytest.raises(InputError, match=r"^x\.docx: is not a valid DOCX"):
        _extract(path)


def test_old_word_doc_is_refused_with_what_to_do() -> None:
    with pytest.raises(InputError, match=r"^old\.docx: is an old Word \.doc .*save it as an unprotected \.docx"):
        extract_docx(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "old.docx", max_unpacked_bytes=LIMIT)


def test_zip_bomb_is_refused_before_unpacking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_open(*args: object) -> None:
        raise AssertionError("python-docx opened a zip bomb")

    monkeypatch.setattr(docx, "Document", must_not_open)
    path = zip_bomb_docx(tmp_path / "bomb.docx")
    assert path.stat().st_size < 100_000
    with pytest.raises(InputError, match=r"^bomb\.docx: a part unpacks to \d+ times its packed size \(a zip bomb\?\)$"):
        _extract(path)


def test_docx_that_unpacks_over_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = report_docx(SMALL_REPORT, tmp_path / "small.docx")
    with pytest.raises(InputError, match=r"^small\.docx: unpacks to \d+ KB, over the 10 KB limit \(a zip bomb\?\)$"):
        _extract(path, limit=10 << 10)


def test_document_without_text_is_refused(tmp_path: Path) -> None:
    path = styled_docx([(None, "   "), ("Heading 1", "")], tmp_path / "empty.docx")
    with pytest.raises(InputError, match=r"^empty\.docx: the document has no text$"):
        _extract(path)
