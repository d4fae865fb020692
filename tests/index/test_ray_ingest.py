"""``viqa ingest --ray``: documents prepared by Ray Data workers are stored exactly as a local ingest stores them."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.fakes import FakeEmbedder, fake_embedder_for, make_document
from viqa.cli import app as cli
from viqa.index.ingest import ingest_documents, prepare_documents
from viqa.index.segments import IndexState
from viqa.index.store import Collection
from viqa.qa.retrieval import Retriever
from viqa.settings import Settings

TEXTS = [f"Tháng {m}, kim ngạch xuất khẩu đạt {100 + m} triệu USD. Lúa gạo tăng {m} phần trăm. " * (m + 1)
         for m in range(1, 13)]


def test_an_ingest_through_ray_stores_and_ranks_what_a_local_ingest_does(ray_local, settings: Settings) -> None:
    from viqa.index.ray_ingest import ray_prepare

    docs = [make_document(f"thang-{i}", text) for i, text in enumerate(TEXTS)]
    prepared: list[IndexState] = []

    def through_ray(*args) -> IndexState:
        prepared.append(ray_prepare(settings, 2, fake_embedder_for)(*args))
        return prepared[-1]

    here, there = Collection(settings.collections_dir, "here"), Collection(settings.collections_dir, "there")
    ingest_documents(here, docs, FakeEmbedder(), settings)
    report = ingest_documents(there, docs, FakeEmbedder(), settings, prepare=through_ray)
    assert len(report.added) == len(docs)
    local = prepare_documents(docs, FakeEmbedder(), settings)
    (remote,) = prepared
    assert remote.chunks == local.chunks and remote.tokens == local.tokens and remote.documents == local.documents
    assert np.array_equal(remote.vectors, local.vectors)
    query = "kim ngạch xuất khẩu tháng 7"
    want = Retriever(here, FakeEmbedder(), settings).search(query)  # type: ignore[arg-type]
    got = Retriever(there, FakeEmbedder(), settings).search(query)  # type: ignore[arg-type]
    assert [(h.chunk, h.score) for h in got] == [(h.chunk, h.score) for h in want]


def test_ingest_with_ray_without_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delitem(sys.modules, "viqa.index.ray_ingest", raising=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as it does where it is not installed
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path), "--ray"])
    assert result.exit_code == 2
    assert result.stderr == "viqa: error: --ray needs Ray, which is not installed (ray): pip install -e '.[scale]'\n"
