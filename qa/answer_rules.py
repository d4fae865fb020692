"""The Vietnamese answer rules: how a decoded span is shaped into the answer a reader of Vietnamese expects.

Those named in ``Settings.answer_rules`` are applied to every candidate span after it is snapped to whole words
(``shape_answer``); with ``reader_context_weight`` above 0 the best spans of a passage are then re-ranked by the
question words around them (``rerank_by_context``). Each rule is a pure function of (question, text, start, end)
and reads questions typed without tone marks too; which are on, and the sets that chose them, is in the model
card.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace
from functools import lru_cache

from viqa.qa.spans import MAGNITUDES, Span
from viqa.settings import ANSWER_RULES, AnswerRule
from viqa.text.normalise import strip_tone_marks, typed_without_tones
from viqa.text.segment import sentence_spans, syllables


def as_typed(question: str, text: str) -> str:
    """``text`` as the question's writer would type it: without tone marks when the question has none."""
    return strip_tone_marks(text) if typed_without_tones(question) else text


def question_words_around(question: str, text: str, start: int, end: int, width: int) -> int:
    """How many distinct syllables of ``question`` occur among the ``width`` words either side of [start, end).

    Around the asked-for figure the text usually repeats the question ("doanh thu du lịch ước đạt 2.999 tỷ
    đồng" for "doanh thu du lịch 11 tháng ước đạt bao nhiêu?"), around its neighbours less so.
    """
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    before = [w for w in words if w[1] <= start][-width:] if width else []
    after = [w for w in words if w[0] >= end][:width]
    near = {syllable for a, b in before + after for syllable in syllables(as_typed(question, text[a:b]))}
    return len(near & set(syllables(question)))


def rerank_by_context(question: str, text: str, spans: list[Span], width: int, weight: float) -> tuple[Span, ...]:
    """``spans``, each with a bonus of ``weight`` per question syllable among the ``width`` words around it in
    its sentence, best first by score + bonus: of near-equal spans, the one whose neighbours repeat the question
    wins."""
    if not weight:
        return tuple(sorted(spans, key=lambda s: -s.score))
    sentences = sentence_spans(text)
    ranked = []
    for span in spans:
        lo, hi = next(((a, b) for a, b in sentences if a <= span.start < b), (0, len(text)))
        near = question_words_around(question, text[lo:hi], span.start - lo, span.end - lo, width)
        ranked.append(replace(span, bonus=weight * near))
    return tuple(sorted(ranked, key=lambda s: -(s.score + s.bonus)))


_ASKED_COUNT = re.compile(r"bao nhiêu\s+(.+?)\s*(?:[?.,;:]|$)", re.IGNORECASE)
MEASURE_WORDS = {"lượt", "đợt"}  # "lượt khách", but "35.000 con" (not "con cá")
COUNTABLE_TAGS = ("N", "M")  # underthesea POS of a counted noun: nouns (N, Nc, Nu, Np) and numeral-units ("km2")


_QUANTITY_QUESTION = re.compile(r"\b(?:bao nhiêu|mấy)\b", re.IGNORECASE)
_QUANTITY_TYPED_BARE = re.compile(r"\bbao nhieu\b", re.IGNORECASE)  # bare "may" is as often "máy" (machine)


@lru_cache(maxsize=256)
def asks_quantity(question: str) -> bool:
    """True for a "bao nhiêu/mấy" question, or a "bao nhieu" one typed without tone marks (cached: every candidate
    span of a question asks it again)."""
    if typed_without_tones(question):
        return _QUANTITY_TYPED_BARE.search(question) is not None
    return _QUANTITY_QUESTION.search(question) is not None


_RESTATED = re.compile(r"(.+?)(?:\s+là|\s*:)\s+(?=\d)")


def drop_restated_subject(question: str, text: str, start: int, end: int) -> int:
    """For "bao nhiêu/mấy" questions, start an answer "<what the question names> là|: <number>" at the number.

    "số người nộp hồ sơ ... là 700 người" for "... bao nhiêu người nộp hồ sơ ...?" becomes "700 người". Only a
    subject of three or more syllables, at least two thirds of them in the question, is dropped, so an answer
    such as "tối thiểu là 50 điểm" keeps its qualifier.
    """
    restated = _RESTATED.match(text, start, end)
    if not asks_quantity(question) or not restated:
        return start
    asked, subject = set(syllables(question)), syllables(as_typed(question, restated.group(1)))
    if len(subject) < 3 or 3 * sum(w in asked for w in subject) < 2 * len(subject):
        return start
    return restated.end()


_TIME_WORD = r"\b(?:năm|tháng|ngày|quý)\s+"
_ASKED_DATE = re.compile(_TIME_WORD + r"(?:bao nhiêu|mấy)\b", re.IGNORECASE)
_ASKED_DATE_TYPED_BARE = re.compile(r"\b(?:nam|thang|ngay|quy)\s+(?:bao nhieu|may)\b", re.IGNORECASE)
_DATE = re.compile(f"(?:{_TIME_WORD})?" + r"\d{1,4}(?:/\d{1,4}){0,2}", re.IGNORECASE)
_AFTER_TIME_WORD = re.compile(_TIME_WORD + "$", re.IGNORECASE)


