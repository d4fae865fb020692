"""``viqa serve``: the API and chat page under uvicorn."""

from __future__ import annotations

import logging

from viqa.net import is_loopback
from viqa.settings import get_settings

log = logging.getLogger("viqa.api")


def run(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``create_app()`` on ``host:port`` until interrupted (models load in the background)."""
    import uvicorn

    from viqa.api.main import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not get_settings().api_key and not is_loopback(host):
        log.warning("VIQA_API_KEY is not set: uploads and deletes are refused except from this machine")
    uvicorn.run(create_app(), host=host, port=port, access_log=False, log_level="info")
