"""The page's documents panel in a real headless Chromium: uploads by the file input and by drag and drop, refused
files, deletes, new collections, and citations that name their page (with its image).

Against a live server with the fake pipeline, whose index writers really add and remove documents. Skipped, like
test_browser.py, when Chromium or playwright is missing.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.api.live import offline_page, serving
from tests.api.test_browser import TIMEOUT_MS
from tests.fakes import REPORT_TEXT, FakeIndex, FakePipeline, make_document
from viqa.api.main import create_app
from viqa.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install -e '.[test]'")
expect = sync_api.expect

REPORT_ID = "bao-cao-thang-11"
REPORT_TITLE = "Báo cáo kinh tế - xã hội tháng 11 năm 2023"
PETROL = "Giá xăng tháng 11\n\nTheo thông báo, xăng bán lẻ là 23 nghìn đồng.\n"
RICE = "Giá gạo tháng 11\n\nGiá gạo tháng 11 là 15 nghìn đồng.\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def text_file(name: str, text: str) -> dict[str, object]:
    return {"name": name, "mimeType": "text/plain", "buffer": text.encode()}


@pytest.fixture
def index(settings: Settings) -> FakeIndex:
    """Fake index writers over a default collection holding one report."""
    return FakeIndex(FakePipeline(settings, {"default": {REPORT_ID: make_document(REPORT_ID, REPORT_TEXT)}}))


@pytest.fixture
def base_url(settings: Settings, index: FakeIndex) -> Iterator[str]:
    with serving(create_app(lambda s: index.pipeline, settings, index_ops=index.ops)) as url:
        yield url


@pytest.fixture
def urls() -> list[str]:
    """The method and URL of every request the page made."""
    return []


@pytest.fixture
def errors() -> list[str]:
    """The page's script errors and console errors (a failed request is one)."""
    return []


@pytest.fixture
def page(browser: sync_api.Browser, base_url: str, urls: list[str], errors: list[str]) -> Iterator[sync_api.Page]:
    """The page at ``/``, its documents listed; requests to other hosts are recorded and aborted."""
    context, page = offline_page(browser, base_url, lambda request: urls.append(f"{request.method} {request.url}"),
                                 errors, TIMEOUT_MS)
    page.goto(base_url + "/")
    expect(page.locator("#document-rows tr")).to_have_count(1)
    yield page
    context.close()


def upload_rows(page: sync_api.Page) -> sync_api.Locator:
    return page.locator("#uploads li")


def test_two_files_chosen_at_once_are_uploaded_and_both_listed_with_their_titles(
    page: sync_api.Page, base_url: str, urls: list[str], errors: list[str], index: FakeIndex
) -> None:
    page.locator("#file-input").set_input_files([text_file("gia-xang.txt", PETROL), text_file("gia-gao.txt", RICE)])
    rows = upload_rows(page)
    expect(rows).to_have_count(2)
    expect(rows.locator(".upload-name")).to_have_text(["gia-xang.txt", "gia-gao.txt"])
    expect(rows.locator(".upload-state")).to_have_text(["xong", "xong"])
    expect(rows.locator(".upload-detail")).to_have_text(["đã thêm", "đã thêm"])
    titles = page.locator("#document-rows .doc-title")
    expect(titles).to_have_text([REPORT_TITLE, "Giá gạo tháng 11", "Giá xăng tháng 11"])  # by id
    expect(page.locator("#documents-count")).to_have_text("Tài liệu trong bộ «default» (3)")
    expect(page.locator("#uploads")).to_have_attribute("aria-live", "polite")
    posts = [u for u in urls if u.startswith("POST ")]
    assert posts == [f"POST {base_url}/v1/collections/default/documents"] * 2  # one request per file
    assert sorted(d for call in index.calls for d in call[2]) == ["gia-gao", "gia-xang"]
    assert all(urlsplit(u.split(" ", 1)[1]).hostname == "127.0.0.1" for u in urls)
    assert errors == []


def test_a_file_dropped_on_the_drop_zone_is_uploaded(page: sync_api.Page, errors: list[str]) -> None:
    page.evaluate("""(text) => {
      const data = new DataTransfer();
      data.items.add(new File([text], "gia-xang.txt", {type: "text/plain"}));
      const zone = document.getElementById("drop-zone");
      for (const type of ["dragenter", "dragover", "drop"]) {
        zone.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
      }
    }""", PETROL)
    expect(upload_rows(page).locator(".upload-state")).to_have_text(["xong"])
    expect(page.locator("#document-rows .doc-title", has_text="Giá xăng tháng 11")).to_have_count(1)
    expect(page.locator("#drop-zone")).not_to_have_class("drop over")
    assert errors == []


