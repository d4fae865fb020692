"""``viqa serve --replicas N``: the API as a Ray Serve deployment of N replicas over one VIQA_HOME.

Each replica is a Ray actor (its own process) that builds ``create_app(factory, settings)`` and runs its lifespan:
it loads the models once, and takes traffic only once they are loaded (a replica whose models fail to load never
takes any; Ray starts another). The replicas get the settings this process resolved (one VIQA_HOME, one store) and
share its job journal: the replica holding the journal's flock runs the jobs, the others journal theirs for it
(``api.jobs``), and one of them takes over if it dies.

Ray's proxy sends a request to a replica with fewer than ``max_ongoing_requests`` in hand and queues at most
``max_queued_requests`` more; past that the client gets 503 with ``Retry-After``. A replica that dies fails the
requests it held: ``ProxyErrors``, in the proxy, answers those 503 with ``Retry-After`` too (not the proxy's bare
500), so a client that honours 503 + Retry-After loses no question. Ray is imported here only: the core
install has none (``pip install -e '.[scale]'``).

>>> ray.init()
>>> start("127.0.0.1", 8000)
>>> serve.run(build_app(2), name=APP_NAME, route_prefix="/")      # then POST http://127.0.0.1:8000/v1/ask
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import ray
from fastapi import FastAPI
from ray import serve
from ray.serve.config import BackpressureConfig
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from viqa.api.jobs import IndexOps
from viqa.api.main import create_app
from viqa.api.routes.health import readyz
from viqa.api.server import warn_if_exposed
from viqa.api.state import PipelineFactory, ServiceState
from viqa.errors import InputError
from viqa.index.milvus import single_process
from viqa.settings import Settings, get_settings

log = logging.getLogger("viqa.api")

APP_NAME = "viqa"
REPLICA_HEADER = "X-Viqa-Replica"
PROXY_CALLBACK_ENV = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"  # read by Ray's proxy when it starts


class ReplicaHeader:
    """ASGI middleware of a replica: every HTTP response carries ``X-Viqa-Replica: <replica id> <pid>``."""

    def __init__(self, app: ASGIApp, value: str) -> None:
        self.app = app
        self.value = value.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (REPLICA_HEADER.lower().encode(), self.value)]
            await send(message)

        await self.app(scope, receive, tagged)


class ProxyErrors:
    """ASGI middleware of Ray's proxy: what the proxy answers itself comes in the API's error shape, with Retry-After.

    A request whose replica stopped before answering (the proxy would send a bare 500), and a 503 of the proxy's own
    (its queue is full, or no replica is up: no ``X-Viqa-Replica`` on it), become 503 ``not_ready`` with
    ``Retry-After``. Asking again is safe: a question is a read, and a write the dead replica may have journaled
    before it died is idempotent (an upload again is skipped as unchanged; a delete again reports the document gone).
    """

    def __init__(self, app: ASGIApp, retry_after_s: float) -> None:
        self.app = app
        self.retry_after = str(max(1, math.ceil(retry_after_s))).encode()

    async def _unavailable(self, send: Send, message: str) -> None:
        body = json.dumps({"error": {"code": "not_ready", "message": message}}).encode()
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", self.retry_after)]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/-/"):  # the proxy's own routes
            await self.app(scope, receive, send)
            return
        started = replaced = False
        marker = REPLICA_HEADER.lower().encode()

        async def watch(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                started = True
                replaced = message["status"] == 503 and all(k.lower() != marker for k, _ in message.get("headers", []))
                if replaced:
                    await self._unavailable(send, "no replica can take this request now; try again shortly")
            if not replaced:
                await send(message)

        await self.app(scope, receive, watch)
        if not started:
            log.warning("%s %s: its replica stopped before answering; answered 503", scope["method"], scope["path"])
            await self._unavailable(send, "the replica answering this request stopped; try again")


def proxy_middlewares() -> list[Middleware]:
    """The layers Ray's proxy puts around itself, when PROXY_CALLBACK_ENV names this function in its environment."""
    return [Middleware(ProxyErrors, retry_after_s=get_settings().replica_retry_after_s)]


def _wait_loaded(state: ServiceState, poll_s: float = 0.1) -> None:
    """Block until ``state``'s pipeline is loaded; RuntimeError (LOAD_FAILED) if loading failed."""
    while not state.ready.wait(poll_s):
        if state.load_error is not None:
            raise RuntimeError(state.load_error)


