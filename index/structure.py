"""Split a document into body, heading and footnote blocks, footnote-aware and page-break-aware.

Reports converted from PDF carry their page furniture inline: superscript markers (¹ ² … ³³) in the
text, footnote bodies as lines that start with a superscript number, and page breaks that cut a
sentence with the footnotes in between ("tăng 70,6%" … footnotes ¹–⁴ … "so với cùng kỳ"). Here the
cut sentence is joined back, markers are kept out of the clean text, and each footnote becomes its
own block that remembers which blocks cite it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from viqa.text.normalise import MappedText

SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUPER_TO_INT = str.maketrans(SUPERSCRIPT_DIGITS, "0123456789")
_MARKER = re.compile(f"[{SUPERSCRIPT_DIGITS}]+")
_UNIT_BEFORE_EXPONENT = re.compile(r"(?:\b|\d)[kcdm]?m$")  # m², km², m³: an exponent, not a footnote
_FOOTNOTE_START = re.compile(f"^[{SUPERSCRIPT_DIGITS}]+")
_ROMAN = re.compile(r"^(?:\*\*)?([IVXLC]+)\.\s+\S")
_NUMBERED = re.compile(r"^(?:\*\*)?(\d+(?:\.\d+)*)\.?\s+\S")
_MARKDOWN = re.compile(r"^(#{1,6})\s+(.+)$")
_SENTENCE_END = tuple('.!?…:;"”)»')


@dataclass
class Block:
    """A paragraph-level unit with its clean text; ``refs`` are (footnote number, clean offset) pairs."""

    kind: str  # "body", "heading" or "footnote"
    clean: MappedText
    heading_path: str
    number: int | None = None  # footnote number
    refs: list[tuple[int, int]] = field(default_factory=list)


def _paragraphs(text: str) -> list[list[tuple[int, int]]]:
    """Runs of non-blank lines, each line as (start, end) offsets without its line break."""
    paragraphs, current, pos = [], [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if body.strip():
            current.append((pos, pos + len(body)))
        elif current:
            paragraphs.append(current)
            current = []
        pos += len(line)
    if current:
        paragraphs.append(current)
    return paragraphs


def _is_marker(text: str, match: re.Match[str]) -> bool:
    before = text[max(0, match.start() - 3) : match.start()]
    return not (match.group() in ("²", "³") and _UNIT_BEFORE_EXPONENT.search(before))


def _clean_paragraph(text: str, lines: list[tuple[int, int]], skip_leading: int = 0) -> tuple[MappedText, list]:
    """NFC clean text of a paragraph: lines joined by spaces, footnote markers removed (and recorded)."""
    out, refs = MappedText(), []
    for n, (start, end) in enumerate(lines):
        if n == 0:
            start += skip_leading
            while start < end and text[start].isspace():
                start += 1
        else:
            out.append_separator(" ", start - 1)
        cursor = start
        for m in _MARKER.finditer(text, start, end):
            if not _is_marker(text, m):
                continue
            if m.start() > cursor:
                out.append_original(text, cursor, m.start())
            refs.append((int(m.group().translate(_SUPER_TO_INT)), len(out.text)))
            cursor = m.end()
        if end > cursor:
            out.append_original(text, cursor, end)
    return out, refs


def _heading(first_line: str) -> tuple[int, str] | None:
    """(level, label) when the paragraph's first line is a heading."""
    line = first_line.strip()
    if m := _MARKDOWN.match(line):
        return len(m.group(1)), m.group(2).strip()[:40]
    if len(line) > 160 or line.endswith((".", ";", ",")) and not _ROMAN.match(line):
        return None
    if m := _ROMAN.match(line):
        return 1, m.group(1)
    if (m := _NUMBERED.match(line)) and not line[m.end(1) :].lstrip(". ")[:1].islower():
        return 1 + m.group(1).count(".") + 1, m.group(1)
    if line.startswith("**") and line.rstrip().endswith("**") or line.isupper():
        return 0, line.strip("*# ")[:40]
    return None


def _joins(previous: Block, following: MappedText) -> bool:
    """A page break cut ``previous`` mid-sentence if it has no sentence end and ``following`` starts in lower case."""
    text = previous.clean.text.rstrip()
    return bool(text) and not text.endswith(_SENTENCE_END) and following.text[:1].islower()


def parse_blocks(text: str) -> list[Block]:
    """Body, heading and footnote blocks of ``text``, cut sentences rejoined, in document order."""
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    last_body: Block | None = None
    for lines in _paragraphs(text):
        first = text[lines[0][0] : lines[0][1]]
        if footnote := _FOOTNOTE_START.match(first):
            clean, refs = _clean_paragraph(text, lines, skip_leading=footnote.end())
            number = int(footnote.group().translate(_SUPER_TO_INT))
            heading = " › ".join(label for _, label in path)
            blocks.append(Block("footnote", clean, heading, number=number, refs=refs))
            continue  # footnotes sit between the halves of a cut sentence: keep last_body
        if (head := _heading(first)) is not None:
            level, label = head
            if level > 0:  # level 0 is a title line ("BÁO CÁO ..."): not part of the path
                path = [p for p in path if p[0] < level] + [(level, label)]
            clean, _ = _clean_paragraph(text, lines)
            blocks.append(Block("heading", clean, " › ".join(lbl for _, lbl in path)))
            last_body = None
            continue
        clean, refs = _clean_paragraph(text, lines)
        if last_body is not None and _joins(last_body, clean):
            offset = len(last_body.clean.text) + 1
            last_body.clean.append_separator(" ", lines[0][0])
            last_body.clean.append(clean.text, clean.start, clean.end)
            last_body.refs += [(number, pos + offset) for number, pos in refs]
            continue
        last_body = Block("body", clean, " › ".join(label for _, label in path), refs=refs)
        blocks.append(last_body)
    return blocks
