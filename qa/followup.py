"""Rewrite follow-ups into full questions using the earlier turns of a conversation.

Each turn is read against the previous question *as resolved*, so a third turn builds on the second one's
rewrite. Two kinds of follow-up are rewritten; everything else passes through unchanged:

- ellipsis, "Còn X?", "X thì sao?": X replaces its counterpart in the previous question — a word of the
  same category (xuất khẩu → nhập khẩu), a time phrase (tháng 11 → lũy kế 11 tháng; "tháng trước" → tháng
  10), a place (của Thuỵ Sĩ → của Anh), a noun phrase of the same class (Quỹ đầu tư … → Công ty …), a name
  (Lạng Sơn → Bắc Ninh), the phrase it best aligns with, or else the previous follow-up's X; failing all
  of these X is added where it fits;
- anaphora in an otherwise full question: "con số này", "chỉ tiêu đó" (what the previous question asked
  about), "năm đó", "học kỳ đó" (its time), "ở đó" (its place), "ông ấy" (its person), "công ty này",
  "giải đó", "nước này" (its company, event, country …).

>>> resolve_followup(["Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?"], "Còn nhập khẩu thì sao?")
'Kim ngạch nhập khẩu tháng 11 đạt bao nhiêu?'
>>> resolve_followup(["Kim ngạch xuất khẩu tháng 11 đạt bao nhiêu?", "Còn nhập khẩu thì sao?"],
...                  "Còn lũy kế 11 tháng?")
'Kim ngạch nhập khẩu lũy kế 11 tháng đạt bao nhiêu?'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from viqa.text.normalise import normalise_for_matching

# --- recognising an elliptical follow-up --------------------------------------------------------------------

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
_MAX_FOCUS_SYLLABLES = 12
# only so many earlier turns, each no longer than this, are read (longer ones are taken as they are)
_MAX_HISTORY = 8
_MAX_QUESTION_CHARS = 1000

# --- where a question's parts are --------------------------------------------------------------------------

# question-initial words: a fallback focus goes at the end of such questions, not before the predicate
_WH_START = re.compile(r"^(?:ai|bao nhiêu|khi nào|bao giờ|tại sao|vì sao|ở đâu|có|mấy|đâu|nơi nào)\b", re.IGNORECASE)
# where a question's predicate starts: a fallback focus is inserted just before it
_PREDICATE = re.compile(
    r"\s(?:là|đạt|có|bằng|chiếm|tăng|giảm|bao nhiêu|mấy|gì|thế nào|như thế nào|ra sao|khi nào|ở đâu)\b",
    re.IGNORECASE,
)
# words (normalised) that end a noun phrase: the verb or question word after a subject ...
_PREDICATE_WORDS = frozenset(normalise_for_matching(w) for w in (
    "là", "đạt", "có", "bằng", "chiếm", "tăng", "giảm", "được", "bị", "đã", "sẽ", "đang", "vẫn", "diễn ra",
    "sở hữu", "xếp", "thu về", "giữ", "giữ chức", "làm", "tham gia", "giành", "nhận", "vượt", "mất", "tốn",
    "kéo dài", "tiếp giáp", "giáp", "nằm", "thuộc", "gồm", "chấm", "sản xuất", "về đích", "vô địch", "đoạt",
    "ước", "sụt", "giá bao", "phải", "cần", "bao nhiêu", "mấy", "gì", "nào", "ai", "đâu", "khi nào", "bao giờ",
    "thế nào", "như thế nào", "ra sao",
))
# ... or a preposition starting an adjunct ("của" and "và" only when no name follows)
_ADJUNCT_WORDS = frozenset(normalise_for_matching(w) for w in (
    "trong", "vào", "từ", "đến", "tại", "ở", "so với", "thì", "khi", "nếu", "với", "cho", "theo", "trên", "của",
    "và",
))
_WH_WORDS = frozenset({"bao", "nhiêu", "mấy", "gì", "nào", "ai", "đâu"})
_DEMONSTRATIVES = frozenset({"này", "đó", "ấy", "kia"})
_PUNCT_BREAK = re.compile(r"[,;:?!()]")

# --- lexicon -----------------------------------------------------------------------------------------------

# words that stand for one another in a follow-up ("Còn bò thì sao?" after a question about trâu)
_CATEGORIES: tuple[frozenset[str], ...] = tuple(
    frozenset(normalise_for_matching(w) for w in group)
    for group in (
        ("trâu", "bò", "lợn", "heo", "gà", "vịt", "dê", "cừu", "ngựa", "gia cầm", "gia súc", "thủy sản"),
        ("xuất khẩu", "nhập khẩu", "xuất nhập khẩu"),
        ("thu", "chi", "thu ngân sách", "chi ngân sách"),
        ("doanh thu", "chi phí", "lợi nhuận"),
        ("nam giới", "nữ giới"),
        ("nam", "nữ"),
        ("thành thị", "nông thôn"),
        ("lúa", "ngô", "khoai", "sắn", "khoai lang", "lạc", "đậu tương", "mía", "chè", "cà phê", "cao su", "hồ tiêu"),
        ("công nghiệp", "nông nghiệp", "dịch vụ", "xây dựng", "thương mại", "du lịch", "lâm nghiệp"),
        ("tăng", "giảm"),
        ("cao nhất", "thấp nhất", "lớn nhất", "nhỏ nhất", "nhiều nhất", "ít nhất"),
        ("bán lẻ", "bán buôn"),
        ("quốc tế", "nội địa", "trong nước", "nước ngoài"),
        ("camera", "loa", "pin", "màn hình", "mẫu mã", "thiết kế", "sạc", "chip", "cấu hình", "bộ nhớ"),
    )
)
# head nouns of noun phrases that stand for one another when they are of one class ("Còn Công ty X?" after
# a question about "Quỹ đầu tư Y"), and that a demonstrative refers back with ("công ty này", "giải đó")
_CLASSES: dict[str, tuple[str, ...]] = {
    "org": ("tổng công ty", "công ty", "tập đoàn", "quỹ đầu tư", "quỹ", "ngân hàng", "doanh nghiệp", "hãng",
            "tổ chức", "liên đoàn", "hiệp hội", "nhà máy", "trường"),
    "country": ("nước", "quốc gia"),
    "region": ("tỉnh", "thành phố", "huyện", "quận", "xã", "vùng", "miền"),
    "continent": ("châu", "lục địa"),
    "event": ("giải vô địch", "giải đấu", "giải thưởng", "giải", "cúp", "đại hội"),
    "role": ("phó tổng giám đốc", "tổng giám đốc", "giám đốc", "phó chủ tịch", "chủ tịch", "bí thư", "ủy viên",
             "thành viên", "trưởng ban", "bộ trưởng"),
    "dish": ("món", "dĩa", "đĩa", "suất", "tô"),
    "person": ("ông", "bà", "anh", "chị", "tỷ phú", "doanh nhân"),
}
_HEADS: list[tuple[tuple[str, ...], str]] = sorted(
    ((tuple(normalise_for_matching(h).split()), cls) for cls, heads in _CLASSES.items() for h in heads),
    key=lambda hc: -len(hc[0]),
)
_QUANTIFIERS = frozenset({"mỗi", "một", "các", "những"})
_PLACE_PREPOSITIONS = frozenset({"ở", "tại", "của", "trên", "trong"})
_SCOPES = ("thế giới", "cả nước", "toàn quốc")
_STOPWORDS = {"của", "và", "các", "những", "số", "tổng", "trong", "ở", "tại", "cho", "với", "về", "được", "đã", "the"}
_FILLERS = frozenset({"vào", "khoảng", "trong", "của", "từ", "đến", "tại", "là", "thì", "với", "cho", "cả"})
_ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii")
_TOKEN = re.compile(r"\w+")
_MAX_CATEGORY_SPAN = 4
_MAX_PHRASE = 10

# --- time phrases ------------------------------------------------------------------------------------------

_YEAR_TAIL = r"(?:\s*[/-]\s*\d{4})?"  # "tháng 3/2011" is one phrase; "tháng 11 năm 2023" two
_TIME = re.compile(
    r"(?<!\w)(?:"
    r"(?P<cum>l[ũu]y\s+kế|lu[ỹy]\s+kế)(?:\s+(?:từ\s+đầu\s+năm|cả\s+năm|\d+\s+tháng(?:\s+(?:đầu|cuối)\s+năm)?))?"
    rf"|(?P<day>ngày\s+\d{{1,2}}(?:\s+tháng\s+\d{{1,2}}|\s*/\s*\d{{1,2}})?{_YEAR_TAIL})"
    rf"|(?P<month>tháng\s+(?:\d{{1,2}}|trước|này|sau){_YEAR_TAIL})"
    rf"|(?P<quarter>quý\s+(?:[IVX]+|\d|trước|này|sau){_YEAR_TAIL})"
    r"|(?P<months>\d+\s+tháng(?:\s+(?:đầu|cuối)\s+năm)?)"
    r"|(?P<whole>cả\s+năm)"
    r"|(?P<term>học\s+kỳ\s+(?:chính|hè|phụ|[IVX]+|\d))"
    r"|(?P<year>năm(?:\s+tài\s+kh(?:oá|óa|oa))?\s+(?:\d{4}|trước|ngoái|nay|sau|tới))"
    r"|(?P<rate>(?:mỗi|hằng|hàng)\s+(?:ngày|tuần|tháng|quý|năm))"
    r")(?!\w)",
    re.IGNORECASE,
)
_COMPARISON = re.compile(r"(?:cùng\s+kỳ|so\s+với)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class _Time:
    """A time phrase of a question: ``dims`` says what it fixes (a year, a part of one, a term, a rate)."""

    start: int
    end: int
    text: str
    dims: frozenset[str]

    @property
    def month(self) -> int | None:
        m = re.search(r"(?:tháng\s+(\d{1,2})(?!\d))|(?:(\d{1,2})\s+tháng)", self.text, re.IGNORECASE)
        return int(m.group(1) or m.group(2)) if m else None

    @property
    def year(self) -> int | None:
        m = re.search(r"(?<!\d)(\d{4})(?!\d)", self.text)
        return int(m.group(1)) if m else None


def _times(text: str) -> list[_Time]:
    """The time phrases of ``text``, except those of a comparison ("so với cùng kỳ năm trước")."""
    found = []
    for m in _TIME.finditer(text):
        if _COMPARISON.search(text[: m.start()]):
            continue
        kind = m.lastgroup or ""
        dims = {"term": {"term"}, "year": {"year"}, "rate": {"rate"}}.get(kind, {"sub"})
        if kind not in ("term", "year", "rate") and re.search(r"(?<!\d)\d{4}(?!\d)", m.group()):
            dims = dims | {"year"}
        found.append(_Time(m.start(), m.end(), m.group(), frozenset(dims)))
    return found


def _render_time(text: str, previous: list[_Time]) -> str:
    """A focus time phrase made absolute against the previous question's ("tháng trước" after "tháng 11" is
    "tháng 10"; a bare "lũy kế" after "tháng 11" is "lũy kế 11 tháng")."""
    key = normalise_for_matching(text)
    month = next((t.month for t in previous if t.month is not None), None)
    year = next((t.year for t in previous if t.year is not None), None)
    head = text.split()[0]
    if re.fullmatch(r"lũy kế", key) and month is not None:
        return f"{text} {month} tháng"
    if (m := re.fullmatch(r"tháng (trước|sau)", key)) and month is not None:
        return f"{head} {(month - 2) % 12 + 1 if m.group(1) == 'trước' else month % 12 + 1}"
    if (m := re.fullmatch(r"năm (trước|ngoái|sau|tới)", key)) and year is not None:
        return f"{head} {year + (1 if m.group(1) in ('sau', 'tới') else -1)}"
    if m := re.fullmatch(r"quý (trước|sau)", key):
        quarter = next((re.search(r"quý\s+([ivx]+)", normalise_for_matching(t.text)) for t in previous), None)
        if quarter and quarter.group(1) in _ROMAN[:4]:
            i = _ROMAN.index(quarter.group(1)) + (1 if m.group(1) == "sau" else -1)
            if 0 <= i < 4:
                return f"{head} {_ROMAN[i].upper()}"
    return text


# --- tokens ------------------------------------------------------------------------------------------------


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


def _head_at(tokens: list[_Token], k: int) -> tuple[int, str] | None:
    """(length, class) of the longest class head noun starting at token ``k``."""
    for words, cls in _HEADS:
        n = len(words)
        if k + n <= len(tokens) and tuple(t.key for t in tokens[k : k + n]) == words:
            if words == ("nước",) and k + 1 < len(tokens) and not tokens[k + 1].capitalised:
                continue  # "nước" is a country only before a name ("nước Anh"), not "nước suối"
            return n, cls
    return None


def _starts_phrase(tokens: list[_Token], j: int, words: frozenset[str]) -> bool:
    one = tokens[j].key
    two = f"{one} {tokens[j + 1].key}" if j + 1 < len(tokens) else ""
    return one in words or two in words


def _np_end(text: str, tokens: list[_Token], k: int, times: list[_Time]) -> int:
    """The end (exclusive token index) of the noun phrase whose head starts at token ``k``: before the first
    predicate word, adjunct, time phrase or punctuation, just after a demonstrative ("quán lẩu nướng này")."""
    starts = {t.start for t in times}
    j = k + 1
    while j < len(tokens) and j - k < _MAX_PHRASE:
        tok = tokens[j]
        if _PUNCT_BREAK.search(text[tokens[j - 1].end : tok.start]) or tok.start in starts:
            break
        if _starts_phrase(tokens, j, _PREDICATE_WORDS):
            break
        if _starts_phrase(tokens, j, _ADJUNCT_WORDS):
            named = tok.key in ("của", "và") and j + 1 < len(tokens) and tokens[j + 1].capitalised
            if not named:
                break
        j += 1
        if tok.key in _DEMONSTRATIVES:
            break
    return j


def _subject_end(text: str, tokens: list[_Token]) -> int:
    """Where the subject of a question ends: its first predicate word or punctuation after the first word."""
    for j in range(1, len(tokens)):
        if _PUNCT_BREAK.search(text[tokens[j - 1].end : tokens[j].start]) or _starts_phrase(tokens, j,
                                                                                            _PREDICATE_WORDS):
            return j
    return len(tokens)


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


def _is_name(tokens: list[_Token]) -> bool:
    """A proper name such as "Bắc Ninh": every word capitalised (one word only if it is not a category word)."""
    words = [t for t in tokens if t.text[:1].isalpha()]
    if not words or not all(t.capitalised for t in words):
        return False
    return len(words) > 1 or _category(words[0].key) is None


# --- the focus of an ellipsis ------------------------------------------------------------------------------


def _unnamed(question: str, focus: str) -> str:
    """``focus`` with the words of proper names blanked ("Còn Sao Mộc?" asks about a planet, not "sao")."""
    offset = question.find(focus)
    tokens = _tokens(focus)
    out = list(focus)
    for i, t in enumerate(tokens):
        near = (i > 0 and tokens[i - 1].capitalised) or (i + 1 < len(tokens) and tokens[i + 1].capitalised)
        mid_sentence = offset + t.start > 0
        if t.capitalised and (near or mid_sentence):
            out[t.start : t.end] = "_" * len(t.text)
    return "".join(out)


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
        if n == 0 or n > _MAX_FOCUS_SYLLABLES or _QUESTION_WORDS.search(_unnamed(body, focus)):
            return None
        return focus
    return None


def _split_focus(focus: str) -> tuple[str, list[_Time]]:
    """The focus's time phrases and what else it asks for ("" when the rest is only prepositions)."""
    times = _times(focus)
    rest = focus
    for t in reversed(times):
        rest = rest[: t.start] + " " + rest[t.end :]
    words = rest.split()
    if all(normalise_for_matching(w) in _FILLERS for w in words):
        return "", times
    return " ".join(words), times


