"""Ids and duplicates: another file never silently takes an existing document's id, and identical content under
another name is reported and stored once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import FakeEmbedder
from viqa.errors import InputError
from viqa.index.ingest import ingest_documents, ingest_paths
from viqa.index.loading import document_from_bytes
from viqa.index.store import Collection

FIRST = "Báo cáo tháng 11. Kim ngạch xuất khẩu đạt 440 triệu USD."
SECOND = "Báo cáo khác. Dân số huyện Lộc Bình là 80.000 người."


def _collection(settings) -> Collection:
    return Collection(settings.collections_dir, "test")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _texts(coll: Collection) -> dict[str, str]:
    return {k: d.text for k, d in coll.read_state(FakeEmbedder.id, FakeEmbedder.dim).documents.items()}


def test_another_file_that_maps_to_an_existing_id_is_refused_in_one_line_naming_both(
    settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    coll = _collection(settings)
    first = _write(tmp_path / "a" / "Báo cáo.txt", FIRST)
    second = _write(tmp_path / "b" / "bao-cao.md", SECOND)
    ingest_paths(coll, [first], fake_embedder, settings)
    live = coll.current_generation()
    with pytest.raises(InputError) as caught:
        ingest_paths(coll, [second], fake_embedder, settings)
    message = str(caught.value)
    assert "\n" not in message and "'bao-cao'" in message and "replace" in message
    assert "bao-cao.md" in message and "Báo cáo.txt" in message
    assert coll.current_generation() == live and _texts(coll) == {"bao-cao": FIRST}


def test_replace_lets_another_file_take_an_existing_id(settings, fake_embedder: FakeEmbedder, tmp_path: Path) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [_write(tmp_path / "a" / "Báo cáo.txt", FIRST)], fake_embedder, settings)
    report = ingest_paths(coll, [_write(tmp_path / "b" / "bao-cao.md", SECOND)], fake_embedder, settings, replace=True)
    assert report.replaced == ["bao-cao"] and _texts(coll) == {"bao-cao": SECOND}


def test_the_same_file_under_another_spelling_of_its_path_is_the_same_source(
    settings, fake_embedder: FakeEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll = _collection(settings)
    path = _write(tmp_path / "docs" / "bao-cao.txt", FIRST)
    monkeypatch.chdir(tmp_path)
    ingest_paths(coll, [Path("docs/bao-cao.txt")], fake_embedder, settings)
    assert ingest_paths(coll, [path], fake_embedder, settings).skipped == ["bao-cao"]
    path.write_text(SECOND, encoding="utf-8")
    assert ingest_paths(coll, [Path("docs") / ".." / "docs" / "bao-cao.txt"], fake_embedder, settings).replaced == [
        "bao-cao"
    ]


def test_the_second_of_two_files_that_map_to_one_id_is_skipped_naming_both(
    settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    first = _write(tmp_path / "docs" / "Báo cáo.txt", FIRST)
    second = _write(tmp_path / "docs" / "bao-cao.md", SECOND)
    coll = _collection(settings)
    report = ingest_paths(coll, [tmp_path / "docs"], fake_embedder, settings)
    (skipped, reason), = report.failed.items()
    assert report.added == ["bao-cao"] and _texts(coll)["bao-cao"] == FIRST
    assert Path(skipped) == second.resolve() and str(first.resolve()) in reason and "same document id" in reason


def test_identical_content_under_another_name_is_reported_and_stored_once(
    settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [_write(tmp_path / "docs" / "a.txt", FIRST)], fake_embedder, settings)
    chunks = len(coll.read_state(FakeEmbedder.id, FakeEmbedder.dim).chunks)
    report = ingest_paths(coll, [_write(tmp_path / "docs" / "copy.txt", FIRST)], fake_embedder, settings)
    assert report.duplicates == {"copy": "a"} and report.added == [] and not report.changed
    assert "1 duplicate" in report.summary()
    state = coll.read_state(FakeEmbedder.id, FakeEmbedder.dim)
    assert set(state.documents) == {"a"} and len(state.chunks) == chunks


def test_identical_files_in_one_ingest_are_stored_once(settings, fake_embedder: FakeEmbedder, tmp_path: Path) -> None:
    coll = _collection(settings)
    _write(tmp_path / "docs" / "a.txt", FIRST)
    _write(tmp_path / "docs" / "b.txt", FIRST)
    _write(tmp_path / "docs" / "c.txt", SECOND)
    report = ingest_paths(coll, [tmp_path / "docs"], fake_embedder, settings)
    assert report.added == ["a", "c"] and report.duplicates == {"b": "a"}
    assert set(_texts(coll)) == {"a", "c"}


def test_an_upload_sent_again_under_its_id_is_the_same_source(settings, fake_embedder: FakeEmbedder) -> None:
    coll = _collection(settings)

    def upload(text: str, name: str = "gx.txt"):
        return document_from_bytes(text.encode(), name, f"upload:{name}", doc_id="gx")

    assert ingest_documents(coll, [upload(FIRST)], fake_embedder, settings).added == ["gx"]
    assert ingest_documents(coll, [upload(FIRST, "Giá xăng.txt")], fake_embedder, settings).skipped == ["gx"]
    assert ingest_documents(coll, [upload(SECOND, "other.md")], fake_embedder, settings).replaced == ["gx"]


def test_an_upload_does_not_silently_take_the_id_of_an_ingested_file(
    settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    coll = _collection(settings)
    ingest_paths(coll, [_write(tmp_path / "docs" / "gx.txt", FIRST)], fake_embedder, settings)
    doc = document_from_bytes(SECOND.encode(), "gx.txt", "upload:gx.txt")
    with pytest.raises(InputError, match="'gx'.*replace"):
        ingest_documents(coll, [doc], fake_embedder, settings)
    assert ingest_documents(coll, [doc], fake_embedder, settings, replace=True).replaced == ["gx"]
