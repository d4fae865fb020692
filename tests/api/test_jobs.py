"""Indexing jobs run one at a time in the background (queued → running → done/failed) while queries go on."""

from __future__ import annotations

import threading
import time

import numpy as np
from fastapi.testclient import TestClient

from tests.fakes import FakeIndex, running, wait_for_job
from viqa.api.jobs import InThread, Job, JobRegistry
from viqa.api.serial import SharedEmbedder
from viqa.errors import InputError
from viqa.index.ingest import IngestReport

UPLOAD = "/v1/collections/default/documents"


def test_jobs_go_from_queued_to_running_to_done_one_at_a_time(client: TestClient, fake_index: FakeIndex) -> None:
    fake_index.gate = threading.Event()
    first = client.post(UPLOAD, json={"doc_id": "mot", "text": "Một."}).json()
    assert first["status"] in ("queued", "running") and first["report"] is None
    assert fake_index.started.wait(timeout=5)
    second = client.post(UPLOAD, json={"doc_id": "hai", "text": "Hai."}).json()
    assert client.get(f"/v1/jobs/{first['id']}").json()["status"] == "running"
    assert client.get(f"/v1/jobs/{second['id']}").json()["status"] == "queued"
    fake_index.gate.set()
    done_first, done_second = wait_for_job(client, first["id"]), wait_for_job(client, second["id"])
    assert (done_first["status"], done_second["status"]) == ("done", "done")
    assert [c[2] for c in fake_index.calls] == [["mot"], ["hai"]]
    assert done_first["started_at"] <= done_first["finished_at"] <= done_second["started_at"]


def test_queries_keep_working_while_a_job_runs(client: TestClient, fake_index: FakeIndex) -> None:
    fake_index.gate = threading.Event()
    job = client.post(UPLOAD, json={"doc_id": "mot", "text": "Một."}).json()
    assert fake_index.started.wait(timeout=5)
    answer = client.post("/v1/ask", json={"question": "Tổng đàn bò của tỉnh có bao nhiêu con?"})
    assert answer.status_code == 200 and answer.json()["answer"] == "45 nghìn con"
    fake_index.gate.set()
    assert wait_for_job(client, job["id"])["status"] == "done"


def test_a_job_refused_by_the_index_fails_with_the_reason(client: TestClient, fake_index: FakeIndex) -> None:
    fake_index.fail_with = InputError("two files map to the same document id 'a'")
    job = wait_for_job(client, client.post(UPLOAD, json={"text": "Một."}).json()["id"])
    assert job["status"] == "failed" and "same document id" in job["message"] and job["report"] is None


def test_an_unexpected_job_error_fails_without_leaking_details(client: TestClient, fake_index: FakeIndex) -> None:
    fake_index.fail_with = RuntimeError("/secret/path exploded")
    job = wait_for_job(client, client.post(UPLOAD, json={"text": "Một."}).json()["id"])
    assert job["status"] == "failed" and job["message"] == "internal error: RuntimeError"


def test_an_unknown_job_is_404(client: TestClient) -> None:
    response = client.get("/v1/jobs/0123456789abcdef")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def _wait(jobs: JobRegistry, job_id: str, timeout: float = 5.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get(job_id)
        if job is not None and job.status in ("done", "failed"):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish")


def test_the_registry_forgets_the_oldest_finished_jobs_beyond_its_bound() -> None:
    jobs = JobRegistry(InThread(lambda spec, cancel: IngestReport()), keep=2)
    jobs.start()
    try:
        ids = [jobs.submit("ingest", "c").id for _ in range(3)]
        _wait(jobs, ids[2])
        assert jobs.get(ids[0]) is None and jobs.get(ids[1]) is not None and jobs.get(ids[2]) is not None
    finally:
        jobs.shutdown()


def test_the_registry_never_forgets_a_job_that_has_not_run_yet() -> None:
    jobs = JobRegistry(InThread(lambda spec, cancel: IngestReport()), keep=1)  # not started: nothing runs
    ids = [jobs.submit("ingest", "c").id for _ in range(3)]
    assert [jobs.get(i).status for i in ids] == ["queued"] * 3
    jobs.shutdown()


class _CountingEmbedder:
    dim = 2

    def __init__(self) -> None:
        self.batches: list[int] = []

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.batches.append(len(texts))
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode_passages(texts)


def test_jobs_embed_in_batches_under_the_model_lock_so_queries_can_interleave() -> None:
    inner, lock = _CountingEmbedder(), threading.RLock()
    shared = SharedEmbedder(inner, lock, batch_size=2)
    vectors = shared.encode_passages(["a", "bb", "ccc", "dddd", "e"])
    assert inner.batches == [2, 2, 1]
    assert vectors[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 1.0]
    assert shared.encode_passages([]).shape == (0, 2)


def test_past_max_waiting_jobs_an_upload_or_delete_is_503_with_retry_after(make_app, fake_index: FakeIndex) -> None:
    fake_index.gate = threading.Event()
    with running(make_app(max_waiting_jobs=2)) as client:
        first = client.post(UPLOAD, json={"doc_id": "mot", "text": "Một."}).json()
        second = client.post(UPLOAD, json={"doc_id": "hai", "text": "Hai."}).json()
        refused = client.post(UPLOAD, json={"doc_id": "ba", "text": "Ba."})
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
        assert refused.json()["error"]["code"] == "busy"
        assert client.delete(f"{UPLOAD}/bao-cao-thang-11").status_code == 503
        fake_index.gate.set()
        assert [wait_for_job(client, j["id"])["status"] for j in (first, second)] == ["done", "done"]
        assert client.post(UPLOAD, json={"doc_id": "ba", "text": "Ba."}).status_code == 202
