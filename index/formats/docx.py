"""Word .docx files as canonical text: body paragraphs and tables in document order, headings and footnotes.

Headings (the "Heading 1".."Heading 6" styles, or any style or paragraph with an outline level) become markdown
headings of that level, the "Title" style a bold title line; a table is one paragraph per row, its cells joined
by " | ". Footnote references become superscript markers after the word ("tăng 5%¹") and each footnote a
paragraph "¹ text" after the paragraph that first cites it. Text boxes, headers, footers, comments, endnotes
and deleted (tracked) text are not read, and numbering that Word generates is not in the text.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator

import docx
from docx.document import Document as DocxDocument
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.exceptions import PackageNotFoundError
from lxml import etree

from viqa.errors import InputError
from viqa.index.formats import Extracted

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_MAX_RATIO = 100  # an entry that unpacks to more than 100 times its packed size ...
_RATIO_FLOOR = 1 << 20  # ... and to more than 1 MiB is a zip bomb (small parts may compress as well as they like)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, and any password-protected Office file
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_HEADING_NAME = re.compile(r"heading\s*([1-9])")
_SKIPPED = {f"{_W}{tag}" for tag in ("pPr", "rPr", "del", "moveFrom", "delText", "instrText", "txbxContent",
                                     "footnoteRef", "endnoteReference", "commentReference")} | {f"{_MC}Fallback"}
_NOTE_KINDS_SKIPPED = ("separator", "continuationSeparator", "continuationNotice")
_XML = etree.XMLParser(resolve_entities=False, no_network=True)
_OPEN_ERRORS = (KeyError, zipfile.BadZipFile, zlib.error, EOFError, etree.XMLSyntaxError, PackageNotFoundError)


def extract_docx(data: bytes, name: str, *, max_unpacked_bytes: int) -> Extracted:
    """A .docx file as canonical text with its core-properties title; InputError when it is not a valid DOCX,
    a zip bomb (checked before anything is unpacked) or has no text."""
    check_zip(data, name, max_unpacked_bytes)
    try:
        document = docx.Document(io.BytesIO(data))
        notes = _footnotes(document)
        styles = _style_levels(document.styles.element)
        reader = _Reader(styles, notes)
        paragraphs = list(reader.blocks(document.element.body)) + reader.uncited_notes()
        title = (document.core_properties.title or "").strip()
    except ValueError as exc:
        if "not a Word file" in str(exc):  # python-docx on a .docm, .dotx or another Office package
            raise InputError(f"{name}: is not a Word document (.docx); save it as .docx first") from None
        raise InputError(f"{name}: is not a valid DOCX (the file is damaged or cut short)") from None
    except _OPEN_ERRORS:
        raise InputError(f"{name}: is not a valid DOCX (the file is damaged or cut short)") from None
    text = unicodedata.normalize("NFC", "\n\n".join(paragraphs))
    if not text.strip():
        raise InputError(f"{name}: the document has no text")
    return Extracted(text=text, title=unicodedata.normalize("NFC", title) or None, format="docx")


def check_zip(data: bytes, name: str, max_unpacked_bytes: int) -> None:
    """InputError unless ``data`` is a readable zip that unpacks to at most ``max_unpacked_bytes``, no entry over
    1 MiB compressed more than 100 to 1; only the zip's directory is read."""
    if data.startswith(_OLE_MAGIC):
        raise InputError(f"{name}: is an old Word .doc or a password-protected file, not a .docx; "
                         "save it as an unprotected .docx first")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError):
        raise InputError(f"{name}: is not a valid DOCX (the file is damaged or cut short)") from None
    total = sum(entry.file_size for entry in entries)
    if total > max_unpacked_bytes:
        raise InputError(f"{name}: unpacks to {_size(total)}, over the {_size(max_unpacked_bytes)} limit "
                         "(a zip bomb?)")
    for entry in entries:
        if entry.file_size > _RATIO_FLOOR and entry.file_size > _MAX_RATIO * max(entry.compress_size, 1):
            raise InputError(f"{name}: a part unpacks to {entry.file_size // max(entry.compress_size, 1)} times "
                             "its packed size (a zip bomb?)")


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB" if n >= 2**10 else f"{n} bytes"


def superscript(number: int) -> str:
    """``number`` in superscript digits: 12 -> "¹²"."""
    return str(number).translate(_SUPERSCRIPT)


def _footnotes(document: DocxDocument) -> dict[str, list[etree._Element]]:
    """Footnote id -> its paragraphs, from word/footnotes.xml (separators left out); empty without that part."""
    for rel in document.part.rels.values():
        if rel.reltype == RT.FOOTNOTES and not rel.is_external:
            root = etree.fromstring(rel.target_part.blob, _XML)
            return {
                note.get(f"{_W}id"): note.findall(f"{_W}p")
                for note in root.iter(f"{_W}footnote")
                if note.get(f"{_W}type") not in _NOTE_KINDS_SKIPPED
            }
    return {}


def _style_levels(styles: etree._Element) -> dict[str | None, int]:
    """Paragraph style id -> heading level (0 for the title style); ``None`` keys the default paragraph style.
    A style is a heading by its name ("heading 2") or by the outline level it has or inherits."""
    by_id = {s.get(f"{_W}styleId"): s for s in styles.iter(f"{_W}style") if s.get(f"{_W}type") == "paragraph"}

    def level(style_id: str | None, depth: int = 0) -> int | None:
        style = by_id.get(style_id)
        if style is None or depth > 20:
            return None
        name_element = style.find(f"{_W}name")
        name = (name_element.get(f"{_W}val", "") if name_element is not None else "").strip().lower()
        if m := _HEADING_NAME.fullmatch(name):
            return min(int(m.group(1)), 6)
        if name == "title":
            return 0
        outline = _outline_level(style.find(f"{_W}pPr"))
        if outline is not None:
            return outline
        based_on = style.find(f"{_W}basedOn")
        return level(based_on.get(f"{_W}val"), depth + 1) if based_on is not None else None

    levels = {style_id: lvl for style_id in by_id if (lvl := level(style_id)) is not None}
    default = next((s.get(f"{_W}styleId") for s in by_id.values() if s.get(f"{_W}default") in ("1", "true")), None)
    if default in levels:
        levels[None] = levels[default]
    return levels


