"""Every format gives the same answers: the bundled report as txt, as a PDF and as a DOCX, read by the real models.

The PDF and the DOCX are made here from the txt (``tests.makers``), the footnotes at the foot of the page where
the txt has them; the lang-son-dev gold questions are asked over each.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from tests.paths import SAMPLE, SHARED
from viqa.eval.formats import load_gold
from viqa.eval.metrics import exact_match
from viqa.index.ingest import ingest_paths
from viqa.index.store import Collection
from viqa.qa.pipeline import Pipeline
from viqa.settings import Settings

pytestmark = pytest.mark.slow
GOLD = SHARED / "gold" / "lang-son-dev.jsonl"
EXPORT_QUESTION = "Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 ước đạt bao nhiêu?"
FORMATS = ("txt", "pdf", "docx")


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The report as txt, PDF and DOCX, under one name."""
    from tests.makers.docx import report_docx
    from tests.makers.pdf import report_pdf

    folder = tmp_path_factory.mktemp("versions")
    text = SAMPLE.read_text(encoding="utf-8")
    return {"txt": SAMPLE, "pdf": report_pdf(text, folder / f"{SAMPLE.stem}.pdf"),
            "docx": report_docx(text, folder / f"{SAMPLE.stem}.docx")}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, versions: dict[str, Path]) -> Pipeline:
    """One real pipeline, with one collection per format of the report."""
    home = tmp_path_factory.mktemp("home")
    (home / "models").symlink_to(model_cache, target_is_directory=True)
    settings = Settings(home=home)
    pipe = Pipeline(settings).load()
    for fmt, path in versions.items():
        ingest_paths(Collection(settings.collections_dir, fmt), [path], pipe.embedder, settings)
    return pipe


def _exact_matches(pipeline: Pipeline, collection: str) -> tuple[int, int]:
    """(answerable questions answered exactly, unanswerable ones abstained) over lang-son-dev."""
    right = abstained = 0
    for item in load_gold(GOLD):
        answer = pipeline.answer(item.question, collection)
        if item.answers:
            right += int(exact_match(answer.text, item.answers) == 1.0)
        else:
            abstained += int(answer.text is None)
    return right, abstained


@pytest.mark.skipif(not GOLD.is_file(), reason="needs ../shared/gold/lang-son-dev.jsonl")
def test_pdf_and_docx_score_within_one_question_of_the_txt(pipeline: Pipeline) -> None:
    scores = {fmt: _exact_matches(pipeline, fmt) for fmt in FORMATS}
    right_txt, abstained_txt = scores["txt"]
    for fmt in ("pdf", "docx"):
        right, abstained = scores[fmt]
        assert abs(right - right_txt) <= 1, scores
        assert abstained == abstained_txt, scores


def _page_holding(pdf: Path, phrase: str) -> int:
    """The 1-based page of ``pdf`` whose text layer holds ``phrase``, read by pdfium alone."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        for number, page in enumerate(document, start=1):
            text = unicodedata.normalize("NFC", " ".join(page.get_textpage().get_text_range().split()))
            if phrase in text:
                return number
    finally:
        document.close()
    raise AssertionError(f"{phrase!r} is on no page of {pdf}")


def test_the_pdf_answer_cites_its_page_and_its_offsets_slice_the_stored_text(
    pipeline: Pipeline, versions: dict[str, Path]
) -> None:
    answer = pipeline.answer(EXPORT_QUESTION, "pdf")
    assert answer.text == "440 triệu USD"
    cite = answer.citations[0]
    doc = pipeline.retriever("pdf").documents[cite.doc_id]
    assert doc.format == "pdf" and doc.text[cite.char_start : cite.char_end] == "440 triệu USD"
    assert doc.text[cite.quote_start : cite.quote_end] == cite.quote
    assert cite.page == _page_holding(versions["pdf"], "440 triệu USD")


def test_the_pdf_is_kept_with_the_index_for_its_page_images(pipeline: Pipeline, versions: dict[str, Path]) -> None:
    from viqa.index.formats.pdf import page_image

    collection = Collection(pipeline.settings.collections_dir, "pdf")
    (doc_id,) = pipeline.retriever("pdf").documents
    source = collection.source(doc_id)
    assert source == versions["pdf"].read_bytes()
    assert page_image(source, 1, [(0, 20)]).startswith(b"\x89PNG")
