"""PDF files as canonical text: the text layer rebuilt line by line, page furniture dropped, footnotes kept.

pdfium gives each character with its box. Lines are rebuilt from baselines, top to bottom and left to right;
small raised digits become superscript markers ("tăng 5%¹") and footnote numbers ("¹ Chủ yếu là ..."); running
headers, footers and page numbers are dropped; paragraphs follow vertical gaps and first-line indents; cells
far apart on one baseline become a table row ("a | b | c"). Pages without a text layer are read by Tesseract
when it is installed (``viqa.index.formats.ocr``). Every canonical character remembers the pdfium character it
came from, so that ``page_image`` highlights exactly the characters of a span of ``extract_pdf``'s text.

>>> pdf = Path("report.pdf").read_bytes()  # doctest: +SKIP
>>> extracted = extract_pdf(pdf, "report.pdf", max_pages=400)  # doctest: +SKIP
>>> start = extracted.text.index("440 triệu USD")  # doctest: +SKIP
>>> png = page_image(pdf, 2, [(start, start + len("440 triệu USD"))])  # page 2, the phrase in yellow  # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import logging
import math
import re
import threading
import unicodedata
from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from viqa.errors import InputError
from viqa.index.formats import Extracted, ocr

log = logging.getLogger(__name__)

SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_TO_SUPERSCRIPT = str.maketrans("0123456789", SUPERSCRIPT_DIGITS)
_SOFT_HYPHEN = "\u00ad"
_HYPHENS = "-\u2010\u2011"
_PAGE_NUMBER = re.compile(r"^[\s\-–—.]*(?:(?:trang|page)\s*)?\d{1,4}(?:\s*(?:/|of|trên)\s*\d{1,4})?[\s\-–—.]*$",
                          re.IGNORECASE)
_PLACEHOLDER_TITLE = re.compile(r"^(?:untitled(?: document)?|\(anonymous\)|microsoft \w+ - .*)$", re.IGNORECASE)
_PARAGRAPH_BREAK = "\n\n"
_CELL = " | "

# Layout thresholds, as fractions of the font size (in points) of the characters compared.
_SMALL = 0.85  # a character at most this size of its neighbour's is small
_RAISED = (0.15, 0.75)  # a small character whose baseline is this far above its neighbour's is raised
_SAME_LINE = 0.3  # baselines closer than this share a line
_WORD_GAP = 0.15  # a gap wider than this, with no space character in it, is a space
_CELL_GAP = 2.0  # a gap wider than this with no space character in it separates table cells
_CELL_GAP_SPACED = 6.0  # ... and wider than this even with spaces in it
_PARAGRAPH_GAP = 1.3  # a baseline distance over this many usual line spacings starts a paragraph
_INDENT = 0.8  # a line this much right of a line at the left margin starts a paragraph
_FOOTNOTE_SIZE = 0.95  # footnotes are set smaller than this many body font sizes (8 or 9 pt under 10 pt, ...)
_FURNITURE_LINES = 3  # how many lines at the top and at the bottom of a page may be running headers/footers

OCR_DPI = 300
_MAX_OCR_PIXELS = 60_000_000
_HIGHLIGHT = (255, 221, 0)
_HIGHLIGHT_ALPHA = 0.4
_CACHE_SIZE = 4

PDFIUM_LOCK = threading.RLock()
"""Held around every pdfium call here: pdfium is not thread-safe, not even across documents. Code elsewhere in
viqa that calls pdfium while the service may be extracting should hold it too."""


# --- characters and lines ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Char:
    """One pdfium character: its index on the page, its advance box (x0, x1), baseline and size in points."""

    index: int
    ch: str
    x0: float
    x1: float
    y: float
    size: float
    bold: bool
    raised: bool = False
    base: float = 0.0  # the baseline of its line: its own, or its neighbour's when it is raised
    base_size: float = 0.0  # the font size of its line

    @property
    def blank(self) -> bool:
        return self.ch.isspace()


@dataclass(slots=True)
class _Line:
    """Characters on one baseline, left to right, with the text they read as and each character's source."""

    chars: list[_Char]
    y: float
    size: float
    text: str
    src: list[int]
    row: bool  # cells far apart: a table row

    @property
    def x0(self) -> float:
        return next(c.x0 for c in self.chars if not c.blank)

    @property
    def bold(self) -> bool:
        return all(c.bold for c in self.chars if not c.blank and not c.raised)

    @property
    def footnote_start(self) -> bool:
        """Starts with a footnote number: raised digits, or superscript digit characters."""
        return bool(self.text) and self.text[0] in SUPERSCRIPT_DIGITS


