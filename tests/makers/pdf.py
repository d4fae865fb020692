"""PDFs made for tests with reportlab: the bundled report laid out as a real report, and small odd cases.

``report_pdf`` reads a txt in the repo's conventions (``**…**`` title lines, headings, body paragraphs, footnote
paragraphs "¹ …") and prints it on A4 the way the txt was cut from its PDF: each footnote group ends a page and
sits at that page's foot, a body paragraph that the txt cuts mid-sentence is cut by the page break, markers are
small raised digits, and every page has a running header and a page number.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"
SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_TO_ASCII = str.maketrans(SUPERSCRIPTS, "0123456789")
_FOOTNOTE = re.compile(f"^([{SUPERSCRIPTS}]+)\\s*")
_MARKER = re.compile(f"[{SUPERSCRIPTS}]+")
_UNIT = re.compile(r"(?:\b|\d)[kcdm]?m$")  # m², km³: an exponent, drawn as the character itself
_SENTENCE_END = tuple('.!?…:;"”)»')

WIDTH, HEIGHT = A4
LEFT, RIGHT, TOP, BOTTOM = 70.0, 56.0, 72.0, 56.0
BODY_SIZE, BODY_LEADING, PARA_GAP, INDENT = 10.0, 13.0, 6.0, 28.0
TITLE_SIZE, TITLE_LEADING = 11.0, 14.5
NOTE_SIZE, NOTE_LEADING = 8.0, 10.0
MARK_SIZE, MARK_RISE = 6.5, 3.5  # a marker in the body
NOTE_MARK_SIZE, NOTE_MARK_RISE = 5.5, 3.0  # the number that starts a footnote
NOTE_RULE_GAP = 10.0


def register_fonts() -> None:
    """DejaVu Sans (regular and bold) as reportlab TTFonts, once."""
    if REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(REGULAR, str(FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))


# --- the txt as paragraphs and pages ------------------------------------------------------------------------


@dataclass
class _Paragraph:
    kind: str  # "title", "body" or "footnote"
    lines: list[str]  # the txt's lines, markup (** and the footnote number) removed
    number: str = ""  # a footnote's number, ASCII digits


@dataclass
class _Segment:
    """What the txt puts on one printed page (more if it overflows): body paragraphs, then footnotes."""

    body: list[_Paragraph] = field(default_factory=list)
    footnotes: list[_Paragraph] = field(default_factory=list)
    continues: bool = False  # the first body paragraph continues the previous page's last one


def _txt_paragraphs(text: str) -> list[_Paragraph]:
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if m := _FOOTNOTE.match(lines[0]):
            lines[0] = lines[0][m.end() :]
            paragraphs.append(_Paragraph("footnote", lines, m.group(1).translate(_TO_ASCII)))
        elif lines[0].startswith("**"):
            lines[0], lines[-1] = lines[0][2:], lines[-1].removesuffix("**")
            paragraphs.append(_Paragraph("title", lines))
        else:
            paragraphs.append(_Paragraph("body", lines))
    return paragraphs


def _cut(paragraph: _Paragraph, following: _Paragraph | None) -> bool:
    """A body paragraph the txt cut at a page break: no sentence end, and the next one starts lower case."""
    return (paragraph.kind == "body" and following is not None and following.kind == "body"
            and not paragraph.lines[-1].endswith(_SENTENCE_END) and following.lines[0][:1].islower())


def _segments(paragraphs: list[_Paragraph]) -> list[_Segment]:
    segments, current = [], _Segment()
    for i, paragraph in enumerate(paragraphs):
        if paragraph.kind == "footnote":
            current.footnotes.append(paragraph)
            following = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
            if following is None or following.kind != "footnote":
                last = current.body[-1] if current.body else None
                segments.append(current)
                current = _Segment(continues=bool(last and last.kind == "body" and following
                                                  and following.kind == "body"
                                                  and not last.lines[-1].endswith(_SENTENCE_END)))
            continue
        current.body.append(paragraph)
        if _cut(paragraph, paragraphs[i + 1] if i + 1 < len(paragraphs) else None):
            segments.append(current)
            current = _Segment(continues=True)
    if current.body or current.footnotes:
        segments.append(current)
    return segments


# --- words, lines and their widths --------------------------------------------------------------------------

Run = tuple[str, str]  # (text, style): style "text", "bold", "mark" (a raised marker) or "note" (a footnote's)
_STYLE = {"text": (REGULAR, BODY_SIZE, 0.0), "bold": (BOLD, TITLE_SIZE, 0.0), "mark": (REGULAR, MARK_SIZE, MARK_RISE),
          "small": (REGULAR, NOTE_SIZE, 0.0), "smallmark": (REGULAR, NOTE_MARK_SIZE, NOTE_MARK_RISE)}


def _runs(word: str, plain: str, mark: str) -> list[Run]:
    """A word as runs, its footnote markers (superscript digits, not unit exponents) as raised ASCII digits."""
    runs, cursor = [], 0
    for m in _MARKER.finditer(word):
        if m.group() in "²³" and _UNIT.search(word[: m.start()]):
            continue
        if m.start() > cursor:
            runs.append((word[cursor : m.start()], plain))
        runs.append((m.group().translate(_TO_ASCII), mark))
        cursor = m.end()
    if cursor < len(word):
        runs.append((word[cursor:], plain))
    return runs


def _width(runs: list[Run]) -> float:
    return sum(pdfmetrics.stringWidth(text, _STYLE[style][0], _STYLE[style][1]) for text, style in runs)


@dataclass
class _Line:
    words: list[list[Run]]
    style: str  # the style of its words' plain text
    x: float  # left edge
    width: float  # the width it is set in (for justification)
    justify: bool = False
    center: bool = False
    lead: list[Run] = field(default_factory=list)  # drawn before the words: a footnote's number

    def text(self) -> str:
        return " ".join("".join(t for t, _ in w) for w in self.words)


def _wrap(text: str, style: str, width: float, *, indent: float = 0.0, mark: str = "mark",
          lead: list[Run] | None = None) -> list[_Line]:
    """``text`` broken into lines of at most ``width`` (the first indented), words kept whole."""
    font, size, _ = _STYLE[style]
    space = pdfmetrics.stringWidth(" ", font, size)
    lead_width = _width(lead) + 2.0 if lead else 0.0
    lines: list[_Line] = []
    current: list[list[Run]] = []
    used = 0.0
    for word in text.split():
        runs = _runs(word, style, mark)
        w = _width(runs)
        offset = indent + lead_width if not lines else 0.0
        if current and offset + used + space + w > width:
            lines.append(_Line(current, style, LEFT + offset, width - offset, justify=True,
                               lead=(lead or []) if not lines else []))
            current, used = [], 0.0
        used += (space if current else 0.0) + w
        current.append(runs)
    offset = indent + lead_width if not lines else 0.0
    lines.append(_Line(current, style, LEFT + offset, width - offset, lead=(lead or []) if not lines else []))
    return lines


# --- pages --------------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """One body line in the flow, with the paragraph it belongs to."""

    line: _Line
    height: float
    gap: float  # space above it when it starts a paragraph that is not at the top of a page
    first: bool  # starts a paragraph


def _body_entries(segment: _Segment) -> list[_Entry]:
    width = WIDTH - LEFT - RIGHT
    entries = []
    for n, paragraph in enumerate(segment.body):
        continuation = n == 0 and segment.continues
        if paragraph.kind == "title":
            lines = [line for txt in paragraph.lines for line in _wrap(txt, "bold", width)]
            for line in lines:
                line.center = True
            leading = TITLE_LEADING
        else:
            lines = []
            for k, txt in enumerate(paragraph.lines):
                indent = INDENT if k == 0 and not continuation else 0.0
                lines += _wrap(txt, "text", width, indent=indent)
            leading = BODY_LEADING
        for k, line in enumerate(lines):
            first = k == 0 and not continuation
            entries.append(_Entry(line, leading, PARA_GAP if first else 0.0, first))
    return entries


def _footnote_lines(segment: _Segment) -> list[_Line]:
    width = WIDTH - LEFT - RIGHT
    lines = []
    for note in segment.footnotes:
        lead = [(note.number, "smallmark")]
        lines += _wrap(" ".join(note.lines), "small", width, mark="smallmark", lead=lead)
    return lines


def _breakable(before: _Entry, after: _Entry) -> bool:
    """A page may fall between two lines: a new paragraph, or a sentence cut where the txt join rule rejoins it."""
    if after.first:
        return True
    return not before.line.text().endswith(_SENTENCE_END) and after.line.text()[:1].islower()


def _height(entries: list[_Entry]) -> float:
    return sum(e.height + (e.gap if i else 0.0) for i, e in enumerate(entries))


def _split_at(entries: list[_Entry], fits) -> int:
    """The largest n such that ``entries[:n]`` fits and a page may fall after it; len(entries) - 1 if none."""
    for n in range(len(entries) - 1, 0, -1):
        if fits(entries[:n]) and _breakable(entries[n - 1], entries[n]):
            return n
    return max(1, len(entries) - 1)


def _paginate(entries: list[_Entry], footnote_height: float) -> list[list[_Entry]]:
    """Body lines spread over pages, page breaks only where they are breakable; the last page keeps room for the
    footnotes."""
    capacity = HEIGHT - TOP - BOTTOM
    pages, current = [], []
    for entry in entries:
        current.append(entry)
        if _height(current) > capacity and len(current) > 1:
            n = _split_at(current, lambda part: _height(part) <= capacity)
            pages.append(current[:n])
            current = current[n:]
    if current and _height(current) + footnote_height > capacity:
        n = _split_at(current, lambda part: _height(part) + footnote_height <= capacity)
        pages.append(current[:n])
        current = current[n:]
    pages.append(current)
    return pages


def _draw_runs(c: canvas.Canvas, x: float, y: float, runs: list[Run]) -> float:
    for text, style in runs:
        font, size, rise = _STYLE[style]
        c.setFont(font, size)
        c.drawString(x, y + rise, text)
        x += pdfmetrics.stringWidth(text, font, size)
    return x


def _draw_line(c: canvas.Canvas, line: _Line, y: float) -> None:
    """A line of words: centred, justified word by word (no space characters, as TeX does), or left-aligned."""
    font, size, _ = _STYLE[line.style]
    space = pdfmetrics.stringWidth(" ", font, size)
    x = _draw_runs(c, line.x - _width(line.lead) - 2.0, y, line.lead) + 2.0 if line.lead else line.x
    if line.center:
        total = sum(_width(w) for w in line.words) + space * (len(line.words) - 1)
        x = LEFT + (line.width - total) / 2
    if line.justify and len(line.words) > 1:
        natural = sum(_width(w) for w in line.words)
        gap = (line.width - natural) / (len(line.words) - 1)
        for word in line.words:
            x = _draw_runs(c, x, y, word) + gap
        return
    runs: list[Run] = []
    for n, word in enumerate(line.words):
        if n:
            runs.append((" ", line.style))
        runs += word
    _draw_runs(c, x, y, runs)


def _draw_furniture(c: canvas.Canvas, header: str, number: int) -> None:
    """The running header ("{page}" in it becomes the page number), a rule under it, the page number below."""
    c.setFont(REGULAR, 9)
    c.drawCentredString(WIDTH / 2, HEIGHT - 40, header.replace("{page}", str(number)))
    c.setLineWidth(0.5)
    c.line(LEFT, HEIGHT - 46, WIDTH - RIGHT, HEIGHT - 46)
    c.drawCentredString(WIDTH / 2, 30, str(number))


def _draw_footnotes(c: canvas.Canvas, lines: list[_Line]) -> None:
    y = BOTTOM + NOTE_LEADING * (len(lines) - 1) + 2.0
    c.setLineWidth(0.5)
    c.line(LEFT, y + NOTE_LEADING + 2.0, LEFT + 140, y + NOTE_LEADING + 2.0)
    for line in lines:
        _draw_line(c, line, y)
        y -= NOTE_LEADING


def report_pdf(text: str, path: Path, *, header: str = "UBND TỈNH LẠNG SƠN", title: str | None = None) -> Path:
    """``text`` (a txt in the repo's conventions) printed as a report PDF at ``path``; returns ``path``."""
    register_fonts()
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    if title:
        c.setTitle(title)
    number = 0
    for segment in _segments(_txt_paragraphs(text)):
        notes = _footnote_lines(segment)
        note_height = NOTE_LEADING * len(notes) + NOTE_RULE_GAP + PARA_GAP if notes else 0.0
        pages = _paginate(_body_entries(segment), note_height)
        for k, entries in enumerate(pages):
            number += 1
            _draw_furniture(c, header, number)
            y = HEIGHT - TOP
            for i, entry in enumerate(entries):
                y -= entry.height + (entry.gap if i else 0.0)
                _draw_line(c, entry.line, y)
            if k == len(pages) - 1 and notes:
                _draw_footnotes(c, notes)
            c.showPage()
    c.save()
    return path


# --- small PDFs for single behaviours -----------------------------------------------------------------------


def lines_pdf(pages: list[list[list[str]]], path: Path, *, header: str | None = None, size: float = BODY_SIZE,
              title: str | None = None) -> Path:
    """Pages of paragraphs of lines, each line drawn as given (left-aligned, no wrapping) in DejaVu Sans."""
    register_fonts()
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    if title:
        c.setTitle(title)
    for number, paragraphs in enumerate(pages, start=1):
        if header:
            _draw_furniture(c, header, number)
        c.setFont(REGULAR, size)
        y = HEIGHT - TOP
        for paragraph in paragraphs:
            for line in paragraph:
                c.drawString(LEFT, y, line)
                y -= size * 1.3
            y -= PARA_GAP + size * 0.3
        c.showPage()
    c.save()
    return path


def table_pdf(rows: list[list[str]], path: Path, *, caption: str = "Bảng 1. Thu ngân sách nhà nước") -> Path:
    """A caption and a ruled table, one cell per column position; the first row is the header (bold)."""
    register_fonts()
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    c.setFont(REGULAR, BODY_SIZE)
    y = HEIGHT - TOP
    c.drawString(LEFT, y, caption)
    columns = [LEFT + 4, LEFT + 200, LEFT + 300, LEFT + 390]
    y -= 30
    for n, row in enumerate(rows):
        c.setFont(BOLD if n == 0 else REGULAR, BODY_SIZE)
        for x, cell in zip(columns, row, strict=False):
            c.drawString(x, y, cell)
        c.line(LEFT, y - 6, WIDTH - RIGHT, y - 6)
        y -= 20
    for x in [*columns, WIDTH - RIGHT + 4]:
        c.line(x - 4, HEIGHT - TOP - 16, x - 4, y + 14)
    c.showPage()
    c.save()
    return path


def encrypted_pdf(path: Path, password: str = "mật-khẩu") -> Path:
    """A one-page text PDF that opens only with ``password``."""
    register_fonts()
    c = canvas.Canvas(str(path), pagesize=A4, encrypt=password)
    c.setFont(REGULAR, BODY_SIZE)
    c.drawString(LEFT, HEIGHT - TOP, "Tài liệu mật.")
    c.showPage()
    c.save()
    return path


def scan_pdf(lines: list[str], path: Path, *, dpi: int = 300, size_pt: float = 14.0, copies: int = 1,
             footer: str | None = None) -> Path:
    """A PDF with no text layer: ``lines`` rendered by Pillow into one image that fills a small page, on
    ``copies`` pages; ``footer``, if given, is real text at each page's foot (as some scanners stamp)."""
    from PIL import Image, ImageDraw, ImageFont
    from reportlab.lib.utils import ImageReader

    px = dpi / 72
    font = ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), round(size_pt * px))
    page_w, page_h = 420.0, 40.0 + size_pt * 1.6 * len(lines)
    image = Image.new("L", (round(page_w * px), round(page_h * px)), 255)
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines):
        draw.text((20 * px, (20 + n * size_pt * 1.6) * px), line, font=font, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    register_fonts()
    c = canvas.Canvas(str(path), pagesize=(page_w, page_h), invariant=1)
    for _ in range(copies):
        c.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 0, 0, page_w, page_h)
        if footer:
            c.setFont(REGULAR, 6)
            c.drawString(10, 4, footer)
        c.showPage()
    c.save()
    return path


def truncated_pdf(path: Path, keep: float = 0.5) -> Path:
    """A text PDF cut after ``keep`` of its bytes, as an interrupted download leaves it."""
    full = lines_pdf([[["Báo cáo tình hình kinh tế - xã hội."]]] * 3, path)
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def many_pages_pdf(path: Path, pages: int = 500) -> Path:
    """``pages`` pages, each with one line of text."""
    register_fonts()
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for number in range(1, pages + 1):
        c.setFont(REGULAR, BODY_SIZE)
        c.drawString(LEFT, HEIGHT - TOP, f"Trang {number}.")
        c.showPage()
    c.save()
    return path
