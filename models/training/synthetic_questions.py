"""Make extra reader training examples from plain Vietnamese sentences, wh-in-situ style.

Vietnamese keeps a question in the word order of its statement, with the asked-for part replaced by
a question word: "... tháng 11 ước đạt 440 triệu USD." -> "... tháng 11 ước đạt bao nhiêu?" with the
answer "440 triệu USD". Numbers with units -> bao nhiêu, years/months/days -> năm nào/tháng mấy/ngày
nào (optionally also whole dates -> khi nào, answered "năm 1985"), people -> ai, places -> đâu,
organisations -> cơ quan nào, and (optionally) the noun phrase a verb takes -> gì ("... sản xuất xi măng
và thép." -> "... sản xuất gì?"). The question is varied (words dropped, clauses cut) so that the model
learns to read rather than to copy, and questions are also paired with another paragraph as unanswerable
examples.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial

from viqa.models.training.reader_data import QAExample

# unit words that belong to a number's answer span ("440 triệu USD", "47.063,06 ha", "70,6%")
UNITS = {
    "%", "usd", "đồng", "tỷ", "triệu", "nghìn", "ngàn", "ha", "km", "km2", "m", "m2", "m3", "kg", "tấn", "lít",
    "người", "hộ", "con", "lượt", "xe", "dự án", "doanh nghiệp", "cơ sở", "trường", "lớp", "học sinh", "ca",
    "vụ", "đơn vị", "tuổi", "giờ", "phút", "ngày", "tháng", "năm", "lần", "điểm", "bệnh nhân", "căn",
    "chiếc", "km²", "héc ta", "hecta", "trận", "bàn", "tập", "cuốn", "huy chương", "mw", "kwh", "ký",
}
TIME_WORDS = {"năm": "năm nào", "tháng": "tháng mấy", "ngày": "ngày nào", "quý": "quý mấy"}
FIGURE_WH = ("bao nhiêu", "năm nào", "tháng mấy", "ngày nào", "quý mấy")
NUMBER = re.compile(r"^\d[\d.,]*%?$|^\d+/\d+(/\d+)?$")


@dataclass(frozen=True)
class Token:
    text: str
    pos: str
    ner: str
    start: int
    end: int


def tag_sentence(sentence: str) -> list[Token] | None:
    """underthesea NER tokens with their character offsets in ``sentence``; None if they cannot be aligned."""
    from underthesea import ner

    tokens, cursor = [], 0
    for text, pos, _chunk, entity in ner(sentence):
        start = sentence.find(text, cursor)
        if start < 0 or sentence[cursor:start].strip():
            return None
        tokens.append(Token(text, pos, entity, start, start + len(text)))
        cursor = start + len(text)
    return tokens


@dataclass(frozen=True)
class Target:
    """Tokens [first, last] are asked about; they are replaced in the question by ``wh``."""

    first: int
    last: int
    answer_first: int
    wh: str


def _is_number(tok: Token) -> bool:
    return tok.pos == "M" and NUMBER.match(tok.text) is not None


def _date_starts(tokens: list[Token], i: int) -> bool:
    """A time word with its number ("tháng 11", "năm 1985") starts at token ``i``."""
    return 0 <= i < len(tokens) - 1 and tokens[i].text.lower() in TIME_WORDS and _is_number(tokens[i + 1])


def _day_starts_date(tokens: list[Token], i: int) -> bool:
    """A day number before "tháng N" ("6 tháng 10") starts a date at token ``i``."""
    return _is_number(tokens[i]) and _date_starts(tokens, i + 1) and tokens[i + 1].text.lower() == "tháng"


def _date_targets(tokens: list[Token], i: int) -> tuple[int, list[Target]]:
    """The date that starts at token ``i`` ("ngày 6 tháng 10 năm 1973", "6 tháng 10"), and its questions.

    In situ, "năm nào" / "tháng mấy" replace the number after the time word ("1985"), "ngày nào" the whole
    date after "ngày"; "khi nào" replaces the whole expression with a "vào"/"lúc"/"hôm" before it, and is
    answered by the expression ("năm 1985"). Returns the date's last token and its targets.
    """
    word = tokens[i].text.lower()
    last = i + 1 if word in TIME_WORDS else i + 2
    while _date_starts(tokens, last + 1):
        last += 2
    first = i - 1 if i > 0 and tokens[i - 1].text.lower() in {"vào", "lúc", "hôm"} else i
    if word not in TIME_WORDS:  # a day number before "tháng": only "khi nào" reads naturally
        return last, [Target(first, last, i, "khi nào")]
    in_situ = Target(i, last, i + 1, "ngày nào") if word == "ngày" else Target(i, i + 1, i + 1, TIME_WORDS[word])
    return last, [in_situ, Target(first, last, i, "khi nào")]


def find_targets(tokens: list[Token], dates: bool = False) -> Iterator[Target]:
    """Every askable span of a tagged sentence: numbers with units, dates, people, places, organisations.

    ``dates`` reads a date as one target before anything else (underthesea tags "năm 1985" as a place, and
    "6 tháng 10 năm 1973" would otherwise be a number with units), and asks it with "khi nào" too.
    """
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if dates and (_date_starts(tokens, i) or _day_starts_date(tokens, i)):
            last, targets = _date_targets(tokens, i)
            yield from targets
            i = last + 1
            continue
        if _is_number(tok):
            if dates and "/" in tok.text:  # a bare "1/1": a date or a fraction, there is no telling
                i += 1
                continue
            j = i
            while j + 1 < len(tokens) and (tokens[j + 1].pos == "M" or tokens[j + 1].text.lower() in UNITS):
                if dates and _date_starts(tokens, j + 1):
                    break
                j += 1
            prev = tokens[i - 1].text.lower() if i > 0 else ""
            if prev in TIME_WORDS and j == i:
                yield Target(i - 1, i, i, TIME_WORDS[prev])
            else:
                yield Target(i, j, i, "bao nhiêu")
            i = j + 1
            continue
        if tok.ner.startswith("B-"):
            kind = tok.ner[2:]
            j = i
            while j + 1 < len(tokens) and tokens[j + 1].ner == f"I-{kind}":
                j += 1
            prev = tokens[i - 1].text.lower() if i > 0 else ""
            wh = {"PER": "ai", "ORG": "cơ quan nào", "LOC": "đâu" if prev in {"tại", "ở", "đến", "từ"} else "nơi nào"}
            if kind in wh and tok.pos == "Np":
                yield Target(i, j, i, wh[kind])
            i = j + 1
            continue
        i += 1


COMMON_NOUNS = {"N", "Nc", "Ny"}
PHRASE_TAGS = COMMON_NOUNS | {"Np", "A"}
PHRASE_ENDS = {"CH", "E", "C", "R"}  # a phrase must end where one of these starts, else its extent is a guess


def find_phrase_targets(tokens: list[Token]) -> Iterator[Target]:
    """Noun phrases right after a verb, asked with "gì"; a phrase may join nouns with "và"/"hoặc"."""
    for i in range(len(tokens) - 1):
        first = i + 1
        if tokens[i].pos != "V" or tokens[first].pos not in COMMON_NOUNS:
            continue
        last = first
        while last + 1 < len(tokens):
            after = tokens[last + 1]
            if after.pos in PHRASE_TAGS:
                last += 1
            elif after.text in {"và", "hoặc"} and last + 2 < len(tokens) and tokens[last + 2].pos in PHRASE_TAGS:
                last += 2
            else:
                break
        ends_cleanly = last + 1 == len(tokens) or tokens[last + 1].pos in PHRASE_ENDS
        names_a_person = any(t.ner.endswith("PER") for t in tokens[first : last + 1])  # that is an "ai" question
        lone_classifier = first == last and tokens[first].pos == "Nc"
        if ends_cleanly and last - first < 6 and not names_a_person and not lone_classifier:
            yield Target(first, last, first, "gì")


def _clause_bounds(tokens: list[Token], first: int, last: int) -> tuple[int, int]:
    """The clause around the target: cut at ';' and at commas further than a few words away."""
    lo, hi = first, last
    while lo > 0 and tokens[lo - 1].text not in {";", ":"} and not (tokens[lo - 1].text == "," and first - lo > 6):
        lo -= 1
    while hi + 1 < len(tokens) and tokens[hi + 1].text not in {";", ".", ":", "!", "?"} and not (
        tokens[hi + 1].text == "," and hi - last > 4
    ):
        hi += 1
    return lo, hi


def make_question(
    tokens: list[Token], target: Target, rng: random.Random, keep_figures: bool = False
) -> str | None:
    """The in-situ question for ``target``, with some words dropped for variety; None if too short.

    ``keep_figures`` never drops a number or unit, so the other figures of the sentence stay whole as distractors.
    """
    lo, hi = _clause_bounds(tokens, target.first, target.last)
    words: list[str] = []
    for k in range(lo, hi + 1):
        if k == target.first:
            words.append(target.wh)
        elif target.first < k <= target.last:
            continue
        elif keep_figures and (tokens[k].pos == "M" or tokens[k].text.lower() in UNITS):
            words.append(tokens[k].text)
        elif tokens[k].pos != "CH" and rng.random() < 0.12 and abs(k - target.first) > 2:
            continue  # drop a word now and then so the question is not a verbatim copy
        else:
            words.append(tokens[k].text)
    while words and words[-1] in {",", "(", "-"}:
        words.pop()
    if len(words) < 5 or len(words) > 45:
        return None
    question = re.sub(r"\s+([,)])", r"\1", " ".join(words)).strip(" ,")
    return question[0].upper() + question[1:] + ("?" if rng.random() < 0.8 else "")


def questions_from_paragraph(
    paragraph: str, rng: random.Random, per_paragraph: int, contrast: bool = False, dates: bool = False
) -> list[QAExample]:
    """Up to ``per_paragraph`` answerable synthetic examples from one paragraph.

    With ``contrast``, the figures of a sentence that holds several are asked together, so the model has to
    tell neighbouring figures ("xuất khẩu ... nhập khẩu ...", "tháng 11 ... 11 tháng ...") apart.
    """
    candidates = _candidates(paragraph, partial(find_targets, dates=dates))
    rng.shuffle(candidates)
    # prefer numbers: the product's documents are dense with figures, and the base model is weakest there
    if contrast:
        figures = Counter(c[0] for c in candidates if c[3].wh in FIGURE_WH)
        rank = {number: rng.random() for number in figures}
        candidates.sort(key=lambda c: (c[3].wh not in FIGURE_WH, figures[c[0]] < 2, rank.get(c[0], 0.0)))
    else:  # without "quý mấy", as when the first synthetic set was made, so that it regenerates exactly
        candidates.sort(key=lambda c: c[3].wh not in FIGURE_WH[:4])
    return _ask(paragraph, candidates, rng, per_paragraph, keep_figures=contrast)


def phrase_questions_from_paragraph(paragraph: str, rng: random.Random, per_paragraph: int) -> list[QAExample]:
    """Up to ``per_paragraph`` "gì" questions about what a verb of the paragraph takes."""
    candidates = _candidates(paragraph, find_phrase_targets)
    rng.shuffle(candidates)
    return _ask(paragraph, candidates, rng, per_paragraph, answer_may_repeat=False)


@lru_cache(maxsize=4)
def tagged_sentences(paragraph: str) -> tuple[tuple[int, int, list[Token]], ...]:
    """(sentence number, offset in the paragraph, tokens) for each taggable sentence of 30+ characters."""
    from underthesea import sent_tokenize

    tagged, cursor = [], 0
    for number, sentence in enumerate(sent_tokenize(paragraph)):
        offset = paragraph.find(sentence, cursor)
        if offset < 0 or len(sentence) < 30:
            continue
        cursor = offset + len(sentence)
        tokens = tag_sentence(sentence)
        if tokens:
            tagged.append((number, offset, tokens))
    return tuple(tagged)


Candidate = tuple[int, int, list[Token], Target]  # sentence number, its offset, its tokens, what to ask


def _candidates(paragraph: str, find: Callable[[list[Token]], Iterable[Target]]) -> list[Candidate]:
    """Every target ``find`` sees in the paragraph's tagged sentences, in reading order."""
    return [(n, offset, tokens, t) for n, offset, tokens in tagged_sentences(paragraph) for t in find(tokens)]


