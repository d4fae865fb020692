"""Fixtures for the API tests: the fake pipeline and index writers, apps and clients (loopback or remote)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.live import CHROMIUM_ARGS, chromium_path
from tests.fakes import REMOTE, FakeIndex, FakePipeline, running
from viqa.api.main import create_app
from viqa.settings import Settings


@pytest.fixture(autouse=True)
def serves_testserver(monkeypatch: pytest.MonkeyPatch) -> None:
    """TestClient's requests carry ``Host: testserver``: the tests' settings serve that name too."""
    monkeypatch.setenv("VIQA_ALLOWED_HOSTS", '["testserver"]')


@pytest.fixture
def fake_pipeline(settings: Settings) -> FakePipeline:
    return FakePipeline(settings)


@pytest.fixture
def fake_index(fake_pipeline: FakePipeline) -> FakeIndex:
    return FakeIndex(fake_pipeline)


@pytest.fixture
def app(fake_pipeline: FakePipeline, fake_index: FakeIndex, settings: Settings) -> FastAPI:
    return create_app(lambda s: fake_pipeline, settings, index_ops=fake_index.ops)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client calling from loopback, as a browser on the server's own machine does."""
    with running(app) as test_client:
        yield test_client


@pytest.fixture
def remote_client(app: FastAPI) -> Iterator[TestClient]:
    """A client calling from another machine."""
    with running(app, client=REMOTE) as test_client:
        yield test_client


@pytest.fixture
def make_app(
    fake_pipeline: FakePipeline, fake_index: FakeIndex, settings: Settings
) -> Callable[..., FastAPI]:
    """An app with API settings of the test's choosing (``make_app(api_key="k", max_body_bytes=2048)``)."""

    def make(**api_fields: object) -> FastAPI:
        custom = settings.model_copy(update={"api_key": None, **api_fields})
        return create_app(lambda s: fake_pipeline, custom, index_ops=fake_index.ops)

    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium per test module, closed at its end (playwright's sync API holds an event loop while it
    runs); skipped, with the reason, without chromium or playwright."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install -e '.[test]'")
    path = chromium_path()
    if path is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, timeout=20_000)
        except sync_api.Error as error:
            pytest.skip(f"chromium at {path} could not be launched: {error.message.splitlines()[0]}")
        yield launched
        launched.close()
