"""Writes from a real headless Chromium: the server's own page may upload (fetch, with ``X-Requested-With`` for
browsers that send no Origin);
a page of another site may not with a form, which needs no CORS preflight. (Its no-cors fetch, Chromium's
Private Network Access stops before the server sees it.)

Skipped, like test_browser.py, when Chromium or playwright is missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from tests.api.live import serving
from tests.api.test_browser import TIMEOUT_MS
from tests.fakes import FakeIndex, FakePipeline
from viqa.api.main import create_app
from viqa.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install -e '.[test]'")

UPLOAD = "/v1/collections/default/documents"
EVIL = "http://evil.test"


@pytest.fixture
def index(settings: Settings) -> FakeIndex:
    return FakeIndex(FakePipeline(settings))


@pytest.fixture
def server(settings: Settings, index: FakeIndex) -> Iterator[str]:
    """A live keyless server on loopback, with the default settings (no VIQA_ALLOWED_HOSTS)."""
    app: FastAPI = create_app(lambda s: index.pipeline, settings.model_copy(update={"allowed_hosts": []}),
                              index_ops=index.ops)
    with serving(app) as url:
        yield url


@pytest.fixture
def context(browser: sync_api.Browser) -> Iterator[sync_api.BrowserContext]:
    context = browser.new_context(service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


UPLOAD_FROM_PAGE = """async ([url, withHeader]) => {
  const form = new FormData();
  form.append("file", new Blob(["Giá xăng tháng 11 là 23 nghìn đồng."], {type: "text/plain"}), "gia-xang.txt");
  const response = await fetch(url, {method: "POST", body: form,
                                     headers: withHeader ? {"X-Requested-With": "viqa"} : {}});
  return [response.status, (await response.json()).error?.code ?? null];
}"""


def test_the_servers_own_page_can_upload_with_or_without_the_csrf_header(
    context: sync_api.BrowserContext, server: str, index: FakeIndex
) -> None:
    page = context.new_page()
    page.goto(server + "/")
    assert page.evaluate(UPLOAD_FROM_PAGE, [UPLOAD, True]) == [202, None]
    assert page.evaluate(UPLOAD_FROM_PAGE, [UPLOAD, False]) == [202, None]  # Chromium's own Origin and Sec-Fetch-Site
    assert index.started.wait(timeout=5)


def test_a_page_of_another_site_cannot_upload_with_a_form(
    context: sync_api.BrowserContext, server: str, index: FakeIndex
) -> None:
    form = (f'<form id="f" method="post" enctype="multipart/form-data" action="{server}{UPLOAD}">'
            '<input type="hidden" name="doc_id" value="pwned"></form>')
    context.route(f"{EVIL}/**", lambda route: route.fulfill(content_type="text/html", body=f"<html>{form}</html>"))
    page = context.new_page()
    page.goto(f"{EVIL}/")
    page.evaluate("""() => {
      const input = document.createElement("input");
      input.type = "file"; input.name = "file";
      const data = new DataTransfer();
      data.items.add(new File(["Bị ghi đè."], "pwned.txt", {type: "text/plain"}));
      input.files = data.files;
      document.getElementById("f").appendChild(input);
    }""")
    with page.expect_response(lambda r: r.url.endswith(UPLOAD)) as posted:
        page.evaluate("() => document.getElementById('f').submit()")
    response = posted.value
    assert response.status == 403 and response.json()["error"]["code"] == "cross_site"
    assert response.request.headers.get("origin") == EVIL
    assert not index.started.is_set() and index.calls == []
