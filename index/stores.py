"""Which store holds the collections (``settings.store``): the file store, or Milvus."""

from __future__ import annotations

from viqa.index.milvus import MilvusCollection, connect, milvus_collections
from viqa.index.store import Collection, list_collections
from viqa.settings import Settings

AnyCollection = Collection | MilvusCollection


def open_collection(settings: Settings, name: str | None = None) -> AnyCollection:
    """The collection ``name`` (default: the settings' default collection) in the settings' store; nothing is read."""
    name = name or settings.default_collection
    if settings.store == "milvus":
        return MilvusCollection(connect(settings), name, settings)
    return Collection(settings.collections_dir, name)


def collection_names(settings: Settings) -> list[str]:
    """The names of the collections in the settings' store, sorted."""
    return milvus_collections(settings) if settings.store == "milvus" else list_collections(settings.collections_dir)
