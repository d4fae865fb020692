"""The official openai client works unchanged against /v1/chat/completions on a real uvicorn server: the content
shows the answer with its numbered sources, annotations link them, streams come in pieces, unknown models are 404."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import openai
import pytest
import uvicorn
from fastapi import FastAPI

from tests.fakes import REPORT_TEXT
from viqa.links import parse_fragment

EXPORTS = "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"
TITLE = REPORT_TEXT.splitlines()[0]
QUOTE = "Kim ngạch xuất khẩu tháng 11 ước đạt 45,6 triệu USD."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, in a thread; yields the API's base URL (``…/v1``)."""
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


def _client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="any-key", max_retries=0, timeout=10)


@pytest.fixture
def server_url(app: FastAPI) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def oai(server_url: str) -> openai.OpenAI:
    return _client(server_url)


@pytest.fixture
def bare_oai(make_app: Callable[..., FastAPI]) -> Iterator[openai.OpenAI]:
    """A client of a server run with ``VIQA_OPENAI_SOURCES=false``."""
    with serving(make_app(openai_sources=False)) as url:
        yield _client(url)


def ask(oai: openai.OpenAI, question: str = EXPORTS, **options: object) -> object:
    return oai.chat.completions.create(model="viqa", messages=[{"role": "user", "content": question}], **options)


def test_the_content_shows_the_answer_with_a_numbered_source(oai: openai.OpenAI) -> None:
    completion = ask(oai)
    assert completion.object == "chat.completion" and completion.model == "viqa"
    message = completion.choices[0].message
    assert message.role == "assistant" and completion.choices[0].finish_reason == "stop"
    answer, sources = message.content.split("\n\n", 1)
    assert answer == "45,6 triệu USD [1]"
    assert sources.startswith(f"Nguồn:\n- [1] {TITLE} — «{QUOTE}» (http://127.0.0.1:")


def test_the_annotation_slices_the_marker_and_links_to_the_cited_span(oai: openai.OpenAI, server_url: str) -> None:
    message = ask(oai).choices[0].message
    [annotation] = message.annotations
    assert annotation.type == "url_citation" and annotation.url_citation.title == TITLE
    cited = annotation.url_citation
    assert message.content[cited.start_index:cited.end_index] == "[1]"
    url = urlsplit(cited.url)
    assert cited.url.startswith(server_url.removesuffix("/v1") + "/?")
    assert parse_qs(url.query) == {"c": ["default"], "d": ["bao-cao-thang-11"]}
    start, end = parse_fragment(url.fragment)
    assert REPORT_TEXT[start:end] == "45,6 triệu USD"
    assert f"({cited.url})" in message.content


def test_the_viqa_field_still_carries_the_whole_answer(oai: openai.OpenAI) -> None:
    extra = ask(oai).model_extra["viqa"]
    citation = extra["citations"][0]
    assert extra["answer"] == "45,6 triệu USD"
    assert REPORT_TEXT[citation["char_start"]:citation["char_end"]] == "45,6 triệu USD"
    assert extra["resolved_question"] == EXPORTS and 0 < extra["confidence"] <= 1


def test_sampling_parameters_are_accepted_and_ignored_and_follow_ups_use_earlier_turns(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="viqa",
        messages=[{"role": "system", "content": "Trả lời ngắn gọn."},
                  {"role": "user", "content": EXPORTS},
                  {"role": "assistant", "content": "45,6 triệu USD [1]"},
                  {"role": "user", "content": [{"type": "text", "text": "Còn nhập khẩu thì sao?"}]}],
        temperature=0.2, top_p=0.9, max_tokens=5, n=1, stop=["\n"], presence_penalty=1.0, frequency_penalty=1.0,
        seed=7,
    )
    assert completion.choices[0].message.content.startswith("38,2 triệu USD [1]\n\nNguồn:\n- [1] ")
    assert completion.model_extra["viqa"]["resolved_question"] == "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?"


def test_the_stream_comes_in_several_content_chunks_that_add_up_to_the_plain_content(oai: openai.OpenAI) -> None:
    plain = ask(oai).choices[0].message.content
    chunks = list(ask(oai, stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 4
    assert "".join(pieces) == plain
    assert pieces[-1].startswith("\n\nNguồn:\n- [1] ") and "Nguồn" not in "".join(pieces[:-1])


def test_the_final_streamed_chunk_has_the_annotations_and_viqa_then_usage_when_asked(oai: openai.OpenAI) -> None:
    chunks = list(ask(oai, stream=True, stream_options={"include_usage": True}))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    [final] = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    [annotation] = final.choices[0].delta.model_extra["annotations"]
    cited = annotation["url_citation"]
    assert content[cited["start_index"]:cited["end_index"]] == "[1]"
    assert final.model_extra["viqa"]["citations"][0]["quote"] == QUOTE
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_without_include_usage_no_chunk_has_usage(oai: openai.OpenAI) -> None:
    assert all(c.usage is None for c in ask(oai, stream=True))


def test_the_stream_helper_assembles_the_message_with_its_annotations(oai: openai.OpenAI) -> None:
    plain = ask(oai).choices[0].message
    with oai.chat.completions.stream(model="viqa", messages=[{"role": "user", "content": EXPORTS}]) as stream:
        message = stream.get_final_completion().choices[0].message
    assert message.content == plain.content
    assert message.annotations == plain.annotations


def test_with_sources_off_the_content_is_the_bare_answer_and_the_annotation_covers_it(bare_oai: openai.OpenAI) -> None:
    message = ask(bare_oai).choices[0].message
    assert message.content == "45,6 triệu USD"
    [annotation] = message.annotations
    assert message.content[annotation.url_citation.start_index:annotation.url_citation.end_index] == "45,6 triệu USD"
    streamed = "".join(c.choices[0].delta.content or "" for c in ask(bare_oai, stream=True) if c.choices)
    assert streamed == "45,6 triệu USD"


def test_an_unknown_model_is_a_not_found_error_with_code_model_not_found(oai: openai.OpenAI) -> None:
    for stream in (False, True):
        with pytest.raises(openai.NotFoundError) as caught:
            oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": EXPORTS}],
                                        stream=stream)
        assert caught.value.status_code == 404
        assert caught.value.code == "model_not_found" and caught.value.param == "model"
        assert caught.value.type == "invalid_request_error" and "gpt-4o" in caught.value.message


def test_the_listed_model_is_the_one_accepted(oai: openai.OpenAI) -> None:
    listed = [m.id for m in oai.models.list()]
    assert listed == ["viqa"]
    assert oai.models.retrieve("viqa").id == "viqa"
    assert ask(oai).model == "viqa"
    with pytest.raises(openai.NotFoundError) as caught:
        oai.models.retrieve("gpt-4o")
    assert caught.value.code == "model_not_found"


def test_openai_client_sees_bad_input_as_a_400_error(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(oai, "?")
    assert caught.value.status_code == 400
    assert caught.value.body["code"] == "invalid_input"


def test_openai_client_can_pick_the_collection_through_extra_body(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        ask(oai, extra_body={"collection": "khong-co"})
    assert caught.value.body["code"] == "not_found"
