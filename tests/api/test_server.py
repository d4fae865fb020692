"""viqa.api.server.run serves create_app() with uvicorn (patched here: no model is loaded)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI

from viqa.api import server
from viqa.api.server import run
from viqa.settings import Settings, get_settings


def test_run_serves_the_app_on_the_given_address(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    run("127.0.0.1", 8123)
    assert isinstance(seen["app"], FastAPI)
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    assert seen["app"].state.service.pipeline is None  # nothing loads until the lifespan starts
    assert seen["proxy_headers"] is False  # viqa reads forwarding headers itself, from trusted proxies only


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


def test_run_bounds_sigterm_by_shutdown_grace_s(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setenv("VIQA_SHUTDOWN_GRACE_S", "2.5")
    get_settings.cache_clear()
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    run("127.0.0.1", 8123)
    get_settings.cache_clear()
    assert seen["timeout_graceful_shutdown"] == 2.5


def test_after_serving_the_process_exits_though_a_request_thread_still_computes_an_answer(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    exits: list[int] = []

    def served(app: FastAPI, **kw: object) -> None:
        app.state.service.close()  # what the lifespan does at SIGTERM
        threading.Thread(target=release.wait, args=(30,), name="a long question").start()  # not a daemon

    monkeypatch.setattr(uvicorn, "run", served)
    monkeypatch.setattr(server, "STRAGGLER_WAIT_S", 0.2)
    monkeypatch.setattr(server.os, "_exit", exits.append)
    try:
        started = time.monotonic()
        run("127.0.0.1", 8123)
        assert exits == [0] and time.monotonic() - started < 5
    finally:
        release.set()


def test_a_run_that_never_served_does_not_exit_the_process(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    exits: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    monkeypatch.setattr(server.os, "_exit", exits.append)
    run("127.0.0.1", 8123)
    assert exits == []
