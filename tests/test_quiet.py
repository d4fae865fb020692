"""The CLI keeps library chatter off the terminal."""

from __future__ import annotations

import logging

from viqa.quiet import quiet_libraries


def _record(level: int) -> logging.LogRecord:
    return logging.LogRecord("bm25s", level, __file__, 1, "Building index from tokens", None, None)


def test_bm25s_debug_lines_stay_hidden_even_after_it_resets_its_level() -> None:
    import bm25s  # noqa: F401  (its import sets its logger to DEBUG)

    quiet_libraries()
    quiet_libraries()  # idempotent
    logger = logging.getLogger("bm25s")
    logger.setLevel(logging.DEBUG)
    assert not logger.filter(_record(logging.DEBUG)) and not logger.filter(_record(logging.INFO))
    assert logger.filter(_record(logging.WARNING))
    assert len(logger.filters) == 1
