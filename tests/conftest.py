"""Shared fixtures: isolated VIQA_HOME per test, a fake embedder for fast index tests, the real models once."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from viqa.settings import PROJECT_ROOT, Settings, get_settings
from viqa.text.segment import syllables

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

SAMPLE = PROJECT_ROOT / "data" / "sample" / "lang-son-bao-cao-kt-xh-thang-11-2023.txt"
SHARED = PROJECT_ROOT.parent / "shared"


class FakeEmbedder:
    """Bag-of-syllables random projection: deterministic, instant, and similar texts get similar vectors."""

    dim = 384

    def __init__(self) -> None:
        self.calls = 0

    def load(self) -> FakeEmbedder:
        return self

    @staticmethod
    def _vector(text: str) -> np.ndarray:
        v = np.zeros(FakeEmbedder.dim, dtype=np.float32)
        for syl in syllables(text):
            seed = int.from_bytes(hashlib.sha1(syl.encode()).digest()[:4], "little")
            v += np.random.default_rng(seed).standard_normal(FakeEmbedder.dim).astype(np.float32)
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.calls += len(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode_passages(texts)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose VIQA_HOME is a fresh temporary folder (model cache shared across tests)."""
    monkeypatch.setenv("VIQA_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    s = get_settings()
    shared_cache = Path(os.environ.get("VIQA_TEST_MODEL_CACHE", Path.home() / ".viqa" / "models"))
    s.model_cache.parent.mkdir(parents=True, exist_ok=True)
    s.model_cache.symlink_to(shared_cache, target_is_directory=True)
    shared_cache.mkdir(parents=True, exist_ok=True)
    yield s
    get_settings.cache_clear()


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """The bundled report, copied so a test may change it."""
    dest = tmp_path / "docs" / SAMPLE.name
    dest.parent.mkdir()
    shutil.copy(SAMPLE, dest)
    return dest
