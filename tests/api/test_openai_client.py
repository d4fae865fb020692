"""The official openai client works unchanged against /v1/chat/completions on a real uvicorn server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import openai
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fakes import REPORT_TEXT

EXPORTS = "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_url(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread, for the duration of a test."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        assert app.state.service.ready.wait(timeout=5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def oai(server_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server_url, api_key="any-key", max_retries=0, timeout=10)


def test_openai_client_gets_the_answer_and_citations(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": EXPORTS}])
    assert completion.object == "chat.completion" and completion.model == "viqa"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "45,6 triệu USD"
    assert completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra["viqa"]
    citation = extra["citations"][0]
    assert REPORT_TEXT[citation["char_start"]:citation["char_end"]] == "45,6 triệu USD"
    assert extra["resolved_question"] == EXPORTS and 0 < extra["confidence"] <= 1


def test_openai_client_follow_up_uses_the_earlier_turns(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="viqa",
        messages=[{"role": "system", "content": "Trả lời ngắn gọn."},
                  {"role": "user", "content": EXPORTS},
                  {"role": "assistant", "content": "45,6 triệu USD"},
                  {"role": "user", "content": [{"type": "text", "text": "Còn nhập khẩu thì sao?"}]}],
        temperature=0.2,
    )
    assert completion.choices[0].message.content == "38,2 triệu USD"
    assert completion.model_extra["viqa"]["resolved_question"] == "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?"


def test_openai_client_streams_chunks_with_citations_on_the_final_one(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="viqa", messages=[{"role": "user", "content": EXPORTS}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "45,6 triệu USD"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finals) == 1
    assert finals[0].model_extra["viqa"]["citations"][0]["quote"].startswith("Kim ngạch xuất khẩu tháng 11")
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_openai_client_sees_bad_input_as_a_400_error(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="viqa", messages=[{"role": "user", "content": "?"}])
    assert caught.value.status_code == 400
    assert caught.value.body["code"] == "invalid_input"


def test_openai_client_can_pick_the_collection_through_extra_body(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="viqa", messages=[{"role": "user", "content": EXPORTS}],
                                    extra_body={"collection": "khong-co"})


def test_an_abstention_is_said_in_the_content(client: TestClient) -> None:
    question = {"role": "user", "content": "Thủ đô của Pháp là gì?"}
    body = client.post("/v1/chat/completions", json={"model": "viqa", "messages": [question]}).json()
    assert body["choices"][0]["message"]["content"] == "Không tìm thấy câu trả lời trong tài liệu."
    assert body["viqa"]["citations"] == []


def test_the_stream_ends_with_done_after_the_final_chunk(client: TestClient) -> None:
    response = client.post("/v1/chat/completions",
                           json={"messages": [{"role": "user", "content": EXPORTS}], "stream": True})
    events = [block.removeprefix("data: ") for block in response.text.strip().split("\n\n")]
    assert events[-1] == "[DONE]" and '"finish_reason":"stop"' in events[-2] and '"viqa"' in events[-2]


def test_openai_client_lists_the_viqa_model(oai: openai.OpenAI) -> None:
    assert [m.id for m in oai.models.list()] == ["viqa"]
