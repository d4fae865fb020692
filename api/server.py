"""``viqa serve``: the API and chat page under uvicorn."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from viqa.net import is_loopback
from viqa.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("viqa.api")


def run(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``create_app()`` on ``host:port`` until interrupted (models load in the background).

    SIGTERM stops it within ``shutdown_grace_s`` (open requests finish) plus ``job_stop_s`` (a running index job
    stops before its commit and stays queued in the journal, to run at the next start) plus STRAGGLER_WAIT_S.
    """
    import uvicorn

    from viqa.api.main import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    warn_if_exposed(host, settings)
    app = create_app()
    # viqa reads Forwarded / X-Forwarded-For itself, from VIQA_TRUSTED_PROXIES only: uvicorn must not rewrite them
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", proxy_headers=False,
                timeout_graceful_shutdown=settings.shutdown_grace_s)
    exit_if_stuck(app, STRAGGLER_WAIT_S)


def warn_if_exposed(host: str, settings: Settings) -> None:
    """Log what a server bound to a non-loopback ``host`` refuses with ``settings``: keyless writes, other Hosts."""
    if not settings.api_key and not is_loopback(host):
        log.warning("VIQA_API_KEY is not set: uploads and deletes are refused except from this machine")
    if not is_loopback(host) and not settings.allowed_hosts:
        log.warning("requests are answered only for loopback Host names: list this server's names in "
                    "VIQA_ALLOWED_HOSTS")


STRAGGLER_WAIT_S = 1.0


def exit_if_stuck(app: FastAPI, wait_s: float) -> None:
    """After a served run (the lifespan closed the jobs): wait ``wait_s`` for request threads still computing an
    answer nobody will get (a long question at SIGTERM), then exit anyway, since the journal and the index are safe.

    Python would otherwise wait for those threads (anyio's are not daemons) however long the question takes.
    """
    if not getattr(app.state.service, "closed", False):
        return
    deadline = time.monotonic() + wait_s
    me = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not me and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threading.enumerate() if t is not me and not t.daemon and t.is_alive()]
    if stuck:
        log.warning("exiting with %d request threads still busy: %s", len(stuck), ", ".join(stuck))
        logging.shutdown()
        os._exit(0)