# --- substitution ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Resolved:
    """A turn as resolved, and where its follow-up focus went (to be replaced by the next one)."""

    text: str
    slot: str | None = None
    slot_is_time: bool = False


def _similarity(a: _Token, b: _Token) -> float:
    """How well one syllable of the previous question stands for one syllable of the focus."""
    ka, kb = a.key, b.key
    if ka == kb:
        return 0.25 if ka in _STOPWORDS else 1.0
    if (ka.isdigit() and kb.isdigit()) or (ka in _ROMAN and kb in _ROMAN):
        return 0.5
    ca = _category(ka)
    return 0.75 if ca is not None and ca == _category(kb) else 0.0


def _alignment(span: list[_Token], focus: list[_Token]) -> tuple[float, float]:
    """(score, matched weight) of the best monotone alignment of ``focus`` onto ``span``: matched syllables
    count their similarity, a syllable of ``span`` left unmatched costs 0.5, one of ``focus`` 0.25; a
    syllable may stand in for another at no cost (that is what the follow-up changes)."""
    rows, cols = len(span), len(focus)
    best: list[list[tuple[float, float]]] = [[(0.0, 0.0)] * (cols + 1) for _ in range(rows + 1)]
    for a in range(rows + 1):
        for b in range(cols + 1):
            if a == b == 0:
                continue
            options = []
            if a and b:
                s, w = best[a - 1][b - 1]
                sim = _similarity(span[a - 1], focus[b - 1])
                options.append((s + sim, w + sim))
            if a:
                s, w = best[a - 1][b]
                options.append((s - 0.5, w))
            if b:
                s, w = best[a][b - 1]
                options.append((s - 0.25, w))
            best[a][b] = max(options)
    return best[rows][cols]


