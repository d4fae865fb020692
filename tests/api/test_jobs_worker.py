"""Ingest jobs cannot starve questions: they run in a worker process at a lower CPU priority with its own embedder
(one thread), or, on the service's thread, behind the questions waiting for the model lock.

The ops below are module-level so that the worker process can import them by name.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeEmbedder, FakePipeline, make_document, running, wait_for_job
from viqa.api.jobs import IndexOps, JobFailed, JobInterrupted, JobSpec, WorkerProcess, ingest_embedder
from viqa.api.main import create_app
from viqa.api.serial import ModelLock, SerialPipeline
from viqa.errors import InputError
from viqa.index.store import Collection
from viqa.settings import Settings
from viqa.types import Document, IngestReport

UPLOAD = "/v1/collections/default/documents"


def fake_embedder(settings: Settings) -> FakeEmbedder:
    return FakeEmbedder()


def where_it_ran(collection: Collection, documents: list[Document], embedder: object,
                 settings: Settings, replace: bool = False) -> IngestReport:
    """Reports the process id and CPU niceness it ran with as its one "added" document."""
    return IngestReport(added=[f"{os.getpid()} {os.nice(0)}"], chunks=len(documents))


def refusing(collection: Collection, documents: list[Document], embedder: object,
             settings: Settings, replace: bool = False) -> IngestReport:
    if documents[0].text == "crash":
        os._exit(3)
    if documents[0].text == "bug":
        raise RuntimeError("/secret/path exploded")
    raise InputError(f"refused: {documents[0].text}")


def _started(settings: Settings) -> Path:
    return settings.home / "ingest-started"


def embedding_slowly(collection: Collection, documents: list[Document], embedder: FakeEmbedder,
                     settings: Settings, replace: bool = False) -> IngestReport:
    """Embeds one passage every 50 ms for 30 s (the shared embedder checks for a cancel between batches)."""
    _started(settings).write_text(str(os.getpid()))
    for _ in range(600):
        embedder.encode_passages([documents[0].text])
        time.sleep(0.05)
    return IngestReport(added=[documents[0].doc_id])


def stuck(collection: Collection, documents: list[Document], embedder: object, settings: Settings,
          replace: bool = False) -> IngestReport:
    """Never reaches an embedding batch (as a 20 MB chunking would not, for a while)."""
    _started(settings).write_text(str(os.getpid()))
    time.sleep(60)
    return IngestReport()


def fake_delete(collection: Collection, doc_ids: list[str], embedder: object, settings: Settings) -> IngestReport:
    return IngestReport(deleted=list(doc_ids))


def ops(ingest: object) -> IndexOps:
    return IndexOps(ingest=ingest, delete=fake_delete, embedder=fake_embedder)  # type: ignore[arg-type]


def spec(text: str = "Một hai ba.") -> JobSpec:
    return JobSpec("ingest", "default", (make_document("mot", text),))


def _wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def test_the_service_runs_ingest_jobs_in_a_worker_process_at_a_lower_cpu_priority(settings: Settings) -> None:
    app = create_app(lambda s: FakePipeline(s), settings, index_ops=ops(where_it_ran))
    with running(app) as client:
        job = wait_for_job(client, client.post(UPLOAD, json={"text": "Một."}).json()["id"], timeout=60)
        assert isinstance(app.state.service.jobs.runner, WorkerProcess)
    pid, nice = map(int, job["report"]["added"][0].split())
    assert job["status"] == "done" and pid != os.getpid()
    assert nice == min(19, os.nice(0) + settings.ingest_nice)


def test_the_worker_embeds_with_ingest_threads_threads_not_the_services(settings: Settings) -> None:
    embedder = ingest_embedder(settings.model_copy(update={"threads": 2, "ingest_threads": 1}))
    assert embedder.threads == 1 and embedder.batch_size == settings.embed_batch_size


def test_jobs_whose_ops_the_worker_cannot_import_run_on_the_service_thread(client: TestClient) -> None:
    assert not isinstance(client.app.state.service.jobs.runner, WorkerProcess)  # the tests' FakeIndex methods


def test_jobs_over_milvus_lite_run_on_the_service_thread_which_holds_the_file(settings: Settings, tmp_path) -> None:
    lite = settings.model_copy(update={"store": "milvus", "milvus_uri": str(tmp_path / "viqa.db")})
    app = create_app(lambda s: FakePipeline(s), lite, index_ops=ops(where_it_ran))
    with running(app) as client:
        job = wait_for_job(client, client.post(UPLOAD, json={"text": "Một."}).json()["id"], timeout=60)
        assert not isinstance(app.state.service.jobs.runner, WorkerProcess)
    assert job["status"] == "done" and int(job["report"]["added"][0].split()[0]) == os.getpid()


def test_a_worker_job_fails_with_its_reason_or_a_generic_one_and_a_dead_worker_is_told(settings: Settings) -> None:
    worker = WorkerProcess(ops(refusing), settings)
    cancel = threading.Event()
    try:
        with pytest.raises(JobFailed, match="^refused: nope$"):
            worker.run(spec("nope"), cancel)
        with pytest.raises(JobFailed, match="^internal error: RuntimeError$"):
            worker.run(spec("bug"), cancel)
        with pytest.raises(JobFailed, match=r"stopped unexpectedly \(exit code 3\)"):
            worker.run(spec("crash"), cancel)
        with pytest.raises(JobFailed, match="^refused: again$"):  # a fresh worker takes the next job
            worker.run(spec("again"), cancel)
    finally:
        worker.close()


def _running(worker: WorkerProcess, cancel: threading.Event) -> tuple[threading.Thread, list[BaseException]]:
    """``worker.run(spec(), cancel)`` started on a thread; what it raises lands in the returned list."""
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            worker.run(spec(), cancel)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_cancel_stops_the_worker_between_embedding_batches_well_before_job_stop_s(settings: Settings) -> None:
    worker = WorkerProcess(ops(embedding_slowly), settings.model_copy(update={"job_stop_s": 20.0}))
    cancel = threading.Event()
    thread, outcome = _running(worker, cancel)
    _wait_for(_started(settings))
    stopped = time.monotonic()
    cancel.set()
    thread.join(timeout=10)
    assert time.monotonic() - stopped < 5 and isinstance(outcome[0], JobInterrupted)
    assert worker.pid is None


def test_a_worker_that_does_not_stop_is_killed_after_job_stop_s(settings: Settings) -> None:
    worker = WorkerProcess(ops(stuck), settings.model_copy(update={"job_stop_s": 0.5}))
    cancel = threading.Event()
    thread, outcome = _running(worker, cancel)
    _wait_for(_started(settings))
    pid = int(_started(settings).read_text())
    stopped = time.monotonic()
    cancel.set()
    thread.join(timeout=10)
    assert time.monotonic() - stopped < 3 and isinstance(outcome[0], JobInterrupted)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_an_idle_worker_exits_so_its_memory_goes_back_and_the_next_job_starts_another(settings: Settings) -> None:
    worker = WorkerProcess(ops(where_it_ran), settings)
    try:
        first = worker.run(spec(), threading.Event()).added[0].split()[0]
        worker.idle()
        assert worker.pid is None
        second = worker.run(spec(), threading.Event()).added[0].split()[0]
        assert first != second
    finally:
        worker.close()


class _Recorder:
    """A pipeline and embedder that record the order in which model calls got the lock."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.embedder = self

    id = "recorder"
    dim = 1

    def answer(self, question: str, *args: object, **kwargs: object) -> str:
        self.order.append(question)
        return question

    def encode_passages(self, texts: list[str], progress: bool = False):
        import numpy as np

        self.order.append("batch")
        return np.zeros((len(texts), 1), dtype=np.float32)


