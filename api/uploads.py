"""Uploaded bytes or JSON text as ``Document``s, refused (InputError) for the reasons ``viqa ingest`` refuses files."""

from __future__ import annotations

import hashlib
from pathlib import PurePath

from viqa.errors import InputError
from viqa.index.loading import check_text, doc_id_from_name, document_from_bytes, title_of
from viqa.index.store import validate_name
from viqa.types import Document


def encoded(text: str, what: str) -> bytes:
    """``text`` as UTF-8; InputError for text that has none (lone surrogates)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{what} contains characters that are not valid Unicode") from None


def document_from_file(data: bytes, filename: str, doc_id: str | None = None, title: str | None = None) -> Document:
    """A .txt/.md upload; the id defaults to a slug of the file name, the title to its first line."""
    name = PurePath(filename.replace("\\", "/")).name or "upload.txt"
    return document_from_bytes(
        data, name, f"upload:{name}",
        doc_id=validate_name(doc_id, "document") if doc_id else None,
        title=title.strip() if title and title.strip() else None,
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
    text = check_text(text, doc_id)
    title = title or title_of(text, doc_id)
    return Document(doc_id=doc_id, title=title, path=f"upload:{doc_id}", text=text, sha256=sha)
