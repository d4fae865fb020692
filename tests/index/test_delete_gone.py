"""Delete means gone: a deleted document's text leaves the disk once no reader holds the old generation, and
readers opening a generation while writers retire it never fail."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.fakes import FakeEmbedder
from viqa.index.ingest import delete_documents, ingest_documents
from viqa.index.store import Collection, read_meta
from viqa.qa.retrieval import Retriever
from viqa.types import Document

SECRET = "Mật khẩu kho bạc là Quyzxwv 7731, chỉ giám đốc được biết."
SECRET_MARKS = ("Quyzxwv", "quyzxwv", "7731", "giám đốc được biết")
PUBLIC = "Huyện Lộc Bình có 21 xã. Dân số huyện là 80.000 người."


def _document(doc_id: str, text: str) -> Document:
    import hashlib

    return Document(doc_id, doc_id, f"upload:{doc_id}", text, hashlib.sha256(text.encode()).hexdigest())


def _secret_on_disk(folder: Path) -> list[str]:
    """Files under ``folder`` holding any byte sequence of the secret (read as bytes, like ``grep -ra``)."""
    marks = [m.encode() for m in SECRET_MARKS]
    return [str(p) for p in folder.rglob("*") if p.is_file() and any(m in p.read_bytes() for m in marks)]


def _documents_in(coll: Collection, generation: Path) -> set[str]:
    """The documents that the segments listed by ``generation`` hold (deleted ones too: it reads the files)."""
    return {d for seg in coll.generation(generation).segments for d in read_meta(seg.path / "meta.sqlite")[0]}


def _collection_with_secret(settings, embedder: FakeEmbedder) -> Collection:
    coll = Collection(settings.collections_dir, "test")
    ingest_documents(coll, [_document("public", PUBLIC), _document("secret", SECRET)], embedder, settings)
    assert _secret_on_disk(coll.path)  # the check can see it
    return coll


def test_a_deleted_documents_text_leaves_the_disk_at_the_commit_that_deletes_it(
    settings, fake_embedder: FakeEmbedder
) -> None:
    coll = _collection_with_secret(settings, fake_embedder)
    Retriever(coll, fake_embedder, settings).load()  # a reader that loaded the old generation holds nothing on disk
    delete_documents(coll, ["secret"], fake_embedder, settings)
    assert _secret_on_disk(coll.path) == []
    if shutil.which("grep"):
        grep = subprocess.run(["grep", "-r", "-a", "-l", "-i", "quyzxwv", str(coll.path)], capture_output=True)
        assert grep.returncode == 1, grep.stdout.decode()
    assert _documents_in(coll, coll.current_generation()) == {"public"}


def test_a_generation_a_reader_is_opening_stays_until_the_reader_lets_go_then_leaves_the_disk(
    settings, fake_embedder: FakeEmbedder
) -> None:
    coll = _collection_with_secret(settings, fake_embedder)
    with coll.reading() as old:
        delete_documents(coll, ["secret"], fake_embedder, settings)
        assert coll.current_generation() != old
        assert "secret" in _documents_in(coll, old)  # still whole for the reader opening it
    assert not old.exists() and _secret_on_disk(coll.path) == []


def test_readers_loading_while_writers_commit_never_fail_and_old_generations_do_not_pile_up(
    settings, fake_embedder: FakeEmbedder
) -> None:
    coll = Collection(settings.collections_dir, "test")
    ingest_documents(coll, [_document("public", PUBLIC)], fake_embedder, settings)
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                Retriever(Collection(settings.collections_dir, "test"), fake_embedder, settings).load()
                coll.manifest()
        except BaseException as exc:  # noqa: BLE001 - any failure of a reader is the finding
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for i in range(8):
            ingest_documents(coll, [_document("public", f"{PUBLIC} Lần {i}.")], fake_embedder, settings)
    finally:
        done.set()
        for t in readers:
            t.join(timeout=30)
    assert errors == []
    coll.recover()
    assert [p.name for p in coll.path.glob("gen-*")] == [coll.current_generation().name]


@pytest.mark.parametrize("reader_count", [1, 3])
def test_the_last_of_several_readers_removes_the_retired_generation(
    settings, fake_embedder: FakeEmbedder, reader_count: int
) -> None:
    coll = _collection_with_secret(settings, fake_embedder)
    import contextlib

    with contextlib.ExitStack() as stack:
        folders = [stack.enter_context(Collection(settings.collections_dir, "test").reading()) for _ in
                   range(reader_count)]
        delete_documents(coll, ["secret"], fake_embedder, settings)
        assert all(f.exists() for f in folders)
    assert _secret_on_disk(coll.path) == []
