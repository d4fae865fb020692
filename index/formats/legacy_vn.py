"""The two legacy Vietnamese font encodings of old government files, to Unicode and back.

- TCVN3 (ABC, TCVN 5712 VN3, the ``.VnTime`` fonts): one byte per letter. Only lower-case letters with tone
  marks have codes; upper case was written with the same codes in an upper-case font (``.VnTimeH``), which a
  text file does not record, so such capitals come back in lower case (the seven toneless capitals Ă Â Ê Ô Ơ Ư Đ
  have their own codes and come back as capitals).
- VNI (VNI-Windows, the ``VNI-Times`` fonts): a base letter followed by a mark byte ("a" + 0xF9 = "á",
  "a" + 0xE1 = "ấ"), with single bytes for đ, ơ, ư and the i's (0xF1 = "đ", 0xF4 = "ơ", 0xF3 = "ĩ").

Bytes that are not Vietnamese letters read as Windows-1252 (Latin-1 where 1252 has no character).
"""

from __future__ import annotations

import re
import unicodedata

# Windows-1252 for 0x80-0x9F (the five bytes it leaves undefined stay Latin-1 controls)
_CP1252_HIGH = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xA0)}

# TCVN3: byte -> letter, in rows of one vowel with its tones (grave, acute, hook, tilde, dot below)
_TCVN3 = {
    0xB5: "à", 0xB8: "á", 0xB6: "ả", 0xB7: "ã", 0xB9: "ạ",
    0xA8: "ă", 0xBB: "ằ", 0xBE: "ắ", 0xBC: "ẳ", 0xBD: "ẵ", 0xC6: "ặ",
    0xA9: "â", 0xC7: "ầ", 0xCA: "ấ", 0xC8: "ẩ", 0xC9: "ẫ", 0xCB: "ậ",
    0xCC: "è", 0xD0: "é", 0xCE: "ẻ", 0xCF: "ẽ", 0xD1: "ẹ",
    0xAA: "ê", 0xD2: "ề", 0xD5: "ế", 0xD3: "ể", 0xD4: "ễ", 0xD6: "ệ",
    0xD7: "ì", 0xDD: "í", 0xD8: "ỉ", 0xDC: "ĩ", 0xDE: "ị",
    0xDF: "ò", 0xE3: "ó", 0xE1: "ỏ", 0xE2: "õ", 0xE4: "ọ",
    0xAB: "ô", 0xE5: "ồ", 0xE8: "ố", 0xE6: "ổ", 0xE7: "ỗ", 0xE9: "ộ",
    0xAC: "ơ", 0xEA: "ờ", 0xED: "ớ", 0xEB: "ở", 0xEC: "ỡ", 0xEE: "ợ",
    0xEF: "ù", 0xF3: "ú", 0xF1: "ủ", 0xF2: "ũ", 0xF4: "ụ",
    0xAD: "ư", 0xF5: "ừ", 0xF8: "ứ", 0xF6: "ử", 0xF7: "ữ", 0xF9: "ự",
    0xFA: "ỳ", 0xFD: "ý", 0xFB: "ỷ", 0xFC: "ỹ", 0xFE: "ỵ",
    0xAE: "đ",
    0xA1: "Ă", 0xA2: "Â", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư", 0xA7: "Đ",
}
_TCVN3_DECODE = str.maketrans({chr(b): ch for b, ch in (_CP1252_HIGH | _TCVN3).items()})
_TCVN3_ENCODE = {ch: bytes([b]) for b, ch in _TCVN3.items()}

# VNI: the mark bytes (as Windows-1252 characters) and the combining marks they stand for
_GRAVE, _ACUTE, _HOOK, _TILDE, _DOT = "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"
_CIRCUMFLEX, _BREVE = "\u0302", "\u0306"
_VNI_TONES = {"ø": _GRAVE, "ù": _ACUTE, "û": _HOOK, "õ": _TILDE, "ï": _DOT}
_VNI_CIRCUMFLEX = {"â": "", "à": _GRAVE, "á": _ACUTE, "å": _HOOK, "ã": _TILDE, "ä": _DOT}  # after a, e, o
_VNI_BREVE = {"ê": "", "è": _GRAVE, "é": _ACUTE, "ú": _HOOK, "ü": _TILDE, "ë": _DOT}  # after a
_VNI_SINGLE = {"ô": "ơ", "ö": "ư", "ñ": "đ", "ì": "ì", "í": "í", "æ": "ỉ", "ó": "ĩ", "ò": "ị", "î": "ỵ"}


