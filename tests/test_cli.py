"""The command line refuses bad input with one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from viqa.cli import app
from viqa.index.ingest import ingest_paths
from viqa.index.store import Collection

runner = CliRunner()


def _run(*args: str):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _assert_one_line_error(code: int, out: str, err: str, fragment: str) -> None:
    assert code != 0
    assert err.startswith("viqa: error:") and err.count("\n") == 1, err
    assert fragment in err and "Traceback" not in out + err


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("empty.txt", b"", "empty"),
        ("binary.txt", bytes(range(256)) * 40, "binary"),
        ("cut.pdf", b"%PDF-1.4 cut short", "cut.pdf"),
    ],
)
def test_ingest_refuses_bad_files_and_leaves_the_index_unchanged(
    settings, tmp_path: Path, name: str, data: bytes, fragment: str
) -> None:
    bad = tmp_path / name
    bad.write_bytes(data)
    _assert_one_line_error(*_run("ingest", str(bad), "--collection", "c1"), fragment)
    assert not Collection(settings.collections_dir, "c1").exists


def test_ingest_refuses_a_50_mb_file_stating_the_limit(settings, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(50 * 2**20)
    _assert_one_line_error(*_run("ingest", str(big)), "MB limit")


def test_one_bad_file_in_a_folder_is_listed_and_the_others_are_ingested(
    settings, fake_embedder, sample_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viqa.models.embedder import Embedder

    monkeypatch.setattr(Embedder, "from_settings", staticmethod(lambda _settings: fake_embedder))
    (sample_copy.parent / "empty.md").write_bytes(b"")
    (sample_copy.parent / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    code, out, err = _run("ingest", str(sample_copy.parent), "-c", "c2")
    assert code == 2 and "1 added" in out and "2 files skipped" in out
    assert err.count("\n") == 2 and "empty.md: the file is empty" in err and "photo.jpg: unsupported file type" in err
    assert Collection(settings.collections_dir, "c2").manifest()["documents"] == 1


def test_search_in_an_unknown_collection_says_how_to_create_it(settings) -> None:
    _assert_one_line_error(*_run("search", "kim ngạch", "--collection", "nope"), "viqa ingest")


def test_an_invalid_collection_name_is_refused(settings) -> None:
    _assert_one_line_error(*_run("search", "kim ngạch", "--collection", "../etc"), "invalid collection name")


@pytest.mark.parametrize(
    ("query", "fragment"),
    [("", "empty"), ("   ", "empty"), ("?!...", "no words"), ("a" * 10_000, "limit is")],
)
def test_bad_queries_are_refused_before_any_model_loads(settings, query: str, fragment: str) -> None:
    _assert_one_line_error(*_run("search", query), fragment)
    _assert_one_line_error(*_run("ask", query), fragment)


@pytest.mark.parametrize("command", [("ask", "kim ngạch"), ("search", "kim ngạch"), ("serve",)])
def test_a_bad_setting_in_the_environment_is_named_on_one_line(
    settings, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    from viqa.settings import get_settings

    monkeypatch.setenv("VIQA_READER_RUNTIME", "tensorrt")
    get_settings.cache_clear()
    code, out, err = _run(*command)
    _assert_one_line_error(code, out, err, "VIQA_READER_RUNTIME='tensorrt'")
    assert code == 2


def test_search_json_lists_passages_whose_offsets_slice_the_source(
    settings, fake_embedder, sample_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from viqa.models.embedder import Embedder

    ingest_paths(Collection(settings.collections_dir, "default"), [sample_copy], fake_embedder, settings)
    monkeypatch.setattr(Embedder, "from_settings", staticmethod(lambda _settings: fake_embedder))
    code, out, _ = _run("search", "Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11", "--json", "-k", "3")
    assert code == 0
    passages = json.loads(out)["passages"]
    text = sample_copy.read_text(encoding="utf-8")
    assert len(passages) == 3 and "440 triệu USD" in passages[0]["text"]
    assert all(text[p["char_start"] : p["char_end"]] == p["text"] for p in passages)


class Panic(BaseException):
    """Stands in for pyo3's PanicException (what a Rust tokenizer raises): a BaseException, not an Exception."""


