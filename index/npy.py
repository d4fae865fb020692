"""``np.load`` for the store's arrays, one header at a time.

``np.load`` parses each ``.npy`` header with ``ast.literal_eval``, and CPython 3.11's AST constructor is not safe
to run in two threads at once (it raises ``SystemError: AST constructor recursion depth mismatch``, CPython
gh-106905): readers opening segments on several threads would fail at random. Loading is serialised here; reading
the arrays (memory-mapped or not) is not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")

_LOCK = threading.Lock()


def load(path: Path, mmap: bool = False) -> np.ndarray:
    """The array in ``path`` (memory-mapped read-only when ``mmap``); never a pickle."""
    with _LOCK:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


def serialised(fn: Callable[[], T]) -> T:
    """``fn()`` (a library's loader that calls ``np.load``) under the same lock."""
    with _LOCK:
        return fn()
