"""OpenAI-compatible ``POST /v1/chat/completions`` (plain and streamed), so OpenAI clients work unchanged.

The answer is the message content; viqa's whole answer (citations, confidence, the resolved question) is in
the extra top-level field ``viqa`` of the completion (and of the last streamed chunk that has choices).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from viqa.api.deps import PipelineDep, ReadAuth, SettingsDep
from viqa.api.errors import ERROR_RESPONSES
from viqa.api.routes.chat import answer_conversation
from viqa.api.schemas import (
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
    Usage,
)
from viqa.api.sse import SSE_HEADERS, sse_event
from viqa.types import NOT_FOUND

router = APIRouter(prefix="/v1", tags=["openai"], responses=ERROR_RESPONSES)

_CHUNK_EVENT_SCHEMA = {
    "type": "object",
    "description": "One Server-Sent Event: ``data`` is a chat.completion.chunk as JSON, or ``[DONE]``.",
    "properties": {"data": {"type": "string"}},
    "required": ["data"],
}
_STREAM_EXAMPLE = (
    'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"viqa",'
    '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
    'data: {"id":"chatcmpl-1","object":"chat.completion.chunk",...,"choices":[{"index":0,'
    '"delta":{"content":"45,6 triệu USD"},"finish_reason":null}]}\n\n'
    'data: {"id":"chatcmpl-1","object":"chat.completion.chunk",...,"choices":[{"index":0,"delta":{},'
    '"finish_reason":"stop"}],"viqa":{"citations":[...],"confidence":0.87,"resolved_question":"..."}}\n\n'
    "data: [DONE]\n\n"
)


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


def completion_chunks(result: ChatResponse, completion_id: str, created: int, include_usage: bool) -> Iterator[str]:
    """The SSE stream: a role chunk, the answer, a final chunk with ``finish_reason`` and ``viqa``, ``[DONE]``."""
    content = result.answer if result.answer is not None else (result.message or NOT_FOUND)

    def chunk(choices: list[ChunkChoice], **fields: object) -> str:
        return _chunk_event(ChatCompletionChunk(id=completion_id, created=created, choices=choices, **fields))

    yield chunk([ChunkChoice(delta=ChunkDelta(role="assistant", content=""))])
    yield chunk([ChunkChoice(delta=ChunkDelta(content=content))])
    yield chunk([ChunkChoice(delta=ChunkDelta(), finish_reason="stop")], viqa=result)
    if include_usage:
        yield chunk([], usage=_usage(result.resolved_question, content))
    yield sse_event("[DONE]")


@router.get("/models", response_model=ModelList)
def models(_: ReadAuth) -> ModelList:
    """The one model, ``viqa`` (OpenAI clients and chat UIs list models before they chat)."""
    return ModelList(data=[ModelCard(id="viqa")])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {"schema": _CHUNK_EVENT_SCHEMA, "example": _STREAM_EXAMPLE}}}},
)
def chat_completions(
    body: ChatCompletionRequest, pipeline: PipelineDep, api: SettingsDep, _: ReadAuth
) -> ChatCompletion | StreamingResponse:
    """An OpenAI chat completion whose content is viqa's answer to the last user message."""
    messages = [(m.role, m.text) for m in body.messages]
    result = answer_conversation(pipeline, messages, body.collection, body.top_k, api)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(completion_chunks(result, completion_id, created, include_usage),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    content = result.answer if result.answer is not None else (result.message or NOT_FOUND)
    return ChatCompletion(
        id=completion_id, created=created, choices=[Choice(message=AssistantMessage(content=content))],
        usage=_usage(result.resolved_question, content), viqa=result,
    )
