"""Multi-turn questions: follow-ups such as "Còn nhập khẩu thì sao?" are read in the light of earlier turns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from viqa.api.deps import PipelineDep, ReadAuth, SettingsDep, checked_collection, checked_count, checked_question
from viqa.api.errors import ERROR_RESPONSES
from viqa.api.schemas import ChatRequest, ChatResponse
from viqa.api.serial import SerialPipeline
from viqa.api.sse import SSE_HEADERS, sse_event
from viqa.errors import InputError
from viqa.qa.followup import resolve_followup
from viqa.settings import Settings
from viqa.types import Filter

router = APIRouter(prefix="/v1", tags=["chat"], responses=ERROR_RESPONSES)

SSE_EVENT_SCHEMA = {
    "type": "object",
    "description": "One Server-Sent Event; ``data`` is JSON.",
    "properties": {"event": {"type": "string", "enum": ["citations", "answer", "done"]}, "data": {"type": "string"}},
    "required": ["event", "data"],
}
_SSE_EXAMPLE = (
    'event: citations\ndata: {"citations":[...],"answer_span":{...}}\n\n'
    'event: answer\ndata: {"answer":"38,2 triệu USD","confidence":0.81,"message":null,"resolved_question":"..."}\n\n'
    'event: done\ndata: {"timings_ms":{"retrieve":40.1,"read":175.0,"total":215.3}}\n\n'
)


def answer_conversation(
    pipeline: SerialPipeline, messages: list[tuple[str, str]], collection: str | None, top_k: int | None,
    api: Settings, where: Filter | None = None,
) -> ChatResponse:
    """Answer the last (role, text) message, which must be the user's, resolved against the user's earlier ones,
    from the documents ``where`` admits."""
    if messages[-1][0] != "user":
        raise InputError("the last message must be the user's question")
    questions = [text for role, text in messages if role == "user"]
    question = checked_question(questions[-1], api.max_query_chars)
    resolved = checked_question(resolve_followup(questions[:-1], question), api.max_query_chars)
    top_k = checked_count(top_k, api.max_top_k, "top_k")
    answer = pipeline.answer(resolved, checked_collection(collection), top_k, where)
    return ChatResponse.from_answer_to(answer, resolved)


def chat_events(result: ChatResponse) -> Iterator[str]:
    """The SSE stream of a chat answer: ``citations``, then ``answer``, then ``done``."""
    yield sse_event(
        {"citations": [asdict(c) for c in result.citations],
         "answer_span": None if result.answer_span is None else result.answer_span.model_dump()},
        "citations",
    )
    yield sse_event(
        {"answer": result.answer, "confidence": result.confidence, "message": result.message,
         "resolved_question": result.resolved_question, "alternatives": [asdict(a) for a in result.alternatives]},
        "answer",
    )
    yield sse_event({"timings_ms": result.timings_ms}, "done")


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA, "example": _SSE_EXAMPLE}}}},
)
def chat(
    body: ChatRequest, pipeline: PipelineDep, api: SettingsDep, _: ReadAuth
) -> ChatResponse | StreamingResponse:
    """Answer the last user message; with ``stream: true`` the answer comes as Server-Sent Events."""
    messages = [(m.role, m.content) for m in body.messages]
    where = None if body.filter is None else body.filter.to_filter()
    result = answer_conversation(pipeline, messages, body.collection, body.top_k, api, where)
    if not body.stream:
        return result
    return StreamingResponse(chat_events(result), media_type="text/event-stream", headers=SSE_HEADERS)