def _vni_table() -> dict[str, str]:
    """VNI spelling (Windows-1252 characters) -> Unicode letter, both cases; the canonical spelling of each
    letter comes first, so that inverting the table keeps it."""
    lower: dict[str, str] = dict(_VNI_SINGLE)
    for base in "aeouyi" + "ôö":
        vowel = _VNI_SINGLE.get(base, base)
        for mark, tone in _VNI_TONES.items():
            lower[base + mark] = unicodedata.normalize("NFC", vowel + tone)
    for base in "aeo":
        for mark, tone in _VNI_CIRCUMFLEX.items():
            lower[base + mark] = unicodedata.normalize("NFC", base + _CIRCUMFLEX + tone)
    for mark, tone in _VNI_BREVE.items():
        lower["a" + mark] = unicodedata.normalize("NFC", "a" + _BREVE + tone)
    table = {}
    for spelling, letter in lower.items():
        table[spelling] = letter
        table[spelling.upper()] = letter.upper()
    for spelling, letter in lower.items():  # a capital letter with a lower-case mark byte, and the reverse
        if len(spelling) == 2:
            table.setdefault(spelling[0].upper() + spelling[1], letter.upper())
            table.setdefault(spelling[0] + spelling[1].upper(), letter)
    return table


def _vni_spellings(table: dict[str, str]) -> dict[str, str]:
    """Unicode letter -> its canonical VNI spelling (the i's by their single bytes)."""
    spellings: dict[str, str] = {}
    for spelling, letter in table.items():
        if not (len(spelling) == 2 and spelling[0] in "iI"):
            spellings.setdefault(letter, spelling)
    return spellings


_VNI_DECODE = _vni_table()
_VNI_RE = re.compile("|".join(re.escape(s) for s in sorted(_VNI_DECODE, key=len, reverse=True)))
_VNI_ENCODE = _vni_spellings(_VNI_DECODE)
_CP1252_DECODE = str.maketrans({chr(b): ch for b, ch in _CP1252_HIGH.items()})
_CP1252_ENCODE = {ch: bytes([b]) for b, ch in _CP1252_HIGH.items()}


def decode_tcvn3(data: bytes) -> str:
    """TCVN3 (ABC) bytes as NFC text; capitals that the file wrote in an upper-case font come back lower case."""
    return data.decode("latin-1").translate(_TCVN3_DECODE)


def encode_tcvn3(text: str) -> bytes:
    """``text`` in TCVN3; ValueError for a character TCVN3 cannot write (a capital with a tone mark, say)."""
    nfc = unicodedata.normalize("NFC", text)
    return b"".join(_TCVN3_ENCODE.get(ch) or _symbol_byte(ch, "TCVN3", _TCVN3) for ch in nfc)


def decode_vni(data: bytes) -> str:
    """VNI-Windows bytes as NFC text."""
    text = data.decode("latin-1").translate(_CP1252_DECODE)
    return _VNI_RE.sub(lambda m: _VNI_DECODE[m.group()], text)


def encode_vni(text: str) -> bytes:
    """``text`` in VNI-Windows; ValueError for a character VNI cannot write."""
    nfc = unicodedata.normalize("NFC", text)
    return b"".join(_VNI_ENCODE[ch].encode("latin-1") if ch in _VNI_ENCODE else _symbol_byte(ch, "VNI", {})
                    for ch in nfc)


def _symbol_byte(ch: str, encoding: str, taken: dict[int, str]) -> bytes:
    """The byte of an ASCII, Windows-1252 or Latin-1 symbol character that ``encoding`` leaves as it is."""
    if ord(ch) < 0x80:
        return ch.encode("ascii")
    if ch in _CP1252_ENCODE:
        return _CP1252_ENCODE[ch]
    if 0xA0 <= ord(ch) <= 0xBF and ord(ch) not in taken:
        return ch.encode("latin-1")
    raise ValueError(f"{ch!r} cannot be written in {encoding}")
