"""A live server and one headless Chromium for the page tests (Debian's build: nothing is downloaded)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

def offline_page(browser, base_url: str, record: Callable[[object], None], errors: list[str], timeout_ms: int):
    """(context, page) of a fresh Chromium context in which every request is passed to ``record`` and those not to
    ``base_url`` are aborted; the page's script and console errors go to ``errors``. Close the context after."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN", service_workers="block")
    context.set_default_timeout(timeout_ms)

    def route(r) -> None:
        record(r.request)
        if r.request.url.startswith(base_url + "/"):
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return context, page


def chromium_path() -> str | None:
    """Debian's chromium (or ``$VIQA_CHROMIUM``), if installed."""
    candidates = [os.environ.get("VIQA_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a background thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.01)
        assert server.started, "uvicorn did not start"
        assert app.state.service.ready.wait(timeout=5), "the fake pipeline never became ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
