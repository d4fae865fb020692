"""Bounded caches: an unknown collection name caches nothing, and loaded collections are held in an LRU of
``max_loaded_collections``."""

from __future__ import annotations

import gc
import weakref

import pytest

from tests.fakes import FakeEmbedder
from viqa.errors import InputError, NotFoundError
from viqa.index.ingest import ingest_documents
from viqa.index.store import Collection
from viqa.qa.pipeline import Pipeline
from viqa.types import Document


def _pipeline(settings, embedder: FakeEmbedder) -> Pipeline:
    pipe = Pipeline(settings)
    pipe.embedder = embedder  # type: ignore[assignment]
    return pipe


def _ingest(settings, embedder: FakeEmbedder, name: str) -> None:
    text = f"Bộ sưu tập {name} có 21 xã."
    ingest_documents(Collection(settings.collections_dir, name), [Document("d", "D", "upload:d", text, name)],
                     embedder, settings)


def test_unknown_collection_names_cache_nothing_and_create_nothing(settings, fake_embedder: FakeEmbedder) -> None:
    pipe = _pipeline(settings, fake_embedder)
    for i in range(200):
        with pytest.raises(NotFoundError):
            pipe.retriever(f"nope-{i}")
    with pytest.raises(InputError):
        pipe.retriever("../etc")
    assert pipe.loaded_collections == []
    assert not settings.collections_dir.exists() or list(settings.collections_dir.iterdir()) == []


def test_loaded_collections_are_held_in_an_lru_of_the_settings_size(settings, fake_embedder: FakeEmbedder) -> None:
    small = settings.model_copy(update={"max_loaded_collections": 2})
    for name in ("a", "b", "c"):
        _ingest(small, fake_embedder, name)
    pipe = _pipeline(small, fake_embedder)
    b = weakref.ref(pipe.retriever("b"))
    pipe.retriever("a")
    assert pipe.loaded_collections == ["b", "a"]
    pipe.retriever("b")  # used again: now the most recent
    pipe.retriever("c")
    assert pipe.loaded_collections == ["b", "c"]
    assert pipe.retriever("a").search("bộ sưu tập a", k=1)  # an unloaded collection loads again
    assert pipe.loaded_collections == ["c", "a"]
    gc.collect()
    assert b() is None  # the unloaded retriever (and its index) is freed


def test_a_collection_deleted_on_disk_is_dropped_from_the_cache(settings, fake_embedder: FakeEmbedder) -> None:
    _ingest(settings, fake_embedder, "a")
    pipe = _pipeline(settings, fake_embedder)
    pipe.retriever("a")
    Collection(settings.collections_dir, "a").delete()
    with pytest.raises(NotFoundError):
        pipe.retriever("a")
    assert pipe.loaded_collections == []


def test_the_lru_size_is_a_setting_with_a_sane_default(settings) -> None:
    assert settings.max_loaded_collections >= 1
    with pytest.raises(ValueError):
        type(settings)(max_loaded_collections=0)
