"""The dense index: exact while small, HNSW, sq8 or IVF-sq8 when large, cosine similarities either way."""

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
    hnsw = build_faiss(vectors, Settings(hnsw_threshold=100, large_index="hnsw", hnsw_m=16, hnsw_ef_search=256))
    assert type(exact).__name__ == "IndexFlatIP" and type(hnsw).__name__ == "IndexHNSWFlat"
    (es, er), (hs, hr) = exact.search(queries, 5), hnsw.search(queries, 5)
    assert (er == hr).all()
    assert np.allclose(dense_similarity(hnsw, hs), es, atol=1e-5)
    assert np.allclose(dense_similarity(exact, es)[:, 0], np.sum(queries * vectors[er[:, 0]], axis=1), atol=1e-5)


def test_sq8_finds_the_exact_neighbours_with_their_cosines_to_a_hundredth() -> None:
    vectors, queries = _unit(2000), _unit(20, seed=1)
    exact = build_faiss(vectors, Settings(hnsw_threshold=10_000))
    sq8 = build_faiss(vectors, Settings(hnsw_threshold=100, large_index="sq8"))
    assert type(sq8).__name__ == "IndexScalarQuantizer" and sq8.ntotal == 2000
    (_, er), (qs, qr) = exact.search(queries, 10), sq8.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(er, qr, strict=True)])
    assert recall >= 0.9
    cosines = np.sum(queries[:, None, :] * vectors[qr], axis=2)
    assert np.allclose(dense_similarity(sq8, qs), cosines, atol=0.01)


def test_ivf_sq8_keeps_one_list_per_64_vectors_at_most_and_visits_nprobe_of_them() -> None:
    vectors, queries = _unit(3000), _unit(20, seed=1)
    exact = build_faiss(vectors, Settings(hnsw_threshold=10_000))
    ivf = build_faiss(vectors, Settings(hnsw_threshold=100, large_index="ivf_sq8", ivf_lists=4096, ivf_nprobe=46))
    assert type(ivf).__name__ == "IndexIVFScalarQuantizer" and (ivf.nlist, ivf.nprobe) == (46, 46)
    (_, er), (qs, qr) = exact.search(queries, 10), ivf.search(queries, 10)  # every list visited: sq8's recall
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(er, qr, strict=True)]) >= 0.9
    cosines = np.sum(queries[:, None, :] * vectors[qr], axis=2)
    assert np.allclose(dense_similarity(ivf, qs), cosines, atol=0.01)
