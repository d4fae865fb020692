"""Status of indexing jobs."""

from __future__ import annotations

from fastapi import APIRouter

from viqa.api.deps import JobsDep, ReadAuth
from viqa.api.errors import ERROR_RESPONSES
from viqa.api.jobs import Job
from viqa.errors import NotFoundError

router = APIRouter(prefix="/v1", tags=["documents"], responses=ERROR_RESPONSES)


@router.get("/jobs/{job_id}", response_model=Job)
def get_job(job_id: str, jobs: JobsDep, _: ReadAuth) -> Job:
    """queued → running → done (with the ingest report) or failed (with the reason)."""
    job = jobs.get(job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id!r} (only the last {jobs.keep} finished jobs are kept)")
    return job