def test_a_refused_file_shows_the_servers_message_in_its_row(page: sync_api.Page) -> None:
    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 400) as refusal:
        page.locator("#file-input").set_input_files([text_file("rong.txt", ""), text_file("gia-gao.txt", RICE)])
    message = refusal.value.json()["error"]["message"]
    assert "rong.txt" in message and "empty" in message
    refused = upload_rows(page).filter(has_text="rong.txt")
    expect(refused.locator(".upload-state")).to_have_text("lỗi")
    expect(refused.locator(".upload-detail")).to_have_text(message)
    expect(refused).to_have_class("upload failed")
    expect(upload_rows(page).filter(has_text="gia-gao.txt").locator(".upload-state")).to_have_text("xong")
    expect(page.locator("#document-rows tr")).to_have_count(2)


def test_deleting_a_document_asks_first_then_removes_it_from_the_list(
    page: sync_api.Page, urls: list[str], index: FakeIndex
) -> None:
    delete = page.get_by_role("button", name=f"Xóa «{REPORT_TITLE}»")
    messages: list[str] = []
    page.once("dialog", lambda d: (messages.append(d.message), d.dismiss()))
    delete.click()
    expect(page.locator("#document-rows tr")).to_have_count(1)
    assert messages == [f"Xóa tài liệu «{REPORT_TITLE}» khỏi bộ «default»? Không hoàn tác được."]
    assert not [u for u in urls if u.startswith("DELETE ")]
    page.once("dialog", lambda d: d.accept())
    delete.click()
    expect(page.locator("#document-rows tr")).to_have_count(0)
    expect(page.locator("#documents-status")).to_have_text(f"Đã xóa «{REPORT_TITLE}».")
    expect(page.locator("#documents-empty")).to_have_text("Bộ tài liệu này chưa có tài liệu nào.")
    assert index.calls == [("delete", "default", [REPORT_ID])]


def test_a_new_collection_is_checked_by_name_listed_once_uploaded_into_and_asked_within(page: sync_api.Page) -> None:
    page.get_by_role("button", name="Tạo bộ mới").click()
    name = page.get_by_label("Tên bộ tài liệu mới")
    name.fill("báo cáo")
    page.get_by_role("button", name="Tạo", exact=True).click()
    expect(page.locator("#new-collection-error")).to_contain_text("Tên chỉ gồm chữ cái không dấu")
    expect(name).to_have_attribute("aria-invalid", "true")
    name.fill("gia-ca.2024")
    page.get_by_role("button", name="Tạo", exact=True).click()
    expect(page.locator("#new-collection-form")).to_be_hidden()
    expect(page.locator("#collection")).to_have_value("gia-ca.2024")
    expect(page.locator("#documents-empty")).to_have_text("Bộ tài liệu này chưa có tài liệu: hãy tải tệp lên.")
    page.locator("#file-input").set_input_files([text_file("gia-xang.txt", PETROL)])
    expect(upload_rows(page).locator(".upload-state")).to_have_text(["xong"])
    expect(page.locator("#document-rows .doc-title")).to_have_text(["Giá xăng tháng 11"])
    # listed by the server now, not only named on the page
    expect(page.locator("#collection option[value='gia-ca.2024']")).to_have_text("gia-ca.2024")
    expect(page.locator("#collection")).to_have_value("gia-ca.2024")
    with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as asked:
        page.locator("#question").fill("Xăng bán lẻ là bao nhiêu?")
        page.locator("#question").press("Enter")
    assert json.loads(asked.value.post_data or "{}")["collection"] == "gia-ca.2024"
    expect(page.locator("#conversation .msg-bot .answer")).to_have_text("23 nghìn đồng")
    page.locator("#collection").select_option("default")
    expect(page.locator("#document-rows .doc-title")).to_have_text([REPORT_TITLE])


