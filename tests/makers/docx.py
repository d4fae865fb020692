"""DOCX files made for tests with python-docx: the bundled report as a real Word document, and small odd cases.

``report_docx`` reads a txt in the repo's conventions (``**…**`` title lines, "I. …" / "1. …" / "1.1 …"
heading lines, body paragraphs, footnote paragraphs "¹ …" after the paragraphs that cite them, markers as
superscript digits) and writes it the way Word holds such a report: the title in the "Title" style and in the
core properties, headings in the "Heading 1/2/3" styles, the body paragraphs that the txt's page breaks cut
joined back into one, and the footnotes as real Word footnotes: a ``word/footnotes.xml`` part (separators
included) with its relationship and content type, ``w:footnotePr`` in the settings, and a
``w:footnoteReference`` run at each marker.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from lxml import etree

from viqa.index.structure import parse_blocks

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_TO_ASCII = str.maketrans(SUPERSCRIPTS, "0123456789")
_FOOTNOTE = re.compile(f"^([{SUPERSCRIPTS}]+)\\s*")
_MARKER = re.compile(f"[{SUPERSCRIPTS}]+")
_UNIT = re.compile(r"(?:\b|\d)[kcdm]?m$")  # m², km³: an exponent, written as the character itself
_ROMAN = re.compile(r"[IVXLC]+")
_SENTENCE_END = tuple('.!?…:;"”)»')
# the w:settings children that come after w:footnotePr (ECMA-376 CT_Settings), by local name
_AFTER_FOOTNOTE_PR = (
    "endnotePr", "compat", "docVars", "rsids", "mathPr", "attachedSchema", "themeFontLang", "clrSchemeMapping",
    "doNotIncludeSubdocsInStats", "doNotAutoCompressPictures", "forceUpgrade", "captions", "readModeInkLockDown",
    "smartTagType", "schemaLibrary", "shapeDefaults", "doNotEmbedSmartTags", "decimalSymbol", "listSeparator",
)


def _w(tag: str) -> str:
    return f"{{{W_NS}}}{tag}"


@dataclass
class _Paragraph:
    kind: str  # "title", "heading", "body" or "footnote"
    lines: list[str]  # the txt's lines, markup (** and a footnote's number) removed
    level: int = 0  # a heading's level
    number: int = 0  # a footnote's number


# --- the txt as paragraphs ----------------------------------------------------------------------------------


def _level(heading_path: str) -> int:
    """A txt heading's level from its label as parse_blocks reads it: "II" -> 1, "1" -> 2, "1.2" -> 3."""
    if not heading_path:
        return 0
    label = heading_path.split(" › ")[-1]
    return 1 if _ROMAN.fullmatch(label) else label.count(".") + 2


def _read(chunk: str) -> _Paragraph:
    lines = [line.strip() for line in chunk.splitlines() if line.strip()]
    if m := _FOOTNOTE.match(lines[0]):
        rest = [lines[0][m.end() :], *lines[1:]]
        return _Paragraph("footnote", [line for line in rest if line], number=int(m.group(1).translate(_TO_ASCII)))
    block = parse_blocks(chunk)[0]
    if block.kind != "heading":
        return _Paragraph("body", lines)
    level = _level(block.heading_path)
    if level == 0:
        lines = [line.strip("*").strip() for line in lines]
        return _Paragraph("title", [line for line in lines if line])
    return _Paragraph("heading", [" ".join(lines)], level=level)


def _unmarked(text: str) -> str:
    return _MARKER.sub("", text)


def _joins(previous: _Paragraph, following: _Paragraph) -> bool:
    """The txt's page break cut ``previous`` mid-sentence (parse_blocks' rule): no sentence end, lower case next."""
    text = _unmarked(" ".join(previous.lines)).rstrip()
    return bool(text) and not text.endswith(_SENTENCE_END) and following.lines[0][:1].islower()


def report_paragraphs(text: str) -> list[_Paragraph]:
    """The txt's paragraphs in order, each body paragraph that a page break cut joined with its rest."""
    out: list[_Paragraph] = []
    last_body: _Paragraph | None = None
    for chunk in re.split(r"\n[ \t]*\n", text.strip()):
        if not chunk.strip():
            continue
        paragraph = _read(chunk)
        if paragraph.kind == "body" and last_body is not None and _joins(last_body, paragraph):
            last_body.lines[-1] += " " + paragraph.lines[0]
            last_body.lines += paragraph.lines[1:]
            continue
        if paragraph.kind != "footnote":
            last_body = paragraph if paragraph.kind == "body" else None
        out.append(paragraph)
    return out


# --- writing ------------------------------------------------------------------------------------------------


def report_docx(text: str, path: Path) -> Path:
    """``text`` (a txt in the repo's conventions) written to ``path`` as a Word report with real footnotes."""
    paragraphs = report_paragraphs(text)
    notes = {p.number: " ".join(p.lines) for p in paragraphs if p.kind == "footnote"}
    document = docx.Document()
    titled = False
    for paragraph in paragraphs:
        if paragraph.kind == "title" and not titled:
            document.core_properties.title = " ".join(paragraph.lines)
            _write_lines(document.add_paragraph(style="Title"), paragraph.lines, notes)
            titled = True
        elif paragraph.kind == "title":
            _write_lines(document.add_paragraph(), paragraph.lines, notes, bold=True)
        elif paragraph.kind == "heading":
            _write_lines(document.add_paragraph(style=f"Heading {min(paragraph.level, 6)}"), paragraph.lines, notes)
        elif paragraph.kind == "body":
            _write_lines(document.add_paragraph(), paragraph.lines, notes)
    add_footnotes(document, notes)
    document.save(str(path))
    return path


