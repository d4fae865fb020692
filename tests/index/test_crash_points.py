"""Crash-point testing, as SQLite and ALICE do it: every write step of a commit (the new segment's files, the new
generation's tombstones and manifest, fsyncs, renames, the CURRENT swap, the removal of the retired generation) is
failed, torn, hit by a full disk, or the process is really killed there, in turn; after each, a fresh Collection
and Retriever open on exactly the old or the new generation, never a mix, and the next start removes what was
left."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.fakes import FakeEmbedder
from viqa.errors import ViqaError
from viqa.index import store
from viqa.index.ingest import ingest_documents
from viqa.index.store import Collection, StoreIO
from viqa.qa.retrieval import Retriever
from viqa.types import Document

OLD = {
    "a": "Huyện Lộc Bình có 21 xã và thị trấn.",
    "b": "Kim ngạch xuất khẩu tháng 11 đạt 440 triệu USD.",
}
CHANGES = {
    "a": "Huyện Đình Lập có 12 xã, diện tích rừng lớn nhất tỉnh.",
    "c": "Giá xăng RON 95 giảm 300 đồng mỗi lít từ chiều nay.",
}
NEW = {**OLD, **CHANGES}
KILLED = 86  # the exit status of a child process killed at its crash point


class _Killed(BaseException):
    """Stands for the process dying at a write step: no handler of the store catches it, no cleanup runs."""


class _Faulty(StoreIO):
    """The store's I/O with a fault at step ``at``: "kill" (an exception nothing catches), "exit" (the process
    ends there and then), "enospc" (the disk is full) or "torn" (the write happens, half of it reaches the disk,
    then the process dies). Records every step."""

    def __init__(self, at: int = -1, mode: str = "kill") -> None:
        self.at, self.mode = at, mode
        self.steps: list[tuple[str, Path]] = []
        self._hit = False

    def step(self, what: str, path: Path) -> None:
        self._hit = len(self.steps) == self.at
        self.steps.append((what, path))
        if not self._hit:
            return
        if self.mode == "kill":
            raise _Killed(f"killed at {what} {path}")
        if self.mode == "exit":
            os._exit(KILLED)
        if self.mode == "enospc":
            raise OSError(errno.ENOSPC, "No space left on device")

    def write(self, path: Path, writer) -> None:
        super().write(path, writer)
        if self._hit and self.mode == "torn":
            _tear(path)
            raise _Killed(f"killed halfway through writing {path}")


def _tear(path: Path) -> None:
    """Cut the (largest file of the) written path to half its size, as a write cut short leaves it."""
    target = max((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size) if path.is_dir() else path
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])


def _documents(texts: dict[str, str]) -> list[Document]:
    return [Document(k, k, f"upload:{k}", t, hashlib.sha256(t.encode()).hexdigest()) for k, t in texts.items()]


@pytest.fixture
def old_collection(settings, fake_embedder: FakeEmbedder) -> tuple[Collection, Path]:
    """The collection holding OLD, and a pristine copy of its folder to restore before each crash."""
    coll = Collection(settings.collections_dir, "test")
    ingest_documents(coll, _documents(OLD), fake_embedder, settings)
    pristine = settings.home / "pristine"
    shutil.copytree(coll.path, pristine)
    return coll, pristine


def _restore(coll: Collection, pristine: Path) -> None:
    shutil.rmtree(coll.path)
    shutil.copytree(pristine, coll.path)


def _commit_the_changes(coll: Collection, embedder: FakeEmbedder, settings) -> None:
    ingest_documents(coll, _documents(CHANGES), embedder, settings)


def _steps(coll: Collection, pristine: Path, embedder: FakeEmbedder, settings,
           monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Path]]:
    """Every write step of the commit of CHANGES over OLD, in order."""
    recorder = _Faulty()
    monkeypatch.setattr(store, "IO", recorder)
    _commit_the_changes(coll, embedder, settings)
    monkeypatch.setattr(store, "IO", StoreIO())
    _restore(coll, pristine)
    return recorder.steps


def _on_disk(coll: Collection) -> list[str]:
    """What a collection folder holds when nothing is left over: the lock, CURRENT, the live generation and the
    segments it lists."""
    live = coll.current_generation()
    return sorted([".lock", "CURRENT", live.name, *(s.name for s in coll.generation(live).segments)])


def _swap_index(steps: list[tuple[str, Path]]) -> int:
    return next(i for i, (what, path) in enumerate(steps) if what == "replace" and path.name == "CURRENT")


def _assert_opens_on(coll: Collection, expected: dict[str, str], embedder: FakeEmbedder, settings) -> None:
    """A fresh Collection and Retriever see exactly ``expected``: documents, chunks, vectors, FAISS and BM25 rows
    all of one generation."""
    fresh = Collection(coll.path.parent, coll.name)
    manifest = fresh.manifest()
    state = fresh.read_state(FakeEmbedder.id, FakeEmbedder.dim)
    assert {k: d.text for k, d in state.documents.items()} == expected
    assert manifest["documents"] == len(expected) and manifest["chunks"] == len(state.chunks) == len(state.vectors)
    assert all(state.documents[c.doc_id].text[c.char_start : c.char_end] == c.text for c in state.chunks)
    retriever = Retriever(fresh, embedder, settings)
    assert {k: d.text for k, d in retriever.documents.items()} == expected
    assert [c.chunk_id for c in retriever.chunks] == [c.chunk_id for c in state.chunks]
    for doc_id, text in expected.items():
        for mode in ("dense", "bm25"):
            assert retriever.search(text, k=1, mode=mode)[0].chunk.doc_id == doc_id, (doc_id, mode)


def _assert_next_start_cleans_up_and_works(coll: Collection, embedder: FakeEmbedder, settings) -> None:
    assert Collection(coll.path.parent, coll.name).recover()
    assert sorted(p.name for p in coll.path.iterdir()) == _on_disk(coll)
    _commit_the_changes(coll, embedder, settings)
    _assert_opens_on(coll, NEW, embedder, settings)


def test_a_commit_has_these_write_steps_in_this_order(
    old_collection, fake_embedder: FakeEmbedder, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll, pristine = old_collection
    old_segment = coll.manifest()["segments"][0]["name"]
    steps = _steps(coll, pristine, fake_embedder, settings, monkeypatch)
    kinds = [what for what, _ in steps]
    tmp_seg = steps[0][1]
    tmp_gen = next(p for what, p in steps if what == "mkdir" and p.name.startswith(".tmp-gen-"))
    assert kinds[0] == "mkdir" and tmp_seg.name.startswith(".tmp-seg-")
    assert [p.name for what, p in steps if what == "write"] == [  # the segment, then the generation
        "meta.sqlite", "vectors.npy", "dense.faiss", "bm25", "lengths.npy", "segment.json",
        f"{old_segment}.deleted.npy", "manifest.json", "CURRENT.tmp"  # "a" is replaced: its old rows are tombstones
    ]
    assert not tmp_seg.exists() and not tmp_gen.exists()  # (the temp folders are gone: they were renamed)
    for tmp, files in ((tmp_seg, {"meta.sqlite", "vectors.npy", "dense.faiss", "lengths.npy", "segment.json"}),
                       (tmp_gen, {f"{old_segment}.deleted.npy", "manifest.json"})):
        fsynced = [p for what, p in steps if what == "fsync" and tmp in p.parents]
        assert {p.name for p in fsynced} >= files
        rename = steps.index(("rename", coll.path / tmp.name.removeprefix(".tmp-")))
        assert steps[rename - 1] == ("fsync-dir", tmp) and steps[rename + 1] == ("fsync-dir", coll.path)
    assert any(p.parent.name == "bm25" for what, p in steps if what == "fsync")
    assert kinds.index("rename") < kinds.index("mkdir", 1)  # the segment is whole before the generation is begun
    swap = _swap_index(steps)
    assert steps[swap - 1][0] == "fsync" and steps[swap - 1][1].name == "CURRENT.tmp"
    assert steps[swap + 1] == ("fsync-dir", coll.path)
    assert kinds[-1] == "remove" and steps[-1][1].name.startswith("gen-")  # the retired generation, at once
    assert len(steps) >= 20


def test_every_rename_of_a_commit_is_followed_by_an_fsync_of_the_collection_folder(
    settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked at the system calls, so that it holds whatever the store's own layer does."""
    events: list[tuple[str, str]] = []
    real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(src, dst, *args, **kwargs) -> None:
        events.append(("rename", os.fspath(dst)))
        real_rename(src, dst, *args, **kwargs)

    def replace(src, dst, *args, **kwargs) -> None:
        events.append(("rename", os.fspath(dst)))
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    coll = Collection(settings.collections_dir, "test")
    ingest_documents(coll, _documents(OLD), fake_embedder, settings)
    ingest_documents(coll, _documents(CHANGES), fake_embedder, settings)
    monkeypatch.undo()
    renames = [i for i, (what, path) in enumerate(events) if what == "rename" and Path(path).parent == coll.path]
    assert len(renames) == 6  # two segment renames, two generation renames, two CURRENT swaps
    for i in renames:
        following = events[i + 1 :]
        until = next((j for j, (what, _) in enumerate(following) if what == "rename"), len(following))
        assert ("fsync", str(coll.path)) in following[:until], events[i]
    assert ("fsync", str(coll.path.parent)) in events  # the collection folder's own entry, at its first commit


