"""Links into viqa's web page that open a document on a cited span: ``/?c=<collection>&d=<doc_id>#<start>-<end>``.

The offsets are characters of the document's text, end exclusive, as in every ``Citation``.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

_FRAGMENT = re.compile(r"^(\d+)-(\d+)$")


def citation_path(collection: str, doc_id: str, start: int, end: int) -> str:
    """The page's path and query for ``document.text[start:end]`` of ``doc_id`` in ``collection``."""
    return f"/?{urlencode({'c': collection, 'd': doc_id})}#{start}-{end}"


def citation_url(base_url: str, collection: str, doc_id: str, start: int, end: int) -> str:
    """``citation_path`` under ``base_url`` (a server's root, e.g. ``http://127.0.0.1:8000/``)."""
    return base_url.rstrip("/") + citation_path(collection, doc_id, start, end)


def parse_fragment(fragment: str) -> tuple[int, int] | None:
    """(start, end) of a ``#<start>-<end>`` fragment (without the ``#``), or None if it is not one."""
    m = _FRAGMENT.match(fragment)
    return (int(m.group(1)), int(m.group(2))) if m and int(m.group(1)) <= int(m.group(2)) else None
