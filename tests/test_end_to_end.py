"""The product path with the real models and the shipped reader, offline, over the bundled report."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import SAMPLE
from viqa.index.ingest import ingest_paths
from viqa.index.store import Collection
from viqa.qa.pipeline import Pipeline

pytestmark = pytest.mark.slow
TEXT = SAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Pipeline:
    """One real pipeline (models loaded once) over a collection of the bundled report."""
    from viqa.settings import Settings

    home = tmp_path_factory.mktemp("home")
    (home / "models").symlink_to(model_cache, target_is_directory=True)
    settings = Settings(home=home)
    pipe = Pipeline(settings).load()
    ingest_paths(Collection(settings.collections_dir, "default"), [SAMPLE], pipe.embedder, settings)
    return pipe


def test_search_ranks_the_export_passage_first_with_exact_offsets(pipeline: Pipeline) -> None:
    out = pipeline.search("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11")
    top = out.hits[0].chunk
    assert "440 triệu USD" in top.text
    assert TEXT[top.char_start : top.char_end] == top.text


def test_ask_answers_with_the_exact_span_and_cites_its_offsets(pipeline: Pipeline) -> None:
    out = pipeline.answer("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 ước đạt bao nhiêu?")
    assert out.text == "440 triệu USD"
    assert 0.5 <= out.confidence <= 1.0
    cite = out.citations[0]
    assert TEXT[cite.char_start : cite.char_end] == "440 triệu USD"
    assert TEXT[cite.quote_start : cite.quote_end] == cite.quote
    assert cite.quote_start <= cite.char_start < cite.char_end <= cite.quote_end


def test_a_question_typed_without_tone_marks_gets_the_same_answer_and_citation(pipeline: Pipeline) -> None:
    out = pipeline.answer("Tong kim ngach xuat nhap khau qua dia ban tinh thang 11 uoc dat bao nhieu?")
    assert out.text == "440 triệu USD"
    assert TEXT[out.citations[0].char_start : out.citations[0].char_end] == "440 triệu USD"


def test_ask_abstains_when_the_report_does_not_say(pipeline: Pipeline) -> None:
    out = pipeline.answer("Dân số tỉnh Lạng Sơn năm 2023 là bao nhiêu người?")
    assert out.text is None and out.citations == ()


def test_answers_from_footnotes_cite_the_footnote_text(pipeline: Pipeline) -> None:
    out = pipeline.answer("Đàn trâu của tỉnh ước khoảng bao nhiêu con?")
    assert out.text is not None and "65.096" in out.text
    cite = out.citations[0]
    assert TEXT[cite.char_start : cite.char_end] == out.text


def test_a_quote_never_runs_across_a_page_break(pipeline: Pipeline) -> None:
    for question in ("Kim ngạch xuất khẩu lũy kế 11 tháng là bao nhiêu?",
                     "Nhập khẩu 11 tháng đạt bao nhiêu phần trăm kế hoạch?"):
        out = pipeline.answer(question)
        for cite in out.citations:
            assert "\n\n" not in cite.quote
            assert TEXT[cite.char_start : cite.char_end] == out.text


def test_a_reader_eval_answer_does_not_depend_on_the_other_questions(pipeline: Pipeline) -> None:
    from viqa.eval.formats import GoldItem
    from viqa.eval.runner import run_reader

    paragraphs = [p for p in TEXT.split("\n") if len(p) > 400]
    export = next(p for p in paragraphs if "440 triệu USD" in p)
    items = [
        GoldItem("q1", "Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt bao nhiêu?", ("440 triệu USD",), export),
        *(GoldItem(f"q{i}", "Tỷ lệ đạt bao nhiêu phần trăm?", (), p) for i, p in enumerate(paragraphs[:6], start=2)),
    ]
    alone = next(run_reader(items[:1], pipeline))
    together = next(run_reader(items, pipeline))
    assert (together.prediction, together.margin) == (alone.prediction, alone.margin)


def test_a_milvus_collection_answers_with_the_file_stores_citation(pipeline: Pipeline, tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    from viqa.index.stores import open_collection

    settings = pipeline.settings.model_copy(update={"store": "milvus", "milvus_uri": str(tmp_path / "viqa.db")})
    ingest_paths(open_collection(settings, "default"), [SAMPLE], pipeline.embedder, settings)
    question = "Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 ước đạt bao nhiêu?"
    from_files = pipeline.answer(question)
    from_milvus = Pipeline(settings).answer(question)
    assert from_milvus.text == from_files.text == "440 triệu USD"
    assert from_milvus.citations == from_files.citations
