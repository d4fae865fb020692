"""What the service holds between requests: settings, the pipeline (once loaded) and the job registry.

A failed model load is told to clients as ``LOAD_FAILED`` only: the exception (which names weights paths) goes to
the server log and stays in ``load_error_detail``, never in a response, with a key or without one (the operator
who holds the key reads the log).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from viqa.api.jobs import IndexOps, InThread, JobRegistry, JobSpec, Runner, WorkerProcess, stop_check
from viqa.api.serial import ModelLock, PipelineLike, SerialPipeline
from viqa.errors import NotFoundError
from viqa.index.milvus import single_process
from viqa.settings import Settings
from viqa.types import IngestReport

log = logging.getLogger("viqa.api")

PipelineFactory = Callable[[Settings], PipelineLike]
LOAD_FAILED = "loading the models failed; see the server log"


def default_pipeline_factory(settings: Settings) -> PipelineLike:
    """The real ``qa.pipeline.Pipeline`` (imported here so that importing the API loads no model code)."""
    from viqa.qa.pipeline import Pipeline

    return Pipeline(settings)


class ServiceState:
    """Loads the pipeline in a background thread; ``pipeline`` is None until ``ready`` is set."""

    def __init__(
        self, settings: Settings, factory: PipelineFactory, index_ops: IndexOps
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.index_ops = index_ops
        self.pipeline: SerialPipeline | None = None
        self.load_error: str | None = None  # what clients are told: LOAD_FAILED
        self.load_error_detail: str | None = None  # the exception, for the log
        self.ready = threading.Event()
        self.jobs = JobRegistry.for_settings(None, settings)  # its runner is chosen once the models are loaded
        self._thread: threading.Thread | None = None
        self.closed = False  # set once close() has stopped the jobs (the lifespan's end)

    def _runner(self, pipeline: PipelineLike) -> Runner:
        """A worker process when the settings ask for one and it can run there (module-level ops, and the embedder
        it would build is the service's); else the job thread."""
        ops, settings = self.index_ops, self.settings
        if settings.ingest_worker == "process" and single_process(settings):
            log.info("index jobs run on a thread: Milvus Lite opens in one process only")
        elif settings.ingest_worker == "process" and ops.importable:
            if ops.embedder(settings).id == pipeline.embedder.id:
                return WorkerProcess(ops, settings)
            log.info("index jobs run on a thread: the service's embedder is not the one a worker would build")
        return InThread(self._run_here)

    def _run_here(self, spec: JobSpec, cancel: threading.Event) -> IngestReport:
        """A job on the registry's thread, embedding with the service's models (questions first, see serial)."""
        assert self.pipeline is not None, "jobs start once the models are loaded"
        embedder = self.pipeline.embedder.for_job(stop_check(cancel))
        return self.index_ops.run(spec, embedder, self.settings)

    def start_loading(self) -> threading.Thread:
        """Read the job journal, then build and ``load()`` the pipeline off the event loop (/healthz answers at
        once; journaled jobs are reported at once, and run once the models are loaded)."""
        self.jobs.recover()
        self._thread = threading.Thread(target=self._load, name="viqa-load-models", daemon=True)
        self._thread.start()
        return self._thread

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            pipeline = self.factory(self.settings)
            pipeline.load()
            self._warm_up(pipeline)
        except Exception as exc:
            log.exception("loading the models failed")
            self.load_error_detail = f"{type(exc).__name__}: {exc}"
            self.load_error = LOAD_FAILED
            return
        lock = ModelLock(self.settings.ingest_yield_questions)
        self.pipeline = SerialPipeline(pipeline, lock, batch_size=self.settings.embed_batch_size)
        self.ready.set()
        log.info("models loaded in %.1f s", time.perf_counter() - started)
        self.jobs.start(self._runner(pipeline))

    def _warm_up(self, pipeline: PipelineLike) -> None:
        """Open the default collection's index now, if it has one (a new install has none: that is fine)."""
        name = self.settings.default_collection
        try:
            pipeline.retriever(name)
        except NotFoundError:
            log.info("collection %r has no index yet; upload documents or run `viqa ingest`", name)

    def close(self) -> None:
        """Stop within about ``job_stop_s``: a running job stops before its commit and stays queued."""
        self.jobs.shutdown()
        self.closed = True
