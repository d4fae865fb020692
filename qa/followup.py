"""Rewrite elliptical follow-ups ("Còn nhập khẩu thì sao?") into full questions using the earlier turns.

>>> resolve_followup(["Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"], "Còn nhập khẩu thì sao?")
'Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from viqa.text.normalise import normalise_for_matching

# "... thì sao", "... thì thế nào", optionally followed by particles ("ạ", "nhỉ", "vậy")
_HOW = r"(?:sao|thế nào|như thế nào|ra sao)"
_LEAD = r"(?:(?:thế|vậy|và)(?:\s+thì)?\s+)?"
_ABOUT = r"(?:(?:đối\s+)?với\s+|về\s+)?"
_PATTERNS = (
    # Còn X / Còn X thì sao / Thế còn X / Vậy còn X thì sao / Còn với X thì thế nào
    re.compile(rf"^{_LEAD}còn\s+{_ABOUT}(?P<x>.+?)(?:\s+(?:thì\s+)?{_HOW})?$", re.IGNORECASE),
    # X thì sao / Vậy X thì sao / Đối với X thì thế nào
    re.compile(rf"^{_LEAD}{_ABOUT}(?P<x>.+?)\s+thì\s+{_HOW}$", re.IGNORECASE),
)
_PARTICLES = {"ạ", "nhỉ", "nữa", "vậy", "thế", "hả", "à", "đây"}
# a focus containing one of these is a question of its own ("Còn bao nhiêu ngày?"), not an ellipsis
_QUESTION_WORDS = re.compile(
    r"\b(?:bao nhiêu|mấy|gì|nào|ai|đâu|sao|tại sao|vì sao|bao giờ|là|nếu|có phải|hay không)\b", re.IGNORECASE
)
_MAX_FOCUS_SYLLABLES = 8
# question-initial words: a fallback focus goes at the end of such questions, not before the predicate
_WH_START = re.compile(r"^(?:ai|bao nhiêu|khi nào|bao giờ|tại sao|vì sao|ở đâu|có|mấy|đâu|nơi nào)\b", re.IGNORECASE)
# where a question's predicate starts: a fallback focus is inserted just before it
_PREDICATE = re.compile(
    r"\s(?:là|đạt|có|bằng|chiếm|tăng|giảm|bao nhiêu|mấy|gì|thế nào|như thế nào|ra sao|khi nào|ở đâu)\b",
    re.IGNORECASE,
)

# words that stand for one another in a follow-up ("Còn bò thì sao?" after a question about trâu)
_CATEGORIES: tuple[frozenset[str], ...] = tuple(
    frozenset(normalise_for_matching(w) for w in group)
    for group in (
        ("trâu", "bò", "lợn", "heo", "gà", "vịt", "dê", "cừu", "ngựa", "gia cầm", "gia súc", "thủy sản"),
        ("xuất khẩu", "nhập khẩu", "xuất nhập khẩu"),
        ("thu", "chi", "thu ngân sách", "chi ngân sách"),
        ("doanh thu", "chi phí", "lợi nhuận"),
        ("nam giới", "nữ giới"),
        ("thành thị", "nông thôn"),
        ("lúa", "ngô", "khoai", "sắn", "khoai lang", "lạc", "đậu tương", "mía", "chè", "cà phê", "cao su", "hồ tiêu"),
        ("công nghiệp", "nông nghiệp", "dịch vụ", "xây dựng", "thương mại", "du lịch", "lâm nghiệp"),
        ("tăng", "giảm"),
        ("cao nhất", "thấp nhất", "lớn nhất", "nhỏ nhất", "nhiều nhất", "ít nhất"),
        ("bán lẻ", "bán buôn"),
        ("quốc tế", "nội địa", "trong nước", "nước ngoài"),
    )
)
_STOPWORDS = {"của", "và", "các", "những", "số", "tổng", "trong", "ở", "tại", "cho", "với", "về", "được", "đã", "the"}
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"}
_TOKEN = re.compile(r"\w+")
_MAX_CATEGORY_SPAN = 4


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return normalise_for_matching(self.text)

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _category(phrase: str) -> int | None:
    return next((i for i, group in enumerate(_CATEGORIES) if phrase in group), None)


def focus_of(question: str) -> str | None:
    """The X of an elliptical follow-up ("Còn X thì sao?", "Thế còn X?", "X thì sao?"), else None."""
    body = unicodedata.normalize("NFC", question).strip().rstrip("?!.…;: ").strip()
    words = body.split()
    while len(words) > 1 and words[-1].casefold() in _PARTICLES:
        words.pop()
    body = " ".join(words)
    for pattern in _PATTERNS:
        match = pattern.match(body)
        if match is None:
            continue
        focus = match.group("x").strip(" ,\"'“”")
        n = len(_TOKEN.findall(focus))
        if n == 0 or n > _MAX_FOCUS_SYLLABLES or _QUESTION_WORDS.search(focus):
            return None
        return focus
    return None


def _is_name(tokens: list[_Token]) -> bool:
    """A proper name such as "Bắc Ninh": every word capitalised (one word only if it is not a category word)."""
    words = [t for t in tokens if t.text[:1].isalpha()]
    if not words or not all(t.capitalised for t in words):
        return False
    return len(words) > 1 or _category(words[0].key) is None


def _similarity(a: _Token, b: _Token) -> float:
    """How well one syllable of the previous question stands for one syllable of the focus."""
    ka, kb = a.key, b.key
    if ka == kb:
        return 0.25 if ka in _STOPWORDS else 1.0
    if (ka.isdigit() and kb.isdigit()) or (ka in _ROMAN and kb in _ROMAN):
        return 0.5
    ca = _category(ka)
    return 0.75 if ca is not None and ca == _category(kb) else 0.0


def _name_runs(tokens: list[_Token], acronyms: bool) -> list[tuple[int, int]]:
    """(first, last+1) token ranges of capitalised runs; a lone capitalised first word is sentence case."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and tokens[j].capitalised and (acronyms or not tokens[j].text.isupper()):
            j += 1
        if j > i and not (i == 0 and j - i == 1):
            runs.append((i, j))
        i = max(j, i + 1)
    return runs