def _write_lines(paragraph: Paragraph, lines: list[str], notes: dict[int, str], bold: bool = False) -> None:
    """The lines as runs with line breaks between them, a footnote reference at each marker of a known footnote."""
    for i, line in enumerate(lines):
        if i:
            paragraph.add_run().add_break()
        cursor = 0
        for m in _MARKER.finditer(line):
            number = int(m.group().translate(_TO_ASCII))
            exponent = m.group() in ("²", "³") and _UNIT.search(line[max(0, m.start() - 3) : m.start()])
            if exponent or number not in notes:
                continue
            paragraph.add_run(line[cursor : m.start()]).bold = bold or None
            footnote_reference(paragraph, number)
            cursor = m.end()
        if cursor < len(line):
            paragraph.add_run(line[cursor:]).bold = bold or None


def footnote_reference(paragraph: Paragraph, note_id: int) -> None:
    """A superscript run holding a ``w:footnoteReference`` to footnote ``note_id``, at the paragraph's end."""
    run = paragraph.add_run()
    run.font.superscript = True
    run._r.append(OxmlElement("w:footnoteReference", attrs={qn("w:id"): str(note_id)}))


def footnotes_xml(notes: dict[int, str]) -> bytes:
    """word/footnotes.xml: Word's separator (-1) and continuation separator (0), then a footnote per entry."""
    root = etree.Element(_w("footnotes"), nsmap={"w": W_NS, "r": R_NS})
    for note_id, kind in ((-1, "separator"), (0, "continuationSeparator")):
        note = etree.SubElement(root, _w("footnote"), {_w("type"): kind, _w("id"): str(note_id)})
        p = etree.SubElement(note, _w("p"))
        ppr = etree.SubElement(p, _w("pPr"))
        etree.SubElement(ppr, _w("spacing"), {_w("after"): "0", _w("line"): "240", _w("lineRule"): "auto"})
        etree.SubElement(etree.SubElement(p, _w("r")), _w(kind))
    for note_id, text in notes.items():
        note = etree.SubElement(root, _w("footnote"), {_w("id"): str(note_id)})
        p = etree.SubElement(note, _w("p"))
        mark = etree.SubElement(p, _w("r"))
        etree.SubElement(etree.SubElement(mark, _w("rPr")), _w("vertAlign"), {_w("val"): "superscript"})
        etree.SubElement(mark, _w("footnoteRef"))
        run = etree.SubElement(p, _w("r"))
        etree.SubElement(etree.SubElement(run, _w("rPr")), _w("sz"), {_w("val"): "20"})
        t = etree.SubElement(run, _w("t"))
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        t.text = " " + text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def add_footnotes(document: DocxDocument, notes: dict[int, str]) -> None:
    """The footnotes part (with its relationship; its content type follows the part) and w:footnotePr."""
    if not notes:
        return
    part = Part(PackURI("/word/footnotes.xml"), CT.WML_FOOTNOTES, footnotes_xml(notes), document.part.package)
    document.part.relate_to(part, RT.FOOTNOTES)
    settings = document.settings.element
    footnote_pr = OxmlElement("w:footnotePr")
    for note_id in ("-1", "0"):
        footnote_pr.append(OxmlElement("w:footnote", attrs={qn("w:id"): note_id}))
    after = next((child for child in settings if etree.QName(child).localname in _AFTER_FOOTNOTE_PR), None)
    if after is None:
        settings.append(footnote_pr)
    else:
        after.addprevious(footnote_pr)


# --- small odd cases ----------------------------------------------------------------------------------------


def styled_docx(paragraphs: list[tuple[str | None, str]], path: Path, *,
                outline_styles: dict[str, int] | None = None, title: str | None = None) -> Path:
    """A DOCX of (style name or None, text) paragraphs; ``outline_styles`` adds paragraph styles (localized
    heading names, say) that carry only a ``w:outlineLvl`` (0 = level 1)."""
    document = docx.Document()
    for name, outline in (outline_styles or {}).items():
        style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        ppr = style.element.get_or_add_pPr()
        ppr.append(OxmlElement("w:outlineLvl", attrs={qn("w:val"): str(outline)}))
    for style_name, text in paragraphs:
        document.add_paragraph(text, style=style_name)
    if title is not None:
        document.core_properties.title = title
    document.save(str(path))
    return path


def table_docx(path: Path) -> Path:
    """A paragraph, a 3x3 table with a horizontally merged pair (row 2) and a vertically merged pair
    (column 3, rows 2-3), and a paragraph after it."""
    document = docx.Document()
    document.add_paragraph("Bảng 1. Kết quả thu ngân sách")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["Chỉ tiêu", "Đơn vị", "Kết quả"], ["Thu nội địa", "", "Đạt"], ["Thu xuất nhập khẩu",
                                                                                            "tỷ đồng", ""]]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    table.cell(1, 0).merge(table.cell(1, 1))
    table.cell(1, 2).merge(table.cell(2, 2))
    document.add_paragraph("Sau bảng là đoạn văn.")
    document.save(str(path))
    return path


def truncated_docx(path: Path) -> Path:
    """A real DOCX cut to half its length, as an interrupted download leaves it."""
    whole = styled_docx([(None, "Nội dung bị cắt ngang.")], path)
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def zip_bomb_docx(path: Path, unpacked_bytes: int = 8 << 20) -> Path:
    """A .docx-shaped zip whose document part unpacks about a thousand times larger than it is packed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", b" " * unpacked_bytes)
    path.write_bytes(buffer.getvalue())
    return path
