"""Request and response models of the HTTP API, and the wire forms of the domain types (``AskOut`` of an
``Answer``, ``SearchOut`` of a ``Search``) that the CLI's ``--json`` prints too. ``Citation``, ``IngestReport``
and ``Job`` are served as they are."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from viqa.types import CITATION_EXAMPLE, NOT_FOUND, Answer, Citation, Hit, Search

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

# strict: JSON true is not a count and 1 is not a flag, as the published schema says; the upper bound is the
# settings' max_top_k, checked by the routes
PassageCount = Annotated[int, Field(strict=True, ge=1)]
Flag = Annotated[bool, Field(strict=True)]

CollectionField = Field(
    default=None, pattern=NAME_PATTERN, description="Collection name; the server's default collection when omitted."
)

ASK_EXAMPLE: dict[str, Any] = {
    "answer": "45,6 triệu USD",
    "confidence": 0.87,
    "message": None,
    "citations": [CITATION_EXAMPLE],
    "timings_ms": {"retrieve": 41.2, "read": 180.5, "total": 222.0},
}
SEARCH_EXAMPLE: dict[str, Any] = {
    "query": "kim ngạch xuất khẩu tháng 11",
    "collection": "default",
    "passages": [
        {
            "rank": 1, "score": 0.93, "dense_score": 0.86, "bm25_score": 12.4,
            "doc_id": "lang-son-bao-cao-kt-xh-thang-11-2023", "passage_id": "3f2a9c1d0b7e4a51",
            "heading_path": "II. Thương mại > Xuất nhập khẩu", "kind": "body",
            "char_start": 10300, "char_end": 10900,
            "text": "Kim ngạch xuất khẩu tháng 11 ước đạt 45,6 triệu USD. ...",
            "clean_text": "Kim ngạch xuất khẩu tháng 11 ước đạt 45,6 triệu USD. ...",
        }
    ],
    "timings_ms": {"retrieve": 38.7},
}



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
    """What ``POST /v1/search`` and ``viqa search --json`` give."""

    query: str
    collection: str
    passages: list[PassageOut]
    timings_ms: dict[str, float]

    @classmethod
    def from_search(cls, search: Search) -> SearchOut:
        return cls(query=search.query, collection=search.collection,
                   passages=[PassageOut.from_hit(i, h) for i, h in enumerate(search.hits, start=1)],
                   timings_ms={k: round(v, 2) for k, v in search.timings_ms.items()})


class AskOut(BaseModel):
    """What ``POST /v1/ask`` and ``viqa ask --json`` give: an ``Answer``, with a message when viqa abstains."""

    answer: str | None = Field(description="The exact answer span, or null when the documents do not say.")
    confidence: float = Field(ge=0.0, le=1.0)
    message: str | None = Field(default=None, description="Human-readable note, set when viqa abstains.")
    citations: list[Citation]
    timings_ms: dict[str, float]

    @classmethod
    def from_answer(cls, answer: Answer) -> AskOut:
        return cls(
            answer=answer.text,
            confidence=round(answer.confidence, 4),
            message=None if answer.text is not None else NOT_FOUND,
            citations=list(answer.citations),
            timings_ms={k: round(v, 2) for k, v in answer.timings_ms.items()},
        )


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class AskRequest(BaseModel):
    """One question; the answer is an exact span of a document (or an abstention)."""

    model_config = _examples({"question": "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?", "collection": "default"})

    question: str = Field(description="A question in Vietnamese.")
    collection: str | None = CollectionField
    top_k: PassageCount | None = Field(default=None, description="Passages to read (default: server's).")


class SearchRequest(BaseModel):
    """A query; the answer is a ranked list of passages."""

    model_config = _examples({"query": "kim ngạch xuất khẩu tháng 11", "k": 3})

    query: str = Field(description="Keywords or a question.")
    collection: str | None = CollectionField
    k: PassageCount | None = Field(default=None, description="How many passages.")


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    """A conversation; the last message is the user's question, earlier user turns resolve follow-ups."""

    model_config = _examples(
        {
            "collection": "default",
            "messages": [
                {"role": "user", "content": "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"},
                {"role": "assistant", "content": "45,6 triệu USD"},
                {"role": "user", "content": "Còn nhập khẩu thì sao?"},
            ],
            "stream": False,
        }
    )

    collection: str | None = CollectionField
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    top_k: PassageCount | None = None
    stream: Flag = Field(default=False, description="Answer as Server-Sent Events: citations, answer, done.")


