"""The reader: each step of its chain on hand-made windows and fake logits, then the shipped weights, which
rebuild into a working reader without any network access."""

from __future__ import annotations

import math
import socket

import numpy as np
import pytest

from viqa.errors import InputError, QuestionTooLongError, ReaderError
from viqa.models.reader_model import SHIPPED_WEIGHTS, Windows, ensure_reader_folder, reader_calibration, reader_weights
from viqa.qa import reader as reader_module
from viqa.qa.reader import Decoded, Reader, decode_spans, prepare_windows, rank_spans
from viqa.settings import ANSWER_RULES, Settings

CONTEXT = "Tổng kim ngạch tháng 11 ước đạt 440 triệu USD, trong đó xuất khẩu 280 triệu USD."
QUESTION = "Tổng kim ngạch tháng 11 ước đạt bao nhiêu?"


def _words(text: str) -> list[tuple[int, int]]:
    """Whitespace-separated words as token offsets: a stand-in for the tokenizer's offset mapping."""
    import re

    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def _window(text: str, question_tokens: int = 3) -> list[tuple[int, int] | None]:
    """[CLS], the question's tokens and [SEP] outside the context (None), then the context's words."""
    return [None] * (question_tokens + 2) + _words(text)


def _logits(offsets: list, best: dict[int, float], null: float = 0.0) -> np.ndarray:
    """Low logits everywhere, ``null`` at [CLS], and the given value at the given token positions."""
    out = np.full(len(offsets), -10.0)
    out[0] = null
    for pos, value in best.items():
        out[pos] = value
    return out


def _token_of(offsets: list, text: str, word: str) -> int:
    start = text.index(word)
    return next(i for i, o in enumerate(offsets) if o is not None and o[0] == start)


def test_decode_spans_snaps_a_figure_to_its_magnitude_and_unit() -> None:
    offsets = _window(CONTEXT)
    start = end = _token_of(offsets, CONTEXT, "440")
    windows = Windows([[0] * len(offsets)], [0], [offsets])
    (decoded,) = decode_spans([(QUESTION, CONTEXT)], windows, [_logits(offsets, {start: 5.0})],
                              [_logits(offsets, {end: 5.0})], max_answer_tokens=30, per_window=6,
                              rules=ANSWER_RULES)
    best = max(decoded.found, key=decoded.found.__getitem__)
    assert CONTEXT[best[0] : best[1]] == "440 triệu USD"  # "triệu USD" after the number is attached
    assert decoded.found[best] == pytest.approx(10.0) and decoded.null_score == pytest.approx(0.0)


def test_an_answer_found_in_two_windows_keeps_its_best_score_and_the_lowest_null() -> None:
    offsets = _window(CONTEXT)
    start, end = _token_of(offsets, CONTEXT, "440"), _token_of(offsets, CONTEXT, "USD,")
    windows = Windows([[0] * len(offsets)] * 2, [0, 0], [offsets, offsets])
    starts = [_logits(offsets, {start: 2.0}, null=1.0), _logits(offsets, {start: 4.0}, null=-1.0)]
    ends = [_logits(offsets, {end: 2.0}), _logits(offsets, {end: 4.0})]
    (decoded,) = decode_spans([(QUESTION, CONTEXT)], windows, starts, ends, max_answer_tokens=30, per_window=6,
                              rules=ANSWER_RULES)
    span = (CONTEXT.index("440"), CONTEXT.index("USD,") + 3)
    assert decoded.found[span] == pytest.approx(8.0)
    assert decoded.null_score == pytest.approx(-1.0)  # the second window's [CLS] start + end: -1 + 0


