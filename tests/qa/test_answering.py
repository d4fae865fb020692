"""Answer selection and citations, on hand-made passages and fake reader output."""

from __future__ import annotations

import math

from tests.paths import SAMPLE
from viqa.index.chunking import chunk_document
from viqa.qa.answering import citation_for, confidence, rank_candidates, same_answer
from viqa.qa.focus import View, focus
from viqa.qa.reader import ReadResult
from viqa.qa.spans import Span
from viqa.types import Document, Hit

TEXT = SAMPLE.read_text(encoding="utf-8")
DOC = Document("ls", "Báo cáo", str(SAMPLE), TEXT, "sha")
CHUNKS = chunk_document(DOC)


def _chunk_with(fragment: str):
    return next(c for c in CHUNKS if fragment in c.clean)


def test_citation_offsets_point_at_source_text() -> None:
    chunk = _chunk_with("ước đạt 440 triệu USD")
    start = chunk.clean.index("440 triệu USD")
    cite = citation_for(chunk, DOC, start, start + len("440 triệu USD"))
    assert TEXT[cite.char_start : cite.char_end] == "440 triệu USD"
    assert TEXT[cite.quote_start : cite.quote_end] == cite.quote
    assert cite.quote.startswith("Tổng kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng 11")


def test_a_quote_stops_at_a_page_break_instead_of_quoting_the_footnotes() -> None:
    chunk = _chunk_with("xuất khẩu 2.680 triệu USD")
    start = chunk.clean.index("2.680 triệu USD")
    cite = citation_for(chunk, DOC, start, start + len("2.680 triệu USD"))
    assert TEXT[cite.char_start : cite.char_end] == "2.680 triệu USD"
    assert "¹" not in cite.quote and cite.quote.startswith("so với cùng kỳ")


def test_the_best_candidate_combines_reader_margin_and_retrieval_score() -> None:
    a, b = _chunk_with("ước đạt 440 triệu USD"), _chunk_with("Đàn trâu ước khoảng")
    views = [View(Hit(a, 1.0), 0, len(a.clean)), View(Hit(b, 0.0), 0, len(b.clean))]
    results = [ReadResult((Span(0, 5, 4.0),), null_score=1.0), ReadResult((Span(0, 8, 5.0),), null_score=1.0)]
    ranked = rank_candidates(views, results, retrieval_weight=2.0)
    assert ranked[0].hit.chunk is a and ranked[0].margin == 3.0 and ranked[0].score == 5.0
    assert [c.margin for c in rank_candidates(views, results, retrieval_weight=0.0)] == [4.0, 3.0]


def test_a_span_bonus_ranks_candidates_but_is_not_part_of_the_margin() -> None:
    chunk = _chunk_with("ước đạt 440 triệu USD")
    view = View(Hit(chunk, 0.0), 0, len(chunk.clean))
    result = ReadResult((Span(0, 5, 4.0, bonus=1.5), Span(6, 9, 5.0)), null_score=1.0)
    ranked = rank_candidates([view], [result], retrieval_weight=0.0)
    assert [(c.start, c.margin, c.score) for c in ranked] == [(0, 3.0, 4.5), (6, 4.0, 4.0)]


def test_view_offsets_are_shifted_back_into_the_chunk() -> None:
    chunk = _chunk_with("ước đạt 440 triệu USD")
    offset = chunk.clean.index("Tổng kim ngạch")
    view = View(Hit(chunk, 1.0), offset, len(chunk.clean))
    local = view.text.index("440 triệu USD")
    (cand,) = rank_candidates([view], [ReadResult((Span(local, local + 13, 9.0),), 0.0)], 0.0)
    assert cand.text == "440 triệu USD"


def test_the_same_answer_from_other_passages_is_cited_too() -> None:
    a, b = _chunk_with("ước đạt 440 triệu USD"), _chunk_with("Đàn trâu ước khoảng")
    views = [View(Hit(a, 1.0), 0, len(a.clean)), View(Hit(b, 0.5), 0, len(b.clean))]
    sa, sb = a.clean.index("440"), b.clean.index("Đàn")
    results = [ReadResult((Span(sa, sa + 3, 5.0),), 0.0), ReadResult((Span(sb, sb + 3, 4.0),), 0.0)]
    ranked = rank_candidates(views, results, 0.0)
    assert [c.hit.chunk for c in same_answer(ranked, ranked[0])] == [a]


