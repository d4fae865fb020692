"""Atomic writes: a failed write leaves the previous file whole and no temporary file behind."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from viqa.files import write_text_atomic


def test_a_write_replaces_the_file_and_creates_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "new" / "results.jsonl"
    write_text_atomic(target, "một\n")
    write_text_atomic(target, "hai\n")
    assert target.read_text(encoding="utf-8") == "hai\n"
    assert os.listdir(target.parent) == ["results.jsonl"]


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "reader.json"
    target.write_text('{"null_threshold": 3.07}', encoding="utf-8")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(target, '{"null_threshold": ')
    assert target.read_text(encoding="utf-8") == '{"null_threshold": 3.07}'
    assert os.listdir(tmp_path) == ["reader.json"]


def test_the_file_and_its_folder_reach_the_disk_before_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "job.json"
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_text_atomic(target, "{}")
    assert len(synced) == 2 and re.fullmatch(rf"{tmp_path}/\.job\.json\.[0-9a-f]{{12}}\.tmp", synced[0])
    assert synced[1] == str(tmp_path)


def test_writers_of_one_path_at_once_never_take_each_others_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "job.json"
    texts = [f'{{"n": {i}}}' for i in range(8)]
    failed: list[BaseException] = []

    def write(text: str) -> None:
        try:
            write_text_atomic(target, text)
        except BaseException as exc:  # noqa: BLE001 - what a writer raised is the test's finding
            failed.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in texts for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    assert target.read_text(encoding="utf-8") in texts and os.listdir(tmp_path) == ["job.json"]
