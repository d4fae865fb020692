"""``viqa eval --ray``: a gold set's questions spread over Ray actors, each with its own pipeline loaded once.

The questions go out in small batches to whichever actor is free, and each result is written (and resumable) as
it comes back, exactly as a local run writes it: the scores do not depend on the number of actors. The actors
read the collection the driver names: the file store or a Milvus server (a Milvus Lite file opens in one process
only). Ray is imported here only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import ray

from viqa.errors import InputError
from viqa.eval.formats import GoldItem
from viqa.eval.runner import ItemResult, run_open, run_reader, run_retrieval
from viqa.index.milvus import single_process
from viqa.index.ray_ingest import init_ray
from viqa.settings import Settings

QUESTIONS_PER_BATCH = 8
Factory = Callable[[Settings], object]  # settings → a loaded-on-demand Pipeline (or a test's fake)


def _default_factory(settings: Settings):
    from viqa.qa.pipeline import Pipeline

    return Pipeline(settings)


class _Evaluator:
    """One actor: a pipeline built by ``factory`` and loaded once; answers batches of questions."""

    def __init__(self, factory: Factory, settings: Settings, mode: str, collection: str | None) -> None:
        self.pipeline = factory(settings)
        self.mode, self.collection = mode, collection
        self.pipeline.load(collection)

    def run(self, items: list[GoldItem]) -> list[ItemResult]:
        if self.mode == "reader":
            return list(run_reader(items, self.pipeline))
        if self.mode == "open":
            return list(run_open(items, self.pipeline, self.collection))
        return list(run_retrieval(items, self.pipeline, self.collection))


def ray_runner(
    settings: Settings, mode: str, collection: str | None, workers: int | None = None,
    factory: Factory = _default_factory,
) -> Callable[[list[GoldItem]], Iterator[ItemResult]]:
    """``run`` for ``evaluate``: the items answered by ``workers`` actors (None: one per CPU of the Ray cluster),
    results yielded as they come; InputError over Milvus Lite, which opens in one process only."""
    if single_process(settings):
        raise InputError("--ray needs a store every actor can open: the file store or a Milvus server "
                         "(VIQA_MILVUS_URI=http://…), not Milvus Lite")

    def run(todo: list[GoldItem]) -> Iterator[ItemResult]:
        cpus = init_ray()
        count = workers or cpus
        actor = ray.remote(num_cpus=1)(_Evaluator)
        actors = [actor.remote(factory, settings, mode, collection) for _ in range(min(count, max(len(todo), 1)))]
        batches = [todo[i : i + QUESTIONS_PER_BATCH] for i in range(0, len(todo), QUESTIONS_PER_BATCH)]
        running = {}
        try:
            for handle in actors:
                if batches:
                    running[handle.run.remote(batches.pop(0))] = handle
            while running:
                (ready,), _ = ray.wait(list(running), num_returns=1)
                handle = running.pop(ready)
                if batches:
                    running[handle.run.remote(batches.pop(0))] = handle
                yield from ray.get(ready)
        finally:
            for handle in actors:
                ray.kill(handle)

    return run