def _outline_level(ppr: etree._Element | None) -> int | None:
    """The heading level an outline level gives (w:outlineLvl 0 -> 1 ... capped at 6), None for body text."""
    outline = ppr.find(f"{_W}outlineLvl") if ppr is not None else None
    value = outline.get(f"{_W}val", "") if outline is not None else ""
    return min(int(value) + 1, 6) if value.isdigit() and int(value) < 9 else None


def _nonempty(texts: Iterable[str]) -> Iterator[str]:
    return (text for text in texts if text)


def _hidden(run: etree._Element) -> bool:
    vanish = run.find(f"{_W}rPr/{_W}vanish")
    return vanish is not None and vanish.get(f"{_W}val", "true") not in ("0", "false", "off")


class _Reader:
    """Walks a document body into paragraphs, numbering footnotes in the order they are first cited."""

    def __init__(self, styles: dict[str | None, int], notes: dict[str, list[etree._Element]]) -> None:
        self.styles = styles
        self.notes = notes
        self.numbers: dict[str, int] = {}
        self.emitted = 0

    def blocks(self, container: etree._Element) -> Iterator[str]:
        """Paragraphs and table rows in order, each followed by the footnotes it cites first."""
        for child in container:
            if child.tag == f"{_W}p":
                yield from _nonempty([self.paragraph(child)])
            elif child.tag == f"{_W}tbl":
                yield from _nonempty(self.rows(child))
            elif child.tag == f"{_W}sdt":
                content = child.find(f"{_W}sdtContent")
                yield from self.blocks(content) if content is not None else ()
            elif child.tag == f"{_W}customXml":
                yield from self.blocks(child)
            else:
                continue
            yield from self.new_notes()

    def paragraph(self, p: etree._Element) -> str:
        """One paragraph as a line, or a markdown heading line; line breaks kept, blank lines dropped."""
        text = "".join(self.inline(p))
        ppr = p.find(f"{_W}pPr")
        level = _outline_level(ppr)
        if level is None:
            style = ppr.find(f"{_W}pStyle") if ppr is not None else None
            level = self.styles.get(style.get(f"{_W}val") if style is not None else None)
        if level is None:
            return "\n".join(line for line in (line.strip() for line in text.split("\n")) if line)
        words = " ".join(text.split())
        if not words:
            return ""
        return f"**{words}**" if level == 0 else f"{'#' * level} {words}"

    def rows(self, table: etree._Element) -> Iterator[str]:
        """Each row as one line of its non-empty cells joined by " | "; a vertically merged cell once."""
        for row in table.iterfind(f"{_W}tr"):
            cells = []
            for cell in row.iterfind(f"{_W}tc"):
                merge = cell.find(f"{_W}tcPr/{_W}vMerge")
                if merge is not None and merge.get(f"{_W}val") != "restart":
                    continue
                cells.append(" ".join(" ".join(self.blocks_text(cell)).split()))
            yield " | ".join(c for c in cells if c)

    def blocks_text(self, container: etree._Element) -> Iterator[str]:
        """The text of the paragraphs (and nested tables) in a cell, footnotes left for the row to place."""
        for child in container:
            if child.tag == f"{_W}p":
                yield "".join(self.inline(child))
            elif child.tag == f"{_W}tbl":
                yield from self.rows(child)
            elif child.tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"):
                yield from self.blocks_text(child)

    def inline(self, element: etree._Element) -> Iterator[str]:
        """The text of a paragraph's runs, hyperlinks and fields: tabs, line breaks and footnote markers."""
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIPPED:
                continue
            if tag == f"{_W}t":
                yield child.text or ""
            elif tag in (f"{_W}tab", f"{_W}ptab"):
                yield "\t"
            elif tag in (f"{_W}br", f"{_W}cr"):
                yield "\n"
            elif tag == f"{_W}noBreakHyphen":
                yield "-"
            elif tag == f"{_W}footnoteReference":
                yield self.marker(child)
            elif tag == f"{_W}r" and _hidden(child):
                continue
            else:
                yield from self.inline(child)

    def marker(self, reference: etree._Element) -> str:
        """The superscript number of a footnote reference; nothing for a custom mark or an unknown footnote."""
        note_id = reference.get(f"{_W}id")
        if note_id not in self.notes or reference.get(f"{_W}customMarkFollows") in ("1", "true", "on"):
            return ""
        return superscript(self.numbers.setdefault(note_id, len(self.numbers) + 1))

    def new_notes(self) -> list[str]:
        """The footnote paragraphs ("¹ text") of the footnotes numbered since the last call."""
        ids = list(self.numbers)[self.emitted :]
        self.emitted = len(self.numbers)
        return [p for p in (self.note(i) for i in ids) if p]

    def uncited_notes(self) -> list[str]:
        """The footnotes that no reference cites, numbered after the cited ones."""
        for note_id in self.notes:
            if note_id not in self.numbers:
                self.numbers[note_id] = len(self.numbers) + 1
        return self.new_notes()

    def note(self, note_id: str) -> str:
        text = " ".join(" ".join("".join(self.inline(p)) for p in self.notes[note_id]).split())
        return f"{superscript(self.numbers[note_id])} {text}" if text else ""
