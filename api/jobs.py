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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from viqa.index.ingest import IngestReport, delete_documents, ingest_documents

from viqa.errors import ViqaError

log = logging.getLogger("viqa.api.jobs")

JOB_STATES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class IndexOps:
    """The index writers the document routes call; tests swap in fakes that embed nothing."""

    ingest: Callable[..., IngestReport] = ingest_documents
    delete: Callable[..., IngestReport] = delete_documents


@dataclass(frozen=True)
class Job:
    """A snapshot of one job; ``report`` is the IngestReport as a dict once it is done."""

    id: str
    kind: str
    collection: str
    status: str = "queued"
    message: str | None = None
    report: dict[str, Any] | None = None
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

    def submit(self, kind: str, collection: str, fn: Callable[[], IngestReport]) -> Job:
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
            summary = (
                f"{len(report.added)} added, {len(report.replaced)} replaced, {len(report.skipped)} unchanged, "
                f"{len(report.deleted)} deleted; {report.chunks} passages"
            )
            self._set(job_id, status="done", message=summary, report=asdict(report), finished_at=time.time())

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Cancel queued jobs and wait for the running one (its commit is atomic either way)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