def _asks_for(tokens: list[_Token], j: int) -> bool:
    """Whether token ``j`` is the question word after the noun that names what is asked ("thành phố nào")."""
    return j < len(tokens) and tokens[j].key in ("nào", "gì")


def _inside(span: tuple[int, int], tokens: list[_Token], times: list[_Time]) -> bool:
    """Whether a token range touches one of the time phrases."""
    first, last = tokens[span[0]].start, tokens[span[1] - 1].end
    return any(t.start < last and first < t.end for t in times)


def _place_phrases(text: str, tokens: list[_Token]) -> list[tuple[int, int]]:
    """Token ranges of "ở/tại/của/trên/trong" + a place: a name, a classed name ("tỉnh Lạng Sơn"), a scope."""
    found = []
    for p in range(len(tokens) - 1):
        if tokens[p].key not in _PLACE_PREPOSITIONS:
            continue
        q = p + 1
        head = _head_at(tokens, q)
        if head is not None and head[1] in ("country", "region", "continent"):
            q += head[0]
        j = q
        while j < len(tokens) and tokens[j].capitalised:
            j += 1
        scope = next((len(s.split()) for s in _SCOPES
                      if " ".join(t.key for t in tokens[p + 1 : p + 1 + len(s.split())]) == s), 0)
        if j > q:
            found.append((p, j))
        elif scope:
            found.append((p, p + 1 + scope))
    return found


