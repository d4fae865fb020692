"""The benchmark scripts' own logic; running them in full is what their commands in the README are for."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from viqa.eval.benchmarks.scale import SENTENCES_PER_CHUNK, synthesise
from viqa.eval.benchmarks.speed import VARIANTS, variant_settings
from viqa.settings import Settings


def test_speed_variants_go_from_the_old_set_up_to_the_shipped_one_a_change_at_a_time(settings) -> None:
    variants = variant_settings(settings)
    assert [label for label, _ in variants] == [label for label, _ in VARIANTS]
    first, last = variants[0][1], variants[-1][1]
    assert (first.reader_runtime, first.embedder_runtime, first.read_sure_margin) == ("torch", "torch", None)
    for (_, before), (_, after), (_, change) in zip(variants[:-1], variants[1:], VARIANTS[1:], strict=True):
        differs = {k for k, v in after.model_dump().items() if before.model_dump()[k] != v}
        assert differs <= set(change)
    shipped = Settings()
    for key in {k for _, change in VARIANTS[1:] for k in change}:
        assert getattr(last, key) == getattr(shipped, key), f"the last variant should be what viqa ships: {key}"


def test_synthetic_chunks_are_unit_vectors_made_of_their_sentences() -> None:
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(20, 8)).astype(np.float32)
    pool_ids = [[i, 100 + i] for i in range(20)]
    vectors, ids = synthesise(50, pool, pool_ids, np.random.default_rng(1))
    assert vectors.shape == (50, 8) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert all(len(row) == 2 * SENTENCES_PER_CHUNK for row in ids)
    picks = [row[::2] for row in ids]  # the sentence index of each pair of term ids
    expected = pool[picks[0]].sum(axis=0)
    assert np.allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-5)


def test_viqa_never_imports_haystack() -> None:
    code = ("import sys, viqa.api.main, viqa.qa.pipeline, viqa.index.ingest, viqa.eval.evaluate, viqa.cli; "
            "sys.exit(any(m.split('.')[0] in ('haystack', 'haystack_integrations') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
