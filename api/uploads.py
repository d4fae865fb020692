"""Uploaded bytes or JSON text as ``Document``s, refused (InputError) for the reasons ``viqa ingest`` refuses files."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import replace
from pathlib import PurePath

from viqa.errors import InputError
from viqa.index.loading import check_text, doc_id_from_name, document_from_bytes, title_of
from viqa.index.store import validate_name
from viqa.settings import Settings
from viqa.types import Document


def encoded(text: str, what: str) -> bytes:
    """``text`` as UTF-8; InputError for text that has none (lone surrogates)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{what} contains characters that are not valid Unicode") from None


MAX_TAGS = 20


def with_metadata(doc: Document, date: str | None, tags: list[str]) -> Document:
    """``doc`` carrying an ISO date ("2023-11-30") and tags, for filters; InputError for a date that is not one
    or more than ``MAX_TAGS`` tags."""
    if date is not None:
        try:
            date = datetime.date.fromisoformat(date.strip()).isoformat()
        except ValueError:
            raise InputError(f"date {date!r} is not an ISO date such as 2023-11-30") from None
    kept = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(kept) > MAX_TAGS or any(len(t) > 50 for t in kept):
        raise InputError(f"give at most {MAX_TAGS} tags of at most 50 characters each")
    return replace(doc, date=date, tags=kept)


def document_from_file(
    data: bytes, filename: str, doc_id: str | None = None, title: str | None = None, settings: Settings | None = None
) -> Document:
    """An uploaded file (.txt, .md, .pdf, .docx, .html); the id defaults to a slug of the file name, the title to
    the file's own, else its first line."""
    name = PurePath(filename.replace("\\", "/")).name or "upload.txt"
    return document_from_bytes(
        data, name, f"upload:{name}",
        doc_id=validate_name(doc_id, "document") if doc_id else None,
        title=title.strip() if title and title.strip() else None,
        settings=settings,
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
