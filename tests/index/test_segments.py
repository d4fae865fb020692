"""Segments, as Lucene keeps them: an ingest writes one new immutable segment and leaves the others as they are, a
delete writes tombstones, a merge folds segments into one that searches exactly as they did and embeds nothing,
a crash mid-merge leaves the old generation live, hits read their text from disk, and a collection written before
segments still reads."""

from __future__ import annotations

import gc
import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import FakeEmbedder
from viqa.index import store
from viqa.index.chunking import chunk_document
from viqa.index.ingest import chunking_of, compact, delete_documents, ingest_documents
from viqa.index.segments import IndexState, write_meta
from viqa.index.store import Collection, StorageError, StoreIO, build_faiss
from viqa.qa.retrieval import Retriever
from viqa.settings import Settings
from viqa.text.normalise import NORMALISER_VERSION
from viqa.text.segment import lexical_tokens
from viqa.types import Chunk, Document, Filter

TEXTS = {
    "xuat-khau": "Kim ngạch xuất khẩu tháng 11 ước đạt 45,6 triệu USD, tăng 12% so với cùng kỳ năm trước.",
    "nhap-khau": "Kim ngạch nhập khẩu tháng 11 ước đạt 38,2 triệu USD. Hàng nhập chủ yếu là máy móc, thiết bị.",
    "chan-nuoi": "Tổng đàn trâu của tỉnh có 120 nghìn con, đàn bò có 45 nghìn con; đàn lợn giảm 3%.",
    "du-lich": "Tháng 11 tỉnh đón 350 nghìn lượt khách du lịch, doanh thu du lịch đạt 420 tỷ đồng.",
    "ngan-sach": "Thu ngân sách nhà nước trên địa bàn tháng 11 ước đạt 610 tỷ đồng, chi ngân sách 980 tỷ đồng.",
    "giao-thong": "Trong tháng xảy ra 12 vụ tai nạn giao thông, làm chết 7 người, bị thương 9 người.",
}
QUERIES = ["kim ngạch xuất khẩu tháng 11", "đàn trâu bò của tỉnh", "khách du lịch và doanh thu",
           "thu chi ngân sách nhà nước", "tai nạn giao thông làm chết bao nhiêu người", "máy móc thiết bị nhập khẩu",
           "tỷ đồng", "tháng 11 ước đạt"]


def _doc(doc_id: str, text: str | None = None) -> Document:
    text = TEXTS[doc_id] if text is None else text
    return Document(doc_id, doc_id, f"upload:{doc_id}", text, hashlib.sha256(text.encode()).hexdigest())


def _collection(settings: Settings) -> Collection:
    return Collection(settings.collections_dir, "test")


def _segments(coll: Collection) -> list[str]:
    return [s["name"] for s in coll.manifest()["segments"]]