def test_confidence_is_one_half_at_the_threshold_and_monotone() -> None:
    assert confidence(1.5, 1.5, 2.0) == 0.5
    assert confidence(5.0, 1.5, 2.0) > confidence(2.0, 1.5, 2.0) > 0.5 > confidence(-3.0, 1.5, 2.0)
    assert confidence(-math.inf, 0.0, 1.0) == 0.0


def test_focus_keeps_the_matching_sentence_with_its_neighbours() -> None:
    chunk = _chunk_with("ước đạt 440 triệu USD")
    views = focus([Hit(chunk, 1.0)], "Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt bao nhiêu?", max_sentences=1)
    assert len(views) == 1 and "440 triệu USD" in views[0].text
    assert len(views[0].text) < len(chunk.clean)


def test_the_same_place_found_by_two_overlapping_chunks_is_cited_once() -> None:
    a = _chunk_with("ước đạt 440 triệu USD")
    twins = [c for c in CHUNKS if "ước đạt 440 triệu USD" in c.clean]
    views = [View(Hit(c, 1.0), 0, len(c.clean)) for c in twins]
    results = [ReadResult((Span(c.clean.index("440"), c.clean.index("440") + 13, 5.0),), 0.0) for c in twins]
    ranked = rank_candidates(views, results, 0.0)
    assert len(twins) == 2 and len(same_answer(ranked, ranked[0])) == 1
    assert ranked[0].hit.chunk in twins and a in twins


def test_focus_puts_the_view_of_the_best_matching_sentence_first() -> None:
    other = _chunk_with("ước đạt 440 triệu USD")
    target = next(c for c in CHUNKS if "440 triệu USD" not in c.clean and "tháng 11" in c.clean)
    question = "Tổng kim ngạch xuất nhập khẩu tháng 11 ước đạt bao nhiêu?"
    views = focus([Hit(target, 1.0), Hit(other, 0.5)], question, max_sentences=3, context=0)
    assert views[0].hit.chunk is other and "440 triệu USD" in views[0].text


def _candidate(doc_id: str, text: str, margin: float, score: float):
    from viqa.qa.answering import Candidate
    from viqa.types import Chunk, Hit

    chunk = Chunk(f"{doc_id}-0", doc_id, text, text, tuple(range(len(text))), tuple(range(1, len(text) + 1)), 0,
                  len(text), "")
    return Candidate(Hit(chunk, 1.0), 0, len(text), margin, score)


def test_alternatives_are_other_documents_answers_close_behind_the_best() -> None:
    from viqa.qa.answering import alternatives_to

    best = _candidate("a", "441 triệu USD", 6.0, 8.0)
    others = [
        best,
        _candidate("a", "12 triệu USD", 5.9, 7.9),  # the same document: not another source
        _candidate("b", "441 triệu USD.", 5.8, 7.8),  # the same answer from another document: agreement
        _candidate("c", "445 triệu USD", 5.5, 7.5),  # another source that differs, close behind
        _candidate("d", "450 triệu USD", 1.0, 7.4),  # would not be answered on its own (margin under threshold)
        _candidate("e", "500 triệu USD", 5.0, 5.0),  # too far behind
    ]
    found = alternatives_to(others, best, threshold=3.0, gap=1.0, most=2)
    assert [c.text for c in found] == ["445 triệu USD"]
    assert alternatives_to(others, best, threshold=3.0, gap=0.0, most=2) == []


def test_with_an_overlap_an_alternative_must_restate_the_best_answers_sentence() -> None:
    from viqa.qa.answering import alternatives_to

    def at(doc_id: str, text: str, answer: str, score: float):
        c = _candidate(doc_id, text, 6.0, score)
        start = text.index(answer)
        return type(c)(c.hit, start, start + len(answer), 6.0, score)

    best = at("a", "Tổng kim ngạch tháng 11 ước đạt 441 triệu USD.", "441 triệu USD", 8.0)
    copy = at("b", "Tổng kim ngạch tháng 11 ước đạt 445 triệu USD.", "445 triệu USD", 7.9)
    other = at("c", "Doanh thu du lịch cả năm là 500 triệu USD.", "500 triệu USD", 7.9)
    assert [c.text for c in alternatives_to([best, other, copy], best, 3.0, 1.0, 2, overlap=0.7)] == ["445 triệu USD"]
    assert len(alternatives_to([best, other, copy], best, 3.0, 1.0, 2, overlap=0.0)) == 2