def _answers_to_a_count_beside_a_year(rules) -> set[str]:
    """The answers decoded for "bao nhiêu con trâu?" where the year scores best and the count second."""
    text = "Năm 2023 tỉnh có 120 nghìn con trâu."
    offsets = _window(text)
    year, count = _token_of(offsets, text, "2023"), _token_of(offsets, text, "120")
    windows = Windows([[0] * len(offsets)], [0], [offsets])
    starts = [_logits(offsets, {year: 6.0, count: 3.0})]
    ends = [_logits(offsets, {year: 6.0, count + 1: 3.0})]
    (decoded,) = decode_spans([("Tỉnh có bao nhiêu con trâu?", text)], windows, starts, ends, max_answer_tokens=30,
                              per_window=6, rules=rules)
    return {text[s:e] for s, e in decoded.found}


def test_the_answer_rules_drop_a_date_given_for_a_quantity() -> None:
    answers = _answers_to_a_count_beside_a_year(ANSWER_RULES)
    assert "2023" not in answers and "120 nghìn con" in answers


def test_only_the_answer_rules_named_are_applied() -> None:
    answers = _answers_to_a_count_beside_a_year(())
    assert "2023" in answers and "120 nghìn" in answers and "120 nghìn con" not in answers
    assert "120 nghìn con" in _answers_to_a_count_beside_a_year(("extend_to_counted_noun",))


def test_rank_spans_keeps_the_top_spans_best_first_and_no_span_means_no_margin() -> None:
    found = {(0, 5): 1.0, (10, 15): 3.0, (20, 25): 2.0}
    result = rank_spans("q", "x" * 30, Decoded(found, 0.5), top_n=2, context_words=0, context_weight=0.0)
    assert [(s.start, s.end) for s in result.spans] == [(10, 15), (20, 25)]
    assert result.margin == pytest.approx(2.5)
    assert rank_spans("q", "", Decoded({}, 0.5), 3, 0, 0.0).margin == -math.inf


def test_a_stride_of_half_the_window_is_refused(settings: Settings) -> None:
    bad = settings.model_copy(update={"reader_max_length": 128, "reader_stride": 64})
    with pytest.raises(ValueError, match="stride"):
        Reader(model=None, settings=bad)  # type: ignore[arg-type]


def test_a_question_budget_over_half_the_window_is_refused(settings: Settings) -> None:
    bad = settings.model_copy(update={"reader_max_length": 128, "reader_stride": 32, "max_question_tokens": 65})
    with pytest.raises(ValueError, match="max_question_tokens"):
        Reader(model=None, settings=bad)  # type: ignore[arg-type]


# --- the question budget and the window cap, on the real tokenizer (no weights: the logits are fake) ------------

LONG_QUESTION = ("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh Lạng Sơn trong tháng 11 năm 2023 " * 12)[:680]
COMBINING = "a" + "\u0301" * 999  # 1,000 characters, within max_query_chars: once a JSON 500 "Truncation error"


@pytest.fixture(scope="module")
def tokenizer(model_cache):
    """The reader's tokenizer (e5-small's): quick to load, no weights needed."""
    from transformers import AutoTokenizer

    from viqa.models.base_encoder import ensure_base_encoder

    return AutoTokenizer.from_pretrained(str(ensure_base_encoder(model_cache)))