class AnswerSpan(BaseModel):
    """Where the answer stands: ``document[char_start:char_end]`` of ``doc_id``."""

    char_start: int
    char_end: int
    doc_id: str


class ChatResponse(AskOut):
    """The answer to the last question, as it was understood (``resolved_question``)."""

    model_config = _examples(
        {
            **ASK_EXAMPLE,
            "answer": "38,2 triệu USD",
            "answer_span": {"char_start": 10502, "char_end": 10516, "doc_id": CITATION_EXAMPLE["doc_id"]},
            "resolved_question": "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?",
        }
    )

    answer_span: AnswerSpan | None = Field(description="Where the answer stands in its first citation.")
    resolved_question: str = Field(description="The question actually asked, follow-ups spelled out.")

    @classmethod
    def from_answer_to(cls, answer: Answer, resolved_question: str) -> ChatResponse:
        out = AskOut.from_answer(answer)
        first = out.citations[0] if out.citations and out.answer is not None else None
        span = AnswerSpan(char_start=first.char_start, char_end=first.char_end, doc_id=first.doc_id) if first else None
        return cls(**out.model_dump(exclude={"citations"}), citations=out.citations, answer_span=span,
                   resolved_question=resolved_question)


# --- OpenAI-compatible chat completions -------------------------------------------------------------------------


class OpenAIContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str = Field(description="system, developer, user, assistant or tool; only user turns are questions.")
    content: str | list[OpenAIContentPart] | None = None

    @property
    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return " ".join(p.text for p in self.content if p.type == "text" and p.text)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: Flag = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat-completions request; sampling parameters are accepted and ignored (answers are extractive).

    viqa extras (``extra_body`` in the openai client): ``collection``, ``top_k``.
    """

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "model": "viqa",
                    "messages": [{"role": "user", "content": "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"}],
                    "stream": False,
                }
            ]
        },
    )

    model: str = Field(default="viqa", description="Any string; the response says 'viqa'.")
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=200)
    stream: Flag = False
    stream_options: StreamOptions | None = None
    collection: str | None = CollectionField
    top_k: PassageCount | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    """Counted in syllables, not model tokens (the reader does not generate text)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """An OpenAI ``chat.completion`` whose ``viqa`` field carries viqa's whole answer, citations included."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = "viqa"
    choices: list[Choice]
    usage: Usage
    viqa: ChatResponse


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One streamed ``chat.completion.chunk``; the last one with choices carries ``viqa``."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = "viqa"
    choices: list[ChunkChoice]
    usage: Usage | None = None
    viqa: ChatResponse | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "viqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# --- documents, collections, jobs -------------------------------------------------------------------------------


class DocumentUpload(BaseModel):
    """A document as JSON; ``doc_id`` defaults to a slug of the title (else of the text's hash)."""

    model_config = _examples(
        {"doc_id": "thong-bao-12", "title": "Thông báo số 12", "text": "Thông báo số 12\n\nKim ngạch xuất khẩu ..."}
    )

    doc_id: str | None = Field(default=None, pattern=NAME_PATTERN)
    title: str | None = Field(default=None, max_length=200)
    text: str = Field(min_length=1)


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    chars: int
    sha256: str


class DocumentList(BaseModel):
    model_config = _examples(
        {"collection": "default",
         "documents": [{"doc_id": "thong-bao-12", "title": "Thông báo số 12", "chars": 5120,
                        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]}
    )

    collection: str
    documents: list[DocumentSummary]


class DocumentOut(BaseModel):
    """``text`` is ``document[start:end]`` (the whole document unless a range was asked for)."""

    doc_id: str
    title: str
    sha256: str
    chars: int
    start: int
    end: int
    text: str


class CollectionList(BaseModel):
    model_config = _examples({"default": "default", "collections": ["default", "bao-cao-2023"]})

    default: str
    collections: list[str]


class HealthOut(BaseModel):
    status: Literal["ok", "ready"]
    message: str | None = None
