"""A job answered 202 is a promise: it is journaled under <home>/jobs before the answer, and after a restart or a
crash it is reported (done, failed) or run again (queued, interrupted)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeIndex, FakePipeline, running, wait_for_job
from viqa.api.jobs import STALE_S, InThread, JobRegistry, JobSpec
from viqa.api.main import create_app
from viqa.errors import InputError
from viqa.settings import Settings
from viqa.types import IngestReport

UPLOAD = "/v1/collections/default/documents"


@contextmanager
def service(settings: Settings) -> Iterator[tuple[TestClient, FakeIndex]]:
    """A fresh service (its own fake pipeline and index writers) over ``settings.home``: a restart."""
    pipeline = FakePipeline(settings)
    index = FakeIndex(pipeline)
    with running(create_app(lambda s: pipeline, settings, index_ops=index.ops)) as client:
        yield client, index


def crash_image(settings: Settings, tmp_path: Path, name: str = "after-crash") -> Settings:
    """Settings over a copy of the journal as it is now, as a ``kill -9`` would leave it (writes are atomic)."""
    home = tmp_path / name
    shutil.copytree(settings.jobs_dir, home / "jobs", ignore=shutil.ignore_patterns(".*.tmp"))  # half-written
    return settings.model_copy(update={"home": home})


def test_a_job_is_on_disk_with_its_documents_before_the_202(settings: Settings, fake_index: FakeIndex,
                                                            client: TestClient) -> None:
    fake_index.gate = threading.Event()
    try:
        job = client.post(UPLOAD, json={"doc_id": "mot", "text": "Một hai ba."}).json()
        entry = json.loads((settings.jobs_dir / f"{job['id']}.json").read_text())
        assert entry["job"]["id"] == job["id"] and entry["job"]["status"] in ("queued", "running")
        spec = json.loads((settings.jobs_dir / f"{job['id']}.input.json").read_text())
        assert (spec["kind"], spec["collection"]) == ("ingest", "default")
        assert [(d["doc_id"], d["text"]) for d in spec["documents"]] == [("mot", "Một hai ba.")]
    finally:
        fake_index.gate.set()
    assert wait_for_job(client, job["id"])["status"] == "done"
    assert not (settings.jobs_dir / f"{job['id']}.input.json").exists()  # a finished job keeps no documents


def test_finished_jobs_are_still_reported_after_a_restart(settings: Settings) -> None:
    with service(settings) as (client, index):
        done = wait_for_job(client, client.post(UPLOAD, json={"doc_id": "mot", "text": "Một."}).json()["id"])
        index.fail_with = InputError("two files map to the same document id 'a'")
        failed = wait_for_job(client, client.post(UPLOAD, json={"text": "Hai."}).json()["id"])
    with service(settings) as (client, index):
        assert client.get(f"/v1/jobs/{done['id']}").json() == done
        assert client.get(f"/v1/jobs/{failed['id']}").json() == failed
        assert index.calls == []  # reported, not run again


def test_queued_and_running_jobs_survive_a_crash_and_run_after_the_restart(
    settings: Settings, fake_index: FakeIndex, client: TestClient, tmp_path: Path
) -> None:
    fake_index.gate = threading.Event()
    try:
        running_job = client.post(UPLOAD, json={"doc_id": "mot", "text": "Một."}).json()
        assert fake_index.started.wait(timeout=5)
        queued_job = client.post(UPLOAD, json={"doc_id": "hai", "text": "Hai."}).json()
        after_crash = crash_image(settings, tmp_path)
    finally:
        fake_index.gate.set()
    with service(after_crash) as (client2, index2):
        first, second = wait_for_job(client2, running_job["id"]), wait_for_job(client2, queued_job["id"])
        assert (first["status"], second["status"]) == ("done", "done")
        assert first["report"]["added"] == ["mot"] and second["report"]["added"] == ["hai"]
        assert [c[2] for c in index2.calls] == [["mot"], ["hai"]]  # in the order they were answered 202


def test_a_job_the_server_keeps_dying_on_is_reported_failed_after_job_max_attempts(
    settings: Settings, fake_index: FakeIndex, client: TestClient, tmp_path: Path
) -> None:
    fake_index.gate = threading.Event()
    try:
        job = client.post(UPLOAD, json={"doc_id": "mot", "text": "Một."}).json()
        assert fake_index.started.wait(timeout=5)
        after_crash = crash_image(settings, tmp_path).model_copy(update={"job_max_attempts": 1})
    finally:
        fake_index.gate.set()
    with service(after_crash) as (client2, index2):
        reported = wait_for_job(client2, job["id"])
        assert reported["status"] == "failed" and "not run again" in reported["message"]
        assert index2.calls == []


def test_a_queued_job_whose_documents_are_gone_is_reported_failed_with_the_reason(
    settings: Settings, fake_index: FakeIndex, client: TestClient, tmp_path: Path
) -> None:
    fake_index.gate = threading.Event()
    try:
        job = client.post(UPLOAD, json={"doc_id": "mot", "text": "Một."}).json()
        after_crash = crash_image(settings, tmp_path)
    finally:
        fake_index.gate.set()
    (after_crash.jobs_dir / f"{job['id']}.input.json").unlink()
    with service(after_crash) as (client2, _):
        reported = wait_for_job(client2, job["id"])
        assert reported["status"] == "failed" and "upload them again" in reported["message"]


def test_the_journal_keeps_only_the_last_jobs_keep_finished_jobs(settings: Settings) -> None:
    bounded = settings.model_copy(update={"jobs_keep": 2})
    with service(bounded) as (client, _):
        ids = [client.post(UPLOAD, json={"doc_id": f"d{i}", "text": f"Văn bản {i}."}).json()["id"] for i in range(3)]
        wait_for_job(client, ids[-1])  # jobs run in order: the others are done too
        assert client.get(f"/v1/jobs/{ids[0]}").status_code == 404
    assert sorted(p.name for p in bounded.jobs_dir.iterdir()) == sorted(f"{i}.json" for i in ids[1:])
    with service(bounded) as (client, _):
        assert client.get(f"/v1/jobs/{ids[0]}").status_code == 404
        assert [client.get(f"/v1/jobs/{i}").json()["status"] for i in ids[1:]] == ["done", "done"]


def test_an_unreadable_journal_entry_is_skipped_and_a_leftover_input_removed(settings: Settings) -> None:
    with service(settings) as (client, _):
        done = wait_for_job(client, client.post(UPLOAD, json={"doc_id": "mot", "text": "Một."}).json()["id"])
    (settings.jobs_dir / f"{'a' * 32}.json").write_text("{not json")
    orphan = settings.jobs_dir / f"{'b' * 32}.input.json"  # its submit never returned: no 202 was sent
    orphan.write_text("{}")
    os.utime(orphan, (time.time() - 2 * STALE_S,) * 2)  # a younger one may be another process's submit, still writing
    with service(settings) as (client, index):
        assert client.get(f"/v1/jobs/{done['id']}").json()["status"] == "done"
        assert client.get(f"/v1/jobs/{'a' * 32}").status_code == 404
        assert index.calls == []
    assert not orphan.exists()


def test_a_job_spec_round_trips_through_its_journal_form() -> None:
    from tests.fakes import make_document

    doc = make_document("bao-cao", "Báo cáo tháng 11.\nKim ngạch 45,6 triệu USD.")
    tagged = JobSpec("ingest", "default", (doc.__class__(**{**doc.__dict__, "date": "2023-11-30",
                                                             "tags": ("kinh-te", "xuat-khau")}),))
    assert JobSpec.from_json(json.loads(json.dumps(tagged.to_json()))) == tagged
    delete = JobSpec("delete", "c", doc_ids=("a", "b"))
    assert JobSpec.from_json(delete.to_json()) == delete
    with pytest.raises(ValueError):
        JobSpec.from_json({**delete.to_json(), "format": 99})


def test_a_registry_over_a_journal_runs_what_an_earlier_one_left_queued(tmp_path: Path) -> None:
    first = JobRegistry(InThread(lambda spec, cancel: IngestReport()), tmp_path / "jobs")  # never started
    job = first.submit("delete", "c", doc_ids=["a"])
    ran: list[JobSpec] = []
    second = JobRegistry(InThread(lambda spec, cancel: ran.append(spec) or IngestReport(deleted=list(spec.doc_ids))),
                         tmp_path / "jobs")
    second.start()
    try:
        for _ in range(500):
            if second.get(job.id) is not None and second.get(job.id).status == "done":
                break
            threading.Event().wait(0.01)
        assert second.get(job.id).report == IngestReport(deleted=["a"])
        assert ran == [JobSpec("delete", "c", doc_ids=("a",))]
    finally:
        second.shutdown()
