"""The Milvus store (Milvus Lite in a temporary folder): what goes in comes back exactly, it ranks as the file
store does, and a change is whole or not at all."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from tests.fakes import FakeEmbedder, make_document  # noqa: E402
from tests.paths import SAMPLE  # noqa: E402
from viqa.errors import NotFoundError, StoreUnavailableError  # noqa: E402
from viqa.index.ingest import compact, delete_documents, ingest_documents, ingest_paths  # noqa: E402
from viqa.index.milvus import PIECE_CHARS, MilvusCollection, milvus_name  # noqa: E402
from viqa.index.store import Collection  # noqa: E402
from viqa.index.stores import collection_names, open_collection  # noqa: E402
from viqa.qa.milvus_retrieval import MilvusRetriever  # noqa: E402
from viqa.qa.retrieval import Retriever  # noqa: E402
from viqa.settings import Settings  # noqa: E402
from viqa.types import Document, Filter  # noqa: E402

QUERIES = ["Kim ngạch xuất khẩu tháng 11 ước đạt bao nhiêu?", "tổng đàn trâu", "chỉ số giá tiêu dùng",
           "vốn đầu tư công giải ngân"]


@pytest.fixture
def milvus_settings(settings: Settings, tmp_path) -> Settings:
    return settings.model_copy(update={"store": "milvus", "milvus_uri": str(tmp_path / "milvus.db")})


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    """The bundled report ingested into the file store and into Milvus Lite: (files retriever, Milvus retriever)."""
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home)
    milvus_settings = settings.model_copy(update={"store": "milvus", "milvus_uri": str(home / "milvus.db")})
    embedder = FakeEmbedder()
    files = Collection(settings.collections_dir, "report")
    ingest_paths(files, [SAMPLE], embedder, settings)
    milvus = open_collection(milvus_settings, "report")
    assert isinstance(milvus, MilvusCollection)
    ingest_paths(milvus, [SAMPLE], embedder, milvus_settings)
    return (Retriever(files, embedder, settings).load(),
            MilvusRetriever(milvus, embedder, milvus_settings).load())


def test_passages_and_documents_round_trip_exactly(both) -> None:
    files, milvus = both
    assert milvus.chunks == files.chunks  # text, clean text, offset maps, headings, footnote links
    (doc_id,) = list(milvus.documents)
    assert milvus.documents[doc_id] == files.documents[doc_id]
    assert [d for d, _ in milvus.listing()] == [d for d, _ in files.listing()]
    assert [n for _, n in milvus.listing()] == [n for _, n in files.listing()]
    assert milvus.passage_counts() == files.passage_counts()


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_search_ranks_as_the_file_store_does(both, mode: str) -> None:
    files, milvus = both
    for query in QUERIES:
        want, got = files.search(query, k=5, mode=mode), milvus.search(query, k=5, mode=mode)
        assert [h.chunk.chunk_id for h in got] == [h.chunk.chunk_id for h in want], query
        assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-3)


def test_bm25_scores_are_the_file_stores(both) -> None:
    files, milvus = both
    for query in QUERIES:
        want = {h.chunk.chunk_id: h.bm25_score for h in files.search(query, k=10, mode="bm25")}
        got = {h.chunk.chunk_id: h.bm25_score for h in milvus.search(query, k=10, mode="bm25")}
        assert got == pytest.approx(want, rel=1e-3)


def test_citation_offsets_slice_the_stored_text(both) -> None:
    _, milvus = both
    hit = milvus.search(QUERIES[0], k=1)[0]
    doc = milvus.documents[hit.chunk.doc_id]
    assert doc.text[hit.chunk.char_start : hit.chunk.char_end] == hit.chunk.text


def _docs(milvus_settings: Settings, embedder: FakeEmbedder, *docs: Document) -> MilvusRetriever:
    coll = open_collection(milvus_settings, "loc")
    ingest_documents(coll, list(docs), embedder, milvus_settings)
    return MilvusRetriever(coll, embedder, milvus_settings)  # type: ignore[arg-type]


def _rows(coll: MilvusCollection) -> int:
    return len(coll.client.rows(coll.chunks_name, "id >= 0", ["id"]))


def test_a_replaced_document_leaves_no_old_passages(milvus_settings, fake_embedder) -> None:
    retriever = _docs(milvus_settings, fake_embedder, make_document("a", "Lúa gạo tăng 5 phần trăm. " * 40),
                      make_document("b", "Trâu bò có 120 nghìn con."))
    coll = retriever.collection
    report = ingest_documents(coll, [make_document("a", "Cà phê giảm 3 phần trăm.")], fake_embedder, milvus_settings)
    assert report.replaced == ["a"]
    assert _rows(coll) == coll.count() == report.chunks == 2
    assert not any("Lúa gạo" in h.chunk.text for h in retriever.search("lúa gạo", k=5))
    assert "Cà phê" in retriever.documents["a"].text


def test_unchanged_documents_are_skipped_and_nothing_is_embedded(milvus_settings, fake_embedder) -> None:
    doc = make_document("a", "Lúa gạo tăng 5 phần trăm.")
    retriever = _docs(milvus_settings, fake_embedder, doc)
    calls = fake_embedder.calls
    report = ingest_documents(retriever.collection, [doc], fake_embedder, milvus_settings)
    assert report.skipped == ["a"] and fake_embedder.calls == calls


def test_a_delete_removes_the_document_and_its_passages(milvus_settings, fake_embedder) -> None:
    retriever = _docs(milvus_settings, fake_embedder, make_document("a", "Lúa gạo tăng."),
                      make_document("b", "Trâu bò có 120 nghìn con."))
    coll = retriever.collection
    report = delete_documents(coll, ["a"], fake_embedder, milvus_settings)
    assert report.deleted == ["a"] and report.chunks == 1 == _rows(coll)
    assert list(retriever.documents) == ["b"]
    assert {h.chunk.doc_id for h in retriever.search("lúa gạo trâu bò", k=5)} == {"b"}
    with pytest.raises(NotFoundError):
        delete_documents(coll, ["a"], fake_embedder, milvus_settings)
    assert compact(coll, milvus_settings).chunks == 1


def test_long_texts_and_pdf_sources_come_back_whole(milvus_settings, fake_embedder) -> None:
    text = "Sản lượng lúa đạt 300 nghìn tấn. " * (PIECE_CHARS // 10)
    source = np.random.default_rng(7).bytes(200_000)
    doc = Document("dai", "Báo cáo dài", "dai.pdf", text, hashlib.sha256(text.encode()).hexdigest(),
                   pages=(0, len(text) // 2), format="pdf", source=source)
    retriever = _docs(milvus_settings, fake_embedder, doc)
    stored = retriever.documents["dai"]
    assert stored.text == text and stored.pages == doc.pages and stored.format == "pdf"
    assert retriever.collection.source("dai") == source


def test_filters_keep_to_the_admitted_documents(milvus_settings, fake_embedder) -> None:
    a = Document("bc-11", "Báo cáo tháng 11", "a.txt", "Xuất khẩu tháng 11 đạt 280 triệu USD.", "x1",
                 date="2023-11-30", tags=("kinh-te",))
    b = Document("tin", "Tin văn hóa", "b.txt", "Lễ hội có 20 nghìn khách; xuất khẩu không đổi.", "x2",
                 tags=("van-hoa",))
    retriever = _docs(milvus_settings, fake_embedder, a, b)
    query = "xuất khẩu tháng 11"
    assert [h.chunk.doc_id for h in retriever.search(query, k=1)] == ["bc-11"]
    assert [h.chunk.doc_id for h in retriever.search(query, where=Filter(tags=frozenset({"van-hoa"})))] == ["tin"]
    assert [h.chunk.doc_id for h in retriever.search(query, where=Filter(date_from="2023-11-01"))] == ["bc-11"]
    assert retriever.search(query, where=Filter(doc_ids=frozenset({"khong-co"}))) == []


def test_an_interrupted_change_is_never_seen_and_is_undone_by_the_next(milvus_settings, fake_embedder,
                                                                      monkeypatch) -> None:
    retriever = _docs(milvus_settings, fake_embedder, make_document("a", "Lúa gạo tăng 5 phần trăm."))
    coll = retriever.collection
    real_upsert = coll.client._client.upsert

    def dies_at_the_commit_point(collection, rows, **kwargs):
        if collection == coll.docs_name:
            raise RuntimeError("connection reset")
        return real_upsert(collection, rows, **kwargs)

    monkeypatch.setattr(coll.client._client, "upsert", dies_at_the_commit_point)
    with pytest.raises(StoreUnavailableError, match="connection reset"):
        ingest_documents(coll, [make_document("a", "Cà phê giảm."), make_document("b", "Trâu bò tăng.")],
                         fake_embedder, milvus_settings)
    monkeypatch.undo()
    assert list(retriever.documents) == ["a"] and "Lúa gạo" in retriever.documents["a"].text
    assert {h.chunk.doc_id for h in retriever.search("cà phê trâu bò lúa gạo", k=5)} == {"a"}
    ingest_documents(coll, [make_document("c", "Thủy sản tăng.")], fake_embedder, milvus_settings)
    assert _rows(coll) == coll.count() == 2  # the interrupted change's passages are gone


def test_collections_are_listed_by_their_viqa_names(milvus_settings, fake_embedder) -> None:
    for name in ("bao-cao.2023", "bao_cao"):
        ingest_documents(open_collection(milvus_settings, name), [make_document("a", "Lúa gạo.")], fake_embedder,
                         milvus_settings)
    assert collection_names(milvus_settings) == ["bao-cao.2023", "bao_cao"]
    assert milvus_name("bao-cao.2023") != milvus_name("bao_cao.2023")
    open_collection(milvus_settings, "bao_cao").delete()
    assert collection_names(milvus_settings) == ["bao-cao.2023"]


def test_an_unknown_collection_is_not_found(milvus_settings, fake_embedder) -> None:
    coll = open_collection(milvus_settings, "chua-co")
    with pytest.raises(NotFoundError, match="no index yet"):
        MilvusRetriever(coll, fake_embedder, milvus_settings).load()  # type: ignore[arg-type]


def test_an_unreachable_milvus_server_is_one_line(settings: Settings) -> None:
    unreachable = settings.model_copy(update={"store": "milvus", "milvus_uri": "http://127.0.0.1:1"})
    with pytest.raises(StoreUnavailableError, match=r"^cannot open Milvus at http://127.0.0.1:1: [^\n]+$"):
        collection_names(unreachable)
