"""The packages import one way: core ← text ← models ← index ← qa ← {api, eval} ← cli, and nothing on the
inference path imports training or benchmarks. The rule is checked on the source, so a wrong-way import fails
here even when it sits inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.paths import CHECKOUT

# the folders of the checkout and the import names they install as (pyproject's package-dir)
FOLDERS = {"viqa": "viqa", "models": "viqa.models", "index": "viqa.index", "qa": "viqa.qa", "api": "viqa.api",
           "eval": "viqa.eval"}
CORE = ("viqa.types", "viqa.errors", "viqa.settings", "viqa.files", "viqa.net", "viqa.quiet", "viqa.links")
LAYERS: list[tuple[str, ...]] = [
    CORE,
    ("viqa.text",),
    ("viqa.models",),
    ("viqa.index",),
    ("viqa.qa",),
    ("viqa.api", "viqa.eval"),  # peers: neither imports the other
    ("viqa.cli", "viqa"),  # the command line, and the package's public face (``from viqa import Pipeline``)
]
OUTSIDE = ("viqa.models.training", "viqa.eval.benchmarks")  # above everything, and out of the wheel
OLD_TOP_LEVEL = {"qa", "index", "models", "api", "eval"}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> tuple[int, str]:
    """(layer number, the layer's package) of a ``viqa`` module; OUTSIDE modules are above every layer."""
    if any(_under(module, p) for p in OUTSIDE):
        return len(LAYERS), next(p for p in OUTSIDE if _under(module, p))
    best = None
    for number, packages in enumerate(LAYERS):
        for package in packages:
            if _under(module, package) and (best is None or len(package) > len(best[1])):
                best = (number, package)
    if best is None:
        raise ValueError(f"{module} is in no layer: add it to LAYERS")
    return best


def imported_modules(module: str, source: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, at any depth, relative ones resolved."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.append((node.lineno, f"{base}.{node.module}" if node.module else base))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def violations(module: str, source: str) -> list[str]:
    """Why each import of ``source`` (the code of ``module``) goes the wrong way; [] when all go one way."""
    mine, my_package = layer_of(module)
    problems = []
    for line, target in imported_modules(module, source):
        top = target.split(".")[0]
        if top in OLD_TOP_LEVEL:
            problems.append(f"{module}:{line} imports {target}: the installed name is viqa.{target}")
            continue
        if top != "viqa":
            continue
        theirs, their_package = layer_of(target)
        if their_package == my_package or _under(target, my_package) or _under(module, their_package):
            continue
        if theirs > mine or (theirs == mine and mine != 0 and their_package != my_package):
            problems.append(f"{module}:{line} imports {target} ({their_package}, layer {theirs}) "
                            f"from {my_package}, layer {mine}")
    return problems


def _modules() -> list[tuple[str, Path]]:
    modules = []
    for folder, name in FOLDERS.items():
        for path in sorted((CHECKOUT / folder).rglob("*.py")):
            parts = path.relative_to(CHECKOUT / folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            modules.append((".".join((name, *parts)), path))
    return modules


def test_every_import_of_the_tree_goes_one_way() -> None:
    problems = [p for module, path in _modules() for p in violations(module, path.read_text(encoding="utf-8"))]
    assert problems == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("viqa.settings", "from viqa.models.onnx_export import Runtime"),  # core reaching up to models
        ("viqa.qa.answering", "from viqa.eval.metrics import normalise_vi"),  # inference needing eval
        ("viqa.text.segment", "def f():\n    from viqa.index.store import Collection"),  # hidden in a function
        ("viqa.qa.reader", "import viqa.models.training.train_reader"),  # training on the inference path
        ("viqa.api.routes.ask", "from viqa.eval.runner import run_open"),  # peers
        ("viqa.eval.runner", "from viqa.api.schemas import AskOut"),
        ("viqa.index.ingest", "from qa.pipeline import Pipeline"),  # a checkout path, not the installed name
    ],
)
def test_a_wrong_way_import_is_caught(module: str, source: str) -> None:
    assert len(violations(module, source)) == 1


def test_imports_that_go_down_or_stay_inside_a_package_pass() -> None:
    assert violations("viqa.qa.pipeline", "from viqa.index.store import Collection\nimport viqa.qa.reader") == []
    assert violations("viqa.models.training.calibrate_reader", "from viqa.eval.metrics import f1") == []
    assert violations("viqa.settings", "from viqa.errors import InputError") == []
    assert violations("viqa.api.routes.ask", "from ..schemas import AskOut") == []


def test_every_module_is_in_a_layer() -> None:
    for module, _path in _modules():
        layer_of(module)
