"""The collection store: incremental ingest, atomic generations, crash safety (with a fake embedder)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fakes import FakeEmbedder
from tests.paths import SAMPLE
from viqa.errors import InputError, NotFoundError
from viqa.index.ingest import delete_documents, ingest_paths
from viqa.index.store import Collection, StorageError, list_collections, validate_name
from viqa.qa.retrieval import Retriever


def _collection(settings) -> Collection:
    return Collection(settings.collections_dir, "test")


def _meta_of(coll: Collection, doc_id: str) -> Path:
    """The meta.sqlite of the live segment that holds ``doc_id``."""
    import sqlite3

    for entry in coll.manifest()["segments"]:
        meta = coll.path / entry["name"] / "meta.sqlite"
        con = sqlite3.connect(meta)
        try:
            if con.execute("SELECT 1 FROM documents WHERE doc_id = ?", (doc_id,)).fetchone():
                return meta
        finally:
            con.close()
    raise AssertionError(f"no live segment holds {doc_id!r}")


def test_reingesting_an_unchanged_file_is_skipped(settings, fake_embedder, sample_copy: Path) -> None:
    coll = _collection(settings)
    first = ingest_paths(coll, [sample_copy], fake_embedder, settings)
    generation = coll.current_generation()
    embedded = fake_embedder.calls
    second = ingest_paths(coll, [sample_copy], fake_embedder, settings)
    assert first.added and second.skipped == first.added and not second.changed
    assert coll.current_generation() == generation and fake_embedder.calls == embedded


def test_a_changed_file_replaces_its_document_and_only_it_is_embedded(
    settings, fake_embedder, sample_copy: Path, tmp_path: Path
) -> None:
    coll = _collection(settings)
    other = tmp_path / "docs" / "other.txt"
    other.write_text("Huyện Lộc Bình có 21 xã. Dân số huyện là 80.000 người.", encoding="utf-8")
    ingest_paths(coll, [sample_copy.parent], fake_embedder, settings)
    before = fake_embedder.calls
    other.write_text("Huyện Lộc Bình có 22 xã.", encoding="utf-8")
    report = ingest_paths(coll, [sample_copy.parent], fake_embedder, settings)
    assert report.replaced == ["other"] and report.skipped == [sample_copy.stem]
    assert fake_embedder.calls - before == 1
    state = coll.read_state(FakeEmbedder.id, FakeEmbedder.dim)
    assert state.documents["other"].text == "Huyện Lộc Bình có 22 xã."
    assert all("21 xã" not in c.clean for c in state.chunks)


def test_deleting_a_document_removes_its_passages(settings, fake_embedder, sample_copy: Path) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    delete_documents(coll, [sample_copy.stem], fake_embedder, settings)
    state = coll.read_state(FakeEmbedder.id, FakeEmbedder.dim)
    assert state.documents == {} and state.chunks == []
    with pytest.raises(NotFoundError):
        delete_documents(coll, ["nope"], fake_embedder, settings)


def test_a_write_that_fails_midway_leaves_the_previous_index_live(
    settings, fake_embedder, sample_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    live = coll.current_generation()
    sample_copy.write_text(sample_copy.read_text(encoding="utf-8") + "\n\nĐoạn mới thêm vào.", encoding="utf-8")

    import faiss

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(StorageError, match="disk full"):  # one line for the user, not the raw OSError
        ingest_paths(coll, [sample_copy], fake_embedder, settings)
    monkeypatch.undo()
    assert coll.current_generation() == live
    hits = Retriever(coll, fake_embedder, settings).search("kim ngạch xuất nhập khẩu tháng 11", k=1)
    assert "440 triệu USD" in hits[0].chunk.clean
    assert ingest_paths(coll, [sample_copy], fake_embedder, settings).replaced  # and the next ingest works


def test_an_ingest_killed_mid_write_leaves_the_previous_index_readable(
    settings, fake_embedder, sample_copy: Path
) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    live = coll.current_generation()
    sample_copy.write_text(sample_copy.read_text(encoding="utf-8").replace("440", "441"), encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import os, numpy as np
        from pathlib import Path
        from tests.fakes import FakeEmbedder
        from viqa.index.ingest import ingest_paths
        from viqa.index.store import Collection
        from viqa.settings import get_settings
        real_save = np.save
        def save_then_die(path, arr, **kw):  # write half of the vectors file, then get SIGKILLed
            with open(path, "wb") as fh:
                fh.write(b"\\x93NUMPY" + b"\\0" * 100)
                fh.flush()
            os.kill(os.getpid(), 9)
        np.save = save_then_die
        s = get_settings()
        ingest_paths(Collection(s.collections_dir, "test"), [Path({str(sample_copy)!r})], FakeEmbedder(), s)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert coll.current_generation() == live
    state = coll.read_state(FakeEmbedder.id, FakeEmbedder.dim)
    assert any("440 triệu USD" in c.clean for c in state.chunks)
    report = ingest_paths(coll, [sample_copy], fake_embedder, settings)
    assert report.replaced and not list(coll.path.glob(".tmp-gen-*"))


def test_collection_names_cannot_escape_the_collections_folder() -> None:
    for bad in ("../etc", "a/b", "..", "", ".hidden", "x" * 65):
        with pytest.raises(InputError):
            validate_name(bad)
    assert validate_name("bao-cao_2023.v1") == "bao-cao_2023.v1"


def test_an_unknown_collection_says_how_to_create_it(settings) -> None:
    with pytest.raises(NotFoundError, match="viqa ingest"):
        Collection(settings.collections_dir, "nothing").current_generation()
    assert list_collections(settings.collections_dir) == []


def test_hybrid_search_finds_the_export_figure_with_exact_offsets(settings, fake_embedder, sample_copy) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    text = SAMPLE.read_text(encoding="utf-8")
    hits = Retriever(coll, fake_embedder, settings).search(
        "Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11", k=3
    )
    top = hits[0].chunk
    assert "440 triệu USD" in top.clean
    assert text[top.char_start : top.char_end] == top.text


class _OtherEmbedder(FakeEmbedder):
    id = "another-embedder"


def test_a_collection_built_by_another_embedder_is_refused_naming_both(settings, fake_embedder, sample_copy) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    with pytest.raises(InputError, match="embedder 'fake-syllable-projection'.*'another-embedder'"):
        Retriever(coll, _OtherEmbedder(), settings).load()
    with pytest.raises(InputError, match="embedder"):
        ingest_paths(coll, [sample_copy], _OtherEmbedder(), settings)
    with pytest.raises(InputError, match="dim 384.*768"):
        coll.check_compatible(fake_embedder.id, 768)
    Retriever(coll, fake_embedder, settings).load()  # the embedder that built it is fine


def test_dates_and_tags_survive_the_store_and_old_generations_read_without_them(settings, fake_embedder) -> None:
    import sqlite3

    from viqa.index.ingest import ingest_documents
    from viqa.index.store import read_meta
    from viqa.types import Document

    coll = _collection(settings)
    doc = Document("d", "D", "d.txt", "Một câu. Hai câu.", "sha", "2023-11-30", ("a", "b"))
    ingest_documents(coll, [doc], fake_embedder, settings)
    meta = _meta_of(coll, "d")
    assert read_meta(meta)[0]["d"] == doc
    con = sqlite3.connect(meta)
    con.executescript("ALTER TABLE documents DROP COLUMN date; ALTER TABLE documents DROP COLUMN tags;")
    con.close()
    old = read_meta(meta)[0]["d"]
    assert (old.date, old.tags, old.text) == (None, (), doc.text)


def test_pages_and_the_pdf_source_survive_later_generations_and_old_ones_read_without_them(
    settings, fake_embedder
) -> None:
    import sqlite3

    from viqa.index.ingest import delete_documents, ingest_documents
    from viqa.index.store import read_meta
    from viqa.types import Document

    coll = _collection(settings)
    pdf = Document("p", "P", "p.pdf", "Trang một. Trang hai.", "sha-p", pages=(0, 11), format="pdf",
                   source=b"%PDF-bytes")
    ingest_documents(coll, [pdf], fake_embedder, settings)
    other = Document("t", "T", "t.txt", "Một văn bản khác.", "sha-t")
    ingest_documents(coll, [other], fake_embedder, settings)  # a new generation, written without pdf.source
    stored = read_meta(_meta_of(coll, "p"))[0]["p"]
    assert (stored.pages, stored.format, stored.source) == ((0, 11), "pdf", None)
    assert coll.source("p") == b"%PDF-bytes" and coll.source("t") is None
    delete_documents(coll, ["t"], fake_embedder, settings)
    assert coll.source("p") == b"%PDF-bytes"
    with pytest.raises(NotFoundError, match="no document 'x'"):
        coll.source("x")
    con = sqlite3.connect(_meta_of(coll, "p"))
    con.executescript("ALTER TABLE documents DROP COLUMN pages; ALTER TABLE documents DROP COLUMN format;"
                      " DROP TABLE sources;")
    con.close()
    old = read_meta(_meta_of(coll, "p"))[0]["p"]
    assert (old.pages, old.format, old.text) == ((), "text", pdf.text) and coll.source("p") is None
