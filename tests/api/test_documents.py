"""Collections and documents: list, read (whole or a slice), upload as a file or JSON, delete — through jobs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.fakes import REPORT_TEXT, FakeIndex, FakePipeline, running, wait_for_job
from viqa.api.main import create_app
from viqa.index.store import Collection
from viqa.qa.retrieval import Retriever
from viqa.settings import Settings

UPLOAD = "/v1/collections/default/documents"
PETROL = "Giá xăng\n\nGiá xăng RON 95 tháng 11 là 23 nghìn đồng."


def _upload_and_wait(client: TestClient, timeout: float = 5.0, **kwargs: object) -> dict:
    response = client.post(UPLOAD, **kwargs)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/v1/jobs/{response.json()['id']}"
    return wait_for_job(client, response.json()["id"], timeout)


def test_documents_are_listed_with_id_title_and_size(client: TestClient) -> None:
    body = client.get(UPLOAD).json()
    assert body == {"collection": "default", "documents": [
        {"doc_id": "bao-cao-thang-11", "title": "Báo cáo kinh tế - xã hội tháng 11 năm 2023",
         "chars": len(REPORT_TEXT), "sha256": body["documents"][0]["sha256"], "date": None, "tags": [],
         "format": "text", "pages": None, "passages": 1}]}


def test_a_document_is_returned_whole_or_as_the_slice_asked_for(client: TestClient) -> None:
    whole = client.get(f"{UPLOAD}/bao-cao-thang-11").json()
    assert whole["text"] == REPORT_TEXT and (whole["start"], whole["end"]) == (0, len(REPORT_TEXT))
    part = client.get(f"{UPLOAD}/bao-cao-thang-11", params={"start": 44, "end": 96}).json()
    assert part["text"] == REPORT_TEXT[44:96] and part["chars"] == len(REPORT_TEXT)


def test_a_slice_past_the_end_is_clamped_and_a_reversed_one_refused(client: TestClient) -> None:
    clamped = client.get(f"{UPLOAD}/bao-cao-thang-11", params={"start": 250, "end": 10_000}).json()
    assert clamped["text"] == REPORT_TEXT[250:] and clamped["end"] == len(REPORT_TEXT)
    assert client.get(f"{UPLOAD}/bao-cao-thang-11", params={"start": 50, "end": 10}).status_code == 400
    assert client.get(f"{UPLOAD}/bao-cao-thang-11", params={"start": -1}).status_code == 422


def test_an_unknown_document_or_collection_is_404(client: TestClient) -> None:
    assert client.get(f"{UPLOAD}/khong-co").json()["error"]["code"] == "not_found"
    assert client.get("/v1/collections/khong-co/documents").status_code == 404
    assert client.delete(f"{UPLOAD}/khong-co").status_code == 404


def test_a_json_upload_is_indexed_by_a_job_and_then_answerable(client: TestClient) -> None:
    job = _upload_and_wait(client, json={"title": "Giá xăng", "text": PETROL})
    assert job["status"] == "done" and job["report"]["added"] == ["gia-xang"]
    assert "1 added" in job["message"]
    answer = client.post("/v1/ask", json={"question": "Giá xăng RON 95 tháng 11 là bao nhiêu?"}).json()
    assert answer["answer"] == "23 nghìn đồng"
    assert answer["citations"][0]["doc_id"] == "gia-xang"


def test_a_json_upload_keeps_the_given_id_and_title(client: TestClient, fake_pipeline: FakePipeline) -> None:
    _upload_and_wait(client, json={"doc_id": "tb-12", "title": "Thông báo 12", "text": PETROL})
    doc = fake_pipeline.collections["default"]["tb-12"]
    assert (doc.title, doc.text) == ("Thông báo 12", PETROL)


def test_a_json_upload_without_title_is_named_by_its_first_line_and_hash(
    client: TestClient, fake_pipeline: FakePipeline
) -> None:
    job = _upload_and_wait(client, json={"text": PETROL})
    doc_id = job["report"]["added"][0]
    assert doc_id.startswith("doc-") and fake_pipeline.collections["default"][doc_id].title == "Giá xăng"


def test_the_same_upload_twice_is_skipped_the_second_time(client: TestClient) -> None:
    _upload_and_wait(client, json={"doc_id": "gx", "text": PETROL})
    assert _upload_and_wait(client, json={"doc_id": "gx", "text": PETROL})["report"]["skipped"] == ["gx"]
    assert _upload_and_wait(client, json={"doc_id": "gx", "text": PETROL + " Mới."})["report"]["replaced"] == ["gx"]


def test_a_file_upload_takes_its_id_from_the_file_name(client: TestClient, fake_pipeline: FakePipeline) -> None:
    files = {"file": ("Giá xăng tháng 11.txt", PETROL.encode("utf-8"), "text/plain")}
    job = _upload_and_wait(client, files=files)
    assert job["report"]["added"] == ["gia-xang-thang-11"]
    assert fake_pipeline.collections["default"]["gia-xang-thang-11"].title == "Giá xăng"


def test_several_files_go_into_one_job(client: TestClient, fake_index: FakeIndex) -> None:
    files = [("file", ("a.md", b"# A\n\nMot.")), ("file", ("b.txt", b"Hai."))]
    job = _upload_and_wait(client, files=files)
    assert sorted(job["report"]["added"]) == ["a", "b"] and len(fake_index.calls) == 1


def test_a_utf16_file_with_a_bom_is_decoded(client: TestClient, fake_pipeline: FakePipeline) -> None:
    _upload_and_wait(client, files={"file": ("u16.txt", PETROL.encode("utf-16"))})
    assert fake_pipeline.collections["default"]["u16"].text == PETROL


def test_a_windows_vietnamese_file_is_decoded(client: TestClient, fake_pipeline: FakePipeline) -> None:
    from tests.index.test_loading import _cp1258

    _upload_and_wait(client, files={"file": ("cu.txt", _cp1258(PETROL))})
    assert fake_pipeline.collections["default"]["cu"].text == PETROL


def test_a_text_document_has_no_page_images(client: TestClient) -> None:
    _upload_and_wait(client, files={"file": ("gia.txt", PETROL.encode())})
    response = client.get(f"{UPLOAD}/gia/pages/1.png")
    assert response.status_code == 404 and "not a PDF" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("name", "data", "status", "says"),
    [
        ("bao-cao.pdf", b"%PDF-1.7", 400, "bao-cao.pdf"),
        ("bao-cao.docx", b"PK\x03\x04cut", 400, "bao-cao.docx"),
        ("anh.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00", 400, "unsupported file type"),
        ("anh.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00", 400, "binary"),
        ("rong.txt", b"   \n", 400, "empty"),
    ],
)
def test_files_that_cannot_be_read_are_refused_with_the_reason(
    client: TestClient, fake_index: FakeIndex, name: str, data: bytes, status: int, says: str
) -> None:
    response = client.post(UPLOAD, files={"file": (name, data)})
    assert response.status_code == status
    assert says in response.json()["error"]["message"]
    assert fake_index.calls == []


def test_a_multipart_body_without_a_file_part_is_400(client: TestClient) -> None:
    assert client.post(UPLOAD, data={"title": "x"}, files={"other": ("a.txt", b"x")}).status_code == 400


def test_other_content_types_are_415(client: TestClient) -> None:
    response = client.post(UPLOAD, content="Giá xăng".encode(), headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"


def test_bad_json_uploads_are_422(client: TestClient) -> None:
    bad = client.post(UPLOAD, content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert client.post(UPLOAD, json={"text": ""}).status_code == 422
    assert client.post(UPLOAD, json=["text"]).status_code == 422


def test_deep_json_nesting_is_refused_without_a_500(client: TestClient) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.post(UPLOAD, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_uploading_to_a_new_collection_creates_it(client: TestClient) -> None:
    response = client.post("/v1/collections/moi/documents", json={"doc_id": "gx", "text": PETROL})
    assert wait_for_job(client, response.json()["id"])["status"] == "done"
    assert "moi" in client.get("/v1/collections").json()["collections"]
    assert client.get("/v1/collections/moi/documents").json()["documents"][0]["doc_id"] == "gx"


def test_a_deleted_document_is_gone_once_its_job_is_done(client: TestClient) -> None:
    response = client.delete(f"{UPLOAD}/bao-cao-thang-11")
    assert response.status_code == 202 and response.json()["kind"] == "delete"
    job = wait_for_job(client, response.json()["id"])
    assert job["status"] == "done" and job["report"]["deleted"] == ["bao-cao-thang-11"]
    assert client.get(f"{UPLOAD}/bao-cao-thang-11").status_code == 404


def test_uploads_wait_for_the_models_to_load(settings: Settings) -> None:
    release = threading.Event()

    def slow(s: Settings) -> FakePipeline:
        release.wait(timeout=5)
        return FakePipeline(s)

    app = create_app(slow, settings)
    with running(app, wait_ready=False) as client:
        assert client.post(UPLOAD, json={"text": PETROL}).status_code == 503
        release.set()


class StoreBackedPipeline:
    """A pipeline over the real store and Retriever, with the shared fake embedder (no model is loaded)."""

    def __init__(self, settings: Settings, embedder: object) -> None:
        self.settings = settings
        self.embedder = embedder
        self._retrievers: dict[str, Retriever] = {}

    def load(self) -> StoreBackedPipeline:
        return self

    def retriever(self, collection: str | None = None) -> Retriever:
        name = collection or self.settings.default_collection
        if name not in self._retrievers:
            coll = Collection(self.settings.collections_dir, name)
            self._retrievers[name] = Retriever(coll, self.embedder, self.settings)  # type: ignore[arg-type]
        return self._retrievers[name].load()


@pytest.fixture
def real_index_client(settings: Settings, fake_embedder: object) -> Iterator[TestClient]:
    app = create_app(lambda s: StoreBackedPipeline(s, fake_embedder), settings)
    with running(app) as client:
        yield client


def test_uploads_and_deletes_go_through_the_real_index_store(real_index_client: TestClient) -> None:
    client = real_index_client
    job = _upload_and_wait(client, 60.0, files={"file": ("bao-cao.txt", REPORT_TEXT.encode())})
    assert job["status"] == "done", job
    assert job["report"]["added"] == ["bao-cao"] and job["report"]["chunks"] >= 1
    assert client.get("/v1/collections").json()["collections"] == ["default"]
    doc = client.get(f"{UPLOAD}/bao-cao", params={"start": 44, "end": 96}).json()
    assert doc["text"] == REPORT_TEXT[44:96]
    _upload_and_wait(client, 30.0, json={"doc_id": "gia-xang", "text": PETROL})
    assert [d["doc_id"] for d in client.get(UPLOAD).json()["documents"]] == ["bao-cao", "gia-xang"]
    deleted = wait_for_job(client, client.delete(f"{UPLOAD}/bao-cao").json()["id"], 30.0)
    assert deleted["status"] == "done", deleted
    assert [d["doc_id"] for d in client.get(UPLOAD).json()["documents"]] == ["gia-xang"]


def test_an_upload_carries_its_date_and_tags_into_the_listing(client: TestClient) -> None:
    _upload_and_wait(client, json={"doc_id": "gx", "text": PETROL, "date": "2023-11-30", "tags": ["gia", "xang"]})
    files = {"file": ("b.txt", b"Hai."), "date": (None, "2023-10-01"), "tags": (None, "gia, dau")}
    _upload_and_wait(client, files=files)
    listed = {d["doc_id"]: d for d in client.get(UPLOAD).json()["documents"]}
    assert (listed["gx"]["date"], listed["gx"]["tags"]) == ("2023-11-30", ["gia", "xang"])
    assert (listed["b"]["date"], listed["b"]["tags"]) == ("2023-10-01", ["gia", "dau"])


def test_an_upload_date_that_is_not_iso_is_refused(client: TestClient) -> None:
    assert client.post(UPLOAD, json={"text": PETROL, "date": "30/11/2023"}).status_code == 422
    response = client.post(UPLOAD, files={"file": ("b.txt", b"Hai."), "date": (None, "30/11/2023")})
    assert response.status_code == 400 and "ISO date" in response.json()["error"]["message"]


def test_a_pdf_upload_lists_its_pages_and_serves_each_page_with_the_span_highlighted(
    client: TestClient, fake_pipeline: FakePipeline, settings, fake_embedder, tmp_path
) -> None:
    from tests.makers.pdf import report_pdf
    from viqa.index.ingest import ingest_documents
    from viqa.index.store import Collection

    pdf = report_pdf("Giá xăng\n\nGiá xăng RON 95 tháng 11 là 23 nghìn đồng.\n", tmp_path / "gia-xang.pdf")
    _upload_and_wait(client, files={"file": ("gia-xang.pdf", pdf.read_bytes(), "application/pdf")})
    doc = fake_pipeline.collections["default"]["gia-xang"]
    assert doc.format == "pdf" and doc.source == pdf.read_bytes()
    listed = next(d for d in client.get(UPLOAD).json()["documents"] if d["doc_id"] == "gia-xang")
    assert (listed["format"], listed["pages"]) == ("pdf", len(doc.pages))
    store = Collection(settings.collections_dir, "default")
    (store.path / "CURRENT").unlink()  # the fake index's stand-in generation: index the PDF for real
    ingest_documents(store, [doc], fake_embedder, settings)
    start = doc.text.index("23 nghìn đồng")
    image = client.get(f"{UPLOAD}/gia-xang/pages/1.png", params={"start": start, "end": start + 13})
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    beyond = client.get(f"{UPLOAD}/gia-xang/pages/{len(doc.pages) + 1}.png")
    assert beyond.status_code == 404 and f"has {len(doc.pages)} pages" in beyond.json()["error"]["message"]


def test_of_several_files_those_that_cannot_be_read_are_listed_in_the_job_and_the_others_indexed(
    client: TestClient, fake_pipeline: FakePipeline
) -> None:
    files = [("gia.txt", PETROL.encode()), ("rong.txt", b"  \n"), ("hong.pdf", b"%PDF-1.7 cut"),
             ("emoji.txt", "🎉".encode())]
    job = _upload_and_wait(client, files=[("file", f) for f in files])
    assert job["status"] == "done" and job["report"]["added"] == ["gia"]
    failed = job["report"]["failed"]
    assert set(failed) == {"rong.txt", "hong.pdf", "emoji.txt"} and "empty" in failed["rong.txt"]
    assert "gia" in fake_pipeline.collections["default"]


def test_several_files_none_readable_is_one_400_naming_each(client: TestClient, fake_index: FakeIndex) -> None:
    response = client.post(UPLOAD, files=[("file", ("rong.txt", b"  \n")), ("file", ("hong.pdf", b"%PDF-1.7"))])
    assert response.status_code == 400 and fake_index.calls == []
    message = response.json()["error"]["message"]
    assert "rong.txt" in message and "hong.pdf" in message