def _files(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``folder``: its modification time (ns) and its bytes."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _results(retriever: Retriever) -> list[list[tuple[str, float]]]:
    """For each query and mode, the hits' chunk ids and scores, best first."""
    return [[(h.chunk.chunk_id, h.score) for h in retriever.search(q, k=10, mode=mode)]
            for q in QUERIES for mode in ("hybrid", "dense", "bm25")]


def _on_disk(coll: Collection) -> list[str]:
    live = coll.current_generation()
    return sorted([".lock", "CURRENT", live.name, *(s.name for s in coll.generation(live).segments)])


def test_adding_documents_writes_a_second_segment_and_leaves_the_first_untouched(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    coll = _collection(settings)
    ingest_documents(coll, [_doc("xuat-khau"), _doc("nhap-khau")], fake_embedder, settings)
    (first,) = _segments(coll)
    before = _files(coll.path / first)
    embedded = fake_embedder.calls
    report = ingest_documents(coll, [_doc("xuat-khau"), _doc("du-lich")], fake_embedder, settings)
    assert report.added == ["du-lich"] and report.skipped == ["xuat-khau"]
    assert _segments(coll)[0] == first and len(_segments(coll)) == 2
    assert _files(coll.path / first) == before  # same files, same bytes, same mtime
    assert fake_embedder.calls - embedded == 1  # du-lich's one passage, nothing else
    hits = Retriever(coll, fake_embedder, settings).search("khách du lịch", k=1)
    assert hits[0].chunk.doc_id == "du-lich"
    assert coll.manifest()["documents"] == 3


@pytest.mark.parametrize(("large_index", "faiss_type"),
                         [("sq8", "IndexScalarQuantizer"), ("ivf_sq8", "IndexIVFScalarQuantizer")])
def test_a_large_quantised_segment_reads_back_and_ranks_as_exact_search(
    settings: Settings, fake_embedder: FakeEmbedder, large_index: str, faiss_type: str
) -> None:
    exact_coll = Collection(settings.collections_dir, "exact")
    ingest_documents(exact_coll, [_doc(d) for d in TEXTS], fake_embedder, settings)
    quantised_settings = settings.model_copy(update={"hnsw_threshold": 2, "large_index": large_index})
    coll = _collection(quantised_settings)
    ingest_documents(coll, [_doc(d) for d in TEXTS], fake_embedder, quantised_settings)
    (name,) = _segments(coll)
    assert json.loads((coll.path / name / "segment.json").read_text())["faiss"] == faiss_type
    for query in QUERIES:
        exact, quantised = (Retriever(c, fake_embedder, settings).search(query, k=3, mode="dense")
                            for c in (exact_coll, coll))
        assert [h.chunk.chunk_id for h in quantised] == [h.chunk.chunk_id for h in exact]
        assert [h.score for h in quantised] == pytest.approx([h.score for h in exact], abs=0.01)
    only = Filter(doc_ids=frozenset({"du-lich", "chan-nuoi"}))
    filtered = Retriever(coll, fake_embedder, settings).search(QUERIES[0], k=5, mode="dense", where=only)
    assert {h.chunk.doc_id for h in filtered} == {"du-lich", "chan-nuoi"}


def test_a_delete_writes_tombstones_only_and_the_document_is_gone_from_search(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    settings = settings.model_copy(update={"delete_purges": False})
    coll = _collection(settings)
    ingest_documents(coll, [_doc(d) for d in ("xuat-khau", "nhap-khau", "du-lich")], fake_embedder, settings)
    retriever = Retriever(coll, fake_embedder, settings)
    rows = retriever.search(TEXTS["nhap-khau"], k=3, mode="bm25")
    assert rows[0].chunk.doc_id == "nhap-khau"
    (segment,) = _segments(coll)
    before = _files(coll.path / segment)
    delete_documents(coll, ["nhap-khau"], fake_embedder, settings)
    assert _segments(coll) == [segment] and _files(coll.path / segment) == before  # no segment written or changed
    manifest = coll.manifest()
    assert manifest["segments"][0]["deleted_documents"] == ["nhap-khau"] and manifest["documents"] == 2
    tombstones = np.load(coll.current_generation() / f"{segment}.deleted.npy")
    assert len(tombstones) == manifest["segments"][0]["deleted"] == 1
    assert sorted(p.name for p in coll.path.iterdir()) == _on_disk(coll)
    for query in [TEXTS["nhap-khau"], *QUERIES]:
        for mode in ("hybrid", "dense", "bm25"):
            assert "nhap-khau" not in {h.chunk.doc_id for h in retriever.search(query, k=10, mode=mode)}
    assert "nhap-khau" not in retriever.documents and "nhap-khau" not in retriever.passage_counts()


def test_a_replaced_documents_old_rows_never_come_back(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    settings = settings.model_copy(update={"delete_purges": False})
    coll = _collection(settings)
    old_text = "Giá xăng RON 95 giảm 300 đồng mỗi lít từ chiều nay, theo liên bộ Công Thương và Tài chính."
    ingest_documents(coll, [_doc("xang", old_text), _doc("chan-nuoi")], fake_embedder, settings)
    retriever = Retriever(coll, fake_embedder, settings)
    old_ids = {c.chunk_id for c in retriever.chunks if c.doc_id == "xang"}
    assert ingest_documents(coll, [_doc("xang", "Giá dầu diesel tăng 200 đồng mỗi lít.")], fake_embedder,
                            settings).replaced == ["xang"]

    def assert_gone() -> None:
        for mode in ("hybrid", "dense", "bm25"):
            hits = retriever.search(old_text, k=10, mode=mode)
            assert not old_ids & {h.chunk.chunk_id for h in hits}, mode
        assert "RON 95" not in retriever.documents["xang"].text and retriever.passage_counts()["xang"] == 1

    assert_gone()
    ingest_documents(coll, [_doc("du-lich")], fake_embedder, settings)  # tombstones carry into later generations
    assert_gone()
    delete_documents(coll, ["du-lich"], fake_embedder, settings)
    assert_gone()
    compact(coll, settings)
    assert_gone()


def test_a_merge_gives_one_segment_that_searches_exactly_as_the_segments_did_and_embeds_nothing(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    settings = settings.model_copy(update={"delete_purges": False})
    coll = _collection(settings)
    for batch in (["xuat-khau", "nhap-khau"], ["chan-nuoi", "du-lich"], ["ngan-sach", "giao-thong"]):
        ingest_documents(coll, [_doc(d) for d in batch], fake_embedder, settings)
    ingest_documents(coll, [_doc("chan-nuoi", "Đàn gà của tỉnh có 2,1 triệu con.")], fake_embedder, settings)
    delete_documents(coll, ["nhap-khau"], fake_embedder, settings)
    assert len(_segments(coll)) == 4 and any(s["deleted"] for s in coll.manifest()["segments"])
    split = _results(Retriever(coll, fake_embedder, settings))
    embedded = fake_embedder.calls

    done = compact(coll, settings)

    assert (done.segments_before, done.segments_after, done.dropped_rows) == (4, 1, 2)
    (segment,) = coll.manifest()["segments"]
    assert segment["deleted"] == 0 and segment["deleted_documents"] == []
    assert fake_embedder.calls == embedded  # the stored vectors are reused
    merged = _results(Retriever(coll, fake_embedder, settings))
    assert [[cid for cid, _ in hits] for hits in merged] == [[cid for cid, _ in hits] for hits in split]
    assert [s for hits in merged for _, s in hits] == pytest.approx([s for hits in split for _, s in hits], abs=1e-9)
    assert sorted(p.name for p in coll.path.iterdir()) == _on_disk(coll)  # the old segments are gone
    assert compact(coll, settings).segments_after == 1 and _segments(coll) == [segment["name"]]  # nothing to do


def test_an_ingest_past_max_segments_folds_the_smallest_into_its_new_segment(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    settings = settings.model_copy(update={"max_segments": 3})
    coll = _collection(settings)
    for doc_id in TEXTS:
        embedded = fake_embedder.calls
        ingest_documents(coll, [_doc(doc_id)], fake_embedder, settings)
        assert fake_embedder.calls - embedded == 1 and len(_segments(coll)) <= 3
    retriever = Retriever(coll, fake_embedder, settings)
    assert set(retriever.documents) == set(TEXTS)
    for doc_id, text in TEXTS.items():
        assert retriever.search(text, k=1)[0].chunk.doc_id == doc_id
    assert sorted(p.name for p in coll.path.iterdir()) == _on_disk(coll)


def test_a_merge_that_fails_midway_leaves_the_old_generation_live_and_nothing_behind(
    settings: Settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll = _collection(settings)
    for doc_id in ("xuat-khau", "chan-nuoi", "du-lich"):
        ingest_documents(coll, [_doc(doc_id)], fake_embedder, settings)
    live, on_disk = coll.current_generation(), _on_disk(coll)
    before = _results(Retriever(coll, fake_embedder, settings))

    import faiss

    def full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", full)
    with pytest.raises(StorageError, match="disk full"):
        compact(coll, settings)
    monkeypatch.undo()
    assert coll.current_generation() == live and sorted(p.name for p in coll.path.iterdir()) == on_disk
    assert _results(Retriever(coll, fake_embedder, settings)) == before


class _Dies(StoreIO):
    """The store's I/O, dying (an exception nothing catches: no cleanup runs) at the write of ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def step(self, what: str, path: Path) -> None:
        if what == "write" and path.name == self.name:
            raise KeyboardInterrupt(f"killed writing {path}")


@pytest.mark.parametrize("at", ["meta.sqlite", "segment.json", "manifest.json", "CURRENT.tmp"])
def test_a_merge_killed_midway_leaves_the_old_generation_live_and_the_next_commit_cleans_up(
    settings: Settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch, at: str
) -> None:
    coll = _collection(settings)
    for doc_id in ("xuat-khau", "chan-nuoi"):
        ingest_documents(coll, [_doc(doc_id)], fake_embedder, settings)
    live, on_disk = coll.current_generation(), _on_disk(coll)
    before = _results(Retriever(coll, fake_embedder, settings))
    monkeypatch.setattr(store, "IO", _Dies(at))
    with pytest.raises(KeyboardInterrupt):
        compact(coll, settings)
    monkeypatch.setattr(store, "IO", StoreIO())
    assert coll.current_generation() == live and sorted(p.name for p in coll.path.iterdir()) != on_disk  # leftovers
    assert _results(Retriever(Collection(coll.path.parent, coll.name), fake_embedder, settings)) == before
    ingest_documents(coll, [_doc("du-lich")], fake_embedder, settings)  # the next commit
    assert sorted(p.name for p in coll.path.iterdir()) == _on_disk(coll)
    assert len(_segments(coll)) == 3


def test_a_merge_in_a_killed_process_leaves_the_old_generation_live_and_the_next_commit_cleans_up(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    coll = _collection(settings)
    for doc_id in ("xuat-khau", "chan-nuoi", "du-lich"):
        ingest_documents(coll, [_doc(doc_id)], fake_embedder, settings)
    live = coll.current_generation()
    before = _results(Retriever(coll, fake_embedder, settings))
    script = textwrap.dedent(
        """
        import os, numpy as np
        from viqa.index.ingest import compact
        from viqa.index.store import Collection
        from viqa.settings import get_settings
        def save_then_die(path, arr, **kw):  # write half of the merged vectors, then get SIGKILLed
            with open(path, "wb") as fh:
                fh.write(b"\\x93NUMPY" + b"\\0" * 100)
                fh.flush()
            os.kill(os.getpid(), 9)
        np.save = save_then_die
        s = get_settings()
        compact(Collection(s.collections_dir, "test"), s)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert coll.current_generation() == live and list(coll.path.glob(".tmp-seg-*"))
    assert _results(Retriever(Collection(coll.path.parent, coll.name), fake_embedder, settings)) == before
    ingest_documents(coll, [_doc("ngan-sach")], fake_embedder, settings)
    assert sorted(p.name for p in coll.path.iterdir()) == _on_disk(coll) and len(_segments(coll)) == 4


def test_hits_read_their_text_from_disk_and_no_passage_or_text_stays_in_memory(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    coll = _collection(settings)
    ingest_documents(coll, [_doc("xuat-khau"), _doc("chan-nuoi")], fake_embedder, settings)
    ingest_documents(coll, [_doc(d) for d in ("du-lich", "ngan-sach", "giao-thong")], fake_embedder, settings)
    gc.collect()
    others = [o for o in gc.get_objects() if type(o) in (Chunk, Document)]  # what other tests left alive
    seen = {id(o) for o in others}
    retriever = Retriever(coll, fake_embedder, settings).load()
    gc.collect()
    held = [o for o in gc.get_objects() if type(o) in (Chunk, Document) and id(o) not in seen]
    assert not [o for o in held if type(o) is Chunk]  # no passage is held
    assert not [o for o in held if type(o) is Document and o.text]  # nor any document's text
    for part in retriever._loaded.parts:  # BM25 is memory-mapped; FAISS is the index held in RAM
        assert isinstance(part.opened.lexical.data, np.memmap) and part.opened.faiss_index.ntotal == part.rows
    for query in QUERIES:
        for hit in retriever.search(query, k=3):
            chunk = hit.chunk
            assert chunk.text == TEXTS[chunk.doc_id][chunk.char_start : chunk.char_end]
            assert chunk.text == retriever.documents[chunk.doc_id].text[chunk.char_start : chunk.char_end]
            start, end = chunk.original_span(0, len(chunk.clean))
            assert TEXTS[chunk.doc_id][start:end].strip() == chunk.clean.strip()


def test_a_reload_after_an_ingest_opens_only_the_new_segment(
    settings: Settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viqa.qa import retrieval

    coll = _collection(settings)
    ingest_documents(coll, [_doc("xuat-khau")], fake_embedder, settings)
    retriever = Retriever(coll, fake_embedder, settings).load()
    opened: list[Path] = []
    real_open = retrieval._Opened.open.__func__

    def spy(cls, seg, settings):
        opened.append(seg.path)
        return real_open(cls, seg, settings)

    monkeypatch.setattr(retrieval._Opened, "open", classmethod(spy))
    ingest_documents(coll, [_doc("du-lich")], fake_embedder, settings)
    assert retriever.search("khách du lịch", k=1)[0].chunk.doc_id == "du-lich"
    assert [p.name for p in opened] == [_segments(coll)[1]]


def _write_old_layout(coll: Collection, documents: list[Document], embedder: FakeEmbedder, settings: Settings) -> None:
    """A collection as viqa wrote it before segments: one ``gen-<n>`` folder holding meta.sqlite, vectors.npy,
    dense.faiss, bm25/ and manifest.json (format 1), and CURRENT naming it."""
    import bm25s
    import faiss

    s = settings
    chunks = [c for d in documents for c in chunk_document(d, s.chunk_syllables, s.chunk_overlap_sentences,
                                                           max_syllables=s.max_chunk_syllables)]
    tokens = [lexical_tokens(c.clean) for c in chunks]
    vectors = embedder.encode_passages([c.clean for c in chunks])
    gen = coll.path / "gen-1700000000000"
    gen.mkdir(parents=True)
    write_meta(gen / "meta.sqlite", IndexState({d.doc_id: d for d in documents}, chunks, vectors, tokens))
    np.save(gen / "vectors.npy", vectors, allow_pickle=False)
    faiss.write_index(build_faiss(vectors, settings), str(gen / "dense.faiss"))
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    bm25.save(str(gen / "bm25"), show_progress=False)
    manifest = {"format": 1, "normaliser": NORMALISER_VERSION, "documents": len(documents), "chunks": len(chunks),
                "created": "2026-11-30T08:00:00Z", "embedder": embedder.id, "dim": embedder.dim,
                "chunking": chunking_of(settings), "faiss": "IndexFlatIP",
                "lexical": "bm25s: syllables + underthesea words"}
    (gen / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (coll.path / "CURRENT").write_text(gen.name)


def test_a_collection_in_the_layout_before_segments_reads_takes_new_documents_and_merges(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    coll = _collection(settings)
    pdf = Document("bao-cao", "Báo cáo", "bao-cao.pdf", TEXTS["xuat-khau"] + "\n\n" + TEXTS["chan-nuoi"],
                   "sha-pdf", pages=(0, len(TEXTS["xuat-khau"]) + 2), format="pdf", source=b"%PDF-1.7 bytes")
    _write_old_layout(coll, [pdf, _doc("du-lich")], fake_embedder, settings)
    old = coll.current_generation()

    retriever = Retriever(coll, fake_embedder, settings)
    top = retriever.search("đàn trâu bò", k=1)[0].chunk
    assert top.doc_id == "bao-cao" and pdf.text[top.char_start : top.char_end] == top.text
    assert coll.manifest()["chunks"] == len(retriever.chunks) and coll.source("bao-cao") == b"%PDF-1.7 bytes"
    before = _results(retriever)

    assert ingest_documents(coll, [_doc("ngan-sach")], fake_embedder, settings).added == ["ngan-sach"]
    manifest = coll.manifest()
    assert manifest["format"] == store.FORMAT_VERSION and len(manifest["segments"]) == 2
    assert not old.exists() and sorted(p.name for p in coll.path.iterdir()) == _on_disk(coll)
    assert retriever.search("thu ngân sách", k=1)[0].chunk.doc_id == "ngan-sach"
    assert coll.source("bao-cao") == b"%PDF-1.7 bytes"
    delete_documents(coll, ["ngan-sach"], fake_embedder, settings)
    assert _results(Retriever(coll, fake_embedder, settings)) == before  # the old segment ranks as it did
    compact(coll, settings)
    assert len(_segments(coll)) == 1 and set(Retriever(coll, fake_embedder, settings).documents) == {"bao-cao",
                                                                                                    "du-lich"}


def test_viqa_compact_merges_a_collection_on_the_command_line(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    from typer.testing import CliRunner

    from viqa.cli import app

    coll = _collection(settings)
    for doc_id in ("xuat-khau", "chan-nuoi"):
        ingest_documents(coll, [_doc(doc_id)], fake_embedder, settings)
    result = CliRunner().invoke(app, ["compact", "-c", "test"])
    assert result.exit_code == 0 and result.stdout.startswith("test: 2 segments → 1, 0 deleted passages dropped; 2 ")
    assert len(_segments(coll)) == 1
    result = CliRunner().invoke(app, ["compact", "-c", "khong-co"])
    assert result.exit_code != 0 and "viqa ingest" in result.stderr and "Traceback" not in result.stderr
    assert not (settings.collections_dir / "khong-co").exists()
