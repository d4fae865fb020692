"""viqa.eval.metrics: the normalisers, EM/F1 with abstentions, and the retrieval and latency statistics."""

from __future__ import annotations

import pytest

from viqa.eval.metrics import exact_match, f1, mrr_at_k, normalise_squad, normalise_vi, percentile, recall_at_k


def test_decimal_comma_is_kept_by_the_vietnamese_normaliser_only() -> None:
    assert normalise_vi("1,5") != normalise_vi("15")
    assert exact_match("1,5", ["15"]) == 0.0
    assert normalise_squad("1,5") == normalise_squad("15")
    assert exact_match("1,5", ["15"], normalise_squad) == 1.0


def test_old_and_new_tone_placement_are_equal() -> None:
    assert normalise_vi("hoà") == normalise_vi("hòa")
    assert normalise_vi("Thuỷ lợi") == normalise_vi("thủy lợi")
    assert exact_match("Hoà Bình", ["hòa bình"]) == 1.0


def test_decomposed_input_matches_composed_gold() -> None:
    assert exact_match("Ho\u0300a", ["hoà"]) == 1.0


def test_a_number_with_thousands_and_decimal_separators_stays_one_token() -> None:
    assert normalise_vi("47.063,06 tỷ đồng.") == "47.063,06 tỷ đồng"
    assert normalise_vi("47.063,06").split() == ["47.063,06"]


def test_punctuation_next_to_a_number_goes() -> None:
    assert normalise_vi("(1,5)") == "1,5"
    assert normalise_vi("35.000 con.") == "35.000 con"


def test_no_answer_gold_scores_an_abstention_as_right() -> None:
    assert exact_match(None, []) == 1.0
    assert f1(None, []) == 1.0
    assert exact_match(None, [], normalise_squad) == 1.0


@pytest.mark.parametrize("prediction", ["168ha", "", "không"])
def test_no_answer_gold_scores_any_answer_as_wrong(prediction: str) -> None:
    assert exact_match(prediction, []) == 0.0
    assert f1(prediction, []) == 0.0


def test_abstaining_on_an_answerable_question_scores_zero() -> None:
    assert exact_match(None, ["168ha"]) == 0.0
    assert f1(None, ["168ha"]) == 0.0


def test_f1_of_a_partial_overlap_is_exact() -> None:
    # prediction 4 tokens, gold 4 tokens, 3 shared: precision = recall = 3/4
    assert f1("Tòa nhà Quốc hội", ["nhà Quốc hội mới"]) == pytest.approx(0.75)
    # 2 of 3 predicted tokens shared with a 2-token gold: P = 2/3, R = 1, F1 = 0.8
    assert f1("tháng 11 năm", ["tháng 11"]) == pytest.approx(0.8)


def test_f1_takes_the_best_gold() -> None:
    assert f1("164,8ha", ["rau", "164,8ha"]) == 1.0


def test_squad_normaliser_drops_english_articles_and_punctuation() -> None:
    assert normalise_squad("The Cat!") == "cat"
    assert f1("the cat", ["a cat"], normalise_squad) == 1.0


def test_f1_is_never_below_exact_match() -> None:
    assert exact_match("!", ["."]) == 1.0
    assert f1("!", ["."]) >= exact_match("!", ["."])


def test_recall_at_k_counts_first_relevant_rank_within_k() -> None:
    ranks = [1, 3, None, 7]
    assert recall_at_k(ranks, 1) == 0.25
    assert recall_at_k(ranks, 5) == 0.5
    assert recall_at_k(ranks, 10) == 0.75
    assert recall_at_k([], 5) == 0.0


def test_mrr_at_k_ignores_ranks_beyond_k() -> None:
    assert mrr_at_k([1, 2, None, 20], k=10) == pytest.approx((1 + 0.5) / 4)
    assert mrr_at_k([], 10) == 0.0


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile(values, 100) == 20.0
    assert percentile(values, 0) == 1.0
    assert percentile([30.0, 10.0, 20.0], 50) == 20.0
