"""The FastAPI application: ``create_app()`` wires settings, the pipeline (loaded in the background) and routes.

>>> app = create_app()            # real models, loaded at startup; serve with ``api.server.run()``
>>> app = create_app(lambda s: FakePipeline(s), settings)    # tests
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from viqa.api.deps import CSRF_HEADER, declare_key_scheme, publish_limits
from viqa.api.errors import install_error_handlers
from viqa.api.jobs import IndexOps
from viqa.api.middleware import (
    BodyLimitMiddleware,
    HostCheckMiddleware,
    MethodsMiddleware,
    ProxyHeadersMiddleware,
    RequestContextMiddleware,
)
from viqa.api.routes import ask, chat, docs, documents, health, jobs, openai, web
from viqa.api.state import PipelineFactory, ServiceState, default_pipeline_factory
from viqa.net import networks
from viqa.settings import Settings, get_settings

_UPLOAD_PATH = re.compile(r"^/v1/collections/[^/]+/documents/?$")
DESCRIPTION = f"""Writes (uploads, deletes) take the API key (VIQA_API_KEY) as `Authorization: Bearer <key>` or
`X-API-Key`. With no key configured they are taken from the server's own machine only, and must prove that no
other site sent them: the header `{CSRF_HEADER}: viqa` (which no cross-site form can send), or a browser's own
`Sec-Fetch-Site: same-origin` or `Origin` of this server. A write whose `Origin` is another site (not in
VIQA_CORS_ORIGINS) or whose `Sec-Fetch-Site` is not same-origin is refused, key or not. The Host must be a
loopback name or in VIQA_ALLOWED_HOSTS. Questions and listings are public unless VIQA_PUBLIC_READS=false."""


class RevalidatedStaticFiles(StaticFiles):
    """Static files a browser revalidates (by ETag) before each use: the page's modules are upgraded together."""

    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200):
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


def create_app(
    pipeline_factory: PipelineFactory | None = None,
    settings: Settings | None = None,
    *,
    index_ops: IndexOps | None = None,
) -> FastAPI:
    """The app; the pipeline is built by ``pipeline_factory(settings)`` and ``load()``-ed in a background thread."""
    settings = get_settings() if settings is None else settings
    api = settings
    proxies = networks(api.trusted_proxies, "VIQA_TRUSTED_PROXIES")
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
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from routes.docs, with vendored assets instead of a CDN's
        redoc_url=None,
    )
    app.state.service = state
    install_error_handlers(app)
    for module in (health, ask, chat, openai, documents, jobs, web, docs):
        app.include_router(module.router)
    app.mount("/static", RevalidatedStaticFiles(directory=web.STATIC_DIR), name="static")

    def body_limit(method: str, path: str) -> int:
        return api.max_upload_bytes if method == "POST" and _UPLOAD_PATH.match(path) else api.max_body_bytes

    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, with the settings' limits and the key schemes on the operations that take the key."""
        fresh = app.openapi_schema is None
        schema = generate_openapi()
        return declare_key_scheme(publish_limits(schema, api), app.routes, api) if fresh else schema

    app.openapi = openapi  # type: ignore[method-assign]

    # the last added runs first: request id and log line, the client as trusted proxies name it, the Host check,
    # CORS (so 413s carry it), body limits, then OPTIONS and the Allow of 405s
    app.add_middleware(MethodsMiddleware, routes=lambda: app.router.routes)
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit)
    if api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=api.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID", CSRF_HEADER],
                           expose_headers=["X-Request-ID", "Location"])
    app.add_middleware(HostCheckMiddleware, allowed=api.allowed_hosts)
    app.add_middleware(ProxyHeadersMiddleware, trusted=proxies)
    app.add_middleware(RequestContextMiddleware)
    return app
