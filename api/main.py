"""The FastAPI application: ``create_app()`` wires settings, the pipeline (loaded in the background) and routes.

>>> app = create_app()            # real models, loaded at startup; serve with ``api.server.run()``
>>> app = create_app(lambda s: FakePipeline(s), settings)    # tests
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from viqa.api.errors import install_error_handlers
from viqa.api.jobs import IndexOps
from viqa.api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from viqa.api.routes import ask, chat, docs, documents, health, jobs, openai, web
from viqa.api.state import PipelineFactory, ServiceState, default_pipeline_factory
from viqa.settings import Settings, get_settings

_UPLOAD_PATH = re.compile(r"^/v1/collections/[^/]+/documents/?$")


def create_app(
    pipeline_factory: PipelineFactory | None = None,
    settings: Settings | None = None,
    *,
    index_ops: IndexOps | None = None,
) -> FastAPI:
    """The app; the pipeline is built by ``pipeline_factory(settings)`` and ``load()``-ed in a background thread."""
    settings = get_settings() if settings is None else settings
    api = settings
    factory = default_pipeline_factory if pipeline_factory is None else pipeline_factory
    state = ServiceState(settings, factory, IndexOps() if index_ops is None else index_ops)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start_loading()
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="viqa",
        version="0.1.0",
        summary="Question answering over Vietnamese documents, with exact citations.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from routes.docs, with vendored assets instead of a CDN's
        redoc_url=None,
    )
    app.state.service = state
    install_error_handlers(app)
    for module in (health, ask, chat, openai, documents, jobs, web, docs):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")

    def body_limit(method: str, path: str) -> int:
        return api.max_upload_bytes if method == "POST" and _UPLOAD_PATH.match(path) else api.max_body_bytes

    # the last added runs first: request id and log line, then CORS (so 413s carry it), then body limits
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit)
    if api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=api.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "Location"])
    app.add_middleware(RequestContextMiddleware)
    return app