def _is_bold(textpage: pdfium_c.FPDF_TEXTPAGE, index: int) -> bool:
    """Whether the font of character ``index`` is bold: its weight, else its name or ForceBold flag."""
    weight = pdfium_c.FPDFText_GetFontWeight(textpage, index)
    if weight > 0:
        return weight >= 600
    buffer = ctypes.create_string_buffer(256)
    flags = ctypes.c_int()
    pdfium_c.FPDFText_GetFontInfo(textpage, index, buffer, len(buffer), ctypes.byref(flags))
    return b"bold" in buffer.value.lower() or bool(flags.value & (1 << 18))  # ForceBold


def _read_chars(textpage: pdfium.PdfTextPage) -> list[_Char]:
    """The page's drawn characters in content order; pdfium's generated spaces and line breaks left out."""
    handle, f = textpage.raw, pdfium_c
    chars = []
    x, y = ctypes.c_double(), ctypes.c_double()
    box, matrix = f.FS_RECTF(), f.FS_MATRIX()
    px, py, pbox = ctypes.byref(x), ctypes.byref(y), ctypes.byref(box)
    count = f.FPDFText_CountChars(handle)
    last_object, size, bold = None, 0.0, False
    i = 0
    while i < count:
        index, code = i, f.FPDFText_GetUnicode(handle, i)
        i += 1
        if 0xD800 <= code < 0xDC00 and i < count:  # a surrogate pair: one character
            low = f.FPDFText_GetUnicode(handle, i)
            if 0xDC00 <= low < 0xE000:
                code, i = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00), i + 1
        if code < 0x20 and code != 0x02 or 0xD800 <= code < 0xE000 or code in (0x7F, 0xFFFE, 0xFFFF):
            continue  # line breaks, controls, lone surrogates, non-characters
        if code == 0x20 and f.FPDFText_IsGenerated(handle, index) == 1:
            continue  # a space pdfium guessed from a gap: gaps are measured here
        ch = "-" if code == 0x02 else chr(code)  # 0x02: a drawn "-" pdfium takes to end a line inside a word
        f.FPDFText_GetCharOrigin(handle, index, px, py)
        f.FPDFText_GetLooseCharBox(handle, index, pbox)
        text_object = ctypes.cast(f.FPDFText_GetTextObject(handle, index), ctypes.c_void_p).value
        if text_object is None or text_object != last_object:  # one font, size and matrix per text object
            last_object = text_object
            f.FPDFText_GetMatrix(handle, index, ctypes.byref(matrix))
            scale = math.sqrt(abs(matrix.a * matrix.d - matrix.b * matrix.c)) or 1.0
            size = f.FPDFText_GetFontSize(handle, index) * scale or abs(box.top - box.bottom)
            bold = _is_bold(handle, index)
        chars.append(_Char(index, ch, min(box.left, box.right), max(box.left, box.right), y.value, size, bold,
                           base=y.value, base_size=size))
    return chars


def _raised_above(run: list[_Char], anchor: _Char, before: bool) -> bool:
    """``run`` sits raised next to ``anchor``: close to it, its baseline above ``anchor``'s by a superscript's rise."""
    gap = run[0].x0 - anchor.x1 if before else anchor.x0 - run[-1].x1
    low, high = _RAISED[0] * anchor.size, _RAISED[1] * anchor.size
    return abs(gap) < 2 * anchor.size and all(low <= c.y - anchor.y <= high for c in run)


