"""The embedding progress bar counts tokens computed, so its estimate of the time left holds as batches lengthen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from viqa.models.embedder import Embedder, length_batches

SECONDS_PER_TOKEN = 1e-3


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeTokenizer:
    """One token per word."""

    pad_token_id = 0

    def __call__(self, texts: list[str], truncation: bool, max_length: int) -> dict[str, list[list[int]]]:
        return {"input_ids": [[1] * min(len(t.split()), max_length) for t in texts]}


class FakeSession:
    """Takes time in proportion to the tokens of the padded batch, as attention-light encoders roughly do."""

    def __init__(self, clock: Clock, dim: int) -> None:
        self.clock, self.dim = clock, dim

    def run(self, _outputs: None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        ids = feeds["input_ids"]
        self.clock.now += ids.size * SECONDS_PER_TOKEN
        return [np.ones((*ids.shape, self.dim), dtype=np.float32)]


def test_batches_group_texts_by_length() -> None:
    assert length_batches([5, 1, 3, 2, 4], 2) == [[1, 3], [2, 4], [0]]


def test_the_time_left_shrinks_steadily_and_is_right_within_a_quarter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tqdm.std

    clock = Clock()
    monkeypatch.setattr(tqdm.std, "time", clock)
    seen: list[tuple[float, float, float]] = []  # (now, estimated seconds left, n)
    update = tqdm.std.tqdm.update

    def recording(bar, n=1):
        result = update(bar, n)
        elapsed = clock() - bar.start_t
        seen.append((clock(), (bar.total - bar.n) * elapsed / bar.n, bar.n))
        return result

    monkeypatch.setattr(tqdm.std.tqdm, "update", recording)
    embedder = Embedder(tmp_path, threads=1, batch_size=4, passage_precision="fp32")
    embedder.__dict__["dim"] = 8
    embedder._tokenizer, embedder._session = FakeTokenizer(), FakeSession(clock, 8)
    texts = [" ".join(["từ"] * n) for n in range(2, 400, 3)]  # lengths rise 200-fold across the batches
    vectors = embedder.encode_passages(texts, progress=True)
    assert vectors.shape == (len(texts), 8) and np.allclose(np.linalg.norm(vectors, axis=1), 1)
    end = clock()
    estimates = [(left, end - now) for now, left, _ in seen]
    assert all(b <= a + 1e-9 for (a, _), (b, _) in zip(estimates, estimates[1:], strict=False))
    assert all(abs(left - truth) <= 0.25 * truth + 1e-9 for left, truth in estimates)


class PositionSession:
    """Hidden states that depend on each token's position, from whichever thread calls it."""

    def __init__(self, dim: int) -> None:
        self.dim, self.threads = dim, set()

    def run(self, _outputs: None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        import threading
        import time

        self.threads.add(threading.get_ident())
        time.sleep(0.002)  # let the other worker take a batch
        batch, width = feeds["input_ids"].shape
        hidden = np.arange(width, dtype=np.float32)[None, :, None] * np.arange(1, self.dim + 1, dtype=np.float32)
        return [np.broadcast_to(hidden + 1, (batch, width, self.dim)).copy()]


def test_int8_passages_on_two_workers_are_the_vectors_of_one_worker(tmp_path: Path) -> None:
    texts = [" ".join(["từ"] * n) for n in range(1, 60)]
    embedders = [Embedder(tmp_path, threads=t, batch_size=4, passage_precision="int8") for t in (1, 2)]
    for e in embedders:
        e.__dict__["dim"] = 8
        e._tokenizer, e._passage_session = FakeTokenizer(), PositionSession(8)
    one, two = (e.encode_passages(texts) for e in embedders)
    assert np.array_equal(one, two) and len({tuple(v) for v in one}) == len(texts)
    assert [len(e._passage_session.threads) for e in embedders] == [1, 2]
