"""Retrieval keeps to the documents a filter admits: both retrievers search only those, before fusion."""

from __future__ import annotations

import hashlib

import pytest

from tests.fakes import FakeEmbedder
from viqa.index.ingest import ingest_documents
from viqa.index.store import Collection
from viqa.qa.retrieval import Retriever
from viqa.settings import Settings
from viqa.types import Document, Filter

TEXTS = {
    "bc-11": ("Báo cáo tháng 11", "2023-11-30", ("kinh-te",), "Kim ngạch xuất khẩu tháng 11 đạt 280 triệu USD."),
    "bc-10": ("Báo cáo tháng 10", "2023-10-31", ("kinh-te",), "Kim ngạch xuất khẩu tháng 10 đạt 250 triệu USD."),
    "tin": ("Tin văn hóa", None, ("van-hoa",), "Lễ hội hoa đào có 20 nghìn khách; xuất khẩu không đổi."),
}


@pytest.fixture
def retriever(settings: Settings, fake_embedder: FakeEmbedder) -> Retriever:
    docs = [Document(i, title, f"{i}.txt", text, hashlib.sha256(text.encode()).hexdigest(), date, tags)
            for i, (title, date, tags, text) in TEXTS.items()]
    coll = Collection(settings.collections_dir, "loc")
    ingest_documents(coll, docs, fake_embedder, settings)
    return Retriever(coll, fake_embedder, settings)


def _docs(hits) -> list[str]:
    return [h.chunk.doc_id for h in hits]


def test_a_filter_applies_before_the_top_k_cut(retriever: Retriever) -> None:
    query = "Kim ngạch xuất khẩu tháng 11"
    assert _docs(retriever.search(query, k=1)) == ["bc-11"]
    assert _docs(retriever.search(query, k=1, where=Filter(doc_ids=frozenset({"tin"})))) == ["tin"]
    for mode in ("dense", "bm25"):
        assert set(_docs(retriever.search(query, k=3, mode=mode, where=Filter(doc_ids=frozenset({"bc-10"}))))) <= {
            "bc-10"}


def test_title_tags_and_dates_filter_as_documented(retriever: Retriever) -> None:
    query = "xuất khẩu"
    assert set(_docs(retriever.search(query, where=Filter(title="BÁO CÁO THÁNG 1")))) == {"bc-11", "bc-10"}
    assert set(_docs(retriever.search(query, where=Filter(tags=frozenset({"van-hoa"}))))) == {"tin"}
    assert _docs(retriever.search(query, where=Filter(date_from="2023-11-01"))) == ["bc-11"]
    assert _docs(retriever.search(query, where=Filter(date_to="2023-10-31"))) == ["bc-10"]  # undated "tin" fails


def test_a_filter_that_admits_nothing_finds_nothing(retriever: Retriever) -> None:
    assert retriever.search("xuất khẩu", where=Filter(doc_ids=frozenset({"khong-co"}))) == []


def test_the_document_listing_reads_no_text(settings, fake_embedder, sample_copy, monkeypatch) -> None:
    from viqa.index.ingest import ingest_paths
    from viqa.index.segments import SegmentReader

    coll = Collection(settings.collections_dir, "listing")
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    retriever = Retriever(coll, fake_embedder, settings).load()

    def no_text(self, doc_id):
        raise AssertionError("a listing read a document's text")

    monkeypatch.setattr(SegmentReader, "document", no_text)
    ((doc, chars),) = retriever.listing()
    assert doc.doc_id == sample_copy.stem and doc.text == ""
    assert chars == len(sample_copy.read_text(encoding="utf-8"))
