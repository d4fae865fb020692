"""OpenAI-compatible ``POST /v1/chat/completions`` (plain and streamed), so OpenAI clients work unchanged.

The content is the answer with numbered source markers and a short "Nguồn" list (``VIQA_OPENAI_SOURCES=false``:
the bare answer), so a client that shows only ``content`` still shows where the answer stands; ``annotations``
link each marker to the cited span in viqa's web page (``url_citation``). viqa's whole answer (citations,
confidence, the resolved question) is in the extra top-level field ``viqa`` of the completion (and of the last
streamed chunk that has choices). Only the model ``viqa`` exists; sampling parameters are accepted and ignored.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from viqa.api.deps import PipelineDep, ReadAuth, SettingsDep
from viqa.api.errors import ERROR_RESPONSES
from viqa.api.routes.chat import answer_conversation
from viqa.api.schemas import (
    OPENAI_MODEL,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatResponse,
    Choice,
    ChunkChoice,
    ChunkDelta,
    ModelCard,
    ModelList,
    OpenAIErrorOut,
    UrlCitation,
    UrlCitationAnnotation,
    Usage,
)
from viqa.api.sse import SSE_HEADERS, sse_event
from viqa.links import citation_url
from viqa.types import NOT_FOUND, Citation

router = APIRouter(prefix="/v1", tags=["openai"], responses=ERROR_RESPONSES)

MODEL_IDS: tuple[str, ...] = (OPENAI_MODEL,)
MODEL_DESCRIPTION = (
    "Extractive Vietnamese question answering over your documents: each answer is an exact span of a document,"
    " with numbered sources. Sampling parameters (temperature, top_p, max_tokens, n, stop, presence_penalty,"
    " frequency_penalty, seed, ...) are accepted and ignored."
)
SOURCES_HEADING = "Nguồn:"
QUOTE_CHARS = 160

_SPACE = re.compile(r"\s")
_PIECE = re.compile(r"\s*\S+|\s+$")
_NOT_FOUND_RESPONSES: dict[int | str, dict] = {
    404: {"model": OpenAIErrorOut, "description": "Unknown model (model_not_found) or collection (not_found)"}
}
_CHUNK_EVENT_SCHEMA = {
    "type": "object",
    "description": "One Server-Sent Event: ``data`` is a chat.completion.chunk as JSON, or ``[DONE]``.",
    "properties": {"data": {"type": "string"}},
    "required": ["data"],
}
_STREAM_EXAMPLE = (
    'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"viqa",'
    '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
    'data: {...,"choices":[{"index":0,"delta":{"content":"45,6"},"finish_reason":null}]}\n\n'
    'data: {...,"choices":[{"index":0,"delta":{"content":" triệu"},"finish_reason":null}]}\n\n'
    'data: {...,"choices":[{"index":0,"delta":{"content":" USD"},"finish_reason":null}]}\n\n'
    'data: {...,"choices":[{"index":0,"delta":{"content":" [1]"},"finish_reason":null}]}\n\n'
    'data: {...,"choices":[{"index":0,"delta":{"content":"\\n\\nNguồn:\\n- [1] Báo cáo ... — «Kim ngạch xuất khẩu'
    ' tháng 11 ước đạt 45,6 triệu USD.» (http://127.0.0.1:8000/?c=default&d=bao-cao#10502-10516)"},'
    '"finish_reason":null}]}\n\n'
    'data: {...,"choices":[{"index":0,"delta":{"annotations":[{"type":"url_citation","url_citation":'
    '{"start_index":15,"end_index":18,"url":"http://127.0.0.1:8000/?c=default&d=bao-cao#10502-10516",'
    '"title":"Báo cáo ..."}}]},"finish_reason":"stop"}],'
    '"viqa":{"citations":[...],"confidence":0.87,"resolved_question":"..."}}\n\n'
    "data: [DONE]\n\n"
)


@dataclass(frozen=True)
class Reply:
    """The assistant's content in the two parts it streams as: ``body`` (the answer and its ``[n]`` markers), then
    ``sources`` (the "Nguồn" list, or empty); ``annotations`` index ``content``."""

    body: str
    sources: str = ""
    annotations: list[UrlCitationAnnotation] = field(default_factory=list)

    @property
    def content(self) -> str:
        return self.body + self.sources


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space, stripped."""
    return " ".join(text.split())


def _window(size: int, start: int, end: int, limit: int) -> tuple[int, int]:
    """[lo, hi) of about ``limit`` of ``size`` characters, centred on [start, end), never cutting into it."""
    pad = max(limit - (end - start), 0) // 2
    lo = max(0, min(start - pad, size - limit))
    return lo, min(size, max(lo + limit, end))


def _snap_to_words(text: str, lo: int, hi: int, start: int, end: int) -> tuple[int, int]:
    """[lo, hi) moved inwards to whitespace so that no word is cut, [start, end) still inside."""
    if lo > 0 and not text[lo - 1].isspace():
        space = _SPACE.search(text, lo, start)
        lo = space.end() if space else lo
    if hi < len(text) and not text[hi].isspace():
        hi = max((m.start() for m in _SPACE.finditer(text, end, hi)), default=hi)
    return lo, hi


def short_quote(citation: Citation, limit: int = QUOTE_CHARS) -> str:
    """The citation's quote on one line; one over ``limit`` characters is cut at words around the answer, ``…``
    marking each cut."""
    quote = citation.quote
    if len(quote) > limit:
        start = min(max(citation.char_start - citation.quote_start, 0), len(quote))
        end = min(max(citation.char_end - citation.quote_start, start), len(quote))
        lo, hi = _snap_to_words(quote, *_window(len(quote), start, end, limit), start, end)
        quote = ("…" if lo > 0 else "") + quote[lo:hi].strip() + ("…" if hi < len(quote) else "")
    return one_line(quote)


