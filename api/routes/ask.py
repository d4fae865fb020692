"""One-shot questions and passage search: the same JSON as ``viqa ask --json`` and ``viqa search --json``."""

from __future__ import annotations

from fastapi import APIRouter

from viqa.api.deps import PipelineDep, ReadAuth, SettingsDep, checked_collection, checked_count, checked_question
from viqa.api.errors import ERROR_RESPONSES
from viqa.api.schemas import ASK_EXAMPLE, SEARCH_EXAMPLE, AskOut, AskRequest, SearchOut, SearchRequest

router = APIRouter(prefix="/v1", tags=["questions"], responses=ERROR_RESPONSES)


def _example(example: dict) -> dict:
    return {200: {"content": {"application/json": {"example": example}}}}


@router.post("/ask", response_model=AskOut, responses=_example(ASK_EXAMPLE))
def ask(body: AskRequest, pipeline: PipelineDep, api: SettingsDep, _: ReadAuth) -> AskOut:
    """The exact answer span with its citations, or ``answer: null`` with a message when the documents do not say."""
    question = checked_question(body.question, api.max_query_chars)
    top_k = checked_count(body.top_k, api.max_top_k, "top_k")
    where = None if body.filter is None else body.filter.to_filter()
    return AskOut.from_answer(pipeline.answer(question, checked_collection(body.collection), top_k, where))


@router.post("/search", response_model=SearchOut, responses=_example(SEARCH_EXAMPLE))
def search(body: SearchRequest, pipeline: PipelineDep, api: SettingsDep, _: ReadAuth) -> SearchOut:
    """The best passages for a query, with scores and offsets into the original documents; ``filter`` keeps to
    some documents."""
    query = checked_question(body.query, api.max_query_chars)
    k = checked_count(body.k, api.max_top_k, "k")
    where = None if body.filter is None else body.filter.to_filter()
    return SearchOut.from_search(pipeline.search(query, checked_collection(body.collection), k, where))
