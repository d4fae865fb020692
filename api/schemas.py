"""Request and response models of the HTTP API, and the wire forms of the domain types (``AskOut`` of an
``Answer``, ``SearchOut`` of a ``Search``) that the CLI's ``--json`` prints too. ``Citation``, ``IngestReport``
and ``Job`` are served as they are."""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from viqa.types import CITATION_EXAMPLE, NOT_FOUND, Alternative, Answer, Citation, Filter, Hit, Search

# the names index.store accepts: letters, digits, _ . - with a letter or digit first, never "..", at most 64
NAME_PATTERN = r"^[A-Za-z0-9](?:\.?[A-Za-z0-9_-])*\.?$"
NAME_MAX_CHARS = 64
# what the published schema takes from the settings (create_app fills it in): {"maximum": "max_top_k"}
SETTING = "x-viqa-setting"
# a question or query holds a letter or digit (Unicode; checked, with the length limit, by the routes: a 400)
QUESTION_SCHEMA: dict[str, Any] = {"pattern": r"[^\W_]", SETTING: {"maxLength": "max_query_chars"}}



def _whole(value: object) -> object:
    """15.0 as 15: JSON Schema's integers are whole numbers, however written."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# strict: JSON true is not a count and 1 is not a flag, as the published schema says; the upper bound is the
# settings' max_top_k, checked by the routes
PassageCount = Annotated[int, Field(strict=True, ge=1, json_schema_extra={SETTING: {"maximum": "max_top_k"}}),
                         BeforeValidator(_whole)]
Flag = Annotated[bool, Field(strict=True)]

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: object) -> object:
    """A day as ISO text (2023-11-30): not a number, which pydantic would take for a Unix time."""
    if isinstance(value, datetime.date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("write the date as YYYY-MM-DD, e.g. 2023-11-30")


IsoDate = Annotated[datetime.date, BeforeValidator(_iso_day)]

CollectionField = Field(
    default=None, pattern=NAME_PATTERN, max_length=NAME_MAX_CHARS,
    description="Collection name; the server's default collection when omitted.",
)

ASK_EXAMPLE: dict[str, Any] = {
    "answer": "45,6 triệu USD",
    "confidence": 0.87,
    "message": None,
    "citations": [CITATION_EXAMPLE],
    "timings_ms": {"retrieve": 41.2, "read": 180.5, "total": 222.0},
    "alternatives": [],
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
    alternatives: list[Alternative] = Field(
        default_factory=list, description="Other documents' answers, close behind this one: the sources differ.")

    @classmethod
    def from_answer(cls, answer: Answer) -> AskOut:
        return cls(
            answer=answer.text,
            confidence=round(answer.confidence, 4),
            message=None if answer.text is not None else NOT_FOUND,
            citations=list(answer.citations),
            timings_ms={k: round(v, 2) for k, v in answer.timings_ms.items()},
            alternatives=[Alternative(a.text, round(a.confidence, 4), a.citation) for a in answer.alternatives],
        )


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class FilterIn(BaseModel):
    """Search only the documents that meet every condition given; both retrievers keep to them before fusion."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"doc_ids": ["bao-cao-thang-11"]},
                                        {"title": "tháng 11", "tags": ["kinh-te"], "date_from": "2023-01-01"}]},
    )

    doc_ids: list[Annotated[str, Field(pattern=NAME_PATTERN, max_length=NAME_MAX_CHARS)]] | None = Field(
        default=None, min_length=1, max_length=1000, description="These documents only.")
    title: str | None = Field(default=None, min_length=1, max_length=200,
                              description="Documents whose title holds this (case and tone placement aside).")
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=20, description="Documents carrying every one of these tags.")
    date_from: IsoDate | None = Field(default=None, description="Documents dated on or after this day.")
    date_to: IsoDate | None = Field(default=None, description="Documents dated on or before this day.")

    def to_filter(self) -> Filter:
        return Filter(
            doc_ids=None if self.doc_ids is None else frozenset(self.doc_ids), title=self.title,
            tags=frozenset(self.tags), date_from=None if self.date_from is None else self.date_from.isoformat(),
            date_to=None if self.date_to is None else self.date_to.isoformat(),
        )


FilterField = Field(default=None, description="Only passages of the documents this admits (default: all).")


class AskRequest(BaseModel):
    """One question; the answer is an exact span of a document (or an abstention)."""

    model_config = _examples(
        {"question": "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?", "collection": "default"},
        {"question": "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?", "filter": {"doc_ids": ["bao-cao-thang-11"]}},
    )

    question: str = Field(description="A question in Vietnamese.", json_schema_extra=QUESTION_SCHEMA)
    collection: str | None = CollectionField
    top_k: PassageCount | None = Field(default=None, description="Passages to read (default: server's).")
    filter: FilterIn | None = FilterField