def _best_span(text: str, previous: list[_Token], focus: list[_Token], times: list[_Time],
               slot: str | None) -> tuple[int, int, bool] | None:
    """The token range of ``previous`` that ``focus`` replaces, and whether it is a name that ``focus`` as a
    name replaces; None when nothing corresponds."""
    best: tuple[float, int, int, bool] | None = None

    def consider(score: float, i: int, j: int, name: bool = False) -> None:
        nonlocal best
        if i < j and not _inside((i, j), previous, times) and (best is None or score > best[0]):
            best = (score, i, j, name)

    phrase = " ".join(t.key for t in focus)
    group = _category(phrase)
    if group is not None:
        for i in range(len(previous)):
            for j in range(i + 1, min(i + _MAX_CATEGORY_SPAN, len(previous)) + 1):
                span = " ".join(t.key for t in previous[i:j])
                in_name = i > 0 and all(t.capitalised for t in previous[i:j]) and not focus[0].capitalised
                if span != phrase and _category(span) == group and not in_name:
                    consider(10.0 - abs((j - i) - len(focus)), i, j)
    if focus[0].key in _PLACE_PREPOSITIONS:
        for i, j in _place_phrases(text, previous):
            consider(8.0, i, j)
    head = _head_at(focus, 0)
    if head is not None:
        k = 0
        while k < len(previous):
            other = _head_at(previous, k)
            if other is None:
                k += 1
                continue
            end = _np_end(text, previous, k + other[0] - 1, times)
            if other[1] == head[1] and not _asks_for(previous, end):
                start = k - 1 if k and previous[k - 1].key in _QUANTIFIERS else k
                same = tuple(t.key for t in previous[k : k + other[0]]) == tuple(t.key for t in focus[: head[0]])
                consider(7.0 + (0.5 if same else 0.0), start, end)
            elif _asks_for(previous, k + other[0]) and tuple(t.key for t in previous[k : k + other[0]]) == tuple(
                    t.key for t in focus[: other[0]]):
                # "Thủ đô của X là thành phố nào?" + "Còn thành phố đông dân nhất?": the subject's head goes
                subject = _np_end(text, previous, 0, times)
                consider(7.0, 0, next((i for i in range(1, subject) if previous[i].key == "của"), subject))
            k += other[0]
    if _is_name(focus):
        acronyms = all(t.text.isupper() for t in focus)
        for i, j in _name_runs(previous, acronyms):
            consider(5.0 + (1.0 if j - i == len(focus) else 0.0), i, j, True)
    initials = "".join(t.key[0] for t in focus if t.key[:1].isalpha())
    for k, t in enumerate(previous):
        letters = t.key
        if len(letters) >= 3 and t.text.isupper() and letters.isalpha() and initials.startswith(letters[0]):
            it = iter(initials)
            if all(ch in it for ch in letters):
                consider(6.0, k, k + 1)
    # an aligned phrase starts at, or just before, a syllable that matches one of the focus
    anchors = [k for k, t in enumerate(previous) if any(_similarity(t, f) > 0 for f in focus)]
    for i in sorted({a for k in anchors for a in (k - 1, k) if a >= 0}):
        for j in range(i + 1, min(i + len(focus) + 3, len(previous)) + 1):
            if any(t.key in _WH_WORDS for t in previous[i:j]) or _asks_for(previous, j):
                break
            score, matched = _alignment(previous[i:j], focus)
            if matched >= 0.5 and score >= 0.5:
                consider(score, i, j)
    at = -1 if slot is None else text.find(slot)
    if best is None and at >= 0:
        first = next((k for k, t in enumerate(previous) if t.start >= at), None)
        last = next((k for k in range(len(previous) - 1, -1, -1) if previous[k].end <= at + len(slot or "")), None)
        if first is not None and last is not None and first <= last:
            consider(0.1, first, last + 1)
    return None if best is None else (best[1], best[2], best[3])


