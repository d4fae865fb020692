"""Every bad document gets a reason: no words, a full disk (with the folder and the space needed), and what an
interrupted writer left behind is removed at the next start."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import FakeEmbedder
from viqa.errors import InputError, ViqaError
from viqa.index import store
from viqa.index.ingest import ingest_paths
from viqa.index.store import Collection
from viqa.qa.pipeline import Pipeline
from viqa.qa.retrieval import Retriever


def _collection(settings) -> Collection:
    return Collection(settings.collections_dir, "test")


@pytest.mark.parametrize("text", ["???", "😀🎉😀\n", "… — !!! ¿¡"])
def test_a_text_without_words_is_refused_naming_its_file_before_anything_is_written(
    settings, fake_embedder: FakeEmbedder, tmp_path: Path, text: str
) -> None:
    path = tmp_path / "docs" / "dấu hỏi.txt"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    coll = _collection(settings)
    with pytest.raises(InputError, match=r"dấu hỏi\.txt: .*has no words"):
        ingest_paths(coll, [path], fake_embedder, settings)
    assert not coll.exists and not list(coll.path.glob("*gen*"))


def test_one_wordless_file_in_a_folder_is_listed_and_the_others_are_ingested(
    settings, fake_embedder: FakeEmbedder, sample_copy: Path
) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    (sample_copy.parent / "good.txt").write_text("Huyện Lộc Bình có 21 xã.", encoding="utf-8")
    (sample_copy.parent / "emoji.md").write_text("🎉🎉", encoding="utf-8")
    report = ingest_paths(coll, [sample_copy.parent], fake_embedder, settings)
    assert report.added == ["good"] and report.skipped == [sample_copy.stem]
    assert list(report.failed) == [str((sample_copy.parent / "emoji.md").resolve())]
    assert "has no words" in report.failed[str((sample_copy.parent / "emoji.md").resolve())]
    assert set(coll.read_state(FakeEmbedder.id, FakeEmbedder.dim).documents) == {sample_copy.stem, "good"}


def _assert_one_line_naming_folder_and_space(message: str, coll: Collection) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert str(coll.path) in message
    assert "needs about" in message and "MB" in message


def test_a_full_disk_is_one_line_naming_the_folder_and_the_space_needed_and_leaves_no_temp_folder(
    settings, fake_embedder: FakeEmbedder, sample_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    live = coll.current_generation()
    sample_copy.write_text(sample_copy.read_text(encoding="utf-8") + "\n\nĐoạn mới thêm vào.", encoding="utf-8")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(ViqaError) as caught:
        ingest_paths(coll, [sample_copy], fake_embedder, settings)
    monkeypatch.undo()
    _assert_one_line_naming_folder_and_space(str(caught.value), coll)
    assert "No space left on device" in str(caught.value)
    public = caught.value.public  # type: ignore[attr-defined]  # what a client that must not see paths gets
    assert str(coll.path) not in public and "needs about" in public
    assert not list(coll.path.glob(".tmp-gen-*")) and sorted(p.name for p in coll.path.glob("gen-*")) == [live.name]
    assert coll.current_generation() == live
    assert ingest_paths(coll, [sample_copy], fake_embedder, settings).replaced  # and the next ingest works


def test_a_full_disk_inside_sqlite_is_the_same_one_line_error(
    settings, fake_embedder: FakeEmbedder, sample_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll = _collection(settings)

    def full(path: Path, state, previous=None) -> None:
        path.write_bytes(b"SQLite format 3\0" + b"\0" * 4096)  # half a database, then the disk is full
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "write_meta", full)
    with pytest.raises(ViqaError) as caught:
        ingest_paths(coll, [sample_copy], fake_embedder, settings)
    _assert_one_line_naming_folder_and_space(str(caught.value), coll)
    assert "database or disk is full" in str(caught.value)
    assert not coll.exists and not list(coll.path.glob("*gen*"))


def _plant_leftovers(coll: Collection) -> list[Path]:
    """What a writer killed mid-commit leaves: a temp generation, a finished one never made live, a CURRENT.tmp."""
    tmp = coll.path / ".tmp-gen-1"
    tmp.mkdir()
    (tmp / "meta.sqlite").write_bytes(b"half a database")
    orphan = coll.path / "gen-1"
    orphan.mkdir()
    (orphan / "manifest.json").write_text("{}")
    (coll.path / "CURRENT.tmp").write_text("gen-1")
    return [tmp, orphan, coll.path / "CURRENT.tmp"]


def test_a_leftover_temp_generation_is_removed_when_the_collection_is_next_loaded(
    settings, fake_embedder: FakeEmbedder, sample_copy: Path
) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    leftovers = _plant_leftovers(coll)
    pipe = Pipeline(settings)
    pipe.embedder = fake_embedder  # type: ignore[assignment]
    assert pipe.retriever("test").search("kim ngạch xuất nhập khẩu tháng 11", k=1)
    assert not any(p.exists() for p in leftovers)
    assert [p.name for p in coll.path.glob("*gen*")] == [coll.current_generation().name]


def test_a_leftover_temp_generation_is_removed_by_the_next_writer(
    settings, fake_embedder: FakeEmbedder, sample_copy: Path
) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    leftovers = _plant_leftovers(coll)
    sample_copy.write_text(sample_copy.read_text(encoding="utf-8") + "\n\nĐoạn mới.", encoding="utf-8")
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    assert not any(p.exists() for p in leftovers)
    assert [p.name for p in coll.path.glob("*gen*")] == [coll.current_generation().name]


def test_a_leftover_is_not_removed_while_a_writer_is_at_work(
    settings, fake_embedder: FakeEmbedder, sample_copy: Path
) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    with coll.writing():
        tmp = coll.path / ".tmp-gen-2"  # the writer's generation being written
        tmp.mkdir()
        assert not coll.recover()
        Retriever(coll, fake_embedder, settings).load()
        assert tmp.is_dir()
