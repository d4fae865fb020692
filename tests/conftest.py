"""Shared fixtures: an isolated VIQA_HOME per test, a fake embedder for fast index tests, the real models once.

The real models are built into one model cache per run: ``$VIQA_TEST_MODEL_CACHE`` if set, else the cache of
the ``VIQA_HOME`` the suite was started with if one was given, else a temporary folder. Nothing else is shared.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.fakes import FakeEmbedder
from tests.paths import SAMPLE
from viqa.settings import Settings, get_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
_STARTED_WITH_HOME = os.environ.get("VIQA_HOME")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one model cache of this run (see the module docstring)."""
    if os.environ.get("VIQA_TEST_MODEL_CACHE"):
        cache = Path(os.environ["VIQA_TEST_MODEL_CACHE"])
    elif _STARTED_WITH_HOME:
        cache = Settings(home=Path(_STARTED_WITH_HOME)).model_cache
    else:
        cache = tmp_path_factory.mktemp("model-cache")
    cache.mkdir(parents=True, exist_ok=True)
    return cache


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> Settings:
    """Settings whose VIQA_HOME is a fresh temporary folder, with the run's model cache in it."""
    monkeypatch.setenv("VIQA_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    s = get_settings()
    s.model_cache.parent.mkdir(parents=True, exist_ok=True)
    s.model_cache.symlink_to(model_cache, target_is_directory=True)
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


@pytest.fixture(scope="session")
def ray_local():
    """A Ray cluster on this machine (2 CPUs, loopback), started once for every test that needs one; the ``ray``
    module. Skips without the scale extra. The tests' fakes travel to Ray's workers by value: pytest imports them
    from paths those workers do not have."""
    ray = pytest.importorskip("ray", reason="ray not installed: pip install -e '.[scale]'")
    import tests.fakes

    ray.cloudpickle.register_pickle_by_value(tests.fakes)
    ray.init(address="local", num_cpus=2, object_store_memory=200 * 1024**2, include_dashboard=False,
             log_to_driver=False)
    yield ray
    ray.shutdown()