def _as_inserted(focus: str, focus_tokens: list[_Token], initial: bool = False) -> str:
    """The focus as it reads mid-sentence: sentence-case capitals dropped, names kept (one capitalised word
    that began the follow-up, "Rau thì sao?", is sentence case)."""
    if not focus_tokens or not focus[:1].isupper() or focus.split()[0].isupper():
        return focus
    if _is_name(focus_tokens) and not (initial and len(focus_tokens) == 1):
        return focus
    if len(focus_tokens) > 1 and focus_tokens[1].capitalised:
        return focus  # "Sao Kim", "Công ty TNHH …": a name
    return focus[:1].lower() + focus[1:]


def _replace(text: str, start: int, end: int, phrase: str) -> _Resolved:
    """``text[start:end]`` replaced by ``phrase`` (capitalised at the start of the question)."""
    if not text[:start].strip():
        phrase = phrase[:1].upper() + phrase[1:]
    return _Resolved(text[:start] + phrase + text[end:], phrase)


def _insert(text: str, phrase: str) -> _Resolved:
    """``phrase`` added before the predicate, or at the end of a question that starts with its question word."""
    body = text.rstrip()
    tail = ""
    while body and body[-1] in "?!.…":
        tail, body = body[-1] + tail, body[:-1]
    predicate = None if _WH_START.match(body) else _PREDICATE.search(body)
    if predicate is not None and predicate.start() > 0:
        at = predicate.start()
        return _Resolved(body[:at] + " " + phrase + body[at:] + tail, phrase)
    return _Resolved(f"{body} {phrase}{tail or '?'}", phrase)


