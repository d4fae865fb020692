"""The dense index: exact while small, HNSW when large, cosine similarities either way."""

from __future__ import annotations

import numpy as np

from viqa.index.store import build_faiss, dense_similarity
from viqa.settings import Settings


def _unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_hnsw_returns_the_same_neighbours_and_cosines_as_exact_search() -> None:
    vectors, queries = _unit(500), _unit(5, seed=1)
    exact = build_faiss(vectors, Settings(hnsw_threshold=10_000, hnsw_m=16, hnsw_ef_search=64))
    hnsw = build_faiss(vectors, Settings(hnsw_threshold=100, hnsw_m=16, hnsw_ef_search=256))
    assert type(exact).__name__ == "IndexFlatIP" and type(hnsw).__name__ == "IndexHNSWFlat"
    (es, er), (hs, hr) = exact.search(queries, 5), hnsw.search(queries, 5)
    assert (er == hr).all()
    assert np.allclose(dense_similarity(hnsw, hs), es, atol=1e-5)
    assert np.allclose(dense_similarity(exact, es)[:, 0], np.sum(queries * vectors[er[:, 0]], axis=1), atol=1e-5)