def _annotation(start: int, end: int, citation: Citation, url: str) -> UrlCitationAnnotation:
    title = one_line(citation.title) or citation.doc_id
    return UrlCitationAnnotation(url_citation=UrlCitation(start_index=start, end_index=end, url=url, title=title))


def source_line(number: int, citation: Citation, url: str) -> str:
    """``- [n] title — «quote» (url)``: one entry of the "Nguồn" list."""
    return f"- [{number}] {one_line(citation.title) or citation.doc_id} — «{short_quote(citation)}» ({url})"


def compose_reply(result: ChatResponse, link: Callable[[Citation], str], with_sources: bool) -> Reply:
    """The content of ``result``: ``answer [1][2]`` and a "Nguồn" list with one line per citation (with_sources),
    else the bare answer with annotations over it; an abstention is its message alone."""
    if result.answer is None:
        return Reply(result.message or NOT_FOUND)
    answer, citations = result.answer, result.citations
    if not with_sources or not citations:
        return Reply(answer, annotations=[_annotation(0, len(answer), c, link(c)) for c in citations])
    body, annotations = answer + " ", []
    for number, citation in enumerate(citations, start=1):
        start, body = len(body), body + f"[{number}]"
        annotations.append(_annotation(start, len(body), citation, link(citation)))
    lines = [source_line(n, c, link(c)) for n, c in enumerate(citations, start=1)]
    return Reply(body, "\n\n" + "\n".join([SOURCES_HEADING, *lines]), annotations)


def word_pieces(text: str) -> list[str]:
    """``text`` in pieces of one word each, with the whitespace before it: ``"".join`` gives ``text`` back."""
    return _PIECE.findall(text)


def _usage(question: str, content: str) -> Usage:
    prompt, completion = len(question.split()), len(content.split())
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _chunk_event(chunk: ChatCompletionChunk) -> str:
    """A chunk as OpenAI sends it: ``finish_reason: null`` kept, empty delta fields and extras left out."""
    data = chunk.model_dump()
    for key in ("usage", "viqa"):
        if data[key] is None:
            del data[key]
    for choice in data["choices"]:
        choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
    return sse_event(data)


def completion_chunks(
    result: ChatResponse, reply: Reply, completion_id: str, created: int, include_usage: bool
) -> Iterator[str]:
    """The SSE stream: a role chunk, the answer word by word, the sources, a final chunk with ``finish_reason``,
    the annotations and ``viqa``, a usage chunk (if asked for), ``[DONE]``."""

    def chunk(choices: list[ChunkChoice], **fields: object) -> str:
        return _chunk_event(ChatCompletionChunk(id=completion_id, created=created, choices=choices, **fields))

    yield chunk([ChunkChoice(delta=ChunkDelta(role="assistant", content=""))])
    for piece in [*word_pieces(reply.body), *([reply.sources] if reply.sources else [])]:
        yield chunk([ChunkChoice(delta=ChunkDelta(content=piece))])
    final = ChunkDelta(annotations=reply.annotations or None)
    yield chunk([ChunkChoice(delta=final, finish_reason="stop")], viqa=result)
    if include_usage:
        yield chunk([], usage=_usage(result.resolved_question, reply.content))
    yield sse_event("[DONE]")


def model_not_found(model: str) -> JSONResponse:
    """OpenAI's 404 for a model it does not serve: ``code: model_not_found``, ``param: model``."""
    message = f"The model {model!r} does not exist; this server serves {', '.join(map(repr, MODEL_IDS))}."
    error = {"message": message, "type": "invalid_request_error", "param": "model", "code": "model_not_found"}
    return JSONResponse({"error": error}, status_code=404)


def _card(model_id: str) -> ModelCard:
    return ModelCard(id=model_id, description=MODEL_DESCRIPTION)


@router.get("/models", response_model=ModelList)
def models(_: ReadAuth) -> ModelList:
    """The one model, ``viqa`` (OpenAI clients and chat UIs list models before they chat)."""
    return ModelList(data=[_card(m) for m in MODEL_IDS])


@router.get("/models/{model_id}", response_model=ModelCard, responses=_NOT_FOUND_RESPONSES)
def model_card(model_id: str, _: ReadAuth) -> ModelCard | JSONResponse:
    """One model by id: ``viqa``; any other is a 404 ``model_not_found``."""
    return _card(model_id) if model_id in MODEL_IDS else model_not_found(model_id)


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**_NOT_FOUND_RESPONSES,
               200: {"content": {"text/event-stream": {"schema": _CHUNK_EVENT_SCHEMA, "example": _STREAM_EXAMPLE}}}},
)
def chat_completions(
    body: ChatCompletionRequest, request: Request, pipeline: PipelineDep, api: SettingsDep, _: ReadAuth
) -> ChatCompletion | StreamingResponse | JSONResponse:
    """An OpenAI chat completion whose content is viqa's answer to the last user message, with its sources."""
    if body.model not in MODEL_IDS:
        return model_not_found(body.model)
    messages = [(m.role, m.text) for m in body.messages]
    where = None if body.filter is None else body.filter.to_filter()
    result = answer_conversation(pipeline, messages, body.collection, body.top_k, api, where)
    collection, base_url = body.collection or api.default_collection, str(request.base_url)

    def link(c: Citation) -> str:
        return citation_url(base_url, collection, c.doc_id, c.char_start, c.char_end)

    reply = compose_reply(result, link, api.openai_sources)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(completion_chunks(result, reply, completion_id, created, include_usage),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    message = AssistantMessage(content=reply.content, annotations=reply.annotations)
    return ChatCompletion(id=completion_id, created=created, choices=[Choice(message=message)],
                          usage=_usage(result.resolved_question, reply.content), viqa=result)
