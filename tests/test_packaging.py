"""The wheel installs one import name, ``viqa``, with the reader weights and the web page as package data, and
without the training and benchmark code; installed, it runs without the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.paths import CHECKOUT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(CHECKOUT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out)], check=True, capture_output=True)
    (built,) = out.glob("viqa-*.whl")
    return built


def test_the_wheel_adds_exactly_one_top_level_name(wheel: Path) -> None:
    name, version = wheel.name.split("-")[:2]
    assert {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()} == {"viqa", f"{name}-{version}.dist-info"}


def test_the_wheel_ships_weights_and_page_but_not_training_or_benchmarks(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"viqa/models/weights/reader/reader.safetensors", "viqa/models/weights/reader/reader.json",
            "viqa/api/static/index.html", "viqa/qa/pipeline.py", "viqa/text/normalise.py"} <= names
    assert not [n for n in names if "/training/" in n or "/benchmarks/" in n]


def test_the_installed_package_runs_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import viqa.qa.pipeline, viqa.api.main, viqa.cli; "
            "from viqa import Pipeline, get_settings; from viqa.models.reader_model import reader_weights; "
            "print(viqa.qa.pipeline.__file__); print(reader_weights(get_settings()))")
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=tmp_path, check=True, capture_output=True,
                         text=True, env={"PATH": "/usr/bin:/bin", "VIQA_HOME": str(tmp_path / "home")}).stdout
    module, weights = out.splitlines()
    assert Path(module).is_relative_to(site) and Path(weights).is_relative_to(site)
    assert (Path(weights) / "reader.safetensors").is_file()
