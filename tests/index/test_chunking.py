from __future__ import annotations

import unicodedata

import pytest

from tests.paths import SAMPLE
from viqa.index.chunking import chunk_document, group_sentences
from viqa.text.segment import syllables
from viqa.types import Document

TEXT = SAMPLE.read_text(encoding="utf-8")
DOC = Document("lang-son", "Lạng Sơn", str(SAMPLE), TEXT, "sha")
CHUNKS = chunk_document(DOC, target_syllables=150, overlap_sentences=1)


def test_chunk_offsets_slice_exactly_the_chunk_text() -> None:
    for chunk in CHUNKS:
        assert TEXT[chunk.char_start : chunk.char_end] == chunk.text


def test_every_clean_character_points_at_the_source_character_it_came_from() -> None:
    for chunk in CHUNKS:
        for i, ch in enumerate(chunk.clean):
            source = TEXT[chunk.clean_start[i] : chunk.clean_end[i]]
            assert ch == " " or unicodedata.normalize("NFC", source) == ch


def test_chunks_are_sentence_sized_with_overlap() -> None:
    body = [c for c in CHUNKS if c.kind == "body"]
    sizes = [len(syllables(c.clean)) for c in body]
    assert max(sizes) < 400 and sum(sizes) / len(sizes) > 60
    overlapping = sum(1 for a, b in zip(body, body[1:], strict=False) if b.char_start < a.char_end)
    assert overlapping > 0


def test_footnotes_are_passages_linked_to_the_passages_that_cite_them() -> None:
    by_id = {c.chunk_id: c for c in CHUNKS}
    note = next(c for c in CHUNKS if c.kind == "footnote" and "Đàn trâu ước khoảng 65.096 con" in c.clean)
    assert note.cited_by
    for cid in note.cited_by:
        assert note.chunk_id in by_id[cid].footnotes
        assert "tăng so với cùng kỳ" in by_id[cid].clean


def test_chunk_ids_are_stable_content_hashes() -> None:
    again = chunk_document(DOC, target_syllables=150, overlap_sentences=1)
    assert [c.chunk_id for c in again] == [c.chunk_id for c in CHUNKS]


def test_group_sentences_overlaps_by_one_and_covers_everything() -> None:
    groups = group_sentences([50, 50, 50, 50, 50], target=100, overlap=1)
    assert groups[0] == (0, 2) and groups[1][0] == 1 and groups[-1][1] == 5
    assert group_sentences([500], target=100, overlap=1) == [(0, 1)]


# --- the hard cap: text without sentence ends is cut at syllables ---------------------------------------------

UNPUNCTUATED = " ".join(
    f"kim ngạch xuất nhập khẩu qua địa bàn tỉnh tháng {i % 12 + 1} ước đạt {i} triệu USD tăng so với cùng kỳ"
    for i in range(300)
)  # ~6,000 syllables, one line, not one sentence end: once a single passage


def _assert_exact(doc: Document, chunks) -> None:
    for chunk in chunks:
        assert doc.text[chunk.char_start : chunk.char_end] == chunk.text
        for i, ch in enumerate(chunk.clean):
            assert ch == " " or unicodedata.normalize("NFC", doc.text[chunk.clean_start[i] : chunk.clean_end[i]]) == ch


def test_a_document_without_sentence_ends_is_cut_into_capped_overlapping_passages() -> None:
    doc = Document("flat", "Flat", "flat.txt", UNPUNCTUATED, "sha")
    chunks = chunk_document(doc, target_syllables=150, overlap_sentences=1, max_syllables=300)
    sizes = [len(syllables(c.clean)) for c in chunks]
    assert len(chunks) > 30 and max(sizes) <= 300 and min(sizes) > 0
    _assert_exact(doc, chunks)
    assert all(b.char_start < a.char_end for a, b in zip(chunks, chunks[1:], strict=False))  # overlapping
    covered = {i for c in chunks for i in range(c.char_start, c.char_end)}
    assert all(i in covered for i, ch in enumerate(UNPUNCTUATED) if not ch.isspace())  # nothing is lost


@pytest.mark.parametrize(("target", "cap"), [(150, 300), (150, 160), (100, 20), (40, 1000)])
def test_no_passage_is_longer_than_the_cap_whatever_the_target(target: int, cap: int) -> None:
    text = UNPUNCTUATED[:6000] + ". Một câu ngắn. " + "Câu có dấu chấm nhưng rất dài " * 80 + "."
    doc = Document("mixed", "Mixed", "mixed.txt", text, "sha")
    chunks = chunk_document(doc, target_syllables=target, overlap_sentences=1, max_syllables=cap)
    assert max(len(syllables(c.clean)) for c in chunks) <= cap
    _assert_exact(doc, chunks)


def test_the_cap_leaves_ordinary_documents_as_they_were() -> None:
    uncapped = chunk_document(DOC, target_syllables=150, overlap_sentences=1, max_syllables=10**9)
    assert [(c.chunk_id, c.char_start, c.char_end) for c in CHUNKS] == [
        (c.chunk_id, c.char_start, c.char_end) for c in uncapped
    ]


def test_group_sentences_keeps_groups_within_the_limit() -> None:
    groups = group_sentences([40] * 10, target=100, overlap=1, limit=90)
    assert all(sum([40] * (last - first)) <= 90 for first, last in groups) and groups[-1][1] == 10
