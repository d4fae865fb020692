"""Boundary types shared by index/, qa/, api/ and eval/: small frozen dataclasses, offsets into the original text."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """A source file as ingested: ``text`` is the decoded original; every offset in viqa points into it."""

    doc_id: str
    title: str
    path: str
    text: str
    sha256: str


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage.

    ``text`` is exactly ``document.text[char_start:char_end]``; ``clean`` is what retrieval and the reader
    see (NFC, footnote markers out, page-break-cut sentences joined); ``clean[i]`` came from
    ``document.text[clean_start[i]:clean_end[i]]``, so any span the reader finds maps back exactly.
    """

    chunk_id: str
    doc_id: str
    text: str
    clean: str
    clean_start: tuple[int, ...]
    clean_end: tuple[int, ...]
    char_start: int
    char_end: int
    heading_path: str
    kind: str = "body"  # "body" or "footnote"
    footnotes: tuple[str, ...] = ()  # chunk ids of the footnotes this passage cites
    cited_by: tuple[str, ...] = ()  # for a footnote: the passages that cite it

    def original_span(self, clean_start: int, clean_end: int) -> tuple[int, int]:
        """Original-document offsets of ``clean[clean_start:clean_end]`` (end exclusive)."""
        if not 0 <= clean_start < clean_end <= len(self.clean):
            raise ValueError(f"span [{clean_start}, {clean_end}) is outside the passage")
        return self.clean_start[clean_start], self.clean_end[clean_end - 1]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the two scores it came from (None: not retrieved by that side)."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None


@dataclass(frozen=True)
class Citation:
    """The answer at ``document.text[char_start:char_end]``, inside ``quote == text[quote_start:quote_end]``."""

    doc_id: str
    title: str
    passage_id: str
    char_start: int
    char_end: int
    quote: str
    quote_start: int
    quote_end: int


@dataclass(frozen=True)
class Answer:
    """An answer span with its citations, or an abstention (``text is None``)."""

    text: str | None
    confidence: float
    citations: tuple[Citation, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