def _best_span(previous: list[_Token], focus: list[_Token]) -> tuple[int, int] | None:
    """The token range of ``previous`` that ``focus`` replaces, or None when nothing corresponds."""
    best: tuple[float, int, int] | None = None

    def consider(score: float, i: int, j: int) -> None:
        nonlocal best
        if best is None or score > best[0]:
            best = (score, i, j)

    phrase = " ".join(t.key for t in focus)
    group = _category(phrase)
    if group is not None:
        for i in range(len(previous)):
            for j in range(i + 1, min(i + _MAX_CATEGORY_SPAN, len(previous)) + 1):
                span = " ".join(t.key for t in previous[i:j])
                if span != phrase and _category(span) == group:
                    consider(10.0 - abs((j - i) - len(focus)), i, j)
    if _is_name(focus):
        acronyms = all(t.text.isupper() for t in focus)
        for i, j in _name_runs(previous, acronyms):
            consider(5.0 + (1.0 if j - i == len(focus) else 0.0), i, j)
    n = len(focus)
    for i in range(len(previous) - n + 1):
        score = sum(_similarity(previous[i + k], focus[k]) for k in range(n))
        if score >= 0.5:
            consider(score, i, i + n)
    return None if best is None else (best[1], best[2])


def _as_inserted(focus: str, focus_tokens: list[_Token]) -> str:
    """The focus as it reads mid-sentence: sentence-case capitals dropped, names kept."""
    if _is_name(focus_tokens) or not focus[:1].isupper() or focus.split()[0].isupper():
        return focus
    return focus[:1].lower() + focus[1:]


def _substitute(previous: str, focus: str) -> str:
    """``previous`` with the phrase corresponding to ``focus`` replaced, or ``focus`` added where it fits."""
    prev_tokens, focus_tokens = _tokens(previous), _tokens(focus)
    phrase = _as_inserted(focus, focus_tokens)
    span = _best_span(prev_tokens, focus_tokens)
    if span is not None:
        first, last = prev_tokens[span[0]], prev_tokens[span[1] - 1]
        if not previous[: first.start].strip() and first.capitalised:
            phrase = phrase[:1].upper() + phrase[1:]
        return previous[: first.start] + phrase + previous[last.end :]
    body = previous.rstrip()
    tail = ""
    while body and body[-1] in "?!.…":
        tail, body = body[-1] + tail, body[:-1]
    predicate = None if _WH_START.match(body) else _PREDICATE.search(body)
    if predicate is not None and predicate.start() > 0:
        return body[: predicate.start()] + " " + phrase + body[predicate.start() :] + tail
    return f"{body} {phrase}{tail or '?'}"


def _resolve(previous: str | None, question: str) -> str:
    if previous is None:
        return question
    focus = focus_of(question)
    return question if focus is None else _substitute(previous, focus)


def resolve_followup(history: list[str], question: str) -> str:
    """``question`` as a full question: an elliptical follow-up is rewritten from the (resolved) previous one.

    ``history`` holds the earlier user questions, oldest first; non-elliptical questions come back unchanged.
    """
    previous: str | None = None
    for turn in history:
        if turn.strip():
            previous = _resolve(previous, turn)
    return _resolve(previous, question)
