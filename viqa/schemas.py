"""The JSON shapes viqa prints (``--json``) and serves (HTTP): one pydantic model per shape."""

from __future__ import annotations

from pydantic import BaseModel, Field

from viqa.types import Answer, Hit


class PassageOut(BaseModel):
    """A retrieved passage; ``text`` is exactly ``document[char_start:char_end]``."""

    rank: int
    score: float
    dense_score: float | None
    bm25_score: float | None
    doc_id: str
    passage_id: str
    heading_path: str
    kind: str
    char_start: int
    char_end: int
    text: str
    clean_text: str = Field(description="The passage as retrieval and the reader see it (markers out, NFC).")

    @classmethod
    def from_hit(cls, rank: int, hit: Hit) -> PassageOut:
        c = hit.chunk
        return cls(
            rank=rank, score=round(hit.score, 6),
            dense_score=None if hit.dense_score is None else round(hit.dense_score, 6),
            bm25_score=None if hit.bm25_score is None else round(hit.bm25_score, 6),
            doc_id=c.doc_id, passage_id=c.chunk_id, heading_path=c.heading_path, kind=c.kind,
            char_start=c.char_start, char_end=c.char_end, text=c.text, clean_text=c.clean,
        )


class SearchOut(BaseModel):
    query: str
    collection: str
    passages: list[PassageOut]
    timings_ms: dict[str, float]


class CitationOut(BaseModel):
    """Where the answer stands: ``document[char_start:char_end]`` is the answer, ``quote`` its sentence."""

    doc_id: str
    title: str
    passage_id: str
    char_start: int
    char_end: int
    quote: str
    quote_start: int
    quote_end: int


class AskOut(BaseModel):
    answer: str | None = Field(description="The exact answer span, or null when the documents do not say.")
    confidence: float = Field(ge=0.0, le=1.0)
    message: str | None = Field(default=None, description="Human-readable note, set when viqa abstains.")
    citations: list[CitationOut]
    timings_ms: dict[str, float]

    @classmethod
    def from_answer(cls, answer: Answer) -> AskOut:
        return cls(
            answer=answer.text,
            confidence=round(answer.confidence, 4),
            message=None if answer.text is not None else NOT_FOUND,
            citations=[CitationOut(**vars(c)) for c in answer.citations],
            timings_ms={k: round(v, 2) for k, v in answer.timings_ms.items()},
        )


NOT_FOUND = "Không tìm thấy câu trả lời trong tài liệu."
