"""Text normalisation with an offset map back to the original characters.

``MappedText`` is text derived from an original string, where ``origin[i]`` is the original offset of
character ``i``. NFC composition, dropping footnote markers and joining page-break-cut sentences all
build one, so that any span viqa finds can be cited at the exact characters of the source file.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

NORMALISER_VERSION = 1

# old-style ("hoà", "thuỷ") -> new-style ("hòa", "thủy") tone placement; both are NFC and equally long
_TONES = {"\u0300": "àằầèềìòồờùừỳ", "\u0301": "áắấéếíóốớúứý", "\u0309": "ảẳẩẻểỉỏổởủửỷ",
          "\u0303": "ãẵẫẽễĩõỗỡũữỹ", "\u0323": "ạặậẹệịọộợụựỵ"}


def _tone_table() -> dict[str, str]:
    pairs = {}
    for mark in _TONES:
        for first, second in (("o", "a"), ("o", "e"), ("u", "y")):
            for up in (False, True):
                f, s = (first.upper(), second.upper()) if up else (first, second)
                old = f + unicodedata.normalize("NFC", s + mark)
                new = unicodedata.normalize("NFC", f + mark) + s
                pairs[old] = new
    return pairs


_TONE_PAIRS = _tone_table()
# only at the end of a syllable: "hoàng", "toán" are spelled the same in both styles
_TONE_RE = re.compile("(?:" + "|".join(_TONE_PAIRS) + r")(?![^\W\d_])")


def unify_tone_marks(text: str) -> str:
    """NFC text with tone marks placed the new way (hoà -> hòa, thuỷ -> thủy); length is preserved."""

    def repl(m: re.Match[str]) -> str:
        if m.start() > 0 and text[m.start() - 1] in "qQ":  # "quý": the u belongs to the consonant
            return m.group(0)
        return _TONE_PAIRS[m.group(0)]

    return _TONE_RE.sub(repl, text)


def strip_tone_marks(text: str) -> str:
    """Vietnamese as typed without diacritics ("Tổng kim ngạch" -> "Tong kim ngach", "đ" -> "d"); NFC text keeps
    its length, so offsets into the stripped text are offsets into the original."""
    nfc = unicodedata.normalize("NFC", text)
    bare = "".join(ch for ch in unicodedata.normalize("NFD", nfc) if not unicodedata.combining(ch))
    return bare.replace("đ", "d").replace("Đ", "D")


def typed_without_tones(text: str) -> bool:
    """True when ``text`` carries no tone mark, vowel mark nor "đ" ("tong kim ngach thang 11"), as many users type."""
    return strip_tone_marks(text) == text


def normalise_for_matching(text: str) -> str:
    """The one normaliser for documents and queries alike: NFC, unified tone marks, lower case."""
    return unify_tone_marks(unicodedata.normalize("NFC", text)).lower()


# punctuation goes, except . and , between digits ("1,5" != "15"; "47.063,06" stays one token)
_PUNCT = re.compile(r"(?<!\d)[.,](?!\d)|(?<=\d)[.,](?!\d)|(?<!\d)[.,](?=\d)|[^\w\s.,]")


def normalise_vi(text: str) -> str:
    """Two answers are the same answer when this is equal: matching-normalised, punctuation out (number
    separators kept), single spaces."""
    return " ".join(_PUNCT.sub(" ", normalise_for_matching(text)).split())


@dataclass
class MappedText:
    """Text built piece by piece from an original string: ``text[i]`` came from ``original[start[i]:end[i]]``."""

    text: str = ""
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)

    def append(self, piece: str, starts: list[int], ends: list[int]) -> None:
        if not len(piece) == len(starts) == len(ends):
            raise ValueError("each appended character needs exactly one origin span")
        self.text += piece
        self.start.extend(starts)
        self.end.extend(ends)

    def append_original(self, original: str, start: int, end: int) -> None:
        """Append ``original[start:end]`` in NFC; a composed character maps to all the characters it came from."""
        segment = original[start:end]
        if unicodedata.is_normalized("NFC", segment):
            self.append(segment, list(range(start, end)), list(range(start + 1, end + 1)))
            return
        cluster = start
        for i in range(start + 1, end + 1):
            if i == end or unicodedata.combining(original[i]) == 0:
                composed = unicodedata.normalize("NFC", original[cluster:i])
                self.append(composed, [cluster] * len(composed), [i] * len(composed))
                cluster = i

    def append_separator(self, char: str, at: int) -> None:
        """A character that is not in the original (e.g. the space that joins a cut sentence)."""
        self.append(char, [at], [at])

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of ``text[start:end]`` (end exclusive, ``start < end``)."""
        return self.start[start], self.end[end - 1]