class TokenizerOnly:
    """A SpanModel stand-in: the real tokenizer, flat logits, and a record of every window it was given."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.windows: list[list[int]] = []

    def load(self) -> TokenizerOnly:
        return self

    def logits(self, input_ids: list[list[int]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        self.windows += input_ids
        return [np.zeros(len(ids)) for ids in input_ids], [np.zeros(len(ids)) for ids in input_ids]


def _question_of(tokenizer, n_tokens: int) -> str:
    """A question of exactly ``n_tokens`` reader tokens."""
    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    question = ""
    for word in ("Kim ngạch xuất khẩu của tỉnh trong tháng 11 ước đạt bao nhiêu " * 40).split():
        if count(f"{question} {word}".strip()) > n_tokens:
            break
        question = f"{question} {word}".strip()
    while count(question) < n_tokens:  # " a" is one token
        question += " a"
    assert count(question) == n_tokens
    return question


@pytest.mark.parametrize("question", [LONG_QUESTION, COMBINING], ids=["680-chars", "a-and-999-combining-marks"])
def test_a_question_over_the_token_budget_is_refused_naming_the_limit(settings, tokenizer, question: str) -> None:
    reader = Reader(TokenizerOnly(tokenizer), settings)  # type: ignore[arg-type]
    with pytest.raises(QuestionTooLongError, match=f"{settings.max_question_tokens} tokens") as raised:
        reader.read([(question, CONTEXT)])
    assert "VIQA_MAX_QUESTION_TOKENS" in str(raised.value) and "\n" not in str(raised.value)
    assert isinstance(raised.value, InputError)


@pytest.mark.parametrize(("max_length", "stride", "budget"), [(256, 96, 128), (128, 60, 64), (64, 31, 32)])
def test_every_question_within_the_budget_is_read_in_windows_that_fit_and_cover_the_passage(
    settings, tokenizer, max_length: int, stride: int, budget: int
) -> None:
    context = " ".join([CONTEXT] * 12)
    s = settings.model_copy(update={"reader_max_length": max_length, "reader_stride": stride,
                                    "max_question_tokens": budget, "max_windows_per_passage": 1000})
    for n in sorted({1, budget // 2, budget - 1, budget}):
        model = TokenizerOnly(tokenizer)
        question = _question_of(tokenizer, n)
        (result,) = Reader(model, s).read([(question, context)])  # type: ignore[arg-type]
        assert result.null_score == 0.0 and all(len(w) <= max_length for w in model.windows)
        windows = prepare_windows(tokenizer, [(question, context)], max_length, stride)
        read = {span for offsets in windows.offsets for span in offsets if span is not None}
        spans = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        every = {span for span in spans if span[1] > span[0]}
        assert every <= read  # no token of the passage is skipped, whatever the stride became


def test_a_long_passage_is_read_in_its_first_windows_only(settings, tokenizer) -> None:
    context = " ".join([CONTEXT] * 400)  # ~8,000 tokens: some 60 windows
    s = settings.model_copy(update={"max_windows_per_passage": 4})
    model = TokenizerOnly(tokenizer)
    Reader(model, s).read([(QUESTION, context), (QUESTION, CONTEXT)])  # type: ignore[arg-type]
    assert len(model.windows) == 4 + 1
    windows = prepare_windows(tokenizer, [(QUESTION, context)], s.reader_max_length, s.reader_stride, max_windows=4)
    firsts = [next(o for o in offsets if o is not None)[0] for offsets in windows.offsets]
    assert firsts[0] == 0 and firsts == sorted(firsts)  # the passage's beginning, in reading order


def test_a_tokenizer_panic_is_a_one_line_reader_error(settings, tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    from viqa.models.reader_model import make_windows

    def panicking(tok, pairs, max_length, stride, max_windows=None):  # a stride the tokenizer panics on
        return make_windows(tok, [q for q, _ in pairs], [c for _, c in pairs], 32, 20)

    try:
        panicking(tokenizer, [(QUESTION, CONTEXT)], 0, 0)
    except BaseException as exc:  # noqa: BLE001 - the panic is what this test needs
        assert not isinstance(exc, Exception)  # pyo3's PanicException: a BaseException, missed by `except Exception`
    else:
        pytest.fail("the tokenizer no longer panics on a stride as long as the window")
    monkeypatch.setattr(reader_module, "prepare_windows", panicking)
    with pytest.raises(ReaderError, match="the reader failed") as raised:
        Reader(TokenizerOnly(tokenizer), settings).read([(QUESTION, CONTEXT)])  # type: ignore[arg-type]
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 300


@pytest.mark.parametrize("shutdown", [KeyboardInterrupt, SystemExit])
def test_a_shutdown_inside_the_reader_is_not_turned_into_an_error(
    settings, tokenizer, monkeypatch: pytest.MonkeyPatch, shutdown: type[BaseException]
) -> None:
    def stop(*args, **kwargs):
        raise shutdown()

    monkeypatch.setattr(reader_module, "prepare_windows", stop)
    with pytest.raises(shutdown):
        Reader(TokenizerOnly(tokenizer), settings).read([(QUESTION, CONTEXT)])  # type: ignore[arg-type]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_shipped_weights_are_small_and_calibrated(settings) -> None:
    size_mb = (reader_weights(settings) / SHIPPED_WEIGHTS).stat().st_size / 2**20
    assert size_mb <= 60
    threshold, scale = reader_calibration(reader_weights(settings), settings.model_cache)
    assert scale > 0 and threshold != 0.0


@pytest.mark.slow
def test_shipped_reader_loads_offline_and_reads_a_figure(settings, no_network) -> None:
    folder = ensure_reader_folder(reader_weights(settings), settings.model_cache)
    reader = Reader.from_settings(settings, folder, reader_quantize=False).load()
    context = "Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt 440 triệu USD, trong đó xuất khẩu 280 triệu USD."
    (result,) = reader.read([("Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt bao nhiêu?", context)])
    best = result.spans[0]
    assert context[best.start : best.end] == "440 triệu USD"
    assert result.margin > reader_calibration(reader_weights(settings), settings.model_cache)[0]


def test_a_question_typed_without_tone_marks_is_read_with_those_of_its_passage(settings) -> None:
    context = "Kim ngạch xuất khẩu tháng 11 ước đạt 280 triệu USD."
    typed = "Kim ngach xuat khau thang 11 dat bao nhieu?"
    reader = Reader(model=None, settings=settings)  # type: ignore[arg-type]
    assert reader.as_read([(typed, context)]) == [("Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?", context)]
    assert reader.as_read([("Kim ngạch?", context)]) == [("Kim ngạch?", context)]
    off = Reader(model=None, settings=settings.model_copy(update={"reader_restore_tones": False}))  # type: ignore[arg-type]
    assert off.as_read([(typed, context)]) == [(typed, context)]


@pytest.mark.slow
def test_old_and_new_tone_placement_read_alike(settings) -> None:
    folder = ensure_reader_folder(reader_weights(settings), settings.model_cache)
    reader = Reader.from_settings(settings, folder, reader_quantize=False).load()
    question = "Lũy kế 11 tháng, thu từ hóa đơn điện tử đạt bao nhiêu?"
    new = "Lũy kế 11 tháng, thu ngân sách đạt 6.932,3 tỷ đồng; thu từ hóa đơn điện tử đạt 120 tỷ đồng."
    old = new.replace("Lũy", "Luỹ").replace("hóa", "hoá")  # the report's own spelling
    (as_new, as_old) = reader.read([(question, new), (question, old)])
    assert [(s.start, s.end) for s in as_old.spans] == [(s.start, s.end) for s in as_new.spans]
    assert as_old.margin == pytest.approx(as_new.margin, abs=1e-4)
    assert old[as_old.spans[0].start : as_old.spans[0].end] == "120 tỷ đồng"  # offsets into the text as written


@pytest.mark.slow
def test_weights_that_do_not_fit_the_model_are_refused(settings, tmp_path) -> None:
    import torch
    from safetensors.torch import save_file

    (tmp_path / "w").mkdir()
    save_file({"qa_outputs.weight": torch.zeros(3, 384, dtype=torch.float16)}, str(tmp_path / "w" / SHIPPED_WEIGHTS))
    with pytest.raises((ValueError, RuntimeError)):
        ensure_reader_folder(tmp_path / "w", settings.model_cache)



@pytest.mark.slow
def test_the_shipped_reader_refuses_an_over_long_question_and_reads_one_at_the_limit(settings) -> None:
    folder = ensure_reader_folder(reader_weights(settings), settings.model_cache)
    reader = Reader.from_settings(settings, folder, reader_quantize=False).load()
    context = "Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt 440 triệu USD, trong đó xuất khẩu 280 triệu USD. " * 8
    for question in (LONG_QUESTION, COMBINING):
        with pytest.raises(QuestionTooLongError):
            reader.read([(question, context)])
    at_limit = _question_of(reader.model.tokenizer, settings.max_question_tokens)
    (result,) = reader.read([(at_limit, context)])
    assert math.isfinite(result.null_score)
