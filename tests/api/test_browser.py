"""The chat page in a real headless Chromium, against a live uvicorn server with the fake pipeline.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the ``playwright`` package; never downloads a
browser. Skipped, with the reason, when either is missing or Chromium cannot start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.api.live import offline_page, serving
from tests.fakes import FakeIndex, FakePipeline, make_document
from tests.paths import SAMPLE
from viqa.api.main import create_app
from viqa.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install -e '.[test]'")

DOC_ID = "lang-son-bao-cao-kt-xh-thang-11-2023"
TITLE = "Báo cáo tình hình kinh tế - xã hội tỉnh Lạng Sơn tháng 11 năm 2023"
QUESTION = "Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 ước đạt bao nhiêu?"
ANSWER = "440 triệu USD"
SCREENSHOT = Path(os.environ.get("VIQA_SCREENSHOT", "/tmp/viqa-chat.png"))
TIMEOUT_MS = 10_000


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    """A live server whose fake pipeline holds the Lạng Sơn sample report."""
    pipeline = FakePipeline(settings, {"default": {DOC_ID: make_document(DOC_ID, SAMPLE.read_text(), TITLE)}})
    app = create_app(lambda s: pipeline, settings, index_ops=FakeIndex(pipeline).ops)
    with serving(app) as url:
        yield url


class Recorded:
    """What a page asked for and what went wrong in it."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.errors: list[str] = []


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


@pytest.fixture
def page(browser: sync_api.Browser, base_url: str, recorded: Recorded) -> Iterator[sync_api.Page]:
    """A fresh page on ``/`` that records every request and aborts any not to the test server."""
    context, page = offline_page(browser, base_url, lambda request: recorded.urls.append(request.url),
                                 recorded.errors, TIMEOUT_MS)
    page.goto(base_url + "/")
    sync_api.expect(page.locator("#status")).to_have_text("Sẵn sàng")
    yield page
    context.close()


def ask(page: sync_api.Page, question: str) -> sync_api.Locator:
    """Type ``question``, press Enter and return the answer's message once it is shown."""
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    reply = page.locator("#conversation .msg-bot").last
    reply.wait_for()
    return reply


def test_asking_shows_the_answer_highlighted_inside_its_cited_quote(page: sync_api.Page) -> None:
    reply = ask(page, QUESTION)
    sync_api.expect(page.locator("#conversation .msg-user")).to_have_text(QUESTION)
    sync_api.expect(reply.locator(".answer")).to_have_text(ANSWER)
    quote = reply.locator(".citation .quote")
    sync_api.expect(quote).to_have_count(1)
    assert quote.inner_text().startswith("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11")
    sync_api.expect(quote.locator("mark")).to_have_text(ANSWER)
    sync_api.expect(reply.locator(".citation .source")).to_contain_text(DOC_ID)
    sync_api.expect(page.locator("#send")).to_be_enabled()


def test_clicking_a_citation_opens_the_passage_with_the_answer_marked(page: sync_api.Page) -> None:
    panel = page.locator("#passage-panel")
    sync_api.expect(panel).to_be_hidden()
    ask(page, QUESTION).locator(".citation").click()
    sync_api.expect(panel).to_be_visible()
    sync_api.expect(page.locator("#passage-title")).to_have_text(TITLE)
    sync_api.expect(page.locator("#passage-meta")).to_contain_text(f"{DOC_ID} · ký tự")
    passage = page.locator("#passage-text")
    quote = "".join(passage.locator(".quote").all_text_contents())
    assert quote.startswith("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 ước đạt 440 triệu USD, trong đó")
    sync_api.expect(passage.locator(".quote mark")).to_have_text(ANSWER)
    sync_api.expect(passage.locator("mark")).to_be_in_viewport()
    page.screenshot(path=str(SCREENSHOT))
    page.locator("#close-panel").click()
    sync_api.expect(panel).to_be_hidden()


def test_the_page_talks_to_its_own_server_only_and_raises_no_script_errors(
    page: sync_api.Page, recorded: Recorded, base_url: str
) -> None:
    ask(page, QUESTION).locator(".citation").click()
    sync_api.expect(page.locator("#passage-text mark")).to_have_text(ANSWER)
    paths = {urlsplit(url).path for url in recorded.urls}
    document = f"/v1/collections/default/documents/{DOC_ID}"
    assert {"/", "/static/app.js", "/static/app.css", "/readyz", "/v1/chat", document} <= paths
    assert [url for url in recorded.urls if not url.startswith(base_url + "/")] == []
    assert {urlsplit(url).hostname for url in recorded.urls} == {"127.0.0.1"}
    assert recorded.errors == []


def test_a_citation_link_opens_the_document_on_the_cited_span(page: sync_api.Page, base_url: str) -> None:
    from viqa.links import citation_path

    start = SAMPLE.read_text().index(ANSWER)
    link = citation_path("default", DOC_ID, start, start + len(ANSWER))
    reply = ask(page, QUESTION)
    assert reply.locator(".permalink").first.get_attribute("href") == link  # the answer's own citation link
    page.goto(base_url + link)
    sync_api.expect(page.locator("#passage-panel")).to_be_visible()
    sync_api.expect(page.locator("#passage-title")).to_have_text(TITLE)
    sync_api.expect(page.locator("#passage-text mark")).to_have_text(ANSWER)
    sync_api.expect(page.locator("#passage-text mark")).to_be_in_viewport()


@pytest.fixture
def copies_url(settings: Settings) -> Iterator[str]:
    """A live server whose fake pipeline holds two copies of a report that disagree on a figure."""
    text = "Báo cáo tháng 11\n\nTổng kim ngạch xuất nhập khẩu tháng 11 ước đạt {} triệu USD.\n"
    docs = {f"ban-{v}": make_document(f"ban-{v}", text.format(v), f"Bản {v}") for v in ("441", "445")}
    pipeline = FakePipeline(settings, {"default": docs})
    with serving(create_app(lambda s: pipeline, settings, index_ops=FakeIndex(pipeline).ops)) as url:
        yield url


def test_other_sources_that_disagree_are_shown_with_their_citations(browser: sync_api.Browser, copies_url: str) -> None:
    context = browser.new_context(service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(copies_url + "/")
    sync_api.expect(page.locator("#status")).to_have_text("Sẵn sàng")
    reply = ask(page, "Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt bao nhiêu?")
    sync_api.expect(reply.locator(".alternatives .meta")).to_have_text("Nguồn khác cho biết:")
    answers = {reply.locator(".answer").inner_text(), reply.locator(".alternative").inner_text().split(" (")[0]}
    assert answers == {"441 triệu USD", "445 triệu USD"}
    sync_api.expect(reply.locator(".alternatives .citation mark")).to_have_count(1)
    context.close()
