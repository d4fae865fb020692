from __future__ import annotations

from pathlib import Path

import pytest

from viqa.errors import InputError
from viqa.index.loading import doc_id_from_name, expand_paths, load_document

MB = 2**20


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_doc_ids_are_ascii_slugs_of_the_file_name() -> None:
    assert doc_id_from_name("Báo cáo tháng 11 Đồng Đăng.txt") == "bao-cao-thang-11-dong-dang"


def test_utf8_text_loads_with_its_hash_and_title(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, "a.txt", "**Báo cáo**\n\nNội dung.".encode()), 20 * MB)
    assert doc.text == "**Báo cáo**\n\nNội dung." and doc.title == "Báo cáo" and len(doc.sha256) == 64


def test_utf8_bom_is_not_part_of_the_text(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path, "b.txt", b"\xef\xbb\xbf" + "Xin chào".encode()), MB)
    assert doc.text == "Xin chào"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n\n ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "binary"),
        ("Báo cáo kinh tế xã hội tỉnh Lạng Sơn".encode("cp1258", errors="replace"), "not UTF-8"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_document(_write(tmp_path, "bad.txt", data), MB)


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(50 * MB)  # sparse: costs no disk and must not be read
    with pytest.raises(InputError, match="over the 20 MB limit"):
        load_document(big, 20 * MB)


def test_unsupported_types_and_missing_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unsupported"):
        load_document(_write(tmp_path, "x.pdf", b"%PDF"), MB)
    with pytest.raises(InputError, match="no such file"):
        expand_paths([tmp_path / "missing"])


def test_folders_expand_to_their_text_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", b"a")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "b.md", b"b")
    _write(tmp_path, "c.bin", b"c")
    assert [p.name for p in expand_paths([tmp_path])] == ["a.txt", "b.md"]