def _waiting(target, *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    time.sleep(0.2)  # long enough to be waiting for the lock
    return thread


def test_a_question_waiting_for_the_model_goes_before_a_waiting_ingest_batch() -> None:
    recorder = _Recorder()
    pipeline = SerialPipeline(recorder, batch_size=1)  # type: ignore[arg-type]
    with pipeline.lock:  # a question is being answered
        batch = _waiting(pipeline.embedder.encode_passages, ["đoạn văn"])
        question = _waiting(pipeline.answer, "câu hỏi", None, None)
    batch.join(timeout=5)
    question.join(timeout=5)
    assert recorder.order == ["câu hỏi", "batch"]


def test_a_waiting_ingest_batch_runs_after_at_most_yield_after_questions() -> None:
    recorder = _Recorder()
    pipeline = SerialPipeline(recorder, ModelLock(yield_after=2), batch_size=1)  # type: ignore[arg-type]
    threads = []
    with pipeline.lock:
        threads.append(_waiting(pipeline.embedder.encode_passages, ["đoạn văn"]))
        threads += [_waiting(pipeline.answer, f"q{i}", None, None) for i in range(3)]
    for thread in threads:
        thread.join(timeout=5)
    assert recorder.order.index("batch") == 2 and len(recorder.order) == 4


def test_the_model_lock_is_reentrant_and_refuses_a_release_by_another_thread() -> None:
    lock = ModelLock()
    with lock, lock.yielding():
        pass
    lock.acquire()
    errors: list[Exception] = []
    other = threading.Thread(target=lambda: _release(lock, errors))
    other.start()
    other.join()
    lock.release()
    assert isinstance(errors[0], RuntimeError)


def _release(lock: ModelLock, errors: list[Exception]) -> None:
    try:
        lock.release()
    except RuntimeError as exc:
        errors.append(exc)
