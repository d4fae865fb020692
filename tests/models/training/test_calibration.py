"""No-answer calibration: a threshold that answers as much as the dev data allows, and a fitted confidence."""

from __future__ import annotations

from viqa.models.training.calibrate_reader import best_threshold, fit_scale


def test_threshold_separates_clean_answerable_from_unanswerable() -> None:
    margins = [5.0, 6.0, 7.0, -3.0, -2.0, -1.0]
    span_f1 = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    answerable = [True, True, True, False, False, False]
    threshold, f1 = best_threshold(margins, span_f1, answerable)
    assert -1.0 < threshold <= 5.0 and f1 == 1.0


def test_on_a_plateau_the_most_answering_threshold_wins() -> None:
    # answering the 3 doubtful questions (margin 1) costs one point of 53: well within the noise
    margins = [8.0] * 20 + [8.0] * 10 + [1.0] * 3 + [-5.0] * 20
    span_f1 = [1.0] * 20 + [0.0] * 10 + [1.0, 0.0, 0.0] + [0.0] * 20
    answerable = [True] * 20 + [False] * 10 + [True, False, False] + [False] * 20
    threshold, f1 = best_threshold(margins, span_f1, answerable)
    assert threshold == 1.0 and round(f1 * 53) == 41


def test_a_clearly_better_high_threshold_is_kept() -> None:
    # answering the 10 margin-1 questions is wrong every time: the threshold must stay above them
    margins = [8.0] * 10 + [1.0] * 10 + [-5.0] * 10
    span_f1 = [1.0] * 10 + [0.0] * 10 + [0.0] * 10
    answerable = [True] * 10 + [False] * 10 + [False] * 10
    threshold, f1 = best_threshold(margins, span_f1, answerable)
    assert threshold == 8.0 and f1 == 1.0


def test_the_threshold_in_use_stays_while_dev_f1_cannot_tell_it_from_the_best() -> None:
    margins = [8.0] * 20 + [8.0] * 10 + [1.0] * 3 + [-5.0] * 20
    span_f1 = [1.0] * 20 + [0.0] * 10 + [1.0, 0.0, 0.0] + [0.0] * 20
    answerable = [True] * 20 + [False] * 10 + [True, False, False] + [False] * 20
    assert best_threshold(margins, span_f1, answerable, keep=5.0)[0] == 5.0
    assert best_threshold(margins, span_f1, answerable, keep=-10.0)[0] == 1.0  # answering all is clearly worse


def test_confidence_scale_is_steep_when_margins_separate_right_from_wrong() -> None:
    margins = [10.0, 9.0, 8.0, -8.0, -9.0, -10.0]
    correct = [True, True, True, False, False, False]
    mixed = [True, False, False, True, True, False]
    assert fit_scale(margins, correct, 0.0) < fit_scale([1.0, -1.0] * 3, mixed, 0.0)
