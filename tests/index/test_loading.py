from __future__ import annotations

from pathlib import Path

import pytest

from viqa.errors import InputError
from viqa.index.loading import doc_id_from_name, expand_paths, load_document
from viqa.settings import Settings

MB = 2**20


@pytest.fixture
def limits() -> Settings:
    return Settings(max_file_mb=1)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_doc_ids_are_ascii_slugs_of_the_file_name() -> None:
    assert doc_id_from_name("Báo cáo tháng 11 Đồng Đăng.txt") == "bao-cao-thang-11-dong-dang"


def test_utf8_text_loads_with_its_hash_and_title(tmp_path: Path, limits: Settings) -> None:
    doc = load_document(_write(tmp_path, "a.txt", "**Báo cáo**\n\nNội dung.".encode()), limits)
    assert doc.text == "**Báo cáo**\n\nNội dung." and doc.title == "Báo cáo" and len(doc.sha256) == 64
    assert doc.format == "text" and doc.pages == () and doc.source is None


def test_utf8_bom_is_not_part_of_the_text(tmp_path: Path, limits: Settings) -> None:
    doc = load_document(_write(tmp_path, "b.txt", b"\xef\xbb\xbf" + "Xin chào".encode()), limits)
    assert doc.text == "Xin chào"


def _cp1258(text: str) -> bytes:
    """``text`` as Windows-1258 writes it: base letters precomposed where it has them, tone marks combining."""
    import unicodedata

    tones = "\u0300\u0301\u0303\u0309\u0323"

    def one(ch: str) -> str:
        decomposed = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in tones))
        return base + "".join(c for c in decomposed if c in tones)

    return "".join(one(ch) for ch in text).encode("cp1258")


def test_a_cp1258_file_is_read_not_refused(tmp_path: Path, limits: Settings) -> None:
    doc = load_document(_write(tmp_path, "cu.txt", _cp1258("Báo cáo kinh tế xã hội của tỉnh năm 2023")), limits)
    assert doc.text == "Báo cáo kinh tế xã hội của tỉnh năm 2023"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n\n ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "binary"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, data: bytes, message: str, limits: Settings) -> None:
    with pytest.raises(InputError, match=message):
        load_document(_write(tmp_path, "bad.txt", data), limits)


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(50 * MB)  # sparse: costs no disk and must not be read
    with pytest.raises(InputError, match="over the 20 MB limit"):
        load_document(big, Settings(max_file_mb=20))


def test_unsupported_types_broken_pdfs_and_missing_paths_are_refused(tmp_path: Path, limits: Settings) -> None:
    with pytest.raises(InputError, match="unsupported file type '.bin'"):
        load_document(_write(tmp_path, "x.bin", b"data"), limits)
    with pytest.raises(InputError, match="x.pdf"):
        load_document(_write(tmp_path, "x.pdf", b"%PDF"), limits)
    with pytest.raises(InputError, match="no such file"):
        expand_paths([tmp_path / "missing"])


def test_folders_expand_to_every_file_but_hidden_ones(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", b"a")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "b.md", b"b")
    _write(tmp_path, "c.bin", b"c")
    _write(tmp_path, ".DS_Store", b"d")
    (tmp_path / ".git").mkdir()
    _write(tmp_path / ".git", "HEAD", b"e")
    assert [p.name for p in expand_paths([tmp_path])] == ["a.txt", "c.bin", "b.md"]