@pytest.mark.parametrize("error", [Panic("assertion failed: stride < max_len\n" + "  backtrace\n" * 255),
                                   ValueError("something inside broke\nsecond line")], ids=["panic", "bug"])
def test_an_unexpected_failure_inside_a_command_is_one_line_not_a_traceback(
    settings, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    from viqa.qa.pipeline import Pipeline

    def fails(*args, **kwargs):
        raise error

    monkeypatch.setattr(Pipeline, "answer", fails)
    code, out, err = _run("ask", "kim ngạch tháng 11 là bao nhiêu?")
    _assert_one_line_error(code, out, err, type(error).__name__)
    assert str(error).splitlines()[0] in err and "backtrace" not in err


@pytest.mark.slow
@pytest.mark.parametrize("question", [("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 " * 20)[:680],
                                      "a" + "\u0301" * 999], ids=["680-chars", "a-and-999-combining-marks"])
def test_ask_with_a_question_over_the_token_budget_is_one_line_naming_the_limit(
    settings, fake_embedder, sample_copy: Path, monkeypatch: pytest.MonkeyPatch, question: str
) -> None:
    from viqa.models.embedder import Embedder

    ingest_paths(Collection(settings.collections_dir, "default"), [sample_copy], fake_embedder, settings)
    monkeypatch.setattr(Embedder, "from_settings", staticmethod(lambda _settings: fake_embedder))
    code, out, err = _run("ask", question)
    _assert_one_line_error(code, out, err, f"over {settings.max_question_tokens} tokens")
    assert code == 2


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    code, out, _ = _run("--version")
    assert code == 0 and out == f"viqa {version('viqa')}\n"


def test_collections_lists_each_with_its_counts_and_delete_removes_a_document(
    settings, fake_embedder, sample_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viqa.models.embedder import Embedder

    monkeypatch.setattr(Embedder, "from_settings", staticmethod(lambda _settings: fake_embedder))
    (sample_copy.parent / "gia-xang.txt").write_text("Giá xăng\n\nGiá xăng tháng 11 là 23 nghìn đồng.\n")
    ingest_paths(Collection(settings.collections_dir, "bao-cao"), [sample_copy.parent], fake_embedder, settings)
    code, out, _ = _run("collections")
    assert code == 0 and out.startswith("bao-cao  2 documents, ")
    code, out, _ = _run("delete", "gia-xang", "-c", "bao-cao")
    assert code == 0 and "1 deleted" in out
    assert Collection(settings.collections_dir, "bao-cao").manifest()["documents"] == 1
    _assert_one_line_error(*_run("delete", "gia-xang", "-c", "bao-cao"), "no document 'gia-xang'")


def test_chat_loads_once_and_keeps_the_follow_up_context(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes import FakePipeline
    from viqa.qa import pipeline as pipeline_module
    from viqa.types import Document

    text = "Kim ngạch xuất khẩu tháng 11 đạt 280 triệu USD. Kim ngạch nhập khẩu tháng 11 đạt 160 triệu USD."
    doc = Document("bc", "Báo cáo", "upload:bc", text, "0" * 64)
    made: list[FakePipeline] = []

    def fake(s):
        made.append(FakePipeline(s, {"default": {"bc": doc}}))
        return made[-1]

    monkeypatch.setattr(pipeline_module, "Pipeline", fake)
    questions = "Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?\nCòn nhập khẩu thì sao?\n/exit\n"
    result = runner.invoke(app, ["chat"], input=questions)
    assert result.exit_code == 0, result.output
    answers = [line.removeprefix("? ") for line in result.stdout.splitlines() if "confidence" in line]
    assert [a.split("   ")[0] for a in answers] == ["280 triệu USD", "160 triệu USD"] and len(made) == 1


def test_a_model_build_is_announced_on_stderr_step_by_step(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from viqa.cli import announce_model_builds

    announce_model_builds()
    announce_model_builds()  # idempotent: one line per step, not two
    logging.getLogger("viqa.models.build").info("exporting %s to ONNX", "multilingual-e5-small")
    err = capsys.readouterr().err
    assert err == "viqa: building models (first run, about a minute): exporting multilingual-e5-small to ONNX\n"
