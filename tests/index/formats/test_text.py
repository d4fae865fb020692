from __future__ import annotations

import unicodedata

import pytest

from tests.paths import SAMPLE
from viqa.errors import InputError
from viqa.index.formats import Extracted
from viqa.index.formats.legacy_vn import decode_tcvn3, decode_vni, encode_tcvn3, encode_vni
from viqa.index.formats.text import decode_text, extract_text, is_syllable, vietnamese_score

SENTENCE = "Báo cáo tình hình kinh tế - xã hội của tỉnh Lạng Sơn năm 2023 được các cấp, các ngành thực hiện."
_TONES = "\u0300\u0301\u0303\u0309\u0323"
_MARKERS = str.maketrans("", "", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _report_text() -> str:
    """The bundled report's body without footnote markers (Windows-1258 has no ⁴)."""
    return SAMPLE.read_text(encoding="utf-8").translate(_MARKERS)


def _cp1258(text: str) -> bytes:
    """``text`` as Windows writes Windows-1258: vowels with their shape, tone marks as combining characters."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        nfd = unicodedata.normalize("NFD", ch)
        tone = "".join(c for c in nfd if c in _TONES)
        shaped = unicodedata.normalize("NFC", "".join(c for c in nfd if c not in _TONES))
        out.append((shaped + tone).encode("cp1258"))
    return b"".join(out)


def test_utf8_with_and_without_bom_is_read_as_it_is() -> None:
    assert decode_text(SENTENCE.encode("utf-8"), "a.txt") == SENTENCE
    assert decode_text(b"\xef\xbb\xbf" + SENTENCE.encode("utf-8"), "a.txt") == SENTENCE


def test_the_result_is_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", SENTENCE)
    assert decode_text(decomposed.encode("utf-8"), "a.txt") == SENTENCE


def test_utf16_with_bom_is_decoded() -> None:
    assert decode_text(SENTENCE.encode("utf-16"), "a.txt") == SENTENCE
    assert decode_text(b"\xfe\xff" + SENTENCE.encode("utf-16-be"), "a.txt") == SENTENCE


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_decoded(encoding: str) -> None:
    text = _report_text()[:5000]
    assert decode_text(text.encode(encoding), "a.txt") == text


def test_utf8_cut_in_the_middle_of_its_last_character_is_read() -> None:
    data = (SENTENCE + " Lạ").encode("utf-8")[:-1]
    assert decode_text(data, "a.txt") == SENTENCE + " L"


def test_cp1258_file_is_decoded_to_nfc() -> None:
    data = _cp1258(SENTENCE)
    assert "\u0301".encode("cp1258") in data  # the tone marks really are combining characters in the file
    assert decode_text(data, "a.txt") == SENTENCE


def test_tcvn3_is_converted() -> None:
    text = _report_text().lower()  # TCVN3 writes capitals with tone marks only through an upper-case font
    assert decode_tcvn3(encode_tcvn3(text)) == text
    assert decode_text(encode_tcvn3(text), "a.txt") == text
    assert decode_text(encode_tcvn3(SENTENCE), "a.txt") == SENTENCE


def test_tcvn3_table_matches_the_published_code_points() -> None:
    assert decode_tcvn3(b"\xb8") == "á" and decode_tcvn3(b"\xae") == "đ" and decode_tcvn3(b"\xa7") == "Đ"
    assert decode_tcvn3(b"\xb5\xb6\xb7\xb9") == "àảãạ" and decode_tcvn3(b"\xfd\xad\xac") == "ýươ"
    # the national motto as it appears in TCVN3 files, read as Latin-1
    assert decode_tcvn3("Céng hoµ x· héi chñ nghÜa ViÖt Nam".encode("latin-1")) == "Cộng hoà xã hội chủ nghĩa Việt Nam"
    assert decode_tcvn3("§éc lËp - Tù do - H¹nh phóc".encode("latin-1")) == "Độc lập - Tự do - Hạnh phúc"


def test_vni_is_converted() -> None:
    text = _report_text()
    assert decode_vni(encode_vni(text)) == unicodedata.normalize("NFC", text)
    assert decode_text(encode_vni(text), "a.txt") == text
    assert decode_text(encode_vni(SENTENCE), "a.txt") == SENTENCE


def test_vni_table_matches_the_published_spellings() -> None:
    assert decode_vni(b"a\xf9") == "á" and decode_vni(b"\xf1") == "đ" and decode_vni(b"\xd1") == "Đ"
    assert decode_vni(b"a\xe1") == "ấ" and decode_vni(b"a\xea") == "ă" and decode_vni(b"\xf4\xf9") == "ớ"
    motto = "Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam".encode("cp1252")
    assert decode_vni(motto) == "Cộng hòa xã hội chủ nghĩa Việt Nam"
    assert decode_vni("Ñoäc laäp - Töï do - Haïnh phuùc".encode("cp1252")) == "Độc lập - Tự do - Hạnh phúc"
    assert decode_vni("ñöôïc tænh".encode("cp1252")) == "được tỉnh"


def test_every_vietnamese_letter_survives_both_legacy_tables() -> None:
    letters = [ch for ch in map(chr, range(0xC0, 0x1EFA)) if is_syllable(ch.lower()) and ch.isalpha()]
    letters += ["đ", "Đ"]
    for letter in letters:
        assert decode_vni(encode_vni(letter)) == letter
        if letter.islower() or letter in "ĂÂÊÔƠƯĐ":
            assert decode_tcvn3(encode_tcvn3(letter)) == letter
    with pytest.raises(ValueError):
        encode_tcvn3("Á")


def test_ordinary_cp1258_and_utf8_are_not_mistaken_for_tcvn3_or_vni() -> None:
    text = _report_text()
    assert decode_text(_cp1258(text), "a.txt") == text
    assert decode_text(text.encode("utf-8"), "a.txt") == text
    data = _cp1258(text)
    assert vietnamese_score(decode_tcvn3(data)) == 0 and vietnamese_score(decode_vni(data)) == 0


def test_short_legacy_texts_are_told_apart() -> None:
    for text in ("Xin chào các bạn", "Nghị quyết của Hội đồng nhân dân tỉnh", "tỉnh Lạng Sơn"):
        for data in (_cp1258(text), encode_tcvn3(text), encode_vni(text)):
            assert decode_text(data, "a.txt") == text


def test_text_that_reads_as_no_vietnamese_is_refused_with_a_guess_and_how_to_convert() -> None:
    for data in ("Ceci est un café très élégant, à la française.".encode("cp1252"),
                 "これは日本語のテキストです。文字コードを確認します。".encode("shift_jis")):
        with pytest.raises(InputError) as refused:
            decode_text(data, "notes.txt")
        message = str(refused.value)
        assert message.startswith("notes.txt: ") and "\n" not in message
        assert "looks like" in message and "iconv" in message


def test_stray_control_characters_are_cleaned_not_refused() -> None:
    data = ("Báo cáo\x07 tháng 11\x1b\r\n\tnăm\x0c 2023\x85." + " nội dung" * 1000 + "\x00\x7f.").encode("utf-8")
    text = decode_text(data, "a.txt")
    assert text.startswith("Báo cáo tháng 11\r\n\tnăm\x0c 2023.") and text.endswith("nội dung.")
    assert extract_text(data, "a.txt").text == text


def test_a_vertical_tab_becomes_a_line_break() -> None:
    assert decode_text("Dòng một\x0bDòng hai".encode(), "a.txt") == "Dòng một\nDòng hai"


def test_binary_is_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
    with pytest.raises(InputError, match=r"^image\.png: looks like a binary file, not text$"):
        decode_text(png, "image.png")
    with pytest.raises(InputError, match="binary"):  # no NULs, but mostly control characters
        decode_text(bytes(range(1, 32)) * 50 + b"abc", "a.txt")


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n", "\ufeff".encode()])
def test_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(InputError, match=r"^a\.txt: the file is empty$"):
        extract_text(data, "a.txt")


def test_extract_text_gives_text_without_title() -> None:
    assert extract_text(SENTENCE.encode(), "a.txt") == Extracted(text=SENTENCE, title=None, pages=(), format="text")


def test_syllables_are_told_from_other_words() -> None:
    assert all(map(is_syllable, ["người", "được", "khuyến", "nghiêng", "quốc", "giữ", "ở", "oái"]))
    assert not any(map(is_syllable, ["café", "vieät", "cña", "tØnh", "ớá", "caùc"]))
