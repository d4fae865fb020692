"""Uploaded bytes or JSON text as ``Document``s, refused (InputError) for the reasons ``viqa ingest`` refuses files."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import PurePath

from index.loading import SUPPORTED_SUFFIXES, decode_text, doc_id_from_name
from index.store import validate_name
from viqa.errors import InputError
from viqa.types import Document


def encoded(text: str, what: str) -> bytes:
    """``text`` as UTF-8; InputError for text that has none (lone surrogates)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{what} contains characters that are not valid Unicode") from None


def _title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().strip("*#").strip()
        if line:
            return line[:120]
    return fallback


def _checked_text(text: str, name: str) -> str:
    if not text.strip():
        raise InputError(f"{name}: the document is empty")
    sample = text[:65536]
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if controls > 0.01 * len(sample):
        raise InputError(f"{name}: looks like a binary file, not text")
    return text


def document_from_file(data: bytes, filename: str, doc_id: str | None = None, title: str | None = None) -> Document:
    """A .txt/.md upload; the id defaults to a slug of the file name, the title to its first line."""
    name = PurePath(filename.replace("\\", "/")).name or "upload.txt"
    if PurePath(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputError(f"{name}: unsupported file type (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    text = _checked_text(decode_text(data, name), name)
    return Document(
        doc_id=validate_name(doc_id, "document") if doc_id else doc_id_from_name(name),
        title=title.strip() if title and title.strip() else _title(text, PurePath(name).stem),
        path=f"upload:{name}",
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def document_from_json(text: str, doc_id: str | None = None, title: str | None = None) -> Document:
    """A document sent as JSON text; the id defaults to a slug of the title, else ``doc-<hash>``."""
    data = encoded(text, "the document")
    sha = hashlib.sha256(data).hexdigest()
    title = title.strip() if title and title.strip() else None
    if doc_id:
        doc_id = validate_name(doc_id, "document")
    elif title:
        doc_id = doc_id_from_name(title + ".txt")
    else:
        doc_id = f"doc-{sha[:12]}"
    text = _checked_text(text, doc_id)
    return Document(doc_id=doc_id, title=title or _title(text, doc_id), path=f"upload:{doc_id}", text=text, sha256=sha)
