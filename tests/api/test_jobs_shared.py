"""Processes sharing one job journal (the replicas of ``viqa serve --replicas N``): the holder of its folder's flock
runs every job once, the others journal jobs for it and report them, and one of them takes over when it stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.fakes import FakeIndex, FakePipeline, running, wait_for_job
from viqa.api.jobs import InThread, Job, JobInterrupted, JobRegistry, JobSpec
from viqa.api.main import create_app
from viqa.settings import Settings
from viqa.types import IngestReport

UPLOAD = "/v1/collections/default/documents"


def recording(name: str, ran: list[tuple[str, tuple[str, ...]]], gate: threading.Event | None = None
              ) -> InThread:
    """A runner that notes (its name, the job's doc ids), waiting first for ``gate`` (a shutdown interrupts it)."""

    def run(spec: JobSpec, cancel: threading.Event) -> IngestReport:
        while gate is not None and not gate.is_set():
            if cancel.wait(0.01):
                raise JobInterrupted("shutting down")
        ran.append((name, spec.doc_ids))
        return IngestReport(deleted=list(spec.doc_ids))

    return InThread(run)


def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def status(registry: JobRegistry, job: Job) -> str | None:
    found = registry.get(job.id)
    return None if found is None else found.status


def test_one_registry_runs_a_shared_journal_and_the_others_journal_for_it(tmp_path: Path) -> None:
    ran: list[tuple[str, tuple[str, ...]]] = []
    first = JobRegistry(recording("first", ran), tmp_path / "jobs", poll_s=0.02)
    second = JobRegistry(recording("second", ran), tmp_path / "jobs", poll_s=0.02)
    first.start()
    second.start()
    try:
        assert (first.follower, second.follower) == (False, True)
        jobs = [second.submit("delete", "c", doc_ids=["a"]), first.submit("delete", "c", doc_ids=["b"])]
        until(lambda: all(status(r, j) == "done" for r in (first, second) for j in jobs))
        assert sorted(ran) == [("first", ("a",)), ("first", ("b",))]  # each once, all by the lock's holder
        assert second.get(jobs[0].id).report == IngestReport(deleted=["a"])
        assert (first.waiting(), second.waiting()) == (0, 0)
        assert second.get("../" + jobs[0].id) is None  # an id names a journal file only when it is one
    finally:
        first.shutdown()
        second.shutdown()


def test_a_follower_takes_over_the_journal_when_its_runner_stops(tmp_path: Path) -> None:
    ran: list[tuple[str, tuple[str, ...]]] = []
    first = JobRegistry(recording("first", ran, gate=threading.Event()), tmp_path / "jobs", poll_s=0.02)
    second = JobRegistry(recording("second", ran), tmp_path / "jobs", poll_s=0.02)
    first.start()
    second.start()
    try:
        stuck = first.submit("delete", "c", doc_ids=["a"])
        until(lambda: status(first, stuck) == "running")
        waiting = second.submit("delete", "c", doc_ids=["b"])
        assert second.waiting() == 2
        first.shutdown()  # the running job stops before its commit and stays queued in the journal
        until(lambda: status(second, waiting) == "done" and status(second, stuck) == "done")
        assert ran == [("second", ("a",)), ("second", ("b",))]  # in the order they were submitted
        assert not second.follower
    finally:
        first.shutdown()
        second.shutdown()


def test_a_new_lone_input_is_left_for_the_submit_still_writing_it(tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    folder.mkdir()
    lone = folder / f"{'c' * 32}.input.json"  # another process's submit, its job file not written yet
    lone.write_text("{}")
    registry = JobRegistry(recording("only", []), folder)
    registry.recover()
    assert lone.exists()
    registry.shutdown()


def test_two_services_on_one_home_run_each_upload_once_and_both_report_it(settings: Settings) -> None:
    pipelines = [FakePipeline(settings), FakePipeline(settings)]
    indexes = [FakeIndex(p) for p in pipelines]
    apps = [create_app(lambda s, p=p: p, settings, index_ops=i.ops) for p, i in zip(pipelines, indexes, strict=True)]
    with running(apps[0]) as runner, running(apps[1]) as follower:
        assert apps[1].state.service.jobs.follower
        job = follower.post(UPLOAD, json={"doc_id": "mot", "text": "Một hai ba."}).json()
        done = wait_for_job(follower, job["id"])
        assert done["status"] == "done" and done["report"]["added"] == ["mot"]
        assert runner.get(f"/v1/jobs/{job['id']}").json() == done
        assert [len(i.calls) for i in indexes] == [1, 0]
