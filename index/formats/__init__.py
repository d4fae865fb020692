"""A user's file as canonical text: the text every offset of viqa points into, with its pages.

Each format module turns bytes into an ``Extracted``. The text follows the conventions that
``viqa.index.structure.parse_blocks`` reads, so that every format shares one chunker:

- paragraphs are separated by a blank line; the lines of one paragraph are joined with spaces;
- a heading is a markdown line, its level the number of ``#`` ("## II. Văn hóa – xã hội");
- a footnote body is a paragraph that starts with its superscript number ("¹ Chủ yếu là ...");
- a footnote marker is superscript digits right after the word that cites it ("tăng 5%¹");
- a table row is one line, its cells joined by " | ", and a table is one paragraph per row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Extracted:
    """Canonical ``text``; ``title`` from the file's own metadata (None: none there); ``pages[i]`` is the offset in
    ``text`` where page ``i + 1`` starts (empty for sources without pages)."""

    text: str
    title: str | None = None
    pages: tuple[int, ...] = ()
    format: str = "text"  # "text", "pdf", "docx" or "html"
