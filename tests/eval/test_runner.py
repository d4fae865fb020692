"""The runner ranks a gold passage by its document, or, for a question without one, by the first answer it holds."""

from __future__ import annotations

from viqa.eval.formats import GoldItem
from viqa.eval.runner import rank_of
from viqa.types import Chunk, Hit


def _hit(doc_id: str, clean: str) -> Hit:
    return Hit(Chunk(f"{doc_id}-c", doc_id, clean, clean, (), (), 0, len(clean), ""), 1.0)


def test_the_gold_rank_is_that_of_the_gold_paragraph_or_else_of_the_first_passage_holding_an_answer() -> None:
    hits = [_hit("0-1", "Đàn bò có 45 nghìn con."), _hit("0-2", "Xuất khẩu đạt 45,6 triệu USD.")]
    assert rank_of(hits, GoldItem("q", "?", ("45,6 triệu USD",), "ctx", "0-2")) == 2
    assert rank_of(hits, GoldItem("q", "?", ("45 nghìn con",))) == 1
    assert rank_of(hits, GoldItem("q", "?", ("168ha",))) is None
