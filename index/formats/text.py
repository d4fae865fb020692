"""Plain-text files as canonical text: the encoding found, NFC, stray control characters cleaned.

UTF-8 (with or without BOM) and UTF-16/32 (with a BOM, or UTF-16 told by its NUL bytes) are read as they are.
Other bytes are decoded as each legacy Vietnamese encoding in turn (Windows-1258, TCVN3, VNI) and the decoding
that reads most like Vietnamese wins; when none does, the file is refused with charset_normalizer's guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from viqa.errors import InputError
from viqa.index.formats import Extracted
from viqa.index.formats.legacy_vn import decode_tcvn3, decode_vni

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_SNIFF = 8192  # bytes looked at for NULs
_SAMPLE = 65536  # bytes (or characters) scored
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # C0 but \t \n \v \f \r, DEL and C1
_MAX_CONTROL_SHARE = 0.1  # more than this, and it is a binary file
_MIN_VIETNAMESE = 0.7  # share of the words with diacritics that must be Vietnamese syllables

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
_ONSET = "ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx]"
_OPEN_RHYME = "oai|oay|oao|oeo|uây|uôi|uya|uyu|ươi|ươu|iêu|yêu|ai|ao|au|ay|âu|ây|eo|êu|ia|iu|oi|ôi|ơi|ua|ui|ưa|ưi|ưu"
_NUCLEUS = "uyê|iê|yê|oa|oă|oe|oo|uâ|uê|uô|uơ|uy|ươ|[aăâeêioôơuưy]"
_CODA = "ch|ng|nh|[cmnpt]"
_SYLLABLE = re.compile(f"(?:{_ONSET})?(?:(?:{_OPEN_RHYME})|(?:{_NUCLEUS})(?:{_CODA})?)")
_WORD = re.compile(r"[^\W\d_]+")
_COMMON_WORDS = frozenset(
    "của và các là có được trong cho những với không này một người năm tháng ngày đã để theo từ khi đến về tại "
    "trên nhà nước tỉnh số công đồng thực hiện tổ chức đạt tăng giảm kế hoạch quản lý phát triển xã hội kinh tế "
    "báo cáo tình hình việt nam đang sẽ cũng như vào ra còn nhiều hơn so cùng kỳ".split()
)


def decode_text(data: bytes, name: str) -> str:
    """``data`` as NFC text with stray control characters removed (a vertical tab becomes a line break);
    InputError for binary data and for bytes that read as no encoding of Vietnamese."""
    encoding = _bom_encoding(data) or _utf16_without_bom(data)
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise InputError(f"{name}: not valid {encoding.upper()} text (the file is damaged)") from None
    elif b"\x00" in data[:_SNIFF]:
        raise InputError(f"{name}: looks like a binary file, not text")
    else:
        text = _utf8(data)
        if text is None:
            text = _legacy(data, name)
    text = unicodedata.normalize("NFC", text)
    sample = text[:_SAMPLE]
    if "\x00" in sample[:_SNIFF] or len(_CONTROLS.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise InputError(f"{name}: looks like a binary file, not text")
    return _CONTROLS.sub("", text.replace("\v", "\n"))


def extract_text(data: bytes, name: str) -> Extracted:
    """A .txt/.md file as canonical text (see ``decode_text``); InputError when it is empty or blank."""
    text = decode_text(data, name)
    if not text.strip():
        raise InputError(f"{name}: the file is empty")
    return Extracted(text=text, title=None, format="text")


def _bom_encoding(data: bytes) -> str | None:
    return next((encoding for bom, encoding in _BOMS if data.startswith(bom)), None)


def _utf16_without_bom(data: bytes) -> str | None:
    """"utf-16-le"/"utf-16-be" when the NULs fall on one side of the byte pairs, as in mostly-Latin UTF-16."""
    sample = data[: _SNIFF - _SNIFF % 2]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd > 0.3 * pairs and even < 0.02 * pairs:
        return "utf-16-le"
    if even > 0.3 * pairs and odd < 0.02 * pairs:
        return "utf-16-be"
    return None


def _utf8(data: bytes) -> str | None:
    """UTF-8 text (a last character cut short is dropped), None when ``data`` is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            return data[: exc.start].decode("utf-8")
        return None


def _cp1258(data: bytes) -> str:
    return unicodedata.normalize("NFC", data.decode("cp1258"))


_LEGACY: tuple[Callable[[bytes], str], ...] = (_cp1258, decode_tcvn3, decode_vni)  # ties go to the first


def _legacy(data: bytes, name: str) -> str:
    """``data`` in the legacy encoding that reads most like Vietnamese; InputError when none does."""
    best, best_score = None, 0.0
    for decode in _LEGACY:
        try:
            score = vietnamese_score(decode(data[:_SAMPLE]))
        except UnicodeDecodeError:
            continue
        if score > best_score:
            best, best_score = decode, score
    if best is None:
        guess = _guess(data)
        raise InputError(
            f"{name}: not UTF-8, and not Vietnamese in Windows-1258, TCVN3 or VNI either"
            f"{f' (looks like {guess})' if guess else ''}; "
            f"convert it to UTF-8 first, e.g. iconv -f {guess or 'ENCODING'} -t UTF-8"
        )
    return best(data)


def _guess(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:_SAMPLE]).best()
    return best.encoding if best is not None else None


def is_syllable(word: str) -> bool:
    """Whether lower-case ``word`` is spelled as one Vietnamese syllable: onset, rhyme, at most one tone mark."""
    nfd = unicodedata.normalize("NFD", word)
    toneless = [ch for ch in nfd if ch not in _TONE_MARKS]
    if len(nfd) - len(toneless) > 1:
        return False
    return _SYLLABLE.fullmatch(unicodedata.normalize("NFC", "".join(toneless))) is not None


def vietnamese_score(text: str) -> float:
    """How Vietnamese ``text`` reads: 0 unless at least ``_MIN_VIETNAMESE`` of its words with diacritics are
    Vietnamese syllables, else that share plus the share of its words that are common Vietnamese words.
    A text without diacritics scores a neutral 0.5: less than any Vietnamese reading, more than a foreign one."""
    words = _WORD.findall(text.lower())
    marked = [w for w in words if not w.isascii()]
    if not marked:
        return 0.5
    valid = sum(map(is_syllable, marked)) / len(marked)
    if valid < _MIN_VIETNAMESE:
        return 0.0
    return valid + sum(w in _COMMON_WORDS for w in words) / len(words)
