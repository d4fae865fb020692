"""Reading the best view first and stopping once sure, with a fake reader and a fake embedder."""

from __future__ import annotations

import pytest

from viqa.index.ingest import ingest_paths
from viqa.index.store import Collection
from viqa.qa.pipeline import Pipeline
from viqa.qa.reader import ReadResult
from viqa.qa.spans import Span

QUESTION = "Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 ước đạt bao nhiêu?"


class CountingReader:
    """Answers the first 3 characters of every view with a fixed margin; records each batch's size."""

    def __init__(self, margin: float) -> None:
        self.margin, self.batches = margin, []

    def load(self) -> CountingReader:
        return self

    def check_question(self, question: str) -> None:
        """Every question fits."""

    def read(self, pairs: list[tuple[str, str]], top_n: int = 3) -> list[ReadResult]:
        self.batches.append(len(pairs))
        return [ReadResult((Span(0, 3, self.margin),), 0.0) for _ in pairs]


@pytest.fixture
def pipeline(settings, fake_embedder, sample_copy) -> Pipeline:
    ingest_paths(Collection(settings.collections_dir, "default"), [sample_copy], fake_embedder, settings)
    pipe = Pipeline(settings)
    pipe.embedder = fake_embedder
    pipe.calibration = (0.0, 1.0)  # threshold 0, so a sure answer needs a margin of read_sure_margin
    return pipe


def test_a_sure_answer_in_the_best_view_ends_the_reading(pipeline) -> None:
    pipeline._reader = reader = CountingReader(margin=pipeline.settings.read_sure_margin + 0.5)
    assert pipeline.answer(QUESTION).text is not None
    assert reader.batches == [1]


def test_unsure_answers_make_it_read_every_view_one_at_a_time(pipeline) -> None:
    pipeline._reader = reader = CountingReader(margin=pipeline.settings.read_sure_margin - 0.5)
    assert pipeline.answer(QUESTION).text is not None  # above the threshold, just not sure
    assert len(reader.batches) > 1 and set(reader.batches) == {1}


def test_without_a_sure_margin_every_view_is_read_in_one_batch(pipeline) -> None:
    pipeline.settings.read_sure_margin = None
    pipeline._reader = reader = CountingReader(margin=5.0)
    pipeline.answer(QUESTION)
    assert len(reader.batches) == 1 and reader.batches[0] > 1


class FigureReader:
    """Answers the first figure of three or more digits of each view ("441"), sure at the first view."""

    def load(self) -> FigureReader:
        return self

    def check_question(self, question: str) -> None:
        """Every question fits."""

    def read(self, pairs: list[tuple[str, str]]) -> list[ReadResult]:
        import re

        out = []
        for _, text in pairs:
            m = re.search(r"\d{3,}", text)
            out.append(ReadResult((Span(m.start(), m.end(), 6.0),) if m else (), 0.0))
        return out


def test_a_near_copy_that_disagrees_is_read_and_listed_as_another_source(settings, fake_embedder, tmp_path) -> None:
    folder = tmp_path / "copies"
    folder.mkdir()
    (folder / "ban-a.txt").write_text("Báo cáo A\n\nTổng kim ngạch tháng 11 ước đạt 441 triệu USD.", encoding="utf-8")
    (folder / "ban-b.txt").write_text("Báo cáo B\n\nTổng kim ngạch tháng 11 ước đạt 445 triệu USD.", encoding="utf-8")
    ingest_paths(Collection(settings.collections_dir, "default"), [folder], fake_embedder, settings)
    pipe = Pipeline(settings.model_copy(update={"alternative_retrieval_share": 0.8}))
    pipe.embedder, pipe.calibration, pipe._reader = fake_embedder, (0.0, 1.0), FigureReader()
    answer = pipe.answer("Tổng kim ngạch tháng 11 ước đạt bao nhiêu?")  # sure at the first view: the copy is read
    assert answer.text in {"441", "445"} and len(answer.alternatives) == 1
    other = answer.alternatives[0]
    assert {answer.text, other.text} == {"441", "445"} and other.citation.doc_id != answer.citations[0].doc_id
    pipe.settings.alternative_gap = 0.0
    assert pipe.answer("Tổng kim ngạch tháng 11 ước đạt bao nhiêu?").alternatives == ()
