"""Tesseract through its command line (no Python binding): is it there with a language, and what an image says."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

OCR_TIMEOUT_S = 180.0


class OcrError(RuntimeError):
    """Tesseract failed or ran past its time on an image; the message says how, in one line."""


@functools.cache
def _languages(tesseract: str) -> frozenset[str]:
    """The traineddata names ``tesseract --list-langs`` lists (empty if it cannot run)."""
    try:
        listing = subprocess.run([tesseract, "--list-langs"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    lines = (listing.stdout or listing.stderr).splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip())


def ocr_available(language: str) -> bool:
    """True when ``tesseract`` is on PATH and lists every part of ``language`` ("vie", "vie+eng")."""
    tesseract = shutil.which("tesseract")
    return tesseract is not None and set(language.split("+")) <= _languages(tesseract)


def ocr_image(image: bytes, language: str, *, timeout: float = OCR_TIMEOUT_S) -> str:
    """The text Tesseract reads in ``image`` (PNG bytes), lines as it sees them, paragraphs split by blank lines."""
    command = ["tesseract", "stdin", "stdout", "-l", language]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one page at a time, one core: no thread oversubscription
    try:
        done = subprocess.run(command, input=image, capture_output=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        raise OcrError(f"Tesseract ran past {timeout:.0f} s") from None
    except OSError as error:
        raise OcrError(f"Tesseract could not start: {error}") from None
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        raise OcrError(f"Tesseract failed (exit {done.returncode}): {last}")
    return done.stdout.decode("utf-8", "replace")
