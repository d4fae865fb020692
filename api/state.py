"""What the service holds between requests: settings, the pipeline (once loaded) and the job registry."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from viqa.api.jobs import IndexOps, JobRegistry
from viqa.api.serial import PipelineLike, SerialPipeline
from viqa.errors import NotFoundError
from viqa.settings import Settings

log = logging.getLogger("viqa.api")

PipelineFactory = Callable[[Settings], PipelineLike]


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
        self.load_error: str | None = None
        self.ready = threading.Event()
        self.jobs = JobRegistry()
        self._thread: threading.Thread | None = None

    def start_loading(self) -> threading.Thread:
        """Build and ``load()`` the pipeline off the event loop, so /healthz answers at once."""
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
            self.load_error = f"loading the models failed: {type(exc).__name__}: {exc}"
            return
        self.pipeline = SerialPipeline(pipeline, batch_size=self.settings.embed_batch_size)
        self.ready.set()
        log.info("models loaded in %.1f s", time.perf_counter() - started)

    def _warm_up(self, pipeline: PipelineLike) -> None:
        """Open the default collection's index now, if it has one (a new install has none: that is fine)."""
        name = self.settings.default_collection
        try:
            pipeline.retriever(name)
        except NotFoundError:
            log.info("collection %r has no index yet; upload documents or run `viqa ingest`", name)

    def close(self) -> None:
        self.jobs.shutdown()