def _mark_raised(chars: list[_Char]) -> None:
    """Flag runs of small characters set above a larger neighbour's baseline (superscripts); give them its line."""
    visible = [c for c in chars if not c.blank]
    start = 0
    for end in range(1, len(visible) + 1):
        if end < len(visible) and abs(visible[end].size - visible[start].size) <= 0.05 * visible[start].size:
            continue
        run = visible[start:end]
        neighbours = ((visible[start - 1] if start else None, True), (visible[end] if end < len(visible) else None,
                                                                       False))
        for anchor, before in neighbours:
            if anchor is not None and run[0].size <= _SMALL * anchor.size and _raised_above(run, anchor, before):
                for c in run:
                    c.raised, c.base, c.base_size = True, anchor.y, anchor.size
                break
        start = end


def _line_text(chars: list[_Char]) -> tuple[str, list[int], bool]:
    """The text of a line's characters (left to right): spaces where gaps are, " | " between far cells,
    raised digits as superscript digits; with each character's pdfium index (-1: inserted) and whether it is a
    table row."""
    out: list[str] = []
    src: list[int] = []
    row, spaced, prev = False, False, None
    for c in chars:
        if c.blank:
            if out and out[-1] != " ":
                out.append(" ")
                src.append(c.index)
            spaced = True
            continue
        if prev is not None:
            size = max(prev.base_size, c.base_size)
            if c.ch == prev.ch and abs(c.x0 - prev.x0) < 0.05 * size:
                continue  # the same character drawn twice (fake bold, shadow)
            gap = c.x0 - prev.x1
            if gap > (_CELL_GAP_SPACED if spaced else _CELL_GAP) * size:
                while out and out[-1] == " ":
                    out.pop()
                    src.pop()
                out += _CELL
                src += [-1] * len(_CELL)
                row = True
            elif not spaced and gap > _WORD_GAP * size:
                out.append(" ")
                src.append(-1)
        out.append(c.ch.translate(_TO_SUPERSCRIPT) if c.raised else c.ch)
        src.append(c.index)
        prev, spaced = c, False
    while out and out[-1] == " ":
        out.pop()
        src.pop()
    return "".join(out), src, row


def _make_line(chars: list[_Char]) -> _Line:
    chars.sort(key=lambda c: c.x0)
    plain = [c for c in chars if not c.blank and not c.raised] or [c for c in chars if not c.blank]
    sizes = sorted(c.size for c in plain)
    text, src, row = _line_text(chars)
    return _Line(chars, sorted(c.base for c in plain)[len(plain) // 2], sizes[len(sizes) // 2], text, src, row)


def _lines(chars: list[_Char]) -> list[_Line]:
    """Characters grouped by baseline into lines, top to bottom."""
    groups: list[list[_Char]] = []
    top = top_size = 0.0
    for c in sorted(chars, key=lambda c: (-c.base, c.x0)):
        if not groups or top - c.base > _SAME_LINE * max(top_size, c.base_size):
            groups.append([c])
            top, top_size = c.base, c.base_size
        else:
            groups[-1].append(c)
    return [_make_line(group) for group in groups if any(not c.blank for c in group)]


# --- the document: furniture, sizes, paragraphs ------------------------------------------------------------


def _furniture_key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.split()).casefold())