def _substitute(state: _Resolved, focus: str, initial: bool) -> _Resolved:
    """The previous question with the phrase corresponding to ``focus`` replaced, or ``focus`` added
    (``initial``: the focus began the follow-up, so its first capital may be sentence case)."""
    text = state.text
    prev_tokens, focus_tokens = _tokens(text), _tokens(focus)
    if (len(focus_tokens) > 1 and focus_tokens[0].key in _PLACE_PREPOSITIONS and _is_name(focus_tokens[1:])
            and not _place_phrases(text, prev_tokens) and _name_runs(prev_tokens, acronyms=True)):
        # "Còn ở Hà Nội?" after "Dân số Lạng Sơn …": the name stands for the name
        return _substitute(state, focus[focus_tokens[1].start :], False)
    slot = None if state.slot_is_time else state.slot
    span = _best_span(text, prev_tokens, focus_tokens, _times(text), slot)
    if span is not None:
        phrase = _as_inserted(focus, focus_tokens, initial and not span[2])
        return _replace(text, prev_tokens[span[0]].start, prev_tokens[span[1] - 1].end, phrase)
    return _insert(text, _as_inserted(focus, focus_tokens, initial))


def _substitute_time(state: _Resolved, time: _Time, alone: str | None) -> _Resolved:
    """The previous question with its time phrase of the same kind replaced by ``time``; if it has none,
    ``time`` goes next to its other time phrases, or is added like any focus (``alone``: the whole focus,
    when the follow-up gives nothing but this time, "vào khoảng ngày 3 tháng 1")."""
    text = state.text
    previous = _times(text)
    rendered = _render_time(time.text, previous)
    lowered = rendered[:1].lower() + rendered[1:]
    same = [t for t in previous if t.dims & time.dims]
    if same:
        for t in reversed(same[1:]):  # "tháng 3/2011" replaces both "tháng 11" and "năm 2023"
            if t.dims <= time.dims:
                text = (text[: t.start].rstrip() + " " + text[t.end :].lstrip()).replace(" ?", "?")
        return _as_time(_replace(text, same[0].start, same[0].end, lowered))
    if previous:
        if "year" in time.dims and "sub" not in time.dims:
            at = previous[-1].end
            return _as_time(_Resolved(text[:at] + " " + lowered + text[at:], lowered))
        at = previous[0].start
        return _as_time(_replace(text, at, at, lowered + " "))
    return _as_time(_insert(text, _as_inserted(alone or lowered, _tokens(alone or lowered))))


def _as_time(state: _Resolved) -> _Resolved:
    return _Resolved(state.text, (state.slot or "").strip() or None, True)


