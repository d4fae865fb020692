"""Read user files into ``Document``s, refusing what is not text with a message that says why."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from viqa.errors import InputError
from viqa.types import Document

SUPPORTED_SUFFIXES = (".txt", ".md")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def doc_id_from_name(name: str) -> str:
    """A readable ASCII id from a file name: "Báo cáo tháng 11.txt" -> "bao-cao-thang-11"."""
    stem = Path(name).stem.replace("đ", "d").replace("Đ", "D")
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-")
    return slug[:64] or hashlib.sha1(name.encode()).hexdigest()[:12]


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (or BOM-marked UTF-16) text; anything else is refused with a guess of what it is."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    if b"\x00" in data[:8192]:
        raise InputError(f"{name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:65536]).best()
        guess = f" (looks like {best.encoding})" if best is not None else ""
        raise InputError(f"{name}: not UTF-8 text{guess}; convert it first, e.g. iconv -t UTF-8") from None


def title_of(text: str, fallback: str) -> str:
    """The first non-empty line (markdown/bold marks stripped), else ``fallback``."""
    for line in text.splitlines():
        line = line.strip().strip("*#").strip()
        if line:
            return line[:120]
    return fallback


def check_text(text: str, name: str) -> str:
    """``text`` unchanged; InputError when it is empty or mostly control characters (binary)."""
    if not text.strip():
        raise InputError(f"{name}: the file is empty")
    sample = text[:65536]
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if controls > 0.01 * len(sample):
        raise InputError(f"{name}: looks like a binary file, not text")
    return text


def document_from_bytes(
    data: bytes, name: str, path: str, doc_id: str | None = None, title: str | None = None
) -> Document:
    """A .txt/.md file's bytes as a Document; id defaults to a slug of ``name``, title to the first line."""
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputError(f"{name}: unsupported file type {Path(name).suffix!r} "
                         f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    text = check_text(decode_text(data, name), name)
    return Document(
        doc_id=doc_id or doc_id_from_name(name),
        title=title or title_of(text, Path(name).stem),
        path=path,
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def load_document(path: Path, max_bytes: int) -> Document:
    """One file as a Document; InputError for unsupported, empty, binary, non-UTF-8 or oversized files."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputError(f"{path}: unsupported file type {path.suffix!r} (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{path}: {size / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB limit per file")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    # the resolved path is the document's source: two spellings of one file are the same source (see ingest)
    return document_from_bytes(data, str(path), str(path.resolve()), doc_id=doc_id_from_name(path.name))


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and the supported files inside folders (recursively, sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    if not files:
        raise InputError("no .txt or .md files found in " + ", ".join(map(str, paths)))
    return files
