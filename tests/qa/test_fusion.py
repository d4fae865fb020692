from __future__ import annotations

import pytest

from viqa.qa.fusion import fuse_minmax, fuse_rrf, minmax


def test_minmax_scales_to_unit_interval() -> None:
    assert minmax({1: 2.0, 2: 4.0, 3: 3.0}) == {1: 0.0, 2: 1.0, 3: 0.5}
    assert minmax({7: 3.0}) == {7: 1.0}
    assert minmax({}) == {}


def test_minmax_fusion_weights_dense_by_alpha_and_counts_misses_as_zero() -> None:
    fused = fuse_minmax({1: 0.9, 2: 0.1}, {2: 10.0, 3: 5.0}, alpha=0.75)
    assert fused[1] == pytest.approx(0.75)
    assert fused[2] == pytest.approx(0.25)
    assert fused[3] == pytest.approx(0.0)


def test_minmax_fusion_rejects_alpha_outside_unit_interval() -> None:
    with pytest.raises(ValueError):
        fuse_minmax({}, {}, alpha=1.5)


def test_rrf_rewards_agreement_between_rankings() -> None:
    fused = fuse_rrf({1: 0.9, 2: 0.8}, {2: 9.0, 3: 1.0}, k=60)
    assert max(fused, key=fused.get) == 2
    assert fused[1] == pytest.approx(1 / 61)