class SearchRequest(BaseModel):
    """A query; the answer is a ranked list of passages."""

    model_config = _examples(
        {"query": "kim ngạch xuất khẩu tháng 11", "k": 3},
        {"query": "kim ngạch xuất khẩu", "filter": {"title": "tháng 11", "date_from": "2023-11-01"}},
    )

    query: str = Field(description="Keywords or a question.", json_schema_extra=QUESTION_SCHEMA)
    collection: str | None = CollectionField
    k: PassageCount | None = Field(default=None, description="How many passages.")
    filter: FilterIn | None = FilterField


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
    filter: FilterIn | None = FilterField
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
        return cls(**out.model_dump(exclude={"citations", "alternatives"}), citations=out.citations,
                   alternatives=out.alternatives, answer_span=span, resolved_question=resolved_question)


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


OPENAI_MODEL = "viqa"


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat-completions request. The answer is an exact span of a document, not generated text, so
    sampling and generation parameters (temperature, top_p, max_tokens, max_completion_tokens, n, stop,
    presence_penalty, frequency_penalty, seed, logit_bias, logprobs, top_logprobs, user, response_format, tools,
    tool_choice, parallel_tool_calls, reasoning_effort, ...) are accepted and ignored; so is any other unknown field.

    ``model`` must be ``viqa`` (the one model ``GET /v1/models`` lists): any other is a 404 ``model_not_found``.
    viqa extras (``extra_body`` in the openai client): ``collection``, ``top_k``, ``filter``.
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

    model: str = Field(default=OPENAI_MODEL, description="'viqa' (what GET /v1/models lists); others are a 404.")
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=200)
    stream: Flag = False
    stream_options: StreamOptions | None = None
    collection: str | None = CollectionField
    top_k: PassageCount | None = None
    filter: FilterIn | None = FilterField


class UrlCitation(BaseModel):
    """``content[start_index:end_index]`` is a source marker such as ``[1]`` (the cited answer itself when the
    content carries no sources); ``url`` opens the document on the cited span in viqa's web page."""

    start_index: int = Field(ge=0)
    end_index: int = Field(ge=0)
    url: str = Field(description="/?c=COLLECTION&d=DOC_ID#CHAR_START-CHAR_END under the server's root.")
    title: str


class UrlCitationAnnotation(BaseModel):
    """OpenAI's ``url_citation`` annotation of a message, one per citation."""

    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitation


class AssistantMessage(BaseModel):
    """The answer, its numbered sources appended unless ``VIQA_OPENAI_SOURCES=false``; abstentions say so."""

    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None
    annotations: list[UrlCitationAnnotation] = Field(default_factory=list)


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
    """An OpenAI ``chat.completion``: the content cites its sources, ``annotations`` link them, and the extra
    ``viqa`` field carries viqa's whole answer, citations included."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = "viqa"
    choices: list[Choice]
    usage: Usage
    viqa: ChatResponse


class ChunkDelta(BaseModel):
    """A piece of the message; the final chunk's delta carries the ``annotations`` of the whole content."""

    role: Literal["assistant"] | None = None
    content: str | None = None
    annotations: list[UrlCitationAnnotation] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One streamed ``chat.completion.chunk``; the last one with choices carries ``annotations`` and ``viqa``."""

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
    description: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIErrorDetail(BaseModel):
    """viqa's error detail with OpenAI's ``type`` and ``param``, set on OpenAI-specific errors (unknown model)."""

    message: str
    code: str
    type: str | None = Field(default=None, examples=["invalid_request_error"])
    param: str | None = None


class OpenAIErrorOut(BaseModel):
    """An error of the OpenAI routes: ``{"error": {"message", "type", "param", "code"}}``."""

    model_config = _examples(
        {"error": {"message": "The model 'gpt-4o' does not exist; this server serves 'viqa'.",
                   "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}
    )

    error: OpenAIErrorDetail


# --- documents, collections, jobs -------------------------------------------------------------------------------


class DocumentUpload(BaseModel):
    """A document as JSON; ``doc_id`` defaults to a slug of the title (else of the text's hash)."""

    model_config = _examples(
        {"doc_id": "thong-bao-12", "title": "Thông báo số 12", "text": "Thông báo số 12\n\nKim ngạch xuất khẩu ..."}
    )

    doc_id: str | None = Field(default=None, pattern=NAME_PATTERN, max_length=NAME_MAX_CHARS)
    title: str | None = Field(default=None, max_length=200)
    text: str = Field(min_length=1)
    date: IsoDate | None = Field(default=None, description="The document's date, for filters.")
    tags: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=20,
                                                             description="Tags, for filters.")
    replace: Flag = Field(default=False, description="The document may take the id of another source.")


class DocumentSummary(BaseModel):
    """A document of a collection: ``pages`` for paged sources (PDF), ``passages`` in the index."""

    doc_id: str
    title: str
    chars: int
    sha256: str
    date: str | None = None
    tags: list[str] = Field(default_factory=list)
    format: Literal["text", "pdf", "docx", "html"] = "text"
    pages: int | None = None
    passages: int = 0


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
    format: Literal["text", "pdf", "docx", "html"] = "text"
    page_starts: list[int] = Field(default_factory=list, description="Where each page starts in the text (PDF).")


class CollectionList(BaseModel):
    model_config = _examples({"default": "default", "collections": ["default", "bao-cao-2023"]})

    default: str
    collections: list[str]


class HealthOut(BaseModel):
    status: Literal["ok", "ready"]
    message: str | None = None