def _apply_focus(state: _Resolved, focus: str, initial: bool) -> _Resolved:
    """The previous question rewritten for an elliptical follow-up about ``focus``: what it names first, then
    its time phrases."""
    rest, times = _split_focus(focus)
    if not rest and not times:
        rest = focus
    result = state
    if rest:
        result = _substitute(result, rest, initial and focus.startswith(rest))
    for t in times:
        alone = focus if not rest and len(times) == 1 else None
        changed = _substitute_time(result, t, alone)
        result = changed if not rest else _Resolved(changed.text, result.slot)
    return result


# --- anaphora ----------------------------------------------------------------------------------------------

_DEMONSTRATIVE = r"(?:này|đó|ấy|nói\s+trên)"
_PERSON_PRONOUN = re.compile(
    r"(?<!\w)(?:(?:ông|bà|anh|chị|cô)\s+(?:ấy|này|ta)|(?:người|vị)\s+(?:này|đó|ấy))(?!\w)", re.IGNORECASE
)
_PLACE_PRONOUN = re.compile(r"(?<!\w)(?P<prep>ở|tại|nơi)\s+(?:đó|đấy)(?!\w)", re.IGNORECASE)
_TIME_PRONOUN = re.compile(
    rf"(?<!\w)(?P<head>học\s+kỳ|năm|tháng|quý|kỳ|thời\s+điểm|thời\s+gian|giai\s+đoạn|đợt)\s+{_DEMONSTRATIVE}(?!\w)",
    re.IGNORECASE,
)
_MEASURE_PRONOUN = re.compile(
    rf"(?<!\w)(?:con\s+số|số\s+liệu|chỉ\s+tiêu|số\s+tiền|tỷ\s+lệ|mức|giá\s+trị|số\s+lượng|kết\s+quả)\s+"
    rf"{_DEMONSTRATIVE}(?!\w)",
    re.IGNORECASE,
)
_ENTITY_CLASSES = ("org", "country", "region", "continent", "event")
_ENTITY_HEADS = sorted((h for cls in _ENTITY_CLASSES for h in _CLASSES[cls]), key=len, reverse=True)
_ENTITY_ALTERNATIVES = "|".join(r"\s+".join(h.split()) for h in _ENTITY_HEADS)
_ENTITY_PRONOUN = re.compile(
    rf"(?<!\w)(?P<head>{_ENTITY_ALTERNATIVES})\s+{_DEMONSTRATIVE}(?!\w)", re.IGNORECASE
)
_PERSON_TITLES = frozenset(normalise_for_matching(h) for h in _CLASSES["person"]) | {"phú"}


def _runs(text: str) -> list[tuple[str, bool, int]]:
    """(name, titled as a person, start) of the names in a question, as written ("Ông Quang", "Vietjet")."""
    tokens = _tokens(text)
    times = _times(text)
    found = []
    for i, j in _name_runs(tokens, acronyms=True):
        if _inside((i, j), tokens, times):
            continue
        titled = tokens[i].key in _PERSON_TITLES or (i > 0 and tokens[i - 1].key in _PERSON_TITLES)
        classed = i > 0 and _head_at(tokens, i - 1) is not None and not titled
        head = _head_at(tokens, i)
        if classed or (head is not None and head[1] != "person"):
            continue
        found.append((text[tokens[i].start : tokens[j - 1].end], titled, tokens[i].start))
    return found


def _person(history: list[str]) -> str | None:
    for text in history:
        runs = _runs(text)
        titled = [r for r in runs if r[1]]
        if titled or runs:
            return (titled or runs)[0][0]
    return None


def _entity(history: list[str], head: str) -> str | None:
    """What "<head> này/đó" refers to: a phrase with that head or one of its class ("giải Nobel"), else the
    name in the previous question's subject, else its first name."""
    head_words = tuple(normalise_for_matching(head).split())
    cls = next(c for words, c in _HEADS if words == head_words)
    for text in history:
        tokens, times = _tokens(text), _times(text)
        phrases = []
        for k in range(len(tokens)):
            found = _head_at(tokens, k)
            if found is None or found[1] != cls:
                continue
            end = _np_end(text, tokens, k + found[0] - 1, times)
            named = any(t.capitalised or t.key.isdigit() for t in tokens[k + found[0] : end])
            if named:
                same = tuple(t.key for t in tokens[k : k + found[0]]) == head_words
                phrases.append((not same, text[tokens[k].start : tokens[end - 1].end]))
        if phrases:
            return min(phrases)[1]
        runs = [r for r in _runs(text) if not r[1]]
        if runs:
            subject_end = tokens[_subject_end(text, tokens) - 1].end if tokens else 0
            in_subject = [r for r in runs if r[2] < subject_end]
            return (in_subject or runs)[0][0]
    return None