def is_date_for_a_quantity(question: str, text: str, start: int, end: int) -> bool:
    """True when a "bao nhiêu/mấy" question that does not ask a date ("năm bao nhiêu?") would be answered by
    a date: a bare number that follows a time word ("2024" in "năm 2024") cannot be "bao nhiêu người"."""
    asked_date = _ASKED_DATE_TYPED_BARE if typed_without_tones(question) else _ASKED_DATE
    if not asks_quantity(question) or asked_date.search(question):
        return False
    if not _DATE.fullmatch(text, start, end):
        return False
    return not text[start:end][:1].isdigit() or _AFTER_TIME_WORD.search(text, max(0, start - 8), start) is not None


NUMERALS = MAGNITUDES | {"một", "hai", "ba", "bốn", "tư", "năm", "sáu", "bảy", "bẩy", "tám", "chín", "mười", "mươi",
                         "trăm", "vạn", "linh", "lẻ", "rưỡi", "nửa", "vài", "dăm", "chục", "tá", "nhiều", "ít"}


def has_no_quantity(question: str, text: str, start: int, end: int) -> bool:
    """True when a "bao nhiêu/mấy" question would be answered by a span with no digit and no numeral word
    ("số" of "số người nộp hồ sơ … là 700 người" is no answer to "bao nhiêu người nộp hồ sơ?")."""
    if not asks_quantity(question):
        return False
    span = text[start:end]
    return not any(ch.isdigit() for ch in span) and not NUMERALS & set(syllables(span))


def trim_to_quantity(question: str, text: str, start: int, end: int) -> int:
    """For "bao nhiêu/mấy" questions, an answer that starts with a number is one quantity: cut it at the
    first ", " or "; " ("3.771,41 nghìn m³", not "3.771,41 nghìn m³, đạt 86,5%"), or at a "và" that joins
    another number ("164,8ha", not "164,8ha và 3,2ha")."""
    if not asks_quantity(question) or not text[start:end][:1].isdigit():
        return end
    cut = re.search(r"[,;]\s|\s+và\s+(?=\d)", text[start:end])
    return start + cut.start() if cut else end


@lru_cache(maxsize=256)
def _counted_noun(question: str) -> list[str]:
    """The syllables of N in "bao nhiêu N ..." (one underthesea word, two after a measure word); [] if none,
    or if the word after "bao nhiêu" is not a noun or unit ("bao nhiêu so với năm 1995?" counts nothing)."""
    from underthesea import pos_tag

    asked = _ASKED_COUNT.search(question)
    tagged = pos_tag(asked.group(1)) if asked else []
    if not tagged or not tagged[0][1].startswith(COUNTABLE_TAGS):
        return []
    words = [w.lower() for w, _ in tagged]
    n = 2 if words[0] in MEASURE_WORDS else 1
    return " ".join(words[:n]).split()


def extend_to_counted_noun(question: str, text: str, start: int, end: int) -> int:
    """For "bao nhiêu N ...?", let an answer that ends in a number take the N that follows it in ``text``.

    Vietnamese answers to "bao nhiêu doanh nghiệp?" are "623 doanh nghiệp", not "623": the word right
    after the number is added when it repeats the question's first word after "bao nhiêu" (two words
    when that is a measure word: "290.514 lượt con", "151,23 nghìn lượt khách"); all of it or nothing.
    """
    target = _counted_noun(question)
    span = text[start:end].split()
    if not target or not span or not any(ch.isdigit() for ch in span[0]):
        return end
    have = [w.lower() for w in span[1:] if w.lower() not in MAGNITUDES]
    if have != target[: len(have)]:
        return end
    pos = end
    for syllable in target[len(have) :]:
        m = re.match(r"\s+(\S+?)(?=[\s,.;:!?)]|$)", text[pos:])
        if not m or m.group(1).lower() != syllable:
            return end
        pos += m.end()
    return pos


def shape_answer(question: str, text: str, start: int, end: int,
                 rules: Collection[AnswerRule] = ANSWER_RULES) -> tuple[int, int] | None:
    """A snapped span [start, end) of ``text`` shaped by those of the rules above named in ``rules``, in this
    order; None when a rule rejects it or nothing is left."""
    if "drop_restated_subject" in rules:
        start = drop_restated_subject(question, text, start, end)
    if "trim_to_quantity" in rules:
        end = trim_to_quantity(question, text, start, end)
    if "is_date_for_a_quantity" in rules and is_date_for_a_quantity(question, text, start, end):
        return None
    if "has_no_quantity" in rules and has_no_quantity(question, text, start, end):
        return None
    if "extend_to_counted_noun" in rules:
        end = extend_to_counted_noun(question, text, start, end)
    return (start, end) if end > start else None
