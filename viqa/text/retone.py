"""Tone marks put back into a question typed without them, from the passage it is read against.

"tong kim ngach xuat khau thang 11 dat bao nhieu" read against "... tổng kim ngạch xuất khẩu tháng 11 ước đạt ..."
becomes "tổng kim ngạch xuất khẩu tháng 11 đạt bao nhiêu": each run of the question's syllables takes the written
form of the longest run of the passage's syllables that folds to it (most frequent form first), and the question
words that a passage rarely holds ("bao nhiêu", "nào", "đâu") take theirs from ``QUESTION_WORDS``. A syllable
found in neither stays as typed.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from viqa.text.normalise import normalise_for_matching, strip_tone_marks

_WORD = re.compile(r"\w+", re.UNICODE)
LONGEST_RUN = 4  # syllables

# question words as typed bare -> as written; multi-syllable ones first where they overlap
QUESTION_WORDS: dict[tuple[str, ...], tuple[str, ...]] = {
    tuple(bare.split()): tuple(written.split())
    for bare, written in [
        ("bao nhieu", "bao nhiêu"), ("bao lau", "bao lâu"), ("bao gio", "bao giờ"), ("khi nao", "khi nào"),
        ("nhu the nao", "như thế nào"), ("the nao", "thế nào"), ("tai sao", "tại sao"), ("vi sao", "vì sao"),
        ("la gi", "là gì"), ("o dau", "ở đâu"), ("nao", "nào"), ("gi", "gì"), ("dau", "đâu"),
    ]
}


def _fold(syllable: str) -> str:
    return strip_tone_marks(syllable).lower()


def _runs(context: str) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Every run of 1 to ``LONGEST_RUN`` syllables of ``context``, folded -> its most frequent written form."""
    written = _WORD.findall(normalise_for_matching(context))
    folded = [_fold(w) for w in written]
    seen: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    for n in range(1, LONGEST_RUN + 1):
        for i in range(len(written) - n + 1):
            seen[tuple(folded[i : i + n])][tuple(written[i : i + n])] += 1
    return {key: forms.most_common(1)[0][0] for key, forms in seen.items()}


def _written(key: tuple[str, ...], runs: dict[tuple[str, ...], tuple[str, ...]]) -> tuple[str, ...] | None:
    """How ``key`` is written: a run of the passage before a question word, a question word before one syllable
    of the passage ("nao" is "nào" even where the passage writes "nao" of "nạo")."""
    if len(key) > 1:
        return runs.get(key) or QUESTION_WORDS.get(key)
    return QUESTION_WORDS.get(key) or runs.get(key)


def _with_case_of(typed: str, written: str) -> str:
    return written[:1].upper() + written[1:] if typed[:1].isupper() else written


def restore_tone_marks(question: str, context: str) -> str:
    """``question`` (typed without tone marks) with each syllable as ``context`` or ``QUESTION_WORDS`` writes it,
    its spacing, punctuation and capitals kept."""
    matches = list(_WORD.finditer(question))
    typed = [_fold(m.group()) for m in matches]
    runs = _runs(context)
    out = [m.group() for m in matches]
    i = 0
    while i < len(typed):
        for n in range(min(LONGEST_RUN, len(typed) - i), 0, -1):
            key = tuple(typed[i : i + n])
            written = _written(key, runs)
            if written:
                out[i : i + n] = [_with_case_of(m.group(), w) for m, w in zip(matches[i : i + n], written, strict=True)]
                i += n
                break
        else:
            i += 1
    pieces, cursor = [], 0
    for m, word in zip(matches, out, strict=True):
        pieces += [question[cursor : m.start()], word]
        cursor = m.end()
    return "".join(pieces) + question[cursor:]
