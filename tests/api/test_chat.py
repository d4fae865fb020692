"""POST /v1/chat: follow-ups are resolved against earlier user turns; stream=true sends citations, answer, done."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.fakes import REPORT_TEXT, FakePipeline

EXPORTS = "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"


def _conversation(*turns: str) -> list[dict[str, str]]:
    messages = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": turn})
        if i < len(turns) - 1:
            messages.append({"role": "assistant", "content": "…"})
    return messages


def _events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_followup_about_imports_is_answered_in_the_light_of_the_export_question(
    client: TestClient, fake_pipeline: FakePipeline
) -> None:
    body = client.post("/v1/chat", json={"messages": _conversation(EXPORTS, "Còn nhập khẩu thì sao?")}).json()
    assert body["resolved_question"] == "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?"
    assert fake_pipeline.asked[-1][0] == "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?"
    assert body["answer"] == "38,2 triệu USD"


def test_followup_about_another_month_gets_that_months_figure(client: TestClient) -> None:
    body = client.post("/v1/chat", json={"messages": _conversation(EXPORTS, "Còn tháng 10?")}).json()
    assert body["resolved_question"] == "Kim ngạch xuất khẩu tháng 10 đạt bao nhiêu?"
    assert body["answer"] == "41,3 triệu USD"


def test_chat_response_carries_the_answer_span_and_citations(client: TestClient) -> None:
    body = client.post("/v1/chat", json={"messages": _conversation(EXPORTS)}).json()
    assert set(body) == {"answer", "answer_span", "confidence", "message", "citations", "timings_ms",
                         "resolved_question", "alternatives"}
    span = body["answer_span"]
    assert REPORT_TEXT[span["char_start"]:span["char_end"]] == body["answer"] == "45,6 triệu USD"
    assert set(body["citations"][0]) == {"doc_id", "title", "passage_id", "char_start", "char_end", "quote",
                                         "quote_start", "quote_end", "page"}
    assert body["resolved_question"] == EXPORTS


def test_an_abstention_has_no_answer_span(client: TestClient) -> None:
    body = client.post("/v1/chat", json={"messages": _conversation("Thủ đô của Pháp là gì?")}).json()
    assert body["answer"] is None and body["answer_span"] is None and body["message"]


def test_assistant_and_system_turns_do_not_count_as_questions(client: TestClient, fake_pipeline: FakePipeline) -> None:
    messages = [{"role": "system", "content": "Tổng đàn trâu của tỉnh có bao nhiêu con?"},
                {"role": "user", "content": EXPORTS},
                {"role": "assistant", "content": "Tổng đàn trâu của tỉnh có bao nhiêu con?"},
                {"role": "user", "content": "Còn nhập khẩu?"}]
    client.post("/v1/chat", json={"messages": messages})
    assert fake_pipeline.asked[-1][0] == "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?"


def test_the_last_message_must_be_the_users(client: TestClient) -> None:
    messages = [{"role": "user", "content": EXPORTS}, {"role": "assistant", "content": "45,6 triệu USD"}]
    response = client.post("/v1/chat", json={"messages": messages})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_input"


def test_an_empty_conversation_is_a_422(client: TestClient) -> None:
    assert client.post("/v1/chat", json={"messages": []}).status_code == 422


def test_streamed_chat_sends_citations_before_the_answer_then_done(client: TestClient) -> None:
    response = client.post("/v1/chat", json={"messages": _conversation(EXPORTS, "Còn nhập khẩu?"), "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    assert [name for name, _ in events] == ["citations", "answer", "done"]
    citations, answer, done = (data for _, data in events)
    assert citations["citations"][0]["quote"].startswith("Kim ngạch nhập khẩu")
    assert answer["answer"] == "38,2 triệu USD"
    assert answer["resolved_question"] == "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?"
    assert "total" in done["timings_ms"]


def test_streamed_chat_reports_bad_input_as_a_plain_error(client: TestClient) -> None:
    response = client.post("/v1/chat", json={"messages": _conversation("?"), "stream": True})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
