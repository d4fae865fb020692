"""POST /v1/ask and /v1/search answer with exactly the wire forms AskOut / SearchOut of the pipeline's answer."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fakes import REPORT_TEXT, FakePipeline
from viqa.api.schemas import AskOut, SearchOut
from viqa.types import NOT_FOUND


def test_ask_returns_the_same_json_as_viqa_ask_json(client: TestClient, fake_pipeline: FakePipeline) -> None:
    question = "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"
    response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 200
    expected = AskOut.from_answer(fake_pipeline.answer(question))
    assert AskOut.model_validate(response.json()) == expected
    assert set(response.json()) == set(AskOut.model_fields)


def test_ask_answers_each_question_from_its_own_passage(client: TestClient) -> None:
    answers = {
        "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?": "45,6 triệu USD",
        "Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?": "38,2 triệu USD",
        "Tổng đàn bò của tỉnh có bao nhiêu con?": "45 nghìn con",
    }
    for question, answer in answers.items():
        assert client.post("/v1/ask", json={"question": question}).json()["answer"] == answer


def test_citation_offsets_slice_the_source_text(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "Tổng đàn trâu của tỉnh có bao nhiêu con?"}).json()
    citation = body["citations"][0]
    assert REPORT_TEXT[citation["char_start"]:citation["char_end"]] == body["answer"]
    assert REPORT_TEXT[citation["quote_start"]:citation["quote_end"]] == citation["quote"]


def test_ask_passes_collection_and_top_k_through(client: TestClient, fake_pipeline: FakePipeline) -> None:
    client.post("/v1/ask", json={"question": "Tổng đàn bò?", "collection": "default", "top_k": 3})
    assert fake_pipeline.asked[-1] == ("Tổng đàn bò?", "default", 3)


def test_ask_abstains_with_a_message_when_the_documents_do_not_say(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "Thủ đô của Pháp là gì?"}).json()
    assert body["answer"] is None and body["message"] == NOT_FOUND and body["citations"] == []


def test_search_returns_the_same_json_as_viqa_search_json(client: TestClient, fake_pipeline: FakePipeline) -> None:
    response = client.post("/v1/search", json={"query": "đàn trâu", "k": 2})
    assert response.status_code == 200
    expected = SearchOut.from_search(fake_pipeline.search("đàn trâu", None, 2))
    assert SearchOut.model_validate(response.json()) == expected
    passages = response.json()["passages"]
    assert 1 <= len(passages) <= 2 and "trâu" in passages[0]["text"]
    assert all(REPORT_TEXT[p["char_start"]:p["char_end"]] == p["text"] for p in passages)


def test_unknown_collection_is_a_404_in_the_error_shape(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "Tổng đàn bò?", "collection": "khong-co"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_question_without_words_is_a_400(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": " ?!"})
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid_input", "message": "the question has no words in it"}}


def test_a_missing_field_is_a_422_in_the_error_shape(client: TestClient) -> None:
    response = client.post("/v1/search", json={"k": 3})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert "query" in response.json()["error"]["message"]


def test_malformed_json_is_a_422_not_a_500(client: TestClient) -> None:
    response = client.post("/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert set(response.json()["error"]) == {"code", "message"}


def test_top_k_out_of_range_is_a_422(client: TestClient) -> None:
    assert client.post("/v1/ask", json={"question": "Tổng đàn bò?", "top_k": 0}).status_code == 422
    assert client.post("/v1/search", json={"query": "bò", "k": 10_000}).status_code == 422


def test_counts_and_flags_of_the_wrong_json_type_are_a_422(client: TestClient) -> None:
    assert client.post("/v1/search", json={"query": "bò", "k": True}).status_code == 422
    assert client.post("/v1/ask", json={"question": "Tổng đàn bò?", "top_k": "3"}).status_code == 422
    messages = [{"role": "user", "content": "Tổng đàn bò?"}]
    assert client.post("/v1/chat", json={"messages": messages, "stream": 1}).status_code == 422
    assert client.post("/v1/chat/completions", json={"messages": messages, "stream": "yes"}).status_code == 422


def test_a_filter_reaches_the_pipeline_as_the_domain_filter(client: TestClient, fake_pipeline: FakePipeline) -> None:
    from viqa.types import Filter

    body = {"question": "Tổng đàn bò?", "filter": {"doc_ids": ["bao-cao-thang-11"], "title": "Tháng 11",
                                                    "tags": ["kinh-te"], "date_from": "2023-01-01"}}
    assert client.post("/v1/ask", json=body).status_code == 200
    assert fake_pipeline.filters[-1] == Filter(frozenset({"bao-cao-thang-11"}), "Tháng 11", frozenset({"kinh-te"}),
                                               "2023-01-01", None)
    client.post("/v1/search", json={"query": "bò", "filter": {"doc_ids": ["khac"]}})
    assert fake_pipeline.filters[-1] == Filter(doc_ids=frozenset({"khac"}))


def test_a_filter_that_admits_no_document_finds_nothing(client: TestClient) -> None:
    assert client.post("/v1/search", json={"query": "bò", "filter": {"doc_ids": ["khac"]}}).json()["passages"] == []
    body = client.post("/v1/ask", json={"question": "Tổng đàn bò của tỉnh có bao nhiêu con?",
                                        "filter": {"tags": ["khong-co"]}}).json()
    assert body["answer"] is None


def test_a_filter_with_an_unknown_key_or_a_bad_date_is_a_422(client: TestClient) -> None:
    for bad in ({"doc": ["x"]}, {"date_from": "tháng 11"}, {"doc_ids": []}, {"tags": [""]}):
        response = client.post("/v1/search", json={"query": "bò", "filter": bad})
        assert response.status_code == 422, bad


def test_sources_that_disagree_come_back_as_alternatives(make_app, fake_pipeline: FakePipeline) -> None:
    from tests.fakes import make_document, running

    text = "Báo cáo\n\nTổng kim ngạch tháng 11 ước đạt {} triệu USD.\n"
    fake_pipeline.collections["default"] = {f"b{v}": make_document(f"b{v}", text.format(v)) for v in ("441", "445")}
    with running(make_app()) as client:
        body = client.post("/v1/ask", json={"question": "Tổng kim ngạch tháng 11 ước đạt bao nhiêu?"}).json()
    (other,) = body["alternatives"]
    assert {body["answer"], other["text"]} == {"441 triệu USD", "445 triệu USD"}
    assert other["citation"]["doc_id"] != body["citations"][0]["doc_id"]