def _place(history: list[str], prep: str) -> str | None:
    """What "ở đó" refers to: the previous question's "ở/tại" phrase ("ở quán lẩu nướng này")."""
    for text in history:
        tokens, times = _tokens(text), _times(text)
        for p in range(len(tokens) - 1):
            if tokens[p].key in ("ở", "tại") and tokens[p + 1].key not in _WH_WORDS:
                end = _np_end(text, tokens, p + 1, times)
                place = text[tokens[p + 1].start : tokens[end - 1].end]
                return place if normalise_for_matching(prep) == "nơi" else f"{prep} {place}"
        names = [r for r in _runs(text) if not r[1]]
        if names:
            return names[0][0] if normalise_for_matching(prep) == "nơi" else f"{prep} {names[0][0]}"
    return None


def _time_of(history: list[str], head: str) -> str | None:
    """What "năm đó", "học kỳ đó" … refers to: the latest time phrase of that kind."""
    key = normalise_for_matching(" ".join(head.split()))
    for text in history:
        for t in _times(text):
            tk = normalise_for_matching(t.text)
            text_lower = t.text[:1].lower() + t.text[1:]
            if key == "năm" and "year" in t.dims:
                return text_lower if tk.startswith("năm") else f"năm {t.year}"
            if (key in ("học kỳ", "kỳ") and "term" in t.dims) or (key in ("tháng", "quý") and tk.startswith(key)):
                return text_lower
            if key in ("thời điểm", "thời gian", "giai đoạn", "đợt"):
                return text_lower
    return None


def _measure(history: list[str]) -> str | None:
    """What "con số này", "chỉ tiêu đó" … refers to: the subject of the previous question."""
    text = history[0]
    tokens = _tokens(text)
    end = _subject_end(text, tokens)
    if end < 2 or tokens[0].key in _WH_WORDS:
        return None
    return text[tokens[0].start : tokens[end - 1].end]


def _resolve_anaphora(history: list[str], question: str) -> str:
    """``question`` with its references to earlier turns ("năm đó", "ông ấy", "công ty này") spelled out;
    ``history`` holds the earlier questions as resolved, latest first."""
    found: list[tuple[int, int, str | None]] = []
    for m in _PERSON_PRONOUN.finditer(question):
        found.append((m.start(), m.end(), _person(history)))
    for m in _PLACE_PRONOUN.finditer(question):
        found.append((m.start(), m.end(), _place(history, m.group("prep"))))
    for m in _TIME_PRONOUN.finditer(question):
        found.append((m.start(), m.end(), _time_of(history, m.group("head"))))
    for m in _MEASURE_PRONOUN.finditer(question):
        found.append((m.start(), m.end(), _measure(history)))
    for m in _ENTITY_PRONOUN.finditer(question):
        found.append((m.start(), m.end(), _entity(history, m.group("head"))))
    result = question
    taken: list[tuple[int, int]] = []
    for start, end, antecedent in sorted(found, key=lambda f: -f[0]):
        if antecedent is None or any(s < end and start < e for s, e in taken):
            continue
        taken.append((start, end))
        words = _tokens(antecedent)
        if start == 0:
            antecedent = antecedent[:1].upper() + antecedent[1:]
        elif words and not (len(words) > 1 and words[1].capitalised) and not antecedent.split()[0].isupper():
            antecedent = _as_inserted(antecedent, words)
        result = result[:start] + antecedent + result[end:]
    return result


# --- conversations -----------------------------------------------------------------------------------------


def _resolve(history: list[_Resolved], question: str) -> _Resolved:
    if not history:
        return _Resolved(question)
    focus = focus_of(question)
    if focus is not None:
        initial = unicodedata.normalize("NFC", question).strip().startswith(focus)
        return _apply_focus(history[-1], focus, initial)
    return _Resolved(_resolve_anaphora([h.text for h in reversed(history)], question))


def resolve_followup(previous_user_questions: list[str], question: str) -> str:
    """``question`` as a full question: a follow-up is rewritten from the earlier questions as resolved.

    ``previous_user_questions`` holds the earlier user questions, oldest first, as they were typed; a question
    that is neither elliptical nor refers back to them comes back unchanged.
    """
    history: list[_Resolved] = []
    for turn in [t for t in previous_user_questions if t.strip()][-_MAX_HISTORY:]:
        history.append(_resolve(history, turn) if len(turn) <= _MAX_QUESTION_CHARS else _Resolved(turn))
    if len(question) > _MAX_QUESTION_CHARS:
        return question
    return _resolve(history, question).text
