"""Writes need a key (or, with none configured, a loopback client sending the CSRF header); names never become
paths; bodies are bounded. Cross-site writes, Host checks and proxies: test_cross_site.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fakes import LOOPBACK, REMOTE, FakeIndex, running, wait_for_job

UPLOAD = "/v1/collections/default/documents"
DOC = {"doc_id": "gia-xang", "text": "Giá xăng tháng 11 là 23 nghìn đồng."}


def test_without_a_key_writes_from_loopback_with_the_csrf_header_are_accepted(client: TestClient) -> None:
    assert client.headers["X-Requested-With"]  # the fixtures' clients send it, as the web page does
    assert client.post(UPLOAD, json=DOC).status_code == 202


def test_without_a_key_writes_from_other_machines_are_refused(remote_client: TestClient) -> None:
    response = remote_client.post(UPLOAD, json=DOC)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert remote_client.delete(f"{UPLOAD}/bao-cao-thang-11").status_code == 403


def test_reads_from_other_machines_are_public_by_default(remote_client: TestClient) -> None:
    assert remote_client.post("/v1/ask", json={"question": "Tổng đàn bò?"}).status_code == 200
    assert remote_client.get("/v1/collections").status_code == 200


@pytest.fixture
def keyed(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with running(make_app(api_key="s3cret"), client=REMOTE) as client:
        yield client


def test_with_a_key_a_write_without_it_is_401(keyed: TestClient) -> None:
    response = keyed.post(UPLOAD, json=DOC)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"


def test_with_a_key_a_wrong_key_is_403(keyed: TestClient) -> None:
    assert keyed.post(UPLOAD, json=DOC, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert keyed.post(UPLOAD, json=DOC, headers={"X-API-Key": "nope"}).status_code == 403


def test_with_a_key_bearer_or_x_api_key_is_accepted_from_anywhere(keyed: TestClient) -> None:
    assert keyed.post(UPLOAD, json=DOC, headers={"Authorization": "Bearer s3cret"}).status_code == 202
    assert keyed.post(UPLOAD, json=DOC, headers={"X-API-Key": "s3cret"}).status_code == 202


@pytest.mark.parametrize("authorization", ["Basic czNjcmV0Og==", "Bearer", "Bearer  ", "s3cret"])
def test_with_a_key_an_authorization_that_is_not_bearer_is_401_even_beside_a_good_x_api_key(
    keyed: TestClient, authorization: str
) -> None:
    response = keyed.post(UPLOAD, json=DOC, headers={"Authorization": authorization, "X-API-Key": "s3cret"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_with_a_key_every_key_presented_must_be_it(keyed: TestClient) -> None:
    assert keyed.post(UPLOAD, json=DOC, headers={"Authorization": "Bearer nope", "X-API-Key": "s3cret"}
                      ).status_code == 403
    assert keyed.post(UPLOAD, json=DOC, headers={"Authorization": "Bearer s3cret", "X-API-Key": ""}).status_code == 403
    both = keyed.post(UPLOAD, json=DOC, headers={"Authorization": "bearer s3cret", "X-API-Key": "s3cret"})
    assert both.status_code == 202


def test_with_a_key_even_loopback_must_present_it(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(api_key="s3cret"), client=LOOPBACK) as client:
        assert client.post(UPLOAD, json=DOC).status_code == 401


def test_private_reads_need_the_key(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(api_key="s3cret", public_reads=False), client=REMOTE) as client:
        assert client.post("/v1/ask", json={"question": "Tổng đàn bò?"}).status_code == 401
        assert client.get("/v1/collections").status_code == 401
        ok = client.post("/v1/ask", json={"question": "Tổng đàn bò?"}, headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/v1/collections/%2e%2e/documents", "/v1/collections/%2E%2E/documents/x", "/v1/collections/a..b/documents",
     "/v1/collections/.hidden/documents", "/v1/collections/default/documents/%2e%2e",
     "/v1/collections/default/documents/..%2F..%2Fetc", "/v1/collections/..%2F..%2Fetc/documents"],
)
def test_path_traversal_in_names_is_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (400, 404, 422)
    assert set(response.json()["error"]) == {"code", "message"}


def test_path_traversal_in_write_names_is_refused_before_any_job(client: TestClient, fake_index: FakeIndex) -> None:
    assert client.post("/v1/collections/%2e%2e/documents", json=DOC).status_code == 422
    assert client.post("/v1/collections/a..b/documents", json=DOC).status_code == 422  # the published pattern
    assert client.delete("/v1/collections/default/documents/%2e%2e").status_code == 422
    assert client.post(UPLOAD, json={"doc_id": "../evil", "text": "x y"}).status_code == 422
    files = {"file": ("../../etc/passwd.txt", "Nội dung thử nghiệm.".encode())}
    response = client.post(UPLOAD, files=files)
    assert response.status_code == 202
    assert wait_for_job(client, response.json()["id"])["status"] == "done"
    assert fake_index.calls == [("ingest", "default", ["passwd"])]
    assert fake_index.pipeline.collections["default"]["passwd"].path == "upload:passwd.txt"


def test_a_body_over_the_limit_is_413(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(max_body_bytes=2048)) as client:
        response = client.post("/v1/ask", json={"question": "bò " * 1000})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"


def test_a_chunked_body_over_the_limit_is_413(make_app: Callable[..., FastAPI]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(10):
            yield b"b" * 1000
        yield b'"}'

    with running(make_app(max_body_bytes=2048)) as client:
        response = client.post("/v1/ask", content=chunks(), headers={"Content-Type": "application/json"})
        assert response.status_code == 413


def test_uploads_have_their_own_larger_limit(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(max_body_bytes=2048, max_upload_mb=0.01)) as client:
        small = client.post(UPLOAD, files={"file": ("a.txt", ("Giá xăng. " * 300).encode())})
        assert small.status_code == 202
        big = client.post(UPLOAD, files={"file": ("b.txt", ("Giá xăng. " * 2000).encode())})
        assert big.status_code == 413


def test_a_question_over_the_character_limit_is_400(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(max_query_chars=20)) as client:
        response = client.post("/v1/ask", json={"question": "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"})
        assert response.status_code == 400
        assert "limit is 20" in response.json()["error"]["message"]


def test_a_lone_surrogate_in_a_question_is_400_not_500(client: TestClient) -> None:
    body = b'{"question": "b\\ud800 bao nhi\\u00eau?"}'
    response = client.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient) -> None:
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"
    wrong_method = client.get("/v1/ask")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_cors_is_off_unless_origins_are_configured(client: TestClient, make_app: Callable[..., FastAPI]) -> None:
    assert "access-control-allow-origin" not in client.get("/healthz", headers={"Origin": "http://x.test"}).headers
    with running(make_app(cors_origins=["http://app.test"])) as cors:
        headers = {"Origin": "http://app.test", "Access-Control-Request-Method": "POST"}
        preflight = cors.options("/v1/ask", headers=headers)
        assert preflight.headers["access-control-allow-origin"] == "http://app.test"