def test_document_rows_show_pages_passages_and_format_when_the_server_gives_them(
    browser: sync_api.Browser, base_url: str
) -> None:
    listing = {"collection": "default", "documents": [
        {"doc_id": "nien-giam", "title": "Niên giám thống kê", "chars": 90000, "sha256": "0" * 64,
         "date": "2023-12-31", "tags": [], "pages": 12, "passages": 40, "format": "pdf"},
        {"doc_id": "ghi-chu", "title": "Ghi chú", "chars": 10, "sha256": "1" * 64, "date": None, "tags": [],
         "pages": None, "passages": 1, "format": "text"},
    ]}
    context = browser.new_context(service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.route("**/v1/collections/default/documents", lambda r: r.fulfill(json=listing))
    page.goto(base_url + "/")
    rows = page.locator("#document-rows tr")
    expect(rows).to_have_count(2)
    expect(rows.locator(".doc-title")).to_have_text(["Niên giám thống kê", "Ghi chú"])
    expect(rows.locator(".doc-id")).to_have_text(["nien-giam · PDF", "ghi-chu · văn bản"])
    expect(rows.nth(0).locator("td.num")).to_have_text(["12", "40", "2023-12-31"])
    expect(rows.nth(1).locator("td.num")).to_have_text(["—", "1", "—"])  # no pages, no date
    context.close()


def two_page_pdf() -> bytes:
    """A PDF of two pages of ASCII text (reportlab's built-in font), titled in its metadata."""
    canvas = pytest.importorskip("reportlab.pdfgen.canvas", reason="reportlab not installed: pip install -e '.[test]'")
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    pdf.setTitle("Báo cáo tháng 11")  # else reportlab's "untitled" is the document's title
    for line in ("Bao cao thang 11", "Gia xang thang 11 la 23 nghin dong."):
        pdf.drawString(72, 720, line)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def test_an_uploaded_pdf_is_listed_with_its_pages_and_format(page: sync_api.Page) -> None:
    pytest.importorskip("viqa.index.formats.pdf", reason="the server reads no PDF yet (index/formats/pdf.py)")
    page.locator("#file-input").set_input_files([{"name": "bao-cao.pdf", "mimeType": "application/pdf",
                                                  "buffer": two_page_pdf()}])
    expect(upload_rows(page).locator(".upload-state")).to_have_text(["xong"])
    row = page.locator("#document-rows tr", has_text="bao-cao · PDF")
    expect(row.locator(".doc-title")).to_have_text("Báo cáo tháng 11")
    expect(row.locator("td.num").first).to_have_text("2")


def route_a_paged_answer(page: sync_api.Page) -> str:
    """Answer /v1/chat with a citation on page 3 (its image served) and another on page 5 (whose image is not);
    returns the URL of page 3's image."""
    quote = "Kim ngạch xuất khẩu tháng 11 ước đạt 45,6 triệu USD."
    start = REPORT_TEXT.index(quote)
    first, end = start + quote.index("45,6"), start + quote.index(" triệu USD") + len(" triệu USD")
    cited = {"doc_id": REPORT_ID, "title": "tiêu đề cũ", "passage_id": f"{REPORT_ID}:{start}", "quote": quote,
             "char_start": first, "char_end": end, "quote_start": start, "quote_end": start + len(quote)}
    answer = {"answer": "45,6 triệu USD", "confidence": 0.9, "message": None, "resolved_question": None,
              "citations": [{**cited, "page": 3}], "alternatives": [
                  {"text": "45,6 triệu USD", "confidence": 0.5, "citation": {**cited, "page": 5}}],
              "timings_ms": {"total": 1.0}}
    page.route("**/v1/chat", lambda r: r.fulfill(json=answer))
    page.route("**/pages/3.png?*", lambda r: r.fulfill(body=PNG, content_type="image/png"))
    page.route("**/pages/5.png?*", lambda r: r.fulfill(status=404, json={"error": {"code": "not_found",
                                                                                     "message": "no page"}}))
    return f"/v1/collections/default/documents/{REPORT_ID}/pages/3.png?start={first}&end={end}"


def ask_for_exports(page: sync_api.Page) -> sync_api.Locator:
    page.locator("#question").fill("Kim ngạch xuất khẩu tháng 11 ước đạt bao nhiêu?")
    page.locator("#question").press("Enter")
    return page.locator("#conversation .msg-bot").last


def test_a_citation_with_a_page_says_so_and_shows_the_page_image_hidden_when_it_fails(page: sync_api.Page) -> None:
    src = route_a_paged_answer(page)
    reply = ask_for_exports(page)
    source = reply.locator(".citations > li > .citation .source").first
    expect(source).to_have_text(f"{REPORT_TITLE} — {REPORT_ID} · trang 3")  # the listed title, not the cited one
    image = reply.locator("img.page-thumb").first
    expect(image).to_have_attribute("src", src)
    expect(image).to_have_attribute("loading", "lazy")
    expect(image).to_have_attribute("alt", f"Trang 3 của «{REPORT_TITLE}», câu trả lời được tô sáng")
    expect(image).to_be_visible()
    expect(reply.locator(".alternatives .source")).to_contain_text("trang 5")
    expect(reply.locator(".alternatives img.page-thumb")).to_be_hidden()  # its image failed to load
    reply.locator(".citation").first.click()
    expect(page.locator("#passage-meta")).to_contain_text(f"{REPORT_ID} · trang 3 · ký tự")
    expect(page.locator("#passage-page")).to_have_attribute("src", src)
    expect(page.locator("#passage-page")).to_be_visible()
    expect(page.locator("#passage-text mark")).to_have_text("45,6 triệu USD")


def test_with_an_api_key_the_page_image_is_fetched_with_it(page: sync_api.Page) -> None:
    src = route_a_paged_answer(page)
    page.locator(".settings summary").click()
    page.locator("#api-key").fill("khoa-thu")
    with page.expect_request(lambda r: r.url.endswith(src.split("/v1/", 1)[1])) as fetched:
        reply = ask_for_exports(page)
    assert fetched.value.headers.get("x-api-key") == "khoa-thu"  # an <img> could not send it
    expect(reply.locator("img.page-thumb").first).to_have_attribute("src", "data:image/png;base64,"
                                                                    + base64.b64encode(PNG).decode())
    expect(reply.locator(".alternatives img.page-thumb")).to_be_hidden()
