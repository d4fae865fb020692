"""Keep library chatter off the terminal: weight-loading reports, progress bars, debug logging."""

from __future__ import annotations

import logging
import os

NOISY_LOGGERS = ("bm25s", "transformers", "sentence_transformers")


class _WarningsAndUp(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def quiet_model_loading() -> None:
    """Set (unless already set) the environment that silences transformers and huggingface_hub."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def quiet_libraries() -> None:
    """Drop the chatty libraries' debug and info records. A filter, not a level: bm25s resets its
    logger's level to DEBUG when it is imported, which viqa does lazily."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _WarningsAndUp) for f in logger.filters):
            logger.addFilter(_WarningsAndUp())