def _ask(
    paragraph: str,
    candidates: list[Candidate],
    rng: random.Random,
    limit: int,
    keep_figures: bool = False,
    answer_may_repeat: bool = True,
) -> list[QAExample]:
    """Questions for the first ``limit`` candidates that make one (and, unless ``answer_may_repeat``, one
    that does not contain its own answer elsewhere in the clause)."""
    examples = []
    for _, offset, tokens, target in candidates:
        if len(examples) >= limit:
            break
        question = make_question(tokens, target, rng, keep_figures=keep_figures)
        start = offset + tokens[target.answer_first].start
        answer = paragraph[start : offset + tokens[target.last].end]
        if question is None or (not answer_may_repeat and answer.lower() in question.lower()):
            continue
        examples.append(QAExample(paragraph, question, answer, start, "synthetic"))
    return examples


def synthesize(
    paragraphs: Iterable[str],
    seed: int = 13,
    per_paragraph: int = 3,
    unanswerable_share: float = 0.2,
    contrast: bool = False,
    phrases: int = 0,
    dates: bool = False,
) -> list[QAExample]:
    """Synthetic answerable examples for every paragraph plus unanswerable ones made by swapping paragraphs.

    ``phrases`` adds that many "gì" questions a paragraph, drawn with their own random stream so that the
    figure questions of a seed stay the same with or without them. ``dates`` asks dates as dates (see
    ``find_targets``); off, the sets of the shipped passes regenerate exactly.
    """
    rng, phrase_rng = random.Random(seed), random.Random(f"{seed}-phrases")
    paragraphs = list(dict.fromkeys(paragraphs))
    answerable: list[QAExample] = []
    asked_phrases: list[QAExample] = []
    for paragraph in paragraphs:
        answerable += questions_from_paragraph(paragraph, rng, per_paragraph, contrast, dates)
        if phrases:
            asked_phrases += phrase_questions_from_paragraph(paragraph, phrase_rng, phrases)
    return (
        answerable
        + _swap_paragraphs(answerable, paragraphs, unanswerable_share, rng)
        + asked_phrases
        + _swap_paragraphs(asked_phrases, paragraphs, unanswerable_share, phrase_rng)
    )


def _swap_paragraphs(
    examples: list[QAExample], paragraphs: list[str], share: float, rng: random.Random
) -> list[QAExample]:
    """A ``share`` of the questions, each paired with another paragraph that lacks its answer."""
    unanswerable = []
    for ex in rng.sample(examples, int(len(examples) * share)):
        other = rng.choice(paragraphs)
        if ex.answer and ex.answer not in other and other != ex.context:
            unanswerable.append(QAExample(other, ex.question, None, None, "synthetic-unanswerable"))
    return unanswerable
