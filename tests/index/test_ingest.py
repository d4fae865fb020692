"""Ingest skips a document only when its content and the chunking settings are those it was indexed with."""

from __future__ import annotations

from pathlib import Path

from tests.fakes import FakeEmbedder
from viqa.index.ingest import ingest_paths
from viqa.index.store import Collection


def test_a_changed_chunk_size_chunks_the_unchanged_documents_again(
    settings, fake_embedder: FakeEmbedder, sample_copy: Path, tmp_path: Path
) -> None:
    other = tmp_path / "docs" / "other.txt"
    other.write_text("Huyện Lộc Bình có 21 xã. Dân số huyện là 80.000 người. " * 40, encoding="utf-8")
    coll = Collection(settings.collections_dir, "test")
    ingest_paths(coll, [sample_copy], fake_embedder, settings)
    ingest_paths(coll, [other], fake_embedder, settings)
    before = len(coll.read_state(fake_embedder.id, fake_embedder.dim).chunks)
    smaller = settings.model_copy(update={"chunk_syllables": settings.chunk_syllables // 2})
    report = ingest_paths(coll, [sample_copy], fake_embedder, smaller)
    assert report.skipped == [] and sorted(report.replaced) == sorted([sample_copy.stem, "other"])
    state = coll.read_state(fake_embedder.id, fake_embedder.dim)
    assert len(state.chunks) > before and set(state.documents) == {sample_copy.stem, "other"}
    assert coll.manifest()["chunking"] == {"syllables": smaller.chunk_syllables,
                                           "overlap_sentences": smaller.chunk_overlap_sentences,
                                           "max_syllables": smaller.max_chunk_syllables}
    assert ingest_paths(coll, [sample_copy], fake_embedder, smaller).skipped == [sample_copy.stem]
