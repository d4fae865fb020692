"""/v1/chat/completions as raw HTTP: the SSE stream a client parses, abstentions, the OpenAI error shape, links to
the asked collection, the OpenAPI description, and the content's parts (markers, the "Nguồn" list, quotes)."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fakes import FakePipeline, make_document, running
from viqa.api.routes.openai import QUOTE_CHARS, compose_reply, short_quote, word_pieces
from viqa.api.schemas import ChatResponse
from viqa.links import parse_fragment
from viqa.types import NOT_FOUND, Citation

EXPORTS = {"role": "user", "content": "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"}
ELSEWHERE = {"role": "user", "content": "Thủ đô của Pháp là gì?"}


def sse_data(client: TestClient, body: dict) -> list[str]:
    """The ``data:`` payloads of the event stream, read line by line as a client does."""
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]


def content_pieces(events: list[str]) -> list[str]:
    """The non-empty content deltas of the chunks, in order."""
    deltas = [json.loads(e)["choices"] for e in events if e != "[DONE]"]
    return [d[0]["delta"]["content"] for d in deltas if d and d[0]["delta"].get("content")]


def test_a_raw_sse_reader_sees_the_answer_in_pieces_then_the_sources_then_done(client: TestClient) -> None:
    events = sse_data(client, {"model": "viqa", "messages": [EXPORTS]})
    assert events[-1] == "[DONE]"
    pieces = content_pieces(events)
    assert pieces[:-1] == ["45,6", " triệu", " USD", " [1]"]
    assert pieces[-1].startswith("\n\nNguồn:\n- [1] Báo cáo kinh tế") and pieces[-1].endswith("#81-95)")
    final = json.loads(events[-2])
    assert final["choices"][0]["finish_reason"] == "stop" and final["viqa"]["answer"] == "45,6 triệu USD"
    assert final["choices"][0]["delta"]["annotations"][0]["type"] == "url_citation"
    plain = client.post("/v1/chat/completions", json={"messages": [EXPORTS]}).json()
    assert "".join(pieces) == plain["choices"][0]["message"]["content"]


def test_the_usage_chunk_comes_last_before_done_only_when_asked(client: TestClient) -> None:
    asked = sse_data(client, {"messages": [EXPORTS], "stream_options": {"include_usage": True}})
    usage = json.loads(asked[-2])
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] > 0
    assert not any('"usage"' in e for e in sse_data(client, {"messages": [EXPORTS]}))


def test_an_abstention_is_the_not_found_message_without_sources(client: TestClient) -> None:
    body = client.post("/v1/chat/completions", json={"model": "viqa", "messages": [ELSEWHERE]}).json()
    message = body["choices"][0]["message"]
    assert message["content"] == NOT_FOUND and message["annotations"] == []
    assert body["viqa"]["citations"] == []
    events = sse_data(client, {"messages": [ELSEWHERE]})
    assert "".join(content_pieces(events)) == NOT_FOUND
    assert "annotations" not in json.loads(events[-2])["choices"][0]["delta"]


def test_an_unknown_model_is_an_openai_shaped_404(client: TestClient) -> None:
    for stream in (False, True):
        response = client.post("/v1/chat/completions",
                               json={"model": "gpt-4o", "messages": [EXPORTS], "stream": stream})
        assert response.status_code == 404
        error = response.json()["error"]
        assert {k: error[k] for k in ("type", "param", "code")} == {
            "type": "invalid_request_error", "param": "model", "code": "model_not_found"}
        assert "gpt-4o" in error["message"]
    assert client.get("/v1/models/gpt-4o").json()["error"]["code"] == "model_not_found"


def test_links_name_the_asked_collection_and_the_server_root(client: TestClient, fake_pipeline: FakePipeline) -> None:
    text = "Báo cáo quý\n\nKim ngạch xuất khẩu tháng 11 ước đạt 50,1 triệu USD."
    fake_pipeline.collections["quy-4"] = {"quy": make_document("quy", text)}
    body = client.post("/v1/chat/completions", json={"messages": [EXPORTS], "collection": "quy-4"}).json()
    [annotation] = body["choices"][0]["message"]["annotations"]
    url = annotation["url_citation"]["url"]
    assert url.startswith("http://testserver/?c=quy-4&d=quy#")
    start, end = parse_fragment(url.rsplit("#", 1)[1])
    assert text[start:end] == "50,1 triệu USD"


def test_sources_off_gives_the_bare_answer(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(openai_sources=False)) as client:
        body = client.post("/v1/chat/completions", json={"messages": [EXPORTS]}).json()
        assert body["choices"][0]["message"]["content"] == "45,6 triệu USD"
        assert "".join(content_pieces(sse_data(client, {"messages": [EXPORTS]}))) == "45,6 triệu USD"


def test_the_openapi_schema_documents_ignored_parameters_annotations_and_the_model_error(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    request = schemas["ChatCompletionRequest"]["description"]
    for name in ("temperature", "top_p", "max_tokens", "n", "stop", "presence_penalty", "frequency_penalty", "seed"):
        assert name in request, name
    assert "ignored" in request and "model_not_found" in request
    assert "annotations" in schemas["AssistantMessage"]["properties"]
    assert set(schemas["UrlCitation"]["required"]) == {"start_index", "end_index", "url", "title"}
    not_found = spec["paths"]["/v1/chat/completions"]["post"]["responses"]["404"]["content"]["application/json"]
    assert not_found["schema"]["$ref"].endswith("/OpenAIErrorOut")
    assert "ignored" in client.get("/v1/models").json()["data"][0]["description"]


def _citation(quote: str, answer: str, doc_id: str = "d", title: str = "Tiêu đề") -> Citation:
    start = quote.index(answer)
    return Citation(doc_id, title, f"{doc_id}:0", 100 + start, 100 + start + len(answer), quote, 100,
                    100 + len(quote))


def _result(answer: str | None, citations: list[Citation]) -> ChatResponse:
    return ChatResponse(answer=answer, confidence=0.9, message=None if answer else NOT_FOUND, citations=citations,
                        timings_ms={}, answer_span=None, resolved_question="q")


def test_two_citations_give_two_markers_and_two_source_lines() -> None:
    first, second = _citation("Đạt 45,6 triệu USD.", "45,6 triệu USD", "a", "Báo cáo A"), _citation(
        "Ước 45,6 triệu USD\ntrong tháng.", "45,6 triệu USD", "b", "Báo cáo\nB")
    reply = compose_reply(_result("45,6 triệu USD", [first, second]), lambda c: f"u/{c.doc_id}", True)
    assert reply.body == "45,6 triệu USD [1][2]"
    assert reply.sources == ("\n\nNguồn:\n- [1] Báo cáo A — «Đạt 45,6 triệu USD.» (u/a)"
                             "\n- [2] Báo cáo B — «Ước 45,6 triệu USD trong tháng.» (u/b)")
    spans = [(a.url_citation.start_index, a.url_citation.end_index, a.url_citation.url) for a in reply.annotations]
    assert [(reply.content[s:e], url) for s, e, url in spans] == [("[1]", "u/a"), ("[2]", "u/b")]


def test_a_long_quote_is_cut_at_words_around_the_answer() -> None:
    words = " ".join(f"từ{i}" for i in range(80))
    quote = f"{words} đạt 45,6 triệu USD so với {words}."
    short = short_quote(_citation(quote, "45,6 triệu USD"))
    assert short.startswith("…") and short.endswith("…") and "45,6 triệu USD" in short
    assert len(short) <= QUOTE_CHARS + 2
    assert all(w.startswith("từ") or w in {"đạt", "45,6", "triệu", "USD", "so", "với"} for w in short[1:-1].split())
    assert short_quote(_citation("Ngắn:\n45 con.", "45 con")) == "Ngắn: 45 con."


def test_word_pieces_join_back_to_the_text() -> None:
    for text in ("45,6 triệu USD [1]", "  a  b ", "một", ""):
        assert "".join(word_pieces(text)) == text
    assert word_pieces("45,6 triệu USD") == ["45,6", " triệu", " USD"]


def test_the_openai_route_takes_viqas_filter_as_an_extra(client, fake_pipeline) -> None:
    from viqa.types import Filter

    body = {"model": "viqa", "messages": [{"role": "user", "content": "Tổng đàn bò?"}],
            "filter": {"doc_ids": ["bao-cao-thang-11"]}}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    assert fake_pipeline.filters[-1] == Filter(doc_ids=frozenset({"bao-cao-thang-11"}))
