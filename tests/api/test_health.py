"""/healthz answers at once; /readyz (and every model route) waits for the background model load."""

from __future__ import annotations

import logging
import threading

import pytest
from fastapi import FastAPI

from tests.fakes import FakePipeline, running
from viqa.api.main import create_app
from viqa.settings import Settings


def test_healthz_answers_while_models_load_and_readyz_waits_for_them(
    settings: Settings, fake_pipeline: FakePipeline
) -> None:
    release = threading.Event()

    def slow_factory(s: Settings) -> FakePipeline:
        assert release.wait(timeout=5)
        return fake_pipeline

    app = create_app(slow_factory, settings)
    with running(app, wait_ready=False) as client:
        assert client.get("/healthz").json() == {"status": "ok", "message": None}
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["error"]["code"] == "not_ready"
        assert not_ready.headers["Retry-After"] == "5"
        assert client.post("/v1/ask", json={"question": "Tổng đàn bò?"}).status_code == 503
        release.set()
        assert app.state.service.ready.wait(timeout=5)
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/ask", json={"question": "Tổng đàn bò?"}).status_code == 200
    assert fake_pipeline.loaded


def test_the_pipeline_is_built_and_loaded_once(settings: Settings) -> None:
    built: list[FakePipeline] = []

    def factory(s: Settings) -> FakePipeline:
        built.append(FakePipeline(s))
        return built[-1]

    with running(create_app(factory, settings)) as client:
        for _ in range(3):
            assert client.post("/v1/ask", json={"question": "Tổng đàn bò?"}).status_code == 200
    assert len(built) == 1 and built[0].loaded


def _wait_for_load_error(app: FastAPI) -> None:
    for _ in range(500):
        if app.state.service.load_error:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the model load never failed")


def test_a_failed_model_load_keeps_readyz_at_503_and_logs_the_reason(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(s: Settings) -> FakePipeline:
        raise RuntimeError("weights missing")

    app = create_app(broken, settings)
    with caplog.at_level(logging.ERROR, logger="viqa.api"), running(app, wait_ready=False) as client:
        _wait_for_load_error(app)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["error"]["message"] == "loading the models failed; see the server log"
        assert client.get("/healthz").status_code == 200
    assert "loading the models failed" in caplog.text and "weights missing" in caplog.text


SECRET_PATH = "/srv/viqa-private/models/reader.safetensors"


@pytest.mark.parametrize("api_key", [None, "k"])
def test_a_failed_model_load_shows_no_path_to_any_client_while_the_log_keeps_it(
    settings: Settings, caplog: pytest.LogCaptureFixture, api_key: str | None
) -> None:
    def broken(s: Settings) -> FakePipeline:
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{SECRET_PATH}'")

    app = create_app(broken, settings.model_copy(update={"api_key": api_key}))
    headers = {"X-API-Key": api_key} if api_key else {}
    with caplog.at_level(logging.ERROR, logger="viqa.api"), running(app, wait_ready=False) as client:
        _wait_for_load_error(app)
        answers = [client.get("/readyz", headers=headers), client.post("/v1/ask", json={"question": "Tổng đàn bò?"},
                                                                        headers=headers)]
    for response in answers:
        assert response.status_code == 503 and response.json()["error"]["code"] == "not_ready"
        assert SECRET_PATH not in response.text and "safetensors" not in response.text
        assert response.json()["error"]["message"] == "loading the models failed; see the server log"
    assert SECRET_PATH in caplog.text
    assert app.state.service.load_error_detail == f"FileNotFoundError: [Errno 2] No such file or directory: " \
                                                  f"'{SECRET_PATH}'"


def test_request_id_is_echoed_or_made_and_logged_with_timing(client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="viqa.api.access"):
        given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        made = client.get("/healthz")
        bad = client.get("/healthz", headers={"X-Request-ID": "no spaces\tor tabs"})
    assert given.headers["X-Request-ID"] == "abc-123"
    assert len(made.headers["X-Request-ID"]) == 32
    assert bad.headers["X-Request-ID"] != "no spaces\tor tabs"
    records = [r for r in caplog.records if r.name == "viqa.api.access"]
    assert any(r.request_id == "abc-123" and r.status == 200 and r.path == "/healthz" for r in records)
    assert all(isinstance(r.duration_ms, float) for r in records)


def test_errors_carry_the_request_id_too(client) -> None:
    response = client.get("/v1/jobs/nope", headers={"X-Request-ID": "req-9"})
    assert response.status_code == 404 and response.headers["X-Request-ID"] == "req-9"
