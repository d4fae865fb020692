"""viqa.api.server.run serves create_app() with uvicorn (patched here: no model is loaded)."""

from __future__ import annotations

import logging

import pytest
import uvicorn
from fastapi import FastAPI

from viqa.api.server import run
from viqa.settings import Settings, get_settings


def test_run_serves_the_app_on_the_given_address(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    run("127.0.0.1", 8123)
    assert isinstance(seen["app"], FastAPI)
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    assert seen["app"].state.service.pipeline is None  # nothing loads until the lifespan starts


def test_serving_beyond_loopback_without_a_key_warns_that_writes_are_local_only(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("VIQA_API_KEY", raising=False)
    get_settings.cache_clear()
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    with caplog.at_level(logging.WARNING, logger="viqa.api"):
        run("0.0.0.0", 8123)
    get_settings.cache_clear()
    assert "VIQA_API_KEY is not set" in caplog.text
