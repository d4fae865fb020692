"""Errors that neither mislead nor leak: 422s name the bad field, OPTIONS and 405s say which methods a path
allows, and the OpenAPI schema says what the server checks (the key, the settings' limits, names and dates)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fakes import running
from viqa.errors import InputError, QuestionTooLongError, ReaderError, StoreUnavailableError
from viqa.index.store import StorageError, validate_name

UPLOAD = "/v1/collections/default/documents"
KEYED = [{"HTTPBearer": []}, {"APIKeyHeader": []}]


# --- 422s name the bad field ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [({"text": "Giá xăng.", "title": "t" * 201}, "title"),
                                              ({"text": "Giá xăng.", "date": 0}, "date"),
                                              ({"text": "Giá xăng.", "tags": "kinh-te"}, "tags"),
                                              ({"title": "Giá xăng"}, "text")])
def test_a_json_upload_with_one_bad_field_is_a_422_naming_that_field(
    client: TestClient, body: dict, field: str
) -> None:
    response = client.post(UPLOAD, json=body)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert message.startswith(f"{field}: ") and "not valid JSON" not in message


def test_a_body_that_is_not_json_is_a_422_saying_so(client: TestClient) -> None:
    response = client.post(UPLOAD, content=b'{"text": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.json()["error"]["message"]


@pytest.mark.parametrize("where", ["date_to", "date_from"])
def test_a_filter_date_must_be_iso_text_not_a_number(client: TestClient, where: str) -> None:
    # pydantic alone reads 0 as 1970-01-01; the schema says a date is text, and so does the server
    response = client.post("/v1/ask", json={"question": "Tổng đàn bò?", "filter": {where: 0}})
    assert response.status_code == 422 and response.json()["error"]["message"].startswith(f"filter.{where}: ")
    assert client.post("/v1/ask", json={"question": "Tổng đàn bò?", "filter": {where: "2023-11-30"}}).is_success


def test_a_count_is_a_whole_number_however_written_but_never_a_flag_or_text(client: TestClient) -> None:
    # JSON Schema's integer is a whole number: 3.0 is one; true and "3" are not
    assert client.post("/v1/search", json={"query": "bò", "k": 3.0}).status_code == 200
    for k in (True, "3", 2.5):
        response = client.post("/v1/search", json={"query": "bò", "k": k})
        assert response.status_code == 422 and response.json()["error"]["message"].startswith("k: ")


# --- OPTIONS and 405s carry Allow -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "allow"), [(UPLOAD, "GET, OPTIONS, POST"),
                                              (f"{UPLOAD}/bao-cao-thang-11", "DELETE, GET, OPTIONS"),
                                              ("/v1/ask", "OPTIONS, POST"),
                                              ("/static/app.js", "GET, HEAD, OPTIONS")])
def test_options_answers_204_with_allow_listing_every_method_of_the_path(
    client: TestClient, path: str, allow: str
) -> None:
    response = client.options(path)
    assert response.status_code == 204 and response.headers["Allow"] == allow
    wrong = client.put(path)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == allow
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_options_on_a_path_nothing_serves_is_404(client: TestClient) -> None:
    response = client.options("/v1/nothing")
    assert response.status_code == 404 and "allow" not in response.headers


# --- the OpenAPI schema says what the server checks -----------------------------------------------------------


def _secured(spec: dict) -> dict[str, list]:
    return {f"{method.upper()} {path}": op["security"] for path, ops in spec["paths"].items()
            for method, op in ops.items() if "security" in op}


def test_the_openapi_schema_declares_the_key_on_the_operations_that_take_it(
    make_app: Callable[..., FastAPI]
) -> None:
    with running(make_app(api_key="k")) as client:
        spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {"type": "http", "scheme": "bearer", "description": schemes["HTTPBearer"][
        "description"]}
    assert schemes["APIKeyHeader"]["in"] == "header" and schemes["APIKeyHeader"]["name"] == "X-API-Key"
    assert _secured(spec) == {f"POST {UPLOAD.replace('default', '{name}')}": KEYED,
                              "DELETE /v1/collections/{name}/documents/{doc_id}": KEYED}


def test_with_private_reads_the_schema_declares_the_key_on_reads_too(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(api_key="k", public_reads=False)) as client:
        secured = _secured(client.get("/openapi.json").json())
    assert secured["POST /v1/ask"] == secured["GET /v1/collections"] == KEYED
    assert "GET /healthz" not in secured and "GET /readyz" not in secured


def test_without_a_key_no_operation_claims_to_need_one(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    assert _secured(spec) == {}
    assert "X-Requested-With" in spec["info"]["description"]


def test_the_published_limits_are_the_settings(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(max_top_k=7, max_query_chars=99)) as client:
        spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["AskRequest"]["properties"]["question"]["maxLength"] == 99
    assert schemas["SearchRequest"]["properties"]["query"]["maxLength"] == 99
    assert {"type": "integer", "minimum": 1, "maximum": 7} in schemas["SearchRequest"]["properties"]["k"]["anyOf"]
    assert "x-viqa-setting" not in str(spec)
    response = client.post("/v1/search", json={"query": "bò", "k": 8})
    assert response.status_code == 422 and "limit of 7" in response.json()["error"]["message"]


def test_the_published_question_pattern_is_the_servers_rule(client: TestClient) -> None:
    pattern = re.compile(client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"][
        "question"]["pattern"])
    for question, answered in [("bò?", True), ("Đ", True), ("5", True), ("???", False), ("   ", False), ("_", False)]:
        assert bool(pattern.search(question)) is answered
        status = client.post("/v1/ask", json={"question": question}).status_code
        assert (status == 200) is answered, question


def test_the_published_name_pattern_is_the_stores_rule(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    name = spec["components"]["schemas"]["AskRequest"]["properties"]["collection"]["anyOf"][0]
    pattern, longest = re.compile(name["pattern"]), name["maxLength"]
    rng = random.Random(7)
    for _ in range(20_000):
        candidate = "".join(rng.choice("aZ0_.-") for _ in range(rng.randint(1, 70)))
        try:
            stored = validate_name(candidate) == candidate
        except InputError:
            stored = False
        assert (bool(pattern.match(candidate)) and len(candidate) <= longest) is stored, candidate
    assert client.get(f"{UPLOAD.replace('default', 'a..b')}").status_code == 422


@pytest.mark.parametrize(("error", "status", "code"), [
    (QuestionTooLongError("the question is over 128 tokens, the most the reader reads"), 422, "question_too_long"),
    (ReaderError("the reader failed on this question (PanicException: /opt/x/tokenizer.rs:12)"), 422, "reader_error"),
    (StorageError("/root/.viqa/collections/x: the disk is full", "the disk is full", Path("/root"), 10), 507,
     "insufficient_storage"),
    (StoreUnavailableError("Milvus at http://milvus:19530 failed: server unavailable"), 503, "store_unavailable"),
])
def test_errors_of_reading_and_storing_have_their_status_and_no_path(
    client, fake_pipeline, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int, code: str
) -> None:
    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(fake_pipeline, "answer", refuse)
    response = client.post("/v1/ask", json={"question": "Tổng đàn bò?"})
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert "/" not in response.json()["error"]["message"]
    assert ("retry-after" in response.headers) is (status == 503)
