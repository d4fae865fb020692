"""SIGTERM stops `viqa serve` within 10 s though an ingest runs: the job stops before its commit, stays queued in
the journal, and runs when the server starts again.

The server runs in a subprocess (``viqa.api.server.run``, with the fake pipeline and a slow fake ingest below:
module-level, so that the worker process can import it too).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes import SAME_ORIGIN, FakeEmbedder, FakeIndex, FakePipeline, running, wait_for_job
from tests.paths import CHECKOUT
from viqa.api.jobs import InThread, JobRegistry
from viqa.api.main import create_app
from viqa.index.store import Collection
from viqa.settings import Settings
from viqa.types import Document, IngestReport

UPLOAD = "/v1/collections/default/documents"
SERVER = """
import sys
import viqa.api.main as main
from tests.api.test_jobs_shutdown import slow_ops
from tests.fakes import FakePipeline
from viqa.api import server

create_app = main.create_app
main.create_app = lambda: create_app(lambda s: FakePipeline(s), index_ops=slow_ops())
server.run("127.0.0.1", int(sys.argv[1]))
"""


def slow_ingest(collection: Collection, documents: list[Document], embedder: FakeEmbedder,
                settings: Settings, replace: bool = False) -> IngestReport:
    """Embeds one passage every 50 ms for 60 s, after leaving a mark that it started."""
    (settings.home / "ingest-started").write_text(str(os.getpid()))
    for _ in range(1200):
        embedder.encode_passages([documents[0].text])
        time.sleep(0.05)
    return IngestReport(added=[d.doc_id for d in documents])


def fake_delete(collection: Collection, doc_ids: list[str], embedder: object, settings: Settings) -> IngestReport:
    return IngestReport(deleted=list(doc_ids))


def fake_embedder(settings: Settings) -> FakeEmbedder:
    return FakeEmbedder()


def slow_ops():  # noqa: ANN201 - IndexOps, imported late so the server script stays short
    from viqa.api.jobs import IndexOps

    return IndexOps(ingest=slow_ingest, delete=fake_delete, embedder=fake_embedder)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(check, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("worker", ["process", "thread"])
def test_sigterm_stops_the_server_within_10_s_during_an_ingest_and_the_job_runs_after_the_restart(
    settings: Settings, tmp_path: Path, worker: str
) -> None:
    port, log = _free_port(), tmp_path / "server.log"
    env = {**os.environ, "VIQA_HOME": str(settings.home), "VIQA_INGEST_WORKER": worker, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(CHECKOUT)}
    env.pop("VIQA_API_KEY", None)
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        script = tmp_path / "serve.py"  # a script without a __main__ guard: the worker must not run it again
        script.write_text(SERVER)
        server = subprocess.Popen([sys.executable, str(script), str(port)], cwd=CHECKOUT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
        try:
            _wait_until(lambda: _ready(url) or server.poll() is not None, 30, "the server was not ready")
            answer = httpx.post(f"{url}{UPLOAD}", json={"doc_id": "mot", "text": "Một hai ba."}, trust_env=False,
                                headers=SAME_ORIGIN)
            assert answer.status_code == 202, answer.text
            job_id = answer.json()["id"]
            _wait_until((settings.home / "ingest-started").exists, 30, "the ingest did not start")
            sent = time.monotonic()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
            took = time.monotonic() - sent
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    assert took < 10, f"SIGTERM took {took:.1f} s to stop the server:\n{log.read_text()[-3000:]}"
    assert log.read_text().count("Started server process") == 1, log.read_text()[-3000:]
    pipeline = FakePipeline(settings)
    index = FakeIndex(pipeline)
    with running(create_app(lambda s: pipeline, settings, index_ops=index.ops)) as client:
        job = wait_for_job(client, job_id)
    assert job["status"] == "done" and job["report"]["added"] == ["mot"], job
    assert index.calls == [("ingest", "default", ["mot"])]


def test_shutdown_returns_within_job_stop_s_though_a_thread_job_ignores_the_cancel(tmp_path: Path) -> None:
    release = threading.Event()
    started = threading.Event()

    def stuck(spec, cancel) -> IngestReport:  # noqa: ANN001
        started.set()
        release.wait(timeout=30)
        return IngestReport()

    jobs = JobRegistry(InThread(stuck), tmp_path / "jobs", stop_s=0.5)
    jobs.start()
    job = jobs.submit("delete", "c", doc_ids=["a"])
    assert started.wait(timeout=5)
    sent = time.monotonic()
    jobs.shutdown()
    assert time.monotonic() - sent < 2.5
    release.set()
    assert jobs.get(job.id).status in ("running", "done")  # the journal re-runs it if it never committed


def test_a_thread_job_stops_between_embedding_batches_at_shutdown_and_stays_queued(
    settings: Settings, fake_pipeline: FakePipeline
) -> None:
    thread_settings = settings.model_copy(update={"ingest_worker": "thread"})
    app = create_app(lambda s: fake_pipeline, thread_settings, index_ops=slow_ops())
    with running(app) as client:
        job_id = client.post(UPLOAD, json={"doc_id": "mot", "text": "Một."}).json()["id"]
        _wait_until((settings.home / "ingest-started").exists, 10, "the ingest did not start")
        sent = time.monotonic()
    assert time.monotonic() - sent < 2  # the lifespan's close: it stopped at the next batch
    job = app.state.service.jobs.get(job_id)
    assert job.status == "queued" and "runs again" in job.message