def _drop_furniture(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Pages without their running headers and footers and their page-number lines. A header or footer is a line,
    digits masked, repeated near the top (or bottom) of most pages, or repeated as the very first (or last) line
    of at least three pages (a chapter's running head)."""
    with_text = [lines for lines in pages if lines]
    need = max(2, math.ceil(0.5 * len(with_text)))
    need_at_edge = min(3, need)
    near: dict[str, Counter[str]] = {"top": Counter(), "bottom": Counter()}
    edge: dict[str, Counter[str]] = {"top": Counter(), "bottom": Counter()}
    for lines in with_text:
        near["top"].update({_furniture_key(line.text) for line in lines[:_FURNITURE_LINES]})
        near["bottom"].update({_furniture_key(line.text) for line in lines[-_FURNITURE_LINES:]})
        edge["top"][_furniture_key(lines[0].text)] += 1
        edge["bottom"][_furniture_key(lines[-1].text)] += 1
    kept = []
    for lines in pages:
        n = len(lines)
        keep = []
        for i, line in enumerate(lines):
            key = _furniture_key(line.text)
            ends = [side for side, close in (("top", i < _FURNITURE_LINES), ("bottom", i >= n - _FURNITURE_LINES))
                    if close]
            repeated = any(near[side][key] >= need for side in ends) or (
                (i == 0 and edge["top"][key] >= need_at_edge) or (i == n - 1 and edge["bottom"][key] >= need_at_edge))
            number = (i < 2 or i >= n - 2) and _PAGE_NUMBER.match(line.text)
            if not (repeated or number):
                keep.append(line)
        kept.append(keep)
    return kept


@dataclass(frozen=True)
class _Metrics:
    body_size: float  # the most common font size
    leading: float  # the usual distance between baselines of body lines


def _metrics(pages: list[list[_Line]]) -> _Metrics:
    sizes = Counter(round(c.size * 2) / 2 for lines in pages for line in lines for c in line.chars
                    if not c.blank and not c.raised)
    body = sizes.most_common(1)[0][0] if sizes else 10.0
    deltas = sorted(a.y - b.y for lines in pages for a, b in zip(lines, lines[1:], strict=False)
                    if abs(a.size - body) < 0.1 * body and abs(b.size - body) < 0.1 * body
                    and 0.9 * body < a.y - b.y < 2.5 * body)
    return _Metrics(body, deltas[len(deltas) // 4] if deltas else 1.2 * body)


def _split_footnotes(lines: list[_Line], metrics: _Metrics) -> tuple[list[_Line], list[_Line]]:
    """(body, footnotes): footnotes are the page's last lines, set smaller, from the first that starts with a
    footnote number."""
    start = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].size >= _FOOTNOTE_SIZE * metrics.body_size:
            break
        if lines[i].footnote_start:
            start = i
    return lines[:start], lines[start:]


def _starts_paragraph(prev: _Line, line: _Line, metrics: _Metrics, left: float) -> bool:
    """A new paragraph: a table row, another font size, a gap wider than the line spacing, or an indent."""
    if prev.row or line.row:
        return True
    size = max(prev.size, line.size)
    if abs(prev.size - line.size) > 0.15 * size:
        return True
    if prev.y - line.y > _PARAGRAPH_GAP * metrics.leading * size / metrics.body_size:
        return True
    return line.x0 - prev.x0 > _INDENT * line.size and abs(prev.x0 - left) < 0.5 * line.size


def _body_paragraphs(lines: list[_Line], metrics: _Metrics) -> list[list[_Line]]:
    paragraphs: list[list[_Line]] = []
    left = min((line.x0 for line in lines), default=0.0)
    for n, line in enumerate(lines):
        if n == 0 or _starts_paragraph(lines[n - 1], line, metrics, left):
            paragraphs.append([line])
        else:
            paragraphs[-1].append(line)
    return paragraphs


def _footnote_paragraphs(lines: list[_Line]) -> list[list[_Line]]:
    paragraphs: list[list[_Line]] = []
    for line in lines:
        if line.footnote_start or not paragraphs:
            paragraphs.append([line])
        else:
            paragraphs[-1].append(line)
    return paragraphs


# --- text with its sources ---------------------------------------------------------------------------------

Piece = tuple[list[str], list[int]]  # characters and, for each, its pdfium char index (-1: inserted)


def _word_is_split(before: list[str], after: list[str]) -> bool:
    """A hyphen between two fragments of one word: both Latin without diacritics ("infra-" "structure").
    A Vietnamese syllable is never split, so "kinh tế-" "xã hội" keeps its hyphen."""

    def letter(ch: str) -> bool:
        return ch.isalpha() or unicodedata.combining(ch) > 0

    k = len(before) - 1
    while k > 0 and letter(before[k - 1]):
        k -= 1
    j = 0
    while j < len(after) and letter(after[j]):
        j += 1
    return "".join(before[k:-1]).isascii() and "".join(after[:j]).isascii()


def _join_lines(pieces: list[Piece]) -> Piece:
    """Lines of one paragraph joined by spaces; a line-end soft hyphen, or a hyphen splitting a word, is dropped
    and the halves joined; a line-end hyphen after a word otherwise stays, with no space."""
    chars: list[str] = []
    src: list[int] = []
    for text, sources in pieces:
        if not text:
            continue
        if chars:
            last = chars[-1]
            if last == _SOFT_HYPHEN:
                chars.pop()
                src.pop()
            elif last in _HYPHENS and len(chars) > 1 and chars[-2].isalnum():
                if text[0].islower() and _word_is_split(chars, text):
                    chars.pop()
                    src.pop()
            else:
                chars.append(" ")
                src.append(-1)
        chars += text
        src += sources
    keep = [i for i, ch in enumerate(chars) if ch != _SOFT_HYPHEN]
    if len(keep) < len(chars):
        chars, src = [chars[i] for i in keep], [src[i] for i in keep]
    return chars, src


def _number_then_space(text: list[str], src: list[int]) -> Piece:
    """A footnote's first line as "¹ text": its number, one space, its text."""
    i = 0
    while i < len(text) and text[i] in SUPERSCRIPT_DIGITS:
        i += 1
    j = i
    while j < len(text) and text[j] == " ":
        j += 1
    if i == 0:
        return text, src
    return text[:i] + [" "] + text[j:], src[:i] + [src[i] if j > i else -1] + src[j:]


def _paragraph_text(lines: list[_Line], footnote: bool) -> Piece:
    pieces = [(list(line.text), list(line.src)) for line in lines]
    if footnote:
        pieces[0] = _number_then_space(*pieces[0])
    chars, src = _join_lines(pieces)
    if chars and not footnote and all(line.bold and not line.row for line in lines):
        chars, src = ["*", "*", *chars, "*", "*"], [-1, -1, *src, -1, -1]
    return chars, src


def _join_paragraphs(paragraphs: list[Piece]) -> Piece:
    chars: list[str] = []
    src: list[int] = []
    for text, sources in paragraphs:
        if not text:
            continue
        if chars:
            chars += _PARAGRAPH_BREAK
            src += [-1] * len(_PARAGRAPH_BREAK)
        chars += text
        src += sources
    return chars, src


def _page_text(lines: list[_Line], metrics: _Metrics) -> Piece:
    """A page's body paragraphs, then its footnotes, separated by blank lines."""
    body, notes = _split_footnotes(lines, metrics)
    paragraphs = [_paragraph_text(p, False) for p in _body_paragraphs(body, metrics)]
    paragraphs += [_paragraph_text(p, True) for p in _footnote_paragraphs(notes)]
    return _join_paragraphs(paragraphs)


def _ocr_text(raw: str) -> Piece:
    """Tesseract's output in canonical form: its blank-line paragraphs, their lines joined (nothing to map)."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", raw.replace("\f", "\n")):
        lines = [" ".join(line.split()) for line in block.splitlines() if line.strip()]
        paragraphs.append(_join_lines([(list(line), [-1] * len(line)) for line in lines]))
    return _join_paragraphs(paragraphs)


def _nfc(chars: list[str], src: list[int]) -> Piece:
    """NFC text, each composed character mapped to the source of the first character it was made of."""
    if unicodedata.is_normalized("NFC", "".join(chars)):
        return chars, src
    out: list[str] = []
    out_src: list[int] = []
    i = 0
    while i < len(chars):
        j = i + 1
        while j < len(chars) and unicodedata.combining(chars[j]):
            j += 1
        composed = unicodedata.normalize("NFC", "".join(chars[i:j]))
        out += composed
        out_src += [src[i]] * len(composed)
        i = j
    return out, out_src


# --- extraction --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """The canonical text of a PDF with, for every character, its 0-based page and pdfium char index."""

    text: str
    pages: tuple[int, ...]
    page_of: array
    char_of: array  # -1: a character extraction inserted (a space, a separator, OCR text)
    title: str | None
    unread: int  # pages that have no text layer and were not read by OCR (Tesseract is missing)


def _open(data: bytes, name: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if getattr(error, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise InputError(f"{name}: the PDF is password-protected; save a copy without the password and add "
                             "that") from None
        raise InputError(f"{name}: not a readable PDF (damaged or cut short?)") from None


def _check_page_count(count: int, name: str, max_pages: int | None) -> None:
    if max_pages is not None and count > max_pages:
        raise InputError(f"{name}: {count} pages is over the {max_pages}-page limit (VIQA_MAX_PAGES)")


def _title(document: pdfium.PdfDocument) -> str | None:
    """The Title in the PDF's metadata; None when there is none or it is a placeholder ("untitled")."""
    title = " ".join((document.get_metadata_value("Title") or "").split())
    return None if not title or _PLACEHOLDER_TITLE.match(title) else title


def _ocr_image(document: pdfium.PdfDocument, index: int) -> bytes:
    """Page ``index`` rendered for OCR: grey, about 300 dpi (less for a huge page), as PNG."""
    with PDFIUM_LOCK:
        page = document[index]
        width, height = page.get_size()
        scale = min(OCR_DPI / 72, math.sqrt(_MAX_OCR_PIXELS / max(width * height, 1.0)))
        bitmap = page.render(scale=scale, grayscale=True)
        image = bitmap.to_pil().copy()  # its own pixels: the bitmap is freed here, under the lock
        bitmap.close()
        page.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _has_image(page: pdfium.PdfPage) -> bool:
    return next(iter(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3)), None) is not None


def _read_pages(document: pdfium.PdfDocument, name: str) -> tuple[list[list[_Line]], list[bool]]:
    """Every page's lines, and for each page whether a scan may hide its text: it has an image and few lines
    (a scanner's footer), or it draws something but has no text at all (text turned into outlines)."""
    page_lines: list[list[_Line]] = []
    scanned: list[bool] = []
    for i in range(len(document)):
        with PDFIUM_LOCK:
            try:
                page = document[i]
                textpage = page.get_textpage()
            except pdfium.PdfiumError:
                raise InputError(f"{name}: page {i + 1} cannot be read (damaged PDF?)") from None
            chars = _read_chars(textpage)
            textpage.close()
            few = len(chars) < 400  # a scanner's footer at most; only then is a page worth a look for images
            scanned.append(few and (_has_image(page) or (not chars and pdfium_c.FPDFPage_CountObjects(page) > 0)))
            page.close()
        _mark_raised(chars)
        page_lines.append(_lines(chars))
    return page_lines, scanned


def _extract(data: bytes, name: str, ocr_language: str | None, max_pages: int | None) -> _Layout:
    """Read every page (OCR for textless ones when ``ocr_language`` is given) into a ``_Layout``."""
    with PDFIUM_LOCK:
        document = _open(data, name)
    try:
        with PDFIUM_LOCK:
            _check_page_count(len(document), name, max_pages)
            title = _title(document)
        page_lines, scanned = _read_pages(document, name)
        page_lines = _drop_furniture(page_lines)
        textless = [i for i, lines in enumerate(page_lines) if not lines and scanned[i]]
        metrics = _metrics(page_lines)
        texts = [_page_text(lines, metrics) for lines in page_lines]
        for i in textless if ocr_language is not None else ():
            try:
                texts[i] = _ocr_text(ocr.ocr_image(_ocr_image(document, i), ocr_language))
            except ocr.OcrError as error:
                raise InputError(f"{name}: page {i + 1} has no text layer and OCR failed on it: {error}") from None
    finally:
        with PDFIUM_LOCK:
            document.close()
    return _assemble([_nfc(*piece) for piece in texts], title, 0 if ocr_language is not None else len(textless))


def _assemble(texts: list[Piece], title: str | None, unread: int) -> _Layout:
    """Pages joined by blank lines; ``pages[i]`` where page i + 1's text starts (the end so far if it is empty)."""
    parts: list[str] = []
    pages: list[int] = []
    page_of, char_of = array("i"), array("i")
    length = 0
    for number, (chars, src) in enumerate(texts):
        if chars and length:
            parts.append(_PARAGRAPH_BREAK)
            page_of.extend([number] * len(_PARAGRAPH_BREAK))
            char_of.extend([-1] * len(_PARAGRAPH_BREAK))
            length += len(_PARAGRAPH_BREAK)
        pages.append(length)
        parts.append("".join(chars))
        page_of.extend([number] * len(chars))
        char_of.extend(src)
        length += len(chars)
    return _Layout("".join(parts), tuple(pages), page_of, char_of, title, unread)


_cache: OrderedDict[tuple[bytes, str | None], _Layout] = OrderedDict()
_cache_lock = threading.Lock()


def _layout(data: bytes, name: str, ocr_language: str, max_pages: int | None) -> _Layout:
    """``_extract`` of ``data``, remembered for the last few PDFs (``page_image`` follows ``extract_pdf``)."""
    language = ocr_language if ocr.ocr_available(ocr_language) else None
    key = (hashlib.sha256(data).digest(), language)
    with _cache_lock:
        layout = _cache.get(key)
        if layout is not None:
            _cache.move_to_end(key)
    if layout is not None:
        _check_page_count(len(layout.pages), name, max_pages)
        return layout
    layout = _extract(data, name, language, max_pages)
    with _cache_lock:
        _cache[key] = layout
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return layout


def extract_pdf(data: bytes, name: str, *, max_pages: int, ocr_language: str = "vie") -> Extracted:
    """The PDF's text in viqa's canonical form (see ``viqa.index.formats``), one ``pages`` entry per page.

    InputError, in one line naming ``name``: a damaged or password-protected PDF, more than ``max_pages``
    pages, or no text layer at all while Tesseract with ``ocr_language`` is not installed.
    """
    layout = _layout(data, name, ocr_language, max_pages)
    if layout.unread:
        model = "Vietnamese" if ocr_language == "vie" else f"'{ocr_language}'"
        install = f"apt-get install tesseract-ocr tesseract-ocr-{ocr_language.split('+')[0]}"
        if not layout.text.strip():
            raise InputError(f"{name}: has no text layer (a scan?); install Tesseract's {model} model to read it: "
                             f"{install}")
        log.warning("%s: %d page(s) have no text layer and were left out; to read them: %s", name, layout.unread,
                    install)
    if not layout.text.strip():
        raise InputError(f"{name}: the PDF has no text (its pages are empty)")
    return Extracted(text=layout.text, title=layout.title, pages=layout.pages, format="pdf")


def _span_boxes(layout: _Layout, page: pdfium.PdfPage, index: int, spans: list[tuple[int, int]],
                size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (left, top, right, bottom) of the characters of ``spans`` that lie on page ``index``."""
    textpage = page.get_textpage()
    first = layout.pages[index]
    last = layout.pages[index + 1] if index + 1 < len(layout.pages) else len(layout.text)
    box = pdfium_c.FS_RECTF()
    dx, dy = ctypes.c_int(), ctypes.c_int()
    boxes = []
    for start, end in spans:
        for k in range(max(start, first), min(end, last)):
            char = layout.char_of[k]
            if char < 0 or layout.page_of[k] != index:
                continue
            pdfium_c.FPDFText_GetLooseCharBox(textpage, char, ctypes.byref(box))
            corners = []
            for x, y in ((box.left, box.top), (box.right, box.bottom)):
                pdfium_c.FPDF_PageToDevice(page, 0, 0, size[0], size[1], 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
                corners.append((dx.value, dy.value))
            (x0, y0), (x1, y1) = corners
            boxes.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    textpage.close()
    return boxes


def page_image(data: bytes, page: int, spans: list[tuple[int, int]], *, width: int = 1000,
               ocr_language: str = "vie") -> bytes:
    """A PNG of 1-based ``page``, ``width`` pixels wide, with the characters of ``extract_pdf(data, ...).text
    [start:end]`` of each span under semi-transparent yellow. InputError for a page out of range."""
    from PIL import Image, ImageDraw

    if not 50 <= width <= 5000:
        raise InputError(f"width {width} is out of range (50 to 5000 pixels)")
    layout = _layout(data, "the PDF", ocr_language, None)
    if not 1 <= page <= len(layout.pages):
        raise InputError(f"page {page} is out of range: the PDF has {len(layout.pages)} page(s)")
    with PDFIUM_LOCK:
        document = _open(data, "the PDF")
        try:
            pdf_page = document[page - 1]
            bitmap = pdf_page.render(scale=width / pdf_page.get_width())
            image = bitmap.to_pil().convert("RGB")
            bitmap.close()
            boxes = _span_boxes(layout, pdf_page, page - 1, spans, image.size)
        finally:
            document.close()
    if boxes:
        mask = Image.new("L", image.size, 0)
        draw = ImageDraw.Draw(mask)
        for box in boxes:
            draw.rectangle(box, fill=round(255 * _HIGHLIGHT_ALPHA))
        image = Image.composite(Image.new("RGB", image.size, _HIGHLIGHT), image, mask)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
