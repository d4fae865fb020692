from __future__ import annotations

from viqa.text.segment import lexical_tokens, sentence_spans, syllables


def test_one_letter_words_survive_lexical_tokenisation() -> None:
    assert "ở" in syllables("Dự án ở Lạng Sơn")
    assert "ở" in lexical_tokens("Dự án ở Lạng Sơn")


def test_lexical_tokens_add_underthesea_compounds_and_unify_tones() -> None:
    tokens = lexical_tokens("Kim ngạch xuất nhập khẩu tỉnh Hoà Bình")
    assert "xuất_nhập_khẩu" in tokens or "xuất_nhập" in tokens
    assert "hòa" in tokens and "hoà" not in tokens


def test_sentence_spans_cover_the_text() -> None:
    text = "Câu thứ nhất. Câu thứ hai có 70,6% số liệu. Câu ba"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Câu thứ nhất.", "Câu thứ hai có 70,6% số liệu.", "Câu ba"]
