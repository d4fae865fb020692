"""Indexing jobs: one worker thread, so writes to the index happen one at a time while queries go on.

>>> jobs = JobRegistry()
>>> job = jobs.submit("ingest", "default", lambda: IngestReport(added=["a"]))
>>> jobs.get(job.id).status in {"queued", "running", "done"}
True
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import ConfigDict
from pydantic.dataclasses import dataclass as pydantic_dataclass

from viqa.errors import ViqaError
from viqa.index.ingest import delete_documents, ingest_documents
from viqa.types import IngestReport

log = logging.getLogger("viqa.api.jobs")

JobKind = Literal["ingest", "delete"]
JobStatus = Literal["queued", "running", "done", "failed"]
_JOB_EXAMPLE = {
    "id": "5c0e4f9bd1e34c6f8f1c2a7b9d3e6a10", "kind": "ingest", "collection": "default", "status": "done",
    "message": "1 added, 0 replaced, 0 unchanged, 0 deleted; 42 passages",
    "report": {"added": ["thong-bao-12"], "replaced": [], "skipped": [], "deleted": [], "chunks": 42},
    "created_at": 1700000000.0, "started_at": 1700000000.1, "finished_at": 1700000004.2,
}


@dataclass(frozen=True)
class IndexOps:
    """The index writers the document routes call; tests swap in fakes that embed nothing."""

    ingest: Callable[..., IngestReport] = ingest_documents
    delete: Callable[..., IngestReport] = delete_documents


@pydantic_dataclass(frozen=True, config=ConfigDict(json_schema_extra={"examples": [_JOB_EXAMPLE]}))
class Job:
    """An indexing job; poll ``GET /v1/jobs/{id}`` until ``status`` is done (with its report) or failed."""

    id: str
    kind: JobKind
    collection: str
    status: JobStatus = "queued"
    message: str | None = None
    report: IngestReport | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None


class JobRegistry:
    """Runs submitted functions one at a time and remembers the last ``keep`` jobs."""

    def __init__(self, keep: int = 1000) -> None:
        if keep < 1:
            raise ValueError("keep must be >= 1")
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="viqa-index")

    def _set(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def submit(self, kind: JobKind, collection: str, fn: Callable[[], IngestReport]) -> Job:
        """Queue ``fn``; its IngestReport (or error message) ends up on the job."""
        job = Job(id=uuid.uuid4().hex, kind=kind, collection=collection)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
        self._executor.submit(self._run, job.id, fn)
        return job

    def _run(self, job_id: str, fn: Callable[[], IngestReport]) -> None:
        self._set(job_id, status="running", started_at=time.time())
        try:
            report = fn()
        except ViqaError as exc:
            self._set(job_id, status="failed", message=str(exc), finished_at=time.time())
        except Exception as exc:
            log.exception("job %s failed", job_id)
            self._set(job_id, status="failed", message=f"internal error: {type(exc).__name__}", finished_at=time.time())
        else:
            self._set(job_id, status="done", message=report.summary(), report=report, finished_at=time.time())

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Cancel queued jobs and wait for the running one (its commit is atomic either way)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
