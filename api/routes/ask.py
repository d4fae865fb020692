"""One-shot questions and passage search: the same JSON as ``viqa ask --json`` and ``viqa search --json``."""

from __future__ import annotations

from fastapi import APIRouter
from viqa.api.deps import PipelineDep, ReadAuth, SettingsDep, checked_collection, checked_question
from viqa.api.errors import ERROR_RESPONSES
from viqa.api.schemas import ASK_EXAMPLE, SEARCH_EXAMPLE, AskRequest, SearchRequest

from viqa.schemas import AskOut, SearchOut

router = APIRouter(prefix="/v1", tags=["questions"], responses=ERROR_RESPONSES)


def _example(example: dict) -> dict:
    return {200: {"content": {"application/json": {"example": example}}}}


@router.post("/ask", response_model=AskOut, responses=_example(ASK_EXAMPLE))
def ask(body: AskRequest, pipeline: PipelineDep, api: SettingsDep, _: ReadAuth) -> AskOut:
    """The exact answer span with its citations, or ``answer: null`` with a message when the documents do not say."""
    question = checked_question(body.question, api.max_query_chars)
    return pipeline.ask(question, checked_collection(body.collection), body.top_k)


@router.post("/search", response_model=SearchOut, responses=_example(SEARCH_EXAMPLE))
def search(body: SearchRequest, pipeline: PipelineDep, api: SettingsDep, _: ReadAuth) -> SearchOut:
    """The best passages for a query, with scores and offsets into the original documents."""
    query = checked_question(body.query, api.max_query_chars)
    return pipeline.search(query, checked_collection(body.collection), body.k)