def serve_until_loaded(app: FastAPI) -> FastAPI:
    """``app``, its lifespan startup ending only once its models are loaded (Ray sends it requests from then on)."""
    inner = app.router.lifespan_context
    state: ServiceState = app.state.service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as value:
            started = time.perf_counter()
            await asyncio.to_thread(_wait_loaded, state)
            log.info("replica %d: models loaded in %.1f s", os.getpid(), time.perf_counter() - started)
            yield value

    app.router.lifespan_context = lifespan
    return app


@serve.deployment(name=APP_NAME)
@serve.ingress()
class ViqaReplica:
    """One replica: ``create_app(factory, settings, index_ops=index_ops)``, healthy while ``/readyz`` says ready."""

    def __init__(self, factory: PipelineFactory | None, settings: Settings, index_ops: IndexOps | None) -> None:
        self._factory = factory
        self._settings = settings
        self._index_ops = index_ops
        self._state: ServiceState | None = None

    def __serve_build_asgi_app__(self) -> FastAPI:
        """The replica's app (Ray runs its lifespan next), its responses tagged with the replica."""
        app = serve_until_loaded(create_app(self._factory, self._settings, index_ops=self._index_ops))
        self._state = app.state.service
        replica = serve.get_replica_context().replica_id.unique_id
        app.add_middleware(ReplicaHeader, value=f"{replica} {os.getpid()}")
        return app

    def check_health(self) -> None:
        """Ray's health check: raises (Ray replaces the replica) unless ``/readyz`` would answer 200."""
        if self._state is None:
            raise RuntimeError("the replica's app is not built")
        readyz(self._state)


def build_app(
    replicas: int,
    pipeline_factory: PipelineFactory | None = None,
    settings: Settings | None = None,
    *,
    index_ops: IndexOps | None = None,
) -> serve.Application:
    """The Serve application: ``replicas`` replicas of the API over ``settings`` (default: this process's), each
    building its pipeline with ``pipeline_factory`` (default: the real one), sized by the ``replica_*`` settings."""
    if replicas < 1:
        raise ValueError("replicas must be >= 1")
    s = get_settings() if settings is None else settings
    deployment = ViqaReplica.options(
        num_replicas=replicas,
        max_ongoing_requests=s.replica_max_ongoing_requests,
        max_queued_requests=s.replica_max_queued_requests,
        backpressure_config=BackpressureConfig(status_code=503, retry_after_s=s.replica_retry_after_s),
        health_check_period_s=s.replica_health_check_s,
        graceful_shutdown_timeout_s=s.shutdown_grace_s + s.job_stop_s,
        ray_actor_options={"num_cpus": s.replica_cpus},
    )
    return deployment.bind(pipeline_factory, s, index_ops)


def app_builder(args: dict[str, str]) -> serve.Application:
    """The application for ``serve run viqa.api.ray_serve:app_builder replicas=2`` and KubeRay's ``serveConfigV2``
    (``import_path``, ``args: {replicas: "2"}``); settings come from the replicas' ``VIQA_*`` environment."""
    return build_app(int(args.get("replicas", "1")))


def start(host: str, port: int) -> None:
    """Start Serve on the connected cluster, its proxies on ``host:port`` with ``proxy_middlewares`` (named in the
    controller's environment, which the proxies inherit; if Serve already runs there, Ray warns and keeps its own)."""
    env = {PROXY_CALLBACK_ENV: f"{__name__}.{proxy_middlewares.__name__}"}
    serve.start(http_options={"host": host, "port": port}, controller_options={"runtime_env": {"env_vars": env}})


def run(host: str, port: int, replicas: int) -> None:
    """Serve ``replicas`` replicas on ``host:port`` until SIGINT or SIGTERM: on the cluster at ``RAY_ADDRESS`` if
    set (leaving it, and Serve, running), else on a Ray started here; InputError if this machine has too few CPUs."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    if single_process(settings):
        raise InputError("replicas need a store they can all open: the file store or a Milvus server "
                         "(VIQA_MILVUS_URI=http://…), not Milvus Lite")
    warn_if_exposed(host, settings)
    address = os.environ.get("RAY_ADDRESS") or None
    ray.init(address=address)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        cpus = ray.cluster_resources().get("CPU", 0.0)
        if address is None and replicas > cpus:
            raise InputError(f"{replicas} replicas take a CPU each and this machine has {cpus:g}: use fewer, or a"
                             " Ray cluster (RAY_ADDRESS)")
        start(host, port)
        serve.run(build_app(replicas, settings=settings), name=APP_NAME, route_prefix="/")
        log.info("serving %d replicas on http://%s:%d", replicas, host, port)
        stop.wait()
    finally:
        if address is None:
            serve.shutdown()
        else:
            serve.delete(APP_NAME)
        ray.shutdown()