@pytest.mark.parametrize("mode", ["kill", "exit"])
def test_a_commit_killed_at_any_write_step_opens_on_exactly_the_old_or_the_new_generation(
    old_collection, fake_embedder: FakeEmbedder, settings, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    coll, pristine = old_collection
    steps = _steps(coll, pristine, fake_embedder, settings, monkeypatch)
    swap = _swap_index(steps)
    for at in range(len(steps)):
        _restore(coll, pristine)
        faulty = _Faulty(at, mode)
        if mode == "kill":
            monkeypatch.setattr(store, "IO", faulty)
            with pytest.raises(_Killed):
                _commit_the_changes(coll, fake_embedder, settings)
            monkeypatch.setattr(store, "IO", StoreIO())
        else:  # a real process, ended by os._exit at the step: no finally, no cleanup, its locks freed by the kernel
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                try:
                    signal.alarm(30)
                    store.IO = faulty
                    _commit_the_changes(coll, fake_embedder, settings)
                finally:
                    os._exit(0 if at >= len(steps) else 3)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == KILLED, (at, steps[at])
        _assert_opens_on(coll, OLD if at <= swap else NEW, fake_embedder, settings)
        _assert_next_start_cleans_up_and_works(coll, fake_embedder, settings)


def test_a_write_torn_halfway_at_any_step_opens_on_exactly_the_old_or_the_new_generation(
    old_collection, fake_embedder: FakeEmbedder, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll, pristine = old_collection
    steps = _steps(coll, pristine, fake_embedder, settings, monkeypatch)
    writes = [i for i, (what, _) in enumerate(steps) if what == "write"]
    assert len(writes) == 9
    for at in writes:
        _restore(coll, pristine)
        monkeypatch.setattr(store, "IO", _Faulty(at, "torn"))
        with pytest.raises(_Killed):
            _commit_the_changes(coll, fake_embedder, settings)
        monkeypatch.setattr(store, "IO", StoreIO())
        _assert_opens_on(coll, OLD, fake_embedder, settings)  # every write comes before the swap
        _assert_next_start_cleans_up_and_works(coll, fake_embedder, settings)


def test_a_full_disk_at_any_write_step_is_one_line_and_leaves_nothing_behind(
    old_collection, fake_embedder: FakeEmbedder, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll, pristine = old_collection
    steps = _steps(coll, pristine, fake_embedder, settings, monkeypatch)
    swap = _swap_index(steps)
    for at in range(len(steps)):
        _restore(coll, pristine)
        before = _on_disk(coll)
        monkeypatch.setattr(store, "IO", _Faulty(at, "enospc"))
        if at <= swap:
            with pytest.raises(ViqaError, match="No space left on device") as caught:
                _commit_the_changes(coll, fake_embedder, settings)
            assert "\n" not in str(caught.value) and str(coll.path) in str(caught.value)
            assert sorted(p.name for p in coll.path.iterdir()) == before, steps[at]
        else:  # the new generation is live: a failed flush or removal after it is logged, not an error
            _commit_the_changes(coll, fake_embedder, settings)
        monkeypatch.setattr(store, "IO", StoreIO())
        _assert_opens_on(coll, OLD if at <= swap else NEW, fake_embedder, settings)
        _assert_next_start_cleans_up_and_works(coll, fake_embedder, settings)
