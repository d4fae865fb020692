"""Boundary types shared by index/, qa/, api/ and eval/: small dataclasses, offsets into the original text.

``Citation``, ``Answer`` and ``IngestReport`` are pydantic dataclasses, so the API serves them as they are.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass as pydantic_dataclass

NOT_FOUND = "Không tìm thấy câu trả lời trong tài liệu."


@dataclass(frozen=True)
class Document:
    """A source file as ingested: ``text`` is its canonical text (a .txt decoded, a PDF's extracted text); every
    offset in viqa points into it. ``date`` (ISO, "2023-11-30") and ``tags`` are what the user gave at upload, for
    filters. ``pages[i]`` is where page ``i + 1`` starts in ``text`` (paged formats only). ``source`` is the file's
    bytes, carried to the index for formats whose pages viqa can show (PDF); None once read back from an index."""

    doc_id: str
    title: str
    path: str
    text: str
    sha256: str
    date: str | None = None
    tags: tuple[str, ...] = ()
    pages: tuple[int, ...] = ()
    format: str = "text"
    source: bytes | None = field(default=None, repr=False, compare=False)

    def page_of(self, offset: int) -> int | None:
        """The 1-based page that character ``offset`` of ``text`` is on (None for sources without pages)."""
        return bisect_right(self.pages, offset) if self.pages else None


@dataclass(frozen=True)
class Filter:
    """Which documents a search may return: all of the given conditions hold (None or empty: no condition).

    ``title`` is a substring, matched as retrieval matches text (case and tone placement aside); ``tags`` must
    all be on the document; ``date_from``/``date_to`` bound its ISO date, inclusive (undated documents fail).
    """

    doc_ids: frozenset[str] | None = None
    title: str | None = None
    tags: frozenset[str] = frozenset()
    date_from: str | None = None
    date_to: str | None = None

    def admits(self, doc: Document, title_key: str) -> bool:
        """True when ``doc`` (whose title normalised for matching is ``title_key``) meets every condition."""
        if self.doc_ids is not None and doc.doc_id not in self.doc_ids:
            return False
        if self.title is not None and self.title not in title_key:
            return False
        if not self.tags <= set(doc.tags):
            return False
        if self.date_from is not None or self.date_to is not None:
            if doc.date is None:
                return False
            if (self.date_from is not None and doc.date < self.date_from) or (
                self.date_to is not None and doc.date > self.date_to
            ):
                return False
        return True


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


CITATION_EXAMPLE = {
    "doc_id": "lang-son-bao-cao-kt-xh-thang-11-2023",
    "title": "Báo cáo tình hình kinh tế - xã hội tháng 11 năm 2023",
    "passage_id": "3f2a9c1d0b7e4a51",
    "char_start": 10412,
    "char_end": 10427,
    "quote": "Kim ngạch xuất khẩu tháng 11 ước đạt 45,6 triệu USD.",
    "quote_start": 10385,
    "quote_end": 10437,
    "page": None,
}


@pydantic_dataclass(frozen=True, config=ConfigDict(json_schema_extra={"examples": [CITATION_EXAMPLE]}))
class Citation:
    """Where the answer stands: ``document.text[char_start:char_end]`` is the answer, inside its sentence
    ``quote == document.text[quote_start:quote_end]``; ``page`` is the answer's 1-based page in a paged source."""

    doc_id: str
    title: str
    passage_id: str
    char_start: int
    char_end: int
    quote: str
    quote_start: int
    quote_end: int
    page: int | None = None


@pydantic_dataclass(frozen=True)
class Alternative:
    """What another document says, close behind the best answer: its answer, confidence and where it stands."""

    text: str
    confidence: float
    citation: Citation


@pydantic_dataclass(frozen=True)
class Answer:
    """An answer span with its citations, or an abstention (``text is None``); ``alternatives`` are other
    documents' answers that rank close behind it (the sources differ)."""

    text: str | None
    confidence: float
    citations: tuple[Citation, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    alternatives: tuple[Alternative, ...] = ()


@dataclass(frozen=True)
class Search:
    """The passages retrieved for a query, best first."""

    query: str
    collection: str
    hits: tuple[Hit, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)


@pydantic_dataclass
class IngestReport:
    """What an ingest or delete did, by document id; ``chunks`` is the collection's passage count after it.
    ``duplicates`` maps a document not stored, because its content is already there, to the id that holds it;
    ``failed`` maps each file (or upload) that was refused to the reason."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    chunks: int = 0
    duplicates: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced or self.deleted)

    def summary(self) -> str:
        """One line for people: "1 added, 0 replaced, 0 unchanged, 0 deleted; 42 passages" (and, when some
        were, "; 1 duplicate not stored (copy = a)", "; 2 files skipped")."""
        line = (f"{len(self.added)} added, {len(self.replaced)} replaced, {len(self.skipped)} unchanged, "
                f"{len(self.deleted)} deleted; {self.chunks} passages")
        if self.duplicates:
            pairs = ", ".join(f"{new} = {old}" for new, old in self.duplicates.items())
            line += f"; {len(self.duplicates)} duplicate{'s' if len(self.duplicates) > 1 else ''} not stored ({pairs})"
        if self.failed:
            line += f"; {len(self.failed)} file{'s' if len(self.failed) > 1 else ''} skipped"
        return line
