"""Read user files (.txt, .md, .pdf, .docx, .html) into ``Document``s, refusing what cannot be read with a message
that says why."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from viqa.errors import InputError
from viqa.index.formats import Extracted
from viqa.settings import Settings, get_settings
from viqa.types import Document

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".docx", ".html", ".htm")


def doc_id_from_name(name: str) -> str:
    """A readable ASCII id from a file name: "Báo cáo tháng 11.txt" -> "bao-cao-thang-11"."""
    stem = Path(name).stem.replace("đ", "d").replace("Đ", "D")
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-")
    return slug[:64] or hashlib.sha1(name.encode()).hexdigest()[:12]


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


def extract(data: bytes, name: str, settings: Settings) -> Extracted:
    """The canonical text of a file by its suffix (.txt/.md, .pdf, .docx, .html/.htm); InputError, naming the
    file, for an unsupported type or a file its format's reader refuses."""
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf":
        from viqa.index.formats.pdf import extract_pdf

        return extract_pdf(data, name, max_pages=settings.max_pages, ocr_language=settings.ocr_language)
    if suffix == ".docx":
        from viqa.index.formats.docx import extract_docx

        return extract_docx(data, name, max_unpacked_bytes=int(settings.max_unpacked_mb * 2**20))
    if suffix in (".html", ".htm"):
        from viqa.index.formats.html import extract_html

        return extract_html(data, name)
    if suffix in (".txt", ".md"):
        from viqa.index.formats.text import extract_text

        return extract_text(data, name)
    raise InputError(f"{name}: unsupported file type {suffix or '(none)'!r} "
                     f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")


def document_from_bytes(
    data: bytes, name: str, path: str, doc_id: str | None = None, title: str | None = None,
    settings: Settings | None = None,
) -> Document:
    """A file's bytes as a Document: id defaults to a slug of ``name``; title to the file's own (a PDF's or
    DOCX's properties, an HTML ``<title>``), else its first line. A PDF carries its bytes, for its page images."""
    extracted = extract(data, name, settings or get_settings())
    text = check_text(extracted.text, name)
    return Document(
        doc_id=doc_id or doc_id_from_name(name),
        title=title or extracted.title or title_of(text, Path(name).stem),
        path=path,
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        pages=extracted.pages,
        format=extracted.format,
        source=data if extracted.format == "pdf" else None,
    )


def load_document(path: Path, settings: Settings | None = None) -> Document:
    """One file as a Document; InputError, naming the file, for an unsupported, empty, binary, undecodable,
    damaged or oversized file."""
    settings = settings or get_settings()
    max_bytes = int(settings.max_file_mb * 2**20)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputError(f"{path}: unsupported file type {path.suffix or '(none)'!r} "
                         f"(supported: {', '.join(SUPPORTED_SUFFIXES)})")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{path}: {size / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB limit per file "
                             "(VIQA_MAX_FILE_MB)")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    # the resolved path is the document's source: two spellings of one file are the same source (see ingest)
    return document_from_bytes(data, str(path), str(path.resolve()), doc_id=doc_id_from_name(path.name),
                               settings=settings)


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and every file inside folders (recursively, sorted; hidden files and folders left out).
    Unsupported files are kept, so that an ingest lists each with its reason instead of skipping it silently."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    if not files:
        raise InputError("no files found in " + ", ".join(map(str, paths)))
    return files
